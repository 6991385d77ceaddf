/**
 * The stateful proxy (RFC 3261 §16): forwards a request to a target set (parallel forking),
 * keeps a response context per forwarded request, picks and forwards the best response,
 * CANCELs the other branches on a 2xx or 6xx, and handles CANCEL from upstream (§16.10).
 *
 * The routing pipeline (routing/) decides *where* a request goes; this class only knows *how*
 * to forward: §16.6 request forwarding and §16.7 response processing.
 */
import { SipRequest, type SipResponse } from '../message/sip-message.ts'
import { createResponse } from '../message/create-response.ts'
import type { HeaderField } from '../syntax/types.ts'
import type {
  ClientTransaction, ClientTransactionHandler, ServerTransaction,
} from '../transaction/transaction-user.ts'
import type { Scheduler } from '../../base/scheduler.ts'
import type { Destination, Flow, TransportProtocol } from '../transport/flow.ts'
import type { TransportLayer } from '../transport/transport-layer.ts'
import { ResponseContext, type Branch } from './response-context.ts'
import { recordRouteValue } from './record-route.ts'
import { loopHash, proxyBranch } from './branch.ts'
import { isMediaRefusal, type CallLeg, type CallSide, type MediaHooks, type MediaSessionKey } from './media-hooks.ts'
import { AnchoredDialogs, type AnchoredDialog } from './anchored-dialogs.ts'
import { logger } from '../../base/log.ts'

const log = logger('sip.proxy')

/** The part of the transaction layer the proxy uses. */
export interface ProxyTransactions {
  sendRequest(request: SipRequest, destination: Destination, handler: ClientTransactionHandler): ClientTransaction
  findInviteServerTransaction(cancel: SipRequest): ServerTransaction | undefined
}

/** One element of a target set (§16.5): the Request-URI to use and where to send it. */
export interface Target {
  /** The new Request-URI (a binding's contact, or the original R-URI for in-dialog requests). */
  requestUri: string
  destination: Destination
  /** The local user this target belongs to (callee side of a media decision). */
  user?: string | null
}

export interface ForwardOptions {
  /** Insert our (double) Record-Route (dialog-creating requests, §16.6 item 4). */
  recordRoute: boolean
  /** Extra header fields to append to every forwarded copy. */
  extraHeaders?: HeaderField[]
  /** Called once when the context completes (for CDRs, media cleanup). */
  onFinal?: (status: number) => void
  /** The authenticated local user who sent the request (caller side of a media decision). */
  callerUser?: string | null
}

export interface StatefulProxyOptions {
  transport: TransportLayer
  transactions: ProxyTransactions
  scheduler: Scheduler
  /** Timer C in milliseconds (§16.6 item 11: > 3 minutes). */
  timerC: number
  /** How long a CANCELled branch may wait for its final response, ms (64*T1, §9.1). */
  cancelTimeout: number
  /** Media anchoring for calls that cross WebRTC <-> plain RTP; absent: never anchor. */
  media?: MediaHooks
  /** Session timeout of an anchored call, ms; 0: none (media.sessionTimeout). */
  sessionTimeout?: number
}

/** The media part of one branch: which relay session its SDP goes through. */
interface BranchMedia {
  plan: object
  key: MediaSessionKey
  /** Who sent the offer this branch carries (the other side answers). */
  offerSide: CallSide
  /** The anchored dialog for in-dialog re-offers; null for an initial INVITE. */
  dialog: AnchoredDialog | null
  /** Responses are processed one after another (answers are rewritten asynchronously). */
  chain: Promise<void>
  /** Last answer rewritten: a retransmitted 2xx with the same SDP reuses the output. */
  lastAnswerIn: string | null
  lastAnswerOut: Uint8Array | null
  released: boolean
}

const textDecoder = new TextDecoder()

const MAX_FORWARDS_DEFAULT = 70

export class StatefulProxy {
  /** Response contexts of pending INVITEs, by server transaction key (for CANCEL, §16.10). */
  private readonly inviteContexts = new Map<string, ResponseContext>()
  /** Dialogs whose media the gateway anchors. */
  readonly anchored = new AnchoredDialogs()
  private readonly branchMedia = new WeakMap<Branch, BranchMedia>()

  constructor(private readonly o: StatefulProxyOptions) {}

  /** Live INVITE response contexts (leak checks, metrics). */
  get pendingInvites(): number {
    return this.inviteContexts.size
  }

  /**
   * Forwards `request` to every target in parallel (§16.6, once per target) and relays the
   * responses upstream through `serverTx` (§16.7). An empty target set must be handled by
   * the caller (404/480). For INVITE, a 100 Trying goes upstream at once (§16.2).
   */
  forward(request: SipRequest, serverTx: ServerTransaction, inFlow: Flow, targets: Target[], opts: ForwardOptions): void {
    const isInvite = request.method === 'INVITE'
    const ctx = new ResponseContext(serverTx, isInvite, opts)
    if (isInvite) {
      serverTx.respond(createResponse(request, 100))
      this.inviteContexts.set(serverTx.key, ctx)
    }
    const dialog = this.o.media ? this.inDialogMedia(request) : undefined
    const hash = loopHash(request, request.uri)
    for (let i = 0; i < targets.length; i++) {
      if (ctx.terminated) break
      this.startBranch(ctx, request, inFlow, targets[i]!, i, hash, opts, dialog)
    }
    if (ctx.complete) this.finish(ctx, opts)
  }

  /**
   * For an in-dialog request of an anchored dialog: notes its CSeq, releases the relay on BYE,
   * and returns the dialog when the request carries a re-offer (re-INVITE/UPDATE with SDP).
   */
  private inDialogMedia(request: SipRequest): AnchoredDialog | undefined {
    if (!request.to.params.tag) return undefined
    const d = this.anchored.get(request.callId)
    if (!d) return undefined
    this.anchored.noteRequest(d, request)
    if (request.method === 'BYE') {
      this.dropDialog(d)
      return undefined
    }
    if ((request.method === 'INVITE' || request.method === 'UPDATE') && request.body.length > 0) return d
    return undefined
  }

  /**
   * Forwards a request without a transaction (§16.11): the ACK for a 2xx, which is end to end.
   * Adds our Via (§16.6 item 8) with a fresh branch.
   */
  forwardStateless(request: SipRequest, target: Target): boolean {
    const copy = this.prepareCopy(request, target, null, loopHash(request, request.uri), { recordRoute: false })
    return this.o.transport.send(copy, target.destination) !== null
  }

  /**
   * CANCEL from upstream (§16.10): "If a matching response context is found, the element
   * MUST immediately return a 200 (OK) response to the CANCEL request. [...] the element
   * MUST cancel all pending client transactions within the context [...]". Without one: 481.
   */
  cancel(cancel: SipRequest, cancelTx: ServerTransaction): void {
    const inviteTx = this.o.transactions.findInviteServerTransaction(cancel)
    const ctx = inviteTx ? this.inviteContexts.get(inviteTx.key) : undefined
    if (!inviteTx || !ctx) {
      cancelTx.respond(createResponse(cancel, 481, { toTag: 'pb-481' }))
      return
    }
    cancelTx.respond(createResponse(cancel, 200, { toTag: 'pb-cancel' }))
    ctx.terminated = true
    this.cancelBranches(ctx, null, ctx.options)
  }

  // ---- branches -------------------------------------------------------------------------

  private startBranch(
    ctx: ResponseContext, request: SipRequest, inFlow: Flow, target: Target, index: number, hash: string,
    opts: ForwardOptions, dialog: AnchoredDialog | undefined,
  ): void {
    const branch: Branch = { tx: null, lastStatus: 0, final: false, cancelPending: false, cancelled: false, timerC: null }
    ctx.branches.push(branch)
    const copy = this.prepareCopy(request, target, inFlow, hash, opts)
    const handler: ClientTransactionHandler = {
      onResponse: (res) => this.onBranchResponse(ctx, branch, res, opts, request, inFlow, target),
      onTimeout: () => this.onBranchFailure(ctx, branch, 408, opts),
      onTransportError: () => this.onBranchFailure(ctx, branch, target.destination.flow ? 480 : 503, opts),
    }
    const send = () => {
      branch.tx = this.o.transactions.sendRequest(copy, target.destination, handler)
      if (ctx.isInvite) this.armTimerC(ctx, branch, opts)
    }
    const media = this.branchMediaFor(request, inFlow, target, index, opts, dialog)
    if (media === null) {
      send()
      return
    }
    // Anchored: the offer goes through the media driver before the branch is sent.
    this.branchMedia.set(branch, media)
    this.o.media!.offer(media.plan, media.key, request.body, media.offerSide).then(
      (sdp) => {
        if (ctx.terminated || (ctx.finalSent && !ctx.isInvite) || branch.final) {
          this.releaseBranchMedia(branch)
          this.onBranchFailure(ctx, branch, 487, opts)
          return
        }
        copy.body = sdp
        send()
      },
      (e: unknown) => {
        this.releaseBranchMedia(branch)
        const refusal = isMediaRefusal(e) ? e : { status: 500, reason: 'Media Anchoring Failed' }
        if (!isMediaRefusal(e)) log.error('media offer failed', { callId: request.get('call-id'), error: String(e) })
        else log.info('media offer refused', { callId: request.get('call-id'), status: refusal.status, reason: refusal.reason })
        this.onBranchFailure(ctx, branch, refusal.status, opts, refusal.reason)
      },
    )
  }

  /** The media plan of a new branch, or null when its SDP passes untouched. */
  private branchMediaFor(
    request: SipRequest, inFlow: Flow, target: Target, index: number, opts: ForwardOptions,
    dialog: AnchoredDialog | undefined,
  ): BranchMedia | null {
    const hooks = this.o.media
    if (!hooks || request.body.length === 0) return null
    if (dialog) {
      return {
        plan: dialog.plan, key: dialog.key, offerSide: this.anchored.sideOf(dialog, request), dialog,
        chain: Promise.resolve(), lastAnswerIn: null, lastAnswerOut: null, released: false,
      }
    }
    if (request.method !== 'INVITE' || request.to.params.tag) return null
    const caller: CallLeg = { transport: inFlow.transport, flow: inFlow.reliable ? inFlow : null, user: opts.callerUser ?? null }
    const d = target.destination
    const callee: CallLeg = { transport: d.flow?.transport ?? d.transport, flow: d.flow ?? null, user: target.user ?? null }
    const plan = hooks.plan(caller, callee, request.body)
    if (plan === null) return null
    const callId = request.callId
    return {
      plan,
      key: { mediaCallId: index === 0 ? callId : `${callId}~${index}`, callerTag: request.from.params.tag ?? '' },
      offerSide: 'caller', dialog: null,
      chain: Promise.resolve(), lastAnswerIn: null, lastAnswerOut: null, released: false,
    }
  }

  private releaseBranchMedia(branch: Branch): void {
    const m = this.branchMedia.get(branch)
    if (!m || m.released || m.dialog) return
    m.released = true
    this.o.media!.release(m.plan, m.key)
  }

  /**
   * §16.6: copy the request, set the Request-URI, decrement Max-Forwards, add Record-Route,
   * add our Via with a new branch. `inFlow` null: no Record-Route (stateless ACK).
   */
  private prepareCopy(request: SipRequest, target: Target, inFlow: Flow | null, hash: string, opts: ForwardOptions): SipRequest {
    const copy = new SipRequest(request.method, target.requestUri, request.headers.slice(), request.body)
    // §16.6 item 3: "If the copy contains a Max-Forwards header field, the proxy MUST
    // decrement its value by one (1). If the copy does not contain a Max-Forwards header
    // field, the proxy MUST add one with a field value, which SHOULD be 70."
    const mf = copy.get('max-forwards')
    copy.set('max-forwards', String(mf === undefined ? MAX_FORWARDS_DEFAULT : Math.max(0, parseInt(mf, 10) - 1)))
    const outTransport: TransportProtocol = target.destination.flow?.transport ?? target.destination.transport
    if (opts.recordRoute && inFlow !== null) {
      // RFC 5658 double Record-Route: inbound-facing entry below, outbound-facing on top.
      const t = this.o.transport
      copy.prepend('record-route', recordRouteValue(t.sentBy(inFlow.transport), inFlow.transport, inFlow))
      copy.prepend('record-route', recordRouteValue(t.sentBy(outTransport), outTransport, target.destination.flow ?? null))
    }
    if (opts.extraHeaders) for (const h of opts.extraHeaders) copy.append(h.name, h.value)
    // §16.6 item 8: "The proxy MUST insert a Via header field value into the copy before the
    // existing Via header field values."
    const sb = this.o.transport.sentBy(outTransport)
    copy.prepend('via', `SIP/2.0/${outTransport} ${sb.host}:${sb.port};branch=${proxyBranch(hash)};rport`)
    return copy
  }

  private onBranchResponse(
    ctx: ResponseContext, branch: Branch, res: SipResponse, opts: ForwardOptions,
    request: SipRequest, inFlow: Flow, target: Target,
  ): void {
    const m = this.branchMedia.get(branch)
    if (m === undefined) {
      this.processBranchResponse(ctx, branch, res, opts)
      return
    }
    // Anchored branch: rewrite answers in order, then go on as usual.
    m.chain = m.chain.then(async () => {
      const st = res.status
      if (res.body.length > 0 && st >= 180 && st < 300 && !m.released) {
        const text = textDecoder.decode(res.body)
        if (m.lastAnswerIn === text && m.lastAnswerOut !== null) {
          res.body = m.lastAnswerOut
        } else {
          if (m.dialog === null) m.key.calleeTag = res.to.params.tag ?? undefined
          const answerSide: CallSide = m.offerSide === 'caller' ? 'callee' : 'caller'
          try {
            const out = await this.o.media!.answer(m.plan, m.key, res.body, answerSide)
            m.lastAnswerIn = text
            m.lastAnswerOut = out
            res.body = out
          } catch (e) {
            log.error('media answer failed', { callId: res.get('call-id'), status: st, error: isMediaRefusal(e) ? e.reason : String(e) })
          }
        }
      }
      if (st >= 200 && st < 300 && m.dialog === null && !this.anchored.get(res.callId)) {
        const d = this.anchored.create({
          invite: request, ok: res, plan: m.plan, key: m.key,
          callerDestination: this.o.transport.responseDestination(request, inFlow),
          callerFlow: inFlow.reliable ? inFlow : null,
          calleeDestination: branch.tx?.flow && branch.tx.flow.reliable ? { ...target.destination, flow: branch.tx.flow } : target.destination,
          calleeFlow: branch.tx?.flow && branch.tx.flow.reliable ? branch.tx.flow : null,
          isOurRecordRoute: (v) => this.isOurRoute(v),
        })
        const timeout = this.o.sessionTimeout ?? 0
        if (timeout > 0) d.timer = this.o.scheduler.setTimer(timeout, () => this.endDialog(d, 'session timeout'))
        if (inFlow.reliable && !inFlow.open) {
          // The 2xx crossed our CANCEL after the caller's connection closed: nobody will
          // ACK it, so end the call towards the callee at once.
          this.dropDialog(d)
          this.sendBye(d, d.caller, d.callee)
        }
        m.released = true // the dialog owns the session now
      } else if (st >= 300) {
        this.releaseBranchMedia(branch)
      }
      this.processBranchResponse(ctx, branch, res, opts)
    }).catch((e: unknown) => log.error('anchored response processing failed', { error: String(e) }))
  }

  /** True for a Record-Route/Route value that names this gateway. */
  private isOurRoute(value: string): boolean {
    const lt = value.indexOf('<')
    const uri = lt >= 0 ? value.slice(lt + 1, value.indexOf('>', lt)) : value
    const m = /^sips?:([^;:>]+|\[[^\]]+\])(?::(\d+))?/i.exec(uri)
    return m !== null && this.o.transport.isLocal(m[1]!.toLowerCase(), m[2] ? Number(m[2]) : null)
  }

  private processBranchResponse(ctx: ResponseContext, branch: Branch, res: SipResponse, opts: ForwardOptions): void {
    const status = res.status
    if (status < 200) {
      if (status === 100) {
        // §16.7 item 3: 100 is not forwarded; it only tells us the branch is alive.
        if (branch.lastStatus === 0) branch.lastStatus = 100
      } else {
        branch.lastStatus = status
        if (ctx.isInvite && !branch.cancelled) this.armTimerC(ctx, branch, opts)
        if (!ctx.finalSent && !ctx.terminated) this.sendUpstream(ctx, res)
      }
      if (branch.cancelPending) this.sendCancel(ctx, branch, opts)
      return
    }
    const firstFinal = !branch.final
    branch.final = true
    branch.lastStatus = status
    this.clearTimerC(branch)
    if (status < 300) {
      // §16.7 item 5: "Any 2xx response to an INVITE request" is forwarded immediately,
      // retransmissions included (RFC 6026 §8.4); then the other branches are cancelled.
      if (!(ctx.finalSent && !ctx.isInvite)) this.sendUpstream(ctx, res)
      if (!ctx.finalSent) {
        ctx.finalSent = true
        if (ctx.isInvite) this.cancelBranches(ctx, branch, opts)
      }
      if (firstFinal && ctx.complete) this.finish(ctx, opts)
      return
    }
    if (!firstFinal) return
    ctx.consider(res)
    if (status >= 600 && ctx.isInvite) {
      ctx.terminated = true
      this.cancelBranches(ctx, branch, opts)
    }
    if (ctx.complete) this.finish(ctx, opts)
  }

  private onBranchFailure(ctx: ResponseContext, branch: Branch, status: number, opts: ForwardOptions, reason?: string): void {
    if (branch.final) return
    branch.final = true
    this.clearTimerC(branch)
    this.releaseBranchMedia(branch)
    const req = branch.tx?.request ?? ctx.serverTx?.request
    if (req) ctx.consider(createResponse(req, status, { toTag: 'pb-' + status, reason }))
    if (ctx.complete) this.finish(ctx, opts)
  }

  /** All branches are final: send the best response upstream if no 2xx went (§16.7 item 6). */
  private finish(ctx: ResponseContext, opts: ForwardOptions): void {
    const tx = ctx.serverTx
    if (tx && ctx.isInvite) this.inviteContexts.delete(tx.key)
    let finalStatus = 0
    if (!ctx.finalSent) {
      ctx.finalSent = true
      let best = ctx.best
      if (best === null && tx) best = createResponse(tx.request, 408, { toTag: 'pb-408' })
      if (best !== null) {
        if (best.status === 503) {
          // §16.7 item 6: "If the selected response is a 503 (Service Unavailable), the proxy
          // MUST generate a 500 (Server Internal Error)" (the 503 was about the next hop).
          best.status = 500
          best.reason = 'Server Internal Error'
        }
        if (best.status === 401 || best.status === 407) {
          // §16.7 item 7: "the proxy MUST collect any WWW-Authenticate and Proxy-Authenticate
          // header field values from all other 401 (Unauthorized) and 407 (Proxy
          // Authentication Required) responses received so far in this response context and
          // add them to this response without modification before forwarding."
          for (const c of ctx.challenges) if (c.from !== best) best.append(c.field.name, c.field.value)
        }
        finalStatus = best.status
        this.sendUpstream(ctx, best)
      }
    } else {
      finalStatus = 200
    }
    opts.onFinal?.(finalStatus)
  }

  /** Removes our Via (§16.7 item 9) and sends through the server transaction. */
  private sendUpstream(ctx: ResponseContext, res: SipResponse): void {
    const tx = ctx.serverTx
    if (!tx) return
    if (res.headers.length > 0 && isOurVia(res)) res.removeFirst('via')
    tx.respond(res)
  }

  // ---- anchored dialogs whose leg went away ------------------------------------------------

  /**
   * A connection-oriented flow closed (a browser's WebSocket dropped, a TCP phone vanished):
   * every anchored call that used it is ended with a BYE to the other side, and its relay is
   * released. RFC 5626 §7 treats such a flow as failed; there is nobody left to send a BYE
   * on the dead side.
   */
  endDialogsOnFlow(flow: Flow): number {
    // A caller whose connection closed while the callee is still ringing can no longer
    // receive an answer: CANCEL its branches (§16.10 behaviour, without a CANCEL to answer).
    for (const ctx of this.inviteContexts.values()) {
      if (ctx.serverTx?.flow === flow && !ctx.finalSent && !ctx.terminated) {
        ctx.terminated = true
        this.cancelBranches(ctx, null, ctx.options)
      }
    }
    const dialogs = this.anchored.usingFlow(flow)
    for (const d of dialogs) {
      this.dropDialog(d)
      const deadIsCaller = d.caller.flow === flow
      const from = deadIsCaller ? d.caller : d.callee
      const to = deadIsCaller ? d.callee : d.caller
      if (to.flow === flow || (to.destination.flow && !to.destination.flow.open && to.destination.flow.reliable)) continue
      this.sendBye(d, from, to)
      log.info('call ended: a leg\'s connection closed', { callId: d.callId, flowId: flow.id })
    }
    return dialogs.length
  }

  /**
   * Ends an anchored call from the middle (session timeout): BYE to both sides, relay released.
   */
  private endDialog(d: AnchoredDialog, why: string): void {
    d.timer = null
    if (this.anchored.get(d.callId) !== d) return
    this.dropDialog(d)
    log.info('anchored call ended by the gateway', { callId: d.callId, reason: why })
    this.sendBye(d, d.caller, d.callee)
    this.sendBye(d, d.callee, d.caller)
  }

  /** Forgets an anchored dialog: its timer, its record, its relay. */
  private dropDialog(d: AnchoredDialog): void {
    if (d.timer) {
      this.o.scheduler.clearTimer(d.timer)
      d.timer = null
    }
    this.anchored.delete(d.callId)
    this.o.media?.release(d.plan, d.key)
  }

  /**
   * A BYE on behalf of `from` towards `to` (RFC 3261 §15.1.1: Request-URI the remote target,
   * To/From with the dialog's tags, CSeq above any `from` used, Route the route set).
   */
  private sendBye(d: AnchoredDialog, from: AnchoredDialog['caller'], to: AnchoredDialog['caller']): void {
    const transport: TransportProtocol = to.destination.flow?.transport ?? to.destination.transport
    const sb = this.o.transport.sentBy(transport)
    const headers: HeaderField[] = [
      { name: 'via', value: `SIP/2.0/${transport} ${sb.host}:${sb.port};branch=${proxyBranch('bye')};rport` },
      { name: 'max-forwards', value: '70' },
      { name: 'from', value: from.identity },
      { name: 'to', value: to.identity },
      { name: 'call-id', value: d.callId },
      { name: 'cseq', value: `${from.cseq + 1} BYE` },
      { name: 'reason', value: 'SIP;cause=480;text="Connection to the other party was lost"' },
    ]
    for (const r of to.routeSet) headers.push({ name: 'route', value: r })
    from.cseq++
    const bye = new SipRequest('BYE', to.contact, headers)
    this.o.transactions.sendRequest(bye, to.destination, {
      onResponse: () => {},
      onTimeout: () => log.info('BYE for a lost leg timed out', { callId: d.callId }),
      onTransportError: () => log.info('BYE for a lost leg could not be sent', { callId: d.callId }),
    })
  }

  // ---- CANCEL and Timer C ---------------------------------------------------------------

  private cancelBranches(ctx: ResponseContext, except: Branch | null, opts: ForwardOptions): void {
    for (const b of ctx.branches) {
      if (b === except || b.final || b.cancelled) continue
      if (b.lastStatus >= 100) this.sendCancel(ctx, b, opts)
      else b.cancelPending = true
    }
  }

  /**
   * RFC 3261 §9.1: "The Request-URI, Call-ID, To, the numeric part of CSeq, and From header
   * fields in the CANCEL request MUST be identical to those in the request being cancelled,
   * including tags. [...] A CANCEL constructed by a client MUST have only a single Via header
   * field value matching the top Via value in the request being cancelled."
   */
  private sendCancel(ctx: ResponseContext, b: Branch, opts: ForwardOptions): void {
    if (b.cancelled || b.final || !b.tx) return
    b.cancelled = true
    b.cancelPending = false
    // §9.1: a UAC whose CANCEL gets no final response for the INVITE within 64*T1 gives the
    // INVITE up; the branch then counts as 487 so the context can complete.
    this.clearTimerC(b)
    b.timerC = this.o.scheduler.setTimer(this.o.cancelTimeout, () => {
      b.timerC = null
      b.tx?.terminate()
      this.onBranchFailure(ctx, b, 487, opts)
    })
    const inv = b.tx.request
    const headers: HeaderField[] = []
    let viaDone = false
    for (const h of inv.headers) {
      switch (h.name) {
        case 'via':
          if (!viaDone) headers.push(h)
          viaDone = true
          break
        case 'from': case 'to': case 'call-id': case 'route':
          headers.push(h)
          break
        case 'cseq':
          headers.push({ name: 'cseq', value: `${inv.cseq.seq} CANCEL` })
          break
      }
    }
    headers.push({ name: 'max-forwards', value: '70' })
    const cancel = new SipRequest('CANCEL', inv.uri, headers)
    const dest: Destination = b.tx.flow ? { ...b.tx.destination, flow: b.tx.flow } : b.tx.destination
    this.o.transactions.sendRequest(cancel, dest, {
      onResponse: () => {},
      onTimeout: () => {},
      onTransportError: () => {},
    })
  }

  /**
   * §16.6 item 11 / §16.7 item 2: Timer C for INVITE branches, reset by every provisional;
   * when it fires the branch is CANCELled (after a provisional) or treated as 408.
   */
  private armTimerC(ctx: ResponseContext, branch: Branch, opts: ForwardOptions): void {
    this.clearTimerC(branch)
    branch.timerC = this.o.scheduler.setTimer(this.o.timerC, () => {
      branch.timerC = null
      if (branch.final) return
      log.info('timer C fired', { callId: branch.tx?.request.get('call-id') })
      if (branch.lastStatus >= 100) this.sendCancel(ctx, branch, opts)
      else {
        branch.tx?.terminate()
        this.onBranchFailure(ctx, branch, 408, opts)
      }
    })
  }

  private clearTimerC(branch: Branch): void {
    if (branch.timerC) {
      this.o.scheduler.clearTimer(branch.timerC)
      branch.timerC = null
    }
  }
}

function isOurVia(res: SipResponse): boolean {
  const b = res.topVia.branch
  return b !== null && b.startsWith('z9hG4bK-pb')
}


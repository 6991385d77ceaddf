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
import { cancelFor } from '../message/transaction-requests.ts'
import type { ServerTransaction } from '../transaction/transaction-user.ts'
import type { Scheduler } from '../../base/scheduler.ts'
import type { Destination, Flow, TransportProtocol } from '../transport/flow.ts'
import type { TransportLayer } from '../transport/transport-layer.ts'
import { ResponseContext, type Branch } from './response-context.ts'
import { ProxyBranchHandler, relayUpstream } from './proxy-branch-handler.ts'
import { answeredEvent, failedEvent } from './call-reports.ts'
import { recordRouteValue } from './record-route.ts'
import { loopHash, proxyBranch } from './branch.ts'
import { isMediaRefusal } from './media-hooks.ts'
import type { BranchMediaSeam, ForwardMedia } from './branch-media.ts'
import type { ProxyTransactions } from './proxy-transactions.ts'
import { distinctTargets, type FailedBranch, type ForwardOptions, type Target } from './target.ts'
import type { CallEventSink } from './call-events.ts'
import type { ProxiedDialogs } from './proxied-dialogs.ts'
import { logger } from '../../base/log.ts'

const log = logger('sip.proxy')
const bodyDecoder = new TextDecoder()
const bodyEncoder = new TextEncoder()

export interface StatefulProxyOptions {
  transport: TransportLayer
  transactions: ProxyTransactions
  scheduler: Scheduler
  /** Timer C in milliseconds (§16.6 item 11: > 3 minutes). */
  timerC: number
  /** How long a CANCELled branch may wait for its final response, ms (64*T1, §9.1). */
  cancelTimeout: number
  /** Media anchoring for calls that cross WebRTC <-> plain RTP (AnchoredCalls); absent: never anchor. */
  media?: BranchMediaSeam
  /**
   * Called once per INVITE when its first final response goes upstream: the setup time in
   * seconds since the proxy received the INVITE, and the status (metrics).
   */
  onInviteFinal?: (seconds: number, status: number) => void
  /** Call records: answered / failed outcomes of INVITEs forwarded with `reportCall` (call-events.ts). */
  callEvents?: CallEventSink
  /** Dialog state of answered, not anchored calls (hang-up, BYE when a leg's connection drops). */
  dialogs?: ProxiedDialogs
}

const MAX_FORWARDS_DEFAULT = 70

export class StatefulProxy {
  /** Response contexts of pending INVITEs, by server transaction key (for CANCEL, §16.10). */
  private readonly inviteContexts = new Map<string, ResponseContext>()

  constructor(private readonly o: StatefulProxyOptions) {}

  /** Live INVITE response contexts (leak checks, metrics). */
  get pendingInvites(): number {
    return this.inviteContexts.size
  }

  /**
   * Forwards `request` to every target in parallel (§16.6, once per target) and relays the
   * responses upstream through `serverTx` (§16.7). An empty target set must be handled by
   * the caller (404/480). For INVITE, a 100 Trying goes upstream at once (§16.2).
   *
   * RFC 3261 §16.5: "any given URI MUST NOT be added to the set more than once": a target
   * whose Request-URI is equivalent (§19.1.4) to an earlier one's and that goes to the same
   * next hop is skipped (`distinctTargets`, target.ts: why the next hop counts too).
   */
  forward(request: SipRequest, serverTx: ServerTransaction, inFlow: Flow, targets: Target[], opts: ForwardOptions): void {
    const isInvite = request.method === 'INVITE'
    if (this.o.dialogs !== undefined && request.to.params.tag) this.o.dialogs.noteRequest(request)
    const ctx = new ResponseContext(request, serverTx, isInvite, opts)
    if (isInvite && this.o.onInviteFinal) ctx.startedAt = this.o.scheduler.now()
    if (isInvite) {
      serverTx.respond(createResponse(request, 100))
      this.inviteContexts.set(serverTx.key, ctx)
    }
    const set = distinctTargets(targets)
    if (set !== targets) {
      log.info('duplicate targets skipped (RFC 3261 §16.5)', {
        callId: request.get('call-id'), targets: targets.length, distinct: set.length,
        skipped: targets.filter((t) => !set.includes(t)).map((t) => t.requestUri),
      })
    }
    const forwardMedia = this.o.media?.beginForward(request)
    const hash = loopHash(request, request.uri)
    if (opts.onFailure) ctx.serial = { inFlow, hash, forwardMedia }
    for (let i = 0; i < set.length; i++) {
      if (!ctx.mayStartBranch) break
      this.startBranch(ctx, request, inFlow, set[i]!, i, hash, opts, forwardMedia)
    }
    if (ctx.complete) this.finish(ctx, opts)
  }

  /**
   * Serial forking: asks `opts.onFailure` for the next targets once every branch failed
   * (ForwardOptions.onFailure, target.ts) and starts them in this context. Returns true when
   * the context goes on (new branches, or the handler is still deciding), false when the best
   * response should go upstream now.
   */
  private failover(ctx: ResponseContext, opts: ForwardOptions): boolean {
    const handler = opts.onFailure
    const best = ctx.best
    const serial = ctx.serial
    if (!handler || best === null || serial === null || !ctx.mayStartBranch) return false
    const failed: FailedBranch[] = []
    for (const b of ctx.branches) if (b.target) failed.push({ target: b.target, status: b.lastStatus, response: b.response })
    let next: Target[] | null | Promise<Target[] | null>
    try {
      next = handler(best, failed)
    } catch (e) {
      log.error('failover handler failed', { callId: ctx.request.get('call-id'), error: String(e) })
      return false
    }
    if (next === null) return false
    if (Array.isArray(next)) return this.startFailover(ctx, next, opts)
    ctx.failoverPending = true
    next.then(
      (targets) => {
        ctx.failoverPending = false
        if (targets === null || !this.startFailover(ctx, targets, opts)) this.finish(ctx, opts, false)
      },
      (e: unknown) => {
        ctx.failoverPending = false
        log.error('failover handler failed', { callId: ctx.request.get('call-id'), error: String(e) })
        this.finish(ctx, opts, false)
      },
    )
    return true
  }

  private startFailover(ctx: ResponseContext, targets: Target[], opts: ForwardOptions): boolean {
    const serial = ctx.serial
    if (targets.length === 0 || serial === null || !ctx.mayStartBranch) return false
    log.info('serial forking: next targets', { callId: ctx.request.get('call-id'), after: ctx.best?.status, targets: targets.map((t) => t.requestUri) })
    for (const t of targets) if (t.answers !== undefined) ctx.withdraw(t.answers)
    for (const t of targets) {
      if (!ctx.mayStartBranch) break
      this.startBranch(ctx, ctx.request, serial.inFlow, t, ctx.branches.length, serial.hash, opts, serial.forwardMedia)
    }
    if (ctx.complete) this.finish(ctx, opts)
    return true
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
    ctx.cancelledByCaller = true
    // Every branch failed and the next ones are being looked up: the caller's CANCEL ends it.
    if (ctx.failoverPending) ctx.best = createResponse(ctx.request, 487, { toTag: 'pb-487' })
    ctx.terminated = true
    this.cancelBranches(ctx, null, ctx.options)
  }

  // ---- branches -------------------------------------------------------------------------

  private startBranch(
    ctx: ResponseContext, request: SipRequest, inFlow: Flow, target: Target, index: number, hash: string,
    opts: ForwardOptions, forwardMedia: ForwardMedia,
  ): void {
    const media = this.o.media?.branch(request, inFlow, target, index, opts, forwardMedia) ?? null
    const branch: Branch = {
      tx: null, lastStatus: 0, final: false, cancelPending: false, cancelled: false, timerC: null, media, handler: null,
      target, response: null, ringTimer: null, ringTimedOut: false,
    }
    ctx.branches.push(branch)
    const copy = this.prepareCopy(request, target, inFlow, hash, opts)
    const handler = new ProxyBranchHandler(this, ctx, branch, target.destination.flow ? 480 : 503)
    branch.handler = handler
    const send = () => {
      branch.tx = this.o.transactions.sendRequest(copy, target.destination, handler)
      if (ctx.isInvite) {
        this.armTimerC(ctx, branch, opts)
        if (target.ringTimeoutMs !== undefined) this.armRingTimer(ctx, branch, target.ringTimeoutMs, opts)
      }
    }
    if (media === null) {
      send()
      return
    }
    // Anchored: the offer goes through the media driver before the branch is sent. A branch
    // whose offer comes back after a 2xx went upstream (or arrived), a 6xx, or a CANCEL is
    // never sent: it counts as 487 (RFC 3261 §16.7 items 5 and 10).
    media.offer().then(
      (sdp) => {
        if (!ctx.mayStartBranch || branch.final) {
          media.release()
          this.onBranchFailure(ctx, branch, 487, opts)
          return
        }
        copy.body = target.offerFilter ? filtered(sdp, target.offerFilter) : sdp
        send()
      },
      (e: unknown) => {
        media.release()
        const refusal = isMediaRefusal(e) ? e : { status: 500, reason: 'Media Anchoring Failed' }
        if (!isMediaRefusal(e)) log.error('media offer failed', { callId: request.get('call-id'), error: String(e) })
        else log.info('media offer refused', { callId: request.get('call-id'), status: refusal.status, reason: refusal.reason })
        this.onBranchFailure(ctx, branch, refusal.status, opts, refusal.reason)
      },
    )
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
      // RFC 5658 double Record-Route: inbound-facing entry below, outbound-facing on top. Both
      // carry the caller's From tag (Kamailio's `ftag`): an in-dialog request tells the
      // gateway which side sent it (who hung up, for call records).
      const t = this.o.transport
      const ftag = request.from.params.tag ?? null
      copy.prepend('record-route', recordRouteValue(t.sentBy(inFlow.transport), inFlow.transport, inFlow, ftag))
      copy.prepend('record-route', recordRouteValue(t.sentBy(outTransport), outTransport, target.destination.flow ?? null, ftag))
    }
    if (opts.extraHeaders) for (const h of opts.extraHeaders) copy.append(h.name, h.value)
    if (target.offerFilter && copy.body.length > 0 && request.method === 'INVITE') copy.body = filtered(copy.body, target.offerFilter)
    if (target.headers) {
      // Per-branch fields replace the request's fields of the same name (a trunk's asserted
      // identity replaces the user's); several of one name are kept in order.
      const seen = new Set<string>()
      for (const h of target.headers) {
        if (seen.has(h.name)) copy.append(h.name, h.value)
        else {
          seen.add(h.name)
          copy.set(h.name, h.value)
        }
      }
    }
    // §16.6 item 8: "The proxy MUST insert a Via header field value into the copy before the
    // existing Via header field values."
    const sb = this.o.transport.sentBy(outTransport)
    copy.prepend('via', `SIP/2.0/${outTransport} ${sb.host}:${sb.port};branch=${proxyBranch(hash)};rport`)
    return copy
  }

  /**
   * §16.7 for one response on one branch (ProxyBranchHandler calls this while the context is
   * open; not for other callers).
   */
  processBranchResponse(ctx: ResponseContext, branch: Branch, res: SipResponse, opts: ForwardOptions): void {
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
    this.clearRingTimer(branch)
    if (status < 300) {
      // §16.7 item 5: "Any 2xx response to an INVITE request" is forwarded immediately,
      // retransmissions included (RFC 6026 §8.4); then the other branches are cancelled.
      const answers = !ctx.finalSent && ctx.isInvite
      // Read before sending: the server transaction may release the response's fields.
      if (answers && opts.reportCall) this.reportAnswered(ctx, branch, res)
      if (answers && opts.recordRoute && branch.media === null) this.recordDialog(ctx, branch, res)
      if (!(ctx.finalSent && !ctx.isInvite)) this.sendUpstream(ctx, res)
      if (!ctx.finalSent) {
        ctx.finalSent = true
        if (ctx.isInvite) {
          this.reportInviteFinal(ctx, status)
          this.cancelBranches(ctx, branch, opts)
        }
      }
      if (firstFinal && ctx.complete) this.finish(ctx, opts)
      return
    }
    if (!firstFinal) return
    if (branch.ringTimedOut && status === 487) {
      // Cancelled because its ring time ran out (Target.ringTimeoutMs): nobody answered.
      branch.lastStatus = 480
      ctx.consider(createResponse(ctx.request, 480, { toTag: 'pb-480', reason: 'No Answer' }))
    } else {
      branch.response = res
      ctx.consider(res)
    }
    if (status >= 600 && ctx.isInvite) {
      ctx.terminated = true
      this.cancelBranches(ctx, branch, opts)
    }
    if (ctx.complete) this.finish(ctx, opts)
  }

  /**
   * A branch ended without a response: timeout (408), transport error (480/503), media
   * refusal, or a CANCELled branch given up (487). Counts as that final response (§16.7 item
   * 6, §8.1.3.1). ProxyBranchHandler calls this while the context is open; not for other callers.
   */
  onBranchFailure(ctx: ResponseContext, branch: Branch, status: number, opts: ForwardOptions, reason?: string): void {
    if (branch.final) return
    branch.final = true
    branch.lastStatus = status
    this.clearTimerC(branch)
    this.clearRingTimer(branch)
    branch.media?.release()
    ctx.consider(createResponse(ctx.request, status, { toTag: 'pb-' + status, reason }))
    if (ctx.complete) this.finish(ctx, opts)
  }

  /**
   * All branches are final: try the next targets (serial forking, `failover`), else send the
   * best response upstream if no 2xx went (§16.7 item 6).
   */
  private finish(ctx: ResponseContext, opts: ForwardOptions, mayFailover = true): void {
    if (mayFailover && !ctx.finalSent && ctx.isInvite && opts.onFailure && this.failover(ctx, opts)) return
    const tx = ctx.serverTx
    if (tx && ctx.isInvite) this.inviteContexts.delete(tx.key)
    // Anchored branches keep their context: a 2xx retransmission goes through the media
    // driver again (the answer SDP rewritten the same way).
    for (const b of ctx.branches) if (b.media === null) b.handler?.detach()
    let finalStatus = 0
    if (!ctx.finalSent) {
      ctx.finalSent = true
      let best = ctx.best
      if (best === null && tx) best = createResponse(ctx.request, 408, { toTag: 'pb-408' })
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
        // Read before sending: the server transaction may release the response's fields.
        if (ctx.isInvite && opts.reportCall) this.reportFailed(ctx, best)
        this.sendUpstream(ctx, best)
        if (ctx.isInvite) this.reportInviteFinal(ctx, finalStatus)
      }
    } else {
      finalStatus = 200
    }
    opts.onFinal?.(finalStatus)
  }

  /** An answered, not anchored call: its dialog, so that the gateway can end it (proxied-dialogs.ts). */
  private recordDialog(ctx: ResponseContext, branch: Branch, ok: SipResponse): void {
    const dialogs = this.o.dialogs
    const serverTx = ctx.serverTx
    if (dialogs === undefined || serverTx === null || branch.target === null) return
    const inFlow = serverTx.flow
    const calleeFlow = branch.tx?.flow && branch.tx.flow.reliable ? branch.tx.flow : null
    dialogs.record({
      invite: ctx.request, ok,
      callerDestination: this.o.transport.responseDestination(ctx.request, inFlow),
      callerFlow: inFlow.reliable ? inFlow : null,
      calleeDestination: calleeFlow ? { ...branch.target.destination, flow: calleeFlow } : branch.target.destination,
      calleeFlow,
    })
  }

  /**
   * Ends an answered call from the middle (an operator's hang-up): a BYE to both sides, the
   * call reported ended by the gateway. False when no answered call has that Call-ID.
   */
  hangUp(callId: string, reason = 'SIP;cause=200;text="Call ended by the operator"'): boolean {
    const ended = this.o.dialogs?.hangUp(callId, reason) === true || this.o.media?.hangUp(callId, reason) === true
    if (ended) this.o.callEvents?.callEnded({ callId, fromTag: null, at: Date.now(), endedBy: 'gateway', reason: 'hung up by the operator' })
    return ended
  }

  private reportAnswered(ctx: ResponseContext, branch: Branch, res: SipResponse): void {
    this.o.callEvents?.callAnswered(answeredEvent(ctx.request, branch.target, branch.media !== null, res))
  }

  private reportFailed(ctx: ResponseContext, best: SipResponse): void {
    this.o.callEvents?.callFailed(failedEvent(ctx.request, best, ctx.cancelledByCaller))
  }

  private reportInviteFinal(ctx: ResponseContext, status: number): void {
    const report = this.o.onInviteFinal
    if (report && ctx.startedAt >= 0) report((this.o.scheduler.now() - ctx.startedAt) / 1000, status)
  }

  /** Removes our Via (§16.7 item 9) and sends through the server transaction. */
  private sendUpstream(ctx: ResponseContext, res: SipResponse): void {
    if (ctx.serverTx) relayUpstream(ctx.serverTx, res)
  }

  /**
   * A connection-oriented flow closed (a browser's WebSocket dropped, a TCP phone vanished).
   * A caller whose connection closed while the callee is still ringing can no longer receive
   * an answer: its branches are CANCELled (§16.10 behaviour, without a CANCEL to answer). A
   * branch towards a callee on that flow ends as 480 at once.
   * Anchored calls that used the flow are ended by the media seam (BYE to the other leg).
   * Answered calls with a leg on the flow (anchored or not) get a BYE on the other leg and are
   * reported ended by the gateway. Returns the number of answered calls ended.
   */
  endDialogsOnFlow(flow: Flow): number {
    for (const ctx of this.inviteContexts.values()) {
      if (ctx.serverTx?.flow === flow && !ctx.finalSent && !ctx.terminated) {
        ctx.terminated = true
        this.cancelBranches(ctx, null, ctx.options)
      }
      // A callee whose connection closed while its branch was pending can never answer over
      // it (RFC 5626 §5, RFC 7118 §5: the flow is the only way to reach it): the branch counts
      // as 480 now instead of ringing on until Timer C.
      for (const b of ctx.branches) {
        if (b.final || b.tx === null || b.tx.flow !== flow) continue
        b.tx.terminate()
        this.onBranchFailure(ctx, b, 480, ctx.options, 'Connection Closed')
      }
    }
    // Answered calls with a leg on that flow: BYE to the other leg (anchored ones by the media seam).
    const ended = [...(this.o.dialogs?.endOnFlow(flow) ?? []), ...(this.o.media?.endOnFlow(flow) ?? [])]
    for (const callId of ended) this.o.callEvents?.callEnded({ callId, fromTag: null, at: Date.now(), endedBy: 'gateway', reason: 'connection lost' })
    return ended.length
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
    const inv = b.tx.request
    // A final response already reached the transaction (an anchored answer still in the media
    // driver): there is nothing left to cancel.
    if (inv === null) return
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
    const cancel = cancelFor(inv)
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
      log.info('timer C fired', { callId: ctx.request.get('call-id') })
      if (branch.lastStatus >= 100) this.sendCancel(ctx, branch, opts)
      else {
        branch.tx?.terminate()
        this.onBranchFailure(ctx, branch, 408, opts)
      }
    })
  }

  /**
   * Target.ringTimeoutMs: the branch rings this long at most, then it is CANCELled (or, with
   * no provisional yet, given up) and counts as 480 No Answer, so the next target can ring.
   */
  private armRingTimer(ctx: ResponseContext, branch: Branch, ms: number, opts: ForwardOptions): void {
    branch.ringTimer = this.o.scheduler.setTimer(ms, () => {
      branch.ringTimer = null
      if (branch.final) return
      branch.ringTimedOut = true
      if (branch.lastStatus >= 100) this.sendCancel(ctx, branch, opts)
      else {
        branch.tx?.terminate()
        this.onBranchFailure(ctx, branch, 480, opts, 'No Answer')
      }
    })
  }

  private clearRingTimer(branch: Branch): void {
    if (branch.ringTimer) {
      this.o.scheduler.clearTimer(branch.ringTimer)
      branch.ringTimer = null
    }
  }

  private clearTimerC(branch: Branch): void {
    if (branch.timerC) {
      this.o.scheduler.clearTimer(branch.timerC)
      branch.timerC = null
    }
  }
}

/** Applies a target's offer filter to an SDP body; Content-Length is written by the serializer. */
function filtered(body: Uint8Array, filter: (sdp: string) => string): Uint8Array {
  return bodyEncoder.encode(filter(bodyDecoder.decode(body)))
}

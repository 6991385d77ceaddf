/**
 * Calls whose media the gateway anchors, as the stateful proxy forwards them: rewrites each
 * branch's offer and answer through the MediaHooks (media-hooks.ts), records the dialog a
 * 2xx creates (anchored-dialogs.ts), routes later re-offers (hold/resume re-INVITE, UPDATE)
 * through the same relay, releases it on BYE, CANCEL or failure, and ends the call with a
 * BYE to the other leg when one leg's connection drops or the session times out.
 *
 * It is the proxy's BranchMediaSeam (branch-media.ts): the proxy itself stays RFC 3261 §16
 * forwarding only. A plain proxied call never reaches this module's state.
 */
import { SipRequest, type SipResponse } from '../message/sip-message.ts'
import type { ClientTransaction } from '../transaction/transaction-user.ts'
import type { Flow } from '../transport/flow.ts'
import type { TransportLayer } from '../transport/transport-layer.ts'
import type { Scheduler } from '../../base/scheduler.ts'
import type { LocalAddresses } from '../../base/local-addresses.ts'
import { logger } from '../../base/log.ts'
import { byeRequest, namesThisGateway } from './dialog-sides.ts'
import { AnchoredDialogs, type AnchoredDialog, type DialogSide } from './anchored-dialogs.ts'
import type { BranchMedia, BranchMediaSeam, ForwardMedia } from './branch-media.ts'
import { isMediaRefusal, type CallLeg, type CallSide, type MediaHooks, type MediaSessionKey } from './media-hooks.ts'
import type { ProxyTransactions } from './proxy-transactions.ts'
import type { ForwardOptions, Target } from './target.ts'

const log = logger('sip.proxy')
const textDecoder = new TextDecoder()

export interface AnchoredCallsOptions {
  hooks: MediaHooks
  transport: TransportLayer
  transactions: ProxyTransactions
  local: LocalAddresses
  scheduler: Scheduler
  /** Session timeout of an anchored call, ms; 0: none (media.sessionTimeout). */
  sessionTimeout: number
  /** An anchored call reached its session timeout and was ended with BYEs (call records). */
  onTimedOut?: (callId: string) => void
}

/** The tracker of anchored calls; see the file comment. */
export class AnchoredCalls implements BranchMediaSeam {
  /** Dialogs whose media the gateway anchors, by Call-ID. */
  readonly dialogs = new AnchoredDialogs()

  constructor(private readonly o: AnchoredCallsOptions) {}

  /** Anchored dialogs alive (metrics, leak checks). */
  get size(): number {
    return this.dialogs.size
  }

  /**
   * For an in-dialog request of an anchored dialog: notes its CSeq, releases the relay on BYE,
   * and returns the dialog when the request carries a re-offer (re-INVITE/UPDATE with SDP).
   */
  beginForward(request: SipRequest): ForwardMedia {
    if (!request.to.params.tag) return undefined
    const d = this.dialogs.get(request.callId)
    if (!d) return undefined
    this.dialogs.noteRequest(d, request)
    if (request.method === 'BYE') {
      this.dropDialog(d)
      return undefined
    }
    if ((request.method === 'INVITE' || request.method === 'UPDATE') && request.body.length > 0) return d
    return undefined
  }

  branch(request: SipRequest, inFlow: Flow, target: Target, index: number, opts: ForwardOptions, forward: ForwardMedia): BranchMedia | null {
    if (request.body.length === 0) return null
    const dialog = forward as AnchoredDialog | undefined
    if (dialog) return new AnchoredBranch(this, request, inFlow, target, dialog.plan, dialog.key, this.dialogs.sideOf(dialog, request), dialog)
    if (request.method !== 'INVITE' || request.to.params.tag) return null
    const caller: CallLeg = { transport: inFlow.transport, flow: inFlow.reliable ? inFlow : null, user: opts.callerUser ?? null }
    const d = target.destination
    const callee: CallLeg = { transport: d.flow?.transport ?? d.transport, flow: d.flow ?? null, user: target.user ?? null }
    const plan = this.o.hooks.plan(caller, callee, request.body)
    if (plan === null) return null
    const callId = request.callId
    const key: MediaSessionKey = { mediaCallId: index === 0 ? callId : `${callId}~${index}`, callerTag: request.from.params.tag ?? '' }
    return new AnchoredBranch(this, request, inFlow, target, plan, key, 'caller', null)
  }

  /**
   * A connection-oriented flow closed (a browser's WebSocket dropped, a TCP phone vanished):
   * every anchored call that used it is ended with a BYE to the other side, and its relay is
   * released. RFC 5626 §7 treats such a flow as failed; there is nobody left to send a BYE
   * on the dead side.
   */
  endOnFlow(flow: Flow): string[] {
    const dialogs = this.dialogs.usingFlow(flow)
    for (const d of dialogs) {
      this.dropDialog(d)
      const deadIsCaller = d.caller.flow === flow
      const from = deadIsCaller ? d.caller : d.callee
      const to = deadIsCaller ? d.callee : d.caller
      if (to.flow === flow || (to.destination.flow && !to.destination.flow.open && to.destination.flow.reliable)) continue
      this.sendBye(d, from, to)
      log.info('call ended: a leg\'s connection closed', { callId: d.callId, flowId: flow.id })
    }
    return dialogs.map((d) => d.callId)
  }

  /** Ends the anchored call `callId` from the middle (an operator's hang-up): BYE to both sides. */
  hangUp(callId: string, reason: string): boolean {
    const d = this.dialogs.get(callId)
    if (d === undefined) return false
    this.endDialog(d, 'hung up', reason)
    return true
  }

  /** @internal for AnchoredBranch: the hooks. */
  get hooks(): MediaHooks {
    return this.o.hooks
  }

  /**
   * @internal for AnchoredBranch: records the dialog a 2xx to an anchored INVITE created,
   * unless one exists for the Call-ID already (a second 2xx of a fork). Returns true when
   * it did: the dialog then owns the relay session.
   */
  dialogFromAnswer(request: SipRequest, inFlow: Flow, target: Target, branchTx: ClientTransaction | null, ok: SipResponse, plan: object, key: MediaSessionKey): boolean {
    if (this.dialogs.get(ok.callId)) return false
    const calleeFlow = branchTx?.flow && branchTx.flow.reliable ? branchTx.flow : null
    const d = this.dialogs.create({
      invite: request, ok, plan, key,
      callerDestination: this.o.transport.responseDestination(request, inFlow),
      callerFlow: inFlow.reliable ? inFlow : null,
      calleeDestination: calleeFlow ? { ...target.destination, flow: calleeFlow } : target.destination,
      calleeFlow,
      isOurRecordRoute: (v) => namesThisGateway(v, (h, port) => this.o.local.isLocal(h, port)),
    })
    const timeout = this.o.sessionTimeout
    if (timeout > 0) {
      d.timer = this.o.scheduler.setTimer(timeout, () => {
        if (this.endDialog(d, 'session timeout')) this.o.onTimedOut?.(d.callId)
      })
    }
    if (inFlow.reliable && !inFlow.open) {
      // The 2xx crossed our CANCEL after the caller's connection closed: nobody will
      // ACK it, so end the call towards the callee at once.
      this.dropDialog(d)
      this.sendBye(d, d.caller, d.callee)
    }
    return true
  }

  /** Ends an anchored call from the middle (session timeout, hang-up): BYE to both sides with `reason` (RFC 3326), relay released. */
  private endDialog(d: AnchoredDialog, why: string, reason = 'SIP;cause=408;text="Session timeout"'): boolean {
    d.timer = null
    if (this.dialogs.get(d.callId) !== d) return false
    this.dropDialog(d)
    log.info('anchored call ended by the gateway', { callId: d.callId, reason: why })
    this.sendBye(d, d.caller, d.callee, reason)
    this.sendBye(d, d.callee, d.caller, reason)
    return true
  }

  /** Forgets an anchored dialog: its timer, its record, its relay. */
  private dropDialog(d: AnchoredDialog): void {
    if (d.timer) {
      this.o.scheduler.clearTimer(d.timer)
      d.timer = null
    }
    this.dialogs.delete(d.callId)
    this.o.hooks.release(d.plan, d.key)
  }

  /** A BYE on behalf of `from` towards `to` (dialog-sides.ts `byeRequest`). */
  private sendBye(d: AnchoredDialog, from: DialogSide, to: DialogSide, reason = 'SIP;cause=480;text="Connection to the other party was lost"'): void {
    const bye = byeRequest(d.callId, from, to, (t) => this.o.transport.sentBy(t), reason)
    this.o.transactions.sendRequest(bye, to.destination, {
      onResponse: () => {},
      onTimeout: () => log.info('BYE for a lost leg timed out', { callId: d.callId }),
      onTransportError: () => log.info('BYE for a lost leg could not be sent', { callId: d.callId }),
    })
  }
}

/**
 * One branch whose SDP goes through a relay: an initial INVITE's branch (`dialog` null) or
 * a re-offer inside an anchored dialog.
 */
class AnchoredBranch implements BranchMedia {
  /** Responses are processed one after another (answers are rewritten asynchronously). */
  private chain: Promise<void> = Promise.resolve()
  /** Last answer rewritten: a retransmitted 2xx with the same SDP reuses the output. */
  private lastAnswerIn: string | null = null
  private lastAnswerOut: Uint8Array | null = null
  private released = false

  constructor(
    private readonly calls: AnchoredCalls,
    private readonly request: SipRequest,
    private readonly inFlow: Flow,
    private readonly target: Target,
    private readonly plan: object,
    private readonly key: MediaSessionKey,
    /** Who sent the offer this branch carries (the other side answers). */
    private readonly offerSide: CallSide,
    private readonly dialog: AnchoredDialog | null,
  ) {}

  offer(): Promise<Uint8Array> {
    return this.calls.hooks.offer(this.plan, this.key, this.request.body, this.offerSide)
  }

  onResponse(res: SipResponse, branchTx: ClientTransaction | null, next: () => void): void {
    this.chain = this.chain.then(async () => {
      const st = res.status
      if (res.body.length > 0 && st >= 180 && st < 300 && !this.released) await this.rewriteAnswer(res)
      if (st >= 200 && st < 300) {
        if (this.dialog === null && this.calls.dialogFromAnswer(this.request, this.inFlow, this.target, branchTx, res, this.plan, this.key)) {
          this.released = true // the dialog owns the session now
        }
      } else if (st >= 300) {
        this.release()
      }
      next()
    }).catch((e: unknown) => log.error('anchored response processing failed', { error: String(e) }))
  }

  release(): void {
    if (this.released || this.dialog) return
    this.released = true
    this.calls.hooks.release(this.plan, this.key)
  }

  private async rewriteAnswer(res: SipResponse): Promise<void> {
    const text = textDecoder.decode(res.body)
    if (this.lastAnswerIn === text && this.lastAnswerOut !== null) {
      res.body = this.lastAnswerOut
      return
    }
    if (this.dialog === null) this.key.calleeTag = res.to.params.tag ?? undefined
    const answerSide: CallSide = this.offerSide === 'caller' ? 'callee' : 'caller'
    try {
      const out = await this.calls.hooks.answer(this.plan, this.key, res.body, answerSide)
      this.lastAnswerIn = text
      this.lastAnswerOut = out
      res.body = out
    } catch (e) {
      log.error('media answer failed', { callId: res.get('call-id'), status: res.status, error: isMediaRefusal(e) ? e.reason : String(e) })
    }
  }
}

/**
 * The non-INVITE server transaction (RFC 3261 §17.2.2), for every request but INVITE and ACK
 * (CANCEL included: it is a transaction of its own, §9.2).
 *
 * ```
 *                                   |Request received
 *                                   |pass to TU
 *                                   V
 *                             +-----------+
 *                             |           |
 *                             | Trying    |-------------+
 *                             |           |             |
 *                             +-----------+             |200-699 from TU
 *                                   |                   |send response
 *                                   |1xx from TU        |
 *                                   |send response      |
 *                                   |                   |
 *                Request            V      1xx from TU  |
 *                send response+-----------+send response|
 *                    +--------|           |--------+    |
 *                    |        | Proceeding|        |    |
 *                    +------->|           |<-------+    |
 *             +<--------------|           |             |
 *             |Trnsprt Err    +-----------+             |
 *             |Inform TU            |                   |
 *             |                     |200-699 from TU    |
 *             |                     |send response      |
 *             |  Request            V                   |
 *             |  send response+-----------+             |
 *             |      +--------|           |             |
 *             |      |        | Completed |<------------+
 *             |      +------->|           |
 *             +<--------------|           |
 *             |Trnsprt Err    +-----------+
 *             |Inform TU            |
 *             |                     |Timer J fires
 *             |                     |-
 *             |                     V
 *             |               +-----------+
 *             +-------------->| Terminated|
 *                             +-----------+
 *
 *                 Figure 8 of RFC 3261: non-INVITE server transaction
 * ```
 *
 * Each state is a handler method named after it (`trying`, `proceeding`, `completed`) that
 * receives an event; transitions are `enter<State>` methods. Sending a response (and ending on
 * a transport error) is `ServerTransactionBase`'s.
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { Flow } from '../transport/flow.ts'
import type { TimerHandle } from '../../base/scheduler.ts'
import type { TransactionContext } from './transaction-context.ts'
import { ServerTransactionBase } from './server-transaction-base.ts'
import { timerJ } from './timers.ts'

/** Events of the non-INVITE server transaction's state machine. */
type NistEvent = 'Request' | '1xx from TU' | '200-699 from TU' | 'Timer J'

/**
 * A non-INVITE server transaction, created by the transaction layer when a request other than
 * INVITE or ACK matches no existing transaction (§17.2.3). The TU answers through `respond`.
 */
export class NonInviteServerTransaction extends ServerTransactionBase {
  private timerJHandle: TimerHandle | null = null

  /**
   * > The state machine is initialized in the "Trying" state and is passed a request other
   * > than INVITE or ACK when initialized. This request is passed up to the TU.
   *
   * (The transaction layer passes it up, right after creating the transaction.)
   */
  constructor(key: string, request: SipRequest, flow: Flow, ctx: TransactionContext) {
    super(key, request, flow, ctx, 'Trying')
  }

  /** {@inheritDoc ServerTransaction.respond} */
  respond(response: SipResponse): boolean {
    this.respondResult = false
    this.dispatch(response.status < 200 ? '1xx from TU' : '200-699 from TU', response)
    return this.respondResult
  }

  /** A retransmission of the request matched this transaction (§17.2.3). */
  receiveRequest(_request: SipRequest): void {
    this.dispatch('Request', null)
  }

  private dispatch(event: NistEvent, response: SipResponse | null): void {
    switch (this.st) {
      case 'Trying': return this.trying(event, response)
      case 'Proceeding': return this.proceeding(event, response)
      case 'Completed': return this.completed(event)
      default: return
    }
  }

  // ---- states -------------------------------------------------------------------------

  private trying(event: NistEvent, response: SipResponse | null): void {
    switch (event) {
      case 'Request':
        // > Once in the "Trying" state, any further request retransmissions are discarded.
        return
      case '1xx from TU':
        // > While in the "Trying" state, if the TU passes a provisional response to the
        // > server transaction, the server transaction MUST enter the "Proceeding" state. The
        // > response MUST be passed to the transport layer for transmission.
        this.st = 'Proceeding'
        this.lastProvisional = response
        this.respondResult = this.send(response!)
        return
      case '200-699 from TU':
        return this.enterCompleted(response!)
      default:
        return
    }
  }

  private proceeding(event: NistEvent, response: SipResponse | null): void {
    switch (event) {
      case '1xx from TU':
        // > Any further provisional responses that are received from the TU while in the
        // > "Proceeding" state MUST be passed to the transport layer for transmission.
        this.lastProvisional = response
        this.respondResult = this.send(response!)
        return
      case 'Request':
        // > If a retransmission of the request is received while in the "Proceeding" state,
        // > the most recently sent provisional response MUST be passed to the transport layer
        // > for retransmission.
        this.send(this.lastProvisional!)
        return
      case '200-699 from TU':
        // > If the TU passes a final response (status codes 200-699) to the server while in
        // > the "Proceeding" state, the transaction MUST enter the "Completed" state, and the
        // > response MUST be passed to the transport layer for transmission.
        return this.enterCompleted(response!)
      default:
        return
    }
  }

  private completed(event: NistEvent): void {
    switch (event) {
      case 'Request':
        // > While in the "Completed" state, the server transaction MUST pass the final
        // > response to the transport layer for retransmission whenever a retransmission of
        // > the request is received.
        this.resendFinal()
        return
      case 'Timer J':
        // > The server transaction remains in this state until Timer J fires, at which point
        // > it MUST transition to the "Terminated" state.
        this.timerJHandle = null
        return this.enterTerminated()
      default:
        // > Any other final responses passed by the TU to the server transaction MUST be
        // > discarded while in the "Completed" state.
        return
    }
  }

  // ---- transitions and actions ----------------------------------------------------------

  /**
   * > When the server transaction enters the "Completed" state, it MUST set Timer J to fire
   * > in 64*T1 seconds for unreliable transports, and zero seconds for reliable transports.
   */
  private enterCompleted(response: SipResponse): void {
    this.st = 'Completed'
    const j = timerJ(this.ctx.timers, this.reliable)
    // Over UDP Completed answers retransmissions with the response's bytes (Timer J, 64*T1).
    if (!this.sendFinal(response, j !== 0)) return
    this.respondResult = true
    if (j === 0) return this.enterTerminated()
    this.timerJHandle = this.ctx.scheduler.setTimer(j, NonInviteServerTransaction.fireTimerJ, this)
  }

  /** > The server transaction MUST be destroyed the instant it enters the "Terminated" state. */
  protected enterTerminated(): void {
    this.st = 'Terminated'
    if (this.timerJHandle !== null) this.ctx.scheduler.clearTimer(this.timerJHandle)
    this.timerJHandle = null
    this.ctx.terminated(this)
  }

  /** Timer J's callback, shared by every transaction (it passes itself: no closure per timer). */
  private static readonly fireTimerJ = (tx: NonInviteServerTransaction): void => tx.dispatch('Timer J', null)
}

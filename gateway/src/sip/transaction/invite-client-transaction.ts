/**
 * The INVITE client transaction (RFC 3261 §17.1.1, with the Accepted state of RFC 6026 §8.4).
 *
 * ```
 *                                |INVITE from TU
 *              Timer A fires     |INVITE sent          Timer B fires
 *              Reset A,          V                     or Transport Err.
 *              INVITE sent +-----------+               inform TU
 *                +---------|  Calling  |------------------------------+
 *                +-------->|           |-------------+                |
 *   300-699                +-----------+ 2xx         |                |
 *   ACK sent                  |  |       2xx to TU   |                |
 *   resp. to TU  +------------+  |1xx                |                |
 *                |               |1xx to TU          |                |
 *                |  1xx          V                   |                |
 *                |  1xx to TU +-----------+          |                |
 *                |  +---------|Proceeding |----------+ 2xx            |
 *                |  +-------->|           |          | 2xx to TU      |
 *                |            +-----------+          V                |
 *                |   300-699     |            +-----------+  2xx      |
 *                |   ACK sent,   |            | Accepted  |---+ 2xx   |
 *                |   resp. to TU |            |           |<--+ to TU |
 *                V               V            +-----------+           |
 *  300-699    +-----------+ Transport Err.          |                 |
 *  ACK sent +-| Completed |-----------------------+ | Timer M fires   |
 *           +>|           | inform TU             | | -               |
 *             +-----------+                       | |                 |
 *                   | Timer D fires               V V                 |
 *                   | -                      +------------+           |
 *                   +----------------------->| Terminated |<----------+
 *                                            +------------+
 * ```
 *
 * Each state is a handler method named after it (`calling`, `proceeding`, `accepted`,
 * `completed`) that receives an event; transitions are `enter<State>` methods. The first send,
 * flow pinning, retransmission and the TU reports (timeout, transport error) are
 * `ClientTransactionBase`'s.
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import { ackForNon2xx } from '../message/transaction-requests.ts'
import { serializeMessage } from '../message/serialize.ts'
import type { Destination } from '../transport/flow.ts'
import type { TimerHandle } from '../../base/scheduler.ts'
import type { TransactionContext } from './transaction-context.ts'
import type { ClientTransactionHandler } from './transaction-user.ts'
import { ClientTransactionBase } from './client-transaction-base.ts'
import { timerA, timerB, timerD, timerM } from './timers.ts'

/** Events of the INVITE client transaction's state machine. */
type IctEvent = '1xx' | '2xx' | '300-699' | 'Timer A' | 'Timer B' | 'Timer D' | 'Timer M' | 'transport error'

/**
 * An INVITE client transaction. Created by `TransactionLayer.sendRequest` for an INVITE; the
 * request must already carry its top Via with a unique branch. `start()` sends it.
 */
export class InviteClientTransaction extends ClientTransactionBase {
  /** The ACK for a non-2xx final response, built and serialized once (§17.1.1.3). */
  private ackBytes: Uint8Array | null = null
  private timerAHandle: TimerHandle | null = null
  private timerBHandle: TimerHandle | null = null
  /** Timer D (Completed) or Timer M (Accepted): at most one of them runs. */
  private timerDHandle: TimerHandle | null = null
  private timerMHandle: TimerHandle | null = null

  constructor(key: string, request: SipRequest, destination: Destination, handler: ClientTransactionHandler, ctx: TransactionContext) {
    super(key, request, destination, handler, ctx, 'Calling')
  }

  /**
   * Enters the Calling state (§17.1.1.2):
   *
   * > The initial state, "calling", MUST be entered when the TU initiates a new client
   * > transaction with an INVITE request. The client transaction MUST pass the request to the
   * > transport layer for transmission (see Section 18). If an unreliable transport is being
   * > used, the client transaction MUST start timer A with a value of T1. If a reliable
   * > transport is being used, the client transaction SHOULD NOT start timer A (Timer A
   * > controls request retransmissions). For any transport, the client transaction MUST start
   * > timer B with a value of 64*T1 seconds (Timer B controls transaction timeouts).
   *
   * A transport error on this first send is reported on a 0 ms timer, so that the caller has
   * the transaction in hand before `onTransportError` runs.
   */
  start(): void {
    if (!this.sendFirst()) {
      this.timerAHandle = this.ctx.scheduler.setTimer(0, InviteClientTransaction.fireTransportError, this)
      return
    }
    if (!this.reliable) this.timerAHandle = this.ctx.scheduler.setTimer(timerA(this.ctx.timers, 0), InviteClientTransaction.fireTimerA, this)
    this.timerBHandle = this.ctx.scheduler.setTimer(timerB(this.ctx.timers), InviteClientTransaction.fireTimerB, this)
  }

  /** A response matched this transaction (§17.1.3). */
  receiveResponse(response: SipResponse): void {
    const status = response.status
    const event: IctEvent = status < 200 ? '1xx' : status < 300 ? '2xx' : '300-699'
    this.dispatch(event, response)
  }

  private dispatch(event: IctEvent, response: SipResponse | null): void {
    switch (this.st) {
      case 'Calling': return this.calling(event, response)
      case 'Proceeding': return this.proceeding(event, response)
      case 'Accepted': return this.accepted(event, response)
      case 'Completed': return this.completed(event, response)
      default: return
    }
  }

  // ---- states -------------------------------------------------------------------------

  private calling(event: IctEvent, response: SipResponse | null): void {
    switch (event) {
      case 'Timer A':
        // > When timer A fires, the client transaction MUST retransmit the request by passing
        // > it to the transport layer, and MUST reset the timer with a value of 2*T1.
        this.retransmissions++
        if (!this.retransmit()) return this.transportError()
        this.timerAHandle = this.ctx.scheduler.setTimer(timerA(this.ctx.timers, this.retransmissions), InviteClientTransaction.fireTimerA, this)
        return
      case 'Timer B':
        // > If the client transaction is still in the "Calling" state when timer B fires, the
        // > client transaction SHOULD inform the TU that a timeout has occurred. The client
        // > transaction MUST NOT generate an ACK.
        this.timerBHandle = null
        return this.timeout()
      case 'transport error':
        return this.transportError()
      case '1xx':
        // > If the client transaction receives a provisional response while in the "Calling"
        // > state, it transitions to the "Proceeding" state. [...] Furthermore, the
        // > provisional response MUST be passed to the TU.
        this.enterProceeding()
        this.handler.onResponse(response!, this)
        return
      case '2xx':
        return this.acceptFirst2xx(response!)
      case '300-699':
        return this.completeWithFinal(response!)
      default:
        return
    }
  }

  private proceeding(event: IctEvent, response: SipResponse | null): void {
    switch (event) {
      case '1xx':
        // > Any further provisional responses MUST be passed up to the TU while in the
        // > "Proceeding" state.
        this.handler.onResponse(response!, this)
        return
      case '2xx':
        return this.acceptFirst2xx(response!)
      case '300-699':
        return this.completeWithFinal(response!)
      case 'transport error':
        return this.transportError()
      default:
        return
    }
  }

  private accepted(event: IctEvent, response: SipResponse | null): void {
    switch (event) {
      case '2xx':
        // RFC 6026 §8.4: "The purpose of the 'Accepted' state is to allow the client
        // transaction to continue to exist to receive, and pass to the TU, any
        // retransmissions of the 2xx response and any additional 2xx responses from other
        // branches of the INVITE if it forked downstream. [...] Any 2xx responses that match
        // this client transaction and that are received while in the 'Accepted' state MUST
        // be passed up to the TU. The client transaction MUST NOT generate an ACK to the 2xx
        // response."
        this.handler.onResponse(response!, this)
        return
      case 'Timer M':
        // RFC 6026 §8.4: "If Timer M fires while the client transaction is in the
        // 'Accepted' state, the client transaction MUST move to the 'Terminated' state."
        this.timerMHandle = null
        return this.enterTerminated()
      default:
        // 1xx and non-2xx finals after a 2xx are absorbed.
        return
    }
  }

  private completed(event: IctEvent, _response: SipResponse | null): void {
    switch (event) {
      case '300-699':
        // > Any retransmissions of the final response that are received while in the
        // > "Completed" state MUST cause the ACK to be re-passed to the transport layer for
        // > retransmission, but the newly received response MUST NOT be passed up to the TU.
        if (this.ackBytes !== null && this.ctx.sender.sendSerialized(this.ackBytes, this.target) === null) this.transportError()
        return
      case 'Timer D':
        // > If timer D fires while the client transaction is in the "Completed" state, the
        // > client transaction MUST move to the terminated state.
        this.timerDHandle = null
        return this.enterTerminated()
      case 'transport error':
        return this.transportError()
      default:
        return
    }
  }

  // ---- transitions and actions ----------------------------------------------------------

  /**
   * > In the "Proceeding" state, the client transaction SHOULD NOT retransmit the request any
   * > longer.
   *
   * Timer B only guards the Calling state; once the server has answered, the TU's own timer
   * (a proxy's Timer C, §16.6 item 11) bounds how long the INVITE may ring.
   */
  private enterProceeding(): void {
    this.st = 'Proceeding'
    this.clearTimerA()
    this.clearTimerB()
  }

  /**
   * RFC 6026 §8.4: "When a 2xx response is received while in either the 'Calling' or
   * 'Proceeding' states, the client transaction MUST transition to the 'Accepted' state, and
   * Timer M MUST be started with a value of 64*T1. The 2xx response MUST be passed up to the
   * TU. The client transaction MUST NOT generate an ACK to the 2xx response -- its handling
   * is delegated to the TU."
   */
  private acceptFirst2xx(response: SipResponse): void {
    this.st = 'Accepted'
    this.clearTimerA()
    this.clearTimerB()
    this.timerMHandle = this.ctx.scheduler.setTimer(timerM(this.ctx.timers), InviteClientTransaction.fireTimerM, this)
    this.handler.onResponse(response, this)
    // Accepted passes 2xx retransmissions to the TU and sends nothing itself.
    this.release(false)
  }

  /**
   * > When in either the "Calling" or "Proceeding" states, reception of a response with status
   * > code from 300-699 MUST cause the client transaction to transition to "Completed". The
   * > client transaction MUST pass the received response up to the TU, and the client
   * > transaction MUST generate an ACK request, even if the transport is reliable [...] and
   * > then pass the ACK to the transport layer for transmission. The ACK MUST be sent to the
   * > same address, port, and transport to which the original request was sent. The client
   * > transaction SHOULD start timer D when it enters the "Completed" state, with a value of
   * > at least 32 seconds for unreliable transports, and a value of zero seconds for reliable
   * > transports.
   */
  private completeWithFinal(response: SipResponse): void {
    this.st = 'Completed'
    this.clearTimerA()
    this.clearTimerB()
    this.ackBytes = serializeMessage(ackForNon2xx(this.req!, response)) // §17.1.1.3
    const sent = this.ctx.sender.sendSerialized(this.ackBytes, this.target) !== null
    this.handler.onResponse(response, this)
    // Completed only sends the ACK again; the handler stays for a transport error.
    this.release(false)
    if (this.st !== 'Completed') return // the TU terminated us meanwhile
    if (!sent) return this.transportError()
    const d = timerD(this.ctx.timers, this.reliable)
    if (d === 0) return this.enterTerminated()
    this.timerDHandle = this.ctx.scheduler.setTimer(d, InviteClientTransaction.fireTimerD, this)
  }

  /** > The client transaction MUST be destroyed the instant it enters the "Terminated" state. */
  protected enterTerminated(): void {
    this.st = 'Terminated'
    this.clearTimerA()
    this.clearTimerB()
    if (this.timerDHandle !== null) this.ctx.scheduler.clearTimer(this.timerDHandle)
    if (this.timerMHandle !== null) this.ctx.scheduler.clearTimer(this.timerMHandle)
    this.timerDHandle = this.timerMHandle = null
    this.ctx.terminated(this)
  }

  private clearTimerA(): void {
    if (this.timerAHandle !== null) this.ctx.scheduler.clearTimer(this.timerAHandle)
    this.timerAHandle = null
  }

  private clearTimerB(): void {
    if (this.timerBHandle !== null) this.ctx.scheduler.clearTimer(this.timerBHandle)
    this.timerBHandle = null
  }

  // Timer callbacks shared by every transaction, which passes itself as the argument: arming
  // a timer allocates no closure (see Scheduler.setTimer).
  private static readonly fireTimerA = (tx: InviteClientTransaction): void => {
    tx.timerAHandle = null
    tx.dispatch('Timer A', null)
  }
  private static readonly fireTimerB = (tx: InviteClientTransaction): void => tx.dispatch('Timer B', null)
  private static readonly fireTimerD = (tx: InviteClientTransaction): void => tx.dispatch('Timer D', null)
  private static readonly fireTimerM = (tx: InviteClientTransaction): void => tx.dispatch('Timer M', null)
  private static readonly fireTransportError = (tx: InviteClientTransaction): void => {
    tx.timerAHandle = null
    tx.dispatch('transport error', null)
  }
}

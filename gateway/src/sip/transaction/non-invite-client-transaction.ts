/**
 * The non-INVITE client transaction (RFC 3261 §17.1.2), for every request but INVITE and ACK.
 *
 * ```
 *                                    |Request from TU
 *                                    |send request
 *                Timer E             V
 *                send request  +-----------+
 *                    +---------|           |-------------------+
 *                    |         |  Trying   |  Timer F          |
 *                    +-------->|           |  or Transport Err.|
 *                              +-----------+  inform TU        |
 *                 200-699         |  |                         |
 *                 resp. to TU     |  |1xx                      |
 *                 +---------------+  |resp. to TU              |
 *                 |                  |                         |
 *                 |   Timer E        V       Timer F           |
 *                 |   send req +-----------+ or Transport Err. |
 *                 |  +---------|           | inform TU         |
 *                 |  |         |Proceeding |------------------>|
 *                 |  +-------->|           |-----+             |
 *                 |            +-----------+     |1xx          |
 *                 |              |      ^        |resp to TU   |
 *                 | 200-699      |      +--------+             |
 *                 | resp. to TU  |                             |
 *                 |              V                             |
 *                 |            +-----------+                   |
 *                 +----------->| Completed |                   |
 *                              +-----------+                   |
 *                                   | Timer K                  |
 *                                   | -                        |
 *                                   V                          |
 *                              +-----------+                   |
 *                              | Terminated|<------------------+
 *                              +-----------+
 *
 *                 Figure 6 of RFC 3261: non-INVITE client transaction
 * ```
 *
 * Each state is a handler method named after it (`trying`, `proceeding`, `completed`) that
 * receives an event; transitions are `enter<State>` methods. The first send, flow pinning,
 * retransmission and the TU reports (timeout, transport error) are `ClientTransactionBase`'s.
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { Destination } from '../transport/flow.ts'
import type { TimerHandle } from '../../base/scheduler.ts'
import type { TransactionContext } from './transaction-context.ts'
import type { ClientTransactionHandler } from './transaction-user.ts'
import { ClientTransactionBase } from './client-transaction-base.ts'
import { timerE, timerEProceeding, timerF, timerK } from './timers.ts'

/** Events of the non-INVITE client transaction's state machine. */
type NictEvent = '1xx' | '200-699' | 'Timer E' | 'Timer F' | 'Timer K' | 'transport error'

/**
 * A non-INVITE client transaction. Created by `TransactionLayer.sendRequest` for any method
 * but INVITE and ACK; the request must already carry its top Via with a unique branch.
 * `start()` sends it.
 */
export class NonInviteClientTransaction extends ClientTransactionBase {
  private timerEHandle: TimerHandle | null = null
  private timerFHandle: TimerHandle | null = null
  private timerKHandle: TimerHandle | null = null

  constructor(key: string, request: SipRequest, destination: Destination, handler: ClientTransactionHandler, ctx: TransactionContext) {
    super(key, request, destination, handler, ctx, 'Trying')
  }

  /**
   * Enters the Trying state (§17.1.2.2):
   *
   * > The "Trying" state is entered when the TU initiates a new client transaction with a
   * > request. When entering this state, the client transaction SHOULD set timer F to fire in
   * > 64*T1 seconds. The request MUST be passed to the transport layer for transmission. If an
   * > unreliable transport is in use, the client transaction MUST set timer E to fire in T1
   * > seconds.
   *
   * A transport error on this first send is reported on a 0 ms timer, so that the caller has
   * the transaction in hand before `onTransportError` runs.
   */
  start(): void {
    if (!this.sendFirst()) {
      this.timerEHandle = this.ctx.scheduler.setTimer(0, NonInviteClientTransaction.fireTransportError, this)
      return
    }
    this.timerFHandle = this.ctx.scheduler.setTimer(timerF(this.ctx.timers), NonInviteClientTransaction.fireTimerF, this)
    if (!this.reliable) this.timerEHandle = this.ctx.scheduler.setTimer(timerE(this.ctx.timers, 0), NonInviteClientTransaction.fireTimerE, this)
  }

  /** A response matched this transaction (§17.1.3). */
  receiveResponse(response: SipResponse): void {
    this.dispatch(response.status < 200 ? '1xx' : '200-699', response)
  }

  private dispatch(event: NictEvent, response: SipResponse | null): void {
    switch (this.st) {
      case 'Trying': return this.trying(event, response)
      case 'Proceeding': return this.proceeding(event, response)
      case 'Completed': return this.completed(event)
      default: return
    }
  }

  // ---- states -------------------------------------------------------------------------

  private trying(event: NictEvent, response: SipResponse | null): void {
    switch (event) {
      case 'Timer E':
        // > If timer E fires while still in this state, the timer is reset, but this time with
        // > a value of MIN(2*T1, T2). When the timer fires again, it is reset to a MIN(4*T1,
        // > T2). This process continues so that retransmissions occur with an exponentially
        // > increasing interval that caps at T2.
        this.retransmissions++
        if (!this.retransmit()) return this.transportError()
        this.timerEHandle = this.ctx.scheduler.setTimer(timerE(this.ctx.timers, this.retransmissions), NonInviteClientTransaction.fireTimerE, this)
        return
      case 'Timer F':
        // > If Timer F fires while the client transaction is still in the "Trying" state, the
        // > client transaction SHOULD inform the TU about the timeout, and then it SHOULD enter
        // > the "Terminated" state.
        return this.timeout()
      case '1xx':
        // > If a provisional response is received while in the "Trying" state, the response
        // > MUST be passed to the TU, and then the client transaction SHOULD move to the
        // > "Proceeding" state.
        this.st = 'Proceeding'
        this.handler.onResponse(response!, this)
        return
      case '200-699':
        // > If a final response (status codes 200-699) is received while in the "Trying"
        // > state, the response MUST be passed to the TU, and the client transaction MUST
        // > transition to the "Completed" state.
        return this.enterCompleted(response!)
      case 'transport error':
        return this.transportError()
      default:
        return
    }
  }

  private proceeding(event: NictEvent, response: SipResponse | null): void {
    switch (event) {
      case 'Timer E':
        // > If Timer E fires while in the "Proceeding" state, the request MUST be passed to the
        // > transport layer for retransmission, and Timer E MUST be reset with a value of T2
        // > seconds.
        this.retransmissions++
        if (!this.retransmit()) return this.transportError()
        this.timerEHandle = this.ctx.scheduler.setTimer(timerEProceeding(this.ctx.timers), NonInviteClientTransaction.fireTimerE, this)
        return
      case 'Timer F':
        // > If timer F fires while in the "Proceeding" state, the TU MUST be informed of a
        // > timeout, and the client transaction MUST transition to the terminated state.
        return this.timeout()
      case '1xx':
        this.handler.onResponse(response!, this)
        return
      case '200-699':
        // > If a final response (status codes 200-699) is received while in the "Proceeding"
        // > state, the response MUST be passed to the TU, and the client transaction MUST
        // > transition to the "Completed" state.
        return this.enterCompleted(response!)
      case 'transport error':
        return this.transportError()
      default:
        return
    }
  }

  private completed(event: NictEvent): void {
    // > The "Completed" state exists to buffer any additional response retransmissions that
    // > may be received [...]. If Timer K fires while in this state, the client transaction
    // > MUST transition to the "Terminated" state.
    if (event === 'Timer K') {
      this.timerKHandle = null
      this.enterTerminated()
    }
  }

  // ---- transitions and actions ----------------------------------------------------------

  /**
   * > Once the client transaction enters the "Completed" state, it MUST set Timer K to fire in
   * > T4 seconds for unreliable transports, and zero seconds for reliable transports.
   *
   * With zero, the transaction terminates right after the TU has seen the response.
   */
  private enterCompleted(response: SipResponse): void {
    this.st = 'Completed'
    this.clearTimerE()
    this.clearTimerF()
    this.handler.onResponse(response, this)
    // Completed only absorbs retransmitted responses until Timer K: nothing more for the TU.
    this.release(true)
    if (this.st !== 'Completed') return // the TU terminated us meanwhile
    const k = timerK(this.ctx.timers, this.reliable)
    if (k === 0) return this.enterTerminated()
    this.timerKHandle = this.ctx.scheduler.setTimer(k, NonInviteClientTransaction.fireTimerK, this)
  }

  /** > Once the transaction is in the terminated state, it MUST be destroyed immediately. */
  protected enterTerminated(): void {
    this.st = 'Terminated'
    this.clearTimerE()
    this.clearTimerF()
    if (this.timerKHandle !== null) this.ctx.scheduler.clearTimer(this.timerKHandle)
    this.timerKHandle = null
    this.ctx.terminated(this)
  }

  private clearTimerE(): void {
    if (this.timerEHandle !== null) this.ctx.scheduler.clearTimer(this.timerEHandle)
    this.timerEHandle = null
  }

  private clearTimerF(): void {
    if (this.timerFHandle !== null) this.ctx.scheduler.clearTimer(this.timerFHandle)
    this.timerFHandle = null
  }

  // Timer callbacks shared by every transaction, which passes itself as the argument: arming
  // a timer allocates no closure (see Scheduler.setTimer).
  private static readonly fireTimerE = (tx: NonInviteClientTransaction): void => {
    tx.timerEHandle = null
    tx.dispatch('Timer E', null)
  }
  private static readonly fireTimerF = (tx: NonInviteClientTransaction): void => tx.dispatch('Timer F', null)
  private static readonly fireTimerK = (tx: NonInviteClientTransaction): void => tx.dispatch('Timer K', null)
  private static readonly fireTransportError = (tx: NonInviteClientTransaction): void => {
    tx.timerEHandle = null
    tx.dispatch('transport error', null)
  }
}

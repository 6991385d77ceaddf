/**
 * The INVITE server transaction (RFC 3261 §17.2.1, with the Accepted state of RFC 6026 §7.1,
 * §8.5 and §8.7).
 *
 * ```
 *                                |INVITE
 *                                |pass INV to TU
 *             INVITE             V send 100 if TU won't in 200 ms
 *             send response+------------+
 *                 +--------|            |--------+ 101-199 from TU
 *                 |        | Proceeding |        | send response
 *                 +------->|            |<-------+
 *                          +------------+-------------------------+ Transport Err.
 *             300-699 from TU |      |2xx from TU                 | Inform TU
 *             send response   |      |send response               |
 *                             |      +-------------+              |
 *             INVITE          V    Timer G fires   V              |
 *             send response+-----------+ send resp +----------+   |
 *                 +--------|           |--+    +---|          |   |
 *                 |        | Completed |  |    |   | Accepted |<--+ INVITE: -
 *                 +------->|           |<-+    +-->|          |     ACK: to TU
 *                          +-----------+      2xx  +----------+     2xx from TU:
 *                    ACK - |     | Timer H fires,       |           send response
 *                          |     | Transport Err.       | Timer L fires
 *                          V     | Inform TU            | -
 *                    +-----------+                      |
 *                    | Confirmed |                      |
 *                    +-----------+                      |
 *                          | Timer I fires              |
 *                          V -                          V
 *                    +-------------------------------------+
 *                    |             Terminated              |
 *                    +-------------------------------------+
 * ```
 *
 * Each state is a handler method named after it (`proceeding`, `completed`, `confirmed`,
 * `accepted`) that receives an event; transitions are `enter<State>` methods. Sending a
 * response (and ending on a transport error) is `ServerTransactionBase`'s.
 */
import { createResponse } from '../message/create-response.ts'
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { Flow } from '../transport/flow.ts'
import type { TimerHandle } from '../../base/scheduler.ts'
import type { TransactionContext } from './transaction-context.ts'
import { ServerTransactionBase } from './server-transaction-base.ts'
import { TRYING_DELAY_MS, timerG, timerH, timerI, timerL } from './timers.ts'

/** Events of the INVITE server transaction's state machine. */
type IstEvent =
  | 'INVITE' | 'ACK' | '1xx from TU' | '2xx from TU' | '300-699 from TU'
  | 'Timer G' | 'Timer H' | 'Timer I' | 'Timer L' | '200 ms'

/**
 * An INVITE server transaction, created by the transaction layer when an INVITE matches no
 * existing transaction (§17.2.3). The TU answers through `respond`.
 */
export class InviteServerTransaction extends ServerTransactionBase {
  private readonly autoTrying: boolean
  /** The 200 ms timer that sends 100 (Trying) when the TU has not answered yet. */
  private tryingHandle: TimerHandle | null = null
  private timerGHandle: TimerHandle | null = null
  private timerHHandle: TimerHandle | null = null
  /** Timer I (Confirmed) or Timer L (Accepted). */
  private timerIHandle: TimerHandle | null = null
  private timerLHandle: TimerHandle | null = null
  /** Retransmissions of the final response made so far (Timer G's exponent). */
  private retransmissions = 0

  /**
   * @param autoTrying send 100 (Trying) when the TU has sent no response within 200 ms
   */
  constructor(key: string, request: SipRequest, flow: Flow, ctx: TransactionContext, autoTrying: boolean) {
    super(key, request, flow, ctx, 'Proceeding')
    this.autoTrying = autoTrying
  }

  /**
   * Enters the Proceeding state (§17.2.1):
   *
   * > When a server transaction is constructed for a request, it enters the "Proceeding"
   * > state. The server transaction MUST generate a 100 (Trying) response unless it knows that
   * > the TU will generate a provisional or final response within 200 ms, in which case it MAY
   * > generate a 100 (Trying) response.
   *
   * The transaction does not know that, so it waits 200 ms for the TU and sends 100 (Trying)
   * itself only when the TU has sent nothing by then (when `autoTrying`).
   */
  start(): void {
    if (this.autoTrying) this.tryingHandle = this.ctx.scheduler.setTimer(TRYING_DELAY_MS, InviteServerTransaction.fireTrying, this)
  }

  /** {@inheritDoc ServerTransaction.respond} */
  respond(response: SipResponse): boolean {
    const status = response.status
    this.respondResult = false
    this.dispatch(status < 200 ? '1xx from TU' : status < 300 ? '2xx from TU' : '300-699 from TU', response)
    return this.respondResult
  }

  /** A retransmission of the INVITE matched this transaction (§17.2.3). */
  receiveRequest(_request: SipRequest): void {
    this.dispatch('INVITE', null)
  }

  /** An ACK matched this transaction (§17.2.3); `flow` is the one it arrived on. */
  receiveAck(ack: SipRequest, flow: Flow): void {
    this.dispatch('ACK', null, ack, flow)
  }

  private dispatch(event: IstEvent, response: SipResponse | null, ack?: SipRequest, ackFlow?: Flow): void {
    switch (this.st) {
      case 'Proceeding': return this.proceeding(event, response)
      case 'Completed': return this.completed(event)
      case 'Confirmed': return this.confirmed(event)
      case 'Accepted': return this.accepted(event, response, ack, ackFlow)
      default: return
    }
  }

  // ---- states -------------------------------------------------------------------------

  private proceeding(event: IstEvent, response: SipResponse | null): void {
    switch (event) {
      case '200 ms':
        this.tryingHandle = null
        if (this.lastProvisional === null) this.sendProvisional(createResponse(this.req!, 100))
        return
      case '1xx from TU':
        // > The TU passes any number of provisional responses to the server transaction. So
        // > long as the server transaction is in the "Proceeding" state, each of these MUST be
        // > passed to the transport layer for transmission.
        this.respondResult = this.sendProvisional(response!)
        return
      case 'INVITE':
        // > If a request retransmission is received while in the "Proceeding" state, the most
        // > recent provisional response that was received from the TU MUST be passed to the
        // > transport layer for retransmission.
        // Before any: the 100 (Trying) is due now, since the client is already retransmitting.
        if (this.lastProvisional !== null) this.send(this.lastProvisional)
        else if (this.autoTrying) this.sendProvisional(createResponse(this.req!, 100))
        return
      case '2xx from TU':
        return this.enterAccepted(response!)
      case '300-699 from TU':
        return this.enterCompleted(response!)
      default:
        // An ACK before any final response belongs to nothing: absorbed.
        return
    }
  }

  private completed(event: IstEvent): void {
    switch (event) {
      case 'INVITE':
        // > Furthermore, while in the "Completed" state, if a request retransmission is
        // > received, the server SHOULD pass the response to the transport for retransmission.
        this.resendFinal()
        return
      case 'Timer G':
        // > If timer G fires, the response is passed to the transport layer once more for
        // > retransmission, and timer G is set to fire in MIN(2*T1, T2) seconds. From then on,
        // > when timer G fires, the response is passed to the transport again for
        // > transmission, and timer G is reset with a value that doubles, unless that value
        // > exceeds T2, in which case it is reset with the value of T2.
        this.timerGHandle = null
        this.retransmissions++
        if (!this.resendFinal()) return
        this.timerGHandle = this.ctx.scheduler.setTimer(timerG(this.ctx.timers, this.retransmissions), InviteServerTransaction.fireTimerG, this)
        return
      case 'Timer H':
        // > If timer H fires while in the "Completed" state, it implies that the ACK was never
        // > received. In this case, the server transaction MUST transition to the
        // > "Terminated" state, and MUST indicate to the TU that a transaction failure has
        // > occurred.
        this.timerHHandle = null
        this.enterTerminated()
        this.ctx.serverFailure(this, 'timer-h')
        return
      case 'ACK':
        return this.enterConfirmed()
      default:
        // > Any other final responses passed by the TU [...] MUST be discarded.
        return
    }
  }

  private confirmed(event: IstEvent): void {
    // > The purpose of the "Confirmed" state is to absorb any additional ACK messages that
    // > arrive, triggered from retransmissions of the final response. [...] Once timer I
    // > fires, the server MUST transition to the "Terminated" state.
    if (event === 'Timer I') {
      this.timerIHandle = null
      this.enterTerminated()
    }
  }

  private accepted(event: IstEvent, response: SipResponse | null, ack?: SipRequest, ackFlow?: Flow): void {
    switch (event) {
      case 'ACK':
        // RFC 6026's INVITE server transaction figure: in "Accepted", "ACK / to TU". The ACK
        // for a 2xx is end to end (§17.1.1.3); the TU (a proxy) forwards it.
        this.ctx.ackToTu(ack!, ackFlow!)
        return
      case '2xx from TU':
        // RFC 6026 §8.7: "While in the 'Accepted' state, if the TU passes a 2xx response,
        // the server transaction MUST pass the response to the transport layer for
        // transmission."
        this.respondResult = this.send(response!)
        return
      case 'INVITE':
        // RFC 6026 §8.7: "The purpose of the 'Accepted' state is to absorb retransmissions
        // of an accepted INVITE request. Any such retransmissions are absorbed entirely
        // within the server transaction. They are not passed up to the TU since any
        // downstream UAS cores that accepted the request have taken responsibility for
        // reliability and will already retransmit their 2xx responses if necessary."
        // (§7.1: "[they] will be absorbed by the machine without changing its state.")
        return
      case 'Timer L':
        // RFC 6026 §7.1: "When Timer L fires and the state machine is in the 'Accepted'
        // state, the machine MUST transition to the 'Terminated' state."
        this.timerLHandle = null
        return this.enterTerminated()
      default:
        return
    }
  }

  // ---- transitions and actions ----------------------------------------------------------

  private sendProvisional(response: SipResponse): boolean {
    this.clearTrying()
    this.lastProvisional = response
    return this.send(response)
  }

  /**
   * RFC 6026 §8.5: "If, while in the 'Proceeding' state, the TU passes a 2xx response to the
   * server transaction, the server transaction MUST pass this response to the transport
   * layer for transmission. It is not retransmitted by the server transaction;
   * retransmissions of 2xx responses are handled by the TU. The server transaction MUST then
   * transition to the 'Accepted' state."
   *
   * Timer L (64*T1, RFC 6026 §7.1, §8.7) "reflects the amount of time the server transaction
   * could receive 2xx responses for retransmission from the TU while it is waiting to receive
   * an ACK."
   */
  private enterAccepted(response: SipResponse): void {
    this.clearTrying()
    this.st = 'Accepted'
    this.noteFinalTag(response)
    // Accepted answers nothing itself (retransmitted INVITEs are absorbed; 2xx retransmissions
    // come from the TU): only the key stays to match them.
    if (!this.sendFinal(response, false)) return
    this.respondResult = true
    this.timerLHandle = this.ctx.scheduler.setTimer(timerL(this.ctx.timers), InviteServerTransaction.fireTimerL, this)
  }

  /**
   * > While in the "Proceeding" state, if the TU passes a response with status code from 300
   * > to 699 to the server transaction, the response MUST be passed to the transport layer for
   * > transmission, and the state machine MUST enter the "Completed" state. For unreliable
   * > transports, timer G is set to fire in T1 seconds, and is not set to fire for reliable
   * > transports. [...] When the "Completed" state is entered, timer H MUST be set to fire in
   * > 64*T1 seconds for all transports.
   */
  private enterCompleted(response: SipResponse): void {
    this.clearTrying()
    this.st = 'Completed'
    this.noteFinalTag(response)
    if (!this.sendFinal(response, true)) return
    this.respondResult = true
    if (!this.reliable) this.timerGHandle = this.ctx.scheduler.setTimer(timerG(this.ctx.timers, 0), InviteServerTransaction.fireTimerG, this)
    this.timerHHandle = this.ctx.scheduler.setTimer(timerH(this.ctx.timers), InviteServerTransaction.fireTimerH, this)
  }

  /**
   * > If an ACK is received while the server transaction is in the "Completed" state, the
   * > server transaction MUST transition to the "Confirmed" state. As Timer G is ignored in
   * > this state, any retransmissions of the response will cease. [...] When this state is
   * > entered, timer I is set to fire in T4 seconds for unreliable transports, and zero
   * > seconds for reliable transports.
   */
  private enterConfirmed(): void {
    this.st = 'Confirmed'
    this.clearTimer('G')
    this.clearTimer('H')
    const i = timerI(this.ctx.timers, this.reliable)
    if (i === 0) return this.enterTerminated()
    this.timerIHandle = this.ctx.scheduler.setTimer(i, InviteServerTransaction.fireTimerI, this)
  }

  /**
   * Remembers the final response's To tag when an RFC 2543 ACK (no magic cookie) will need it
   * to match (§17.2.3); an RFC 3261 transaction matches its ACK by branch alone. The tag is
   * copied: a slice of the response's text would keep that whole text alive while lingering.
   */
  private noteFinalTag(response: SipResponse): void {
    if (this.key.startsWith('2543 ')) this.finalTag = (' ' + toTagOf(response)).slice(1)
  }

  /**
   * > Once the transaction is in the "Terminated" state, it MUST be destroyed immediately.
   */
  protected enterTerminated(): void {
    this.st = 'Terminated'
    this.clearTrying()
    this.clearTimer('G')
    this.clearTimer('H')
    this.clearTimer('I')
    this.clearTimer('L')
    this.ctx.terminated(this)
  }

  private clearTrying(): void {
    if (this.tryingHandle !== null) this.ctx.scheduler.clearTimer(this.tryingHandle)
    this.tryingHandle = null
  }

  private clearTimer(which: 'G' | 'H' | 'I' | 'L'): void {
    const s = this.ctx.scheduler
    switch (which) {
      case 'G': if (this.timerGHandle !== null) s.clearTimer(this.timerGHandle); this.timerGHandle = null; return
      case 'H': if (this.timerHHandle !== null) s.clearTimer(this.timerHHandle); this.timerHHandle = null; return
      case 'I': if (this.timerIHandle !== null) s.clearTimer(this.timerIHandle); this.timerIHandle = null; return
      case 'L': if (this.timerLHandle !== null) s.clearTimer(this.timerLHandle); this.timerLHandle = null; return
    }
  }

  // Timer callbacks shared by every transaction, which passes itself as the argument: arming
  // a timer allocates no closure (see Scheduler.setTimer).
  private static readonly fireTrying = (tx: InviteServerTransaction): void => tx.dispatch('200 ms', null)
  private static readonly fireTimerG = (tx: InviteServerTransaction): void => tx.dispatch('Timer G', null)
  private static readonly fireTimerH = (tx: InviteServerTransaction): void => tx.dispatch('Timer H', null)
  private static readonly fireTimerI = (tx: InviteServerTransaction): void => tx.dispatch('Timer I', null)
  private static readonly fireTimerL = (tx: InviteServerTransaction): void => tx.dispatch('Timer L', null)
}

function toTagOf(response: SipResponse): string {
  try {
    return response.to.params['tag'] ?? ''
  } catch {
    return ''
  }
}

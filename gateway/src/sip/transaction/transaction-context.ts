/**
 * What a transaction state machine needs from the transaction layer that owns it: the
 * transport below, the clock, the timer base values, and three callbacks upward. One context
 * object is shared by every transaction of a layer, so a transaction costs no closures for it.
 */
import type { SipRequest } from '../message/sip-message.ts'
import type { Flow } from '../transport/flow.ts'
import type { Scheduler } from '../../base/scheduler.ts'
import type { ClientTransaction, ServerTransaction, TimerValues } from './transaction-user.ts'
import type { TransportSender } from '../transport/transport-sender.ts'

/** Why a server transaction failed (RFC 3261 §17.2.1 Timer H, §17.2.4 transport error). */
export type ServerTransactionFailure = 'timer-h' | 'transport-error'

export interface TransactionContext {
  readonly sender: TransportSender
  readonly scheduler: Scheduler
  readonly timers: TimerValues
  /**
   * Called exactly once, when a transaction enters the Terminated state; the layer forgets it
   * (RFC 3261 §17.1.1.2: "The client transaction MUST be destroyed the instant it enters the
   * 'Terminated' state").
   */
  terminated(tx: ClientTransaction | ServerTransaction): void
  /** A server transaction failed: tell the TU (§17.2.1 Timer H, §17.2.4). */
  serverFailure(tx: ServerTransaction, cause: ServerTransactionFailure): void
  /** An ACK that matched an INVITE server transaction in the Accepted state goes to the TU (RFC 6026). */
  ackToTu(ack: SipRequest, flow: Flow): void
}

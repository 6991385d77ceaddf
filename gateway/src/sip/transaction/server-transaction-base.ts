/**
 * What the two server transactions (RFC 3261 §17.2) have in common: the request and the flow
 * it came on, the responses remembered for retransmitted requests, sending a response to where
 * responses go (§18.2.2), and ending on a transport error. The states, their events and the
 * timers (G, H, I, L; J) stay in `InviteServerTransaction` and `NonInviteServerTransaction`,
 * one handler method per RFC state.
 *
 * Every field is set in the constructor below, and the subclasses only add their own: all
 * instances of one class share one shape.
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { Destination, Flow } from '../transport/flow.ts'
import type { TransactionContext } from './transaction-context.ts'
import type { ServerTransaction, TransactionState } from './transaction-user.ts'

export abstract class ServerTransactionBase implements ServerTransaction {
  readonly key: string
  readonly request: SipRequest
  readonly flow: Flow

  protected st: TransactionState
  protected readonly ctx: TransactionContext
  /** Whether the request's flow is reliable (no Timer G; zero Timer I / J). */
  protected readonly reliable: boolean
  /** Where responses go (§18.2.2), found at the first send. */
  protected responseTarget: Destination | null
  /**
   * The most recent provisional response sent: a retransmission of the request in Proceeding
   * gets it again (§17.2.1, §17.2.2).
   */
  protected lastProvisional: SipResponse | null
  protected lastFinal: SipResponse | null
  /** Result of the last `respond` (dispatch cannot return it). */
  protected respondResult: boolean

  /** @param initial the state the machine starts in: Proceeding (INVITE) or Trying (non-INVITE) */
  protected constructor(key: string, request: SipRequest, flow: Flow, ctx: TransactionContext, initial: 'Proceeding' | 'Trying') {
    this.key = key
    this.request = request
    this.flow = flow
    this.st = initial
    this.ctx = ctx
    this.reliable = flow.reliable
    this.responseTarget = null
    this.lastProvisional = null
    this.lastFinal = null
    this.respondResult = false
  }

  get state(): TransactionState {
    return this.st
  }

  get finalResponse(): SipResponse | null {
    return this.lastFinal
  }

  /** {@inheritDoc ServerTransaction.respond} */
  abstract respond(response: SipResponse): boolean

  /** A retransmission of the request matched this transaction (§17.2.3). */
  abstract receiveRequest(request: SipRequest): void

  /** Stops every timer and forgets the transaction without telling the TU. */
  terminate(): void {
    if (this.st === 'Terminated') return
    this.enterTerminated()
  }

  /** The Terminated state: clears the machine's timers and tells the layer (`ctx.terminated`). */
  protected abstract enterTerminated(): void

  /**
   * Sends a response to where responses to this request go (§18.2.2). A transport error ends
   * the transaction (§17.2.4: "the server transaction SHOULD inform the TU that a failure has
   * occurred, and SHOULD transition to the terminated state"; Figure 8: "Trnsprt Err / Inform
   * TU"). Returns false then.
   */
  protected send(response: SipResponse): boolean {
    const target = (this.responseTarget ??= this.ctx.sender.responseDestination(this.request, this.flow))
    if (this.ctx.sender.send(response, target) !== null) return true
    this.enterTerminated()
    this.ctx.serverFailure(this, 'transport-error')
    return false
  }
}

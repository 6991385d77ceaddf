/**
 * What the two client transactions (RFC 3261 §17.1) have in common: the request and where it
 * goes, the first send and the flow it pins, retransmitting over that flow, and the two ways
 * of ending that report to the TU (timeout, transport error). The states, their events and the
 * timers (A, B, D, M; E, F, K) stay in `InviteClientTransaction` and
 * `NonInviteClientTransaction`, one handler method per RFC state.
 *
 * Once a final response has arrived the transaction lingers (Completed, Accepted: up to 64*T1
 * over UDP) only to absorb retransmissions; `release` then lets go of the parsed request, and
 * the subclass keeps what its state still sends (an INVITE's ACK, as bytes).
 *
 * Every field is set in the constructor below, and the subclasses only add their own: all
 * instances of one class share one shape.
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { Destination, Flow } from '../transport/flow.ts'
import type { TransactionContext } from './transaction-context.ts'
import type { ClientTransaction, ClientTransactionHandler, TransactionState } from './transaction-user.ts'

/** The handler of a transaction whose TU has nothing more to hear (non-INVITE Completed). */
export const SILENT_HANDLER: ClientTransactionHandler = {
  onResponse: () => {},
  onTimeout: () => {},
  onTransportError: () => {},
}

export abstract class ClientTransactionBase implements ClientTransaction {
  readonly key: string
  readonly method: string
  readonly destination: Destination

  protected st: TransactionState
  /** The flow the request went out on, once sent. */
  protected usedFlow: Flow | null
  protected readonly ctx: TransactionContext
  /** The request until a final response arrives (`release`); then null. */
  protected req: SipRequest | null
  protected handler: ClientTransactionHandler
  /** Where retransmissions (and an INVITE's ACK) go: the destination pinned to the flow first used. */
  protected target: Destination
  /** Whether that flow is reliable (no Timer A / E; zero Timer D / K). */
  protected reliable: boolean
  /** Retransmissions made so far (the exponent of Timer A, or of Timer E in Trying). */
  protected retransmissions: number

  /** @param initial the state the machine starts in: Calling (INVITE) or Trying (non-INVITE) */
  protected constructor(
    key: string, request: SipRequest, destination: Destination, handler: ClientTransactionHandler,
    ctx: TransactionContext, initial: 'Calling' | 'Trying',
  ) {
    this.key = key
    this.method = request.method
    this.req = request
    this.destination = destination
    this.st = initial
    this.usedFlow = null
    this.ctx = ctx
    this.handler = handler
    this.target = destination
    this.reliable = false
    this.retransmissions = 0
  }

  get state(): TransactionState {
    return this.st
  }

  /** {@inheritDoc ClientTransaction.request} */
  get request(): SipRequest | null {
    return this.req
  }

  /** The flow the request went out on, once sent. */
  get flow(): Flow | null {
    return this.usedFlow
  }

  /** Sends the request and arms the first timers: the initial state's entry (§17.1.1.2, §17.1.2.2). */
  abstract start(): void

  /** A response matched this transaction (§17.1.3). */
  abstract receiveResponse(response: SipResponse): void

  /** Stops every timer and forgets the transaction without telling the handler. */
  terminate(): void {
    if (this.st === 'Terminated') return
    this.enterTerminated()
  }

  /** The Terminated state: clears the machine's timers and tells the layer (`ctx.terminated`). */
  protected abstract enterTerminated(): void

  /**
   * The first send of the request (§17.1.1.2: "The client transaction MUST pass the request to
   * the transport layer for transmission"; likewise §17.1.2.2). On success the transaction
   * remembers the flow used and pins retransmissions to it, so that they go over the same
   * connection as the original request. Returns false on a transport error, which the caller
   * reports on a 0 ms timer (so that the starter has the transaction in hand first).
   */
  protected sendFirst(): boolean {
    const flow = this.ctx.sender.send(this.req!, this.destination)
    if (flow === null) return false
    this.usedFlow = flow
    this.reliable = flow.reliable
    if (this.destination.flow !== flow) this.target = { ...this.destination, flow }
    return true
  }

  /** Passes the request to the transport again (Timer A or E fired). False on a transport error. */
  protected retransmit(): boolean {
    return this.ctx.sender.send(this.req!, this.target) !== null
  }

  /**
   * A final response arrived: the request is not sent again (the states after it only absorb
   * retransmissions), so the transaction lets go of it. `silent`: the TU hears nothing more
   * from this transaction either (non-INVITE Completed), so the handler goes too.
   */
  protected release(silent: boolean): void {
    this.req = null
    if (silent) this.handler = SILENT_HANDLER
  }

  /**
   * Timer B (§17.1.1.2) or Timer F (§17.1.2.2) fired: the transaction enters Terminated and
   * informs the TU of the timeout (a 408, §8.1.3.1). The caller has already forgotten the
   * fired timer's handle.
   */
  protected timeout(): void {
    this.enterTerminated()
    this.handler.onTimeout(this)
  }

  /**
   * §17.1.4: "The client transaction SHOULD inform the TU that a transport failure has
   * occurred, and the client transaction SHOULD transition directly to the 'Terminated'
   * state."
   */
  protected transportError(): void {
    this.enterTerminated()
    this.handler.onTransportError(this)
  }
}

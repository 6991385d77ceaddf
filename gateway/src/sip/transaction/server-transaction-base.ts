/**
 * What the two server transactions (RFC 3261 §17.2) have in common: the request and the flow
 * it came on, the responses remembered for retransmitted requests, sending a response to where
 * responses go (§18.2.2), and ending on a transport error. The states, their events and the
 * timers (G, H, I, L; J) stay in `InviteServerTransaction` and `NonInviteServerTransaction`,
 * one handler method per RFC state.
 *
 * Once the final response is sent, a transaction lingers (Completed, Accepted, Confirmed: up
 * to 64*T1 over UDP) only to absorb or answer retransmissions, which the transaction layer
 * matches by key. For that it needs the key, the flow and where responses go, and — when it
 * answers retransmissions — the final response's bytes: `sendFinal` keeps exactly that and
 * lets go of the parsed request and responses (a few kilobytes of objects each), so memory
 * grows with the call rate by about a serialized response per call, not by parsed messages.
 *
 * Every field is set in the constructor below, and the subclasses only add their own: all
 * instances of one class share one shape.
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import { serializeMessage } from '../message/serialize.ts'
import type { Destination, Flow } from '../transport/flow.ts'
import type { TransactionContext } from './transaction-context.ts'
import type { ServerTransaction, TransactionState } from './transaction-user.ts'

export abstract class ServerTransactionBase implements ServerTransaction {
  readonly key: string
  readonly method: string
  readonly flow: Flow

  protected st: TransactionState
  protected readonly ctx: TransactionContext
  /** The request until the final response is sent (see the module comment); then null. */
  protected req: SipRequest | null
  /** Whether the request's flow is reliable (no Timer G; zero Timer I / J). */
  protected readonly reliable: boolean
  /** Where responses go (§18.2.2), found at the first send. */
  protected responseTarget: Destination | null
  /**
   * The most recent provisional response sent: a retransmission of the request in Proceeding
   * gets it again (§17.2.1, §17.2.2). Dropped with the request once a final response is sent.
   */
  protected lastProvisional: SipResponse | null
  /** Status of the final response sent; 0 before. */
  protected finalStatusCode: number
  /** To tag of the final INVITE response sent ('' without one): RFC 2543 ACK matching (§17.2.3). */
  protected finalTag: string
  /** The final response as sent, for retransmissions; null when the state has none to make. */
  protected finalBytes: Uint8Array | null
  /** Result of the last `respond` (dispatch cannot return it). */
  protected respondResult: boolean

  /** @param initial the state the machine starts in: Proceeding (INVITE) or Trying (non-INVITE) */
  protected constructor(key: string, request: SipRequest, flow: Flow, ctx: TransactionContext, initial: 'Proceeding' | 'Trying') {
    this.key = key
    this.method = request.method
    this.flow = flow
    this.st = initial
    this.ctx = ctx
    this.req = request
    this.reliable = flow.reliable
    this.responseTarget = null
    this.lastProvisional = null
    this.finalStatusCode = 0
    this.finalTag = ''
    this.finalBytes = null
    this.respondResult = false
  }

  get state(): TransactionState {
    return this.st
  }

  /** {@inheritDoc ServerTransaction.request} */
  get request(): SipRequest | null {
    return this.req
  }

  /** {@inheritDoc ServerTransaction.finalStatus} */
  get finalStatus(): number {
    return this.finalStatusCode
  }

  /** To tag of the final response sent ('' before one, or without a tag). */
  get finalToTag(): string {
    return this.finalTag
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
    return this.sendBytes(serializeMessage(response))
  }

  /**
   * Sends the final response that moves the machine into a lingering state, remembers its
   * status, keeps its bytes when `keepForRetransmission` (the state answers
   * retransmissions with it), and drops the parsed request and provisional response.
   */
  protected sendFinal(response: SipResponse, keepForRetransmission: boolean): boolean {
    const bytes = serializeMessage(response)
    this.finalStatusCode = response.status
    if (keepForRetransmission) this.finalBytes = bytes
    const sent = this.sendBytes(bytes)
    this.req = null
    this.lastProvisional = null
    return sent
  }

  /** Sends the kept final response again (a retransmitted request, Timer G). */
  protected resendFinal(): boolean {
    return this.finalBytes === null ? true : this.sendBytes(this.finalBytes)
  }

  private sendBytes(bytes: Uint8Array): boolean {
    // The request is still there at the first send: every state that drops it comes after one.
    const target = (this.responseTarget ??= this.ctx.sender.responseDestination(this.req!, this.flow))
    if (this.ctx.sender.sendSerialized(bytes, target) !== null) return true
    this.enterTerminated()
    this.ctx.serverFailure(this, 'transport-error')
    return false
  }
}

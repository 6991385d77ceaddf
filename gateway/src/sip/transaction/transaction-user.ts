/**
 * The seams of the transaction layer (RFC 3261 §17), written down as interfaces so that the
 * layers above (registrar, proxy: the "TU") and below (transport) only meet here.
 *
 * Outcome meanings, as RFC 3261 gives them to the TU:
 * - a client transaction's timeout (Timer B or F) is treated as a 408 (Request Timeout), §8.1.3.1;
 * - a transport error is treated as a 503 (Service Unavailable), §8.1.3.1;
 * - a server transaction's transport error is reported to the TU, which stops using the flow.
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { Destination, Flow } from '../transport/flow.ts'

/** RFC 3261 §17.1.1.2 / §17.1.2.2 / §17.2.1 / §17.2.2 state names, plus RFC 6026 Accepted. */
export type TransactionState =
  | 'Calling' | 'Trying' | 'Proceeding' | 'Accepted' | 'Completed' | 'Confirmed' | 'Terminated'

/** Timer base values in milliseconds (RFC 3261 §17.1.1.1, Table 4). */
export interface TimerValues {
  /** RTT estimate, default 500 ms. */
  T1: number
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4000 ms. */
  T2: number
  /** Maximum duration a message remains in the network, default 5000 ms. */
  T4: number
}

export const DEFAULT_TIMERS: TimerValues = { T1: 500, T2: 4000, T4: 5000 }

/** A server transaction as the TU sees it (§17.2). */
export interface ServerTransaction {
  /** Matching key (§17.2.3): branch + sent-by + method (ACK counts as INVITE). */
  readonly key: string
  /** The request's method. */
  readonly method: string
  /**
   * The request, until the final response is sent; null from then on. A lingering
   * transaction (Completed, Accepted, Confirmed) answers retransmissions from its key and the
   * serialized final response alone, so that memory does not grow with parsed messages.
   * A TU that needs the request later keeps its own reference.
   */
  readonly request: SipRequest | null
  /** The flow the request arrived on; responses go back over it (§18.2.2). */
  readonly flow: Flow
  readonly state: TransactionState
  /**
   * Sends a response through the transaction: 1xx moves to Proceeding; a final response to
   * Completed (INVITE non-2xx: Timer G retransmits over UDP until ACK, Timer H gives up) or,
   * for an INVITE 2xx, to Accepted (RFC 6026 §8.7, Timer L) / Terminated.
   * Responding in Completed/Terminated is ignored (returns false).
   */
  respond(response: SipResponse): boolean
  /** Status of the final response sent; 0 before one is. */
  readonly finalStatus: number
  /** Drops the transaction at once (timers cleared, no response sent): for requests the TU will never answer. */
  terminate(): void
}

/** What a client transaction reports back to whoever started it. */
export interface ClientTransactionHandler {
  /**
   * Every response that the transaction passes up: provisional ones, the first final one,
   * and, for INVITE, retransmitted 2xx responses in Accepted (RFC 6026 §8.4) — the proxy
   * forwards those statelessly.
   */
  onResponse(response: SipResponse, tx: ClientTransaction): void
  /** Timer B (INVITE) or Timer F (non-INVITE) fired: treat as 408 (§8.1.3.1). */
  onTimeout(tx: ClientTransaction): void
  /** The request could not be sent: treat as 503 (§8.1.3.1). */
  onTransportError(tx: ClientTransaction): void
}

/** A client transaction as its starter sees it (§17.1). */
export interface ClientTransaction {
  readonly key: string
  /** The request's method. */
  readonly method: string
  /**
   * The request, until a final response arrives; null from then on (Completed and Accepted
   * keep only what they need: the key, an INVITE's ACK as bytes, the handler for RFC 6026
   * 2xx retransmissions). A TU that needs the request later keeps its own reference.
   */
  readonly request: SipRequest | null
  readonly destination: Destination
  readonly state: TransactionState
  /** The flow actually used (after connect), once known. */
  readonly flow: Flow | null
  /** Stops retransmissions and timers at once and forgets the transaction (used after CANCEL's 487 chain, or shutdown). */
  terminate(): void
}

/**
 * The core above the transaction layer (§17: the TU): registrar, proxy, the gateway's own UAS.
 */
export interface TransactionUser {
  /**
   * A request that created a new server transaction (§17.2.3: no match). `tx` is null for an
   * ACK that matched no INVITE server transaction (the ACK for a 2xx, which is end to end,
   * §17.1.1.3), and for CANCEL the TU finds the INVITE's transaction with
   * `TransactionLayer.findInviteServerTransaction` (§9.2).
   */
  onRequest(request: SipRequest, tx: ServerTransaction | null, flow: Flow): void
  /**
   * A response that matched no client transaction (§17.1.3). A stateful proxy forwards
   * 2xx responses to INVITE statelessly (§16.7 item 7 / RFC 6026) and drops others.
   */
  onStrayResponse(response: SipResponse, flow: Flow): void
  /**
   * Optional: a server transaction failed — Timer H fired without an ACK (§17.2.1: "MUST
   * indicate to the TU that a transaction failure has occurred") or a response could not be
   * sent (§17.2.4). The transaction is already Terminated.
   */
  onServerTransactionFailure?(tx: ServerTransaction, cause: 'timer-h' | 'transport-error'): void
}

/**
 * The part of the transaction layer (RFC 3261 §17) the proxy and its anchored-call tracker
 * use: start a client transaction, find the INVITE server transaction a CANCEL names (§9.2).
 */
import type { SipRequest } from '../message/sip-message.ts'
import type { ClientTransaction, ClientTransactionHandler, ServerTransaction } from '../transaction/transaction-user.ts'
import type { Destination } from '../transport/flow.ts'

export interface ProxyTransactions {
  sendRequest(request: SipRequest, destination: Destination, handler: ClientTransactionHandler): ClientTransaction
  findInviteServerTransaction(cancel: SipRequest): ServerTransaction | undefined
}

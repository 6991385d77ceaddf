/**
 * The seam the transport layer offers to the transaction layer above it (RFC 3261 §17 -> §18):
 * send a message to a destination, and find where a response goes (§18.2.2).
 * Declared here, below the transaction layer, so that imports point down.
 */
import type { SipMessage, SipRequest } from '../message/sip-message.ts'
import type { Destination, Flow } from './flow.ts'

/** What the transaction layer needs from the transport below it. */
export interface TransportSender {
  /**
   * Serializes and sends a message. Returns the flow used, or null on a transport error.
   * For UDP retransmissions the transaction layer calls this again with the same destination.
   */
  send(message: SipMessage, destination: Destination): Flow | null
  /**
   * Sends bytes that `serializeMessage` produced earlier (a retransmission from a transaction
   * that kept only the serialized message). Returns the flow used, or null on a transport error.
   */
  sendSerialized(data: Uint8Array, destination: Destination): Flow | null
  /**
   * Where a response to `request` (received on `flow`) goes, by RFC 3261 §18.2.2 and
   * RFC 3581 (rport): the same connection for reliable transports, else received:rport.
   */
  responseDestination(request: SipRequest, flow: Flow): Destination
}

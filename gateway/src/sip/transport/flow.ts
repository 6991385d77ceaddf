/**
 * Transport-neutral view of a connection or socket the gateway exchanges SIP over.
 *
 * A Flow is what RFC 5626 §3 and RFC 7118 §5 call a flow: for connection-oriented transports
 * (TCP, TLS, WS, WSS) one connection; for UDP the pair (local socket, remote address:port).
 * Responses and requests for a WebSocket client must go back over its own Flow, because its
 * Via/Contact host is a `.invalid` name that is never resolved (RFC 7118 §5.2).
 */

/** Transport tokens as they appear in Via (RFC 3261 §20.42, RFC 7118 §5.1). */
export type TransportProtocol = 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS'

export interface Flow {
  /** Unique for the process lifetime, e.g. "ws-17", "tcp-3", "udp-127.0.0.1:5062". */
  readonly id: string
  readonly transport: TransportProtocol
  /** True for TCP/TLS/WS/WSS: no retransmissions of requests, Timer E/G/A not used (§17). */
  readonly reliable: boolean
  /** True when the peer reached the gateway over TLS or WSS (RFC 3261 §26.2, sips:). */
  readonly secure: boolean
  readonly localAddress: string
  readonly localPort: number
  readonly remoteAddress: string
  readonly remotePort: number
  /** False once the connection closed (always true for UDP). */
  readonly open: boolean
  /**
   * The user this flow speaks for, already authenticated another way: set only on flows the
   * gateway makes itself for a JSON signaling session (its HMAC login, docs/json-signaling.md).
   * That user's requests over the flow need no digest challenge; anyone else's still do.
   */
  readonly authenticatedUser?: string
  /**
   * Sends one complete SIP message. Returns false if the flow is closed or the send failed;
   * the transaction layer maps that to a transport error (RFC 3261 §8.1.3.1: 503).
   */
  send(data: Uint8Array): boolean
  /** Closes a connection-oriented flow (no-op for UDP). */
  close(): void
}

/** Where to send a message: an existing flow, or a transport + address to open/use one. */
export interface Destination {
  transport: TransportProtocol
  /** Resolved IP address (IPv4 dotted or IPv6 without brackets). */
  address: string
  port: number
  /** Prefer this flow when it is open (connection reuse, RFC 5923 / RFC 7118). */
  flow?: Flow
}

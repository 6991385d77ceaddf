/**
 * What the proxy asks of DNS (RFC 3263 §4): the ordered list of next hops for a SIP or SIPS
 * URI. `ServerLocator` (`server-locator.ts`) is the real one; tests of the proxy give a fake.
 *
 * Failover is the caller's job (RFC 3263 §4.3): it tries the first server and moves to the
 * next on a 503, a timeout or a transport error. The list is therefore complete and ordered:
 * NAPTR order/preference, then SRV priority and weighted order (RFC 2782), then each target's
 * addresses.
 */
import type { SipUri } from '../syntax/types.ts'
import type { Destination } from '../transport/flow.ts'

/** The transports RFC 3263 locates servers for (NAPTR SIP+D2U, SIP+D2T, SIPS+D2T). */
export type LocatedTransport = 'UDP' | 'TCP' | 'TLS'

/** One next hop to try. */
export interface LocatedServer {
  transport: LocatedTransport
  /** IP address (IPv4 dotted, IPv6 without brackets). */
  address: string
  port: number
  /** The SRV target name the address came from, or the URI's host (maddr) when no SRV was used. */
  target: string
  /** SRV priority (RFC 2782), when an SRV record gave this server. */
  priority?: number
  /** SRV weight (RFC 2782), when an SRV record gave this server. */
  weight?: number
}

/** A located URI: the servers in order, and why the list is empty when it is. */
export interface ServerLocation {
  servers: LocatedServer[]
  /** Null when servers were found; else e.g. "NAPTR example.com: ETIMEOUT" or "no A record for x". */
  reason: string | null
  /** The look-ups made and what each gave, in order (for logs and `route explain`). */
  steps: string[]
}

/** The RFC 3263 server locator as the proxy sees it. Neither method rejects. */
export interface DnsLocator {
  /** The next hops for `uri`, in the order to try them; empty when none could be found. */
  locate(uri: SipUri): Promise<LocatedServer[]>
  /** Like `locate`, with the reason for an empty list and the look-ups made. */
  resolve(uri: SipUri): Promise<ServerLocation>
}

/** The transport-layer destination for a located server (RFC 3261 §18.1.1). */
export function toDestination(server: LocatedServer): Destination {
  return { transport: server.transport, address: server.address, port: server.port }
}

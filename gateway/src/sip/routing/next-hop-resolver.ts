/**
 * Where a request goes next, once the pipeline knows *what* it targets (RFC 3261 §16.5 /
 * §16.6 item 6, RFC 3263 §4): a registered binding (over its flow, RFC 5626 §7 / RFC 7118
 * §5, or at its address), a dialog peer's Contact, or a SIP URI outside the gateway.
 *
 * RFC 3263 is not complete here yet: URIs must carry an IP address (or `localhost`); NAPTR,
 * SRV and A/AAAA look-ups for host names belong in this module when they come.
 */
import type { HeaderField, SipUri } from '../syntax/types.ts'
import { parseNameAddr } from '../syntax/name-addr.ts'
import { parseUri } from '../syntax/uri.ts'
import type { Destination, Flow } from '../transport/flow.ts'
import { uriTransport } from '../proxy/record-route.ts'
import type { Binding } from '../registrar/binding.ts'
import type { LocationService } from '../registrar/location-service.ts'

export interface NextHopResolverOptions {
  /** An open flow by id (TransportLayer.flow). */
  flow(id: string): Flow | undefined
  location: LocationService
}

/** Resolves targets to destinations; see the file comment. */
export class NextHopResolver {
  constructor(private readonly o: NextHopResolverOptions) {}

  /**
   * Where a binding is reached: over its flow when it registered over a connection (RFC 5626
   * §7, RFC 7118 §5); else at its Contact's address — unless the Contact cannot be reached as
   * written (a `.invalid` or other name, or an IP other than the one the REGISTER came from:
   * the phone is behind NAT, Kamailio's nat_uac_test 1), in which case at the source address
   * and port the REGISTER came from (symmetric signalling, RFC 3581 style).
   * Returns null when the binding cannot be reached (its WebSocket is gone).
   */
  binding(b: Binding): Destination | null {
    if (b.nodeRoute !== undefined) {
      // Held by another node (store.redis): through that node, which forwards over the flow.
      const na = parseNameAddr(b.nodeRoute)
      return na ? this.uri(na.uri) : null
    }
    if (b.flowId !== null) {
      const f = this.o.flow(b.flowId)
      if (f) return { transport: f.transport, address: f.remoteAddress, port: f.remotePort, flow: f }
      if (b.transport === 'WS' || b.transport === 'WSS') return null
    }
    const uri = parseUri(b.contact)
    if (uri === null) return null
    const direct = this.uri(uri)
    if (b.transport === 'UDP' && (direct === null || direct.address !== b.sourceAddress)) {
      return { transport: 'UDP', address: b.sourceAddress, port: b.sourcePort }
    }
    return direct
  }

  /**
   * Header fields a request to binding `b` carries: the Route through the node that holds its
   * connection (`Binding.nodeRoute`, RFC 3327 Path semantics), else none.
   */
  bindingHeaders(b: Binding): HeaderField[] | undefined {
    return b.nodeRoute === undefined ? undefined : [{ name: 'route', value: b.nodeRoute }]
  }

  /**
   * A Request-URI of a dialog peer (`text` as on the wire): its binding's flow when the host
   * is `.invalid` or the transport is WS/WSS (browsers, design trap: never by DNS of that host).
   */
  contact(uri: SipUri, text: string): Destination | null {
    if (uri.host.endsWith('.invalid') || uriTransport(uri) === 'WS' || uriTransport(uri) === 'WSS') {
      for (const b of this.o.location.all()) {
        if (b.contact === text || sameContact(b.contact, uri)) return this.binding(b)
      }
      return null
    }
    return this.uri(uri)
  }

  /**
   * RFC 3263 without DNS: the transport from the URI, its IP host (names are not resolved
   * yet), the port or the transport's default (5060, 5061 for TLS). Null for other schemes,
   * WS/WSS (browsers cannot be dialled) and host names.
   */
  uri(uri: SipUri): Destination | null {
    if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return null
    const transport = uriTransport(uri)
    if (transport === 'WS' || transport === 'WSS') return null
    let host = uri.host
    if (host === 'localhost') host = '127.0.0.1'
    if (host.charCodeAt(0) === 91) host = host.slice(1, -1)
    else if (!isIpv4(host)) return null
    const port = uri.port ?? (transport === 'TLS' ? 5061 : 5060)
    return { transport, address: host, port }
  }
}

function sameContact(contact: string, uri: SipUri): boolean {
  const c = parseUri(contact)
  return c !== null && c.host === uri.host && c.user === uri.user && c.port === uri.port
}

function isIpv4(host: string): boolean {
  let dots = 0
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i)
    if (c === 46) dots++
    else if (c < 48 || c > 57) return false
  }
  return dots === 3
}

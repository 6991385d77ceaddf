/**
 * Record-Route and Route handling for the stateful proxy (RFC 3261 §16.6 item 4, §16.12,
 * RFC 5658 double Record-Route).
 *
 * The gateway always inserts two Record-Route entries: one facing the leg the request goes
 * out on (top), one facing the leg it came in on. Each entry names the transport of its leg
 * and, for connection-oriented legs (WS, TCP, TLS), the flow id in a `pb-flow` URI parameter,
 * so that an in-dialog request can be sent back over the right WebSocket even though the
 * browser's Contact host is an unresolvable `.invalid` name (RFC 7118 §5.2, docs/architecture.md §5).
 *
 * RFC 5658 §4: "a proxy [...] that receives a request on one interface and sends it on
 * another [...] inserts two Record-Route header field values: the first one identifying the
 * outbound interface and the second one identifying the inbound interface."
 */
import type { SipUri } from '../syntax/types.ts'
import type { Flow, TransportProtocol } from '../transport/flow.ts'
import type { SentBy } from '../transport/transport-layer.ts'

/** URI parameter carrying the flow id of the leg a Record-Route entry faces. */
export const FLOW_PARAM = 'pb-flow'

/** URI parameter carrying the From tag of the dialog-creating request (Kamailio's rr `ftag`). */
export const FTAG_PARAM = 'ftag'

/**
 * The Record-Route value for one leg: `<sip:host:port;transport=ws;lr;pb-flow=ws-3;ftag=a1b2>`.
 * @param sentBy our host and port for that leg's transport
 * @param transport the leg's transport (UDP is written without a transport parameter)
 * @param flow the leg's flow when connection-oriented (its id goes into pb-flow)
 * @param ftag the caller's From tag (token characters), or null: an in-dialog request whose
 *   From tag equals it comes from the caller ("downstream"), else from the callee
 */
export function recordRouteValue(sentBy: SentBy, transport: TransportProtocol, flow: Flow | null, ftag: string | null = null): string {
  const scheme = transport === 'TLS' || transport === 'WSS' ? 'sips' : 'sip'
  let v = `<${scheme}:${sentBy.host}:${sentBy.port}`
  if (transport !== 'UDP') v += `;transport=${transport.toLowerCase()}`
  v += ';lr'
  if (flow !== null && flow.reliable) v += `;${FLOW_PARAM}=${flow.id}`
  if (ftag !== null && ftag !== '' && isToken(ftag)) v += `;${FTAG_PARAM}=${ftag}`
  return v + '>'
}

/** RFC 3261 §25.1 token characters (a tag is a token; anything else is left out of the URI). */
function isToken(s: string): boolean {
  return /^[A-Za-z0-9\-.!%*_+`'~]+$/.test(s)
}

/** The transport a SIP URI asks for (RFC 3263 §4.1 without DNS: transport param, sips -> TLS). */
export function uriTransport(uri: SipUri): TransportProtocol {
  const t = uri.params.transport
  if (t) {
    const u = t.toUpperCase()
    if (u === 'TCP' || u === 'TLS' || u === 'WS' || u === 'WSS' || u === 'UDP') {
      if (uri.scheme === 'sips' && u === 'TCP') return 'TLS'
      if (uri.scheme === 'sips' && u === 'WS') return 'WSS'
      return u
    }
  }
  return uri.scheme === 'sips' ? 'TLS' : 'UDP'
}

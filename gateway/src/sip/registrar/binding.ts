/**
 * A binding of the location service (RFC 3261 §10, RFC 5626 §6): one contact address bound
 * to one address-of-record, with the Call-ID/CSeq that last wrote it and the flow it came over.
 *
 * RFC 5626 §6 updates what identifies a binding:
 *
 * > When a "+sip.instance" Contact header field parameter and a "reg-id" Contact header field
 * > parameter are present in a Contact header field of a REGISTER request (after the Contact
 * > header validation as described above), the corresponding binding is between an AOR and the
 * > combination of the instance-id (from the "+sip.instance" Contact header parameter) and the
 * > value of "reg-id" Contact header field parameter parameter.
 *
 * `bindingKey` turns that into one string per binding (the store's row key).
 */
import type { SipUri } from '../syntax/types.ts'

export interface Binding {
  /** Normalized AOR key, "sip:user@domain" (see aorKey). */
  aor: string
  /** The contact URI as text (serializeUri output, URI parameters kept, no header params). */
  contact: string
  /** Preference 0..1 from the Contact `q` parameter; 1 when absent (RFC 3261 §10.2.1.2). */
  q: number
  /** Unix seconds at which the binding lapses (registration time + granted expires). */
  expiresAt: number
  /** Call-ID of the REGISTER that last wrote the binding (§10.3 step 7). */
  callId: string
  /** CSeq number of that REGISTER. */
  cseq: number
  /** RFC 5626 instance-id, normalized by normalizeInstanceId ("urn:uuid:..."), or null. */
  instanceId: string | null
  /** RFC 5626 reg-id (1..2^31-1) when outbound processing applied, else null. */
  regId: number | null
  /** Flow.id of the connection the REGISTER came over, for WS/WSS/TCP/TLS first-hop flows
   *  (requests to this contact go back over it, RFC 5626 §7 / RFC 7118 §5); null for UDP. */
  flowId: string | null
  /** Transport token of that flow: 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS'. */
  transport: string
  /** Remote address and port the REGISTER came from (the flow's remote end). */
  sourceAddress: string
  sourcePort: number
  /** User-Agent header of the REGISTER, if any. */
  userAgent: string | null
  /** Path header values of the REGISTER in order (RFC 3327 §5.3 path vector). */
  path: string[]
  /** Unix seconds when the binding was first created (kept across refreshes). */
  registeredAt: number
  /**
   * The gateway node holding this binding's flow, when that is another node sharing the
   * location store (store.redis; its `flowId` is then `<node>/<flow id there>`, which no local
   * flow has). Absent for bindings registered at this node.
   */
  node?: string
  /**
   * For a binding of another node over a connection (`node` set): the Route that reaches it
   * through that node, `<sip:node-host:port;lr;pb-flow=ws-3>` (RFC 3327 Path semantics: the
   * node that holds the flow is on the way to the contact).
   */
  nodeRoute?: string
}

/** Transports whose flows are connections: a binding over them dies with the connection. */
export const CONNECTION_TRANSPORTS: ReadonlySet<string> = new Set(['TCP', 'TLS', 'WS', 'WSS'])

/**
 * The identity of a binding inside its AOR, as one string:
 * - `o:<instance> <reg-id>` for an RFC 5626 outbound binding (instance-id + reg-id),
 * - `i:<instance>` for an instance-id without reg-id (RFC 5627 style),
 * - `c:<contact>` otherwise (the contact URI text).
 * Used as the persistent row key together with the AOR.
 */
export function bindingKey(b: Pick<Binding, 'contact' | 'instanceId' | 'regId'>): string {
  if (b.instanceId !== null) return b.regId !== null ? `o:${b.instanceId} ${b.regId}` : `i:${b.instanceId}`
  return `c:${b.contact}`
}

/**
 * Normalizes a `+sip.instance` value as it appears on the wire (`"<urn:uuid:F81D...>"`) to
 * `urn:uuid:f81d...`: quotes and angle brackets removed; a uuid URN lower-cased (RFC 4122 §3:
 * UUID hex digits compare case-insensitively; the "urn" and NID are case-insensitive, RFC 8141).
 * Returns null for an empty or flag-only value.
 */
export function normalizeInstanceId(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null
  let v = raw.trim()
  if (v.length >= 2 && v.charCodeAt(0) === 34 /* " */ && v.charCodeAt(v.length - 1) === 34) {
    v = v.slice(1, -1).replace(/\\(.)/g, '$1').trim()
  }
  if (v.length >= 2 && v.charCodeAt(0) === 60 /* < */ && v.charCodeAt(v.length - 1) === 62 /* > */) {
    v = v.slice(1, -1).trim()
  }
  if (v.length === 0) return null
  if (v.length > 9 && v.slice(0, 9).toLowerCase() === 'urn:uuid:') return v.toLowerCase()
  return v
}

/** The instance-id as it goes back on the wire in a Contact parameter: `"<urn:uuid:...>"`. */
export function instanceParam(instanceId: string): string {
  return `"<${instanceId}>"`
}

const RESERVED = ';/?:@&=+$,'

/**
 * Resolves %HH escapes of characters outside RFC 2396's "reserved" set and upper-cases the hex
 * of the escapes that stay, so that two spellings of one user/param compare equal (§19.1.4).
 */
function normalizeEscapes(s: string): string {
  if (s.indexOf('%') < 0) return s
  return s.replace(/%([0-9a-fA-F]{2})/g, (m, hex: string) => {
    const c = String.fromCharCode(parseInt(hex, 16))
    return RESERVED.includes(c) || c === '%' ? m.toUpperCase() : c
  })
}

const NEVER_IGNORED_PARAMS = ['transport', 'user', 'ttl', 'method', 'maddr'] as const

/**
 * SIP/SIPS URI equivalence of RFC 3261 §19.1.4, used to find the existing binding of a contact
 * (§10.3 step 7: "the registrar then searches the list of current bindings using the URI
 * comparison rules"). Non-sip URIs compare by scheme and opaque text.
 *
 * > o  A SIP and SIPS URI are never equivalent.
 * > o  Comparison of the userinfo of SIP and SIPS URIs is case-sensitive. [...] Comparison of
 * >    all other components of the URI is case-insensitive unless explicitly defined otherwise.
 * > o  Characters other than those in the "reserved" set (see RFC 2396 [5]) are equivalent to
 * >    their ""%" HEX HEX" encoding.
 * > o  For two URIs to be equal, the user, password, host, and port components must match.
 * >    [...] A URI omitting any component with a default value will not match a URI explicitly
 * >    containing that component with its default value. [...] The same is true for the
 * >    transport-parameter, ttl-parameter, user-parameter, and method components.
 * > o  URI uri-parameter components are compared as follows:
 * >    -  Any uri-parameter appearing in both URIs must match.
 * >    -  A user, ttl, or method uri-parameter appearing in only one URI never matches, even if
 * >       it contains the default value.
 * >    -  A URI that includes an maddr parameter will not match a URI that contains no maddr
 * >       parameter.
 * >    -  All other uri-parameters appearing in only one URI are ignored when comparing the URIs.
 * > o  URI header components are never ignored.  Any present header component MUST be present
 * >    in both URIs and match for the URIs to match.
 */
export function sipUrisEquivalent(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false
  if (a.scheme !== 'sip' && a.scheme !== 'sips') {
    return a.opaque === b.opaque && a.user === b.user && a.host === b.host
  }
  if (a.host.toLowerCase() !== b.host.toLowerCase() || a.port !== b.port) return false
  if ((a.user === null) !== (b.user === null)) return false
  if (a.user !== null && normalizeEscapes(a.user) !== normalizeEscapes(b.user!)) return false
  if ((a.password === null) !== (b.password === null)) return false
  if (a.password !== null && normalizeEscapes(a.password) !== normalizeEscapes(b.password!)) return false
  const ap = a.params
  const bp = b.params
  for (const name of NEVER_IGNORED_PARAMS) {
    if ((name in ap) !== (name in bp)) return false
  }
  for (const name in ap) {
    if (!(name in bp)) continue
    const av = ap[name]
    const bv = bp[name]
    if (av === null || bv === null) {
      if (av !== bv) return false
    } else if (normalizeEscapes(av).toLowerCase() !== normalizeEscapes(bv).toLowerCase()) {
      return false
    }
  }
  const ah = Object.keys(a.headers)
  const bh = Object.keys(b.headers)
  if (ah.length !== bh.length) return false
  if (ah.length > 0) {
    const bl = new Map<string, string>()
    for (const k of bh) bl.set(k.toLowerCase(), normalizeEscapes(b.headers[k]!))
    for (const k of ah) {
      const v = bl.get(k.toLowerCase())
      if (v === undefined || v !== normalizeEscapes(a.headers[k]!)) return false
    }
  }
  return true
}

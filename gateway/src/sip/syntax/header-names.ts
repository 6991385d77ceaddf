/**
 * Header names: compact forms (RFC 3261 §7.3.3 and the IANA registry), canonical
 * lower-case long names used as keys, and the conventional spelling for the wire.
 */

/** Compact form (single letter, lower-case) -> canonical lower-case long name. */
export const COMPACT_FORMS: Readonly<Record<string, string>> = {
  a: 'accept-contact',
  b: 'referred-by',
  c: 'content-type',
  d: 'request-disposition',
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact',
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info',
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
}

const WIRE_SPELLING: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  'sip-etag': 'SIP-ETag',
  'sip-if-match': 'SIP-If-Match',
  'rack': 'RAck',
  'rseq': 'RSeq',
  'p-asserted-identity': 'P-Asserted-Identity',
  'p-preferred-identity': 'P-Preferred-Identity',
}

/**
 * Canonical key for a header name as read from the wire: lower-cased, compact forms expanded.
 * @example canonicalHeaderName('v') === 'via'; canonicalHeaderName('Call-ID') === 'call-id'
 */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase()
  if (lower.length === 1) return COMPACT_FORMS[lower] ?? lower
  return lower
}

const spellingCache = new Map<string, string>()

/**
 * The conventional wire spelling of a canonical header name ('call-id' -> 'Call-ID',
 * 'record-route' -> 'Record-Route'). Header names are case-insensitive (§7.3.1); this is
 * only for readable output.
 */
export function wireHeaderName(canonical: string): string {
  let s = spellingCache.get(canonical)
  if (s !== undefined) return s
  s = WIRE_SPELLING[canonical] ??
    canonical.split('-').map((p) => (p.length ? p[0]!.toUpperCase() + p.slice(1) : p)).join('-')
  spellingCache.set(canonical, s)
  return s
}

/**
 * Headers whose values are comma-separated lists (RFC 3261 §7.3.1) that the parser splits
 * into one HeaderField per value, so that the proxy can add or remove one Via or Route
 * without rewriting a line. Other headers keep the line as it came.
 */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  'via', 'route', 'record-route', 'contact', 'path', 'service-route',
])

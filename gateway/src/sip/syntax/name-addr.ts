/**
 * name-addr / addr-spec with header parameters: the value of From, To, Contact, Route,
 * Record-Route, Reply-To, Refer-To, P-Asserted-Identity (RFC 3261 §20.10, §25.1):
 *
 * > name-addr      =  [ display-name ] LAQUOT addr-spec RAQUOT
 * > addr-spec      =  SIP-URI / SIPS-URI / absoluteURI
 * > display-name   =  *(token LWS)/ quoted-string
 * > LAQUOT  =  SWS "<"; RAQUOT  =  ">" SWS
 *
 * > The Contact, From, and To header fields contain a URI.  If the URI contains a comma,
 * > question mark or semicolon, the URI MUST be enclosed in angle brackets (< and >).  Any
 * > URI parameters are contained within these brackets.  If the URI is not enclosed in angle
 * > brackets, any semicolon-delimited parameters are header-parameters, not URI parameters.
 * > (RFC 3261 §20)
 *
 * Choices where RFC 4475 lets a receiver pick:
 * - lwsdisp: a token display name directly followed by "<" (`caller<sip:...>`) is accepted.
 * - badaspec: LWS inside the angle brackets (`< sip:x@y >`) is rejected.
 * - regbadct: an addr-spec without brackets that contains "?" is rejected.
 * - baddn: a display name with non-token characters must be quoted, else rejected.
 */
import type { NameAddr, Params, SipUri } from './types.ts'
import { CHAR_CLASS, C_TOKEN, C_WS, parseHeaderParams, parseUri, scanQuoted } from './uri.ts'

/** Resolves quoted-pairs (`\"` -> `"`, `\\` -> `\`) in the inside of a quoted-string. */
export function unquoteString(inner: string): string {
  if (inner.indexOf('\\') < 0) return inner
  let out = ''
  let from = 0
  for (let i = 0; i < inner.length; i++) {
    if (inner.charCodeAt(i) === 92 && i + 1 < inner.length) {
      out += inner.slice(from, i)
      from = i + 1
      i++ // the escaped char is kept as-is by the next slice
    }
  }
  return out + inner.slice(from)
}

/**
 * Parses a name-addr or addr-spec with header parameters, e.g.
 * `"Alice \"A\"" <sip:alice@example.com>;tag=1928301774`, `Bob <sip:bob@b.example>`,
 * `sip:carol@c.example;tag=x` (addr-spec: `tag` is a header parameter).
 *
 * `displayName` has the quotes removed and quoted-pairs resolved, null when absent (a
 * token display name keeps its inner spacing, trimmed). The Contact value `*` is not a
 * name-addr: the caller checks it first.
 * @returns the parsed value, or null on any syntax error.
 */
export function parseNameAddr(value: string): NameAddr | null {
  let i = 0
  let end = value.length
  while (i < end && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9)) i++
  while (end > i && (value.charCodeAt(end - 1) === 32 || value.charCodeAt(end - 1) === 9)) end--
  if (i >= end) return null
  const c0 = value.charCodeAt(i)
  let displayName: string | null = null
  let lt: number
  if (c0 === 34) {
    // quoted-string display name
    const q = scanQuoted(value, i, end)
    if (q < 0) return null // quotbal: unterminated quoted string
    displayName = unquoteString(value.slice(i + 1, q - 1))
    lt = q
    while (lt < end && (value.charCodeAt(lt) === 32 || value.charCodeAt(lt) === 9)) lt++
    if (lt >= end || value.charCodeAt(lt) !== 60) return null
  } else if (c0 === 60) {
    lt = i
  } else {
    lt = value.indexOf('<', i)
    if (lt < 0 || lt >= end) return parseAddrSpec(value, i, end)
    // display-name = *(token LWS): tokens and white space only (baddn rejects "Bell, Alexander").
    let de = i
    for (let k = i; k < lt; k++) {
      const c = value.charCodeAt(k)
      if (c >= 128 || (CHAR_CLASS[c]! & (C_TOKEN | C_WS)) === 0) return null
      if ((CHAR_CLASS[c]! & C_WS) === 0) de = k + 1
    }
    displayName = value.slice(i, de)
  }
  const gt = value.indexOf('>', lt + 1)
  if (gt < 0 || gt >= end) return null
  const uri = parseUri(value.slice(lt + 1, gt))
  if (uri === null) return null
  const params: Params = {}
  if (gt + 1 < end && !parseHeaderParams(value, gt + 1, end, params)) return null
  return { displayName, uri, params }
}

function parseAddrSpec(value: string, i: number, end: number): NameAddr | null {
  // The URI runs to the first ";" (header parameters follow) or white space.
  let k = i
  while (k < end) {
    const c = value.charCodeAt(k)
    if (c === 59 || c === 32 || c === 9) break
    // A bare URI containing "?" or "," MUST have been enclosed in <> (regbadct).
    if (c === 63 || c === 44) return null
    k++
  }
  const uri: SipUri | null = parseUri(value.slice(i, k))
  if (uri === null) return null
  const params: Params = {}
  if (k < end && !parseHeaderParams(value, k, end, params)) return null
  return { displayName: null, uri, params }
}

/**
 * SIP, SIPS and tel URI parsing (RFC 3261 §19.1, §25.1; RFC 3966), plus the lexical
 * character classes that the other header parsers of this folder share.
 *
 * Everything here scans with charCodeAt over one string and slices once per component;
 * nothing throws, every failure is `null`.
 */
import type { Params, SipUri } from './types.ts'

// ---------------------------------------------------------------------------------------
// Character classes (RFC 3261 §25.1). One byte of flags per ASCII code; codes >= 128 are in
// no class (non-ASCII must be %-escaped inside URIs, and is only legal in quoted strings,
// reason phrases and unstructured header values).
// ---------------------------------------------------------------------------------------

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
export const C_TOKEN = 1
/** user = 1*( unreserved / escaped / user-unreserved ); user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/" */
export const C_USER = 2
/** password = *( unreserved / escaped / "&" / "=" / "+" / "$" / "," ) */
export const C_PASS = 4
/** hostname / IPv4address characters (alphanum, "-", "."; "_" tolerated as many stacks do). */
export const C_HOST = 8
/** paramchar = param-unreserved / unreserved / escaped; param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$" */
export const C_PARAM = 16
/** hname/hvalue chars: hnv-unreserved / unreserved / escaped; hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$" */
export const C_HDR = 32
/** uric = reserved / unreserved / escaped, plus "[" "]" for IPv6 references. */
export const C_URIC = 64
/** SP / HT (after unfolding, the only LWS left in a header value). */
export const C_WS = 128

/** Flags per ASCII code. Index with a char code < 128 only (check first). */
export const CHAR_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(128)
  const add = (chars: string, flag: number): void => {
    for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)]! |= flag
  }
  let alnum = ''
  for (let c = 48; c <= 57; c++) alnum += String.fromCharCode(c)
  for (let c = 65; c <= 90; c++) alnum += String.fromCharCode(c) + String.fromCharCode(c + 32)
  const mark = "-_.!~*'()"
  const unreserved = alnum + mark
  add(alnum + "-.!%*_+`'~", C_TOKEN)
  add(unreserved + '%' + '&=+$,;?/', C_USER)
  add(unreserved + '%' + '&=+$,', C_PASS)
  add(alnum + '-._', C_HOST)
  add(unreserved + '%' + '[]/:&+$', C_PARAM)
  add(unreserved + '%' + '[]/?:+$', C_HDR)
  add(unreserved + '%' + ';/?:@&=+$,' + '[]', C_URIC)
  add(' \t', C_WS)
  return t
})()

/** True when `c` (a char code) is in class `flag`. */
export function isClass(c: number, flag: number): boolean {
  return c < 128 && (CHAR_CLASS[c]! & flag) !== 0
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 102)
}

function hexVal(c: number): number {
  return c <= 57 ? c - 48 : (c | 0x20) - 87
}

/** Index of the first char at or after `i` (before `end`) that is not SP or HT. */
export function skipWs(s: string, i: number, end: number): number {
  while (i < end) {
    const c = s.charCodeAt(i)
    if (c !== 32 && c !== 9) break
    i++
  }
  return i
}

/** Index of the end of a run of `flag` chars starting at `i` (a "%" must start a %HEXHEX escape); -1 on a bad escape. */
function scanClass(s: string, i: number, end: number, flag: number): number {
  while (i < end) {
    const c = s.charCodeAt(i)
    if (c >= 128 || (CHAR_CLASS[c]! & flag) === 0) break
    if (c === 37) {
      // escaped = "%" HEXDIG HEXDIG
      if (i + 2 >= end) return -1
      if (!isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return -1
      i += 3
      continue
    }
    i++
  }
  return i
}

/** Lower-cases ASCII only when there is an upper-case letter (saves an allocation in the common case). */
export function lowerAscii(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 65 && c <= 90) return s.toLowerCase()
  }
  return s
}

function schemeOf(text: string, end: number): string {
  // Fast paths for the schemes the gateway meets all the time.
  if (end === 3) {
    const a = text.charCodeAt(0) | 0x20
    const b = text.charCodeAt(1) | 0x20
    const c = text.charCodeAt(2) | 0x20
    if (a === 115 && b === 105 && c === 112) return 'sip'
    if (a === 116 && b === 101 && c === 108) return 'tel'
  } else if (end === 4) {
    const a = text.charCodeAt(0) | 0x20
    const b = text.charCodeAt(1) | 0x20
    const c = text.charCodeAt(2) | 0x20
    const d = text.charCodeAt(3) | 0x20
    if (a === 115 && b === 105 && c === 112 && d === 115) return 'sips'
  }
  return text.slice(0, end).toLowerCase()
}

/**
 * Parses uri-parameters starting at `i` (which must be ';' or the end) up to `end`.
 * Returns the index where parsing stopped (the '?' or `end`), or -1 on a syntax error.
 *
 * uri-parameters = *( ";" uri-parameter ); other-param = pname [ "=" pvalue ];
 * pname = 1*paramchar; pvalue = 1*paramchar
 */
function parseUriParams(s: string, i: number, end: number, params: Params): number {
  while (i < end && s.charCodeAt(i) === 59) {
    const ns = i + 1
    const ne = scanClass(s, ns, end, C_PARAM)
    if (ne <= ns) return -1
    let value: string | null = null
    i = ne
    if (i < end && s.charCodeAt(i) === 61) {
      const vs = i + 1
      const ve = scanClass(s, vs, end, C_PARAM)
      if (ve <= vs) return -1
      value = s.slice(vs, ve)
      i = ve
    }
    setParam(params, internParamName(s, ns, ne) ?? lowerAscii(s.slice(ns, ne)), value)
  }
  return i
}

/**
 * Stores a parameter; the first occurrence wins (§7.3.1: "any given parameter-name MUST NOT
 * appear more than once"). "__proto__" is dropped so that a wire name cannot touch the
 * object's prototype.
 */
export function setParam(params: Params, name: string, value: string | null): void {
  if ((params[name] !== undefined && Object.hasOwn(params, name)) || name === '__proto__') return
  params[name] = value
}

/**
 * Builds a matcher that returns the constant lower-case spelling of one of `words` when
 * the text in [start, end) equals it ASCII-case-insensitively, else null. Used for header and
 * parameter names: a hit costs no substring and no hashing, and returns an already-interned
 * string (cheap as an object key).
 */
export function makeInterner(words: readonly string[]): (s: string, start: number, end: number) => string | null {
  const byLength: string[][] = []
  for (const w of words) (byLength[w.length] ??= []).push(w)
  return (s, start, end) => {
    const candidates = byLength[end - start]
    if (candidates === undefined) return null
    next: for (let k = 0; k < candidates.length; k++) {
      const w = candidates[k]!
      for (let j = 0; j < w.length; j++) {
        const a = s.charCodeAt(start + j)
        const b = w.charCodeAt(j)
        if (a !== b && (b < 97 || b > 122 || a !== b - 32)) continue next
      }
      return w
    }
    return null
  }
}

/** Parameter names met in nearly every message (RFC 3261, 3581, 5626, 5627, 3966). */
export const internParamName = makeInterner([
  'tag', 'branch', 'received', 'rport', 'lr', 'transport', 'expires', 'q', 'maddr', 'user', 'ttl',
  'method', 'ob', 'reg-id', '+sip.instance', 'gr', 'phone-context', 'rinstance', 'alias', 'comp',
  'sigcomp-id', 'line', 'pub-gruu', 'temp-gruu', 'isub', 'ext', '+sip.ice', 'duration', 'handling',
])

/** Value chars of a generic-param (token / host, liberally: any visible ASCII but separators). */
function isGenValueChar(c: number): boolean {
  return c > 32 && c < 127 && c !== 59 && c !== 44 && c !== 34 && c !== 60 && c !== 62 && c !== 92
}

/**
 * Index just past the closing quote of the quoted-string that opens at `i`, or -1 when it is
 * not terminated before `end`.
 *
 * quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE;
 * quoted-pair = "\\" (%x00-09 / %x0B-0C / %x0E-7F)
 */
export function scanQuoted(s: string, i: number, end: number): number {
  i++
  while (i < end) {
    const c = s.charCodeAt(i)
    if (c === 34) return i + 1
    if (c === 92) {
      if (i + 1 >= end) return -1
      i += 2
      continue
    }
    i++
  }
  return -1
}

/**
 * Parses header parameters `*( SEMI generic-param )` from `i` to `end` into `params`
 * (RFC 3261 §25.1):
 *
 * > generic-param  =  token [ EQUAL gen-value ]
 * > gen-value      =  token / host / quoted-string
 * > SEMI = SWS ";" SWS ; EQUAL = SWS "=" SWS
 *
 * Names are lower-cased; values kept as on the wire (quoted strings keep their quotes);
 * a flag parameter maps to null. Empty parameters (";;") are errors (RFC 4475 badinv01).
 * @returns false on a syntax error.
 */
export function parseHeaderParams(s: string, i: number, end: number, params: Params): boolean {
  for (;;) {
    i = skipWs(s, i, end)
    if (i >= end) return true
    if (s.charCodeAt(i) !== 59) return false
    i = skipWs(s, i + 1, end)
    const ns = i
    while (i < end) {
      const c = s.charCodeAt(i)
      if (c >= 128 || (CHAR_CLASS[c]! & C_TOKEN) === 0) break
      i++
    }
    if (i === ns) return false
    const ne = i
    i = skipWs(s, i, end)
    let value: string | null = null
    if (i < end && s.charCodeAt(i) === 61) {
      i = skipWs(s, i + 1, end)
      const vs = i
      if (i < end && s.charCodeAt(i) === 34) {
        i = scanQuoted(s, i, end)
        if (i < 0) return false
      } else {
        while (i < end && isGenValueChar(s.charCodeAt(i))) i++
        if (i === vs) return false
      }
      value = s.slice(vs, i)
    }
    setParam(params, internParamName(s, ns, ne) ?? lowerAscii(s.slice(ns, ne)), value)
  }
}

/**
 * Parses one SIP, SIPS, tel or other absolute URI (RFC 3261 §19.1.1, §25.1; RFC 3966).
 *
 * The text must be exactly the URI: no surrounding whitespace, no angle brackets.
 * - sip/sips: `sip:user:password@host:port;uri-params?headers`; `host` is lower-cased,
 *   IPv6 references keep their brackets; user, password, parameter values and headers are
 *   kept as on the wire (escapes not resolved; use {@link unescapeUriComponent}).
 *   The userinfo ends at the first "@" (user may contain ";" and "?", RFC 3261 §19.1.3).
 * - tel: `user` is the telephone-subscriber, `params` its parameters, `host` "".
 * - anything else: `opaque` is everything after "scheme:" (checked to be uric characters).
 *
 * @returns the URI, or null when the text is not a URI of that grammar.
 */
export function parseUri(text: string): SipUri | null {
  const n = text.length
  if (n < 2) return null
  let c = text.charCodeAt(0)
  // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
  if ((c | 0x20) < 97 || (c | 0x20) > 122) return null
  let i = 1
  for (; i < n; i++) {
    c = text.charCodeAt(i)
    if (c === 58) break
    const l = c | 0x20
    if (!((l >= 97 && l <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46)) return null
  }
  if (i >= n) return null
  const scheme = schemeOf(text, i)
  if (scheme === 'sip' || scheme === 'sips') return parseSipUri(text, i + 1, scheme)
  if (scheme === 'tel') return parseTelUri(text, i + 1)
  // absoluteURI = scheme ":" ( hier-part / opaque-part ): kept opaque.
  const start = i + 1
  if (start >= n) return null
  for (let j = start; j < n; j++) {
    const d = text.charCodeAt(j)
    if (d >= 128 || (CHAR_CLASS[d]! & C_URIC) === 0) {
      if (d !== 35) return null // '#' fragment tolerated in opaque URIs
    }
  }
  return { scheme, user: null, password: null, host: '', port: null, params: {}, headers: {}, opaque: text.slice(start) }
}

function parseSipUri(text: string, start: number, scheme: string): SipUri | null {
  const n = text.length
  let user: string | null = null
  let password: string | null = null
  let i = start
  // userinfo = ( user / telephone-subscriber ) [ ":" password ] "@"
  const at = text.indexOf('@', start)
  if (at >= 0) {
    const ue = scanClass(text, start, at, C_USER)
    if (ue <= start) return null
    if (ue < at) {
      if (text.charCodeAt(ue) !== 58) return null
      const pe = scanClass(text, ue + 1, at, C_PASS)
      if (pe !== at) return null
      password = text.slice(ue + 1, at)
    }
    user = text.slice(start, ue)
    i = at + 1
  }
  // hostport = host [ ":" port ]
  let host: string
  if (i < n && text.charCodeAt(i) === 91) {
    // IPv6reference = "[" IPv6address "]"
    const close = text.indexOf(']', i + 1)
    if (close < 0) return null
    for (let j = i + 1; j < close; j++) {
      const d = text.charCodeAt(j)
      if (!(isHex(d) || d === 58 || d === 46)) return null
    }
    if (close === i + 1) return null
    host = lowerAscii(text.slice(i, close + 1))
    i = close + 1
  } else {
    const hs = i
    let upper = false
    while (i < n) {
      const d = text.charCodeAt(i)
      if (d >= 128 || (CHAR_CLASS[d]! & C_HOST) === 0) break
      if (d >= 65 && d <= 90) upper = true
      i++
    }
    if (i === hs) return null
    host = text.slice(hs, i)
    if (upper) host = host.toLowerCase()
  }
  let port: number | null = null
  if (i < n && text.charCodeAt(i) === 58) {
    i++
    const ps = i
    let p = 0
    while (i < n) {
      const d = text.charCodeAt(i)
      if (d < 48 || d > 57) break
      p = p * 10 + (d - 48)
      i++
    }
    if (i === ps || i - ps > 5 || p > 65535) return null
    port = p
  }
  const params: Params = {}
  if (i < n && text.charCodeAt(i) === 59) {
    i = parseUriParams(text, i, n, params)
    if (i < 0) return null
  }
  const headers: Record<string, string> = {}
  if (i < n && text.charCodeAt(i) === 63) {
    // headers = "?" header *( "&" header ); header = hname "=" hvalue
    i++
    for (;;) {
      const ns = i
      const ne = scanClass(text, ns, n, C_HDR)
      if (ne <= ns) return null
      let value = ''
      i = ne
      if (i < n && text.charCodeAt(i) === 61) {
        const ve = scanClass(text, i + 1, n, C_HDR)
        if (ve < 0) return null
        value = text.slice(i + 1, ve)
        i = ve
      }
      headers[text.slice(ns, ne)] = value
      if (i < n && text.charCodeAt(i) === 38) {
        i++
        continue
      }
      break
    }
  }
  if (i !== n) return null
  return { scheme, user, password, host, port, params, headers, opaque: null }
}

function parseTelUri(text: string, start: number): SipUri | null {
  // telephone-subscriber = global-number / local-number, each followed by parameters.
  const n = text.length
  let i = start
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === 59) break
    // phonedigit-hex, visual-separator, "+", "*", "#" and escapes.
    if (c >= 128 || ((CHAR_CLASS[c]! & C_USER) === 0 && c !== 35)) return null
    i++
  }
  if (i === start) return null
  const user = text.slice(start, i)
  const params: Params = {}
  i = parseUriParams(text, i, n, params)
  if (i !== n) return null
  return { scheme: 'tel', user, password: null, host: '', port: null, params, headers: {}, opaque: null }
}

const utf8 = new TextDecoder('utf-8')
const utf8enc = new TextEncoder()

/**
 * Resolves `"%" HEX HEX` escapes (RFC 3261 §19.1.2, RFC 2396 §2.4.1) and decodes the
 * resulting octets as UTF-8 (invalid sequences become U+FFFD). A "%" not followed by two hex
 * digits is kept literally. "%00" becomes U+0000 (escnull: must not truncate).
 * @example unescapeUriComponent('sips%3Auser%40example.com') === 'sips:user@example.com'
 */
export function unescapeUriComponent(s: string): string {
  if (s.indexOf('%') < 0) return s
  const bytes: number[] = []
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 37 && i + 2 < s.length && isHex(s.charCodeAt(i + 1)) && isHex(s.charCodeAt(i + 2))) {
      bytes.push(hexVal(s.charCodeAt(i + 1)) * 16 + hexVal(s.charCodeAt(i + 2)))
      i += 2
    } else if (c < 128) {
      bytes.push(c)
    } else {
      // A non-ASCII char (not legal in a URI, but keep it): re-encode as UTF-8.
      const cp = s.codePointAt(i)!
      const ch = String.fromCodePoint(cp)
      const enc = utf8enc.encode(ch)
      for (let k = 0; k < enc.length; k++) bytes.push(enc[k]!)
      i += ch.length - 1
    }
  }
  return utf8.decode(new Uint8Array(bytes))
}

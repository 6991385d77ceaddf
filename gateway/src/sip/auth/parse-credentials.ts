/**
 * Parser for the value of an Authorization or Proxy-Authorization header field
 * (RFC 3261 §25.1, §22.4; RFC 7616 §3.4):
 *
 * ```
 * Authorization     =  "Authorization" HCOLON credentials
 * credentials       =  ("Digest" LWS digest-response) / other-response
 * digest-response   =  dig-resp *(COMMA dig-resp)
 * other-response    =  auth-scheme LWS auth-param *(COMMA auth-param)
 * auth-param        =  auth-param-name EQUAL ( token / quoted-string )
 * ```
 *
 * Wire input: never throws. Another scheme (RFC 4475 §3.1.2.9 regaut01,
 * `Authorization: NoOneKnowsThisScheme opaque-data=here`) or unreadable syntax gives null,
 * which the authenticator treats as "no credentials for us" (it challenges).
 */

/** Digest credentials. Parameter names lower-cased; values unquoted, escapes resolved. */
export interface DigestCredentials {
  scheme: 'Digest'
  /** Every auth-param (own properties only), including the ones below and unknown ones. */
  params: Readonly<Record<string, string>>
  username?: string
  realm?: string
  nonce?: string
  uri?: string
  response?: string
  algorithm?: string
  cnonce?: string
  opaque?: string
  qop?: string
  nc?: string
}

const Ch = {
  SP: 0x20,
  HTAB: 0x09,
  CR: 0x0d,
  LF: 0x0a,
  COMMA: 0x2c,
  EQUAL: 0x3d,
  DQUOTE: 0x22,
  BACKSLASH: 0x5c,
} as const

/** RFC 3261 §25.1 token characters: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" */
const TOKEN = new Uint8Array(128)
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`\'~') TOKEN[c.charCodeAt(0)] = 1

function isWs(c: number): boolean {
  return c === Ch.SP || c === Ch.HTAB || c === Ch.CR || c === Ch.LF
}

function isToken(c: number): boolean {
  return c < 128 && TOKEN[c] === 1
}

const DIGEST = 'digest'

const KNOWN = ['username', 'realm', 'nonce', 'uri', 'response', 'algorithm', 'cnonce', 'opaque', 'qop', 'nc'] as const

/**
 * Parses `Digest username="..", realm="..", ...` into DigestCredentials.
 * @returns null for any scheme other than Digest (case-insensitive, RFC 7235 §2.1), for
 *   a Digest value whose parameter list is not readable (unterminated quoted-string, a
 *   parameter without `=`), and for a parameter given twice (ambiguous).
 */
export function parseCredentials(value: string): DigestCredentials | null {
  const n = value.length
  let i = 0
  while (i < n && isWs(value.charCodeAt(i))) i++
  // auth-scheme "Digest", case-insensitive, followed by LWS or the end.
  if (n - i < 6) return null
  for (let k = 0; k < 6; k++) {
    if ((value.charCodeAt(i + k) | 0x20) !== DIGEST.charCodeAt(k)) return null
  }
  i += 6
  if (i < n && !isWs(value.charCodeAt(i))) return null

  // A plain object keeps JSC's fast property layout for the usual ~10 parameters; the one
  // name that would reach the prototype is stored with defineProperty instead.
  const params: Record<string, string> = {}
  let nextBackslash = value.indexOf('\\', i)
  for (;;) {
    // Skip LWS and empty list elements (RFC 7230 §7 #rule tolerance: ", ,").
    while (i < n) {
      const c = value.charCodeAt(i)
      if (isWs(c) || c === Ch.COMMA) i++
      else break
    }
    if (i >= n) break

    const nameStart = i
    let upper = false
    while (i < n) {
      const c = value.charCodeAt(i)
      if (!isToken(c)) break
      if (c >= 65 && c <= 90) upper = true
      i++
    }
    if (i === nameStart) return null
    const rawName = value.slice(nameStart, i)
    const name = upper ? rawName.toLowerCase() : rawName
    while (i < n && isWs(value.charCodeAt(i))) i++
    if (i >= n || value.charCodeAt(i) !== Ch.EQUAL) return null
    i++
    while (i < n && isWs(value.charCodeAt(i))) i++
    if (i >= n) return null

    let v: string
    if (value.charCodeAt(i) === Ch.DQUOTE) {
      // quoted-string = SWS DQUOTE *(qdtext / quoted-pair ) DQUOTE
      i++
      const close = value.indexOf('"', i)
      if (close < 0) return null
      if (nextBackslash < 0 || nextBackslash > close) {
        v = value.slice(i, close)
        i = close + 1
      } else {
        // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
        let out = ''
        let runStart = i
        let closed = false
        while (i < n) {
          const c = value.charCodeAt(i)
          if (c === Ch.DQUOTE) {
            out += value.slice(runStart, i)
            i++
            closed = true
            break
          }
          if (c === Ch.BACKSLASH) {
            if (i + 1 >= n) return null
            out += value.slice(runStart, i)
            out += value[i + 1]
            i += 2
            runStart = i
            continue
          }
          i++
        }
        if (!closed) return null
        v = out
        nextBackslash = value.indexOf('\\', i)
      }
    } else {
      // token (lenient: anything up to a comma or LWS, for clients that send an unquoted uri)
      const vStart = i
      while (i < n) {
        const c = value.charCodeAt(i)
        if (c === Ch.COMMA || isWs(c)) break
        i++
      }
      v = value.slice(vStart, i)
    }

    while (i < n && isWs(value.charCodeAt(i))) i++
    if (i < n && value.charCodeAt(i) !== Ch.COMMA) return null
    if (Object.hasOwn(params, name)) return null
    if (name === '__proto__') Object.defineProperty(params, name, { value: v, enumerable: true, writable: true, configurable: true })
    else params[name] = v
  }

  const creds: DigestCredentials = { scheme: 'Digest', params }
  for (let k = 0; k < KNOWN.length; k++) {
    const key = KNOWN[k]!
    if (Object.hasOwn(params, key)) creds[key] = params[key]!
  }
  return creds
}

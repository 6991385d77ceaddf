/**
 * One Via header field value (RFC 3261 §20.42, §25.1):
 *
 * > via-parm          =  sent-protocol LWS sent-by *( SEMI via-params )
 * > sent-protocol     =  protocol-name SLASH protocol-version SLASH transport
 * > sent-by           =  host [ COLON port ]
 * > SLASH = SWS "/" SWS ; COLON = SWS ":" SWS ; SEMI = SWS ";" SWS
 *
 * LWS is allowed around "/", ":", ";" and "=" (RFC 4475 wsinv: `SIP  /   2.0 /UDP`).
 * The message parser splits comma-separated Via lists into one value per field before
 * calling this.
 */
import type { Params, Via } from './types.ts'
import { CHAR_CLASS, C_HOST, C_TOKEN, lowerAscii, parseHeaderParams, skipWs } from './uri.ts'

function scanToken(s: string, i: number, end: number): number {
  while (i < end) {
    const c = s.charCodeAt(i)
    if (c >= 128 || (CHAR_CLASS[c]! & C_TOKEN) === 0) break
    i++
  }
  return i
}

function upperAscii(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 97 && c <= 122) return s.toUpperCase()
  }
  return s
}

/**
 * Parses one Via value such as `SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776;rport`.
 *
 * Only `SIP/2.0` is accepted (case-insensitive, §7.1). The transport is upper-cased (any
 * token: UDP, TCP, TLS, SCTP, WS, WSS or unknown ones, RFC 4475 transports); the sent-by
 * host is lower-cased, IPv6 references keep their brackets; parameter names are
 * lower-cased. `branch` is null when absent (RFC 2543 senders, inv2543).
 * @returns the Via, or null on any syntax error (including empty parameters, badinv01).
 */
export function parseVia(value: string): Via | null {
  const n = value.length
  let i = skipWs(value, 0, n)
  // protocol-name = "SIP" / token
  const pn = i
  i = scanToken(value, i, n)
  if (i - pn !== 3) return null
  if ((value.charCodeAt(pn) | 0x20) !== 115 || (value.charCodeAt(pn + 1) | 0x20) !== 105 || (value.charCodeAt(pn + 2) | 0x20) !== 112) return null
  i = skipWs(value, i, n)
  if (value.charCodeAt(i) !== 47) return null
  i = skipWs(value, i + 1, n)
  // protocol-version = token ("2.0")
  const pv = i
  i = scanToken(value, i, n)
  if (i - pv !== 3 || value.charCodeAt(pv) !== 50 || value.charCodeAt(pv + 1) !== 46 || value.charCodeAt(pv + 2) !== 48) return null
  i = skipWs(value, i, n)
  if (value.charCodeAt(i) !== 47) return null
  i = skipWs(value, i + 1, n)
  const ts = i
  i = scanToken(value, i, n)
  if (i === ts) return null
  const transport = upperAscii(value.slice(ts, i))
  // LWS sent-by: at least one white space.
  const ws = i
  i = skipWs(value, i, n)
  if (i === ws || i >= n) return null
  let host: string
  if (value.charCodeAt(i) === 91) {
    const close = value.indexOf(']', i + 1)
    if (close < 0 || close === i + 1) return null
    for (let j = i + 1; j < close; j++) {
      const d = value.charCodeAt(j)
      const l = d | 0x20
      if (!((d >= 48 && d <= 58) || (l >= 97 && l <= 102) || d === 46)) return null
    }
    host = lowerAscii(value.slice(i, close + 1))
    i = close + 1
  } else {
    const hs = i
    let upper = false
    while (i < n) {
      const c = value.charCodeAt(i)
      if (c >= 128 || (CHAR_CLASS[c]! & C_HOST) === 0) break
      if (c <= 90 && c >= 65) upper = true
      i++
    }
    if (i === hs) return null
    host = value.slice(hs, i)
    if (upper) host = host.toLowerCase()
  }
  let port: number | null = null
  let j = skipWs(value, i, n)
  if (j < n && value.charCodeAt(j) === 58) {
    j = skipWs(value, j + 1, n)
    const ps = j
    let p = 0
    while (j < n) {
      const d = value.charCodeAt(j)
      if (d < 48 || d > 57) break
      p = p * 10 + (d - 48)
      j++
    }
    if (j === ps || j - ps > 5 || p > 65535) return null
    port = p
    i = j
  }
  const params: Params = {}
  if (!parseHeaderParams(value, i, n, params)) return null
  const branch = params.branch
  return { transport, host, port, params, branch: typeof branch === 'string' ? branch : null }
}

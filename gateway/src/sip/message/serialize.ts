/**
 * Serializing SIP messages and header values to the wire (RFC 3261 §7, §19.1, §20, §25).
 *
 * Output is always the canonical form: one header field per line, `Name: value`, CRLF line
 * ends, the conventional name spelling from wireHeaderName(), and a Content-Length computed
 * from the body bytes.
 */
import type { NameAddr, Params, SipUri, Via } from '../syntax/types.ts'
import type { SipMessage } from './sip-message.ts'
import { wireHeaderName } from '../syntax/header-names.ts'

function serializeParams(params: Params): string {
  let s = ''
  for (const k in params) {
    const v = params[k]
    s += v === null || v === undefined ? ';' + k : ';' + k + '=' + v
  }
  return s
}

/**
 * Writes a URI (RFC 3261 §19.1.1 / §25.1): `sip:user:password@host:port;params?headers`,
 * `tel:number;params`, or `scheme:opaque`. Components are written as stored (escapes as
 * on the wire), so parse -> serialize is lossless except for letter case of the host and
 * parameter names, which the parser lower-cases.
 */
export function serializeUri(uri: SipUri): string {
  if (uri.opaque !== null) return uri.scheme + ':' + uri.opaque
  if (uri.scheme === 'tel') return 'tel:' + (uri.user ?? '') + serializeParams(uri.params)
  let s = uri.scheme + ':'
  if (uri.user !== null) {
    s += uri.user
    if (uri.password !== null) s += ':' + uri.password
    s += '@'
  }
  s += uri.host
  if (uri.port !== null) s += ':' + uri.port
  s += serializeParams(uri.params)
  let sep = '?'
  for (const k in uri.headers) {
    s += sep + k + '=' + uri.headers[k]
    sep = '&'
  }
  return s
}

/** Escapes `"` and `\` as quoted-pairs (RFC 3261 §25.1 quoted-string). */
function quote(text: string): string {
  let needs = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 34 || c === 92) {
      needs = true
      break
    }
  }
  return '"' + (needs ? text.replace(/["\\]/g, '\\$&') : text) + '"'
}

/**
 * Writes a name-addr (RFC 3261 §20.10): `"Display" <uri>;param=value`. The URI is always
 * enclosed in angle brackets (always legal, and required when it carries parameters or
 * headers); a display name is always quoted.
 */
export function serializeNameAddr(na: NameAddr): string {
  let s = na.displayName !== null ? quote(na.displayName) + ' <' : '<'
  s += serializeUri(na.uri) + '>'
  return s + serializeParams(na.params)
}

/**
 * Writes a Via value (RFC 3261 §20.42): `SIP/2.0/UDP host:port;branch=...;params`.
 * `via.branch` wins over `via.params.branch` when both are set and differ; a branch only
 * in `via.branch` is appended.
 */
export function serializeVia(via: Via): string {
  let s = 'SIP/2.0/' + via.transport + ' ' + via.host
  if (via.port !== null) s += ':' + via.port
  let branchWritten = false
  for (const k in via.params) {
    let v = via.params[k]
    if (k === 'branch') {
      branchWritten = true
      if (via.branch !== null) v = via.branch
    }
    s += v === null || v === undefined ? ';' + k : ';' + k + '=' + v
  }
  if (!branchWritten && via.branch !== null) s += ';branch=' + via.branch
  return s
}

const encoder = new TextEncoder()

/**
 * Serializes a request or response to bytes (RFC 3261 §7):
 *
 * > generic-message  =  start-line *message-header CRLF [ message-body ]
 * > The start-line, each message-header line, and the empty line MUST be terminated by a
 * > carriage-return line-feed sequence (CRLF).  Note that the empty line MUST be present
 * > even if the message-body is not.
 *
 * Content-Length is always written and always equals `msg.body.length` (§20.14: "If no
 * body is present in a message, then the Content-Length header field value MUST be set to
 * zero"; §18.3: it MUST be present on stream transports). It replaces the first
 * Content-Length field in place (others are dropped), or is appended after the last field.
 * The head is built as one string, encoded once (ASCII fast path straight into the output
 * buffer), then the body bytes are copied after it.
 */
export function serializeMessage(msg: SipMessage): Uint8Array {
  const body = msg.body
  const bodyLen = body.length
  let head = msg.kind === 'request'
    ? msg.method + ' ' + msg.uri + ' SIP/2.0\r\n'
    : 'SIP/2.0 ' + msg.status + ' ' + msg.reason + '\r\n'
  let clWritten = false
  const hs = msg.headers
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!
    if (h.name === 'content-length') {
      if (!clWritten) {
        head += 'Content-Length: ' + bodyLen + '\r\n'
        clWritten = true
      }
      continue
    }
    head += wireHeaderName(h.name) + ': ' + h.value + '\r\n'
  }
  if (!clWritten) head += 'Content-Length: ' + bodyLen + '\r\n'
  head += '\r\n'
  const headLen = head.length
  const out = new Uint8Array(headLen + bodyLen)
  const r = encoder.encodeInto(head, out)
  if (r.read === headLen && r.written === headLen) {
    // All ASCII: the head took exactly one byte per char.
    if (bodyLen > 0) out.set(body, headLen)
    return out
  }
  const headBytes = encoder.encode(head)
  const full = new Uint8Array(headBytes.length + bodyLen)
  full.set(headBytes, 0)
  if (bodyLen > 0) full.set(body, headBytes.length)
  return full
}

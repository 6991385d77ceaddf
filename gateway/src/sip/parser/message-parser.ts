/**
 * The SIP wire parser: bytes -> SipRequest / SipResponse (RFC 3261 §7, §18.3, §20, §25),
 * proven on the RFC 4475 torture corpus (tests/fixtures/rfc4475).
 *
 * Hot path design: the end of the header section is found on the bytes with the native
 * `indexOf(LF)`; the head is decoded once as UTF-8; lines, names and values are found by
 * index scanning (charCodeAt / indexOf) and sliced once; the top Via, From, To and CSeq are
 * parsed once here (they must be valid anyway) and handed to the message with primeCache.
 * The body is a copy of its bytes (the caller may reuse its receive buffer).
 *
 * Never throws: every outcome is a ParseResult. Failures carry the status the RFC says to
 * answer with (400, 505) for requests, or null when nothing can be answered (responses are
 * discarded, garbage is dropped), and the header fields that could be read, so that the
 * transport can build a stateless response (it still needs a readable Via, §18.2.2).
 *
 * Choices where RFC 4475 lets the receiver decide (all documented at the code):
 * - trws: trailing SP/HT at the end of the Request-Line is tolerated.
 * - lwsstart, lwsruri, ltgtruri: rejected with 400 (exactly one SP between elements).
 * - escruri: a sip/sips Request-URI with ?headers is rejected with 400.
 * - scalar02: CSeq > 2^32-1 or Max-Forwards > 255 -> 400. Expires is not checked here
 *   (RFC 4475 §3.1.2.4: an overlarge expiry may be treated as the default; the registrar).
 * - baddate: Date is never interpreted here.
 * - bare LF line ends are accepted as well as CRLF (liberal receiver).
 * - a datagram whose header section is not closed by an empty line (baddn) is read to its end.
 * - a list header line with an empty value is dropped; an empty element inside a non-empty
 *   list (`a,,b`, badinv01) is an error.
 */
import { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { CSeq, HeaderField, NameAddr, SipUri, Via } from '../syntax/types.ts'
import { canonicalHeaderName, LIST_HEADERS } from '../syntax/header-names.ts'
import { parseVia } from '../syntax/via.ts'
import { parseNameAddr } from '../syntax/name-addr.ts'
import { parseCSeq } from '../syntax/cseq.ts'
import { CHAR_CLASS, C_TOKEN, C_URIC, makeInterner, parseUri } from '../syntax/uri.ts'

export type ParseResult =
  /** `consumed` = bytes of this message from the start of `data` (including any CRLFs skipped before the start-line) to the end of its body. */
  | { ok: true; message: SipRequest | SipResponse; consumed: number }
  /** Stream mode only: the header section or the body is not complete yet. */
  | { ok: false; incomplete: true }
  | {
    ok: false
    incomplete?: false
    /** Human-readable cause, for logs and the reason phrase of a 400. */
    reason: string
    /** Status to answer (400, 505) for a bad request; null when nothing can be answered. */
    status: number | null
    kind: 'request' | 'response' | null
    /** Every header field that could be read (canonical names, lists split). */
    headers: HeaderField[]
    method?: string
    uri?: string
    /**
     * Present when the framing was intact: bytes of the bad message, so that a stream
     * transport can answer it and go on with the next one. Absent when the framing itself is
     * broken (bad or missing Content-Length on a stream: the connection must be closed).
     */
    consumed?: number
  }

export interface ParseOptions {
  /**
   * Stream transport (TCP, TLS): Content-Length is required and a message whose header
   * section or body has not fully arrived yields `{ ok: false, incomplete: true }`.
   * Default false: `data` is one datagram (UDP) or one WebSocket message (RFC 7118).
   */
  stream?: boolean
}

type Failure = Extract<ParseResult, { reason: string }>

const INCOMPLETE: ParseResult = Object.freeze({ ok: false, incomplete: true }) as ParseResult
const EMPTY_BODY = new Uint8Array(0)
/** Non-fatal: malformed UTF-8 in a header becomes U+FFFD rather than failing the message. */
const decoder = new TextDecoder('utf-8')
/**
 * Buffer's native UTF-8 slice (`buf.utf8Slice(start, end)`), called on any Uint8Array: the
 * same decoding as `decoder` (malformed sequences become U+FFFD alike) without the
 * `subarray` view that TextDecoder needs; it differs only in keeping a leading BOM, which
 * TextDecoder strips (decodeHead falls back to the decoder for that).
 */
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice?: (this: Uint8Array, start: number, end: number) => string }).utf8Slice

/** The bytes [start, end) of `data` as UTF-8 text, exactly as `decoder.decode(data.subarray(start, end))`. */
function decodeHead(data: Uint8Array, start: number, end: number): string {
  if (utf8Slice === undefined || (end - start >= 3 && data[start] === 0xef && data[start + 1] === 0xbb && data[start + 2] === 0xbf)) {
    return decoder.decode(data.subarray(start, end))
  }
  return utf8Slice.call(data, start, end)
}

/**
 * The methods of RFC 3261 and its extensions as string constants. A method read from the wire
 * is a slice of the decoded head, and a JavaScriptCore slice keeps its whole base string
 * alive: a transaction that remembers `request.method` while it lingers would keep the full
 * header text with it. Known methods are replaced by these constants; others stay slices.
 */
const KNOWN_METHODS = new Map<string, string>(
  ['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE']
    .map((m) => [m, m]),
)

function internMethod(method: string): string {
  return KNOWN_METHODS.get(method) ?? method
}
const encoder = new TextEncoder()

/** Header names met in nearly every message: matched without a substring or a hash. */
const internHeaderName = makeInterner([
  'via', 'from', 'to', 'call-id', 'cseq', 'contact', 'max-forwards', 'content-length', 'content-type',
  'route', 'record-route', 'allow', 'supported', 'user-agent', 'server', 'authorization',
  'proxy-authorization', 'www-authenticate', 'proxy-authenticate', 'authentication-info', 'expires',
  'min-expires', 'accept', 'accept-encoding', 'accept-language', 'subject', 'event', 'allow-events',
  'require', 'proxy-require', 'unsupported', 'date', 'timestamp', 'content-disposition',
  'content-encoding', 'content-language', 'mime-version', 'refer-to', 'referred-by', 'replaces',
  'session-expires', 'min-se', 'rseq', 'rack', 'path', 'service-route', 'p-asserted-identity',
  'p-preferred-identity', 'privacy', 'reason', 'warning', 'organization', 'priority', 'retry-after',
  'call-info', 'alert-info', 'error-info', 'in-reply-to', 'reply-to', 'subscription-state',
  'security-client', 'security-server', 'security-verify', 'x-real-ip',
])

/** Compact forms (§7.3.3) by char code, both cases; other single letters map to themselves. */
const COMPACT_BY_CODE: string[] = (() => {
  const t: string[] = []
  for (let c = 97; c <= 122; c++) {
    const letter = String.fromCharCode(c)
    const name = canonicalHeaderName(letter)
    t[c] = name
    t[c - 32] = name
  }
  return t
})()

/**
 * The canonical name of the header name in [s, e) of `head`, or null when it is not a token
 * (RFC 3261 §25.1: field-name = token). Known names and compact forms cost no allocation.
 */
function headerName(head: string, s: number, e: number): string | null {
  if (e - s === 1) {
    const c = head.charCodeAt(s)
    const compact = COMPACT_BY_CODE[c]
    if (compact !== undefined) return compact
  }
  const known = internHeaderName(head, s, e)
  if (known !== null) return known
  if (!isToken(head, s, e)) return null
  return canonicalHeaderName(head.slice(s, e))
}

function fail(
  reason: string,
  status: number | null,
  kind: 'request' | 'response' | null,
  headers: HeaderField[],
  method?: string,
  uri?: string,
  consumed?: number,
): Failure {
  const f: Failure = { ok: false, reason, status, kind, headers }
  if (method !== undefined) f.method = method
  if (uri !== undefined) f.uri = uri
  if (consumed !== undefined) f.consumed = consumed
  return f
}

/**
 * Parses one SIP message from `data`.
 *
 * Datagram mode (default; UDP datagram or WebSocket message), RFC 3261 §18.3:
 *
 * > In the case of message-oriented transports (such as UDP), if the message has a
 * > Content-Length header field, the message body is assumed to contain that many bytes.  If
 * > there are additional bytes in the transport packet beyond the end of the body, they MUST
 * > be discarded.  If the transport packet ends before the end of the message body, this is
 * > considered an error.  If the message is a response, it MUST be discarded.  If the
 * > message is a request, the element SHOULD generate a 400 (Bad Request) response.  If the
 * > message has no Content-Length header field, the message body is assumed to end at the
 * > end of the transport packet.
 *
 * Stream mode (`{ stream: true }`; TCP/TLS), RFC 3261 §18.3 and §7.5:
 *
 * > In the case of stream-oriented transports such as TCP, the Content-Length header field
 * > indicates the size of the body.  The Content-Length header field MUST be used with
 * > stream oriented transports.
 * > Implementations processing SIP messages over stream-oriented transports MUST ignore any
 * > CRLF appearing before the start-line [H4.1].
 *
 * Call it again with the remaining bytes (`data.subarray(consumed)`) for the next message.
 *
 * @param data the received bytes (not modified, not retained: the body is copied)
 * @returns see {@link ParseResult}; never throws.
 */
export function parseMessage(data: Uint8Array, options?: ParseOptions): ParseResult {
  try {
    return parse(data, options !== undefined && options.stream === true)
  } catch (e) {
    // Last resort only: the code below is written not to throw.
    return fail('internal parser error: ' + (e instanceof Error ? e.message : String(e)), null, null, [])
  }
}

/**
 * Parses one SIP message that arrived as text: a WebSocket text frame (RFC 7118 §5.1: one
 * message per frame; message framing as for UDP, §18.3). The head is read from the string as
 * it is, without encoding it to bytes and decoding it back; only the body is encoded (bodies
 * are octets: Content-Length counts bytes, mpart01). `consumed` counts the head in UTF-16
 * code units plus the body in octets (only stream callers use it, and text is never a stream).
 * @returns see {@link ParseResult}; never throws.
 */
export function parseMessageText(text: string): ParseResult {
  try {
    const len = text.length
    let pos = 0
    while (pos < len && (text.charCodeAt(pos) === 13 || text.charCodeAt(pos) === 10)) pos++
    if (pos >= len) return fail('empty message', null, null, [])
    let headEnd = -1
    let bodyStart = -1
    let p = pos
    for (;;) {
      const lf = text.indexOf('\n', p)
      if (lf < 0) break
      const q = lf + 1
      if (q >= len) break
      const c = text.charCodeAt(q)
      if (c === 10) {
        headEnd = q
        bodyStart = q + 1
        break
      }
      if (c === 13) {
        if (q + 1 >= len) break
        if (text.charCodeAt(q + 1) === 10) {
          headEnd = q
          bodyStart = q + 2
          break
        }
      }
      p = q
    }
    if (headEnd < 0) {
      headEnd = len
      bodyStart = len
    }
    const body = bodyStart < len ? encoder.encode(text.slice(bodyStart)) : EMPTY_BODY
    return parseHead(text.slice(pos, headEnd), body, bodyStart, false)
  } catch (e) {
    return fail('internal parser error: ' + (e instanceof Error ? e.message : String(e)), null, null, [])
  }
}

function parse(data: Uint8Array, stream: boolean): ParseResult {
  const len = data.length
  let pos = 0
  // §7.5: CRLFs before the start-line are ignored (also keep-alive leftovers on UDP).
  while (pos < len && (data[pos] === 13 || data[pos] === 10)) pos++
  if (pos >= len) return stream ? INCOMPLETE : fail('empty message', null, null, [])

  // ---- Find the empty line that ends the header section (on the bytes) ----
  let headEnd = -1 // end of the head text (just past the LF of the last header line)
  let bodyStart = -1
  let p = pos
  for (;;) {
    const lf = data.indexOf(10, p)
    if (lf < 0) break
    const q = lf + 1
    if (q >= len) break
    const b = data[q]
    if (b === 10) {
      headEnd = q
      bodyStart = q + 1
      break
    }
    if (b === 13) {
      if (q + 1 >= len) break
      if (data[q + 1] === 10) {
        headEnd = q
        bodyStart = q + 2
        break
      }
    }
    p = q
  }
  if (headEnd < 0) {
    if (stream) return INCOMPLETE
    // A datagram without the empty line: read the header section to the end (baddn).
    headEnd = len
    bodyStart = len
  }
  // Most messages end with the empty line: no view of the (absent) body bytes is made then.
  return parseHead(decodeHead(data, pos, headEnd), bodyStart < len ? data.subarray(bodyStart) : EMPTY_BODY, bodyStart, stream)
}

/**
 * The header section as text (from the start-line to just past the LF of its last line)
 * and the bytes after the empty line. `bodyOffset` is where those bytes start in the
 * input, for `consumed`.
 */
function parseHead(head: string, rest: Uint8Array, bodyOffset: number, stream: boolean): ParseResult {
  const H = head.length

  // ---- Start-line (§7.1, §7.2) ----
  let le = head.indexOf('\n')
  if (le < 0) le = H
  let sle = le
  if (sle > 0 && head.charCodeAt(sle - 1) === 13) sle--

  let kind: 'request' | 'response' | null = null
  let method: string | undefined
  let uri: string | undefined
  let status = 0
  let reason = ''
  let startError: string | null = null
  let startStatus: number | null = null
  let parsedRequestUri: SipUri | null = null

  if (
    sle >= 4 && (head.charCodeAt(0) | 0x20) === 115 && (head.charCodeAt(1) | 0x20) === 105 &&
    (head.charCodeAt(2) | 0x20) === 112 && head.charCodeAt(3) === 47
  ) {
    // Status-Line  =  SIP-Version SP Status-Code SP Reason-Phrase CRLF
    kind = 'response'
    if (sle < 11 || !isSip20(head, 0) || head.charCodeAt(7) !== 32) {
      startError = 'unsupported SIP version or malformed Status-Line'
    } else {
      const d0 = head.charCodeAt(8) - 48
      const d1 = head.charCodeAt(9) - 48
      const d2 = head.charCodeAt(10) - 48
      // "The Status-Code is a 3-digit integer result code" (bigcode: 4294967301 -> discard).
      if (d0 < 1 || d0 > 6 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9 || (sle > 11 && head.charCodeAt(11) !== 32)) {
        startError = 'malformed Status-Code'
      } else {
        status = d0 * 100 + d1 * 10 + d2
        reason = sle > 12 ? head.slice(12, sle) : '' // noreason: empty Reason-Phrase
      }
    }
  } else {
    // Request-Line  =  Method SP Request-URI SP SIP-Version CRLF
    // "A Request-Line contains a method name, a Request-URI, and the protocol version
    // separated by a single space (SP) character. ... No linear whitespace (LWS) is allowed
    // in any of the elements." (§7.1)
    const sp1 = head.indexOf(' ')
    if (sp1 > 0 && sp1 < sle && isToken(head, 0, sp1)) {
      kind = 'request'
      method = internMethod(head.slice(0, sp1))
      // trws (RFC 4475 §3.1.2.10): trailing SP/HT after SIP/2.0 is tolerated.
      let e = sle
      while (e > sp1 + 1 && (head.charCodeAt(e - 1) === 32 || head.charCodeAt(e - 1) === 9)) e--
      const sp2 = head.lastIndexOf(' ', e - 1)
      if (sp2 <= sp1) {
        startError = 'malformed Request-Line'
        startStatus = 400
      } else {
        uri = head.slice(sp1 + 1, sp2)
        if (!(e - sp2 - 1 === 7 && isSip20(head, sp2 + 1))) {
          // badvers: another SIP version -> 505 (§21.5.6); anything else is a bad line.
          if (isSipVersion(head, sp2 + 1, e)) {
            startError = 'SIP version not supported'
            startStatus = 505
          } else {
            startError = 'malformed SIP-Version in Request-Line'
            startStatus = 400
          }
        } else {
          const checked = checkRequestUri(uri)
          if (typeof checked === 'string') {
            startError = checked
            startStatus = 400
          } else {
            parsedRequestUri = checked
          }
        }
      }
    } else {
      startError = 'not a SIP start-line'
    }
  }

  // ---- Header fields (§7.3) ----
  const headers: HeaderField[] = []
  let headerError: string | null = null
  let viaCount = 0
  let topVia = ''
  let fromCount = 0
  let fromValue = ''
  let toCount = 0
  let toValue = ''
  let callIdCount = 0
  let callIdValue = ''
  let cseqCount = 0
  let cseqValue = ''
  let mfCount = 0
  let mfValue = ''
  let contentLength = -1
  let clError: string | null = null
  let contactFrom = -1 // index in headers of the first Contact field

  let i = le + 1
  while (i < H) {
    let e = head.indexOf('\n', i)
    if (e < 0) e = H
    let lineEnd = e
    if (lineEnd > i && head.charCodeAt(lineEnd - 1) === 13) lineEnd--
    let next = e + 1
    if (lineEnd === i) {
      i = next
      continue
    }
    const c0 = head.charCodeAt(i)
    if (c0 === 32 || c0 === 9) {
      headerError ??= 'continuation line without a header field'
      i = next
      continue
    }
    // "Header fields can be extended over multiple lines by preceding each extra line with
    // at least one SP or horizontal tab (HT).  The line break and the whitespace at the
    // beginning of the next line are treated as a single SP character." (§7.3.1)
    // The formal grammar "allows for an arbitrary amount of whitespace on either side of the
    // colon" (§7.3.1): `Subject      :      lunch`.
    const colon = head.indexOf(':', i)
    let ne = colon
    while (ne > i && (head.charCodeAt(ne - 1) === 32 || head.charCodeAt(ne - 1) === 9)) ne--
    const name = colon >= 0 && colon < lineEnd && ne > i ? headerName(head, i, ne) : null
    const nameOk = name !== null
    let vs = nameOk ? colon + 1 : lineEnd
    while (vs < lineEnd && (head.charCodeAt(vs) === 32 || head.charCodeAt(vs) === 9)) vs++
    let ve = lineEnd
    while (ve > vs && (head.charCodeAt(ve - 1) === 32 || head.charCodeAt(ve - 1) === 9)) ve--
    let value = head.slice(vs, ve)
    while (next < H && (head.charCodeAt(next) === 32 || head.charCodeAt(next) === 9)) {
      let e2 = head.indexOf('\n', next)
      if (e2 < 0) e2 = H
      let t2 = e2
      if (t2 > next && head.charCodeAt(t2 - 1) === 13) t2--
      let s2 = next
      while (s2 < t2 && (head.charCodeAt(s2) === 32 || head.charCodeAt(s2) === 9)) s2++
      while (t2 > s2 && (head.charCodeAt(t2 - 1) === 32 || head.charCodeAt(t2 - 1) === 9)) t2--
      if (t2 > s2) value = value.length > 0 ? value + ' ' + head.slice(s2, t2) : head.slice(s2, t2)
      next = e2 + 1
    }
    i = next
    if (name === null) {
      headerError ??= colon < 0 || colon >= lineEnd ? 'header line without a colon' : 'invalid header field name'
      continue
    }

    if (LIST_HEADERS.has(name)) {
      const before = headers.length
      if (!splitList(headers, name, value)) {
        headerError ??= `empty value in ${name} list`
        continue
      }
      if (name === 'via') {
        if (viaCount === 0 && headers.length > before) topVia = headers[before]!.value
        viaCount += headers.length - before
      } else if (name === 'contact' && contactFrom < 0 && headers.length > before) {
        contactFrom = before
      }
      continue
    }
    headers.push({ name, value })
    switch (name) {
      case 'from':
        fromCount++
        fromValue = value
        break
      case 'to':
        toCount++
        toValue = value
        break
      case 'call-id':
        callIdCount++
        callIdValue = value
        break
      case 'cseq':
        cseqCount++
        cseqValue = value
        break
      case 'max-forwards':
        mfCount++
        mfValue = value
        break
      case 'content-length': {
        // RFC 3261 §20.14: "The Content-Length header field indicates the size of the
        // message-body, in decimal number of octets, sent to the recipient. [...] The size of
        // the message-body does not include the CRLF separating header fields and body.  Any
        // Content-Length greater than or equal to zero is a valid value."
        // Content-Length  =  ( "Content-Length" / "l" ) HCOLON 1*DIGIT
        // ncl: -999 -> 400; mpart01: octets, not characters (the body is never decoded).
        const n = parseDecimal(value, 0xffffffff)
        if (n < 0) clError ??= 'invalid Content-Length'
        else if (contentLength >= 0 && n !== contentLength) clError ??= 'conflicting Content-Length values' // mcl01
        else contentLength = n
        break
      }
    }
  }

  // ---- Framing (§18.3) ----
  const isRequest = kind === 'request'
  /** A bad request is answered with 400; anything else is dropped (status null). */
  const status400: number | null = isRequest ? 400 : null
  if (clError !== null) return fail(clError, status400, kind, headers, method, uri)
  const len = rest.length
  let bodyEnd: number
  if (contentLength < 0) {
    if (stream) return fail('missing Content-Length on a stream transport', status400, kind, headers, method, uri)
    bodyEnd = len
  } else {
    bodyEnd = contentLength
    if (bodyEnd > len) {
      if (stream) return INCOMPLETE
      // clerr: "If the transport packet ends before the end of the message body, this is
      // considered an error." (§18.3)
      if (startError === null && headerError === null) {
        return fail('Content-Length larger than the message', status400, kind, headers, method, uri)
      }
      bodyEnd = len
    }
  }
  const consumed = bodyOffset + bodyEnd

  if (startError !== null) {
    return fail(startError, isRequest ? startStatus : null, kind, headers, method, uri, consumed)
  }
  if (headerError !== null) return fail(headerError, status400, kind, headers, method, uri, consumed)

  // ---- Mandatory and single-valued header fields (§8.1.1, §20; RFC 4475 insuf, multi01) ----
  // "A valid SIP request formulated by a UAC MUST, at a minimum, contain the following header
  // fields: To, From, CSeq, Call-ID, Max-Forwards, and Via" (§8.1.1). Max-Forwards is not
  // required on receipt: "If the request does not contain a Max-Forwards header field, this
  // check is passed." (§16.3; RFC 2543 senders, inv2543).
  let bad: string | null = null
  if (viaCount === 0) bad = 'missing Via'
  else if (fromCount !== 1) bad = fromCount === 0 ? 'missing From' : 'more than one From'
  else if (toCount !== 1) bad = toCount === 0 ? 'missing To' : 'more than one To'
  else if (callIdCount !== 1) bad = callIdCount === 0 ? 'missing Call-ID' : 'more than one Call-ID'
  else if (cseqCount !== 1) bad = cseqCount === 0 ? 'missing CSeq' : 'more than one CSeq'
  else if (mfCount > 1) bad = 'more than one Max-Forwards'
  else if (callIdValue.length === 0) bad = 'empty Call-ID'
  if (bad !== null) return fail(bad, status400, kind, headers, method, uri, consumed)

  const via: Via | null = parseVia(topVia)
  if (via === null) return fail('malformed Via', status400, kind, headers, method, uri, consumed)
  const from: NameAddr | null = parseNameAddr(fromValue)
  if (from === null) return fail('malformed From', status400, kind, headers, method, uri, consumed)
  const to: NameAddr | null = parseNameAddr(toValue)
  if (to === null) return fail('malformed To', status400, kind, headers, method, uri, consumed)
  const cseq: CSeq | null = parseCSeq(cseqValue)
  if (cseq === null) return fail('malformed CSeq', status400, kind, headers, method, uri, consumed)
  if (isRequest && cseq.method !== method) {
    // mismatch01/02: the CSeq method MUST match the method of the request (§8.1.1.5, §20.16).
    return fail('CSeq method does not match the Request-Line', 400, kind, headers, method, uri, consumed)
  }
  if (mfCount === 1 && parseDecimal(mfValue, 255) < 0) {
    // Max-Forwards  =  "Max-Forwards" HCOLON 1*DIGIT, 0..255 (§20.22; scalar02: 300)
    return fail('malformed Max-Forwards', status400, kind, headers, method, uri, consumed)
  }
  if (contactFrom >= 0) {
    for (let k = contactFrom; k < headers.length; k++) {
      const h = headers[k]!
      if (h.name !== 'contact') continue
      const v = h.value
      // Contact: "*" (REGISTER removal, §10.2.2) or name-addr/addr-spec (badinv01, regbadct).
      if (!(v === '*' || parseNameAddr(v) !== null)) {
        return fail('malformed Contact', status400, kind, headers, method, uri, consumed)
      }
    }
  }

  const body = bodyEnd > 0 ? rest.slice(0, bodyEnd) : EMPTY_BODY
  const message = isRequest
    ? new SipRequest(method!, uri!, headers, body)
    : new SipResponse(status, reason, headers, body)
  message.primeCache('via', via)
  message.primeCache('from', from)
  message.primeCache('to', to)
  message.primeCache('cseq', cseq)
  if (parsedRequestUri !== null && message.kind === 'request') message.primeRequestUri(parsedRequestUri)
  return { ok: true, message, consumed }
}

function isToken(s: string, from: number, to: number): boolean {
  for (let k = from; k < to; k++) {
    const c = s.charCodeAt(k)
    if (c >= 128 || (CHAR_CLASS[c]! & C_TOKEN) === 0) return false
  }
  return to > from
}

/** "SIP/2.0" at `at`, case-insensitive (§7.1: "The SIP-Version string is case-insensitive"). */
function isSip20(s: string, at: number): boolean {
  return (s.charCodeAt(at) | 0x20) === 115 && (s.charCodeAt(at + 1) | 0x20) === 105 &&
    (s.charCodeAt(at + 2) | 0x20) === 112 && s.charCodeAt(at + 3) === 47 &&
    s.charCodeAt(at + 4) === 50 && s.charCodeAt(at + 5) === 46 && s.charCodeAt(at + 6) === 48
}

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT over [from, to). */
function isSipVersion(s: string, from: number, to: number): boolean {
  if (to - from < 7) return false
  if ((s.charCodeAt(from) | 0x20) !== 115 || (s.charCodeAt(from + 1) | 0x20) !== 105 ||
    (s.charCodeAt(from + 2) | 0x20) !== 112 || s.charCodeAt(from + 3) !== 47) return false
  let k = from + 4
  const a = k
  while (k < to && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57) k++
  if (k === a || k >= to || s.charCodeAt(k) !== 46) return false
  k++
  const b = k
  while (k < to && s.charCodeAt(k) >= 48 && s.charCodeAt(k) <= 57) k++
  return k > b && k === to
}

/**
 * Checks a Request-URI (§7.1): "The Request-URI MUST NOT contain unescaped spaces or control
 * characters and MUST NOT be enclosed in "<>"." Every char must be a URI char; sip, sips and
 * tel URIs must parse; a sip/sips Request-URI must not carry headers (§19.1.1 Table 1:
 * headers "-" for Req.-URI; escruri -> 400). Other schemes pass here (416 is decided by the
 * routing sanity check, RFC 4475 unkscm/novelsc).
 * @returns an error reason, or the parsed URI when acceptable (null for a scheme parseUri
 *   does not know, which the routing sanity check answers with 416).
 */
function checkRequestUri(uri: string): string | SipUri | null {
  const colon = uri.indexOf(':')
  // Fast path for sip, sips and tel: parseUri checks every character of these itself.
  if (colon === 3 || colon === 4) {
    const s0 = uri.charCodeAt(0) | 0x20
    if (s0 === 115 || s0 === 116) {
      const parsed = parseUri(uri)
      if (parsed !== null && parsed.opaque === null) {
        for (const _ in parsed.headers) return 'headers in Request-URI'
        return parsed
      }
    }
  }
  const n = uri.length
  if (n === 0) return 'empty Request-URI'
  for (let k = 0; k < n; k++) {
    const c = uri.charCodeAt(k)
    if (c >= 128 || (CHAR_CLASS[c]! & C_URIC) === 0) {
      if (c === 32 || c === 9) return 'white space in Request-URI' // lwsstart, lwsruri
      if (c === 60 || c === 62) return 'Request-URI enclosed in <>' // ltgtruri
      return 'invalid character in Request-URI'
    }
  }
  if (colon <= 0) return 'Request-URI without a scheme'
  const scheme = uri.slice(0, colon).toLowerCase()
  if (scheme === 'sip' || scheme === 'sips' || scheme === 'tel') return 'malformed Request-URI'
  return parseUri(uri) ?? 'malformed Request-URI'
}

/** 1*DIGIT (after trimming, which the header loop did) with value <= max; -1 otherwise. */
function parseDecimal(v: string, max: number): number {
  const n = v.length
  if (n === 0) return -1
  let x = 0
  for (let k = 0; k < n; k++) {
    const c = v.charCodeAt(k)
    if (c < 48 || c > 57) return -1
    x = x * 10 + (c - 48)
    if (x > max) return -1
  }
  return x
}

/**
 * Splits a list header value on commas outside quoted strings and <...> (§7.3.1: "It MUST
 * be possible to combine the multiple header field rows into one "field-name: field-value"
 * pair ... by appending each subsequent field-value to the first, each separated by a
 * comma"), pushing one field per element. An all-empty value pushes nothing.
 * @returns false when an element is empty (`a,,b` or a trailing comma).
 */
function splitList(out: HeaderField[], name: string, value: string): boolean {
  const n = value.length
  if (n === 0) return true
  if (value.indexOf(',') < 0) {
    out.push({ name, value })
    return true
  }
  let start = 0
  let inQuote = false
  let inAngle = false
  for (let k = 0; k < n; k++) {
    const c = value.charCodeAt(k)
    if (inQuote) {
      if (c === 92) k++
      else if (c === 34) inQuote = false
      continue
    }
    if (c === 34) inQuote = true
    else if (c === 60) inAngle = true
    else if (c === 62) inAngle = false
    else if (c === 44 && !inAngle) {
      if (!pushTrimmed(out, name, value, start, k)) return false
      start = k + 1
    }
  }
  return pushTrimmed(out, name, value, start, n)
}

function pushTrimmed(out: HeaderField[], name: string, value: string, s: number, e: number): boolean {
  while (s < e && (value.charCodeAt(s) === 32 || value.charCodeAt(s) === 9)) s++
  while (e > s && (value.charCodeAt(e - 1) === 32 || value.charCodeAt(e - 1) === 9)) e--
  if (e === s) return false
  out.push({ name, value: value.slice(s, e) })
  return true
}

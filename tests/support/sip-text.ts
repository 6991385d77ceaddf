/**
 * A small, independent SIP message reader and writer for the test side: it reads what the
 * gateway sent to a test client and writes what a test client sends. It is deliberately
 * separate from gateway/src/sip/parser so that a parser bug cannot hide itself in tests.
 *
 * Grammar handled (RFC 3261 §7, §20, §25): start line, header fields with line folding,
 * compact header names (§7.3.3), comma-separated header values (§7.3.1) split outside
 * quotes and angle brackets, and a body framed by Content-Length (or the end of the text).
 */

/** Compact header forms (RFC 3261 §7.3.3, RFC 3515, RFC 3892, RFC 4028, RFC 6665). */
const COMPACT: Record<string, string> = {
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
  o: 'event',
  r: 'refer-to',
  s: 'subject',
  t: 'to',
  u: 'allow-events',
  v: 'via',
  x: 'session-expires',
  y: 'identity',
}

/** Headers whose values may be combined into one field separated by commas (§7.3.1). */
const LIST_HEADERS = new Set([
  'via', 'route', 'record-route', 'contact', 'allow', 'supported', 'require', 'proxy-require',
  'unsupported', 'accept', 'accept-encoding', 'accept-language', 'allow-events', 'path',
  'service-route', 'p-asserted-identity',
])

export interface HeaderField {
  /** Lower-case long form (compact names expanded). */
  name: string
  value: string
}

/** Splits a header value at commas that are outside double quotes and `<...>`. */
export function splitHeaderList(value: string): string[] {
  const parts: string[] = []
  let depth = 0
  let quoted = false
  let start = 0
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]
    if (quoted) {
      if (ch === '\\') i++
      else if (ch === '"') quoted = false
    } else if (ch === '"') quoted = true
    else if (ch === '<') depth++
    else if (ch === '>') depth = Math.max(0, depth - 1)
    else if (ch === ',' && depth === 0) {
      parts.push(value.slice(start, i).trim())
      start = i + 1
    }
  }
  parts.push(value.slice(start).trim())
  return parts.filter((p) => p.length > 0)
}

/**
 * The URI inside a name-addr or addr-spec header value:
 * `"Bob" <sip:bob@x;transport=ws>;expires=60` -> `sip:bob@x;transport=ws`;
 * `sip:bob@x;tag=1` (addr-spec: header params follow the URI) -> `sip:bob@x`.
 */
export function uriOf(nameAddr: string): string {
  const open = nameAddr.indexOf('<')
  if (open >= 0) {
    const close = nameAddr.indexOf('>', open)
    return nameAddr.slice(open + 1, close < 0 ? undefined : close).trim()
  }
  return nameAddr.trim().split(';')[0]!.trim()
}

/**
 * A header parameter of a name-addr value (after the `>` or, for addr-spec, after the URI):
 * `paramOf('<sip:a@b>;tag=x;expires=60', 'expires')` -> `'60'`; `null` when absent, `''`
 * for a flag parameter.
 */
export function paramOf(nameAddr: string, name: string): string | null {
  const close = nameAddr.lastIndexOf('>')
  const tail = close >= 0 ? nameAddr.slice(close + 1) : nameAddr.slice(nameAddr.indexOf(';') >= 0 ? nameAddr.indexOf(';') : nameAddr.length)
  for (const piece of tail.split(';')) {
    const eq = piece.indexOf('=')
    const key = (eq >= 0 ? piece.slice(0, eq) : piece).trim().toLowerCase()
    if (key === name.toLowerCase()) return eq >= 0 ? piece.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1') : ''
  }
  return null
}

/** A parameter of a URI (`sip:a@b;transport=ws;lr`): its value, `''` for a flag, `null` when absent. */
export function uriParamOf(uri: string, name: string): string | null {
  const noHeaders = uri.split('?')[0]!
  const pieces = noHeaders.split(';').slice(1)
  for (const piece of pieces) {
    const eq = piece.indexOf('=')
    const key = (eq >= 0 ? piece.slice(0, eq) : piece).trim().toLowerCase()
    if (key === name.toLowerCase()) return eq >= 0 ? piece.slice(eq + 1).trim() : ''
  }
  return null
}

/** One parsed SIP message (request or response). */
export class SipText {
  readonly raw: string
  readonly kind: 'request' | 'response'
  /** Request method; for a response, the method of its CSeq. */
  readonly method: string
  /** Request-URI ('' for responses). */
  readonly requestUri: string
  /** Status code (0 for requests). */
  readonly status: number
  readonly reason: string
  readonly headers: HeaderField[]
  readonly body: string

  private constructor(raw: string, kind: 'request' | 'response', method: string, requestUri: string,
    status: number, reason: string, headers: HeaderField[], body: string) {
    this.raw = raw
    this.kind = kind
    this.method = method
    this.requestUri = requestUri
    this.status = status
    this.reason = reason
    this.headers = headers
    this.body = body
  }

  /**
   * Reads one SIP message. Returns null (never throws) when the text has no valid start
   * line or no header/body separator.
   */
  static parse(raw: string): SipText | null {
    const split = raw.indexOf('\r\n\r\n')
    if (split < 0) return null
    const head = raw.slice(0, split)
    let body = raw.slice(split + 4)
    const lines = head.split('\r\n')
    const startLine = lines.shift() ?? ''
    const unfolded: string[] = []
    for (const line of lines) {
      if ((line.startsWith(' ') || line.startsWith('\t')) && unfolded.length > 0) {
        unfolded[unfolded.length - 1] += ' ' + line.trim()
      } else {
        unfolded.push(line)
      }
    }
    const headers: HeaderField[] = []
    for (const line of unfolded) {
      const colon = line.indexOf(':')
      if (colon <= 0) return null
      const rawName = line.slice(0, colon).trim().toLowerCase()
      headers.push({ name: COMPACT[rawName] ?? rawName, value: line.slice(colon + 1).trim() })
    }
    const lengthField = headers.find((h) => h.name === 'content-length')
    if (lengthField) {
      const length = Number.parseInt(lengthField.value, 10)
      if (Number.isFinite(length) && length >= 0) {
        body = new TextDecoder().decode(new TextEncoder().encode(body).slice(0, length))
      }
    }
    const cseqValue = headers.find((h) => h.name === 'cseq')?.value ?? ''
    const cseqMethod = cseqValue.trim().split(/\s+/)[1] ?? ''
    const response = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/i.exec(startLine)
    if (response) {
      return new SipText(raw, 'response', cseqMethod, '', Number(response[1]), response[2] ?? '', headers, body)
    }
    const request = /^([A-Za-z0-9.!%*_+`'~-]+)\s+(\S+)\s+SIP\/2\.0$/i.exec(startLine)
    if (request) {
      return new SipText(raw, 'request', request[1]!, request[2]!, 0, '', headers, body)
    }
    return null
  }

  get isRequest(): boolean {
    return this.kind === 'request'
  }

  get isResponse(): boolean {
    return this.kind === 'response'
  }

  /** The first value of header `name` (long or compact name, any case), or undefined. */
  get(name: string): string | undefined {
    const wanted = normalizeName(name)
    return this.headers.find((h) => h.name === wanted)?.value
  }

  /**
   * Every value of header `name` in order; list headers (Via, Route, Record-Route,
   * Contact, ...) are split at their commas, so `getAll('record-route').length` counts
   * entries, not header lines.
   */
  getAll(name: string): string[] {
    const wanted = normalizeName(name)
    const values = this.headers.filter((h) => h.name === wanted).map((h) => h.value)
    return LIST_HEADERS.has(wanted) ? values.flatMap(splitHeaderList) : values
  }

  /** Header lines of `name` exactly as received (name as on the wire is lost; value kept). */
  fields(name: string): HeaderField[] {
    const wanted = normalizeName(name)
    return this.headers.filter((h) => h.name === wanted)
  }

  get callId(): string {
    return this.get('call-id') ?? ''
  }

  get cseq(): { seq: number; method: string } {
    const [seq, method] = (this.get('cseq') ?? '').trim().split(/\s+/)
    return { seq: Number(seq), method: method ?? '' }
  }

  /** The tag parameter of From. */
  get fromTag(): string | null {
    return paramOf(this.get('from') ?? '', 'tag')
  }

  /** The tag parameter of To. */
  get toTag(): string | null {
    return paramOf(this.get('to') ?? '', 'tag')
  }

  /** The branch parameter of the top Via. */
  get topBranch(): string | null {
    const via = this.getAll('via')[0]
    if (!via) return null
    return /;\s*branch=([^;,\s]+)/i.exec(via)?.[1] ?? null
  }

  /** Short description for assertion messages: `INVITE sip:bob@x` / `407 Proxy Authentication Required (INVITE)`. */
  describe(): string {
    return this.isRequest ? `${this.method} ${this.requestUri}` : `${this.status} ${this.reason} (${this.method})`
  }
}

function normalizeName(name: string): string {
  const lower = name.toLowerCase()
  return COMPACT[lower] ?? lower
}

/** A request or response to write: start line, headers in order, body. */
export interface SipTextDraft {
  /** `INVITE sip:bob@patchbay.test SIP/2.0` or `SIP/2.0 200 OK`. */
  startLine: string
  /** Header lines in order as [name, value]; Content-Length is added (computed from body). */
  headers: Array<[string, string]>
  body?: string
}

/** Writes a message with CRLF line ends and a correct Content-Length (bytes, RFC 3261 §20.14). */
export function formatSipText(draft: SipTextDraft): string {
  const body = draft.body ?? ''
  const lines = [draft.startLine]
  for (const [name, value] of draft.headers) {
    if (name.toLowerCase() === 'content-length' || name.toLowerCase() === 'l') continue
    lines.push(`${name}: ${value}`)
  }
  lines.push(`Content-Length: ${new TextEncoder().encode(body).length}`)
  return lines.join('\r\n') + '\r\n\r\n' + body
}

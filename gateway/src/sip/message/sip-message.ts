/**
 * The SIP message model (RFC 3261 §7): SipRequest and SipResponse.
 *
 * A message is an ordered list of header fields (canonical lower-case names, one value per
 * field for the list headers in LIST_HEADERS) plus a body of raw bytes. The header list is the
 * truth; typed views (top Via, From, To, CSeq, Call-ID) are parsed on first use and cached,
 * and every mutator drops the cache entry of the header it touches.
 *
 * Messages from the wire come from `parseMessage` (parser/), which has already validated the
 * headers that the typed getters read, so on such messages the getters do not fail. On a
 * message built in code, a getter whose header is missing or unreadable throws
 * `SipMessageError` (a programming error, never wire input).
 */
import type { CSeq, HeaderField, NameAddr, SipUri, Via } from '../syntax/types.ts'
import { parseVia } from '../syntax/via.ts'
import { parseNameAddr } from '../syntax/name-addr.ts'
import { parseCSeq } from '../syntax/cseq.ts'
import { parseUri } from '../syntax/uri.ts'

export class SipMessageError extends Error {}

const EMPTY = new Uint8Array(0)

abstract class SipMessageBase {
  /** Header fields in wire order. Mutate through the methods below to keep caches right. */
  headers: HeaderField[]
  /** Body bytes (Content-Length counts these). */
  body: Uint8Array
  private cache: Map<string, unknown> | null = null

  constructor(headers: HeaderField[] = [], body: Uint8Array = EMPTY) {
    this.headers = headers
    this.body = body
  }

  /** First value of a header (canonical lower-case name), or undefined. */
  get(name: string): string | undefined {
    const hs = this.headers
    for (let i = 0; i < hs.length; i++) if (hs[i]!.name === name) return hs[i]!.value
    return undefined
  }

  /** All values of a header in wire order (one per field). */
  getAll(name: string): string[] {
    const out: string[] = []
    const hs = this.headers
    for (let i = 0; i < hs.length; i++) if (hs[i]!.name === name) out.push(hs[i]!.value)
    return out
  }

  has(name: string): boolean {
    return this.get(name) !== undefined
  }

  /** Replaces every field of `name` by one field with `value` (at the first one's place, else at the end). */
  set(name: string, value: string): this {
    this.invalidate(name)
    const hs = this.headers
    let placed = false
    for (let i = 0; i < hs.length; i++) {
      if (hs[i]!.name !== name) continue
      if (!placed) {
        hs[i] = { name, value }
        placed = true
      } else {
        hs.splice(i, 1)
        i--
      }
    }
    if (!placed) hs.push({ name, value })
    return this
  }

  /** Adds a field before every other field of the same name (a new top Via or Record-Route). */
  prepend(name: string, value: string): this {
    this.invalidate(name)
    const hs = this.headers
    for (let i = 0; i < hs.length; i++) {
      if (hs[i]!.name === name) {
        hs.splice(i, 0, { name, value })
        return this
      }
    }
    // None yet: Via goes first of all (RFC 3261 §7.3.1 says order between names does not
    // matter, but proxies are told to put Via on top, §16.6 item 8); others go at the end.
    if (name === 'via') hs.unshift({ name, value })
    else hs.push({ name, value })
    return this
  }

  /** Appends a field after all others. */
  append(name: string, value: string): this {
    this.invalidate(name)
    this.headers.push({ name, value })
    return this
  }

  /** Removes the first field of `name` (the top Via, the top Route). Returns its value. */
  removeFirst(name: string): string | undefined {
    const hs = this.headers
    for (let i = 0; i < hs.length; i++) {
      if (hs[i]!.name === name) {
        this.invalidate(name)
        return hs.splice(i, 1)[0]!.value
      }
    }
    return undefined
  }

  /** Replaces the value of the first field of `name` in place (the top Via after §18.2.1). */
  replaceFirst(name: string, value: string): boolean {
    const hs = this.headers
    for (let i = 0; i < hs.length; i++) {
      if (hs[i]!.name === name) {
        this.invalidate(name)
        hs[i] = { name, value }
        return true
      }
    }
    return false
  }

  /** Removes every field of `name`. */
  remove(name: string): this {
    this.invalidate(name)
    this.headers = this.headers.filter((h) => h.name !== name)
    return this
  }

  /** The top Via (RFC 3261 §8.1.1.7, §17: its branch and sent-by identify the transaction). */
  get topVia(): Via {
    return this.cached('via', () => {
      const v = this.get('via')
      const parsed = v === undefined ? null : parseVia(v)
      if (!parsed) throw new SipMessageError('message has no readable Via')
      return parsed
    })
  }

  /** All Via values, top first. */
  get vias(): Via[] {
    return this.cached('via*', () =>
      this.getAll('via').map((v) => {
        const p = parseVia(v)
        if (!p) throw new SipMessageError(`unreadable Via: ${v}`)
        return p
      }),
    )
  }

  get from(): NameAddr {
    return this.cached('from', () => this.nameAddr('from'))
  }

  get to(): NameAddr {
    return this.cached('to', () => this.nameAddr('to'))
  }

  get callId(): string {
    const v = this.get('call-id')
    if (v === undefined) throw new SipMessageError('message has no Call-ID')
    return v
  }

  get cseq(): CSeq {
    return this.cached('cseq', () => {
      const v = this.get('cseq')
      const parsed = v === undefined ? null : parseCSeq(v)
      if (!parsed) throw new SipMessageError('message has no readable CSeq')
      return parsed
    })
  }

  /** Lets the parser hand over views it already built while validating. */
  primeCache(key: 'via' | 'from' | 'to' | 'cseq', value: unknown): void {
    ;(this.cache ??= new Map()).set(key, value)
  }

  private nameAddr(name: string): NameAddr {
    const v = this.get(name)
    const parsed = v === undefined ? null : parseNameAddr(v)
    if (!parsed) throw new SipMessageError(`message has no readable ${name}`)
    return parsed
  }

  private cached<T>(key: string, make: () => T): T {
    const c = (this.cache ??= new Map())
    let v = c.get(key) as T | undefined
    if (v === undefined) {
      v = make()
      c.set(key, v)
    }
    return v
  }

  private invalidate(name: string): void {
    if (this.cache === null) return
    this.cache.delete(name)
    if (name === 'via') this.cache.delete('via*')
  }
}

/** A SIP request (RFC 3261 §7.1): method, Request-URI (kept as text), headers, body. */
export class SipRequest extends SipMessageBase {
  readonly kind = 'request' as const
  /** Method token, case-sensitive (RFC 3261 §7.1). */
  method: string
  private uriText: string
  /** Parsed Request-URI: undefined until first needed (or primed by the parser). */
  private parsedUri: SipUri | null | undefined = undefined

  constructor(method: string, uri: string, headers?: HeaderField[], body?: Uint8Array) {
    super(headers, body)
    this.method = method
    this.uriText = uri
  }

  /** The Request-URI exactly as on the wire. Setting it drops the parsed view. */
  get uri(): string {
    return this.uriText
  }

  set uri(value: string) {
    this.uriText = value
    this.parsedUri = undefined
  }

  /** The parsed Request-URI (parsed once, cached), or null when it is not a readable URI. */
  get requestUri(): SipUri | null {
    if (this.parsedUri === undefined) this.parsedUri = parseUri(this.uriText)
    return this.parsedUri
  }

  /** Lets the parser hand over the Request-URI it already parsed while validating. */
  primeRequestUri(uri: SipUri): void {
    this.parsedUri = uri
  }
}

/** A SIP response (RFC 3261 §7.2): status code 100..699, reason phrase, headers, body. */
export class SipResponse extends SipMessageBase {
  readonly kind = 'response' as const
  status: number
  reason: string

  constructor(status: number, reason: string, headers?: HeaderField[], body?: Uint8Array) {
    super(headers, body)
    this.status = status
    this.reason = reason
  }
}

export type SipMessage = SipRequest | SipResponse

/**
 * Bencoding, the dictionary format of rtpengine's ng control protocol.
 *
 * rtpengine docs/ng_control_protocol.md: "The dictionary document can be in one of two
 * formats. It can be a JSON object or it can be a dictionary in bencode format. Bencoding
 * supports a subset of the features of JSON (dictionaries/hashes, lists/arrays, arbitrary
 * byte strings) [...]" and "The requirement stipulated by the bencode standard that
 * dictionary keys must be present in lexicographical order is not currently honoured."
 *
 * The format itself is BEP 3 (bittorrent.org/beps/bep_0003.html#bencoding), quoted at each
 * type below. Byte strings decode to JS strings when they are valid UTF-8 (every SDP and
 * every ng key is), otherwise to Uint8Array. Integers decode to `number` when they fit in a
 * safe integer, otherwise to `bigint`.
 */

/** A bencoded value as this module represents it. */
export type BencodeValue = string | Uint8Array | number | bigint | BencodeList | BencodeDict
export type BencodeList = BencodeValue[]
export interface BencodeDict {
  [key: string]: BencodeValue
}

export type BencodeDecodeResult = { ok: true; value: BencodeValue } | { ok: false; reason: string }

/** Nesting deeper than this is refused (a hostile datagram must not exhaust the stack). */
const MAX_DEPTH = 64

const CH_I = 0x69 // 'i'
const CH_L = 0x6c // 'l'
const CH_D = 0x64 // 'd'
const CH_E = 0x65 // 'e'
const CH_COLON = 0x3a
const CH_MINUS = 0x2d
const CH_0 = 0x30
const CH_9 = 0x39

const utf8 = new TextEncoder()
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Encodes `value` (BEP 3). Dictionary keys are written in lexicographical order of their
 * UTF-8 bytes, as BEP 3 requires; `undefined` dictionary values are left out, so that
 * optional fields can be written inline.
 *
 * @throws TypeError for values bencode cannot carry (non-integer numbers, booleans, null,
 *   functions): a programming error, never wire input.
 */
export function encodeBencode(value: BencodeValue | BencodeInput): Uint8Array {
  const parts: Uint8Array[] = []
  encodeInto(value as BencodeInput, parts, 0)
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** What {@link encodeBencode} accepts: like BencodeValue, with `undefined` dictionary values allowed. */
export type BencodeInput =
  | string
  | Uint8Array
  | number
  | bigint
  | readonly BencodeInput[]
  | { readonly [key: string]: BencodeInput | undefined }

function encodeInto(value: BencodeInput, parts: Uint8Array[], depth: number): void {
  if (depth > MAX_DEPTH) throw new TypeError(`bencode: nesting deeper than ${MAX_DEPTH}`)
  if (typeof value === 'string') {
    encodeBytes(utf8.encode(value), parts)
  } else if (value instanceof Uint8Array) {
    encodeBytes(value, parts)
  } else if (typeof value === 'number' || typeof value === 'bigint') {
    // BEP 3: "Integers are represented by an 'i' followed by the number in base 10 followed
    // by an 'e'. For example i3e corresponds to 3 and i-3e corresponds to -3. Integers have
    // no size limitation. i-0e is invalid."
    if (typeof value === 'number' && !Number.isSafeInteger(value)) {
      throw new TypeError(`bencode: ${value} is not a safe integer`)
    }
    // Object.is(-0, ...) would print "0" anyway: String(-0) === '0'.
    parts.push(utf8.encode(`i${String(value)}e`))
  } else if (Array.isArray(value)) {
    // BEP 3: "Lists are encoded as an 'l' followed by their elements (also bencoded)
    // followed by an 'e'."
    parts.push(Uint8Array.of(CH_L))
    for (const item of value as readonly BencodeInput[]) encodeInto(item, parts, depth + 1)
    parts.push(Uint8Array.of(CH_E))
  } else if (typeof value === 'object' && value !== null) {
    // BEP 3: "Dictionaries are encoded as a 'd' followed by a list of alternating keys and
    // their corresponding values followed by an 'e'. [...] Keys must be strings and appear
    // in sorted order (sorted as raw strings, not alphanumerics)."
    const dict = value as { readonly [key: string]: BencodeInput | undefined }
    const entries: Array<[Uint8Array, BencodeInput]> = []
    for (const key of Object.keys(dict)) {
      const item = dict[key]
      if (item === undefined) continue
      entries.push([utf8.encode(key), item])
    }
    entries.sort((a, b) => compareBytes(a[0], b[0]))
    parts.push(Uint8Array.of(CH_D))
    for (const [key, item] of entries) {
      encodeBytes(key, parts)
      encodeInto(item, parts, depth + 1)
    }
    parts.push(Uint8Array.of(CH_E))
  } else {
    throw new TypeError(`bencode: cannot encode ${value === null ? 'null' : typeof value}`)
  }
}

/**
 * BEP 3: "Strings are length-prefixed base ten followed by a colon and the string. For
 * example 4:spam corresponds to 'spam'."
 */
function encodeBytes(bytes: Uint8Array, parts: Uint8Array[]): void {
  parts.push(utf8.encode(`${bytes.length}:`), bytes)
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!
  }
  return a.length - b.length
}

/**
 * Decodes one bencoded value that must span all of `input` (a string is taken as its UTF-8
 * bytes). Never throws: malformed input gives `{ ok: false, reason }` with the byte offset.
 *
 * Accepted leniently, as rtpengine needs: dictionary keys in any order (rtpengine does not
 * sort them); a repeated key keeps its last value. Refused, per BEP 3: leading zeros and
 * `-0` in integers and string lengths, truncation, trailing bytes, nesting beyond 64 levels.
 */
export function decodeBencode(input: Uint8Array | string): BencodeDecodeResult {
  const bytes = typeof input === 'string' ? utf8.encode(input) : input
  const decoder = new Decoder(bytes)
  const value = decoder.value(0)
  if (value === FAIL) return { ok: false, reason: decoder.reason }
  if (decoder.pos !== bytes.length) {
    return { ok: false, reason: `trailing data at offset ${decoder.pos}` }
  }
  return { ok: true, value }
}

const FAIL: unique symbol = Symbol('bencode-fail')
type Step<T> = T | typeof FAIL

class Decoder {
  pos = 0
  reason = ''

  constructor(private readonly bytes: Uint8Array) {}

  value(depth: number): Step<BencodeValue> {
    if (depth > MAX_DEPTH) return this.fail(`nesting deeper than ${MAX_DEPTH}`)
    if (this.pos >= this.bytes.length) return this.fail('unexpected end of input')
    const c = this.bytes[this.pos]!
    if (c === CH_I) return this.integer()
    if (c === CH_L) return this.list(depth)
    if (c === CH_D) return this.dict(depth)
    if (c >= CH_0 && c <= CH_9) {
      const raw = this.byteString()
      return raw === FAIL ? FAIL : textOrBytes(raw)
    }
    return this.fail(`unexpected byte 0x${c.toString(16).padStart(2, '0')}`)
  }

  /**
   * BEP 3: "i-0e is invalid. All encodings with a leading zero, such as i03e, are invalid,
   * other than i0e, which of course corresponds to 0."
   */
  private integer(): Step<number | bigint> {
    const start = this.pos
    this.pos++ // 'i'
    const end = this.bytes.indexOf(CH_E, this.pos)
    if (end < 0) return this.fail('unterminated integer', start)
    const digits = latin1(this.bytes.subarray(this.pos, end))
    if (!/^-?(0|[1-9][0-9]*)$/.test(digits) || digits === '-0') {
      return this.fail(`invalid integer "${digits.slice(0, 24)}"`, start)
    }
    this.pos = end + 1
    const n = Number(digits)
    return Number.isSafeInteger(n) ? n : BigInt(digits)
  }

  private byteString(): Step<Uint8Array> {
    const start = this.pos
    const colon = this.bytes.indexOf(CH_COLON, this.pos)
    if (colon < 0) return this.fail('string length without colon', start)
    const digits = latin1(this.bytes.subarray(this.pos, colon))
    if (!/^(0|[1-9][0-9]*)$/.test(digits)) return this.fail(`invalid string length "${digits.slice(0, 24)}"`, start)
    const length = Number(digits)
    const from = colon + 1
    if (!Number.isSafeInteger(length) || from + length > this.bytes.length) {
      return this.fail(`string of ${digits} bytes runs past the end`, start)
    }
    this.pos = from + length
    return this.bytes.subarray(from, from + length)
  }

  private list(depth: number): Step<BencodeList> {
    const start = this.pos
    this.pos++ // 'l'
    const out: BencodeList = []
    for (;;) {
      if (this.pos >= this.bytes.length) return this.fail('unterminated list', start)
      if (this.bytes[this.pos] === CH_E) {
        this.pos++
        return out
      }
      const item = this.value(depth + 1)
      if (item === FAIL) return FAIL
      out.push(item)
    }
  }

  private dict(depth: number): Step<BencodeDict> {
    const start = this.pos
    this.pos++ // 'd'
    const out: BencodeDict = {}
    for (;;) {
      if (this.pos >= this.bytes.length) return this.fail('unterminated dictionary', start)
      const c = this.bytes[this.pos]!
      if (c === CH_E) {
        this.pos++
        return out
      }
      if (c < CH_0 || c > CH_9) return this.fail('dictionary key is not a byte string')
      const keyBytes = this.byteString()
      if (keyBytes === FAIL) return FAIL
      const key = text(keyBytes)
      if (key === null) return this.fail('dictionary key is not UTF-8')
      const item = this.value(depth + 1)
      if (item === FAIL) return FAIL
      // defineProperty: a "__proto__" key must become an own property, not a prototype.
      Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true })
    }
  }

  private fail(why: string, at = this.pos): typeof FAIL {
    this.reason = `${why} at offset ${at}`
    return FAIL
  }
}

function text(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return null
  }
}

function textOrBytes(bytes: Uint8Array): string | Uint8Array {
  return text(bytes) ?? bytes.slice()
}

function latin1(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += String.fromCharCode(b)
  return s
}

/** The dictionary inside a decoded value, or null when the value is not a dictionary. */
export function asBencodeDict(value: BencodeValue | undefined): BencodeDict | null {
  if (typeof value !== 'object' || value === null) return null
  if (Array.isArray(value) || value instanceof Uint8Array) return null
  return value as BencodeDict
}

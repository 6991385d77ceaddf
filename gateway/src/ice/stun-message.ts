/**
 * STUN message encoding and decoding (RFC 8489 §5, §6.3, §14), with the RFC 3489 framing
 * that §12 asks servers to recognise.
 *
 * - `decodeStunMessage(bytes)` never throws: it returns `{ ok: true, message }` or
 *   `{ ok: false, kind, reason, header }`, where `header` is set when the first 20 bytes
 *   are a readable STUN header (so that a server can still answer 400).
 * - `encodeStunMessage(message, { fingerprint })` builds the wire bytes; attribute values
 *   are padded to 4 bytes with zeros, and FINGERPRINT (when asked for) is computed last.
 * - Attribute helpers: XOR-MAPPED-ADDRESS / MAPPED-ADDRESS (IPv4 and IPv6), SOFTWARE,
 *   ERROR-CODE, UNKNOWN-ATTRIBUTES, FINGERPRINT. MESSAGE-INTEGRITY(-SHA256) is parsed
 *   (its offset is reported) but not verified: the binding service does not authenticate.
 *
 * Attribute values in a decoded message are views into the input buffer (no copies), so
 * decoding a Binding request costs one small array and one object per attribute.
 */

/**
 * RFC 8489 §5: "The Magic Cookie field MUST contain the fixed value 0x2112A442 in network
 * byte order."
 */
export const MAGIC_COOKIE = 0x2112a442

/** RFC 8489 §5: "All STUN messages comprise a 20-byte header followed by zero or more attributes." */
export const STUN_HEADER_LENGTH = 20

/** Length of the transaction ID in bytes (96 bits, RFC 8489 §5). */
export const TRANSACTION_ID_LENGTH = 12

/** Message classes (RFC 8489 §5): the C1 C0 bits of the message type. */
export const StunClass = {
  Request: 0b00,
  Indication: 0b01,
  SuccessResponse: 0b10,
  ErrorResponse: 0b11,
} as const
export type StunClass = (typeof StunClass)[keyof typeof StunClass]

/** Methods (RFC 8489 §18.2). Only Binding is defined by STUN itself. */
export const StunMethod = {
  Binding: 0x001,
} as const

/** Attribute types (RFC 8489 §18.3, plus the ICE ones of RFC 8445 §16.1). */
export const StunAttributeType = {
  // Comprehension-required range (0x0000-0x7FFF)
  MappedAddress: 0x0001,
  Username: 0x0006,
  MessageIntegrity: 0x0008,
  ErrorCode: 0x0009,
  UnknownAttributes: 0x000a,
  Realm: 0x0014,
  Nonce: 0x0015,
  MessageIntegritySha256: 0x001c,
  PasswordAlgorithm: 0x001d,
  Userhash: 0x001e,
  XorMappedAddress: 0x0020,
  Priority: 0x0024,
  UseCandidate: 0x0025,
  // Comprehension-optional range (0x8000-0xFFFF)
  PasswordAlgorithms: 0x8002,
  AlternateDomain: 0x8003,
  Software: 0x8022,
  AlternateServer: 0x8023,
  Fingerprint: 0x8028,
  IceControlled: 0x8029,
  IceControlling: 0x802a,
} as const

/**
 * RFC 8489 §14: "attributes with type values between 0x0000 and 0x7FFF are
 * comprehension-required attributes, which means that the STUN agent cannot successfully
 * process the message unless it understands the attribute."
 */
export function isComprehensionRequired(type: number): boolean {
  return type < 0x8000
}

/** One attribute as it appears on the wire (value without padding). */
export interface StunAttribute {
  type: number
  /** The value bytes, without padding (a view into the decoded buffer). */
  value: Uint8Array
}

/** A STUN message, independent of its wire form. */
export interface StunMessage {
  /** 12-bit method (0x001 = Binding). */
  method: number
  cls: StunClass
  /** 12 bytes (96 bits). */
  transactionId: Uint8Array
  /** In wire order. FINGERPRINT is not listed here: it is checked by decode, added by encode. */
  attributes: StunAttribute[]
  /**
   * Set only for an RFC 3489 message (RFC 8489 §12): the 32 bits found where the magic
   * cookie belongs; they are the first 4 bytes of the old 128-bit transaction ID and are
   * echoed in the response.
   */
  rfc3489Cookie?: number
}

/** What the 20-byte header says (present in failures when the header itself is sound). */
export interface StunHeader {
  method: number
  cls: StunClass
  /** The Message Length field (bytes after the header). */
  length: number
  transactionId: Uint8Array
}

/**
 * Why a datagram was not accepted:
 * - `not-stun`: shorter than a header, first two bits not zero, or no magic cookie;
 * - `bad-length`: the Message Length is not a multiple of 4 or does not match the datagram;
 * - `bad-fingerprint`: a FINGERPRINT attribute whose CRC does not match;
 * - `malformed`: the header is sound but the attributes are not (overrun, FINGERPRINT not
 *   last or of the wrong size).
 */
export type StunDecodeFailureKind = 'not-stun' | 'bad-length' | 'bad-fingerprint' | 'malformed'

export type StunDecodeResult =
  | {
      ok: true
      message: StunMessage
      /** Whether a FINGERPRINT attribute was present (it was valid if so). */
      fingerprint: boolean
      /**
       * Byte offset of the MESSAGE-INTEGRITY attribute (or MESSAGE-INTEGRITY-SHA256 when
       * there is no MESSAGE-INTEGRITY) from the start of the message; -1 when absent.
       */
      integrityOffset: number
    }
  | { ok: false; kind: StunDecodeFailureKind; reason: string; header: StunHeader | null }

export interface DecodeOptions {
  /**
   * Accept an RFC 3489 Binding request (message type 0x0001, no magic cookie; RFC 8489 §12.2).
   * Only the exact type 0x0001 is accepted, so that DTLS and other protocols sharing a port
   * (first byte 20-63, RFC 7983) are never mistaken for STUN.
   */
  allowRfc3489?: boolean
}

/** A transport address carried by (XOR-)MAPPED-ADDRESS. */
export interface TransportAddress {
  family: 'IPv4' | 'IPv6'
  /** Dotted quad for IPv4; RFC 5952 text for IPv6 (lower case, `::` compression). */
  address: string
  port: number
}

export type AddressDecodeResult = { ok: true; value: TransportAddress } | { ok: false; reason: string }

/**
 * RFC 8489 §14.7: "The value of the attribute is computed as the CRC-32 of the STUN
 * message up to (but excluding) the FINGERPRINT attribute itself, XOR'ed with the 32-bit
 * value 0x5354554e."
 */
export const FINGERPRINT_XOR = 0x5354554e

/**
 * RFC 8489 §5, Figure 3 (message type field):
 *
 *    0                 1
 *    2  3  4 5 6 7 8 9 0 1 2 3 4 5
 *   +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |M |M |M|M|M|C|M|M|M|C|M|M|M|M|
 *   |11|10|9|8|7|1|6|5|4|0|3|2|1|0|
 *   +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * "Here the bits in the STUN Message Type field are shown as most significant (M11)
 * through least significant (M0).  M11 through M0 represent a 12-bit encoding of the
 * method.  C1 and C0 represent a 2-bit encoding of the class."
 */
export function encodeMessageType(method: number, cls: StunClass): number {
  return (
    (method & 0x000f) |
    ((method & 0x0070) << 1) |
    ((method & 0x0f80) << 2) |
    ((cls & 0b01) << 4) |
    ((cls & 0b10) << 7)
  )
}

/** Inverse of encodeMessageType (the two leading zero bits are not checked here). */
export function decodeMessageType(type: number): { method: number; cls: StunClass } {
  const method = (type & 0x000f) | ((type >> 1) & 0x0070) | ((type >> 2) & 0x0f80)
  const cls = (((type >> 4) & 0b01) | ((type >> 7) & 0b10)) as StunClass
  return { method, cls }
}

/** CRC-32 (ITU V.42 / IEEE 802.3, the one zlib computes) of `bytes`, as an unsigned 32-bit number. */
function crc32(bytes: Uint8Array): number {
  return Bun.hash.crc32(bytes) >>> 0
}

/**
 * Quick check that a datagram could be STUN, for demultiplexing a shared port (RFC 8489
 * §5: "The most significant 2 bits of every STUN message MUST be zeroes" ... "The magic
 * cookie field MUST contain the fixed value 0x2112A442"). Does not look at the attributes.
 */
export function looksLikeStun(data: Uint8Array): boolean {
  return (
    data.length >= STUN_HEADER_LENGTH &&
    (data[0]! & 0xc0) === 0 &&
    data[4] === 0x21 &&
    data[5] === 0x12 &&
    data[6] === 0xa4 &&
    data[7] === 0x42
  )
}

/**
 * Decodes one STUN message from one datagram (RFC 8489 §5, §6.3, §14). Never throws.
 * The whole of `data` must be the message (UDP framing: one message per datagram).
 */
export function decodeStunMessage(data: Uint8Array, options: DecodeOptions = {}): StunDecodeResult {
  /*
   * RFC 8489 §6.3: "When a STUN agent receives a STUN message, it first checks that the
   * message obeys the rules of Section 5.  It checks that the first two bits are 0, that
   * the Magic Cookie field has the correct value, that the message length is sensible, and
   * that the method value is a supported method."  (The method is for the caller to judge.)
   */
  if (data.length < STUN_HEADER_LENGTH) {
    return { ok: false, kind: 'not-stun', reason: 'shorter than a STUN header', header: null }
  }
  if ((data[0]! & 0xc0) !== 0) {
    return { ok: false, kind: 'not-stun', reason: 'first two bits are not zero', header: null }
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const type = view.getUint16(0)
  const length = view.getUint16(2)
  const cookie = view.getUint32(4)
  let rfc3489Cookie: number | undefined
  if (cookie !== MAGIC_COOKIE) {
    /*
     * RFC 8489 §12.2: "A STUN server can detect when a given Binding request message was
     * sent from an RFC 3489 client by the absence of the correct value in the magic cookie
     * field."
     */
    if (options.allowRfc3489 === true && type === encodeMessageType(StunMethod.Binding, StunClass.Request)) {
      rfc3489Cookie = cookie
    } else {
      return { ok: false, kind: 'not-stun', reason: 'no magic cookie', header: null }
    }
  }
  const { method, cls } = decodeMessageType(type)
  const header: StunHeader = {
    method,
    cls,
    length,
    transactionId: data.subarray(8, STUN_HEADER_LENGTH),
  }

  /*
   * RFC 8489 §5: "The message length MUST contain the size of the message in bytes, not
   * including the 20-byte STUN header.  Since all STUN attributes are padded to a multiple
   * of 4 bytes, the last 2 bits of this field are always zero."
   */
  if ((length & 3) !== 0) {
    return { ok: false, kind: 'bad-length', reason: `message length ${length} is not a multiple of 4`, header }
  }
  if (STUN_HEADER_LENGTH + length !== data.length) {
    return {
      ok: false,
      kind: 'bad-length',
      reason: `message length ${length} does not match the ${data.length - STUN_HEADER_LENGTH} bytes after the header`,
      header,
    }
  }

  const attributes: StunAttribute[] = []
  let fingerprint = false
  let integrityOffset = -1
  let afterIntegrity = false
  let offset = STUN_HEADER_LENGTH
  const end = data.length
  while (offset < end) {
    /*
     * RFC 8489 §14: "After the STUN header are zero or more attributes.  Each attribute MUST
     * be TLV encoded, with a 16-bit type, 16-bit length, and value.  Each STUN attribute MUST
     * end on a 32-bit boundary."  "The value in the length field MUST contain the length of
     * the Value part of the attribute, prior to padding, measured in bytes."  "... the
     * padding bits MUST be set to zero on sending and MUST be ignored by the receiver."
     */
    if (offset + 4 > end) {
      return { ok: false, kind: 'malformed', reason: `truncated attribute header at byte ${offset}`, header }
    }
    if (fingerprint) {
      /*
       * RFC 8489 §14.7: "When present, the FINGERPRINT attribute MUST be the last attribute
       * in the message and thus will appear after MESSAGE-INTEGRITY and
       * MESSAGE-INTEGRITY-SHA256."
       */
      return { ok: false, kind: 'malformed', reason: 'attribute after FINGERPRINT', header }
    }
    const attrType = view.getUint16(offset)
    const attrLength = view.getUint16(offset + 2)
    const valueStart = offset + 4
    const valueEnd = valueStart + attrLength
    const next = valueStart + ((attrLength + 3) & ~3)
    if (next > end) {
      return {
        ok: false,
        kind: 'malformed',
        reason: `attribute 0x${attrType.toString(16).padStart(4, '0')} of length ${attrLength} overruns the message`,
        header,
      }
    }

    if (attrType === StunAttributeType.Fingerprint && rfc3489Cookie === undefined) {
      if (attrLength !== 4) {
        return { ok: false, kind: 'malformed', reason: `FINGERPRINT of length ${attrLength}`, header }
      }
      /*
       * RFC 8489 §14.7: "As with MESSAGE-INTEGRITY and MESSAGE-INTEGRITY-SHA256, the CRC
       * used in the FINGERPRINT attribute covers the Length field from the STUN message
       * header.  Therefore, prior to computation of the CRC, this value must be correct and
       * include the CRC attribute as part of the message length."  (It does here: the
       * received header already counts FINGERPRINT.)
       */
      const expected = (crc32(data.subarray(0, offset)) ^ FINGERPRINT_XOR) >>> 0
      if (view.getUint32(valueStart) !== expected) {
        return { ok: false, kind: 'bad-fingerprint', reason: 'FINGERPRINT does not match the message', header }
      }
      fingerprint = true
    } else if (afterIntegrity) {
      /*
       * RFC 8489 §14.5: "With the exception of the MESSAGE-INTEGRITY-SHA256 and FINGERPRINT
       * attributes, which appear after MESSAGE-INTEGRITY, agents MUST ignore all other
       * attributes that follow MESSAGE-INTEGRITY."
       */
      if (attrType === StunAttributeType.MessageIntegritySha256) {
        attributes.push({ type: attrType, value: data.subarray(valueStart, valueEnd) })
      }
    } else {
      if (attrType === StunAttributeType.MessageIntegrity || attrType === StunAttributeType.MessageIntegritySha256) {
        if (integrityOffset < 0 || attrType === StunAttributeType.MessageIntegrity) integrityOffset = offset
        afterIntegrity = true
      }
      attributes.push({ type: attrType, value: data.subarray(valueStart, valueEnd) })
    }
    offset = next
  }

  const message: StunMessage = { method, cls, transactionId: header.transactionId, attributes }
  if (rfc3489Cookie !== undefined) message.rfc3489Cookie = rfc3489Cookie
  return { ok: true, message, fingerprint, integrityOffset }
}

export interface EncodeOptions {
  /** Append a FINGERPRINT attribute (RFC 8489 §14.7). Default false. */
  fingerprint?: boolean
}

/**
 * Encodes a STUN message (RFC 8489 §5, §14). Attribute values are padded with zero bytes
 * to a multiple of 4; the Message Length counts the padding. With `fingerprint`, a
 * FINGERPRINT attribute is appended last, its CRC covering the header with the final
 * length. Throws RangeError when the transaction ID is not 12 bytes or an attribute value
 * is longer than 65535 bytes (programming errors, not wire input).
 */
export function encodeStunMessage(message: StunMessage, options: EncodeOptions = {}): Uint8Array {
  if (message.transactionId.length !== TRANSACTION_ID_LENGTH) {
    throw new RangeError(`transaction ID must be ${TRANSACTION_ID_LENGTH} bytes, got ${message.transactionId.length}`)
  }
  let bodyLength = 0
  for (const a of message.attributes) {
    if (a.value.length > 0xffff) throw new RangeError(`attribute 0x${a.type.toString(16)} value too long`)
    bodyLength += 4 + ((a.value.length + 3) & ~3)
  }
  const withFingerprint = options.fingerprint === true
  const total = STUN_HEADER_LENGTH + bodyLength + (withFingerprint ? 8 : 0)
  const out = new Uint8Array(total)
  const view = new DataView(out.buffer)
  /*
   * RFC 8489 §5: "The most significant 2 bits of every STUN message MUST be zeroes."
   */
  view.setUint16(0, encodeMessageType(message.method, message.cls) & 0x3fff)
  view.setUint16(2, total - STUN_HEADER_LENGTH)
  view.setUint32(4, message.rfc3489Cookie ?? MAGIC_COOKIE)
  out.set(message.transactionId, 8)
  let offset = STUN_HEADER_LENGTH
  for (const a of message.attributes) {
    view.setUint16(offset, a.type)
    view.setUint16(offset + 2, a.value.length)
    out.set(a.value, offset + 4)
    offset += 4 + ((a.value.length + 3) & ~3) // padding bytes stay zero
  }
  if (withFingerprint) {
    view.setUint16(offset, StunAttributeType.Fingerprint)
    view.setUint16(offset + 2, 4)
    view.setUint32(offset + 4, (crc32(out.subarray(0, offset)) ^ FINGERPRINT_XOR) >>> 0)
  }
  return out
}

/** The first attribute of `type` (RFC 8489 §14: "only the first occurrence needs to be processed"). */
export function findAttribute(message: StunMessage, type: number): StunAttribute | undefined {
  for (const a of message.attributes) if (a.type === type) return a
  return undefined
}

// ---------------------------------------------------------------------------------------
// IP address text <-> bytes

/**
 * Parses an IPv4 dotted quad or IPv6 text (with `::`, an embedded dotted quad, an optional
 * `%zone` and optional brackets) into 4 or 16 bytes. IPv4-mapped IPv6 addresses
 * (`::ffff:a.b.c.d`, what a dual-stack socket reports for IPv4 peers) come back as IPv4.
 * Returns null for anything else. Never throws.
 */
export function parseIpAddress(text: string): { family: 'IPv4' | 'IPv6'; bytes: Uint8Array } | null {
  let s = text
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1)
  const v4 = parseIpv4(s)
  if (v4 !== null) return { family: 'IPv4', bytes: v4 }
  const pct = s.indexOf('%')
  if (pct >= 0) s = s.slice(0, pct)
  const v6 = parseIpv6(s)
  if (v6 === null) return null
  let mapped = v6[10] === 0xff && v6[11] === 0xff
  for (let i = 0; i < 10 && mapped; i++) if (v6[i] !== 0) mapped = false
  if (mapped) return { family: 'IPv4', bytes: v6.slice(12) }
  return { family: 'IPv6', bytes: v6 }
}

function parseIpv4(s: string): Uint8Array | null {
  const parts = s.split('.')
  if (parts.length !== 4) return null
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!
    if (!/^\d{1,3}$/.test(p)) return null
    const n = Number(p)
    if (n > 255) return null
    out[i] = n
  }
  return out
}

function parseIpv6(s: string): Uint8Array | null {
  if (s.length === 0 || !/^[0-9A-Fa-f:.]+$/.test(s)) return null
  const dbl = s.indexOf('::')
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return null
  const groups: number[] = []
  const parseSide = (side: string): number[] | null => {
    if (side === '') return []
    const out: number[] = []
    const pieces = side.split(':')
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i]!
      if (i === pieces.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p)
        if (v4 === null) return null
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!)
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(p)) return null
        out.push(parseInt(p, 16))
      }
    }
    return out
  }
  if (dbl >= 0) {
    const head = parseSide(s.slice(0, dbl))
    const tail = parseSide(s.slice(dbl + 2))
    if (head === null || tail === null || head.length + tail.length > 7) return null
    groups.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail)
  } else {
    const all = parseSide(s)
    if (all === null || all.length !== 8) return null
    groups.push(...all)
  }
  const out = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    out[2 * i] = groups[i]! >> 8
    out[2 * i + 1] = groups[i]! & 0xff
  }
  return out
}

/** Formats 4 or 16 address bytes as text (IPv6 per RFC 5952: lower case, longest zero run as `::`). */
export function formatIpAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`
  const g: number[] = []
  for (let i = 0; i < 8; i++) g.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!)
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && g[j] === 0) j++
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':')
  if (bestStart < 0) return hex(0, 8)
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`
}

// ---------------------------------------------------------------------------------------
// Attribute values

/*
 * RFC 8489 §14.1 (MAPPED-ADDRESS):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |0 0 0 0 0 0 0 0|    Family     |           Port                |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |                 Address (32 bits or 128 bits)                 |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * "The address family can take on the following values: 0x01:IPv4 0x02:IPv6"
 * "The first 8 bits of the MAPPED-ADDRESS MUST be set to 0 and MUST be ignored by receivers."
 */
const FAMILY_IPV4 = 0x01
const FAMILY_IPV6 = 0x02

function addressValue(family: 'IPv4' | 'IPv6', port: number, addr: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + addr.length)
  out[1] = family === 'IPv4' ? FAMILY_IPV4 : FAMILY_IPV6
  out[2] = (port >> 8) & 0xff
  out[3] = port & 0xff
  out.set(addr, 4)
  return out
}

function addressBytes(address: TransportAddress): Uint8Array {
  const parsed = parseIpAddress(address.address)
  if (parsed === null) throw new RangeError(`not an IP address: ${address.address}`)
  return parsed.bytes
}

/** Reads family, port and address bytes; checks the length against the family. */
function readAddressValue(value: Uint8Array): { ok: true; family: 'IPv4' | 'IPv6'; port: number; addr: Uint8Array } | { ok: false; reason: string } {
  if (value.length < 4) return { ok: false, reason: 'address attribute shorter than 4 bytes' }
  const family = value[1]
  const port = (value[2]! << 8) | value[3]!
  if (family === FAMILY_IPV4) {
    if (value.length !== 8) return { ok: false, reason: `IPv4 address attribute of length ${value.length}` }
    return { ok: true, family: 'IPv4', port, addr: value.subarray(4, 8) }
  }
  if (family === FAMILY_IPV6) {
    if (value.length !== 20) return { ok: false, reason: `IPv6 address attribute of length ${value.length}` }
    return { ok: true, family: 'IPv6', port, addr: value.subarray(4, 20) }
  }
  return { ok: false, reason: `unknown address family 0x${(family ?? 0).toString(16)}` }
}

/** MAPPED-ADDRESS value (RFC 8489 §14.1). Throws RangeError for a non-IP address string. */
export function encodeMappedAddress(address: TransportAddress): Uint8Array {
  const bytes = addressBytes(address)
  return addressValue(bytes.length === 4 ? 'IPv4' : 'IPv6', address.port, bytes)
}

/** Decodes a MAPPED-ADDRESS value (RFC 8489 §14.1). Never throws. */
export function decodeMappedAddress(value: Uint8Array): AddressDecodeResult {
  const r = readAddressValue(value)
  if (!r.ok) return r
  return { ok: true, value: { family: r.family, address: formatIpAddress(r.addr), port: r.port } }
}

/*
 * RFC 8489 §14.2 (XOR-MAPPED-ADDRESS): "X-Port is computed by XOR'ing the mapped port with
 * the most significant 16 bits of the magic cookie.  If the IP address family is IPv4,
 * X-Address is computed by XOR'ing the mapped IP address with the magic cookie.  If the IP
 * address family is IPv6, X-Address is computed by XOR'ing the mapped IP address with the
 * concatenation of the magic cookie and the 96-bit transaction ID.  In all cases, the XOR
 * operation works on its inputs in network byte order (that is, the order they will be
 * encoded in the message)."
 */
const COOKIE_BYTES = new Uint8Array([0x21, 0x12, 0xa4, 0x42])

function xorAddress(addr: Uint8Array, transactionId: Uint8Array): Uint8Array {
  const out = new Uint8Array(addr.length)
  for (let i = 0; i < addr.length; i++) {
    const key = i < 4 ? COOKIE_BYTES[i]! : transactionId[i - 4]!
    out[i] = addr[i]! ^ key
  }
  return out
}

/**
 * XOR-MAPPED-ADDRESS value (RFC 8489 §14.2) for `address` in a message with
 * `transactionId` (12 bytes). Throws RangeError for a non-IP address string.
 */
export function encodeXorMappedAddress(address: TransportAddress, transactionId: Uint8Array): Uint8Array {
  const bytes = addressBytes(address)
  return addressValue(bytes.length === 4 ? 'IPv4' : 'IPv6', address.port ^ (MAGIC_COOKIE >>> 16), xorAddress(bytes, transactionId))
}

/** Decodes an XOR-MAPPED-ADDRESS value (RFC 8489 §14.2). Never throws. */
export function decodeXorMappedAddress(value: Uint8Array, transactionId: Uint8Array): AddressDecodeResult {
  const r = readAddressValue(value)
  if (!r.ok) return r
  if (transactionId.length !== TRANSACTION_ID_LENGTH) return { ok: false, reason: 'transaction ID is not 12 bytes' }
  return {
    ok: true,
    value: {
      family: r.family,
      address: formatIpAddress(xorAddress(r.addr, transactionId)),
      port: r.port ^ (MAGIC_COOKIE >>> 16),
    },
  }
}

/**
 * SOFTWARE value (RFC 8489 §14.14: "It MUST be a UTF-8-encoded [RFC3629] sequence of fewer
 * than 128 characters (which can be as long as 509 when encoding them and as long as 763
 * bytes when decoding them)."). Longer text is cut to 127 characters.
 */
export function encodeSoftware(text: string): Uint8Array {
  const chars = Array.from(text)
  return new TextEncoder().encode(chars.length > 127 ? chars.slice(0, 127).join('') : text)
}

/** Decodes a SOFTWARE (or any UTF-8 text) value; invalid UTF-8 becomes U+FFFD. Never throws. */
export function decodeText(value: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: false }).decode(value)
}

/*
 * RFC 8489 §14.8 (ERROR-CODE):
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |           Reserved, should be 0         |Class|     Number    |
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *   |      Reason Phrase (variable)                                ..
 *   +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * "The Class represents the hundreds digit of the error code.  The value MUST be between 3
 * and 6.  The Number represents the binary encoding of the error code modulo 100, and its
 * value MUST be between 0 and 99."
 */

/** ERROR-CODE value. Throws RangeError when `code` is not 300..699. */
export function encodeErrorCode(code: number, reason: string): Uint8Array {
  if (!Number.isInteger(code) || code < 300 || code > 699) throw new RangeError(`STUN error code out of range: ${code}`)
  const phrase = encodeSoftware(reason) // same "fewer than 128 characters" rule
  const out = new Uint8Array(4 + phrase.length)
  out[2] = Math.floor(code / 100)
  out[3] = code % 100
  out.set(phrase, 4)
  return out
}

/** Decodes an ERROR-CODE value. Never throws. */
export function decodeErrorCode(value: Uint8Array): { ok: true; code: number; reason: string } | { ok: false; reason: string } {
  if (value.length < 4) return { ok: false, reason: 'ERROR-CODE shorter than 4 bytes' }
  const cls = value[2]! & 0x07
  const num = value[3]!
  if (cls < 3 || cls > 6 || num > 99) return { ok: false, reason: `ERROR-CODE class ${cls} number ${num} out of range` }
  return { ok: true, code: cls * 100 + num, reason: decodeText(value.subarray(4)) }
}

/**
 * UNKNOWN-ATTRIBUTES value (RFC 8489 §14.13: "The attribute contains a list of 16-bit
 * values, each of which represents an attribute type that was not understood by the
 * server."  "In this version of the specification, the normal padding rules for
 * attributes are used instead" of RFC 3489's duplicated last type).
 */
export function encodeUnknownAttributes(types: readonly number[]): Uint8Array {
  const out = new Uint8Array(types.length * 2)
  types.forEach((t, i) => {
    out[2 * i] = (t >> 8) & 0xff
    out[2 * i + 1] = t & 0xff
  })
  return out
}

/** Decodes an UNKNOWN-ATTRIBUTES value (an odd trailing byte is ignored). Never throws. */
export function decodeUnknownAttributes(value: Uint8Array): number[] {
  const out: number[] = []
  for (let i = 0; i + 1 < value.length; i += 2) out.push((value[i]! << 8) | value[i + 1]!)
  return out
}

/** A fresh random 96-bit transaction ID (RFC 8489 §5: "uniformly and randomly chosen from the interval 0 .. 2**96-1"). */
export function newTransactionId(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(TRANSACTION_ID_LENGTH))
}

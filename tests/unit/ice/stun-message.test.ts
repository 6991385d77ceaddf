import { describe, expect, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import {
  MAGIC_COOKIE,
  StunAttributeType,
  StunClass,
  StunMethod,
  decodeErrorCode,
  decodeMappedAddress,
  decodeMessageType,
  decodeStunMessage,
  decodeText,
  decodeUnknownAttributes,
  decodeXorMappedAddress,
  encodeErrorCode,
  encodeMappedAddress,
  encodeMessageType,
  encodeSoftware,
  encodeStunMessage,
  encodeUnknownAttributes,
  encodeXorMappedAddress,
  findAttribute,
  formatIpAddress,
  looksLikeStun,
  newTransactionId,
  parseIpAddress,
  type StunMessage,
} from '../../../gateway/src/ice/stun-message.ts'

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)))

/*
 * RFC 5769 §2.1 "Sample Request": software "STUN test client", username "evtj:h6vY",
 * password "VOkJxbRl1RmTxUk/WvJxBt" (short-term credential). Bytes as printed in the RFC
 * (USERNAME padded with three 0x20 bytes, which receivers ignore).
 */
const RFC5769_REQUEST = hex(`
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff
  80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf`)

/* RFC 5769 §2.2 "Sample IPv4 Response": software "test vector", mapped address 192.0.2.1 port 32853. */
const RFC5769_IPV4_RESPONSE = hex(`
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96`)

/* RFC 5769 §2.3 "Sample IPv6 Response": mapped address 2001:db8:1234:5678:11:2233:4455:6677 port 32853. */
const RFC5769_IPV6_RESPONSE = hex(`
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c`)

const RFC5769_TID = hex('b7e7a701bc34d686fa87dfae')
const RFC5769_PASSWORD = 'VOkJxbRl1RmTxUk/WvJxBt'

/**
 * Independent check that the vectors above were copied correctly: the MESSAGE-INTEGRITY
 * HMAC-SHA1 (RFC 8489 §14.5: over the message up to the attribute, with the header length
 * counting up to and including MESSAGE-INTEGRITY) computed with node:crypto.
 */
function messageIntegrityMatches(msg: Uint8Array, integrityOffset: number, key: string): boolean {
  const copy = msg.slice(0, integrityOffset)
  const len = integrityOffset - 20 + 24
  copy[2] = len >> 8
  copy[3] = len & 0xff
  const mac = createHmac('sha1', key).update(copy).digest()
  return Buffer.from(msg.subarray(integrityOffset + 4, integrityOffset + 24)).equals(mac)
}

describe('RFC 5769 test vectors', () => {
  test('§2.1 sample request: header, attributes, valid FINGERPRINT', () => {
    const r = decodeStunMessage(RFC5769_REQUEST)
    if (!r.ok) throw new Error(r.reason)
    expect(r.fingerprint).toBe(true)
    expect(r.message.method).toBe(StunMethod.Binding)
    expect(r.message.cls).toBe(StunClass.Request)
    expect([...r.message.transactionId]).toEqual([...RFC5769_TID])
    expect(r.message.attributes.map((a) => a.type)).toEqual([
      StunAttributeType.Software,
      StunAttributeType.Priority,
      StunAttributeType.IceControlled,
      StunAttributeType.Username,
      StunAttributeType.MessageIntegrity,
    ])
    expect(decodeText(findAttribute(r.message, StunAttributeType.Software)!.value)).toBe('STUN test client')
    expect(decodeText(findAttribute(r.message, StunAttributeType.Username)!.value)).toBe('evtj:h6vY')
    expect(r.integrityOffset).toBe(108 - 8 - 24)
    expect(messageIntegrityMatches(RFC5769_REQUEST, r.integrityOffset, RFC5769_PASSWORD)).toBe(true)
  })

  test('§2.2 sample IPv4 response: XOR-MAPPED-ADDRESS is 192.0.2.1:32853, FINGERPRINT valid', () => {
    const r = decodeStunMessage(RFC5769_IPV4_RESPONSE)
    if (!r.ok) throw new Error(r.reason)
    expect(r.fingerprint).toBe(true)
    expect(r.message.cls).toBe(StunClass.SuccessResponse)
    expect(decodeText(findAttribute(r.message, StunAttributeType.Software)!.value)).toBe('test vector')
    const xma = decodeXorMappedAddress(findAttribute(r.message, StunAttributeType.XorMappedAddress)!.value, r.message.transactionId)
    expect(xma).toEqual({ ok: true, value: { family: 'IPv4', address: '192.0.2.1', port: 32853 } })
    expect(messageIntegrityMatches(RFC5769_IPV4_RESPONSE, r.integrityOffset, RFC5769_PASSWORD)).toBe(true)
  })

  test('§2.3 sample IPv6 response: XOR-MAPPED-ADDRESS decodes with the transaction ID', () => {
    const r = decodeStunMessage(RFC5769_IPV6_RESPONSE)
    if (!r.ok) throw new Error(r.reason)
    expect(r.fingerprint).toBe(true)
    const xma = decodeXorMappedAddress(findAttribute(r.message, StunAttributeType.XorMappedAddress)!.value, r.message.transactionId)
    expect(xma).toEqual({ ok: true, value: { family: 'IPv6', address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 } })
  })

  test('encoding the §2.2 response ourselves gives the same XOR-MAPPED-ADDRESS bytes', () => {
    const v = encodeXorMappedAddress({ family: 'IPv4', address: '192.0.2.1', port: 32853 }, RFC5769_TID)
    expect([...v]).toEqual([...hex('0001a147e112a643')])
    const v6 = encodeXorMappedAddress({ family: 'IPv6', address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 }, RFC5769_TID)
    expect([...v6]).toEqual([...hex('0002a1470113a9faa5d3f179bc25f4b5bed2b9d9')])
  })

  test('a flipped bit anywhere before FINGERPRINT is caught', () => {
    const bad = RFC5769_IPV4_RESPONSE.slice()
    bad[30] = bad[30]! ^ 0x01 // inside SOFTWARE
    const r = decodeStunMessage(bad)
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.kind).toBe('bad-fingerprint')
      expect(r.header?.cls).toBe(StunClass.SuccessResponse)
    }
  })

  test('re-encoding the decoded §2.1 request with FINGERPRINT reproduces it byte for byte (zero padding aside)', () => {
    const r = decodeStunMessage(RFC5769_REQUEST)
    if (!r.ok) throw new Error(r.reason)
    const out = encodeStunMessage(r.message, { fingerprint: true })
    expect(out.length).toBe(RFC5769_REQUEST.length)
    // Only the USERNAME padding differs (we pad with zeros, as RFC 8489 requires).
    const diff: number[] = []
    for (let i = 0; i < out.length; i++) if (out[i] !== RFC5769_REQUEST[i]) diff.push(i)
    expect(diff.slice(0, 3)).toEqual([73, 74, 75])
    expect(diff.slice(3).every((i) => i >= 104)).toBe(true) // ...and so the FINGERPRINT value
    // And our own FINGERPRINT over our bytes verifies.
    expect(decodeStunMessage(out).ok).toBe(true)
  })
})

describe('message type', () => {
  test('Binding request/indication/success/error types of RFC 8489 §5', () => {
    expect(encodeMessageType(StunMethod.Binding, StunClass.Request)).toBe(0x0001)
    expect(encodeMessageType(StunMethod.Binding, StunClass.Indication)).toBe(0x0011)
    expect(encodeMessageType(StunMethod.Binding, StunClass.SuccessResponse)).toBe(0x0101)
    expect(encodeMessageType(StunMethod.Binding, StunClass.ErrorResponse)).toBe(0x0111)
  })

  test('every 12-bit method and class round-trips', () => {
    for (let method = 0; method < 0x1000; method += 7) {
      for (const cls of [0, 1, 2, 3] as const) {
        const t = encodeMessageType(method, cls)
        expect(t & 0xc000).toBe(0)
        expect(decodeMessageType(t)).toEqual({ method, cls })
      }
    }
  })
})

describe('encode / decode round trips', () => {
  const tid = newTransactionId()

  test('a response with XOR-MAPPED-ADDRESS (IPv4, IPv6), MAPPED-ADDRESS, SOFTWARE and FINGERPRINT', () => {
    const msg: StunMessage = {
      method: StunMethod.Binding,
      cls: StunClass.SuccessResponse,
      transactionId: tid,
      attributes: [
        { type: StunAttributeType.XorMappedAddress, value: encodeXorMappedAddress({ family: 'IPv4', address: '203.0.113.7', port: 54321 }, tid) },
        { type: StunAttributeType.XorMappedAddress, value: encodeXorMappedAddress({ family: 'IPv6', address: 'fe80::1', port: 1 }, tid) },
        { type: StunAttributeType.MappedAddress, value: encodeMappedAddress({ family: 'IPv4', address: '10.1.2.3', port: 65535 }) },
        { type: StunAttributeType.Software, value: encodeSoftware('Patchbay') },
      ],
    }
    const wire = encodeStunMessage(msg, { fingerprint: true })
    expect(wire.length).toBe(20 + 12 + 24 + 12 + 12 + 8)
    expect(new DataView(wire.buffer).getUint32(4)).toBe(MAGIC_COOKIE)
    expect(new DataView(wire.buffer).getUint16(2)).toBe(wire.length - 20)
    expect(looksLikeStun(wire)).toBe(true)
    const r = decodeStunMessage(wire)
    if (!r.ok) throw new Error(r.reason)
    expect(r.fingerprint).toBe(true)
    const [a4, a6, m4, sw] = r.message.attributes
    expect(decodeXorMappedAddress(a4!.value, tid)).toEqual({ ok: true, value: { family: 'IPv4', address: '203.0.113.7', port: 54321 } })
    expect(decodeXorMappedAddress(a6!.value, tid)).toEqual({ ok: true, value: { family: 'IPv6', address: 'fe80::1', port: 1 } })
    expect(decodeMappedAddress(m4!.value)).toEqual({ ok: true, value: { family: 'IPv4', address: '10.1.2.3', port: 65535 } })
    expect(decodeText(sw!.value)).toBe('Patchbay')
  })

  test('padding: odd-length values are zero-padded and the length field excludes padding', () => {
    const msg: StunMessage = {
      method: StunMethod.Binding,
      cls: StunClass.Request,
      transactionId: tid,
      attributes: [{ type: StunAttributeType.Software, value: encodeSoftware('abcde') }],
    }
    const wire = encodeStunMessage(msg)
    expect(wire.length).toBe(20 + 4 + 8)
    expect(new DataView(wire.buffer).getUint16(22)).toBe(5)
    expect([...wire.subarray(29, 32)]).toEqual([0, 0, 0])
    const r = decodeStunMessage(wire)
    expect(r.ok && r.fingerprint).toBe(false)
    if (r.ok) expect(decodeText(r.message.attributes[0]!.value)).toBe('abcde')
  })

  test('ERROR-CODE and UNKNOWN-ATTRIBUTES', () => {
    expect(decodeErrorCode(encodeErrorCode(420, 'Unknown Attribute'))).toEqual({ ok: true, code: 420, reason: 'Unknown Attribute' })
    expect(decodeErrorCode(encodeErrorCode(699, ''))).toEqual({ ok: true, code: 699, reason: '' })
    expect([...encodeErrorCode(401, 'x').subarray(0, 4)]).toEqual([0, 0, 4, 1])
    expect(() => encodeErrorCode(200, 'no')).toThrow(RangeError)
    expect(decodeErrorCode(hex('00000200'))).toMatchObject({ ok: false })
    expect(decodeUnknownAttributes(encodeUnknownAttributes([0x0003, 0x7fff, 0x0042]))).toEqual([0x0003, 0x7fff, 0x0042])
  })

  test('attributes after MESSAGE-INTEGRITY are ignored, except FINGERPRINT', () => {
    const msg: StunMessage = {
      method: StunMethod.Binding,
      cls: StunClass.Request,
      transactionId: tid,
      attributes: [
        { type: StunAttributeType.Username, value: encodeSoftware('u') },
        { type: StunAttributeType.MessageIntegrity, value: new Uint8Array(20) },
        { type: 0x0003, value: new Uint8Array(4) }, // would be unknown comprehension-required
      ],
    }
    const r = decodeStunMessage(encodeStunMessage(msg, { fingerprint: true }))
    if (!r.ok) throw new Error(r.reason)
    expect(r.fingerprint).toBe(true)
    expect(r.integrityOffset).toBe(20 + 8)
    expect(r.message.attributes.map((a) => a.type)).toEqual([StunAttributeType.Username, StunAttributeType.MessageIntegrity])
  })
})

describe('decode failures never throw', () => {
  const base = encodeStunMessage(
    {
      method: StunMethod.Binding,
      cls: StunClass.Request,
      transactionId: hex('000102030405060708090a0b'),
      attributes: [{ type: StunAttributeType.Software, value: encodeSoftware('abcd') }],
    },
    { fingerprint: true },
  )

  test.each([
    ['empty', new Uint8Array(0), 'not-stun'],
    ['19 bytes', base.slice(0, 19), 'not-stun'],
    ['first bits 01', Uint8Array.from([0x40, ...base.slice(1)]), 'not-stun'],
    ['SIP text', new TextEncoder().encode('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n\r\n'), 'not-stun'],
    ['RTP-like', Uint8Array.from([0x80, 0x00, ...base.slice(2)]), 'not-stun'],
    ['length not multiple of 4', (() => { const b = base.slice(); b[3] = b[3]! + 1; return b })(), 'bad-length'],
    ['truncated datagram', base.slice(0, base.length - 4), 'bad-length'],
  ] as const)('%s', (_name, bytes, kind) => {
    const r = decodeStunMessage(bytes)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.kind).toBe(kind)
  })

  test('attribute overrunning the message is malformed, with the header readable', () => {
    const b = base.slice()
    new DataView(b.buffer).setUint16(22, 200) // SOFTWARE length 200
    const r = decodeStunMessage(b)
    expect(r.ok).toBe(false)
    if (!r.ok) {
      expect(r.kind).toBe('malformed')
      expect(r.header).not.toBeNull()
      expect(r.header!.method).toBe(StunMethod.Binding)
      expect(r.header!.cls).toBe(StunClass.Request)
    }
  })

  test('FINGERPRINT not last is malformed', () => {
    const withFp = encodeStunMessage({ method: 1, cls: 0, transactionId: newTransactionId(), attributes: [] }, { fingerprint: true })
    const extended = new Uint8Array(withFp.length + 8)
    extended.set(withFp)
    extended.set([0x80, 0x22, 0x00, 0x04, 0x61, 0x62, 0x63, 0x64], withFp.length)
    const v = new DataView(extended.buffer)
    v.setUint16(2, extended.length - 20)
    // A FINGERPRINT that is valid for the new header, so that only its position is wrong.
    const fpAt = withFp.length - 8
    v.setUint32(fpAt + 4, (Bun.hash.crc32(extended.subarray(0, fpAt)) ^ 0x5354554e) >>> 0)
    const r = decodeStunMessage(extended)
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.reason).toBe('attribute after FINGERPRINT')
  })

  test('random bytes: thousands of inputs, no throw', () => {
    let seed = 12345
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff
    for (let n = 0; n < 3000; n++) {
      const len = rnd() % 80
      const b = new Uint8Array(len)
      for (let i = 0; i < len; i++) b[i] = rnd()
      if (len >= 8 && n % 2 === 0) b.set([0x00, 0x01, 0, (len - 20) & 0xfc, 0x21, 0x12, 0xa4, 0x42])
      const r = decodeStunMessage(b, { allowRfc3489: true })
      expect(typeof r.ok).toBe('boolean')
    }
  })

  test('RFC 3489 requests only with allowRfc3489, and only type 0x0001', () => {
    const legacy = base.slice(0, 20)
    legacy.set([0xde, 0xad, 0xbe, 0xef], 4)
    legacy[2] = 0
    legacy[3] = 0
    expect(decodeStunMessage(legacy).ok).toBe(false)
    const r = decodeStunMessage(legacy, { allowRfc3489: true })
    expect(r.ok && r.message.rfc3489Cookie).toBe(0xdeadbeef)
    const indication = legacy.slice()
    indication[1] = 0x11
    expect(decodeStunMessage(indication, { allowRfc3489: true }).ok).toBe(false)
  })
})

describe('IP address text', () => {
  test.each([
    ['127.0.0.1', 'IPv4', '127.0.0.1'],
    ['::1', 'IPv6', '::1'],
    ['[2001:DB8::1]', 'IPv6', '2001:db8::1'],
    ['::ffff:192.0.2.5', 'IPv4', '192.0.2.5'],
    ['fe80::1%eth0', 'IPv6', 'fe80::1'],
    ['2001:db8:0:0:1:0:0:1', 'IPv6', '2001:db8::1:0:0:1'],
    ['1:2:3:4:5:6:7:8', 'IPv6', '1:2:3:4:5:6:7:8'],
    ['::', 'IPv6', '::'],
  ] as const)('%s', (text, family, formatted) => {
    const p = parseIpAddress(text)
    expect(p?.family).toBe(family)
    expect(formatIpAddress(p!.bytes)).toBe(formatted)
  })

  test.each(['', '256.0.0.1', '1.2.3', 'example.com', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', '01.2.3.4.5'])('rejects %p', (text) => {
    expect(parseIpAddress(text)).toBeNull()
  })

  test('decoding a bad family or length fails without throwing', () => {
    expect(decodeXorMappedAddress(hex('00030000'), RFC5769_TID).ok).toBe(false)
    expect(decodeXorMappedAddress(hex('0001a147e112a6'), RFC5769_TID).ok).toBe(false)
    expect(decodeMappedAddress(hex('0002a147e112a643')).ok).toBe(false)
    expect(decodeMappedAddress(new Uint8Array(0)).ok).toBe(false)
  })
})

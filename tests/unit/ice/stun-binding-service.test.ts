import { afterAll, describe, expect, test } from 'bun:test'
import type { udp } from 'bun'
import { DEFAULT_SOFTWARE, StunBindingService, handleStunDatagram } from '../../../gateway/src/ice/stun-binding-service.ts'
import {
  StunAttributeType,
  StunClass,
  StunMethod,
  decodeErrorCode,
  decodeMappedAddress,
  decodeStunMessage,
  decodeText,
  decodeUnknownAttributes,
  decodeXorMappedAddress,
  encodeSoftware,
  encodeStunMessage,
  findAttribute,
  newTransactionId,
  type StunAttribute,
  type StunMessage,
} from '../../../gateway/src/ice/stun-message.ts'

const source = { address: '198.51.100.20', port: 40123 }

function request(attributes: StunAttribute[] = [], opts: { fingerprint?: boolean; cls?: StunMessage['cls']; method?: number } = {}) {
  const transactionId = newTransactionId()
  const bytes = encodeStunMessage(
    { method: opts.method ?? StunMethod.Binding, cls: opts.cls ?? StunClass.Request, transactionId, attributes },
    { fingerprint: opts.fingerprint ?? false },
  )
  return { bytes, transactionId }
}

function decodeResponse(bytes: Uint8Array | null) {
  expect(bytes).not.toBeNull()
  const r = decodeStunMessage(bytes!)
  if (!r.ok) throw new Error(`response does not decode: ${r.reason}`)
  return r
}

describe('handleStunDatagram', () => {
  test('Binding request -> success with XOR-MAPPED-ADDRESS = source, SOFTWARE, FINGERPRINT', () => {
    const { bytes, transactionId } = request()
    const r = decodeResponse(handleStunDatagram(bytes, source))
    expect(r.message.method).toBe(StunMethod.Binding)
    expect(r.message.cls).toBe(StunClass.SuccessResponse)
    expect([...r.message.transactionId]).toEqual([...transactionId])
    expect(r.fingerprint).toBe(true)
    const xma = findAttribute(r.message, StunAttributeType.XorMappedAddress)!
    expect(decodeXorMappedAddress(xma.value, transactionId)).toEqual({ ok: true, value: { family: 'IPv4', ...source } })
    expect(decodeText(findAttribute(r.message, StunAttributeType.Software)!.value)).toBe(DEFAULT_SOFTWARE)
  })

  test('IPv6 source and IPv4-mapped IPv6 source', () => {
    const { bytes, transactionId } = request()
    const r6 = decodeResponse(handleStunDatagram(bytes, { address: '2001:db8::42', port: 5000 }))
    expect(decodeXorMappedAddress(findAttribute(r6.message, StunAttributeType.XorMappedAddress)!.value, transactionId)).toEqual({
      ok: true,
      value: { family: 'IPv6', address: '2001:db8::42', port: 5000 },
    })
    const rm = decodeResponse(handleStunDatagram(bytes, { address: '::ffff:127.0.0.1', port: 6000 }))
    expect(decodeXorMappedAddress(findAttribute(rm.message, StunAttributeType.XorMappedAddress)!.value, transactionId)).toEqual({
      ok: true,
      value: { family: 'IPv4', address: '127.0.0.1', port: 6000 },
    })
  })

  test('request with FINGERPRINT, USERNAME, MESSAGE-INTEGRITY and ICE attributes is answered', () => {
    const { bytes } = request(
      [
        { type: StunAttributeType.Username, value: encodeSoftware('a:b') },
        { type: StunAttributeType.Priority, value: new Uint8Array(4) },
        { type: StunAttributeType.IceControlling, value: new Uint8Array(8) },
        { type: 0xc057, value: new Uint8Array(4) }, // unknown comprehension-optional: ignored
        { type: StunAttributeType.MessageIntegrity, value: new Uint8Array(20) },
      ],
      { fingerprint: true },
    )
    expect(decodeResponse(handleStunDatagram(bytes, source)).message.cls).toBe(StunClass.SuccessResponse)
  })

  test('unknown comprehension-required attributes -> 420 listing each once', () => {
    const { bytes, transactionId } = request([
      { type: 0x0003, value: new Uint8Array(4) }, // RFC 3489 CHANGE-REQUEST, reserved in RFC 8489
      { type: 0x7ff0, value: new Uint8Array(0) },
      { type: 0x0003, value: new Uint8Array(4) },
    ])
    const r = decodeResponse(handleStunDatagram(bytes, source))
    expect(r.message.cls).toBe(StunClass.ErrorResponse)
    expect([...r.message.transactionId]).toEqual([...transactionId])
    expect(decodeErrorCode(findAttribute(r.message, StunAttributeType.ErrorCode)!.value)).toMatchObject({ ok: true, code: 420 })
    expect(decodeUnknownAttributes(findAttribute(r.message, StunAttributeType.UnknownAttributes)!.value)).toEqual([0x0003, 0x7ff0])
    expect(findAttribute(r.message, StunAttributeType.XorMappedAddress)).toBeUndefined()
  })

  test('malformed request with a readable header -> 400', () => {
    const { bytes, transactionId } = request([{ type: StunAttributeType.Software, value: encodeSoftware('abcd') }])
    new DataView(bytes.buffer).setUint16(22, 0x0100) // attribute length past the end
    const r = decodeResponse(handleStunDatagram(bytes, source))
    expect(r.message.cls).toBe(StunClass.ErrorResponse)
    expect([...r.message.transactionId]).toEqual([...transactionId])
    expect(decodeErrorCode(findAttribute(r.message, StunAttributeType.ErrorCode)!.value)).toMatchObject({ ok: true, code: 400 })
  })

  test('dropped: indications, responses, other methods, bad FINGERPRINT, bad length, non-STUN', () => {
    expect(handleStunDatagram(request([], { cls: StunClass.Indication }).bytes, source)).toBeNull()
    expect(handleStunDatagram(request([], { cls: StunClass.SuccessResponse }).bytes, source)).toBeNull()
    expect(handleStunDatagram(request([], { cls: StunClass.ErrorResponse }).bytes, source)).toBeNull()
    expect(handleStunDatagram(request([], { method: 0x003 /* TURN Allocate */ }).bytes, source)).toBeNull()
    const fp = request([{ type: StunAttributeType.Software, value: encodeSoftware('abcd') }], { fingerprint: true }).bytes
    fp[25] = fp[25]! ^ 0xff
    expect(handleStunDatagram(fp, source)).toBeNull()
    expect(handleStunDatagram(request().bytes.slice(0, 19), source)).toBeNull()
    const longer = new Uint8Array(24)
    longer.set(request().bytes)
    expect(handleStunDatagram(longer, source)).toBeNull()
    expect(handleStunDatagram(new TextEncoder().encode('REGISTER sip:patchbay.test SIP/2.0\r\n\r\n'), source)).toBeNull()
    expect(handleStunDatagram(Uint8Array.from([0x80, 0x00, 0x00, 0x01, ...new Uint8Array(168)]), source)).toBeNull() // RTP
    expect(handleStunDatagram(Uint8Array.from([0x16, 0xfe, 0xfd, ...new Uint8Array(40)]), source)).toBeNull() // DTLS
  })

  test('RFC 3489 Binding request (no magic cookie) -> MAPPED-ADDRESS, cookie echoed (RFC 8489 §12.2)', () => {
    const legacy = new Uint8Array(20)
    legacy.set([0x00, 0x01, 0x00, 0x00, 0xca, 0xfe, 0xba, 0xbe, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])
    const reply = handleStunDatagram(legacy, source)
    expect(reply).not.toBeNull()
    expect([...reply!.subarray(0, 2)]).toEqual([0x01, 0x01])
    expect([...reply!.subarray(4, 20)]).toEqual([...legacy.subarray(4, 20)])
    // The first attribute is MAPPED-ADDRESS; no FINGERPRINT (RFC 3489 has none).
    const view = new DataView(reply!.buffer, reply!.byteOffset)
    expect(view.getUint16(20)).toBe(StunAttributeType.MappedAddress)
    expect(view.getUint16(22)).toBe(8)
    expect(decodeMappedAddress(reply!.subarray(24, 32))).toEqual({ ok: true, value: { family: 'IPv4', ...source } })
    expect(view.getUint16(2)).toBe(reply!.length - 20)
    expect(view.getUint16(reply!.length - 8) === StunAttributeType.Fingerprint).toBe(false)
  })

  test('custom or no SOFTWARE', () => {
    const { bytes } = request()
    const custom = decodeResponse(handleStunDatagram(bytes, source, { software: 'X/1' }))
    expect(decodeText(findAttribute(custom.message, StunAttributeType.Software)!.value)).toBe('X/1')
    const none = decodeResponse(handleStunDatagram(bytes, source, { software: '' }))
    expect(findAttribute(none.message, StunAttributeType.Software)).toBeUndefined()
  })

  test('throughput: well over thousands of requests per second', () => {
    const { bytes } = request([], { fingerprint: true })
    const n = 20000
    const t0 = performance.now()
    for (let i = 0; i < n; i++) handleStunDatagram(bytes, source)
    const perSecond = n / ((performance.now() - t0) / 1000)
    console.log(`handleStunDatagram: ${Math.round(perSecond)} requests/s`)
    expect(perSecond).toBeGreaterThan(5000) // shared 2-core machine: measured 60k-410k
  })
})

describe('StunBindingService over UDP', () => {
  const service = new StunBindingService()
  let client: udp.Socket<'buffer'> | null = null
  afterAll(() => {
    client?.close()
    service.stop()
  })

  test('answers a Binding request on 127.0.0.1 with the client address; stop() closes', async () => {
    const port = await service.start({ host: '127.0.0.1', port: 0 })
    expect(port).toBeGreaterThan(0)
    expect(service.port).toBe(port)
    const replies: Uint8Array[] = []
    let wake: () => void = () => {}
    const sock = await Bun.udpSocket({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        data(_s, data) {
          replies.push(new Uint8Array(data))
          wake()
        },
      },
    })
    client = sock
    const { bytes, transactionId } = request()
    const got = new Promise<void>((resolve) => (wake = resolve))
    sock.send(bytes, port, '127.0.0.1')
    sock.send(new TextEncoder().encode('not stun at all, twenty+ bytes'), port, '127.0.0.1')
    await Promise.race([got, Bun.sleep(2000)])
    expect(replies.length).toBe(1)
    const r = decodeResponse(replies[0]!)
    const mapped = decodeXorMappedAddress(findAttribute(r.message, StunAttributeType.XorMappedAddress)!.value, transactionId)
    expect(mapped).toEqual({ ok: true, value: { family: 'IPv4', address: '127.0.0.1', port: sock.port } })
    await Bun.sleep(20)
    expect(service.stats).toEqual({ received: 2, answered: 1, dropped: 1 })
    service.stop()
    expect(service.port).toBeUndefined()
  })
})

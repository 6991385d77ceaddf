/**
 * The RTP relay with synthetic packets, no network: a fake legacy socket pair records what
 * goes to the phone, a fake werift DTLS transport records what goes to the browser (and lets
 * the test inject the browser's decrypted packets). Checks the RFC 3550 re-origination (one
 * SSRC per direction, gapless sequence numbers, timestamps on across hold and a source
 * switch), symmetric RTP latching, payload type mapping, the RFC 4733 primer and RTCP.
 */
import { beforeEach, describe, expect, test } from 'bun:test'
import { RtcpPacketConverter, RtcpSenderInfo, RtcpSrPacket, RtpHeader, RtpPacket, type RTCRtpTransceiver, type RtcpPacket } from 'werift'
import { logger } from '../../../../gateway/src/base/log.ts'
import { parseAudioSdp, type AudioDescription } from '../../../../gateway/src/media/embedded/audio-sdp.ts'
import type { RtpSocketPair } from '../../../../gateway/src/media/embedded/rtp-port-allocator.ts'
import { RtpRelay } from '../../../../gateway/src/media/embedded/rtp-relay.ts'

const PHONE = '192.0.2.10'
const PHONE_PORT = 40000
const BROWSER_SSRC = 0x0b0b0b0b
/** The SSRC werift announces for the gateway's browser-facing stream. */
const WERIFT_SSRC = 0x5e5e5e5e
const BROWSER_PCMU = 0
const BROWSER_EVENT = 126
const LEGACY_EVENT = 101

interface Sent {
  pt: number
  marker: boolean
  seq: number
  ts: number
  ssrc: number
  payload: Uint8Array
}

/** What the relay sent to the phone (RTP port), decoded; and the raw RTCP datagrams. */
let toPhone: Array<Sent & { to: string }>
let rtcpToPhone: Array<{ data: Uint8Array; port: number }>
/** What the relay handed to werift for the browser. */
let toBrowser: Sent[]
let rtcpToBrowser: RtcpPacket[]
let injectBrowserRtp: (packet: RtpPacket) => void
let injectBrowserRtcp: (packet: RtcpPacket) => void
let relay: RtpRelay

function decode(data: Uint8Array): Sent {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  return { pt: data[1]! & 0x7f, marker: (data[1]! & 0x80) !== 0, seq: view.getUint16(2), ts: view.getUint32(4), ssrc: view.getUint32(8), payload: data.slice(12) }
}

function fakeSocket(onSend: (data: Uint8Array, port: number, address: string) => void) {
  return { closed: false, send: (data: Uint8Array, port: number, address: string) => (onSend(data, port, address), true) }
}

function fakeTransceiver(): RTCRtpTransceiver {
  const event = <T>(bind: (fn: (v: T) => void) => void) => ({
    subscribe: (fn: (v: T) => void) => (bind(fn), { unSubscribe: () => {} }),
  })
  const dtls = {
    state: 'connected',
    role: 'server',
    onStateChange: event<string>(() => {}),
    onRtp: event<RtpPacket>((fn) => (injectBrowserRtp = fn)),
    onRtcp: event<RtcpPacket>((fn) => (injectBrowserRtcp = fn)),
    sendRtp: async (payload: Buffer, h: RtpHeader) => {
      // The relay reuses its header object: copy the fields now.
      toBrowser.push({ pt: h.payloadType, marker: h.marker, seq: h.sequenceNumber, ts: h.timestamp, ssrc: h.ssrc, payload: Uint8Array.from(payload) })
      return 0
    },
    sendRtcp: async (packets: RtcpPacket[]) => {
      rtcpToBrowser.push(...packets)
    },
  }
  return { dtlsTransport: dtls, sender: { ssrc: WERIFT_SSRC } } as unknown as RTCRtpTransceiver
}

function legacySdp(address: string, port: number): AudioDescription {
  const sdp = ['v=0', `o=- 1 1 IN IP4 ${address}`, 's=-', `c=IN IP4 ${address}`, 't=0 0', `m=audio ${port} RTP/AVP 0 ${LEGACY_EVENT}`, `a=rtpmap:${LEGACY_EVENT} telephone-event/8000`, ''].join('\r\n')
  const parsed = parseAudioSdp(sdp)
  if (!parsed.ok) throw new Error(parsed.reason)
  return parsed.value
}

function rtp(pt: number, seq: number, ts: number, ssrc: number, payload: Uint8Array, marker = false): Buffer {
  const packet = Buffer.alloc(12 + payload.length)
  packet[0] = 0x80
  packet[1] = (marker ? 0x80 : 0) | pt
  packet.writeUInt16BE(seq & 0xffff, 2)
  packet.writeUInt32BE(ts >>> 0, 4)
  packet.writeUInt32BE(ssrc >>> 0, 8)
  packet.set(payload, 12)
  return packet
}

function fromBrowser(seq: number, ts: number, ssrc = BROWSER_SSRC, payload = new Uint8Array(160).fill(0x11)): void {
  injectBrowserRtp(new RtpPacket(new RtpHeader({ payloadType: BROWSER_PCMU, sequenceNumber: seq, timestamp: ts, ssrc }), Buffer.from(payload)))
}

beforeEach(() => {
  toPhone = []
  rtcpToPhone = []
  toBrowser = []
  rtcpToBrowser = []
  relay = new RtpRelay('relay-test', logger('test.relay'))
  const pair = {
    rtpPort: 30000,
    rtp: fakeSocket((data, port, address) => toPhone.push({ ...decode(data), to: `${address}:${port}` })),
    rtcp: fakeSocket((data, port) => rtcpToPhone.push({ data: Uint8Array.from(data), port })),
  } as unknown as RtpSocketPair
  relay.useSockets(pair)
  relay.setLegacyDestination(legacySdp(PHONE, PHONE_PORT))
  relay.clearPayloadTypes()
  relay.mapAudioPayloadTypes(BROWSER_PCMU, 0, 'PCMU')
  relay.mapTelephoneEventPayloadTypes(BROWSER_EVENT, LEGACY_EVENT)
  relay.attachTransport(fakeTransceiver())
  relay.setForwarding(true, true)
})

describe('RtpRelay: legacy -> browser', () => {
  test('one SSRC and gapless sequence numbers across hold (same SSRC) and a new phone SSRC; timestamps move on', async () => {
    const audio = new Uint8Array(160).fill(0x55)
    const send = (seq: number, ts: number, ssrc = 0xaaaa) => relay.onLegacyRtp(rtp(0, seq, ts, ssrc, audio), PHONE_PORT, PHONE)
    for (let i = 0; i < 5; i++) send(1000 + i, 8000 + 160 * i)
    relay.setForwarding(true, false) // the browser put the call on hold
    for (let i = 5; i < 8; i++) send(1000 + i, 8000 + 160 * i) // not relayed
    await Bun.sleep(30)
    relay.setForwarding(true, true)
    send(1008, 8000 + 160 * 8) // same source: no gap in the output for the 3 held
    // The phone restarts its stream: new SSRC, unrelated numbering.
    for (let i = 0; i < 3; i++) send(7 + i, 50 + 160 * i, 0xbbbb)

    expect(toBrowser).toHaveLength(9)
    expect(new Set(toBrowser.map((p) => p.ssrc))).toEqual(new Set([WERIFT_SSRC]))
    toBrowser.forEach((p, k) => expect(p.seq).toBe((toBrowser[0]!.seq + k) & 0xffff))
    expect(toBrowser.map((p) => p.marker)).toEqual([false, false, false, false, false, true, true, false, false])
    const [last, resumed] = [toBrowser[4]!, toBrowser[5]!]
    // At least the 30 ms on hold (240 samples) after the last frame sent.
    expect((resumed.ts - last.ts) | 0).toBeGreaterThanOrEqual(240)
    expect(toBrowser[7]!.ts).toBe((toBrowser[6]!.ts + 160) >>> 0)
    expect(toBrowser.every((p) => p.pt === BROWSER_PCMU && p.payload.length === 160)).toBe(true)
    expect(relay.counters.toBrowser).toBe(9)
  })

  test('symmetric RTP: the first source is latched, packets from elsewhere are dropped', () => {
    const audio = new Uint8Array(160)
    relay.onLegacyRtp(rtp(0, 1, 160, 0xaaaa, audio), 41000, '198.51.100.7') // behind NAT: not the SDP address
    relay.onLegacyRtp(rtp(0, 2, 320, 0xaaaa, audio), PHONE_PORT, PHONE)
    expect(toBrowser).toHaveLength(1)
    fromBrowser(1, 160)
    expect(toPhone.map((p) => p.to)).toEqual(['198.51.100.7:41000']) // sent to the latched source
  })

  test('payload types are mapped; unmapped ones, RTP version 1 and runts are dropped', () => {
    relay.onLegacyRtp(rtp(8, 1, 160, 0xaaaa, new Uint8Array(160)), PHONE_PORT, PHONE) // PCMA: not negotiated
    const v1 = rtp(0, 2, 320, 0xaaaa, new Uint8Array(160))
    v1[0] = 0x40
    relay.onLegacyRtp(v1, PHONE_PORT, PHONE)
    relay.onLegacyRtp(Buffer.alloc(8, 0x80), PHONE_PORT, PHONE)
    expect(toBrowser).toHaveLength(0)
    relay.onLegacyRtp(rtp(LEGACY_EVENT, 3, 480, 0xaaaa, Uint8Array.from([1, 0x0a, 0, 160])), PHONE_PORT, PHONE)
    expect(toBrowser.filter((p) => p.pt === BROWSER_EVENT)).toHaveLength(1)
  })

  test('an RFC 4733 event after an audio gap gets one PCMU silence frame just before it; its repeats do not', () => {
    relay.onLegacyRtp(rtp(0, 10, 1600, 0xaaaa, new Uint8Array(160).fill(0x55)), PHONE_PORT, PHONE)
    // A second later, the digit (all packets on its start timestamp).
    for (let i = 0; i < 3; i++) relay.onLegacyRtp(rtp(LEGACY_EVENT, 11 + i, 9600, 0xaaaa, Uint8Array.from([5, 0x0a, 0, 160 * (i + 1)])), PHONE_PORT, PHONE)
    expect(toBrowser.map((p) => p.pt)).toEqual([BROWSER_PCMU, BROWSER_PCMU, BROWSER_EVENT, BROWSER_EVENT, BROWSER_EVENT])
    const [audio, silence, event] = toBrowser
    expect(silence!.payload.every((b) => b === 0xff)).toBe(true)
    expect(silence!.marker).toBe(true)
    expect(silence!.ts).toBe(event!.ts)
    expect(silence!.seq).toBe((audio!.seq + 1) & 0xffff)
    expect(event!.seq).toBe((silence!.seq + 1) & 0xffff)
    expect(relay.counters.silenceToBrowser).toBe(1)
  })
})

describe('RtpRelay: browser -> legacy', () => {
  test("the gateway's SSRC, mapped PT and continuous numbering across hold (same SSRC) and a new browser SSRC", async () => {
    for (let i = 0; i < 4; i++) fromBrowser(65533 + i, 320000 + 160 * i) // wraps at 65535
    relay.setForwarding(false, true) // the phone put the call on hold
    for (let i = 4; i < 7; i++) fromBrowser(65533 + i, 320000 + 160 * i) // not relayed
    await Bun.sleep(20)
    relay.setForwarding(true, true)
    fromBrowser(65533 + 7, 320000 + 160 * 7) // same source: no gap in the output for the 3 held
    fromBrowser(65533 + 8, 320000 + 160 * 8)
    for (let i = 0; i < 2; i++) fromBrowser(3 + i, 77 + 160 * i, 0x0c0c0c0c) // a new browser source

    expect(toPhone).toHaveLength(8)
    expect(new Set(toPhone.map((p) => p.ssrc))).toEqual(new Set([relay.toLegacy.ssrc]))
    expect(relay.toLegacy.ssrc).not.toBe(BROWSER_SSRC)
    toPhone.forEach((p, k) => expect(p.seq).toBe((65533 + k) & 0xffff))
    expect(toPhone.map((p) => p.marker)).toEqual([false, false, false, false, true, false, true, false])
    expect((toPhone[4]!.ts - toPhone[3]!.ts) | 0).toBeGreaterThanOrEqual(160)
    expect(toPhone[5]!.ts).toBe((toPhone[4]!.ts + 160) >>> 0)
    expect(toPhone.every((p) => p.pt === 0 && p.payload.length === 160 && p.payload[0] === 0x11 && p.to === `${PHONE}:${PHONE_PORT}`)).toBe(true)
  })

  test('nothing goes to a phone on RFC 2543 hold (c=0.0.0.0)', () => {
    relay.setLegacyDestination(legacySdp('0.0.0.0', PHONE_PORT))
    relay.setForwarding(true, true)
    fromBrowser(1, 160)
    expect(toPhone).toHaveLength(0)
    expect(relay.legacyHeld).toBe(true)
  })
})

describe('RtpRelay: RTCP', () => {
  test("the phone's SR reaches the browser translated; muxed RTCP on the RTP port is told apart", () => {
    relay.onLegacyRtp(rtp(0, 10, 1600, 0xaaaa, new Uint8Array(160)), PHONE_PORT, PHONE)
    const sr = new RtcpSrPacket({ ssrc: 0xaaaa, senderInfo: new RtcpSenderInfo({ ntpTimestamp: 1n, rtpTimestamp: 1600, packetCount: 1, octetCount: 160 }) })
    relay.onLegacyRtp(sr.serialize(), PHONE_PORT, PHONE)
    expect(toBrowser).toHaveLength(1)
    expect(rtcpToBrowser).toHaveLength(1)
    expect((rtcpToBrowser[0] as RtcpSrPacket).ssrc).toBe(WERIFT_SSRC)
    expect(relay.counters.rtcpToBrowser).toBe(1)
  })

  test("the browser's SR goes to the phone's RTCP port (RTP + 1), from the legacy-facing SSRC", () => {
    fromBrowser(1, 160)
    injectBrowserRtcp(new RtcpSrPacket({ ssrc: BROWSER_SSRC, senderInfo: new RtcpSenderInfo({ ntpTimestamp: 1n, rtpTimestamp: 160, packetCount: 1, octetCount: 160 }) }))
    expect(rtcpToPhone).toHaveLength(1)
    expect(rtcpToPhone[0]!.port).toBe(PHONE_PORT + 1)
    const packets = RtcpPacketConverter.deSerialize(Buffer.from(rtcpToPhone[0]!.data))
    expect((packets[0] as RtcpSrPacket).ssrc).toBe(relay.toLegacy.ssrc)
  })
})

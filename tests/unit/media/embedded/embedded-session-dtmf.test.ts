/**
 * The relay's RFC 4733 path towards the browser, as SIPp's `uac_pcap` scenario drives it:
 * G.711 audio under one SSRC, then, after a second of nothing, a digit under another SSRC
 * with its own sequence numbers and timestamps (the headers of /usr/share/sip-tester/
 * g711a.pcap and dtmf_2833_1.pcap). Chromium's NetEq is muted by then and drops
 * telephone-events that arrive without audio, so the relay must put one G.711 silence frame
 * on the event's timestamp in front of it; under running audio it must not.
 *
 * The browser is a werift peer connection (tests/integration/media/fake-peers.ts) and the
 * phone a raw UDP socket, both on 127.0.0.1; no external program is needed.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { parse } from 'sdp-transform'
import { EmbeddedDriver } from '../../../../gateway/src/media/embedded/embedded-driver.ts'
import { freePortRange } from '../../../support/ports.ts'
import { LOOPBACK, WeriftBrowser, telephoneEventPayload, type Received } from '../../../integration/media/fake-peers.ts'

setDefaultTimeout(20_000)

const AUDIO_SSRC = 0xdee0ee8f
const DTMF_SSRC = 0x0e05384e

let driver: EmbeddedDriver
let browser: WeriftBrowser
let phone: import('bun').udp.Socket<'buffer'>
let relayPort = 0
let eventPt = -1
const session = { callId: 'pcap-1@patchbay.test', fromTag: 'sipp-tag', toTag: 'browser-tag' }

/** The SDP SIPp's uac_pcap scenario offers (PCMA + telephone-event 101). */
function sippOffer(port: number): string {
  return [
    'v=0', `o=user1 53655765 2353687637 IN IP4 ${LOOPBACK}`, 's=-', `c=IN IP4 ${LOOPBACK}`, 't=0 0',
    `m=audio ${port} RTP/AVP 8 101`, 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-11,16',
  ].join('\r\n') + '\r\n'
}

function rtp(pt: number, marker: boolean, seq: number, ts: number, ssrc: number, payload: Uint8Array): Uint8Array {
  const packet = new Uint8Array(12 + payload.length)
  const view = new DataView(packet.buffer)
  packet[0] = 0x80
  packet[1] = (marker ? 0x80 : 0) | pt
  view.setUint16(2, seq & 0xffff)
  view.setUint32(4, ts >>> 0)
  view.setUint32(8, ssrc >>> 0)
  packet.set(payload, 12)
  return packet
}

function send(packet: Uint8Array): void {
  phone.send(packet, relayPort, LOOPBACK)
}

/** Waits until `n` packets after index `from` arrived at the browser (or 2 s passed). */
async function received(from: number, n: number): Promise<Received[]> {
  const deadline = performance.now() + 2000
  while (browser.received.length - from < n && performance.now() < deadline) await Bun.sleep(5)
  await Bun.sleep(50) // anything extra would have come by now
  return browser.received.slice(from)
}

beforeAll(async () => {
  const min = await freePortRange(8)
  driver = new EmbeddedDriver({ bindAddress: LOOPBACK, rtpPortMin: min, rtpPortMax: min + 7 })
  phone = await Bun.udpSocket({ hostname: LOOPBACK, port: 0, socket: { data() {}, error() {} } })
  browser = new WeriftBrowser(1000)
  const webrtcOffer = await driver.offer({ session: { callId: session.callId, fromTag: session.fromTag }, sdp: sippOffer(phone.port), from: 'rtp', to: 'webrtc' })
  const browserAnswer = await browser.answer(webrtcOffer)
  const te = parse(browserAnswer).media[0]!.rtp.find((r) => r.codec.toLowerCase() === 'telephone-event' && r.rate === 8000)
  eventPt = te?.payload ?? -1
  const legacyAnswer = await driver.answer({ session, sdp: browserAnswer, from: 'webrtc', to: 'rtp' })
  relayPort = parse(legacyAnswer).media[0]!.port
  await browser.connected()
  // werift's DTLS-SRTP keys are ready a moment after 'connected' on the gateway side too.
  const deadline = performance.now() + 2000
  let seq = 59000
  while (browser.received.length === 0 && performance.now() < deadline) {
    send(rtp(8, false, seq++, 0, 0x1111, new Uint8Array(160).fill(0xd5)))
    await Bun.sleep(20)
  }
  await Bun.sleep(100)
})

afterAll(async () => {
  phone?.close()
  await browser?.close()
  await driver?.close()
})

describe('embedded relay: RFC 4733 events towards the browser', () => {
  test('SIPp uac_pcap: digit 1 a second after the audio, under a new SSRC, follows a silence frame on its timestamp', async () => {
    expect(browser.received.length).toBeGreaterThan(0) // the relay carries audio at all
    expect(eventPt).toBeGreaterThanOrEqual(96)
    // g711a.pcap: PCMA, 30 ms frames of 240 samples.
    const from = browser.received.length
    const audio = new Uint8Array(240).fill(0x55)
    for (let i = 0; i < 10; i++) {
      send(rtp(8, i === 0, 59133 + i, 240 + 240 * i, AUDIO_SSRC, audio))
      await Bun.sleep(30)
    }
    await Bun.sleep(1000)
    // dtmf_2833_1.pcap: digit 1, all at ts 13280, the end packet three times (same seq).
    for (let i = 0; i < 8; i++) {
      const end = i === 7
      const copies = end ? 3 : 1
      for (let c = 0; c < copies; c++) send(rtp(101, i === 0, 7984 + i, 13280, DTMF_SSRC, telephoneEventPayload(1, end, 10, 320 * i)))
      await Bun.sleep(20)
    }
    const got = await received(from, 10 + 1 + 10)
    const events = got.filter((p) => p.payloadType === eventPt)
    expect(events).toHaveLength(10)
    expect(events.every((p) => p.payload[0] === 1)).toBe(true)
    const first = events[0]!
    // Exactly one G.711 frame on the event's timestamp: the silence frame, just before it.
    const onEventTs = got.filter((p) => p.payloadType !== eventPt && p.timestamp === first.timestamp)
    expect(onEventTs).toHaveLength(1)
    const silence = onEventTs[0]!
    expect(silence.payloadType).toBe(8) // the codec of the audio relayed so far
    expect(silence.marker).toBe(true)
    expect(silence.payload.length).toBe(160)
    expect(silence.payload.every((b) => b === 0xd5)).toBe(true) // A-law zero
    expect(silence.sequenceNumber).toBe((first.sequenceNumber - 1) & 0xffff)
    // One SSRC and one gapless numbering throughout: 10 audio, silence, 8 distinct event numbers.
    expect(new Set(got.map((p) => p.ssrc)).size).toBe(1)
    const numbers = [...new Set(got.map((p) => p.sequenceNumber))].sort((a, b) => ((a - got[0]!.sequenceNumber) & 0xffff) - ((b - got[0]!.sequenceNumber) & 0xffff))
    expect(numbers).toHaveLength(19)
    numbers.forEach((n, k) => expect(n).toBe((got[0]!.sequenceNumber + k) & 0xffff))
    // The event lies on the audio's timeline, about a second after the last frame.
    const lastAudio = got.filter((p) => p.payloadType === 8 && p !== silence).at(-1)!
    expect((first.timestamp - lastAudio.timestamp) | 0).toBeGreaterThan(6000)
    expect(driver.sessionCounters(session)?.silenceToBrowser).toBe(1)
  })

  test('a digit under running audio (same SSRC, frames keep coming) gets no silence frame', async () => {
    const before = driver.sessionCounters(session)!.silenceToBrowser
    const from = browser.received.length
    const audio = new Uint8Array(160).fill(0x55)
    const ssrc = 0x5eed1234
    let seq = 1000
    const eventTs = 160 * 10
    for (let i = 0; i < 20; i++) {
      // The event starts at frame 10; its packets go out ahead of the frame of the same instant.
      if (i >= 10) send(rtp(101, i === 10, seq++, eventTs, ssrc, telephoneEventPayload(5, i === 19, 10, 160 * (i - 9))))
      send(rtp(8, false, seq++, 160 * i, ssrc, audio))
      await Bun.sleep(20)
    }
    const got = await received(from, 30)
    expect(got.filter((p) => p.payloadType === eventPt)).toHaveLength(10)
    expect(got.filter((p) => p.payloadType === 8)).toHaveLength(20)
    expect(driver.sessionCounters(session)!.silenceToBrowser).toBe(before)
  })
})

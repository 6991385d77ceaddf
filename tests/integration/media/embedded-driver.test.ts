/**
 * The embedded media driver end to end on 127.0.0.1: a werift RTCPeerConnection plays the
 * browser (it applies the driver's SDP), a plain UDP socket pair plays the desk phone.
 * Audio is proven by tones: 1000 Hz from the browser must reach the phone, 440 Hz from the
 * phone must reach the browser (G.711 decoding + Goertzel), so an echo cannot pass.
 *
 * The stories share one driver and run in order:
 * 1. browser calls phone; 2. hold / resume from both sides; 3. RFC 4733 events both ways;
 * 4. phone calls browser; 5. delete frees the ports;
 * 6. cost: a driver in a child process relays 1 then 10 calls while its CPU is measured.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { join } from 'node:path'
import { parse } from 'sdp-transform'
import { EmbeddedDriver } from '../../../gateway/src/media/embedded/embedded-driver.ts'
import type { MediaAnswerRequest, MediaOfferRequest, MediaSessionId } from '../../../gateway/src/media/media-driver.ts'
import { freePortRange } from '../../support/ports.ts'
import { LOOPBACK, UdpPhone, WeriftBrowser, telephoneEventPayload, toneRatio, type Received } from './fake-peers.ts'

setDefaultTimeout(30_000)

let driver: EmbeddedDriver
let rangeMin = 0
const closers: Array<() => unknown> = []

beforeAll(async () => {
  rangeMin = await freePortRange(64)
  driver = new EmbeddedDriver({ bindAddress: LOOPBACK, rtpPortMin: rangeMin, rtpPortMax: rangeMin + 63 })
})

afterAll(async () => {
  for (const close of closers.reverse()) {
    try {
      await close()
    } catch {}
  }
  await driver.close()
})

/**
 * Media ticker: each side of each call sends one tone frame per 20 ms (when enabled). Late
 * timer ticks on a busy machine are caught up (at most 5 frames at once), so that the rate
 * stays 50 packets per second and direction.
 */
function startMedia(calls: Array<{ browser: WeriftBrowser; phone: UdpPhone; relayPort: number; browserSends?: boolean; phoneSends?: boolean }>): () => void {
  const start = performance.now()
  let sent = 0
  const timer = setInterval(() => {
    const due = Math.min(5, Math.floor((performance.now() - start) / 20) + 1 - sent)
    for (let i = 0; i < due; i++) {
      for (const c of calls) {
        if (c.browserSends !== false) c.browser.sendTone()
        if (c.phoneSends !== false) c.phone.sendTone(c.relayPort)
      }
    }
    sent += Math.max(0, due)
  }, 20)
  return () => clearInterval(timer)
}

function since(list: Received[], t: number): Received[] {
  return list.filter((p) => p.atMs >= t)
}

function direction(sdp: string): string | undefined {
  const s = parse(sdp)
  return s.media[0]?.direction ?? (s as { direction?: string }).direction
}

function setup(sdp: string): string | undefined {
  const s = parse(sdp)
  return s.media[0]?.setup ?? (s as { setup?: string }).setup
}

// Call 1: the browser calls the phone ----------------------------------------------------

const call1: MediaSessionId & { toTag: string } = { callId: 'call-1@patchbay.test', fromTag: 'browser-tag', toTag: 'phone-tag' }
let browser1: WeriftBrowser
let phone1: UdpPhone
let relayPort1 = 0
let stopMedia1: () => void = () => {}

describe('embedded driver with a werift browser and a UDP phone', () => {
  test('browser -> phone: SDP on both legs, ICE + DTLS (gateway passive), 1000 Hz reaches the phone and 440 Hz the browser', async () => {
    browser1 = new WeriftBrowser(1000)
    phone1 = await UdpPhone.open(await freePortRange(2), 440)
    closers.push(() => browser1.close(), () => phone1.close())

    const t0 = performance.now()
    const browserOffer = await browser1.offer()
    const legacyOffer = await driver.offer({ session: { callId: call1.callId, fromTag: call1.fromTag }, sdp: browserOffer, from: 'webrtc', to: 'rtp' } satisfies MediaOfferRequest)
    const lo = parse(legacyOffer)
    expect(lo.media[0]!.protocol).toBe('RTP/AVP')
    expect(String(lo.media[0]!.payloads)).toBe('0 8 101') // the browser's 126 becomes 101
    relayPort1 = lo.media[0]!.port
    expect(relayPort1).toBeGreaterThanOrEqual(rangeMin)

    const tAnswer = performance.now()
    const webrtcAnswer = await driver.answer({ session: call1, sdp: phone1.sdp(), from: 'rtp', to: 'webrtc' } satisfies MediaAnswerRequest)
    const answerMs = performance.now() - tAnswer
    const wa = parse(webrtcAnswer)
    const m = wa.media[0]!
    expect(m.protocol).toBe('UDP/TLS/RTP/SAVPF')
    expect(String(m.payloads)).toBe('0 126') // exactly the phone's codec + the browser's telephone-event PT
    expect(setup(webrtcAnswer)).toBe('passive') // docs/architecture.md: the gateway side stays DTLS passive
    expect(m.rtcpMux).toBe('rtcp-mux')
    expect(String(wa.groups?.[0]?.mids)).toBe('0')
    expect((m.candidates ?? []).every((c) => c.ip === LOOPBACK && c.type === 'host')).toBe(true)
    expect(m.candidates?.length).toBeGreaterThan(0)

    const tApply = performance.now()
    await browser1.applyAnswer(webrtcAnswer)
    await browser1.connected()
    const iceDtlsMs = browser1.connectedAtMs - tApply
    console.log(`[embedded] call set-up: driver.answer ${answerMs.toFixed(1)} ms (werift answer + gathering), ICE+DTLS ${iceDtlsMs.toFixed(1)} ms, offer->connected ${(browser1.connectedAtMs - t0).toFixed(1)} ms`)
    expect(iceDtlsMs).toBeLessThan(3000)

    stopMedia1 = startMedia([{ browser: browser1, phone: phone1, relayPort: relayPort1 }])
    const t1 = performance.now()
    await Bun.sleep(700)
    const atPhone = since(phone1.received, t1)
    const atBrowser = since(browser1.received, t1)
    expect(atPhone.length).toBeGreaterThan(20)
    expect(atBrowser.length).toBeGreaterThan(20)
    expect(toneRatio(atPhone, 'PCMU', 1000, 440)).toBeGreaterThan(100)
    expect(toneRatio(atBrowser, 'PCMU', 440, 1000)).toBeGreaterThan(100)
    // The phone sees one stable SSRC of the gateway's own, from the advertised port.
    expect(new Set(atPhone.map((p) => p.ssrc)).size).toBe(1)
    expect(atPhone[0]!.ssrc).not.toBe(browser1.transceiver!.sender.ssrc)
    expect([...phone1.receivedFrom]).toEqual([`${LOOPBACK}:${relayPort1}`])
    // The browser sees the SSRC the WebRTC answer announced.
    expect(atBrowser[0]!.ssrc).toBe(m.ssrcs!.find((s) => s.attribute === 'cname')!.id as number)
  })

  test('RTCP: browser reports reach the phone translated; a phone SR reaches the browser', async () => {
    // werift sends its SR/RR every 0.5-1.5 s.
    const deadline = performance.now() + 3000
    while (phone1.rtcpReceived.length === 0 && performance.now() < deadline) await Bun.sleep(50)
    expect(phone1.rtcpReceived.length).toBeGreaterThan(0)
    const first = phone1.rtcpReceived[0]!
    expect(first[0]! >> 6).toBe(2)
    expect([200, 201]).toContain(first[1]!)
    const gatewaySsrc = phone1.received.at(-1)!.ssrc
    expect(new DataView(first.buffer, first.byteOffset).getUint32(4)).toBe(gatewaySsrc)

    browser1.watchRtcp()
    // RFC 3550 §6.4.1 SR from the phone: header, SSRC, NTP (2 words), RTP ts, counts.
    const sr = new Uint8Array(28)
    const v = new DataView(sr.buffer)
    v.setUint8(0, 0x80)
    v.setUint8(1, 200)
    v.setUint16(2, 6)
    v.setUint32(4, phone1.ssrc)
    v.setUint32(8, 0xe1234567)
    v.setUint32(12, 0x80000000)
    v.setUint32(16, phone1.timestamp)
    v.setUint32(20, 100)
    v.setUint32(24, 16000)
    phone1.sendRtcp(relayPort1 + 1, sr)
    const until = performance.now() + 2000
    const browserSsrcSeen = browser1.received.at(-1)!.ssrc
    let translated = browser1.rtcp.find((p) => p.type === 200 && (p as { ssrc: number }).ssrc === browserSsrcSeen)
    while (!translated && performance.now() < until) {
      await Bun.sleep(20)
      translated = browser1.rtcp.find((p) => p.type === 200 && (p as { ssrc: number }).ssrc === browserSsrcSeen)
    }
    expect(translated).toBeDefined()
    expect((translated as unknown as { senderInfo: { packetCount: number } }).senderInfo.packetCount).toBe(100)
  })

  test('hold and resume (RFC 3264 §8.4) from either side: same ports, same DTLS association, forwarding stops and resumes', async () => {
    const legacyPortBefore = relayPort1
    const browserToPhoneSeqBefore = phone1.received.at(-1)!.sequenceNumber

    // The browser holds: a=sendonly. The phone keeps sending; nothing may reach the browser.
    const holdOffer = await driver.offer({ session: call1, sdp: await browser1.offer('sendonly'), from: 'webrtc', to: 'rtp' })
    expect(direction(holdOffer)).toBe('sendonly')
    expect(parse(holdOffer).media[0]!.port).toBe(legacyPortBefore)
    const holdAnswer = await driver.answer({ session: call1, sdp: phone1.sdp('recvonly', 2), from: 'rtp', to: 'webrtc' })
    expect(direction(holdAnswer)).toBe('recvonly')
    expect(setup(holdAnswer)).toBe('passive')
    await browser1.applyAnswer(holdAnswer)
    let t = performance.now()
    await Bun.sleep(400)
    expect(since(browser1.received, t + 60)).toHaveLength(0)
    expect(since(phone1.received, t).length).toBeGreaterThan(10) // music on hold still flows

    // The browser resumes: the 440 Hz tone is back, sequence numbers continue.
    const lastBeforeHold = browser1.received.at(-1)!
    const resumeOffer = await driver.offer({ session: call1, sdp: await browser1.offer('sendrecv'), from: 'webrtc', to: 'rtp' })
    expect(direction(resumeOffer)).toBe('sendrecv')
    await browser1.applyAnswer(await driver.answer({ session: call1, sdp: phone1.sdp('sendrecv', 3), from: 'rtp', to: 'webrtc' }))
    t = performance.now()
    await Bun.sleep(400)
    const resumed = since(browser1.received, t)
    expect(resumed.length).toBeGreaterThan(10)
    expect(toneRatio(resumed, 'PCMU', 440, 1000)).toBeGreaterThan(100)
    const firstAfter = browser1.received[browser1.received.indexOf(lastBeforeHold) + 1]!
    expect(firstAfter.sequenceNumber).toBe((lastBeforeHold.sequenceNumber + 1) & 0xffff)
    expect(firstAfter.marker).toBe(true)
    expect(firstAfter.ssrc).toBe(lastBeforeHold.ssrc)
    // The timestamp advanced by the wall-clock pause (8 samples per ms), not by one frame.
    expect((firstAfter.timestamp - lastBeforeHold.timestamp) >>> 0).toBeGreaterThan(8 * 300)

    // The phone holds: its re-offer goes to the browser as a werift re-offer, still passive.
    const phoneHold = await driver.offer({ session: { callId: call1.callId, fromTag: call1.toTag, toTag: call1.fromTag }, sdp: phone1.sdp('sendonly', 4), from: 'rtp', to: 'webrtc' })
    expect(direction(phoneHold)).toBe('sendonly')
    expect(setup(phoneHold)).toBe('passive')
    const browserHoldAnswer = await browser1.answer(phoneHold)
    expect(direction(browserHoldAnswer)).toBe('recvonly')
    const legacyHoldAnswer = await driver.answer({ session: { callId: call1.callId, fromTag: call1.toTag, toTag: call1.fromTag }, sdp: browserHoldAnswer, from: 'webrtc', to: 'rtp' })
    expect(direction(legacyHoldAnswer)).toBe('recvonly')
    expect(parse(legacyHoldAnswer).media[0]!.port).toBe(legacyPortBefore)
    t = performance.now()
    await Bun.sleep(400)
    expect(since(phone1.received, t + 60)).toHaveLength(0)
    expect(since(browser1.received, t).length).toBeGreaterThan(10)

    // The phone resumes: the 1000 Hz tone reaches it again, continuing its sequence.
    const phoneResume = await driver.offer({ session: { callId: call1.callId, fromTag: call1.toTag, toTag: call1.fromTag }, sdp: phone1.sdp('sendrecv', 5), from: 'rtp', to: 'webrtc' })
    expect(direction(phoneResume)).toBe('sendrecv')
    const legacyResumeAnswer = await driver.answer({ session: { callId: call1.callId, fromTag: call1.toTag, toTag: call1.fromTag }, sdp: await browser1.answer(phoneResume), from: 'webrtc', to: 'rtp' })
    expect(direction(legacyResumeAnswer)).toBe('sendrecv')
    t = performance.now()
    await Bun.sleep(400)
    const back = since(phone1.received, t)
    expect(back.length).toBeGreaterThan(10)
    expect(toneRatio(back, 'PCMU', 1000, 440)).toBeGreaterThan(100)
    expect(new Set(phone1.received.map((p) => p.ssrc)).size).toBe(1)
    expect(((back[0]!.sequenceNumber - browserToPhoneSeqBefore) & 0xffff) < 1000).toBe(true)

    // One DTLS association throughout: the browser connected once and never left 'connected'.
    expect(browser1.states.filter((s) => s === 'connected')).toHaveLength(1)
    expect(browser1.pc.connectionState).toBe('connected')
  })

  test('RFC 4733: digit 5 from the phone (PT 101) reaches the browser as its PT 126, and back', async () => {
    // RFC 4733 §2.3: event 5, E bit on the last packets, all with the event's start timestamp.
    const start = phone1.timestamp
    const t = performance.now()
    phone1.sendRtp(relayPort1, 101, telephoneEventPayload(5, false, 10, 160), true, start)
    phone1.sendRtp(relayPort1, 101, telephoneEventPayload(5, false, 10, 320), false, start)
    for (let i = 0; i < 3; i++) phone1.sendRtp(relayPort1, 101, telephoneEventPayload(5, true, 10, 480), false, start)
    browser1.sendRaw(126, telephoneEventPayload(9, false, 10, 160), true, 777777)
    browser1.sendRaw(126, telephoneEventPayload(9, true, 10, 320), false, 777777)
    await Bun.sleep(300)
    const events = since(browser1.received, t).filter((p) => p.payloadType === 126)
    expect(events.length).toBe(5)
    expect(events.every((p) => p.payload[0] === 5)).toBe(true)
    expect(events[0]!.marker).toBe(true)
    expect(new Set(events.map((p) => p.timestamp)).size).toBe(1)
    expect(events.filter((p) => (p.payload[1]! & 0x80) !== 0)).toHaveLength(3)
    const atPhone = since(phone1.received, t).filter((p) => p.payloadType === 101)
    expect(atPhone.map((p) => p.payload[0])).toEqual([9, 9])
    expect(since(phone1.received, t).some((p) => p.payloadType === 126)).toBe(false)
  })

  test('phone -> browser: werift offers actpass with the phone codecs; the browser answers active; tones both ways', async () => {
    const session = { callId: 'call-2@patchbay.test', fromTag: 'phone-tag-2', toTag: 'browser-tag-2' }
    const browser = new WeriftBrowser(1000)
    const phone = await UdpPhone.open(await freePortRange(2), 440)
    closers.push(() => browser.close(), () => phone.close())
    const webrtcOffer = await driver.offer({ session: { callId: session.callId, fromTag: session.fromTag }, sdp: phone.sdp('sendrecv', 1, [8, 0, 101]), from: 'rtp', to: 'webrtc' })
    const wo = parse(webrtcOffer)
    expect(setup(webrtcOffer)).toBe('actpass') // RFC 5763 §5
    expect(String(wo.media[0]!.payloads)).toBe('8 0 101')
    expect(wo.media[0]!.protocol).toBe('UDP/TLS/RTP/SAVPF')
    const browserAnswer = await browser.answer(webrtcOffer)
    expect(setup(browserAnswer)).toBe('active')
    const tApply = performance.now()
    const legacyAnswer = await driver.answer({ session, sdp: browserAnswer, from: 'webrtc', to: 'rtp' })
    const la = parse(legacyAnswer)
    expect(la.media[0]!.protocol).toBe('RTP/AVP')
    expect(String(la.media[0]!.payloads).split(' ')).toContain('101')
    expect(la.media[0]!.ptime).toBe(20)
    const relayPort = la.media[0]!.port
    await browser.connected()
    console.log(`[embedded] phone->browser: answer applied -> connected ${(browser.connectedAtMs - tApply).toFixed(1)} ms (gateway DTLS passive)`)
    // werift's browser sends its first negotiated codec (PCMA here): the phone gets PCMA.
    const stop = startMedia([{ browser, phone, relayPort }])
    const t = performance.now()
    await Bun.sleep(600)
    stop()
    const atPhone = since(phone.received, t)
    const law = atPhone[0]?.payloadType === 8 ? 'PCMA' : 'PCMU'
    expect(atPhone.length).toBeGreaterThan(15)
    expect(toneRatio(atPhone, law, 1000, 440)).toBeGreaterThan(100)
    const atBrowser = since(browser.received, t)
    expect(atBrowser.length).toBeGreaterThan(15)
    expect(toneRatio(atBrowser, 'PCMU', 440, 1000)).toBeGreaterThan(100)
    await driver.delete({ callId: session.callId, fromTag: session.fromTag })
  })

  test('delete: activeSessions back to 0 and the RTP/RTCP ports can be bound again', async () => {
    stopMedia1()
    const port = driver.rtpPortOf(call1)
    expect(port).toBe(relayPort1)
    expect(driver.activeSessions).toBe(1)
    await driver.delete({ callId: call1.callId, fromTag: call1.fromTag })
    expect(driver.activeSessions).toBe(0)
    const rtp = await Bun.udpSocket({ hostname: LOOPBACK, port })
    const rtcp = await Bun.udpSocket({ hostname: LOOPBACK, port: port + 1 })
    expect([rtp.port, rtcp.port]).toEqual([port, port + 1])
    rtp.close()
    rtcp.close()
    // A re-offer for the deleted call finds nothing to answer.
    const late = await driver.answer({ session: call1, sdp: phone1.sdp(), from: 'rtp', to: 'webrtc' }).catch((e: { status: number }) => e)
    expect((late as { status: number }).status).toBe(500)
  })
})

// Cost ---------------------------------------------------------------------------------------

/** The driver in a child process, over IPC (embedded-driver-child.ts). */
class ChildDriver {
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private readyResolve: () => void = () => {}
  readonly ready = new Promise<void>((r) => (this.readyResolve = r))
  readonly process: ReturnType<typeof Bun.spawn>

  constructor(rtpPortMin: number, rtpPortMax: number) {
    this.process = Bun.spawn({
      cmd: [process.execPath, join(import.meta.dir, 'embedded-driver-child.ts'), JSON.stringify({ rtpPortMin, rtpPortMax })],
      stdout: 'inherit',
      stderr: 'inherit',
      ipc: (message: { ready?: boolean; id?: number; ok?: boolean; result?: unknown; status?: number; message?: string }) => {
        if (message.ready) return this.readyResolve()
        const w = this.waiting.get(message.id!)
        if (!w) return
        this.waiting.delete(message.id!)
        if (message.ok) w.resolve(message.result)
        else w.reject(Object.assign(new Error(message.message), { status: message.status }))
      },
    })
  }

  call<T>(op: string, request?: unknown): Promise<T> {
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.process.send({ id, op, request })
    })
  }

  async cpuFraction(durationMs: number): Promise<number> {
    const a = await this.call<{ user: number; system: number; wallMs: number }>('cpu')
    await Bun.sleep(durationMs)
    const b = await this.call<{ user: number; system: number; wallMs: number }>('cpu')
    return (b.user - a.user + (b.system - a.system)) / 1000 / (b.wallMs - a.wallMs)
  }
}

describe('embedded driver cost (driver in a child process)', () => {
  test('CPU per bidirectional 50 pps G.711 stream, 1 and 10 streams; set-up time', async () => {
    const base = await freePortRange(64)
    const child = new ChildDriver(base, base + 63)
    closers.push(() => child.process.kill())
    await child.ready
    const idle = await child.cpuFraction(1000)

    type Call = { browser: WeriftBrowser; phone: UdpPhone; relayPort: number; setupMs: number; session: MediaSessionId & { toTag: string } }
    const open = async (i: number): Promise<Call> => {
      const session = { callId: `cost-${i}`, fromTag: `b${i}`, toTag: `p${i}` }
      const browser = new WeriftBrowser(1000)
      const phone = await UdpPhone.open(await freePortRange(2), 440)
      closers.push(() => browser.close(), () => phone.close())
      const t0 = performance.now()
      const legacyOffer = await child.call<string>('offer', { session: { callId: session.callId, fromTag: session.fromTag }, sdp: await browser.offer(), from: 'webrtc', to: 'rtp' })
      const answer = await child.call<string>('answer', { session, sdp: phone.sdp(), from: 'rtp', to: 'webrtc' })
      await browser.applyAnswer(answer)
      await browser.connected()
      return { browser, phone, relayPort: parse(legacyOffer).media[0]!.port, setupMs: browser.connectedAtMs - t0, session }
    }

    const first = await open(0)
    let stop = startMedia([first])
    await Bun.sleep(500)
    const one = await child.cpuFraction(3000)
    stop()

    const calls = [first]
    for (let i = 1; i < 10; i++) calls.push(await open(i))
    stop = startMedia(calls)
    await Bun.sleep(700)
    const tMeasure = performance.now()
    const ten = await child.cpuFraction(3000)
    const measuredMs = performance.now() - tMeasure
    stop()
    let relayed = 0
    for (const c of calls) {
      const got = since(c.phone.received, tMeasure).length
      const gotBrowser = since(c.browser.received, tMeasure).length
      relayed += got + gotBrowser
      // About 150 packets each way in 3 s; allow for a loaded machine.
      expect(got).toBeGreaterThan(75)
      expect(gotBrowser).toBeGreaterThan(75)
    }
    expect(toneRatio(since(calls[9]!.phone.received, tMeasure), 'PCMU', 1000, 440)).toBeGreaterThan(100)
    // Normalise to the nominal 100 packets per second per stream (50 each way).
    const streamsEquivalent = relayed / (measuredMs / 1000) / 100
    const setups = calls.map((c) => c.setupMs).sort((a, b) => a - b)
    console.log(
      `[embedded] child driver CPU: idle ${(idle * 100).toFixed(2)} % of a core; ` +
        `1 stream ${(one * 100).toFixed(2)} % (${((one - idle) * 100).toFixed(2)} % above idle); ` +
        `10 streams ${(ten * 100).toFixed(2)} % at ${((relayed / (measuredMs / 1000)) / 10).toFixed(0)} pps per stream = ` +
        `${(((ten - idle) * 100) / streamsEquivalent).toFixed(2)} % per 50+50 pps stream above idle; ` +
        `offer->connected median ${setups[5]!.toFixed(0)} ms (min ${setups[0]!.toFixed(0)}, max ${setups[9]!.toFixed(0)})`,
    )
    for (const c of calls) await child.call('delete', { callId: c.session.callId, fromTag: c.session.fromTag })
    expect(await child.call<number>('active')).toBe(0)
    await child.call('close')
    child.process.kill()
  })
})

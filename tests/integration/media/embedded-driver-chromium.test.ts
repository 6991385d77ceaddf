/**
 * Real browser interop of the embedded media driver: Debian's Chromium (playwright-core)
 * calls a plain UDP "desk phone" through the driver on 127.0.0.1. What matters here is what
 * only a real browser can show: Chrome accepts the gateway's a=setup:passive answer and its
 * BUNDLE / rtcp-mux answer, keeps the one DTLS association across hold and resume from both
 * sides (including a gateway re-offer that says a=setup:passive), sends PCMU when the answer
 * narrows it to PCMU, and sends RFC 4733 events (RTCDTMFSender) that reach the phone with the
 * phone's payload type.
 *
 * Audio proof: a WebAudio 1000 Hz oscillator is Chrome's microphone (detected at the phone
 * with G.711 decoding + Goertzel); the phone's 440 Hz arrives in the page, where an
 * AnalyserNode's peak bin must sit at 440 Hz.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { parse } from 'sdp-transform'
import { EmbeddedDriver } from '../../../gateway/src/media/embedded/embedded-driver.ts'
import { launchChromium, type Browser } from '../../support/browser.ts'
import { freePortRange } from '../../support/ports.ts'
import { LOOPBACK, UdpPhone, toneRatio, type Received } from './fake-peers.ts'
import type { Page } from 'playwright-core'

setDefaultTimeout(30_000)

const PAGE = `<!doctype html><html><head><meta charset="utf-8"><title>embedded driver interop</title></head><body><script>
window.t = {
  async start() {
    const ctx = new AudioContext()
    await ctx.resume()
    const osc = ctx.createOscillator()
    osc.frequency.value = 1000
    const gain = ctx.createGain()
    gain.gain.value = 0.3
    const dest = ctx.createMediaStreamDestination()
    osc.connect(gain).connect(dest)
    osc.start()
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' })
    this.pc = pc
    this.ctx = ctx
    this.sender = pc.addTrack(dest.stream.getAudioTracks()[0], dest.stream)
    pc.ontrack = (e) => {
      const stream = e.streams[0] || new MediaStream([e.track])
      const el = new Audio()
      el.muted = true
      el.srcObject = stream
      el.play().catch(() => {})
      this.el = el
      const an = ctx.createAnalyser()
      an.fftSize = 8192
      ctx.createMediaStreamSource(stream).connect(an)
      this.analyser = an
    }
    this.states = []
    pc.onconnectionstatechange = () => this.states.push(pc.connectionState)
  },
  async gathered() {
    const pc = this.pc
    if (pc.iceGatheringState !== 'complete') {
      await new Promise((r) => { pc.addEventListener('icegatheringstatechange', () => { if (pc.iceGatheringState === 'complete') r() }); setTimeout(r, 3000) })
    }
    return pc.localDescription.sdp
  },
  async offer(direction) {
    this.pc.getTransceivers()[0].direction = direction
    await this.pc.setLocalDescription(await this.pc.createOffer())
    return this.gathered()
  },
  async answer(sdp) {
    await this.pc.setRemoteDescription({ type: 'offer', sdp })
    await this.pc.setLocalDescription(await this.pc.createAnswer())
    return this.gathered()
  },
  async applyAnswer(sdp) { await this.pc.setRemoteDescription({ type: 'answer', sdp }) },
  peakHz() {
    const an = this.analyser
    if (!an) return 0
    const bins = new Float32Array(an.frequencyBinCount)
    an.getFloatFrequencyData(bins)
    let best = 0
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i
    return bins[best] > -100 ? best * this.ctx.sampleRate / an.fftSize : 0
  },
  async stats() {
    const out = { packetsReceived: 0, packetsSent: 0, codecs: [], dtlsState: '', dtlsRole: '', pairId: '' }
    const report = await this.pc.getStats()
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') out.packetsReceived = s.packetsReceived
      if (s.type === 'outbound-rtp' && s.kind === 'audio') out.packetsSent = s.packetsSent
      if (s.type === 'codec') out.codecs.push(s.mimeType + '/' + s.payloadType)
      if (s.type === 'transport') { out.dtlsState = s.dtlsState; out.dtlsRole = s.dtlsRole || ''; out.pairId = s.selectedCandidatePairId || '' }
    })
    return out
  },
  dtmf(tones) { this.sender.dtmf.insertDTMF(tones, 100, 70) },
  connectionState() { return this.pc.connectionState },
  connectedCount() { return this.states.filter((s) => s === 'connected').length },
}
</script></body></html>`

/** Calls `window.t[method](arg)` in the page. */
function t<T>(method: string, arg?: unknown): Promise<T> {
  return page.evaluate(([m, a]) => (window as unknown as { t: Record<string, (x: unknown) => unknown> }).t[m as string]!(a), [method, arg] as const) as Promise<T>
}

type Stats = { packetsReceived: number; packetsSent: number; codecs: string[]; dtlsState: string; dtlsRole: string; pairId: string }

let browser: Browser
let server: ReturnType<typeof Bun.serve>
let driver: EmbeddedDriver
let phone: UdpPhone
let page: Page
let relayPort = 0
let timer: ReturnType<typeof setInterval> | undefined
let phoneSends = true
const consoleLines: string[] = []

beforeAll(async () => {
  browser = await launchChromium()
  server = Bun.serve({ hostname: LOOPBACK, port: 0, fetch: () => new Response(PAGE, { headers: { 'content-type': 'text/html; charset=utf-8' } }) })
  const base = await freePortRange(16)
  driver = new EmbeddedDriver({ bindAddress: LOOPBACK, rtpPortMin: base, rtpPortMax: base + 15 })
  phone = await UdpPhone.open(await freePortRange(2), 440)
  const context = await browser.newContext({ permissions: ['microphone'] })
  page = await context.newPage()
  page.on('console', (m) => consoleLines.push(`[page ${m.type()}] ${m.text()}`))
  page.on('pageerror', (e) => consoleLines.push(`[pageerror] ${e.message}`))
  await page.goto(`http://${LOOPBACK}:${server.port}/`)
  await t('start')
})

afterAll(async () => {
  if (timer) clearInterval(timer)
  await driver?.close()
  phone?.close()
  await browser?.close()
  await server?.stop(true)
})

async function waitFor(what: string, predicate: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!(await predicate())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}\n${consoleLines.slice(-20).join('\n')}`)
    await Bun.sleep(25)
  }
}

function since(list: Received[], at: number): Received[] {
  return list.filter((p) => p.atMs >= at)
}

const session = { callId: 'chromium-1@patchbay.test', fromTag: 'chrome', toTag: 'deskphone' }
const reverse = { callId: session.callId, fromTag: session.toTag, toTag: session.fromTag }

describe('embedded driver with Chromium', () => {
  test('Chromium calls the phone: passive DTLS answer accepted, PCMU both ways, 1000 Hz at the phone, 440 Hz in the page', async () => {
    const offer = await t<string>('offer', 'sendrecv')
    expect(offer).toContain('a=setup:actpass')
    const legacyOffer = await driver.offer({ session: { callId: session.callId, fromTag: session.fromTag }, sdp: offer, from: 'webrtc', to: 'rtp' })
    relayPort = parse(legacyOffer).media[0]!.port
    expect(String(parse(legacyOffer).media[0]!.payloads)).toBe('0 8 101')
    const answer = await driver.answer({ session, sdp: phone.sdp(), from: 'rtp', to: 'webrtc' })
    expect(answer).toContain('a=setup:passive')
    const tApply = performance.now()
    await t('applyAnswer', answer)
    await waitFor('Chromium connectionState connected', async () => (await t<string>('connectionState')) === 'connected')
    console.log(`[embedded+chromium] answer applied -> connected ${(performance.now() - tApply).toFixed(0)} ms`)

    timer = setInterval(() => {
      if (phoneSends) phone.sendTone(relayPort)
    }, 20)
    const t0 = performance.now()
    await Bun.sleep(1500)
    const atPhone = since(phone.received, t0)
    expect(atPhone.length).toBeGreaterThan(40)
    expect(atPhone.every((p) => p.payloadType === 0)).toBe(true)
    expect(toneRatio(atPhone, 'PCMU', 1000, 440)).toBeGreaterThan(30)
    await waitFor('the page hearing 440 Hz', async () => Math.abs((await t<number>('peakHz')) - 440) < 15)
    const stats = await t<Stats>('stats')
    expect(stats.dtlsState).toBe('connected')
    expect(stats.dtlsRole).toBe('client') // Chrome is the DTLS client: the gateway is passive
    expect(stats.codecs).toContain('audio/PCMU/0')
    expect(stats.packetsReceived).toBeGreaterThan(40)
  })

  test('RTCDTMFSender digits reach the phone as telephone-event PT 101', async () => {
    const t0 = performance.now()
    await t('dtmf', '5')
    await Bun.sleep(600)
    const events = since(phone.received, t0).filter((p) => p.payloadType === 101)
    expect(events.length).toBeGreaterThan(2)
    expect(events.every((p) => p.payload[0] === 5)).toBe(true)
    expect(events.some((p) => (p.payload[1]! & 0x80) !== 0)).toBe(true) // the end bit
  })

  test('hold and resume from Chromium and from the phone keep one DTLS association', async () => {
    const before = await t<Stats>('stats')
    // Chromium holds (sendonly): the phone still hears the tone, the page stops receiving.
    const holdOffer = await driver.offer({ session, sdp: await t<string>('offer', 'sendonly'), from: 'webrtc', to: 'rtp' })
    expect(parse(holdOffer).media[0]!.direction).toBe('sendonly')
    await t('applyAnswer', await driver.answer({ session, sdp: phone.sdp('recvonly', 2), from: 'rtp', to: 'webrtc' }))
    await Bun.sleep(300)
    const held = await t<Stats>('stats')
    await Bun.sleep(500)
    const heldLater = await t<Stats>('stats')
    expect(heldLater.packetsReceived - held.packetsReceived).toBeLessThan(3)
    // Resume from Chromium.
    await driver.offer({ session, sdp: await t<string>('offer', 'sendrecv'), from: 'webrtc', to: 'rtp' })
    await t('applyAnswer', await driver.answer({ session, sdp: phone.sdp('sendrecv', 3), from: 'rtp', to: 'webrtc' }))
    await waitFor('packets reaching Chromium again', async () => (await t<Stats>('stats')).packetsReceived > heldLater.packetsReceived + 10)

    // The phone holds: the gateway re-offers to Chromium with a=setup:passive.
    const reoffer = await driver.offer({ session: reverse, sdp: phone.sdp('sendonly', 4), from: 'rtp', to: 'webrtc' })
    expect(reoffer).toContain('a=setup:passive')
    expect(parse(reoffer).media[0]!.direction).toBe('sendonly')
    const chromeAnswer = await t<string>('answer', reoffer)
    expect(chromeAnswer).toContain('a=setup:active')
    expect(parse(chromeAnswer).media[0]!.direction).toBe('recvonly')
    const legacyAnswer = await driver.answer({ session: reverse, sdp: chromeAnswer, from: 'webrtc', to: 'rtp' })
    expect(parse(legacyAnswer).media[0]!.direction).toBe('recvonly')
    expect(parse(legacyAnswer).media[0]!.port).toBe(relayPort)
    await Bun.sleep(200)
    let t0 = performance.now()
    await Bun.sleep(500)
    expect(since(phone.received, t0).filter((p) => p.payloadType === 0)).toHaveLength(0)
    // The phone resumes.
    const resume = await driver.offer({ session: reverse, sdp: phone.sdp('sendrecv', 5), from: 'rtp', to: 'webrtc' })
    await driver.answer({ session: reverse, sdp: await t<string>('answer', resume), from: 'webrtc', to: 'rtp' })
    t0 = performance.now()
    await Bun.sleep(800)
    const back = since(phone.received, t0)
    expect(back.length).toBeGreaterThan(20)
    expect(toneRatio(back, 'PCMU', 1000, 440)).toBeGreaterThan(30)

    const after = await t<Stats>('stats')
    expect(after.dtlsState).toBe('connected')
    expect(after.dtlsRole).toBe(before.dtlsRole)
    expect(after.pairId).toBe(before.pairId)
    expect(await t<number>('connectedCount')).toBe(1)
  })

  test('hang-up: delete releases the session', async () => {
    phoneSends = false
    await driver.delete({ callId: session.callId, fromTag: session.fromTag })
    expect(driver.activeSessions).toBe(0)
  })

  test('the phone calls Chromium: werift offers actpass, Chromium answers active, tones both ways', async () => {
    const second = await browser.newContext({ permissions: ['microphone'] })
    const page2 = await second.newPage()
    await page2.goto(`http://${LOOPBACK}:${server.port}/`)
    const call2 = (method: string, arg?: unknown) =>
      page2.evaluate(([m, a]) => (window as unknown as { t: Record<string, (x: unknown) => unknown> }).t[m as string]!(a), [method, arg] as const)
    await call2('start')
    const phone2 = await UdpPhone.open(await freePortRange(2), 440)
    const s2 = { callId: 'chromium-2@patchbay.test', fromTag: 'deskphone-2', toTag: 'chrome-2' }
    try {
      const offer = await driver.offer({ session: { callId: s2.callId, fromTag: s2.fromTag }, sdp: phone2.sdp('sendrecv', 1, [0, 8, 101]), from: 'rtp', to: 'webrtc' })
      expect(offer).toContain('a=setup:actpass')
      const chromeAnswer = (await call2('answer', offer)) as string
      expect(chromeAnswer).toContain('a=setup:active')
      const legacyAnswer = parse(await driver.answer({ session: s2, sdp: chromeAnswer, from: 'webrtc', to: 'rtp' }))
      const port2 = legacyAnswer.media[0]!.port
      expect(String(legacyAnswer.media[0]!.payloads).split(' ')[0]).toBe('0')
      const deadline = performance.now() + 5000
      while ((await call2('connectionState')) !== 'connected' && performance.now() < deadline) await Bun.sleep(25)
      expect(await call2('connectionState')).toBe('connected')
      const tone = setInterval(() => phone2.sendTone(port2), 20)
      const t0 = performance.now()
      await Bun.sleep(1200)
      clearInterval(tone)
      const atPhone = since(phone2.received, t0).filter((p) => p.payloadType === 0)
      expect(atPhone.length).toBeGreaterThan(30)
      expect(toneRatio(atPhone, 'PCMU', 1000, 440)).toBeGreaterThan(30)
      const heard = (await call2('peakHz')) as number
      expect(Math.abs(heard - 440)).toBeLessThan(15)
      const stats = (await call2('stats')) as Stats
      expect(stats.dtlsRole).toBe('client')
    } finally {
      await driver.delete({ callId: s2.callId, fromTag: s2.fromTag })
      phone2.close()
      await second.close()
    }
    expect(driver.activeSessions).toBe(0)
  })
})

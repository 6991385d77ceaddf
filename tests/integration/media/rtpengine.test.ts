/**
 * RtpengineDriver against a REAL rtpengine (Debian `rtpengine-daemon` 10.5, userspace),
 * started here on free 127.0.0.1 ports and killed in afterAll:
 *
 * 1. a Chrome-style WebRTC offer towards plain RTP, then a G.711 answer back;
 * 2. the reverse: a plain RTP offer towards a browser, then the browser's answer;
 * 3. delete releases the call on rtpengine;
 * 4. end-to-end media: werift as the browser (ICE + DTLS-SRTP with rtpengine), a plain UDP
 *    socket as the legacy phone; a 1000 Hz PCMU tone crosses one way, 440 Hz the other;
 * 5. hold (sendonly -> recvonly) and resume, from either side;
 * 6. no common codec -> 488; and the offer/answer round-trip figures.
 *
 * Needs `rtpengine` (apt-get install -y rtpengine-daemon, or tests/setup/install-peers.sh).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { udp } from 'bun'
import { parse, type MediaDescription } from 'sdp-transform'
import { RTCPeerConnection, RTCRtpCodecParameters, RtpHeader, RtpPacket } from 'werift'
import type { Logger } from '../../../gateway/src/base/log.ts'
import { MediaError } from '../../../gateway/src/media/media-driver.ts'
import { NgClient, NgError } from '../../../gateway/src/media/rtpengine/ng-client.ts'
import { RtpengineDriver } from '../../../gateway/src/media/rtpengine/rtpengine-driver.ts'
import { freePortRange, freeUdpPort } from '../../support/ports.ts'
import { PeerSet, requireBinary, type PeerProcess } from '../../support/processes.ts'

const quiet: Logger = { category: 'test', debug() {}, info() {}, warn() {}, error() {}, debugEnabled: false }

const peers = new PeerSet()
const sockets: Array<{ close(): void }> = []
let rtpengine: PeerProcess
let driver: RtpengineDriver
let ng: NgClient
let portMin = 0
let portMax = 0

beforeAll(async () => {
  const binary = requireBinary('rtpengine', 'rtpengine-daemon')
  const ngPort = await freeUdpPort()
  const base = await freePortRange(64)
  portMin = base % 2 === 0 ? base : base + 1
  portMax = base + 63
  rtpengine = peers.spawn('rtpengine', [
    binary,
    '--config-file=none',
    '--foreground',
    '--log-stderr',
    '--table=-1',
    '--interface=127.0.0.1',
    `--listen-ng=127.0.0.1:${ngPort}`,
    `--port-min=${portMin}`,
    `--port-max=${portMax}`,
    '--num-threads=2',
    '--dtls-passive',
  ])
  await rtpengine.waitFor(/Startup complete/, 10_000)
  ng = new NgClient({ host: '127.0.0.1', port: ngPort })
  await ng.ping()
  driver = new RtpengineDriver({ instances: [{ host: '127.0.0.1', port: ngPort }], logger: quiet })
}, 15_000)

afterAll(async () => {
  await driver?.close()
  await ng?.close()
  for (const socket of sockets.splice(0)) socket.close()
  await peers.killAll()
}, 15_000)

/** A bound UDP socket that swallows whatever arrives (stray ICE checks land here, not on someone's port). */
async function sink(): Promise<number> {
  const socket = await Bun.udpSocket({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  sockets.push(socket)
  return socket.port
}

/** What Chrome offers for an audio-only call (bundlePolicy max-bundle), on 127.0.0.1:port. */
function chromeOffer(port: number, direction = 'sendrecv', version = 2): string {
  return [
    'v=0',
    `o=- 4611731400430051336 ${version} IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS 5c3f0cb8-7d4e-4b52-a0a4-2ab2f1a0b6f1',
    `m=audio ${port} UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126`,
    'c=IN IP4 127.0.0.1',
    'a=rtcp:9 IN IP4 0.0.0.0',
    `a=candidate:1467250027 1 udp 2122260223 127.0.0.1 ${port} typ host generation 0 network-id 1`,
    'a=ice-ufrag:Hq7v',
    'a=ice-pwd:H6bGu2WmJ+Kp0nB3qT7vL1xZ',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08',
    'a=setup:actpass',
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01',
    'a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid',
    `a=${direction}`,
    'a=msid:5c3f0cb8-7d4e-4b52-a0a4-2ab2f1a0b6f1 9a1c7e55-3a4f-4c1b-8f5e-0c6d2d7b1e20',
    'a=rtcp-mux',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:63 red/48000/2',
    'a=fmtp:63 111/111',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:13 CN/8000',
    'a=rtpmap:110 telephone-event/48000',
    'a=rtpmap:126 telephone-event/8000',
    'a=ssrc:3735928559 cname:k2D9ZrJ0Yk2Qb1Xy',
    'a=ssrc:3735928559 msid:5c3f0cb8-7d4e-4b52-a0a4-2ab2f1a0b6f1 9a1c7e55-3a4f-4c1b-8f5e-0c6d2d7b1e20',
    '',
  ].join('\r\n')
}

/** Chrome's answer to an offer from rtpengine (setup:active, PCMU + telephone-event). */
function chromeAnswer(port: number, mid: string, direction = 'sendrecv', version = 2): string {
  return [
    'v=0',
    `o=- 7212374127193563271 ${version} IN IP4 127.0.0.1`,
    's=-',
    't=0 0',
    `a=group:BUNDLE ${mid}`,
    'a=msid-semantic: WMS',
    `m=audio ${port} UDP/TLS/RTP/SAVPF 0 101`,
    'c=IN IP4 127.0.0.1',
    'a=rtcp:9 IN IP4 0.0.0.0',
    `a=candidate:2999745851 1 udp 2122260223 127.0.0.1 ${port} typ host generation 0 network-id 1`,
    'a=ice-ufrag:Zq3B',
    'a=ice-pwd:4p5RZkJd+oN9QxvU2c7yT0aH',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00',
    'a=setup:active',
    `a=mid:${mid}`,
    `a=${direction}`,
    'a=rtcp-mux',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=ssrc:1111111111 cname:answerer',
    '',
  ].join('\r\n')
}

/** A plain G.711 phone (no ICE, no rtcp-mux). */
function legacySdp(port: number, opts: { payloads?: string; direction?: string; version?: number; ssrc?: number } = {}): string {
  const payloads = opts.payloads ?? '0 8 101'
  const maps: Record<string, string> = { '0': 'PCMU/8000', '8': 'PCMA/8000', '101': 'telephone-event/8000', '126': 'telephone-event/8000' }
  return [
    'v=0',
    `o=legacy 1001 ${opts.version ?? 1} IN IP4 127.0.0.1`,
    's=call',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP ${payloads}`,
    ...payloads.split(' ').map((pt) => `a=rtpmap:${pt} ${maps[pt]}`),
    ...(payloads.includes('101') ? ['a=fmtp:101 0-16'] : []),
    'a=ptime:20',
    `a=${opts.direction ?? 'sendrecv'}`,
    // RFC 5576 source attribute: werift routes incoming RTP by signalled SSRC only.
    ...(opts.ssrc !== undefined ? [`a=ssrc:${opts.ssrc} cname:legacy-phone`] : []),
    '',
  ].join('\r\n')
}

function audio(sdp: string): MediaDescription & { text: string } {
  const media = parse(sdp).media.find((m) => m.type === 'audio')
  if (!media) throw new Error(`no audio m-line in:\n${sdp}`)
  const start = sdp.indexOf('m=audio')
  const end = sdp.indexOf('\r\nm=', start + 1)
  return Object.assign(media, { text: sdp.slice(start, end < 0 ? undefined : end) })
}

function directionOf(sdp: string): string | undefined {
  return /^a=(sendrecv|sendonly|recvonly|inactive)\r?$/m.exec(sdp)?.[1]
}

let calls = 0
const newCallId = (label: string) => `${label}-${++calls}-${Date.now()}@it.patchbay.test`

describe('rtpengine driver with a real rtpengine', () => {
  test('(1) WebRTC offer -> RTP/AVP without ICE/DTLS; G.711 answer -> UDP/TLS/RTP/SAVPF, passive, ICE, rtcp-mux, BUNDLE', async () => {
    const callId = newCallId('webrtc-to-rtp')
    const browserPort = await sink()
    const phonePort = await sink()
    const t0 = performance.now()
    const toPhone = await driver.offer({ session: { callId, fromTag: 'browser-tag' }, sdp: chromeOffer(browserPort), from: 'webrtc', to: 'rtp' })
    const offerMs = performance.now() - t0

    const m = audio(toPhone)
    expect(m.protocol).toBe('RTP/AVP')
    expect(m.port).toBeGreaterThanOrEqual(portMin)
    expect(m.port).toBeLessThanOrEqual(portMax)
    expect(toPhone).toMatch(/^c=IN IP4 127\.0\.0\.1\r?$/m)
    for (const gone of ['a=ice-ufrag', 'a=ice-pwd', 'a=candidate', 'a=fingerprint', 'a=setup', 'a=rtcp-mux']) {
      expect(toPhone).not.toContain(gone)
    }
    expect(toPhone).toContain('a=rtpmap:0 PCMU/8000')
    expect(toPhone).toContain('a=rtpmap:8 PCMA/8000')
    expect(m.rtcp?.port).toBe(m.port + 1) // demuxed: RTCP on port+1 for the legacy phone
    expect(driver.activeSessions).toBe(1)

    const t1 = performance.now()
    const toBrowser = await driver.answer({
      session: { callId, fromTag: 'browser-tag', toTag: 'phone-tag' },
      sdp: legacySdp(phonePort, { payloads: '0 126' }),
      from: 'rtp',
      to: 'webrtc',
    })
    const answerMs = performance.now() - t1
    const b = audio(toBrowser)
    expect(b.protocol).toBe('UDP/TLS/RTP/SAVPF')
    expect(String(b.payloads)).toBe('0 126')
    expect(toBrowser).toMatch(/^a=setup:passive\r?$/m)
    expect(toBrowser).toMatch(/^a=ice-ufrag:\S+\r?$/m)
    expect(toBrowser).toMatch(/^a=ice-pwd:\S+\r?$/m)
    expect(toBrowser).toMatch(/^a=candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 \d+ typ host\r?$/m)
    expect(toBrowser).toMatch(/^a=fingerprint:sha-256 [0-9A-F:]+\r?$/m)
    expect(toBrowser).toMatch(/^a=rtcp-mux\r?$/m)
    expect(toBrowser).toMatch(/^a=mid:0\r?$/m)
    expect(toBrowser).toMatch(/^a=group:BUNDLE 0\r?$/m)
    console.log(`rtpengine ng round trip through the driver: offer ${offerMs.toFixed(2)} ms, answer ${answerMs.toFixed(2)} ms`)
    await driver.delete({ callId, fromTag: 'browser-tag' })
  })

  test('(2) RTP offer -> WebRTC (actpass, ICE, mid, BUNDLE); browser answer -> RTP/AVP', async () => {
    const callId = newCallId('rtp-to-webrtc')
    const phonePort = await sink()
    const browserPort = await sink()
    const toBrowser = await driver.offer({ session: { callId, fromTag: 'phone-tag' }, sdp: legacySdp(phonePort), from: 'rtp', to: 'webrtc' })
    const b = audio(toBrowser)
    expect(b.protocol).toBe('UDP/TLS/RTP/SAVPF')
    // RFC 5763 §5: "The endpoint that is the offerer MUST use the setup attribute value of setup:actpass"
    expect(toBrowser).toMatch(/^a=setup:actpass\r?$/m)
    expect(toBrowser).toMatch(/^a=ice-ufrag:\S+\r?$/m)
    expect(toBrowser).toMatch(/^a=candidate:\S+ 1 UDP \d+ 127\.0\.0\.1 \d+ typ host\r?$/m)
    expect(toBrowser).toMatch(/^a=rtcp-mux\r?$/m)
    expect(toBrowser).toMatch(/^a=rtcp:\d+ IN IP4 127\.0\.0\.1\r?$/m) // full form: werift cannot read a=rtcp:PORT
    expect(toBrowser).not.toContain('a=crypto')
    expect(b.mid).toBeDefined()
    const mid = String(b.mid)
    expect(toBrowser).toMatch(new RegExp(`^a=group:BUNDLE ${mid}\\r?$`, 'm'))

    const toPhone = await driver.answer({
      session: { callId, fromTag: 'phone-tag', toTag: 'browser-tag' },
      sdp: chromeAnswer(browserPort, mid),
      from: 'webrtc',
      to: 'rtp',
    })
    const p = audio(toPhone)
    expect(p.protocol).toBe('RTP/AVP')
    expect(String(p.payloads)).toBe('0 101')
    expect(toPhone).toMatch(/^c=IN IP4 127\.0\.0\.1\r?$/m)
    for (const gone of ['a=ice-ufrag', 'a=candidate', 'a=fingerprint', 'a=setup', 'a=rtcp-mux', 'a=group:BUNDLE']) {
      expect(toPhone).not.toContain(gone)
    }
    await driver.delete({ callId, fromTag: 'phone-tag' })
  })

  test('(3) delete releases the call on rtpengine (list lacks it, query fails)', async () => {
    const callId = newCallId('delete')
    const before = driver.activeSessions
    await driver.offer({ session: { callId, fromTag: 'a' }, sdp: legacySdp(await sink()), from: 'rtp', to: 'webrtc' })
    await driver.answer({ session: { callId, fromTag: 'a', toTag: 'b' }, sdp: chromeAnswer(await sink(), '0'), from: 'webrtc', to: 'rtp' })
    expect(await driver.listCalls(0, 1000)).toContain(callId)
    expect((await ng.request('query', { 'call-id': callId })).result).toBe('ok')
    expect(driver.activeSessions).toBe(before + 1)

    await driver.delete({ callId, fromTag: 'a', toTag: 'b' })
    expect(driver.activeSessions).toBe(before)
    expect(await driver.listCalls(0, 1000)).not.toContain(callId)
    const error = await ng.request('query', { 'call-id': callId }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NgError)
    expect((error as NgError).kind).toBe('error-reply')
    expect((error as NgError).message).toMatch(/unknown call/i)
    // Deleting again (a BYE retransmission) is not an error.
    await driver.delete({ callId, fromTag: 'a', toTag: 'b' })
  })

  test('(4) end-to-end media: werift (DTLS-SRTP, ICE) <-> rtpengine <-> plain RTP, 1000 Hz one way, 440 Hz the other', async () => {
    const phone = await UdpPhone.open()
    let call: WeriftCall | null = null
    try {
      call = await connectWerift(phone)
      const { pc, transceiver, relayPort, browserHeard, setupMs, attempts } = call

      // 1.5 s of 20 ms PCMU packets each way (160 samples, sequence +1, timestamp +160).
      const browserTone = new ToneSource(1000)
      const phoneTone = new ToneSource(440)
      const PACKETS = 75
      const sendStart = performance.now()
      let firstMediaMs = -1
      for (let i = 0; i < PACKETS; i++) {
        const header = new RtpHeader({ payloadType: 0, sequenceNumber: (1000 + i) & 0xffff, timestamp: i * 160, ssrc: 0x5eed, marker: i === 0 })
        void transceiver.sender.sendRtp(new RtpPacket(header, Buffer.from(browserTone.next160())))
        phone.send(relayPort, i, phoneTone.next160(), LEGACY_SSRC)
        if (firstMediaMs < 0 && phone.heard.length > 0) firstMediaMs = performance.now() - sendStart
        await Bun.sleep(20)
      }
      await Bun.sleep(150)
      expect(pc.connectionState).toBe('connected')

      // What each side heard: the other side's tone, far above the frequency it sent itself.
      expect(phone.heard.length).toBeGreaterThan(PACKETS * 0.8)
      expect(browserHeard.length).toBeGreaterThan(PACKETS * 0.8)
      const atPhone = decodeUlaw(phone.heard)
      const atBrowser = decodeUlaw(browserHeard)
      const phone1000 = goertzel(atPhone, 1000)
      const phone440 = goertzel(atPhone, 440)
      const browser440 = goertzel(atBrowser, 440)
      const browser1000 = goertzel(atBrowser, 1000)
      expect(phone1000).toBeGreaterThan(100 * phone440)
      expect(browser440).toBeGreaterThan(100 * browser1000)
      console.log(
        `werift<->rtpengine: ICE+DTLS connected ${setupMs.toFixed(0)} ms after setRemoteDescription(answer)` +
          ` (attempt ${attempts}); first media at the phone ${firstMediaMs.toFixed(0)} ms after the first send;` +
          ` phone heard ${phone.heard.length}/${PACKETS} packets (1000/440 Hz power ratio ${(phone1000 / phone440).toExponential(1)}),` +
          ` browser heard ${browserHeard.length}/${PACKETS} (440/1000 Hz ratio ${(browser440 / browser1000).toExponential(1)})`,
      )
    } finally {
      if (call) {
        await driver.delete({ callId: call.callId, fromTag: 'werift' })
        await call.pc.close()
      }
      phone.close()
    }
  }, 30_000)

  test('(5) hold and resume: sendonly re-offer -> recvonly answer, from either side; ports and DTLS role kept', async () => {
    const callId = newCallId('hold')
    const phonePort = await sink()
    const browserPort = await sink()
    const phone = { callId, fromTag: 'phone-tag' }
    const first = await driver.offer({ session: phone, sdp: legacySdp(phonePort), from: 'rtp', to: 'webrtc' })
    const mid = String(audio(first).mid)
    const firstAnswer = await driver.answer({ session: { ...phone, toTag: 'browser-tag' }, sdp: chromeAnswer(browserPort, mid), from: 'webrtc', to: 'rtp' })

    // The phone holds: its re-INVITE offers sendonly.
    const holdOffer = await driver.offer({
      session: { ...phone, toTag: 'browser-tag' },
      sdp: legacySdp(phonePort, { direction: 'sendonly', version: 2 }),
      from: 'rtp',
      to: 'webrtc',
    })
    expect(directionOf(holdOffer)).toBe('sendonly')
    expect(audio(holdOffer).port).toBe(audio(first).port)
    expect(holdOffer).not.toMatch(/^a=setup:active/m) // the gateway stays the DTLS server
    expect(holdOffer).toMatch(/^a=group:BUNDLE /m)
    const holdAnswer = await driver.answer({
      session: { ...phone, toTag: 'browser-tag' },
      sdp: chromeAnswer(browserPort, mid, 'recvonly', 3),
      from: 'webrtc',
      to: 'rtp',
    })
    expect(directionOf(holdAnswer)).toBe('recvonly')
    expect(audio(holdAnswer).port).toBe(audio(firstAnswer).port)

    // The phone resumes.
    const resume = await driver.offer({ session: { ...phone, toTag: 'browser-tag' }, sdp: legacySdp(phonePort, { version: 3 }), from: 'rtp', to: 'webrtc' })
    expect(directionOf(resume)).toBe('sendrecv')
    const resumed = await driver.answer({ session: { ...phone, toTag: 'browser-tag' }, sdp: chromeAnswer(browserPort, mid, 'sendrecv', 4), from: 'webrtc', to: 'rtp' })
    expect(directionOf(resumed)).toBe('sendrecv')

    // The browser holds: its re-INVITE (From = the browser's tag) offers sendonly.
    const browser = { callId, fromTag: 'browser-tag', toTag: 'phone-tag' }
    const browserHold = await driver.offer({
      session: browser,
      sdp: chromeAnswer(browserPort, mid, 'sendonly', 5).replace('a=setup:active', 'a=setup:actpass'),
      from: 'webrtc',
      to: 'rtp',
    })
    expect(directionOf(browserHold)).toBe('sendonly')
    expect(audio(browserHold).protocol).toBe('RTP/AVP')
    const phoneAccepts = await driver.answer({ session: browser, sdp: legacySdp(phonePort, { direction: 'recvonly', version: 4 }), from: 'rtp', to: 'webrtc' })
    expect(directionOf(phoneAccepts)).toBe('recvonly')
    expect(phoneAccepts).toMatch(/^a=setup:passive\r?$/m)
    expect(phoneAccepts).toMatch(/^a=group:BUNDLE /m)
    expect(driver.activeSessions).toBeGreaterThanOrEqual(1)
    await driver.delete({ callId, fromTag: 'phone-tag' })
  })

  test('(6) no common codec -> 488: an opus-only browser answered with PCMU only', async () => {
    const callId = newCallId('no-codec')
    const opusOnly = chromeOffer(await sink()).replace('UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126', 'UDP/TLS/RTP/SAVPF 111 110')
    await driver.offer({ session: { callId, fromTag: 'browser' }, sdp: opusOnly, from: 'webrtc', to: 'rtp' })
    const error = await driver
      .answer({ session: { callId, fromTag: 'browser', toTag: 'phone' }, sdp: legacySdp(await sink(), { payloads: '0' }), from: 'rtp', to: 'webrtc' })
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MediaError)
    expect((error as MediaError).status).toBe(488)
    await driver.delete({ callId, fromTag: 'browser' })
    expect(await driver.listCalls(0, 1000)).not.toContain(callId)
  })

  test('(7) figures: 50 sequential calls, offer/answer/delete round trips through the driver', async () => {
    const phonePort = await sink()
    const browserPort = await sink()
    const offers: number[] = []
    const answers: number[] = []
    for (let i = 0; i < 50; i++) {
      const callId = newCallId('latency')
      let t = performance.now()
      await driver.offer({ session: { callId, fromTag: 'b' }, sdp: chromeOffer(browserPort), from: 'webrtc', to: 'rtp' })
      offers.push(performance.now() - t)
      t = performance.now()
      await driver.answer({ session: { callId, fromTag: 'b', toTag: 'p' }, sdp: legacySdp(phonePort, { payloads: '0 126' }), from: 'rtp', to: 'webrtc' })
      answers.push(performance.now() - t)
      await driver.delete({ callId, fromTag: 'b' })
    }
    const stats = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b)
      return `median ${s[Math.floor(s.length / 2)]!.toFixed(2)} ms, p95 ${s[Math.floor(s.length * 0.95)]!.toFixed(2)} ms`
    }
    console.log(`offer ${stats(offers)}; answer ${stats(answers)}; rtpengine rtt ${driver.instanceStatus()[0]!.lastRttMs?.toFixed(2)} ms`)
    expect(Math.max(...offers, ...answers)).toBeLessThan(500)
    const statistics = await driver.statistics()
    expect(statistics).toHaveProperty('totalstatistics')
  }, 15_000)
})

// ---------------------------------------------------------------------------------------
// werift as the browser.

const LEGACY_SSRC = 0x1e6ac11

interface WeriftCall {
  callId: string
  pc: RTCPeerConnection
  transceiver: ReturnType<RTCPeerConnection['addTransceiver']>
  /** rtpengine's port for the plain-RTP leg (where the phone sends). */
  relayPort: number
  browserHeard: Uint8Array[]
  /** setRemoteDescription(answer) -> connectionState 'connected' (ICE + DTLS), ms. */
  setupMs: number
  attempts: number
}

/**
 * Sets up a call werift -> driver -> phone and waits for werift's ICE + DTLS with rtpengine.
 *
 * werift 0.25's DTLS *client* stalls in about one handshake in five against rtpengine
 * 10.5 (OpenSSL 3), seen here with ECDSA and RSA certificates alike: rtpengine logs "DTLS:
 * Peer certificate accepted" but never "DTLS-SRTP successfully negotiated", keeps
 * retransmitting its flight 4, and werift answers "flight5 twice" forever. Browsers are not
 * affected (Chrome is the DTLS client there). So a call that has not connected after 3 s
 * is torn down and set up again, up to 4 attempts; the attempt count is printed.
 */
async function connectWerift(phone: UdpPhone): Promise<WeriftCall> {
  const failures: string[] = []
  for (let attempt = 1; attempt <= 4; attempt++) {
    const callId = newCallId('e2e')
    const pc = new RTCPeerConnection({
      // werift skips loopback unless told; with the other interfaces off, 127.0.0.1 is its only candidate.
      iceAdditionalHostAddresses: ['127.0.0.1'],
      iceUseIpv4: false,
      iceUseIpv6: false,
      codecs: {
        audio: [
          new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, channels: 1, payloadType: 0 }),
          new RTCRtpCodecParameters({ mimeType: 'audio/PCMA', clockRate: 8000, channels: 1, payloadType: 8 }),
        ],
      },
    })
    const transceiver = pc.addTransceiver('audio', { direction: 'sendrecv' })
    const browserHeard: Uint8Array[] = []
    transceiver.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => {
        if (rtp.header.payloadType === 0) browserHeard.push(new Uint8Array(rtp.payload))
      })
    })
    await pc.setLocalDescription(await pc.createOffer())
    await gathered(pc)

    const toPhone = await driver.offer({ session: { callId, fromTag: 'werift' }, sdp: pc.localDescription!.sdp, from: 'webrtc', to: 'rtp' })
    const toBrowser = await driver.answer({
      session: { callId, fromTag: 'werift', toTag: 'phone' },
      sdp: legacySdp(phone.port, { payloads: '0', ssrc: LEGACY_SSRC }),
      from: 'rtp',
      to: 'webrtc',
    })
    expect(toBrowser).toMatch(/^a=group:BUNDLE \S+/m)

    const connected = new Promise<void>((resolve, reject) => {
      pc.connectionStateChange.subscribe((state) => {
        if (state === 'connected') resolve()
        if (state === 'failed') reject(new Error('connectionState failed'))
      })
    })
    const start = performance.now()
    await pc.setRemoteDescription({ type: 'answer', sdp: toBrowser })
    try {
      await withTimeout(connected, 3_000, 'werift ICE + DTLS with rtpengine')
      return { callId, pc, transceiver, relayPort: audio(toPhone).port, browserHeard, setupMs: performance.now() - start, attempts: attempt }
    } catch (error) {
      failures.push(`attempt ${attempt}: ${error instanceof Error ? error.message : String(error)} (state ${pc.connectionState})`)
      await driver.delete({ callId, fromTag: 'werift' })
      await pc.close()
    }
  }
  throw new Error(`werift never connected to rtpengine:\n${failures.join('\n')}\n--- rtpengine ---\n${rtpengine.tail(30)}`)
}

// ---------------------------------------------------------------------------------------
// The legacy phone: a UDP socket speaking plain RTP/AVP PCMU.

class UdpPhone {
  readonly heard: Uint8Array[] = []
  private constructor(private readonly socket: udp.Socket<'uint8array'>) {}

  static async open(): Promise<UdpPhone> {
    let phone: UdpPhone | null = null
    const socket = await Bun.udpSocket({
      hostname: '127.0.0.1',
      port: 0,
      binaryType: 'uint8array',
      socket: {
        data(_s, data) {
          const payload = rtpPayload(data, 0)
          if (payload) phone?.heard.push(payload)
        },
      },
    })
    phone = new UdpPhone(socket)
    return phone
  }

  get port(): number {
    return this.socket.port
  }

  /** One RTP packet: V=2, PT 0, sequence `i`, timestamp 160·i. */
  send(relayPort: number, i: number, payload: Uint8Array, ssrc: number): void {
    const packet = new Uint8Array(12 + payload.length)
    const view = new DataView(packet.buffer)
    packet[0] = 0x80
    packet[1] = (i === 0 ? 0x80 : 0) | 0
    view.setUint16(2, (5000 + i) & 0xffff)
    view.setUint32(4, i * 160)
    view.setUint32(8, ssrc)
    packet.set(payload, 12)
    this.socket.send(packet, relayPort, '127.0.0.1')
  }

  close(): void {
    this.socket.close()
  }
}

/** RFC 3550 §5.1: the payload of an RTP packet of payload type `pt`, or null. */
function rtpPayload(packet: Uint8Array, pt: number): Uint8Array | null {
  if (packet.length < 12 || packet[0]! >> 6 !== 2 || (packet[1]! & 0x7f) !== pt) return null
  let offset = 12 + 4 * (packet[0]! & 0x0f)
  if (packet[0]! & 0x10) {
    if (packet.length < offset + 4) return null
    offset += 4 + 4 * ((packet[offset + 2]! << 8) | packet[offset + 3]!)
  }
  let end = packet.length
  if (packet[0]! & 0x20) end -= packet[packet.length - 1]!
  return offset <= end ? packet.slice(offset, end) : null
}

/** A sine tone at 8 kHz, mu-law encoded 160 samples (20 ms) at a time. */
class ToneSource {
  private n = 0
  constructor(private readonly hz: number) {}
  next160(): Uint8Array {
    const out = new Uint8Array(160)
    for (let i = 0; i < 160; i++, this.n++) out[i] = ulawEncode(Math.round(8000 * Math.sin((2 * Math.PI * this.hz * this.n) / 8000)))
    return out
  }
}

/** ITU-T G.711 mu-law: linear 16-bit -> 8-bit code. */
function ulawEncode(sample: number): number {
  const BIAS = 0x84
  const CLIP = 32635
  const sign = sample < 0 ? 0x80 : 0
  let magnitude = Math.min(Math.abs(sample), CLIP) + BIAS
  let exponent = 7
  for (let mask = 0x4000; (magnitude & mask) === 0 && exponent > 0; mask >>= 1) exponent--
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f
  magnitude = sign | (exponent << 4) | mantissa
  return ~magnitude & 0xff
}

/** ITU-T G.711 mu-law: 8-bit code -> linear 16-bit. */
function ulawDecode(code: number): number {
  const u = ~code & 0xff
  const exponent = (u >> 4) & 0x07
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << exponent) - 0x84
  return u & 0x80 ? -magnitude : magnitude
}

function decodeUlaw(payloads: Uint8Array[]): Float64Array {
  const total = payloads.reduce((n, p) => n + p.length, 0)
  const out = new Float64Array(total)
  let k = 0
  for (const payload of payloads) for (const code of payload) out[k++] = ulawDecode(code)
  return out
}

/** Goertzel: power of `samples` (8 kHz) at `hz`. */
function goertzel(samples: Float64Array, hz: number): number {
  const coefficient = 2 * Math.cos((2 * Math.PI * hz) / 8000)
  let s1 = 0
  let s2 = 0
  for (const x of samples) {
    const s = x + coefficient * s1 - s2
    s2 = s1
    s1 = s
  }
  return s1 * s1 + s2 * s2 - coefficient * s1 * s2
}

function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve()
  return withTimeout(
    new Promise<void>((resolve) => {
      pc.iceGatheringStateChange.subscribe((state) => {
        if (state === 'complete') resolve()
      })
    }),
    5_000,
    'werift ICE gathering',
  )
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

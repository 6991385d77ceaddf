/**
 * The SDP side of the embedded driver without any media: the plain RTP/AVP offer it writes
 * for the legacy leg from a browser offer (codecs, direction, ptime, port), the 488 refusal
 * when the browser offered no G.711, and the SDP helpers.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { parse } from 'sdp-transform'
import { EmbeddedDriver } from '../../../../gateway/src/media/embedded/embedded-driver.ts'
import { buildPlainAudioSdp, parseAudioSdp, restrictAudioCodecs } from '../../../../gateway/src/media/embedded/audio-sdp.ts'
import { MediaError } from '../../../../gateway/src/media/media-driver.ts'

/** An audio-only offer as Chromium writes it (trimmed of extmap lines). */
function chromeOffer(direction = 'sendrecv', payloads = '111 63 9 0 8 13 110 126'): string {
  return [
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS 1b6f0d6b',
    `m=audio 9 UDP/TLS/RTP/SAVPF ${payloads}`,
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=candidate:1 1 udp 2122260223 127.0.0.1 51234 typ host generation 0 network-id 1',
    'a=ice-ufrag:Oyef',
    'a=ice-pwd:7ouyGHTkRqb/1bHK+GqcEUUm',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 6B:8B:5D:EA:59:04:20:23:29:C8:87:1C:CC:87:32:BE:DD:8C:66:A5:8E:50:55:EA:8C:D3:B6:5C:09:5E:D6:BC',
    'a=setup:actpass',
    'a=mid:0',
    `a=${direction}`,
    'a=msid:1b6f0d6b 0f0a8a3b',
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
    'a=ssrc:3735928559 cname:abcd',
    '',
  ].join('\r\n')
}

let driver: EmbeddedDriver | null = null
afterEach(async () => {
  await driver?.close()
  driver = null
})

function newDriver(): EmbeddedDriver {
  driver = new EmbeddedDriver({ bindAddress: '127.0.0.1', rtpPortMin: 41000, rtpPortMax: 41019 })
  return driver
}

describe('EmbeddedDriver.offer webrtc -> rtp', () => {
  test('writes a plain RTP/AVP offer: G.711 in browser order, telephone-event as 101, ptime 20, mirrored direction', async () => {
    const d = newDriver()
    const sdp = await d.offer({ session: { callId: 'c1', fromTag: 'browser' }, sdp: chromeOffer(), from: 'webrtc', to: 'rtp' })
    const s = parse(sdp)
    const m = s.media[0]!
    expect(s.media).toHaveLength(1)
    expect(m.type).toBe('audio')
    expect(m.protocol).toBe('RTP/AVP')
    expect(String(m.payloads)).toBe('0 8 101')
    expect((m.connection ?? s.connection)!.ip).toBe('127.0.0.1')
    expect(m.port % 2).toBe(0)
    expect(m.port).toBeGreaterThanOrEqual(41000)
    expect(m.port).toBeLessThanOrEqual(41018)
    expect(m.rtp.map((r) => `${r.payload} ${r.codec}/${r.rate}`)).toEqual(['0 PCMU/8000', '8 PCMA/8000', '101 telephone-event/8000'])
    expect(m.fmtp.find((f) => f.payload === 101)?.config).toBe('0-16')
    expect(m.ptime).toBe(20)
    expect(m.direction).toBe('sendrecv')
    // No WebRTC leftovers on the legacy leg.
    expect(sdp).not.toContain('ice-ufrag')
    expect(sdp).not.toContain('fingerprint')
    expect(sdp).not.toContain('a=candidate')
    expect(d.activeSessions).toBe(1)
    expect(d.rtpPortOf({ callId: 'c1', fromTag: 'browser' })).toBe(m.port)
  })

  test('a=sendonly from the browser (hold) is mirrored; a re-offer keeps the port', async () => {
    const d = newDriver()
    const first = parse(await d.offer({ session: { callId: 'c2', fromTag: 'b' }, sdp: chromeOffer(), from: 'webrtc', to: 'rtp' }))
    const again = parse(await d.offer({ session: { callId: 'c2', fromTag: 'b' }, sdp: chromeOffer('sendonly'), from: 'webrtc', to: 'rtp' }))
    expect(again.media[0]!.direction).toBe('sendonly')
    expect(again.media[0]!.port).toBe(first.media[0]!.port)
    expect(Number(again.origin!.sessionVersion)).toBeGreaterThan(Number(first.origin!.sessionVersion))
    expect(again.origin!.sessionId).toBe(first.origin!.sessionId)
    expect(d.activeSessions).toBe(1)
  })

  test('only PCMA offered: only PCMA (8) on the legacy leg, no telephone-event when none offered', async () => {
    const d = newDriver()
    const sdp = parse(await d.offer({ session: { callId: 'c3', fromTag: 'b' }, sdp: chromeOffer('sendrecv', '111 8'), from: 'webrtc', to: 'rtp' }))
    expect(String(sdp.media[0]!.payloads)).toBe('8')
  })

  test('no G.711 in the browser offer: MediaError 488 and no session left behind', async () => {
    const d = newDriver()
    const error = await d.offer({ session: { callId: 'c4', fromTag: 'b' }, sdp: chromeOffer('sendrecv', '111 63 9 13 110 126'), from: 'webrtc', to: 'rtp' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MediaError)
    expect((error as MediaError).status).toBe(488)
    expect((error as MediaError).message).toBe('no common codec: the browser offered no G.711')
    expect(d.activeSessions).toBe(0)
  })

  test('an SDP without audio is refused with 488; a non webrtc<->rtp pairing with 500', async () => {
    const d = newDriver()
    const noAudio = await d.offer({ session: { callId: 'c5', fromTag: 'b' }, sdp: 'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n', from: 'webrtc', to: 'rtp' }).catch((e: unknown) => e)
    expect((noAudio as MediaError).status).toBe(488)
    const rtpToRtp = await d.offer({ session: { callId: 'c6', fromTag: 'b' }, sdp: chromeOffer(), from: 'rtp', to: 'rtp' }).catch((e: unknown) => e)
    expect((rtpToRtp as MediaError).status).toBe(500)
    const unknown = await d.answer({ session: { callId: 'nope', fromTag: 'x', toTag: 'y' }, sdp: chromeOffer(), from: 'rtp', to: 'webrtc' }).catch((e: unknown) => e)
    expect((unknown as MediaError).status).toBe(500)
    expect(d.activeSessions).toBe(0)
  })

  test('a legacy offer without G.711 is refused with 488', async () => {
    const d = newDriver()
    const g729 = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 101\r\na=rtpmap:101 telephone-event/8000\r\n'
    const error = await d.offer({ session: { callId: 'c7', fromTag: 'phone' }, sdp: g729, from: 'rtp', to: 'webrtc' }).catch((e: unknown) => e)
    expect((error as MediaError).status).toBe(488)
    expect(d.activeSessions).toBe(0)
  })

  test('delete releases the session and its ports; deleting again is not an error', async () => {
    const d = newDriver()
    await d.offer({ session: { callId: 'c8', fromTag: 'b' }, sdp: chromeOffer(), from: 'webrtc', to: 'rtp' })
    const port = d.rtpPortOf({ callId: 'c8', fromTag: 'b' })
    await d.delete({ callId: 'c8', fromTag: 'b' })
    await d.delete({ callId: 'c8', fromTag: 'b' })
    expect(d.activeSessions).toBe(0)
    const rtp = await Bun.udpSocket({ hostname: '127.0.0.1', port })
    const rtcp = await Bun.udpSocket({ hostname: '127.0.0.1', port: port + 1 })
    expect(rtp.port).toBe(port)
    rtp.close()
    rtcp.close()
  })
})

describe('EmbeddedDriver.offer rtp -> webrtc (werift offer, no media)', () => {
  const phoneSdp = (payloads: string) =>
    `v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP ${payloads}\r\n` +
    'a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendonly\r\n'

  test("exactly the phone's G.711 + telephone-event, actpass, BUNDLE + rtcp-mux, mirrored direction", async () => {
    const d = newDriver()
    const offer = await d.offer({ session: { callId: 'w1', fromTag: 'phone' }, sdp: phoneSdp('0 101'), from: 'rtp', to: 'webrtc' })
    const s = parse(offer)
    const m = s.media[0]!
    expect(m.protocol).toBe('UDP/TLS/RTP/SAVPF')
    expect(String(m.payloads)).toBe('0 101')
    expect(m.rtp.map((r) => `${r.payload} ${r.codec}/${r.rate}`)).toEqual(['0 PCMU/8000', '101 telephone-event/8000'])
    expect(m.setup).toBe('actpass') // RFC 5763 §5
    expect(m.direction).toBe('sendonly')
    expect(m.rtcpMux).toBe('rtcp-mux')
    expect(String(s.groups?.[0]?.mids)).toBe(String(m.mid))
    expect(m.iceUfrag).toBeTruthy()
    expect(m.fingerprint?.type).toBe('sha-256')
    expect(d.activeSessions).toBe(1)
  })

  test('publicAddress goes into c=, o= and the host candidates of the WebRTC SDP and into the plain SDP', async () => {
    driver = new EmbeddedDriver({ bindAddress: '127.0.0.1', publicAddress: '192.0.2.99', rtpPortMin: 41020, rtpPortMax: 41039 })
    const webrtc = parse(await driver.offer({ session: { callId: 'w2', fromTag: 'phone' }, sdp: phoneSdp('8 0'), from: 'rtp', to: 'webrtc' }))
    const m = webrtc.media[0]!
    expect(String(m.payloads)).toBe('8 0') // no telephone-event offered: none offered on
    const hosts = (m.candidates ?? []).filter((c) => c.type === 'host')
    expect(hosts.length).toBeGreaterThan(0)
    expect(hosts.every((c) => c.ip === '192.0.2.99')).toBe(true)
    expect((m.connection ?? webrtc.connection)!.ip).toBe('192.0.2.99')
    expect(m.port).toBe(Number(hosts[0]!.port))
    const plain = parse(await driver.offer({ session: { callId: 'w3', fromTag: 'browser' }, sdp: chromeOffer(), from: 'webrtc', to: 'rtp' }))
    expect((plain.media[0]!.connection ?? plain.connection)!.ip).toBe('192.0.2.99')
    expect(plain.origin!.address).toBe('192.0.2.99')
  })
})

describe('audio SDP helpers', () => {
  test('parseAudioSdp: static payload types without rtpmap, RFC 2543 hold address, a=rtcp', () => {
    const r = parseAudioSdp('v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 5004 RTP/AVP 8 0\r\na=rtcp:6000\r\na=recvonly\r\n')
    expect(r.ok).toBe(true)
    if (!r.ok) return
    expect(r.value.codecs.map((c) => `${c.payloadType}:${c.name}`)).toEqual(['8:PCMA', '0:PCMU'])
    expect(r.value.address).toBe('0.0.0.0')
    expect(r.value.rtcpPort).toBe(6000)
    expect(r.value.direction).toBe('recvonly')
  })

  test('parseAudioSdp never throws on garbage', () => {
    expect(parseAudioSdp('').ok).toBe(false)
    expect(parseAudioSdp('\u0000\u0001 not sdp').ok).toBe(false)
    expect(parseAudioSdp('v=0\r\nm=audio x RTP/AVP 0\r\n').ok).toBe(false)
  })

  test('restrictAudioCodecs keeps only the given payload types, in that order', () => {
    const narrowed = parse(restrictAudioCodecs(chromeOffer(), [8, 126]))
    const m = narrowed.media[0]!
    expect(String(m.payloads)).toBe('8 126')
    expect(m.rtp.map((r) => r.payload)).toEqual([8, 126])
    expect(m.fmtp).toHaveLength(0)
    expect(m.rtcpFb ?? []).toHaveLength(0)
    expect(m.fingerprint).toBeDefined()
  })

  test('buildPlainAudioSdp uses IP6 for an IPv6 address and adds rtcp-mux on request', () => {
    const sdp = buildPlainAudioSdp({ sessionId: '1', sessionVersion: 2, address: '::1', port: 5000, codecs: [{ payloadType: 0, name: 'PCMU', clockRate: 8000 }], direction: 'inactive', rtcpMux: true })
    expect(sdp).toContain('c=IN IP6 ::1\r\n')
    expect(sdp).toContain('a=rtcp-mux\r\n')
    expect(sdp).toContain('a=inactive\r\n')
    expect(sdp.endsWith('\r\n')).toBe(true)
  })
})

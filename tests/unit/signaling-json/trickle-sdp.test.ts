/**
 * trickle-sdp.ts: folding trickled candidates into an SDP (half trickle, RFC 8838 §4) and the
 * `application/trickle-ice-sdpfrag` bodies of trickle-ice INFOs (RFC 8840 §9).
 */
import { describe, expect, test } from 'bun:test'
import { announcesTrickle, buildSdpFrag, foldCandidates, iceCredentials, parseSdpFrag, withTrickleOption } from '../../../gateway/src/signaling-json/sip-leg/trickle-sdp.ts'

/** Two m-sections (audio mid 0, video mid 1), no candidates yet: what a browser's offer looks like right after setLocalDescription. */
const OFFER = [
  'v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:Uf01', 'a=ice-pwd:pwpwpwpwpwpwpwpwpwpwpwpw',
  'a=ice-options:trickle', 'a=mid:0', 'a=rtpmap:111 opus/48000/2',
  'm=video 9 UDP/TLS/RTP/SAVPF 96', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:Uf01', 'a=ice-pwd:pwpwpwpwpwpwpwpwpwpwpwpw', 'a=mid:1', 'a=rtpmap:96 VP8/90000',
  '',
].join('\r\n')

const HOST = 'candidate:1 1 udp 2122260223 192.0.2.10 50000 typ host generation 0'
const SRFLX = 'candidate:2 1 udp 1686052607 198.51.100.7 61000 typ srflx raddr 192.0.2.10 rport 50000'
const VIDEO = 'candidate:3 1 udp 2122260223 192.0.2.10 50002 typ host'

/** The lines of m-section `index` (0-based). */
function section(sdp: string, index: number): string[] {
  const parts = sdp.split('\r\n').join('\n').split(/\n(?=m=)/)
  return parts[index + 1]!.split('\n').filter((l) => l !== '')
}

describe('foldCandidates', () => {
  test('puts each candidate into its m-section by sdpMid, with a=end-of-candidates in every section', () => {
    const sdp = foldCandidates(OFFER, [
      { candidate: HOST, sdpMid: '0', sdpMLineIndex: 0 },
      { candidate: VIDEO, sdpMid: '1', sdpMLineIndex: 1 },
      { candidate: SRFLX, sdpMid: '0', sdpMLineIndex: 0 },
    ], true)
    const audio = section(sdp, 0)
    const video = section(sdp, 1)
    expect(audio).toContain(`a=${HOST}`)
    expect(audio).toContain(`a=${SRFLX}`)
    expect(audio).not.toContain(`a=${VIDEO}`)
    expect(video).toContain(`a=${VIDEO}`)
    expect(audio.at(-1)).toBe('a=end-of-candidates')
    expect(video.at(-1)).toBe('a=end-of-candidates')
    expect(sdp.endsWith('\r\n')).toBe(true)
    expect(sdp).not.toMatch(/[^\r]\n/)
  })

  test('falls back to sdpMLineIndex without a mid, and skips candidates naming no section or duplicated', () => {
    const sdp = foldCandidates(OFFER, [
      { candidate: VIDEO, sdpMid: null, sdpMLineIndex: 1 },
      { candidate: VIDEO, sdpMid: null, sdpMLineIndex: 1 },
      { candidate: HOST, sdpMid: 'nope', sdpMLineIndex: 7 },
      { candidate: 'not a candidate', sdpMid: '0' },
    ], false)
    expect(section(sdp, 1).filter((l) => l === `a=${VIDEO}`)).toHaveLength(1)
    expect(sdp).not.toContain(HOST)
    expect(sdp).not.toContain('not a candidate')
    expect(sdp).not.toContain('a=end-of-candidates')
  })

  test('sets the default destination from the first component-1 UDP candidate (RFC 8839 §4.2.1.3)', () => {
    const sdp = foldCandidates(OFFER, [{ candidate: HOST, sdpMid: '0' }], false)
    const audio = section(sdp, 0)
    expect(audio[0]).toBe('m=audio 50000 UDP/TLS/RTP/SAVPF 111')
    expect(audio).toContain('c=IN IP4 192.0.2.10')
    expect(section(sdp, 1)[0]).toBe('m=video 9 UDP/TLS/RTP/SAVPF 96')
  })

  test('an mDNS host candidate (no IP address) leaves the placeholder default', () => {
    const sdp = foldCandidates(OFFER, [{ candidate: 'candidate:9 1 udp 2122260223 6d1e0a9f-aaaa.local 50000 typ host', sdpMid: '0' }], true)
    expect(section(sdp, 0)[0]).toBe('m=audio 9 UDP/TLS/RTP/SAVPF 111')
    expect(sdp).toContain('a=candidate:9 1 udp 2122260223 6d1e0a9f-aaaa.local 50000 typ host')
  })
})

describe('trickle-ice sdpfrag (RFC 8840 §9)', () => {
  test('build: credentials, then per m-section with candidates its m= line (port 9), a=mid, candidates', () => {
    const body = buildSdpFrag(OFFER, [{ candidate: HOST, sdpMid: '0', sdpMLineIndex: 0 }], false)!
    expect(body.split('\r\n')).toEqual([
      'a=ice-ufrag:Uf01', 'a=ice-pwd:pwpwpwpwpwpwpwpwpwpwpwpw',
      'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'a=mid:0', `a=${HOST}`, '',
    ])
  })

  test('build: the end marker lists every m-section with a=end-of-candidates; nothing to say gives null', () => {
    const body = buildSdpFrag(OFFER, [], true)!
    expect(body).toContain('a=mid:0\r\na=end-of-candidates')
    expect(body).toContain('a=mid:1\r\na=end-of-candidates')
    expect(buildSdpFrag(OFFER, [], false)).toBeNull()
    expect(buildSdpFrag(OFFER, [{ candidate: HOST, sdpMid: 'x' }], false)).toBeNull()
  })

  test('parse reads back what build wrote: candidates with their mid and index, the end, the credentials', () => {
    const body = buildSdpFrag(OFFER, [
      { candidate: HOST, sdpMid: '0' }, { candidate: VIDEO, sdpMid: '1' }, { candidate: SRFLX, sdpMid: '0' },
    ], true)!
    const frag = parseSdpFrag(body)
    expect(frag.ufrag).toBe('Uf01')
    expect(frag.pwd).toBe('pwpwpwpwpwpwpwpwpwpwpwpw')
    expect(frag.end).toBe(true)
    expect(frag.candidates).toEqual([
      { candidate: HOST, sdpMid: '0', sdpMLineIndex: 0 },
      { candidate: SRFLX, sdpMid: '0', sdpMLineIndex: 0 },
      { candidate: VIDEO, sdpMid: '1', sdpMLineIndex: 1 },
    ])
  })

  test('parse: the RFC 8840 §9 example shape, LF line ends, candidates before any m= line', () => {
    const frag = parseSdpFrag('a=ice-pwd:asd88fgpdd777uzjYhagZg\na=ice-ufrag:8hhY\nm=audio 5000 RTP/AVP 0\na=mid:1\n' +
      'a=candidate:1 1 UDP 2130706431 198.51.100.1 5000 typ host\na=end-of-candidates\n')
    expect(frag).toEqual({ ufrag: '8hhY', pwd: 'asd88fgpdd777uzjYhagZg', end: true, candidates: [{ candidate: 'candidate:1 1 UDP 2130706431 198.51.100.1 5000 typ host', sdpMid: '1', sdpMLineIndex: 0 }] })
    expect(parseSdpFrag('a=candidate:7 1 udp 1 192.0.2.1 9 typ host\n').candidates).toEqual([{ candidate: 'candidate:7 1 udp 1 192.0.2.1 9 typ host', sdpMid: null, sdpMLineIndex: 0 }])
    expect(parseSdpFrag('').candidates).toEqual([])
  })
})

describe('ice-options and credentials', () => {
  test('withTrickleOption adds a=ice-options:trickle at session level only when nothing announces it', () => {
    const plain = OFFER.replace('a=ice-options:trickle\r\n', '')
    expect(announcesTrickle(plain)).toBe(false)
    const withIt = withTrickleOption(plain)
    expect(announcesTrickle(withIt)).toBe(true)
    expect(withIt.indexOf('a=ice-options:trickle')).toBeLessThan(withIt.indexOf('m=audio'))
    expect(withTrickleOption(OFFER)).toBe(OFFER)
    expect(iceCredentials(OFFER)).toEqual({ ufrag: 'Uf01', pwd: 'pwpwpwpwpwpwpwpwpwpwpwpw' })
  })
})

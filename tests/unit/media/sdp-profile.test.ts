import { describe, expect, test } from 'bun:test'
import { sdpProfile } from '../../../gateway/src/media/sdp-profile.ts'

const crlf = (lines: string[]) => lines.join('\r\n') + '\r\n'

describe('sdpProfile', () => {
  test('a Chrome offer (UDP/TLS/RTP/SAVPF) is webrtc', () => {
    const sdp = crlf(['v=0', 'o=- 1 2 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126',
      'c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:0123456789abcdef012345', 'a=fingerprint:sha-256 AA:BB', 'a=setup:actpass', 'a=mid:0'])
    expect(sdpProfile(sdp)).toBe('webrtc')
  })

  test('a desk phone offer (RTP/AVP, no ICE) is rtp', () => {
    expect(sdpProfile(crlf(['v=0', 'o=- 1 2 IN IP4 10.0.0.5', 's=-', 'c=IN IP4 10.0.0.5', 't=0 0', 'm=audio 6000 RTP/AVP 0 8 101']))).toBe('rtp')
  })

  test('RTP/AVP with ICE and a fingerprint counts as webrtc; either alone does not', () => {
    const base = ['v=0', 's=-', 't=0 0', 'm=audio 6000 RTP/AVP 0']
    expect(sdpProfile(crlf([...base, 'a=ice-ufrag:x', 'a=fingerprint:sha-256 AA']))).toBe('webrtc')
    expect(sdpProfile(crlf([...base, 'a=ice-ufrag:x']))).toBe('rtp')
  })

  test('the first audio m-line decides; video-only or empty text has no profile', () => {
    expect(sdpProfile(crlf(['v=0', 'm=video 5000 RTP/AVP 96', 'm=audio 6000 RTP/SAVP 0']))).toBe('webrtc')
    expect(sdpProfile(crlf(['v=0', 'm=video 5000 RTP/AVP 96']))).toBeNull()
    expect(sdpProfile('')).toBeNull()
  })
})

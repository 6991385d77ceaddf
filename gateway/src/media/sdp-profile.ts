/**
 * Which media flavour an SDP speaks (see MediaProfile). Used by the proxy's anchoring
 * decision for every INVITE, so it scans the text instead of parsing the whole SDP.
 *
 * WebRTC offers use the RTP profile UDP/TLS/RTP/SAVPF (RFC 5764 §8, JSEP RFC 8829 §5.1.2)
 * with ICE (a=ice-ufrag) and DTLS fingerprints; legacy endpoints use RTP/AVP (RFC 3551).
 */
import type { MediaProfile } from './media-driver.ts'

/**
 * The profile of the first audio m-line: 'webrtc' for (UDP/TLS/)RTP/SAVP(F) or when ICE
 * credentials and a fingerprint are present; 'rtp' otherwise. Null when the text has no
 * audio m-line (RFC 4566 §5.14: `m=<media> <port> <proto> <fmt> ...`).
 */
export function sdpProfile(sdp: string): MediaProfile | null {
  let at = sdp.startsWith('m=audio ') ? 0 : sdp.indexOf('\nm=audio ')
  if (at < 0) return null
  if (at > 0) at += 1
  let end = sdp.indexOf('\n', at)
  if (end < 0) end = sdp.length
  const fields = sdp.slice(at + 2, end).trim().split(/\s+/)
  const proto = (fields[2] ?? '').toUpperCase()
  if (proto.includes('SAVP') || proto.includes('TLS')) return 'webrtc'
  return sdp.includes('a=ice-ufrag:') && sdp.includes('a=fingerprint:') ? 'webrtc' : 'rtp'
}

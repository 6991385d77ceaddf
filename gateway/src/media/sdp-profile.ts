/**
 * Which media flavour an SDP speaks (see MediaProfile). Used by the proxy's anchoring
 * decision and by the drivers.
 *
 * WebRTC offers use the RTP profile UDP/TLS/RTP/SAVPF (RFC 5764 §8, JSEP RFC 8829 §5.1.2)
 * with ICE (a=ice-ufrag) and DTLS fingerprints; legacy endpoints use RTP/AVP (RFC 3551).
 */
import { parse } from 'sdp-transform'
import type { MediaProfile } from './media-driver.ts'

/**
 * The profile of the first audio m-line: 'webrtc' for (UDP/TLS/)RTP/SAVP(F) or when ICE
 * credentials and a fingerprint are present; 'rtp' otherwise. Null when the text is not a
 * usable SDP (no audio m-line).
 */
export function sdpProfile(sdp: string): MediaProfile | null {
  let session
  try {
    session = parse(sdp)
  } catch {
    return null
  }
  const audio = session.media.find((m) => m.type === 'audio')
  if (!audio) return null
  const proto = (audio.protocol ?? '').toUpperCase()
  if (proto.includes('SAVP') || proto.includes('TLS')) return 'webrtc'
  const ice = audio.iceUfrag ?? session.iceUfrag
  const fp = audio.fingerprint ?? session.fingerprint
  return ice && fp ? 'webrtc' : 'rtp'
}

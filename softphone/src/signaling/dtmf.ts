/**
 * DTMF as RFC 4733 telephone-events through the audio sender's RTCDTMFSender (W3C webrtc-pc
 * §7), for every signaling mode: the tones travel in the media, never as SIP INFO or a
 * signaling message.
 */

/** DTMF tone length (ms): long enough for IVRs behind transcoding gateways (ITU-T Q.24 asks for at least 40 ms). */
export const DTMF_DURATION_MS = 160
/** Gap between tones (ms). */
export const DTMF_GAP_MS = 80
/** What `insertDtmf` accepts: 0-9, A-D, #, * and `,` (a 2 s pause). */
export const DTMF_TONES = /^[0-9A-D#*,]+$/i

/**
 * Queues `tones` on the peer connection's audio RTCDTMFSender. Digits pressed while earlier
 * ones still play are appended to the tone buffer (insertDTMF replaces the buffer).
 *
 * @returns false when `tones` has other characters, there is no audio sender with a DTMF
 *   sender, it cannot insert DTMF now, or insertDTMF throws; true when queued
 */
export function insertDtmf(peerConnection: RTCPeerConnection | undefined, tones: string): boolean {
  if (!DTMF_TONES.test(tones)) return false
  const sender = peerConnection?.getSenders().find((s) => s.track?.kind === 'audio' || s.dtmf)
  const dtmf = sender?.dtmf
  if (!dtmf || !dtmf.canInsertDTMF) return false
  try {
    dtmf.insertDTMF(dtmf.toneBuffer + tones, DTMF_DURATION_MS, DTMF_GAP_MS)
  } catch {
    return false
  }
  return true
}

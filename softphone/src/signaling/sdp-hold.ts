/**
 * Reading hold out of an SDP offer (RFC 3264 §8.4): "hold" is an offer whose media stream
 * is a=sendonly (or a=inactive when we were recvonly already). Protocol-neutral.
 */

/** True when `sdp` holds the call: some a=sendonly / a=inactive and no a=sendrecv line. */
export function isSdpWithHold(sdp: string | undefined): boolean {
  if (!sdp) return false
  return /^a=(sendonly|inactive)\r?$/m.test(sdp) && !/^a=sendrecv\r?$/m.test(sdp)
}

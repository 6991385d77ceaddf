/**
 * In-place access to the RTP fixed header (RFC 3550 §5.1) for the relay's hot path: read the
 * fields of a received datagram and write a fresh 12-octet header into a reused buffer,
 * without allocating per packet.
 *
 * RFC 3550 §5.1 (RTP Fixed Header Fields):
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                           timestamp                           |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |           synchronization source (SSRC) identifier            |
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *    |            contributing source (CSRC) identifiers             |
 *    |                             ....                              |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * "The first twelve octets are present in every RTP packet, while the list of CSRC
 * identifiers is present only when inserted by a mixer."
 */

/** Octets of the fixed header. */
export const RTP_HEADER_LENGTH = 12

/**
 * Where the payload of an RTP packet lies, or why the datagram is not one.
 *
 * RFC 3550 §5.1: "version (V): 2 bits. This field identifies the version of RTP. The version
 * defined by this specification is two (2)." — "padding (P): 1 bit. If the padding bit is
 * set, the packet contains one or more additional padding octets at the end which are not
 * part of the payload. The last octet of the padding contains a count of how many padding
 * octets should be ignored, including itself." — "extension (X): 1 bit. If the extension bit
 * is set, the fixed header MUST be followed by exactly one header extension" (§5.3.1: 16-bit
 * profile-defined field, 16-bit length in 32-bit words, then the data). — "CSRC count (CC):
 * 4 bits. The CSRC count contains the number of CSRC identifiers that follow the fixed
 * header."
 *
 * @param packet a received datagram
 * @param length how many octets of `packet` are valid
 * @returns the payload offset (≥ 12) in the low 16 bits and the payload end in the high bits
 *   (`offset + end * 65536`), or -1 when the datagram is not a well-formed RTP version 2
 *   packet. Use {@link payloadOffsetOf} / {@link payloadEndOf} to split it; encoding both in
 *   one number keeps the hot path free of allocations.
 */
export function rtpPayloadBounds(packet: Uint8Array, length: number): number {
  if (length < RTP_HEADER_LENGTH) return -1
  const b0 = packet[0]!
  if (b0 >> 6 !== 2) return -1
  let offset = RTP_HEADER_LENGTH + (b0 & 0x0f) * 4
  if (b0 & 0x10) {
    if (length < offset + 4) return -1
    offset += 4 + ((packet[offset + 2]! << 8) | packet[offset + 3]!) * 4
  }
  let end = length
  if (b0 & 0x20) {
    const pad = packet[length - 1]!
    if (pad === 0) return -1
    end -= pad
  }
  if (end < offset || offset > 0xffff || end > 0xffff) return -1
  return offset + end * 65536
}

/** The payload offset from a {@link rtpPayloadBounds} result. */
export function payloadOffsetOf(bounds: number): number {
  return bounds & 0xffff
}

/** The payload end (exclusive) from a {@link rtpPayloadBounds} result. */
export function payloadEndOf(bounds: number): number {
  return Math.floor(bounds / 65536)
}

/**
 * RFC 5761 §4: with RTP and RTCP multiplexed on one port, "the RTCP packet type field
 * occupies the same position in the packet as the combination of the RTP marker (M) bit and
 * the RTP payload type (PT)"; RTP payload types 64-95 are not used, so a second octet in
 * 192..223 (RTCP packet types SR 200, RR 201, SDES 202, BYE 203, APP 204, RTPFB 205,
 * PSFB 206, XR 207) marks RTCP.
 *
 * @returns true when the datagram is (probably) RTCP rather than RTP
 */
export function isRtcpPacket(packet: Uint8Array, length: number): boolean {
  if (length < 8 || packet[0]! >> 6 !== 2) return false
  const type = packet[1]!
  return type >= 192 && type <= 223
}

/** RFC 3550 §5.1 "payload type (PT): 7 bits". */
export function rtpPayloadType(packet: Uint8Array): number {
  return packet[1]! & 0x7f
}

/**
 * RFC 3550 §5.1 "marker (M): 1 bit. The interpretation of the marker is defined by a
 * profile." RFC 3551 §4.1: for audio it marks the first packet of a talkspurt.
 */
export function rtpMarker(packet: Uint8Array): boolean {
  return (packet[1]! & 0x80) !== 0
}

/** RFC 3550 §5.1 "sequence number: 16 bits". */
export function rtpSequenceNumber(packet: Uint8Array): number {
  return (packet[2]! << 8) | packet[3]!
}

/** RFC 3550 §5.1 "timestamp: 32 bits" (unsigned). */
export function rtpTimestamp(packet: Uint8Array): number {
  return ((packet[4]! << 24) | (packet[5]! << 16) | (packet[6]! << 8) | packet[7]!) >>> 0
}

/** RFC 3550 §5.1 "SSRC: 32 bits" (unsigned). */
export function rtpSsrc(packet: Uint8Array): number {
  return ((packet[8]! << 24) | (packet[9]! << 16) | (packet[10]! << 8) | packet[11]!) >>> 0
}

/**
 * Writes a 12-octet RTP fixed header at `offset` (V=2, no padding, no extension, no CSRC).
 *
 * @param out destination with at least `offset + 12` octets
 * @param payloadType 0..127
 * @param marker the M bit
 * @param sequenceNumber 16-bit (masked)
 * @param timestamp 32-bit unsigned (masked)
 * @param ssrc 32-bit unsigned (masked)
 */
export function writeRtpHeader(
  out: Uint8Array,
  offset: number,
  payloadType: number,
  marker: boolean,
  sequenceNumber: number,
  timestamp: number,
  ssrc: number,
): void {
  out[offset] = 0x80
  out[offset + 1] = (marker ? 0x80 : 0) | (payloadType & 0x7f)
  out[offset + 2] = (sequenceNumber >> 8) & 0xff
  out[offset + 3] = sequenceNumber & 0xff
  out[offset + 4] = (timestamp >>> 24) & 0xff
  out[offset + 5] = (timestamp >>> 16) & 0xff
  out[offset + 6] = (timestamp >>> 8) & 0xff
  out[offset + 7] = timestamp & 0xff
  out[offset + 8] = (ssrc >>> 24) & 0xff
  out[offset + 9] = (ssrc >>> 16) & 0xff
  out[offset + 10] = (ssrc >>> 8) & 0xff
  out[offset + 11] = ssrc & 0xff
}

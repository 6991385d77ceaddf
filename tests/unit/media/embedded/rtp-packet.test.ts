/**
 * RTP fixed header access (RFC 3550 §5.1) and RFC 5761 RTP/RTCP demultiplexing.
 */
import { describe, expect, test } from 'bun:test'
import {
  isRtcpPacket,
  payloadEndOf,
  payloadOffsetOf,
  rtpMarker,
  rtpPayloadBounds,
  rtpPayloadType,
  rtpSequenceNumber,
  rtpSsrc,
  rtpTimestamp,
  writeRtpHeader,
} from '../../../../gateway/src/media/embedded/rtp-packet.ts'

function packet(bytes: number[]): Uint8Array {
  return Uint8Array.from(bytes)
}

describe('writeRtpHeader / readers', () => {
  test('round trip of every field, at an offset, with 32-bit values above 2^31', () => {
    const buf = new Uint8Array(20).fill(0xee)
    writeRtpHeader(buf, 4, 101, true, 0xfffe, 0xfedcba98, 0x89abcdef)
    const h = buf.subarray(4)
    expect(h[0]).toBe(0x80) // V=2, P=0, X=0, CC=0
    expect(rtpPayloadType(h)).toBe(101)
    expect(rtpMarker(h)).toBe(true)
    expect(rtpSequenceNumber(h)).toBe(0xfffe)
    expect(rtpTimestamp(h)).toBe(0xfedcba98)
    expect(rtpSsrc(h)).toBe(0x89abcdef)
    expect(buf[3]).toBe(0xee) // nothing written before the offset
    expect(buf[16]).toBe(0xee) // nor after the 12 octets
  })

  test('rewriting a header in place changes only the header', () => {
    const buf = new Uint8Array(12 + 4)
    writeRtpHeader(buf, 0, 0, false, 1, 160, 1234)
    buf.set([1, 2, 3, 4], 12)
    writeRtpHeader(buf, 0, 8, false, 2, 320, 5678)
    expect(rtpPayloadType(buf)).toBe(8)
    expect(rtpSequenceNumber(buf)).toBe(2)
    expect(rtpTimestamp(buf)).toBe(320)
    expect(rtpSsrc(buf)).toBe(5678)
    expect([...buf.subarray(12)]).toEqual([1, 2, 3, 4])
  })
})

describe('rtpPayloadBounds', () => {
  const fixed = [0x80, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7]

  test('plain packet: payload from 12 to the end', () => {
    const p = packet([...fixed, 9, 9, 9])
    const b = rtpPayloadBounds(p, p.length)
    expect(payloadOffsetOf(b)).toBe(12)
    expect(payloadEndOf(b)).toBe(15)
  })

  test('CSRC list (CC=2) and a header extension (X, length 1 word) are skipped', () => {
    const p = packet([0x92, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0, 5, 6])
    const b = rtpPayloadBounds(p, p.length)
    expect(payloadOffsetOf(b)).toBe(28)
    expect(payloadEndOf(b)).toBe(30)
  })

  test('padding (P) is cut off using the last octet', () => {
    const p = packet([0xa0, ...fixed.slice(1), 1, 2, 0, 0, 3])
    const b = rtpPayloadBounds(p, p.length)
    expect(payloadEndOf(b) - payloadOffsetOf(b)).toBe(2)
  })

  test('not RTP version 2, too short, or lengths that do not add up: -1', () => {
    expect(rtpPayloadBounds(packet([0x40, ...fixed.slice(1)]), 12)).toBe(-1)
    expect(rtpPayloadBounds(packet(fixed.slice(0, 11)), 11)).toBe(-1)
    expect(rtpPayloadBounds(packet([0x8f, ...fixed.slice(1)]), 12)).toBe(-1) // 15 CSRCs announced
    expect(rtpPayloadBounds(packet([0x90, ...fixed.slice(1), 0xbe, 0xde, 0, 9]), 16)).toBe(-1) // extension longer than the packet
    expect(rtpPayloadBounds(packet([0xa0, ...fixed.slice(1), 1, 0]), 14)).toBe(-1) // padding count 0
    expect(rtpPayloadBounds(packet([0xa0, ...fixed.slice(1), 9]), 13)).toBe(-1) // padding longer than the payload
  })
})

describe('isRtcpPacket (RFC 5761 §4)', () => {
  test('SR (200), RR (201), SDES (202) and feedback (205, 206) are RTCP', () => {
    for (const type of [200, 201, 202, 203, 205, 206]) {
      expect(isRtcpPacket(packet([0x80, type, 0, 6, 0, 0, 0, 1]), 8)).toBe(true)
    }
  })

  test('RTP with PT 0, PT 101 and with the marker bit set is not RTCP', () => {
    expect(isRtcpPacket(packet([0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), 12)).toBe(false)
    expect(isRtcpPacket(packet([0x80, 101, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), 12)).toBe(false)
    expect(isRtcpPacket(packet([0x80, 0x80 | 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), 12)).toBe(false)
    expect(isRtcpPacket(packet([0x80, 0x80 | 101, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]), 12)).toBe(false)
  })
})

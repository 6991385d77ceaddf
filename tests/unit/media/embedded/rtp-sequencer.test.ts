/**
 * The relay's outgoing stream: stable SSRC, sequence numbers and timestamps continuous across
 * source switches (re-INVITE, a phone restarting its stream) and pauses (hold).
 */
import { describe, expect, test } from 'bun:test'
import { RtpSequencer } from '../../../../gateway/src/media/embedded/rtp-sequencer.ts'

function feed(s: RtpSequencer, ssrc: number, seq: number, ts: number, nowMs: number, marker = false): [number, number, boolean] {
  s.map(ssrc, seq, ts, marker, nowMs)
  return [s.sequenceNumber, s.timestamp, s.marker]
}

describe('RtpSequencer', () => {
  test('the first source passes through unchanged, marker included', () => {
    const s = new RtpSequencer(42)
    expect(feed(s, 7, 1000, 5000, 0, true)).toEqual([1000, 5000, true])
    expect(feed(s, 7, 1001, 5160, 20)).toEqual([1001, 5160, false])
    expect(s.ssrc).toBe(42)
    expect(s.inputSsrc).toBe(7)
  })

  test('a new input SSRC continues at seq + 1 and timestamp + elapsed time, with the marker set', () => {
    const s = new RtpSequencer(42)
    feed(s, 7, 1000, 5000, 0)
    feed(s, 7, 1001, 5160, 20)
    // 100 ms later a new source with unrelated numbering: 800 samples at 8 kHz.
    expect(feed(s, 9, 40000, 123456789, 120)).toEqual([1002, 5160 + 800, true])
    expect(feed(s, 9, 40001, 123456789 + 160, 140)).toEqual([1003, 5960 + 160, false])
  })

  test('resync() after a pause re-anchors the same source (hold and resume)', () => {
    const s = new RtpSequencer(1)
    feed(s, 7, 10, 1600, 0)
    s.resync()
    // The source kept counting during a 2 s hold (100 packets); the output continues at +1.
    expect(feed(s, 7, 110, 1600 + 100 * 160, 2000)).toEqual([11, 1600 + 16000, true])
  })

  test('loss and reordering inside one source keep their gaps', () => {
    const s = new RtpSequencer(1)
    feed(s, 7, 10, 0, 0)
    expect(feed(s, 7, 13, 480, 60)[0]).toBe(13)
    expect(feed(s, 7, 12, 320, 61)[0]).toBe(12)
    s.resync()
    // Continues after the highest sent (13), not after the late 12.
    expect(feed(s, 8, 500, 0, 100)[0]).toBe(14)
  })

  test('RFC 4733 events keep their shared start timestamp', () => {
    const s = new RtpSequencer(1)
    feed(s, 7, 1, 160, 0)
    const first = feed(s, 7, 2, 320, 20, true)
    const second = feed(s, 7, 3, 320, 70)
    expect(second[1]).toBe(first[1])
  })

  test('sequence numbers and timestamps wrap modulo 2^16 and 2^32', () => {
    const s = new RtpSequencer(1)
    feed(s, 7, 0xffff, 0xffffff00, 0)
    expect(feed(s, 7, 0, 0x60, 20)).toEqual([0, 0x60, false])
    s.resync()
    expect(feed(s, 8, 5, 5, 40)).toEqual([1, 0x60 + 160, true])
  })

  test('insertBefore() hands out the last packet\'s number and moves the rest of the source one up', () => {
    const s = new RtpSequencer(1)
    feed(s, 7, 100, 1000, 0)
    feed(s, 9, 7984, 13280, 1000, true) // re-anchored: out = 101
    expect(s.insertBefore()).toBe(101)
    expect([s.sequenceNumber, s.timestamp, s.marker]).toEqual([102, 1000 + 8000, true])
    expect(feed(s, 9, 7985, 13280, 1020)).toEqual([103, 9000, false])
    expect(feed(s, 9, 7985, 13280, 1021)[0]).toBe(103) // a repeated packet keeps its number
    s.resync()
    expect(feed(s, 9, 7986, 13280, 1040)[0]).toBe(104) // continues after the highest sent
    expect(s.unmapSequenceNumber(103)).toBe(7985)
  })

  test('insertBefore() wraps modulo 2^16', () => {
    const s = new RtpSequencer(1)
    feed(s, 7, 0xffff, 0, 0)
    expect(s.insertBefore()).toBe(0xffff)
    expect(s.sequenceNumber).toBe(0)
    expect(feed(s, 7, 0, 160, 20)[0]).toBe(1)
  })

  test('mapTimestamp / unmapSequenceNumber translate RTCP fields of the current source', () => {
    const s = new RtpSequencer(1)
    feed(s, 7, 100, 1000, 0)
    feed(s, 9, 5000, 90000, 20) // re-anchored: out = 101, 1160
    expect(s.mapTimestamp(90000 + 160)).toBe(1160 + 160)
    expect(s.unmapSequenceNumber(101)).toBe(5000)
  })
})

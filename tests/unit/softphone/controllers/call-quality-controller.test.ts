import { describe, expect, test } from 'bun:test'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import { CallQualityController, rateQuality, readQualityStats } from '../../../../softphone/src/controllers/call-quality-controller.ts'
import { FakeHost } from '../fake-host.ts'

function report(entries: Array<Record<string, unknown>>) {
  return { forEach: (cb: (v: Record<string, unknown>) => void) => entries.forEach(cb) }
}

const stats = (lost: number, received: number) => report([
  { type: 'transport', id: 'T', selectedCandidatePairId: 'P1' },
  { type: 'candidate-pair', id: 'P0', nominated: true, state: 'succeeded', currentRoundTripTime: 0.9, localCandidateId: 'L0' },
  { type: 'candidate-pair', id: 'P1', nominated: true, state: 'succeeded', currentRoundTripTime: 0.042, localCandidateId: 'L1' },
  { type: 'local-candidate', id: 'L1', candidateType: 'relay' },
  { type: 'inbound-rtp', kind: 'audio', jitter: 0.0125, packetsLost: lost, packetsReceived: received },
  { type: 'inbound-rtp', kind: 'video', jitter: 9, packetsLost: 999, packetsReceived: 1 },
  { type: 'remote-inbound-rtp', kind: 'audio', roundTripTime: 0.5 },
])

describe('readQualityStats', () => {
  test('RTT from the selected pair, jitter in ms, loss over the interval', () => {
    const first = readQualityStats(stats(10, 990), 1000, undefined)
    expect(first.sample).toEqual({ t: 1000, rttMs: 42, jitterMs: 12.5 })
    expect(first.candidateType).toBe('relay')
    const second = readQualityStats(stats(15, 1085), 2000, first.counters)
    expect(second.sample.lossPct).toBeCloseTo(5, 5) // 5 lost of 100
  })

  test('falls back to RTCP round-trip time without a selected pair', () => {
    const r = readQualityStats(report([{ type: 'remote-inbound-rtp', kind: 'audio', roundTripTime: 0.2 }]), 0, undefined)
    expect(r.sample).toEqual({ t: 0, rttMs: 200 })
  })
})

describe('rateQuality', () => {
  test('thresholds', () => {
    expect(rateQuality(undefined)).toBe('unknown')
    expect(rateQuality({ t: 0 })).toBe('unknown')
    expect(rateQuality({ t: 0, rttMs: 40, jitterMs: 5, lossPct: 0 })).toBe('good')
    expect(rateQuality({ t: 0, rttMs: 350 })).toBe('fair')
    expect(rateQuality({ t: 0, lossPct: 8 })).toBe('poor')
  })
})

describe('CallQualityController', () => {
  test('samples once a second while connected, keeps the last N, resets on a new connection', async () => {
    const timers = new FakeScheduler()
    const host = new FakeHost()
    const ctl = new CallQualityController(host, timers, 1000, 3)
    let n = 0
    const pc = { getStats: async () => stats(n, (n += 1) * 100) } as unknown as RTCPeerConnection
    ctl.setPeerConnection(pc)
    host.connect()
    for (let i = 0; i < 5; i++) {
      timers.advance(1000)
      await Promise.resolve()
      await new Promise((r) => setTimeout(r, 0))
    }
    expect(ctl.samples.length).toBe(3)
    expect(ctl.samples.map((s) => s.t)).toEqual([3000, 4000, 5000])
    expect(ctl.rating).toBe('good')
    ctl.setPeerConnection(undefined)
    expect(ctl.samples).toEqual([])
    expect(timers.pendingCount).toBe(0)
  })
})

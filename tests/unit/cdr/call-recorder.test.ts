import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { setLogLevel, setLogSink } from '../../../gateway/src/base/log.ts'
import { CallRecorder, type CallRecorderOptions } from '../../../gateway/src/cdr/call-recorder.ts'
import type { CallStarted } from '../../../gateway/src/sip/proxy/call-events.ts'
import { CdrStore, openCdrDatabase, type CdrRecord } from '../../../gateway/src/store/cdr-store.ts'
import { FakeScheduler } from '../../support/fake-scheduler.ts'

let lines: Record<string, unknown>[] = []
let prevSink: ((line: string) => void) | null = null
// The level is process-wide: another test file's gateway may have set it to warn.
let prevLevel: ReturnType<typeof setLogLevel> | null = null
beforeAll(() => { prevSink = setLogSink((l) => lines.push(JSON.parse(l) as Record<string, unknown>)); prevLevel = setLogLevel('info') })
afterAll(() => { if (prevSink) setLogSink(prevSink); if (prevLevel) setLogLevel(prevLevel) })
beforeEach(() => { lines = [] })

const T0 = Date.UTC(2026, 11, 4, 20, 0, 0)

function started(over: Partial<CallStarted> = {}): CallStarted {
  return {
    callId: 'c1@pc33', fromTag: 'ft-alice', at: T0, from: 'sip:alice@patchbay.test', callerUser: 'alice',
    dialed: 'sip:bob@patchbay.test', routed: ['sip:bob@192.0.2.7:5062', 'sip:bob@198.51.100.9;transport=ws'],
    direction: 'internal', trunk: null, rule: null, ...over,
  }
}

/** A recorder over an in-memory store, with a fake clock both share. */
function setup(options: Partial<CallRecorderOptions> = {}) {
  const scheduler = new FakeScheduler(1_800_000_000)
  const written: CdrRecord[] = []
  const wallClockMs = () => T0 + scheduler.now()
  const recorder = new CallRecorder({ store: { write: (r) => written.push(r) }, scheduler, wallClockMs, ...options })
  return { scheduler, written, recorder }
}

describe('CallRecorder: event sequences', () => {
  test('answered, then BYE from the caller: one record with times, durations, routing and media', () => {
    const { recorder, written } = setup()
    recorder.callStarted(started())
    expect(written).toEqual([])
    recorder.callAnswered({ callId: 'c1@pc33', fromTag: 'ft-alice', at: T0 + 3000, answeredBy: 'sip:bob@198.51.100.9;transport=ws',
      trunk: null, mediaPath: 'peer-to-peer', codec: 'opus' })
    recorder.callEnded({ callId: 'c1@pc33', fromTag: 'ft-alice', at: T0 + 93_500, endedBy: 'caller', reason: 'BYE' })
    expect(written).toEqual([{
      callId: 'c1@pc33', fromTag: 'ft-alice', start: T0, answer: T0 + 3000, end: T0 + 93_500, durationS: 90.5, ringS: 3,
      caller: 'sip:alice@patchbay.test', callerUser: 'alice', dialed: 'sip:bob@patchbay.test',
      routed: 'sip:bob@198.51.100.9;transport=ws', direction: 'internal', trunk: null, rule: null,
      status: 200, reason: 'BYE', endedBy: 'caller', mediaPath: 'peer-to-peer', codec: 'opus',
    }])
    expect(recorder.activeCalls()).toEqual([])
    expect(recorder.stats).toMatchObject({ active: 0, started: 1, answered: 1, recorded: 1, unmatched: 0 })
  })

  test('info lines in category cdr when a call starts and ends', () => {
    const { recorder } = setup()
    recorder.callStarted(started())
    recorder.callFailed({ callId: 'c1@pc33', fromTag: 'ft-alice', at: T0 + 4000, status: 486, reason: 'Busy Here', endedBy: 'callee' })
    expect(lines).toMatchObject([
      { level: 'info', cat: 'cdr', msg: 'call started', callId: 'c1@pc33', caller: 'sip:alice@patchbay.test', dialed: 'sip:bob@patchbay.test', direction: 'internal' },
      { level: 'info', cat: 'cdr', msg: 'call ended', callId: 'c1@pc33', caller: 'sip:alice@patchbay.test', dialed: 'sip:bob@patchbay.test', status: 486, reason: 'Busy Here', endedBy: 'callee', durationS: 0 },
    ])
  })

  test('answered via a trunk after failover, BYE from the callee: the answering trunk is recorded', () => {
    const { recorder, written } = setup()
    recorder.callStarted(started({ callId: 'out1', dialed: 'sip:+4930123456@patchbay.test', direction: 'outbound', trunk: 'carrier-a', rule: 'national',
      routed: ['sip:+4930123456@a.example', 'sip:+4930123456@b.example'] }))
    recorder.callAnswered({ callId: 'out1', fromTag: 'ft-alice', at: T0 + 8000, answeredBy: 'sip:+4930123456@b.example', trunk: 'carrier-b',
      mediaPath: 'anchored', codec: 'PCMU' })
    // The callee's BYE carries the caller's tag as its To tag; the proxy passes it as fromTag.
    recorder.callEnded({ callId: 'out1', fromTag: 'ft-alice', at: T0 + 20_000, endedBy: 'callee', reason: 'BYE' })
    expect(written).toMatchObject([{ trunk: 'carrier-b', rule: 'national', routed: 'sip:+4930123456@b.example', endedBy: 'callee',
      durationS: 12, ringS: 8, mediaPath: 'anchored', codec: 'PCMU', direction: 'outbound', status: 200 }])
  })

  test('cancelled by the caller: 487, ended by the caller, no answer, first target as routed', () => {
    const { recorder, written } = setup()
    recorder.callStarted(started())
    recorder.callFailed({ callId: 'c1@pc33', fromTag: 'ft-alice', at: T0 + 6500, status: 487, reason: 'Request Terminated', endedBy: 'caller' })
    expect(written).toEqual([expect.objectContaining({
      status: 487, reason: 'Request Terminated', endedBy: 'caller', answer: null, end: T0 + 6500, durationS: 0, ringS: 6.5,
      routed: 'sip:bob@192.0.2.7:5062', mediaPath: null, codec: null,
    })])
  })

  test('failed 486 from the callee; a call routed nowhere (404) has no routed target', () => {
    const { recorder, written } = setup()
    recorder.callStarted(started())
    recorder.callFailed({ callId: 'c1@pc33', fromTag: 'ft-alice', at: T0 + 1000, status: 486, reason: 'Busy Here', endedBy: 'callee' })
    recorder.callStarted(started({ callId: 'c2', routed: [] }))
    recorder.callFailed({ callId: 'c2', fromTag: 'ft-alice', at: T0 + 10, status: 404, reason: 'Not Found', endedBy: 'gateway' })
    expect(written.map((r) => [r.callId, r.status, r.endedBy, r.routed])).toEqual([
      ['c1@pc33', 486, 'callee', 'sip:bob@192.0.2.7:5062'], ['c2', 404, 'gateway', null]])
  })

  test('BYE with an unknown or no From tag is matched by Call-ID alone', () => {
    const { recorder, written } = setup()
    recorder.callStarted(started({ callId: 'k1' }))
    recorder.callStarted(started({ callId: 'k2' }))
    recorder.callAnswered({ callId: 'k1', fromTag: 'ft-alice', at: T0 + 1, answeredBy: 'sip:bob@192.0.2.7:5062', trunk: null, mediaPath: 'anchored', codec: 'PCMU' })
    recorder.callAnswered({ callId: 'k2', fromTag: 'ft-alice', at: T0 + 1, answeredBy: 'sip:bob@192.0.2.7:5062', trunk: null, mediaPath: 'anchored', codec: 'PCMU' })
    recorder.callEnded({ callId: 'k1', fromTag: 'some-other-tag', at: T0 + 5000, endedBy: 'callee', reason: 'BYE' })
    recorder.callEnded({ callId: 'k2', fromTag: null, at: T0 + 7000, endedBy: 'gateway', reason: 'connection closed' })
    expect(written.map((r) => [r.callId, r.endedBy, r.reason, r.durationS])).toEqual([
      ['k1', 'callee', 'BYE', 4.999], ['k2', 'gateway', 'connection closed', 6.999]])
  })

  test('same Call-ID, two From tags: the exact key wins; without a tag the answered call is ended', () => {
    const { recorder, written } = setup()
    recorder.callStarted(started({ fromTag: 'x' }))
    recorder.callStarted(started({ fromTag: 'y' }))
    recorder.callAnswered({ callId: 'c1@pc33', fromTag: 'y', at: T0 + 10, answeredBy: 'sip:bob@h', trunk: null, mediaPath: 'anchored', codec: null })
    recorder.callEnded({ callId: 'c1@pc33', fromTag: null, at: T0 + 1010, endedBy: 'caller', reason: 'BYE' })
    recorder.callFailed({ callId: 'c1@pc33', fromTag: 'x', at: T0 + 2000, status: 480, reason: 'Temporarily Unavailable', endedBy: 'callee' })
    expect(written.map((r) => [r.fromTag, r.status])).toEqual([['y', 200], ['x', 480]])
  })

  test('repeated and stray events are ignored and counted: spiral start, forked second 2xx, failure after answer, unknown call', () => {
    const { recorder, written } = setup()
    recorder.callStarted(started())
    recorder.callStarted(started({ at: T0 + 5, routed: ['sip:elsewhere@h'] }))
    recorder.callAnswered({ callId: 'c1@pc33', fromTag: 'ft-alice', at: T0 + 100, answeredBy: 'sip:bob@first', trunk: null, mediaPath: 'anchored', codec: 'PCMU' })
    recorder.callAnswered({ callId: 'c1@pc33', fromTag: 'ft-alice', at: T0 + 200, answeredBy: 'sip:bob@second', trunk: null, mediaPath: 'anchored', codec: 'PCMU' })
    recorder.callFailed({ callId: 'c1@pc33', fromTag: 'ft-alice', at: T0 + 300, status: 500, reason: 'x', endedBy: 'gateway' })
    recorder.callEnded({ callId: 'nope', fromTag: null, at: T0 + 400, endedBy: 'caller', reason: 'BYE' })
    recorder.callAnswered({ callId: 'nope', fromTag: 'z', at: T0 + 400, answeredBy: 'sip:x@y', trunk: null, mediaPath: 'unknown', codec: null })
    recorder.callEnded({ callId: 'c1@pc33', fromTag: 'ft-alice', at: T0 + 1100, endedBy: 'caller', reason: 'BYE' })
    recorder.callEnded({ callId: 'c1@pc33', fromTag: 'ft-alice', at: T0 + 1200, endedBy: 'callee', reason: 'BYE' })
    expect(written).toHaveLength(1)
    expect(written[0]).toMatchObject({ start: T0, answer: T0 + 100, routed: 'sip:bob@first', status: 200, durationS: 1 })
    expect(recorder.stats.unmatched).toBe(6)
  })

  test('ended before any answer is written as a failure (487)', () => {
    const { recorder, written } = setup()
    recorder.callStarted(started())
    recorder.callEnded({ callId: 'c1@pc33', fromTag: 'ft-alice', at: T0 + 500, endedBy: 'gateway', reason: 'connection closed' })
    expect(written).toMatchObject([{ status: 487, reason: 'connection closed', answer: null, durationS: 0, ringS: 0.5 }])
  })

  test('never throws into the caller: a failing store is logged and counted', () => {
    const scheduler = new FakeScheduler()
    const recorder = new CallRecorder({ store: { write: () => { throw new Error('disk on fire') } }, scheduler, wallClockMs: () => T0 })
    recorder.callStarted(started())
    expect(() => recorder.callFailed({ callId: 'c1@pc33', fromTag: 'ft-alice', at: T0, status: 486, reason: 'Busy Here', endedBy: 'callee' })).not.toThrow()
    expect(recorder.stats.errors).toBe(1)
    expect(lines.some((l) => l.level === 'error' && String(l.error).includes('disk on fire'))).toBe(true)
    recorder.shutdown()
  })
})

describe('CallRecorder: live view, sweep, bounds, shutdown', () => {
  test('activeCalls lists calls in progress, oldest first, with the answer once there', () => {
    const { recorder } = setup()
    recorder.callStarted(started({ callId: 'a1' }))
    recorder.callStarted(started({ callId: 'a2', at: T0 + 50, trunk: 'carrier', direction: 'outbound', callerUser: null }))
    recorder.callAnswered({ callId: 'a1', fromTag: 'ft-alice', at: T0 + 2000, answeredBy: 'sip:bob@198.51.100.9;transport=ws', trunk: null, mediaPath: 'peer-to-peer', codec: 'opus' })
    expect(recorder.activeCalls()).toEqual([
      { callId: 'a1', fromTag: 'ft-alice', caller: 'sip:alice@patchbay.test', callerUser: 'alice', callee: 'sip:bob@patchbay.test',
        routed: ['sip:bob@198.51.100.9;transport=ws'], direction: 'internal', trunk: null, since: T0, answered: true, answeredAt: T0 + 2000 },
      { callId: 'a2', fromTag: 'ft-alice', caller: 'sip:alice@patchbay.test', callerUser: null, callee: 'sip:bob@patchbay.test',
        routed: ['sip:bob@192.0.2.7:5062', 'sip:bob@198.51.100.9;transport=ws'], direction: 'outbound', trunk: 'carrier', since: T0 + 50,
        answered: false, answeredAt: null },
    ])
  })

  test('the sweep closes calls older than maxCallSeconds as ended by the gateway, "max duration"', () => {
    const { recorder, written, scheduler } = setup({ maxCallSeconds: 3600, sweepIntervalMs: 60_000 })
    recorder.callStarted(started({ callId: 'lost' }))
    recorder.callAnswered({ callId: 'lost', fromTag: 'ft-alice', at: T0 + 1000, answeredBy: 'sip:bob@h', trunk: null, mediaPath: 'anchored', codec: 'PCMU' })
    scheduler.advance(30 * 60_000)
    recorder.callStarted(started({ callId: 'later', at: T0 + scheduler.now() }))
    scheduler.advance(30 * 60_000 - 1)
    expect(written).toEqual([])
    scheduler.advance(60_000)
    expect(written).toMatchObject([{ callId: 'lost', endedBy: 'gateway', reason: 'max duration', status: 200, answer: T0 + 1000,
      end: T0 + 3_600_000, durationS: 3599 }])
    expect(recorder.activeCalls().map((c) => c.callId)).toEqual(['later'])
    scheduler.advance(30 * 60_000)
    expect(written.map((r) => [r.callId, r.status, r.reason])).toEqual([['lost', 200, 'max duration'], ['later', 408, 'max duration']])
    expect(recorder.stats.maxDuration).toBe(2)
  })

  test('maxCallSeconds 0 disables the sweep', () => {
    const { recorder, written, scheduler } = setup({ maxCallSeconds: 0 })
    expect(scheduler.pendingCount).toBe(0)
    recorder.callStarted(started())
    scheduler.advance(30 * 86_400_000)
    expect(written).toEqual([])
    expect(recorder.sweep()).toBe(0)
  })

  test('bounded: past maxActiveCalls the oldest call is closed as evicted and counted', () => {
    const { recorder, written } = setup({ maxActiveCalls: 3 })
    for (let i = 0; i < 5; i++) recorder.callStarted(started({ callId: `m${i}`, at: T0 + i }))
    expect(recorder.activeCalls().map((c) => c.callId)).toEqual(['m2', 'm3', 'm4'])
    expect(written.map((r) => [r.callId, r.endedBy, r.reason, r.status])).toEqual([['m0', 'gateway', 'evicted', 503], ['m1', 'gateway', 'evicted', 503]])
    expect(recorder.stats).toMatchObject({ active: 3, evicted: 2 })
    // an evicted call's late events are stray, not a second record
    recorder.callEnded({ callId: 'm0', fromTag: 'ft-alice', at: T0 + 10, endedBy: 'caller', reason: 'BYE' })
    expect(written).toHaveLength(2)
  })

  test('shutdown writes every call in progress as ended by the gateway, stops the sweep, ignores later events', () => {
    const { recorder, written, scheduler } = setup()
    recorder.callStarted(started({ callId: 'up' }))
    recorder.callAnswered({ callId: 'up', fromTag: 'ft-alice', at: T0 + 1000, answeredBy: 'sip:bob@h', trunk: null, mediaPath: 'relayed', codec: 'opus' })
    recorder.callStarted(started({ callId: 'ringing' }))
    scheduler.advance(11_000)
    recorder.shutdown()
    expect(written.map((r) => [r.callId, r.status, r.reason, r.endedBy, r.durationS])).toEqual([
      ['up', 200, 'shutdown', 'gateway', 10], ['ringing', 503, 'shutdown', 'gateway', 0]])
    expect(scheduler.pendingCount).toBe(0)
    recorder.callStarted(started({ callId: 'after' }))
    expect(recorder.activeCalls()).toEqual([])
    recorder.shutdown()
    expect(written).toHaveLength(2)
  })

  test('with a real CdrStore: records land in sqlite once the store flushes', () => {
    const scheduler = new FakeScheduler()
    const db = openCdrDatabase(':memory:')
    const store = new CdrStore(db, { scheduler, maxAgeDays: 0 })
    const recorder = new CallRecorder({ store, scheduler, wallClockMs: () => T0 + scheduler.now() })
    recorder.callStarted(started())
    recorder.callFailed({ callId: 'c1@pc33', fromTag: 'ft-alice', at: T0 + 2000, status: 603, reason: 'Decline', endedBy: 'callee' })
    expect(store.count()).toBe(0)
    scheduler.advance(200)
    expect(store.query().cdrs).toMatchObject([{ id: 1, callId: 'c1@pc33', status: 603, reason: 'Decline', endedBy: 'callee', ringS: 2 }])
    recorder.shutdown()
    store.close()
    db.close()
  })
})

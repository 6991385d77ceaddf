import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { setLogSink } from '../../../../gateway/src/base/log.ts'
import { TrunkQualifier, type QualifyState, type TrunkQualifierOptions } from '../../../../gateway/src/sip/trunks/qualify.ts'
import type { TrunkStatus } from '../../../../gateway/src/sip/trunks/trunk-status.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import { FakeUac } from './fake-uac.ts'

let prevSink: (line: string) => void
beforeAll(() => { prevSink = setLogSink(() => undefined) })
afterAll(() => { setLogSink(prevSink) })

function setup(over: Partial<TrunkQualifierOptions> = {}) {
  const scheduler = new FakeScheduler()
  const uac = new FakeUac()
  const changes: Array<{ status: TrunkStatus; previous: QualifyState }> = []
  const q = new TrunkQualifier({
    name: 'pbx', transactions: uac, scheduler,
    destination: { transport: 'UDP', address: '192.0.2.1', port: 5060 },
    sentBy: () => ({ host: '192.0.2.10', port: 5060 }),
    requestUri: 'sip:192.0.2.1:5060', fromUri: 'sip:patchbay@patchbay.test',
    intervalSeconds: 30, failuresBeforeDown: 3, timeoutMs: 2000,
    onChange: (status, previous) => changes.push({ status, previous }),
    ...over,
  })
  return { scheduler, uac, q, changes }
}

describe('TrunkQualifier', () => {
  test('starts unknown, sends OPTIONS at once; any answer (even 404) means up with the round-trip time', () => {
    const { uac, q, scheduler, changes } = setup()
    expect(q.state).toBe('unknown')
    expect(q.status.detail).toBe('not probed yet')
    q.start()
    const req = uac.last.request
    expect(req.method).toBe('OPTIONS')
    expect(req.uri).toBe('sip:192.0.2.1:5060')
    expect(req.get('max-forwards')).toBe('70')
    expect(req.get('from')).toMatch(/^<sip:patchbay@patchbay\.test>;tag=/)
    scheduler.advance(42)
    uac.respond(404)
    expect(q.state).toBe('up')
    expect(q.status).toMatchObject({ state: 'up', lastStatus: 404, rttMs: 42, nextAttemptAt: scheduler.unixSeconds() + 30 })
    expect(changes).toHaveLength(1)
    expect(changes[0]!.previous).toBe('unknown')
  })

  test('probes every interval, measured from the previous send', () => {
    const { uac, q, scheduler } = setup()
    q.start()
    scheduler.advance(500)
    uac.respond(200)
    scheduler.advance(29_499)
    expect(uac.sent).toHaveLength(1)
    scheduler.advance(1)
    expect(uac.sent).toHaveLength(2)
    expect(uac.last.request.cseq.seq).toBe(2)
  })

  test('K consecutive timeouts: down; the unanswered transactions are stopped; one answer: up again', () => {
    const { uac, q, scheduler, changes } = setup()
    q.start()
    uac.respond(200)
    for (let i = 1; i <= 3; i++) {
      scheduler.advance(i === 1 ? 30_000 : 28_000) // 30 s after the previous send
      expect(uac.sent).toHaveLength(i + 1)
      scheduler.advance(2000) // our timeout
      expect(uac.last.tx.terminated).toBe(true)
      expect(q.state).toBe(i < 3 ? 'up' : 'down')
      expect(q.consecutiveFailures).toBe(i)
    }
    expect(q.status).toMatchObject({ state: 'down', lastStatus: 408 })
    expect(q.status.rttMs).toBeUndefined()
    expect(changes.map((c) => c.status.state)).toEqual(['up', 'down'])
    scheduler.advance(28_000)
    uac.respond(200)
    expect(q.state).toBe('up')
    expect(q.consecutiveFailures).toBe(0)
  })

  test('from unknown, K failures go straight to down; transport errors count like timeouts', () => {
    const { uac, q, scheduler } = setup({ failuresBeforeDown: 2 })
    q.start()
    uac.last.handler.onTransportError(uac.last.tx)
    expect(q.state).toBe('unknown')
    expect(q.status.detail).toBe('1 of 2 OPTIONS unanswered')
    scheduler.advance(30_000)
    uac.last.handler.onTimeout(uac.last.tx)
    expect(q.state).toBe('down')
    expect(q.status.lastStatus).toBe(408)
  })

  test('a late response after the timeout is ignored', () => {
    const { uac, q, scheduler } = setup({ failuresBeforeDown: 1 })
    q.start()
    const first = uac.last
    scheduler.advance(2000)
    expect(q.state).toBe('down')
    first.handler.onResponse({ status: 200 } as never, first.tx)
    expect(q.state).toBe('down')
  })

  test('stop() clears every timer and the probe in flight', () => {
    const { uac, q, scheduler } = setup()
    q.start()
    q.stop()
    expect(uac.last.tx.terminated).toBe(true)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('rejects nonsense settings', () => {
    expect(() => setup({ intervalSeconds: 0 })).toThrow(RangeError)
    expect(() => setup({ failuresBeforeDown: 0 })).toThrow(RangeError)
  })
})

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { setLogSink } from '../../../../gateway/src/base/log.ts'
import { BanList } from '../../../../gateway/src/sip/security/ban-list.ts'
import { FloodGuard } from '../../../../gateway/src/sip/security/flood-guard.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'

const logs: string[] = []
let prevSink: ((line: string) => void) | null = null
beforeAll(() => { prevSink = setLogSink((l) => logs.push(l)) })
afterAll(() => { if (prevSink) setLogSink(prevSink) })

function guard(o: Partial<{ maxRequests: number; windowMs: number; banSeconds: number; cap: number; enabled: boolean; maxTracked: number }> = {}) {
  const scheduler = new FakeScheduler()
  const bans = new BanList({ scheduler, maxEntries: 1000 })
  const live = { n: 0 }
  const g = new FloodGuard({
    scheduler, bans, enabled: o.enabled ?? true, windowMs: o.windowMs ?? 2000, maxRequests: o.maxRequests ?? 100,
    banSeconds: o.banSeconds ?? 60, maxServerTransactions: o.cap ?? 0, retryAfterSeconds: 7, maxTracked: o.maxTracked ?? 1000,
    serverTransactions: () => live.n,
  })
  return { scheduler, bans, g, live }
}

describe('FloodGuard: per-source rate', () => {
  test('maxRequests per window pass; the next one bans the source for banSeconds', () => {
    const { scheduler, bans, g } = guard({ maxRequests: 100, banSeconds: 60 })
    for (let i = 0; i < 100; i++) expect(g.request('192.0.2.9')).toBe(true)
    expect(g.request('192.0.2.9')).toBe(false)
    expect(bans.get('192.0.2.9')).toMatchObject({ reason: 'flood', expiresIn: 60 })
    expect(g.bansPlaced).toBe(1)
    scheduler.advance(60_000)
    expect(bans.isBanned('192.0.2.9')).toBe(false)
  })

  test('legitimate traffic beside a flooding source is unharmed: other sources keep passing', () => {
    const { scheduler, bans, g } = guard({ maxRequests: 100 })
    let refusedOther = 0
    for (let ms = 0; ms < 10_000; ms++) {
      for (let k = 0; k < 5; k++) g.request('192.0.2.66') // 5000 requests/s: a flood
      if (ms % 50 === 0 && !g.request('192.0.2.10')) refusedOther++ // 20 requests/s, 40 per window
      scheduler.advance(1)
    }
    expect(refusedOther).toBe(0)
    expect(bans.isBanned('192.0.2.66')).toBe(true)
    expect(bans.isBanned('192.0.2.10')).toBe(false)
  })

  test('a steady rate just under the limit is never banned', () => {
    const { scheduler, bans, g } = guard({ maxRequests: 100, windowMs: 2000 })
    // 45 requests/s = 90 per 2 s window, for a minute.
    for (let i = 0; i < 45 * 60; i++) {
      expect(g.request('192.0.2.10')).toBe(true)
      scheduler.advance(1000 / 45)
    }
    expect(bans.stats.total).toBe(0)
  })

  test('disabled: nothing is counted or banned', () => {
    const { bans, g } = guard({ maxRequests: 1, enabled: false })
    for (let i = 0; i < 100; i++) expect(g.request('192.0.2.9')).toBe(true)
    expect(bans.stats.total).toBe(0)
    expect(g.trackedSources).toBe(0)
  })

  test('bounded memory: 100,000 random sources keep the table at maxTracked', () => {
    const { g } = guard({ maxTracked: 1024 })
    for (let i = 0; i < 100_000; i++) g.request(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`)
    expect(g.trackedSources).toBeLessThanOrEqual(1024)
    expect(g.trackedSources).toBeGreaterThanOrEqual(512)
  })
})

describe('FloodGuard: server transaction cap', () => {
  test('over the cap it says so and counts; at or under it, not', () => {
    const { g, live } = guard({ cap: 10 })
    live.n = 10
    expect(g.overCapacity()).toBe(false)
    live.n = 11
    expect(g.overCapacity()).toBe(true)
    expect(g.overCapacity()).toBe(true)
    expect(g.overloadRejected).toBe(2)
    expect(g.retryAfterSeconds).toBe(7)
    live.n = 3
    expect(g.overCapacity()).toBe(false)
    expect(g.overloadRejected).toBe(2)
  })

  test('entering and leaving overload is logged once each, not per request', () => {
    const { g, live } = guard({ cap: 10 })
    logs.length = 0
    live.n = 50
    for (let i = 0; i < 100; i++) g.overCapacity()
    live.n = 0
    for (let i = 0; i < 100; i++) g.overCapacity()
    expect(logs.filter((l) => l.includes('cap reached')).length).toBe(1)
    expect(logs.filter((l) => l.includes('below the cap again')).length).toBe(1)
  })

  test('cap 0: no cap', () => {
    const { g, live } = guard({ cap: 0 })
    live.n = 1e9
    expect(g.overCapacity()).toBe(false)
  })
})

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { setLogSink } from '../../../../gateway/src/base/log.ts'
import { BanList } from '../../../../gateway/src/sip/security/ban-list.ts'
import { BruteForceGuard } from '../../../../gateway/src/sip/security/brute-force-guard.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'

const logs: string[] = []
let prevSink: ((line: string) => void) | null = null
beforeAll(() => { prevSink = setLogSink((l) => logs.push(l)) })
afterAll(() => { if (prevSink) setLogSink(prevSink) })

function guard(o: Partial<{ perSource: number; perUser: number; windowMs: number; banSeconds: number; maxTracked: number }> = {}) {
  const scheduler = new FakeScheduler()
  const bans = new BanList({ scheduler, maxEntries: 1000 })
  const g = new BruteForceGuard({
    scheduler, bans, windowMs: o.windowMs ?? 60_000, maxFailuresPerSource: o.perSource ?? 5,
    maxFailuresPerUser: o.perUser ?? 8, banSeconds: o.banSeconds ?? 300, maxTracked: o.maxTracked ?? 1000,
  })
  return { scheduler, bans, g }
}

describe('BruteForceGuard', () => {
  test('the Nth failure from one source within the window bans that source, for banSeconds', () => {
    const { scheduler, bans, g } = guard({ perSource: 5, banSeconds: 300 })
    for (let i = 1; i <= 4; i++) {
      expect(g.failure('192.0.2.66', `user${i}`).banned).toBe(false)
      scheduler.advance(1000)
    }
    expect(bans.isBanned('192.0.2.66')).toBe(false)
    const v = g.failure('192.0.2.66', 'user5')
    expect(v).toMatchObject({ banned: true, sourceFailures: 5 })
    expect(bans.get('192.0.2.66')).toMatchObject({ reason: 'brute-force', username: 'user5', expiresIn: 300 })
    expect(bans.isBanned('192.0.2.67')).toBe(false)
    scheduler.advance(300_000)
    expect(bans.isBanned('192.0.2.66')).toBe(false)
    expect(g.bansPlaced).toBe(1)
  })

  test('failures spread wider than the window never ban', () => {
    const { scheduler, bans, g } = guard({ perSource: 5, windowMs: 60_000 })
    for (let i = 0; i < 50; i++) {
      expect(g.failure('192.0.2.66', 'alice').banned).toBe(false)
      scheduler.advance(30_000) // 2 per minute, the limit is 5 per minute
    }
    expect(bans.stats.total).toBe(0)
  })

  test('per user: once a user name has maxFailuresPerUser failures, every source that fails for it is banned', () => {
    const { bans, g } = guard({ perSource: 5, perUser: 8 })
    // A distributed guess: 8 sources, 1 failure each for "alice" (under the per-source limit).
    for (let i = 1; i <= 7; i++) expect(g.failure(`198.51.100.${i}`, 'alice').banned).toBe(false)
    expect(g.failure('198.51.100.8', 'alice')).toMatchObject({ banned: true, userFailures: 8, sourceFailures: 1 })
    expect(g.failure('198.51.100.9', 'alice').banned).toBe(true)
    // Failing for another user name from a fresh source is not affected.
    expect(g.failure('198.51.100.10', 'bob').banned).toBe(false)
    expect(bans.isBanned('198.51.100.1')).toBe(false) // earlier sources are not banned retroactively
    expect(bans.isBanned('198.51.100.10')).toBe(false)
  })

  test('the ban is logged with source and user name, and nothing else from the request', () => {
    const { g } = guard({ perSource: 2 })
    logs.length = 0
    g.failure('203.0.113.5', 'mallory')
    g.failure('203.0.113.5', 'mallory')
    const line = logs.find((l) => l.includes('source banned'))
    expect(line).toBeDefined()
    const rec = JSON.parse(line!)
    expect(rec).toMatchObject({ level: 'warn', cat: 'sip.security', source: '203.0.113.5', username: 'mallory', threshold: 'per-source', sourceFailures: 2 })
    expect(Object.keys(rec).sort()).toEqual(['banSeconds', 'cat', 'level', 'msg', 'source', 'sourceFailures', 't', 'threshold', 'userFailures', 'username', 'windowSeconds'])
  })

  test('bounded memory: a flood of random sources and user names keeps each table at maxTracked', () => {
    const { g } = guard({ perSource: 1000, perUser: 1000, maxTracked: 256 })
    for (let i = 0; i < 20_000; i++) g.failure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `u${i}-${'x'.repeat(200)}`)
    expect(g.tracked.sources).toBeLessThanOrEqual(256)
    expect(g.tracked.users).toBeLessThanOrEqual(256)
    expect(g.tracked.sources).toBeGreaterThanOrEqual(128)
  })

  test('forgetSource starts a source afresh; setLimits applies new thresholds', () => {
    const { bans, g } = guard({ perSource: 3 })
    g.failure('192.0.2.1', 'a')
    g.failure('192.0.2.1', 'a')
    g.forgetSource('192.0.2.1')
    expect(g.failure('192.0.2.1', 'a').banned).toBe(false)
    g.setLimits({ windowMs: 60_000, maxFailuresPerSource: 2, maxFailuresPerUser: 100, banSeconds: 10 })
    expect(g.failure('192.0.2.1', 'a').banned).toBe(true)
    expect(bans.get('192.0.2.1')?.expiresIn).toBe(10)
  })
})

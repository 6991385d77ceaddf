import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { setLogSink } from '../../../../gateway/src/base/log.ts'
import { SipSecurity, type SipSecuritySettings } from '../../../../gateway/src/sip/security/sip-security.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'

let prevSink: ((line: string) => void) | null = null
beforeAll(() => { prevSink = setLogSink(() => undefined) })
afterAll(() => { if (prevSink) setLogSink(prevSink) })

const SETTINGS: SipSecuritySettings = {
  allowList: ['192.0.2.200', '10.0.0.0/8'],
  banAction: 'drop',
  bruteForce: { enabled: true, windowMs: 60_000, maxFailuresPerSource: 3, maxFailuresPerUser: 10, banSeconds: 600 },
  flood: { enabled: true, windowMs: 2000, maxRequests: 5, banSeconds: 60, maxServerTransactions: 100, retryAfterSeconds: 5 },
}

function security(settings: SipSecuritySettings = SETTINGS) {
  const scheduler = new FakeScheduler()
  const live = { n: 0 }
  const s = new SipSecurity({ ...settings, scheduler, maxBans: 100, maxTracked: 100, serverTransactions: () => live.n })
  return { scheduler, s, live }
}

describe('SipSecurity', () => {
  test('the allow-list: addresses and prefixes', () => {
    const { s } = security()
    expect(s.allowed('192.0.2.200')).toBe(true)
    expect(s.allowed('10.9.8.7')).toBe(true)
    expect(s.allowed('192.0.2.201')).toBe(false)
  })

  test('stats count failures, bans by kind, refusals (the banning request included) and 503s', () => {
    const { s, live } = security()
    expect(s.authFailure('192.0.2.1', 'alice')).toBe(false)
    expect(s.authFailure('192.0.2.1', 'alice')).toBe(false)
    expect(s.authFailure('192.0.2.1', 'alice')).toBe(true) // the 3rd bans
    expect(s.refused('192.0.2.1')).toBe(true)
    for (let i = 0; i < 5; i++) expect(s.request('192.0.2.2')).toBe(true)
    expect(s.request('192.0.2.2')).toBe(false) // the 6th bans
    expect(s.refused('192.0.2.2')).toBe(true)
    expect(s.refused('192.0.2.3')).toBe(false)
    live.n = 101
    expect(s.overCapacity()).toBe(true)
    expect(s.stats).toEqual({
      authFailures: 3, bruteForceBans: 1, floodBans: 1, bansActive: 2, bansTotal: 2, bansLifted: 0,
      refusedWhileBanned: 4, overloadRejected: 1, trackedSources: 1, trackedUsers: 1,
    })
    expect(s.listBans().map((b) => [b.source, b.reason, b.username])).toEqual([['192.0.2.2', 'flood', undefined], ['192.0.2.1', 'brute-force', 'alice']])
  })

  test('lift ends the ban and forgets the counts: the next failure does not ban again at once', () => {
    const { s } = security()
    for (let i = 0; i < 3; i++) s.authFailure('192.0.2.1', 'alice')
    expect(s.lift('192.0.2.1')).toBe(true)
    expect(s.refused('192.0.2.1')).toBe(false)
    expect(s.authFailure('192.0.2.1', 'alice')).toBe(false)
    expect(s.stats.bansLifted).toBe(1)
    expect(s.lift('192.0.2.1')).toBe(false)
  })

  test('brute force disabled: failures are counted, nobody is banned', () => {
    const { s } = security({ ...SETTINGS, bruteForce: { ...SETTINGS.bruteForce, enabled: false } })
    for (let i = 0; i < 20; i++) expect(s.authFailure('192.0.2.1', 'alice')).toBe(false)
    expect(s.stats).toMatchObject({ authFailures: 20, bansTotal: 0 })
  })

  test('reconfigure replaces the allow-list, the ban action and the limits', () => {
    const { s } = security()
    s.reconfigure({ ...SETTINGS, allowList: ['192.0.2.1'], banAction: 'reject', flood: { ...SETTINGS.flood, maxRequests: 1 } })
    expect(s.allowed('192.0.2.200')).toBe(false)
    expect(s.allowed('192.0.2.1')).toBe(true)
    expect(s.banAction).toBe('reject')
    expect(s.request('192.0.2.5')).toBe(true)
    expect(s.request('192.0.2.5')).toBe(false)
  })
})

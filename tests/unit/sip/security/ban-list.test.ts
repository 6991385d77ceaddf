import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { setLogSink } from '../../../../gateway/src/base/log.ts'
import { BanList } from '../../../../gateway/src/sip/security/ban-list.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'

const logs: string[] = []
let prevSink: ((line: string) => void) | null = null
beforeAll(() => { prevSink = setLogSink((l) => logs.push(l)) })
afterAll(() => { if (prevSink) setLogSink(prevSink) })

function bans(maxEntries = 100) {
  const scheduler = new FakeScheduler(1_800_000_000)
  return { scheduler, list: new BanList({ scheduler, maxEntries }) }
}

describe('BanList', () => {
  test('a ban refuses its source until it expires, and no other source', () => {
    const { scheduler, list } = bans()
    expect(list.ban('192.0.2.1', 60, 'flood')).toBe(true)
    expect(list.refused('192.0.2.1')).toBe(true)
    expect(list.refused('192.0.2.2')).toBe(false)
    scheduler.advance(59_999)
    expect(list.refused('192.0.2.1')).toBe(true)
    scheduler.advance(1)
    expect(list.refused('192.0.2.1')).toBe(false)
    expect(list.stats).toEqual({ total: 1, refused: 2, lifted: 0, evicted: 0 })
    expect(logs.some((l) => l.includes('"ban expired"') && l.includes('192.0.2.1'))).toBe(true)
  })

  test('listing gives source, reason, user name, times and refused count; expired bans are left out', () => {
    const { scheduler, list } = bans()
    list.ban('192.0.2.1', 600, 'brute-force', 'alice')
    scheduler.advance(10_000)
    list.ban('192.0.2.2', 60, 'flood')
    list.refused('192.0.2.1')
    list.refused('192.0.2.1')
    expect(list.list()).toEqual([
      { source: '192.0.2.2', reason: 'flood', bannedAt: 1_800_000_010, expiresAt: 1_800_000_070, expiresIn: 60, refused: 0 },
      { source: '192.0.2.1', reason: 'brute-force', username: 'alice', bannedAt: 1_800_000_000, expiresAt: 1_800_000_600, expiresIn: 590, refused: 2 },
    ])
    scheduler.advance(60_000)
    expect(list.list().map((b) => b.source)).toEqual(['192.0.2.1'])
    expect(list.activeCount).toBe(1)
  })

  test('banning a banned source extends its ban and counts once', () => {
    const { scheduler, list } = bans()
    list.ban('192.0.2.1', 60, 'flood')
    scheduler.advance(30_000)
    expect(list.ban('192.0.2.1', 60, 'brute-force', 'bob')).toBe(false)
    expect(list.get('192.0.2.1')).toMatchObject({ reason: 'brute-force', username: 'bob', expiresIn: 60 })
    expect(list.ban('192.0.2.1', 1, 'flood')).toBe(false) // shorter: no change
    expect(list.get('192.0.2.1')?.reason).toBe('brute-force')
    expect(list.stats.total).toBe(1)
  })

  test('lift ends a ban at once', () => {
    const { list } = bans()
    list.ban('2001:db8::1', 60, 'flood')
    expect(list.lift('2001:db8::1')).toBe(true)
    expect(list.refused('2001:db8::1')).toBe(false)
    expect(list.lift('2001:db8::1')).toBe(false)
    expect(list.stats.lifted).toBe(1)
  })

  test('the table is bounded: a full table drops expired bans first, then the oldest', () => {
    const { scheduler, list } = bans(3)
    list.ban('10.0.0.1', 10, 'flood')
    list.ban('10.0.0.2', 100, 'flood')
    list.ban('10.0.0.3', 100, 'flood')
    scheduler.advance(10_000) // 10.0.0.1 expired
    list.ban('10.0.0.4', 100, 'flood')
    expect(list.stats.evicted).toBe(0)
    expect(list.list().map((b) => b.source).sort()).toEqual(['10.0.0.2', '10.0.0.3', '10.0.0.4'])
    list.ban('10.0.0.5', 100, 'flood') // full of active bans: the oldest (10.0.0.2) goes
    expect(list.stats.evicted).toBe(1)
    expect(list.isBanned('10.0.0.2')).toBe(false)
    expect(list.isBanned('10.0.0.5')).toBe(true)
    for (let i = 0; i < 1000; i++) list.ban(`10.1.${i >> 8}.${i & 255}`, 100, 'flood')
    expect(list.activeCount).toBe(3)
  })
})

import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setLogLevel, setLogSink } from '../../../gateway/src/base/log.ts'
import {
  CdrStore, cdrDatabasePath, cursorOf, migrateCdrs, openCdrDatabase, type CdrRecord,
} from '../../../gateway/src/store/cdr-store.ts'
import { FakeScheduler } from '../../support/fake-scheduler.ts'

const logs: string[] = []
let prevSink: ((line: string) => void) | null = null
// The level is process-wide: another test file's gateway may have set it to warn.
let prevLevel: ReturnType<typeof setLogLevel> | null = null
beforeAll(() => { prevSink = setLogSink((l) => logs.push(l)); prevLevel = setLogLevel('info') })
afterAll(() => { if (prevSink) setLogSink(prevSink); if (prevLevel) setLogLevel(prevLevel) })

const cleanup: (() => void)[] = []
afterEach(() => {
  while (cleanup.length > 0) cleanup.pop()!()
})

function tempDbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-cdr-'))
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'cdrs.sqlite')
}

const T0 = Date.UTC(2026, 11, 4, 20, 0, 0)

function cdr(over: Partial<CdrRecord> = {}): CdrRecord {
  return {
    callId: 'c1@ua', fromTag: 'ft1', start: T0, answer: T0 + 2000, end: T0 + 62_000, durationS: 60, ringS: 2,
    caller: 'sip:alice@patchbay.test', callerUser: 'alice', dialed: 'sip:bob@patchbay.test', routed: 'sip:bob@192.0.2.7:5062',
    direction: 'internal', trunk: null, rule: null, status: 200, reason: 'BYE', endedBy: 'caller',
    mediaPath: 'peer-to-peer', codec: 'opus', ...over,
  }
}

function setup(options: ConstructorParameters<typeof CdrStore>[1] = {}) {
  const scheduler = new FakeScheduler(1_800_000_000)
  const db = openCdrDatabase(':memory:')
  const store = new CdrStore(db, { scheduler, maxAgeDays: 0, ...options })
  cleanup.push(() => { store.close(); db.close() })
  return { scheduler, db, store }
}

describe('CdrStore: schema and batching', () => {
  test('a file database: WAL, the cdrs migration once, records survive reopening', () => {
    const path = tempDbPath()
    const db = openCdrDatabase(path)
    expect(db.query('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' })
    expect(db.query('SELECT version, name FROM schema_migrations').all()).toEqual([{ version: 1, name: 'cdrs' }])
    const indexes = (db.query("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cdrs'").all() as { name: string }[])
      .map((r) => r.name).sort()
    expect(indexes).toEqual(['cdrs_call_id', 'cdrs_caller_user', 'cdrs_start', 'cdrs_status', 'cdrs_trunk'])
    const store = new CdrStore(db, { scheduler: new FakeScheduler(), maxAgeDays: 0 })
    store.write(cdr({ trunk: 'carrier', rule: 'national', mediaPath: 'anchored', codec: 'PCMU', reason: 'a "quoted", reason' }))
    store.close()
    db.close()
    const again = openCdrDatabase(path)
    expect(migrateCdrs(again)).toEqual([])
    const page = new CdrStore(again, { scheduler: new FakeScheduler(), maxAgeDays: 0 }).query()
    expect(page.cdrs).toEqual([{ id: 1, ...cdr({ trunk: 'carrier', rule: 'national', mediaPath: 'anchored', codec: 'PCMU', reason: 'a "quoted", reason' }) }])
    again.close()
  })

  test('cdrDatabasePath: next to the bindings database; :memory: stays in memory', () => {
    expect(cdrDatabasePath('.data/patchbay.sqlite')).toBe('.data/cdrs.sqlite')
    expect(cdrDatabasePath('/var/lib/patchbay/db.sqlite')).toBe('/var/lib/patchbay/cdrs.sqlite')
    expect(cdrDatabasePath(':memory:')).toBe(':memory:')
  })

  test('writes are queued and committed together after flushIntervalMs, or on the next turn at maxBatchRows', () => {
    const { scheduler, store } = setup({ flushIntervalMs: 200, maxBatchRows: 5 })
    store.write(cdr({ callId: 'a' }))
    store.write(cdr({ callId: 'b' }))
    expect(store.stats.pending).toBe(2)
    expect(store.count()).toBe(0)
    scheduler.advance(199)
    expect(store.count()).toBe(0)
    scheduler.advance(1)
    expect(store.count()).toBe(2)
    expect(store.stats).toMatchObject({ written: 2, pending: 0 })
    for (let i = 0; i < 5; i++) store.write(cdr({ callId: `n${i}` }))
    expect(store.count()).toBe(2) // never on the caller's stack
    scheduler.advance(0)
    expect(store.count()).toBe(7)
    expect(scheduler.pendingCount).toBe(0) // the interval timer was replaced, not left behind
  })

  test('flush() commits at once; after close() writes go straight to disk', () => {
    const { store } = setup()
    store.write(cdr())
    store.flush()
    expect(store.count()).toBe(1)
    store.close()
    store.write(cdr({ callId: 'late' }))
    expect(store.count()).toBe(2)
  })

  test('a failed batch is retried once with the next flush, then dropped and counted', () => {
    const { scheduler, db, store } = setup({ flushIntervalMs: 200 })
    db.run('ALTER TABLE cdrs RENAME TO cdrs_away')
    store.write(cdr({ callId: 'x' }))
    store.flush()
    expect(store.stats).toMatchObject({ failedCommits: 1, pending: 1, dropped: 0 })
    db.run('ALTER TABLE cdrs_away RENAME TO cdrs')
    scheduler.advance(200)
    expect(store.stats).toMatchObject({ written: 1, pending: 0, dropped: 0 })
    db.run('ALTER TABLE cdrs RENAME TO cdrs_away')
    store.write(cdr({ callId: 'y' }))
    store.flush()
    scheduler.advance(200)
    expect(store.stats).toMatchObject({ failedCommits: 3, pending: 0, dropped: 1 })
    db.run('ALTER TABLE cdrs_away RENAME TO cdrs')
    expect(logs.some((l) => l.includes('CDR batch commit failed'))).toBe(true)
  })

  test('a stuck queue keeps the newest maxPendingRows', () => {
    const { store } = setup({ maxPendingRows: 3, maxBatchRows: 100 })
    for (let i = 0; i < 5; i++) store.write(cdr({ callId: `q${i}` }))
    expect(store.stats).toMatchObject({ pending: 3, dropped: 2 })
    store.flush()
    expect(store.query().cdrs.map((c) => c.callId).sort()).toEqual(['q2', 'q3', 'q4'])
  })
})

describe('CdrStore: queries', () => {
  function seeded() {
    const s = setup()
    const min = 60_000
    const rows: Partial<CdrRecord>[] = [
      { callId: 'k1', start: T0, caller: 'sip:alice@patchbay.test', callerUser: 'alice', dialed: 'sip:bob@patchbay.test', status: 200, durationS: 60 },
      { callId: 'k2', start: T0 + min, caller: 'sip:bob@patchbay.test', callerUser: 'bob', dialed: 'sip:+4930123456@patchbay.test', routed: 'sip:+4930123456@carrier.example', direction: 'outbound', trunk: 'carrier', status: 200, durationS: 5.5 },
      { callId: 'k3', start: T0 + 2 * min, caller: 'sip:+15551234@carrier.example', callerUser: null, dialed: 'sip:100@patchbay.test', routed: 'sip:carol@10.0.0.3', direction: 'inbound', trunk: 'carrier', answer: null, durationS: 0, status: 486, reason: 'Busy Here', endedBy: 'callee', mediaPath: null, codec: null },
      { callId: 'k4', start: T0 + 3 * min, caller: 'sip:alice@patchbay.test', callerUser: 'alice', dialed: 'sip:50%_off@patchbay.test', routed: null, answer: null, durationS: 0, status: 487, reason: 'Request Terminated', endedBy: 'caller', mediaPath: null, codec: null },
      { callId: 'k5', start: T0 + 4 * min, caller: 'sip:dave@patchbay.test', callerUser: 'dave', dialed: 'sip:bob@patchbay.test', answer: null, durationS: 0, status: 503, reason: 'Service Unavailable', endedBy: 'gateway', mediaPath: null, codec: null },
    ]
    // Written in the order the calls ended, not started.
    for (const r of [rows[1]!, rows[0]!, rows[3]!, rows[2]!, rows[4]!]) s.store.write(cdr(r))
    s.store.flush()
    const ids = (q: Parameters<CdrStore['query']>[0]) => s.store.query(q).cdrs.map((c) => c.callId)
    return { ...s, ids, min }
  }

  test('newest first by start; count matches the filters', () => {
    const { store, ids } = seeded()
    expect(ids({})).toEqual(['k5', 'k4', 'k3', 'k2', 'k1'])
    expect(store.count()).toBe(5)
  })

  test('time range: from inclusive, to exclusive', () => {
    const { store, ids, min } = seeded()
    expect(ids({ from: T0 + min, to: T0 + 3 * min })).toEqual(['k3', 'k2'])
    expect(store.count({ from: T0 + min, to: T0 + 3 * min })).toBe(2)
    expect(ids({ from: T0 + 10 * min })).toEqual([])
  })

  test('caller matches the URI or the user name; callee the dialed or the routed URI (substring, LIKE wildcards literal)', () => {
    const { ids } = seeded()
    expect(ids({ caller: 'alice' })).toEqual(['k4', 'k1'])
    expect(ids({ caller: '+1555' })).toEqual(['k3'])
    expect(ids({ callee: 'bob@' })).toEqual(['k5', 'k1'])
    expect(ids({ callee: 'carol' })).toEqual(['k3'])
    expect(ids({ callee: '+4930' })).toEqual(['k2'])
    expect(ids({ callee: '50%_' })).toEqual(['k4'])
    expect(ids({ callee: '%' })).toEqual(['k4'])
    expect(ids({ callee: '_' })).toEqual(['k4'])
  })

  test('direction, trunk, status class / status, minimum duration, combined', () => {
    const { store, ids } = seeded()
    expect(ids({ direction: 'inbound' })).toEqual(['k3'])
    expect(ids({ trunk: 'carrier' })).toEqual(['k3', 'k2'])
    expect(ids({ status: 'answered' })).toEqual(['k2', 'k1'])
    expect(ids({ status: 'failed' })).toEqual(['k5', 'k4', 'k3'])
    expect(ids({ status: '4xx' })).toEqual(['k4', 'k3'])
    expect(ids({ status: 486 })).toEqual(['k3'])
    expect(ids({ minDurationS: 6 })).toEqual(['k1'])
    expect(ids({ minDurationS: 5.5 })).toEqual(['k2', 'k1'])
    expect(ids({ trunk: 'carrier', status: 'answered' })).toEqual(['k2'])
    expect(store.count({ caller: 'alice', status: 'failed' })).toBe(1)
  })

  test('limit (default 100, clamped to 1..1000), offset, keyset cursor', () => {
    const { store, ids } = seeded()
    expect(ids({ limit: 2 })).toEqual(['k5', 'k4'])
    expect(ids({ limit: 2, offset: 2 })).toEqual(['k3', 'k2'])
    const p1 = store.query({ limit: 2 })
    expect(p1.nextCursor).toBe(cursorOf(p1.cdrs[1]!))
    const p2 = store.query({ limit: 2, cursor: p1.nextCursor! })
    expect(p2.cdrs.map((c) => c.callId)).toEqual(['k3', 'k2'])
    const p3 = store.query({ limit: 2, cursor: p2.nextCursor! })
    expect(p3.cdrs.map((c) => c.callId)).toEqual(['k1'])
    expect(p3.nextCursor).toBeNull()
    expect(ids({ limit: 0 })).toEqual(['k5'])
    expect(() => store.query({ cursor: 'garbage' })).toThrow(/cursor/)
    for (let i = 0; i < 1200; i++) store.write(cdr({ callId: `bulk${i}`, start: T0 - 1000 - i }))
    store.flush()
    expect(store.query().cdrs).toHaveLength(100)
    expect(store.query({ limit: 5000 }).cdrs).toHaveLength(1000)
  })

  test('the keyset cursor breaks ties between calls that started in the same millisecond', () => {
    const { store } = setup()
    for (let i = 0; i < 5; i++) store.write(cdr({ callId: `same${i}`, start: T0 }))
    store.flush()
    const seen: string[] = []
    let cursor: string | undefined
    for (;;) {
      const page = store.query({ limit: 2, ...(cursor !== undefined ? { cursor } : {}) })
      seen.push(...page.cdrs.map((c) => c.callId))
      if (page.nextCursor === null) break
      cursor = page.nextCursor
    }
    expect(seen).toEqual(['same4', 'same3', 'same2', 'same1', 'same0'])
  })

  test('pages(): every matching row in pages, capped by limit when given, offset applied once', () => {
    const { store } = setup()
    for (let i = 0; i < 25; i++) store.write(cdr({ callId: `p${i}`, start: T0 + i, trunk: i % 2 === 0 ? 'even' : null }))
    store.flush()
    const sizes = (q: Parameters<CdrStore['pages']>[0], n: number) => [...store.pages(q, n)].map((p) => p.length)
    expect(sizes({}, 10)).toEqual([10, 10, 5])
    expect(sizes({ trunk: 'even' }, 5)).toEqual([5, 5, 3])
    expect(sizes({ limit: 12 }, 5)).toEqual([5, 5, 2])
    expect([...store.pages({ offset: 20 }, 3)].flat().map((c) => c.callId)).toEqual(['p4', 'p3', 'p2', 'p1', 'p0'])
    expect(sizes({ trunk: 'none' }, 5)).toEqual([])
  })
})

describe('CdrStore: retention', () => {
  test('purge deletes rows that started before maxAgeDays, in chunks', () => {
    const day = 86_400_000
    const now = T0 + 100 * day
    const { store } = setup({ maxAgeDays: 90, deleteChunkRows: 2, wallClockMs: () => now })
    for (let i = 0; i < 3; i++) store.write(cdr({ callId: `old${i}`, start: now - 91 * day }))
    store.write(cdr({ callId: 'edge', start: now - 90 * day }))
    store.write(cdr({ callId: 'new', start: now - day }))
    store.flush()
    expect(store.purge()).toBe(2)
    expect(store.purge()).toBe(1)
    expect(store.purge()).toBe(0)
    expect(store.query().cdrs.map((c) => c.callId)).toEqual(['new', 'edge'])
    expect(store.stats.expired).toBe(3)
  })

  test('the retention timer runs 1 s after start, then every interval, continuing at once after a full chunk', () => {
    const day = 86_400_000
    let now = T0
    const { scheduler, store } = setup({ maxAgeDays: 1, deleteChunkRows: 2, retentionIntervalMs: 3_600_000, wallClockMs: () => now })
    for (let i = 0; i < 5; i++) store.write(cdr({ callId: `r${i}`, start: T0 - 2 * day }))
    store.flush()
    scheduler.advance(999)
    expect(store.count()).toBe(5)
    scheduler.advance(1) // 2 deleted, then 2, then 1 — each in its own turn
    expect(store.count()).toBe(0)
    store.write(cdr({ callId: 'fresh', start: T0 }))
    store.flush()
    now = T0 + 2 * day
    scheduler.advance(3_599_999)
    expect(store.count()).toBe(1)
    scheduler.advance(1)
    expect(store.count()).toBe(0)
    expect(logs.some((l) => l.includes('CDRs past retention deleted'))).toBe(true)
  })

  test('maxAgeDays 0 keeps everything and arms no timer; close() clears the timers', () => {
    const { scheduler, store } = setup({ maxAgeDays: 0 })
    expect(scheduler.pendingCount).toBe(0)
    store.write(cdr({ start: 0 }))
    store.flush()
    expect(store.purge()).toBe(0)
    const withRetention = setup({ maxAgeDays: 30 })
    withRetention.store.write(cdr())
    expect(withRetention.scheduler.pendingCount).toBe(2)
    withRetention.store.close()
    expect(withRetention.scheduler.pendingCount).toBe(0)
    expect(withRetention.store.count()).toBe(1)
  })
})

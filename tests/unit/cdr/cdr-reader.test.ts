import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setLogSink } from '../../../gateway/src/base/log.ts'
import { createCdrReader, inlineCdrReader, WorkerCdrReader } from '../../../gateway/src/cdr/cdr-reader.ts'
import { cdrPlugin } from '../../../gateway/src/http/cdr-plugin.ts'
import { CdrStore, openCdrDatabase, type CdrRecord } from '../../../gateway/src/store/cdr-store.ts'
import { FakeScheduler } from '../../support/fake-scheduler.ts'

let prevSink: ((line: string) => void) | null = null
beforeAll(() => { prevSink = setLogSink(() => undefined) })
afterAll(() => { if (prevSink) setLogSink(prevSink) })
const cleanup: (() => void)[] = []
afterEach(() => { while (cleanup.length > 0) cleanup.pop()!() })

const T0 = Date.UTC(2026, 11, 4, 20, 0, 0)

function cdr(i: number): CdrRecord {
  return {
    callId: `w${i}`, fromTag: 'ft', start: T0 + i * 1000, answer: i % 2 === 0 ? T0 + i * 1000 + 500 : null, end: T0 + i * 1000 + 9000,
    durationS: i % 2 === 0 ? 8.5 : 0, ringS: 0.5, caller: `sip:user${i % 3}@patchbay.test`, callerUser: `user${i % 3}`,
    dialed: `sip:+4930${i}@patchbay.test`, routed: null, direction: 'outbound', trunk: 'carrier', rule: null,
    status: i % 2 === 0 ? 200 : 486, reason: i % 2 === 0 ? 'BYE' : 'Busy Here', endedBy: 'callee', mediaPath: null, codec: null,
  }
}

function fileStore(rows: number) {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-cdr-reader-'))
  const path = join(dir, 'cdrs.sqlite')
  const db = openCdrDatabase(path)
  const store = new CdrStore(db, { scheduler: new FakeScheduler(), maxAgeDays: 0 })
  for (let i = 0; i < rows; i++) store.write(cdr(i))
  store.flush()
  cleanup.push(() => { store.close(); db.close(); rmSync(dir, { recursive: true, force: true }) })
  return { path, store }
}

describe('CdrReader', () => {
  test('the worker reader answers as the store does, sees later commits, and pages through everything', async () => {
    const { path, store } = fileStore(2500)
    const reader = new WorkerCdrReader(path)
    cleanup.push(() => reader.close())
    for (const q of [{}, { caller: 'user1', limit: 7 }, { status: 'failed' as const, offset: 3, limit: 5 }, { callee: '+49301', from: T0 + 5000 }]) {
      expect(await reader.query(q)).toEqual(store.query(q))
      expect(await reader.count(q)).toBe(store.count(q))
    }
    store.write(cdr(5000))
    store.flush()
    expect((await reader.query({ limit: 1 })).cdrs[0]!.callId).toBe('w5000')
    const sizes: number[] = []
    for await (const page of reader.pages({ status: 'answered' }, 600)) sizes.push(page.length)
    expect(sizes).toEqual([600, 600, 51])
  })

  test('errors reject: a malformed cursor, a missing database, a closed reader', async () => {
    const { path } = fileStore(1)
    const reader = new WorkerCdrReader(path)
    cleanup.push(() => reader.close())
    await expect(reader.query({ cursor: 'nope' })).rejects.toThrow(/cursor/)
    expect(await reader.count({})).toBe(1)
    const missing = new WorkerCdrReader(join(tmpdir(), 'patchbay-no-such-dir', 'cdrs.sqlite'))
    cleanup.push(() => missing.close())
    await expect(missing.count({})).rejects.toThrow(/cannot open the CDR database/)
    reader.close()
    await expect(reader.count({})).rejects.toThrow(/closed/)
  })

  test('createCdrReader: a worker for a file, inline for :memory:; the plugin works over either', async () => {
    const { path, store } = fileStore(3)
    const worker = createCdrReader(path, store)
    cleanup.push(() => worker.close())
    expect(worker).toBeInstanceOf(WorkerCdrReader)
    expect(createCdrReader(':memory:', store)).not.toBeInstanceOf(WorkerCdrReader)
    for (const cdrs of [worker, inlineCdrReader(store)]) {
      const app = cdrPlugin({ adminToken: 'admin-token-0123456789', cdrs, calls: { activeCalls: () => [], stats: { active: 0 } }, now: () => T0 })
      const get = (p: string) => app.handle(new Request(`http://gateway${p}`, { headers: { authorization: 'Bearer admin-token-0123456789' } }))
      const body = await (await get('/api/cdrs?status=answered')).json() as { total: number; cdrs: { callId: string }[] }
      expect(body.total).toBe(2)
      expect(body.cdrs.map((c) => c.callId)).toEqual(['w2', 'w0'])
      expect((await (await get('/api/cdrs.csv')).text()).split('\r\n')).toHaveLength(5)
    }
  })

  test('a failing read answers 500, not a hung request', async () => {
    const failing = { query: () => Promise.reject(new Error('boom')), count: () => Promise.resolve(0), pages: inlineCdrReader({ query: () => ({ cdrs: [], nextCursor: null }), count: () => 0 }).pages }
    const app = cdrPlugin({ adminToken: 'admin-token-0123456789', cdrs: failing, calls: { activeCalls: () => [], stats: { active: 0 } } })
    const res = await app.handle(new Request('http://gateway/api/cdrs', { headers: { authorization: 'Bearer admin-token-0123456789' } }))
    expect(res.status).toBe(500)
    expect(await res.json()).toEqual({ error: 'CDR query failed' })
  })
})

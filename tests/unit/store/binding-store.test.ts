import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Binding } from '../../../gateway/src/sip/registrar/binding.ts'
import { BindingStore } from '../../../gateway/src/store/binding-store.ts'
import { MIGRATIONS, migrate, openDatabase } from '../../../gateway/src/store/database.ts'

const cleanup: (() => void)[] = []
afterEach(() => {
  while (cleanup.length > 0) cleanup.pop()!()
})

function tempDbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-store-'))
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'db.sqlite')
}

function b(contact: string, over: Partial<Binding> = {}): Binding {
  return {
    aor: 'sip:alice@patchbay.test', contact, q: 1, expiresAt: 1_800_000_600, callId: 'c1', cseq: 1,
    instanceId: null, regId: null, flowId: null, transport: 'UDP', sourceAddress: '192.0.2.10', sourcePort: 5062,
    userAgent: null, path: [], registeredAt: 1_800_000_000, ...over,
  }
}

describe('openDatabase', () => {
  test('file database: WAL, synchronous NORMAL, migrations applied once', () => {
    const path = tempDbPath()
    const db = openDatabase(path)
    expect(db.query('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' })
    expect(db.query('PRAGMA synchronous').get()).toEqual({ synchronous: 1 })
    expect(db.query('SELECT version, name FROM schema_migrations').all()).toEqual([{ version: 1, name: 'bindings' }])
    db.close()
    const again = openDatabase(path)
    expect(migrate(again, MIGRATIONS)).toEqual([])
    expect((again.query('SELECT COUNT(*) AS n FROM schema_migrations').get() as { n: number }).n).toBe(1)
    again.close()
  })

  test('a later migration runs once; out-of-order migrations are refused', () => {
    const db = openDatabase(':memory:')
    const next = [...MIGRATIONS, { version: 2, name: 'extra', up: ['CREATE TABLE extra (x INTEGER)'] }]
    expect(migrate(db, next)).toEqual([2])
    expect(migrate(db, next)).toEqual([])
    expect(() => migrate(db, [{ version: 3, name: 'a', up: [] }, { version: 3, name: 'b', up: [] }])).toThrow()
    db.close()
  })
})

describe('BindingStore', () => {
  test('writes are queued, deferred once per turn, and committed together', () => {
    const db = openDatabase(':memory:')
    const deferred: (() => void)[] = []
    const store = new BindingStore(db, { defer: (fn) => deferred.push(fn) })
    store.upsert(b('sip:a@h'))
    store.upsert(b('sip:b@h'))
    store.upsert(b('sip:a@h', { cseq: 2 }))
    expect(deferred).toHaveLength(1)
    expect(store.pendingCount).toBe(2)
    expect(store.loadAll()).toEqual([])
    deferred[0]!()
    expect(store.pendingCount).toBe(0)
    const all = store.loadAll().sort((x, y) => x.contact.localeCompare(y.contact))
    expect(all.map((x) => [x.contact, x.cseq])).toEqual([['sip:a@h', 2], ['sip:b@h', 1]])
    db.close()
  })

  test('by default the batch commits on the next event-loop turn (setImmediate)', async () => {
    const db = openDatabase(':memory:')
    const store = new BindingStore(db)
    store.upsert(b('sip:a@h'))
    store.upsert(b('sip:b@h'))
    expect(store.pendingCount).toBe(2)
    await new Promise((resolve) => setImmediate(resolve))
    expect(store.pendingCount).toBe(0)
    expect(store.loadAll()).toHaveLength(2)
    db.close()
  })

  test('round-trips every field, including path, instance and reg-id', () => {
    const db = openDatabase(':memory:')
    const store = new BindingStore(db, { defer: () => {} })
    const full = b('sip:k@x.invalid;transport=ws', {
      q: 0.25, instanceId: 'urn:uuid:1', regId: 3, flowId: 'wss-9', transport: 'WSS', userAgent: 'SIP.js/0.21.2',
      path: ['<sip:e1.example.net;lr;ob>', '<sip:e2.example.net;lr>'],
    })
    store.upsert(full)
    store.flush()
    expect(store.loadAll()).toEqual([full])
    db.close()
  })

  test('delete and deleteByAor keep queue order', () => {
    const db = openDatabase(':memory:')
    const store = new BindingStore(db, { defer: () => {} })
    store.upsert(b('sip:a@h'))
    store.upsert(b('sip:x@h', { aor: 'sip:bob@patchbay.test' }))
    store.flush()
    store.deleteByAor('sip:alice@patchbay.test')
    store.upsert(b('sip:c@h')) // queued after the AOR delete: survives
    store.delete(b('sip:x@h', { aor: 'sip:bob@patchbay.test' }))
    store.flush()
    expect(store.loadAll().map((x) => x.contact)).toEqual(['sip:c@h'])
    db.close()
  })

  test('a failed commit is reported and the queue is cleared', () => {
    const db = openDatabase(':memory:')
    const errors: number[] = []
    const store = new BindingStore(db, { defer: () => {}, onError: (_e, n) => errors.push(n) })
    db.run('DROP TABLE bindings')
    store.upsert(b('sip:a@h'))
    store.flush()
    expect(errors).toEqual([1])
    expect(store.pendingCount).toBe(0)
    db.close()
  })
})

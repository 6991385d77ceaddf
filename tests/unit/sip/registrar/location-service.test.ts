import { afterEach, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Database } from 'bun:sqlite'
import type { Binding } from '../../../../gateway/src/sip/registrar/binding.ts'
import { LocationService } from '../../../../gateway/src/sip/registrar/location-service.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import { BindingStore } from '../../../../gateway/src/store/binding-store.ts'
import { openDatabase } from '../../../../gateway/src/store/database.ts'
import { DOMAIN, fakeFlow, harness, register } from './register-fixtures.ts'

const AOR = `sip:alice@${DOMAIN}`

function binding(over: Partial<Binding> & { contact: string }, now: number): Binding {
  return {
    aor: AOR, q: 1, expiresAt: now + 600, callId: 'c', cseq: 1, instanceId: null, regId: null, flowId: null,
    transport: 'UDP', sourceAddress: '192.0.2.10', sourcePort: 5062, userAgent: null, path: [], registeredAt: now,
    ...over,
  }
}

const cleanup: (() => void)[] = []
afterEach(() => {
  while (cleanup.length > 0) cleanup.pop()!()
})

function tempDbPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-loc-'))
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }))
  return join(dir, 'nested', 'patchbay.sqlite')
}

describe('LocationService', () => {
  test('lookup sorts by q (newest first among equals) and returns a fresh array', () => {
    const scheduler = new FakeScheduler()
    const ls = new LocationService({ scheduler })
    const now = scheduler.unixSeconds()
    const a = binding({ contact: 'sip:a@h', q: 0.5 }, now)
    const b = binding({ contact: 'sip:b@h', q: 1 }, now)
    const c = binding({ contact: 'sip:c@h', q: 0.5 }, now)
    ls.apply(AOR, [], [a, b, c])
    const first = ls.lookup(AOR)
    expect(first.map((x) => x.contact)).toEqual(['sip:b@h', 'sip:c@h', 'sip:a@h'])
    first.pop()
    expect(ls.lookup(AOR)).toHaveLength(3)
    expect(ls.lookup('sip:nobody@patchbay.test')).toEqual([])
    expect(ls.size).toBe(3)
    expect(ls.all()).toHaveLength(3)
  })

  test('one timer for many bindings, re-armed earlier when an earlier binding arrives', () => {
    const scheduler = new FakeScheduler()
    const ls = new LocationService({ scheduler })
    const now = scheduler.unixSeconds()
    ls.apply(AOR, [], [binding({ contact: 'sip:a@h', expiresAt: now + 300 }, now), binding({ contact: 'sip:b@h', expiresAt: now + 600 }, now)])
    expect(scheduler.pendingCount).toBe(1)
    ls.apply(AOR, [], [binding({ contact: 'sip:c@h', expiresAt: now + 100 }, now)])
    expect(scheduler.pendingCount).toBe(1)
    scheduler.advance(99_000)
    expect(ls.size).toBe(3)
    scheduler.advance(1_000)
    expect(ls.lookup(AOR).map((b) => b.contact).sort()).toEqual(['sip:a@h', 'sip:b@h'])
    expect(ls.size).toBe(2)
    scheduler.advance(500_000)
    expect(ls.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('a refreshed binding is not swept at its old expiry', () => {
    const scheduler = new FakeScheduler()
    const ls = new LocationService({ scheduler })
    const now = scheduler.unixSeconds()
    const old = binding({ contact: 'sip:a@h', expiresAt: now + 60 }, now)
    ls.apply(AOR, [], [old])
    scheduler.advance(30_000)
    const refreshed = { ...old, cseq: 2, expiresAt: scheduler.unixSeconds() + 60 }
    ls.apply(AOR, [old], [refreshed])
    scheduler.advance(31_000)
    expect(ls.lookup(AOR)).toEqual([refreshed])
    scheduler.advance(30_000)
    expect(ls.size).toBe(0)
  })

  test('expire(now) removes what lapsed and returns it', () => {
    const scheduler = new FakeScheduler()
    const ls = new LocationService({ scheduler })
    const now = scheduler.unixSeconds()
    const a = binding({ contact: 'sip:a@h', expiresAt: now + 10 }, now)
    ls.apply(AOR, [], [a, binding({ contact: 'sip:b@h', expiresAt: now + 20 }, now)])
    expect(ls.expire(now + 15)).toEqual([a])
    expect(ls.size).toBe(1)
  })

  test('removeFlow drops every binding on that flow, across AORs', () => {
    const scheduler = new FakeScheduler()
    const ls = new LocationService({ scheduler })
    const now = scheduler.unixSeconds()
    ls.apply(AOR, [], [binding({ contact: 'sip:a@x.invalid', flowId: 'ws-1', transport: 'WS' }, now), binding({ contact: 'sip:a@h' }, now)])
    ls.apply('sip:bob@patchbay.test', [], [binding({ aor: 'sip:bob@patchbay.test', contact: 'sip:b@x.invalid', flowId: 'ws-1', transport: 'WS' }, now)])
    expect(ls.removeFlow('ws-1')).toHaveLength(2)
    expect(ls.size).toBe(1)
    expect(ls.removeFlow('ws-1')).toEqual([])
  })
})

describe('LocationService persistence across a restart (file-backed sqlite)', () => {
  test('UDP bindings survive, WS bindings and lapsed ones are dropped (and deleted from the store)', () => {
    const path = tempDbPath()
    const scheduler = new FakeScheduler()
    let db: Database = openDatabase(path)
    let store = new BindingStore(db, { defer: () => {} })
    const h = harness({ store, scheduler })
    const ua = '"<urn:uuid:00000000-0000-1000-8000-00000000000a>"'
    expect(h.registrar.handleRegister(register({
      callId: 'udp', contacts: ['<sip:alice@192.0.2.10:5062>;q=0.7'], extra: [{ name: 'user-agent', value: 'Desk/1.0' }, { name: 'path', value: '<sip:edge.example.net;lr>' }],
    }), fakeFlow('UDP'), null).status).toBe(200)
    expect(h.registrar.handleRegister(register({
      callId: 'ws', contacts: [`<sip:k1@abc.invalid;transport=ws>;+sip.instance=${ua};reg-id=1`],
    }), fakeFlow('WSS'), null).status).toBe(200)
    expect(h.registrar.handleRegister(register({
      user: 'carol', callId: 'short', contacts: ['<sip:carol@192.0.2.30>;expires=60'],
    }), fakeFlow('UDP'), null).status).toBe(200)
    const before = h.location.lookup(AOR).find((b) => b.transport === 'UDP')!
    h.location.close() // flushes the store
    expect(store.pendingCount).toBe(0)
    db.close()

    // "Restart" two minutes later: carol's binding lapsed meanwhile.
    scheduler.advance(120_000)
    db = openDatabase(path)
    store = new BindingStore(db, { defer: () => {} })
    const restarted = new LocationService({ scheduler, store })
    expect(restarted.restore()).toEqual({ restored: 1, expired: 1, flowGone: 1 })
    expect(restarted.lookup(AOR)).toEqual([before])
    expect(restarted.lookup(`sip:carol@${DOMAIN}`)).toEqual([])
    store.flush()
    expect((db.query('SELECT COUNT(*) AS n FROM bindings').get() as { n: number }).n).toBe(1)
    // the restored binding expires on schedule
    expect(scheduler.pendingCount).toBe(1)
    scheduler.advance(600_000)
    expect(restarted.size).toBe(0)
    store.flush()
    expect((db.query('SELECT COUNT(*) AS n FROM bindings').get() as { n: number }).n).toBe(0)
    db.close()
  })

  test('removals and replacements are written through', () => {
    const scheduler = new FakeScheduler()
    const db = openDatabase(':memory:')
    const store = new BindingStore(db, { defer: () => {} })
    const h = harness({ store, scheduler })
    const inst = '"<urn:uuid:00000000-0000-1000-8000-00000000000b>"'
    h.registrar.handleRegister(register({ callId: 'p1', contacts: [`<sip:a@one.invalid;transport=ws>;+sip.instance=${inst};reg-id=1`] }), fakeFlow('WS'), null)
    h.registrar.handleRegister(register({ callId: 'p2', contacts: [`<sip:a@two.invalid;transport=ws>;+sip.instance=${inst};reg-id=1`] }), fakeFlow('WS'), null)
    store.flush()
    const rows = db.query('SELECT contact, call_id FROM bindings').all()
    expect(rows).toEqual([{ contact: 'sip:a@two.invalid;transport=ws', call_id: 'p2' }])
    h.registrar.handleRegister(register({ callId: 'p2', cseq: 2, contacts: ['*'], expires: 0 }), fakeFlow('WS'), null)
    store.flush()
    expect(db.query('SELECT COUNT(*) AS n FROM bindings').get()).toEqual({ n: 0 })
    db.close()
  })
})

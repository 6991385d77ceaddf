/**
 * The workers' shared location service without processes: two RelayedBindingStores (workers'
 * halves, each over a real LocationService) wired to a BindingRelay (the master's half) through
 * a JSON round trip, as Bun's IPC carries the messages. Checks the rules of
 * cluster/binding-relay.ts: relayed upserts, compare-and-delete, conditional expiry, AOR
 * removal, snapshots for a (re)starting worker, a dead worker's connections, persistence.
 */
import { describe, expect, test } from 'bun:test'
import { BindingRelay } from '../../../gateway/src/cluster/binding-relay.ts'
import { RelayedBindingStore, type BindingsMessage, type SnapshotMessage } from '../../../gateway/src/store/relayed-binding-store.ts'
import { LocationService } from '../../../gateway/src/sip/registrar/location-service.ts'
import { bindingKey, type Binding } from '../../../gateway/src/sip/registrar/binding.ts'
import { openDatabase } from '../../../gateway/src/store/database.ts'
import { BindingStore } from '../../../gateway/src/store/binding-store.ts'
import { FakeScheduler } from '../../support/fake-scheduler.ts'

const NOW = 1_800_000_000

function binding(user: string, over: Partial<Binding> = {}): Binding {
  return {
    aor: `sip:${user}@patchbay.test`, contact: `sip:${user}@192.0.2.1:5060`, q: 1, expiresAt: NOW + 600, callId: `c-${user}`, cseq: 1,
    instanceId: null, regId: null, flowId: null, transport: 'UDP', sourceAddress: '192.0.2.1', sourcePort: 5060,
    userAgent: 'test', path: [], registeredAt: NOW, ...over,
  }
}

/** A master and `n` workers; messages are delivered synchronously (flush() sends a worker's batch). */
function cluster(n: number, db = openDatabase(':memory:')) {
  const scheduler = new FakeScheduler(NOW)
  const stores: RelayedBindingStore[] = []
  const live = new Set<number>()
  const relay = new BindingRelay({
    db,
    send: (i, m: BindingsMessage | SnapshotMessage) => { if (live.has(i)) stores[i]!.receive(JSON.parse(JSON.stringify(m))) },
  })
  const workers: LocationService[] = []
  const start = (i: number) => {
    const store = new RelayedBindingStore({ nodeId: `w${i}`, send: (m) => relay.receive(i, JSON.parse(JSON.stringify(m))), defer: () => {} })
    stores[i] = store
    const location = new LocationService({ scheduler, store })
    store.start(location, () => `sip:127.0.0.1:${5070 + i}`)
    live.add(i)
    relay.attach(i)
    workers[i] = location
  }
  for (let i = 0; i < n; i++) start(i)
  return {
    relay, workers, stores, scheduler, db,
    /** Sends every worker's pending batch. */
    flush: () => { for (const s of stores) s.flush() },
    kill: (i: number) => { live.delete(i); relay.detach(i, `w${i}`) },
    restart: (i: number) => start(i),
  }
}

describe('BindingRelay + RelayedBindingStore', () => {
  test('a registration through one worker reaches the others; a connection binding carries the route through its worker', () => {
    const c = cluster(2)
    c.workers[0]!.apply('sip:alice@patchbay.test', [], [binding('alice')])
    c.workers[0]!.apply('sip:bob@patchbay.test', [], [binding('bob', { transport: 'WS', flowId: 'ws-3', contact: 'sip:bob@x.invalid;transport=ws' })])
    expect(c.workers[1]!.lookup('sip:alice@patchbay.test')).toHaveLength(0)
    c.flush()
    const alice = c.workers[1]!.lookup('sip:alice@patchbay.test')[0]!
    expect(alice.node).toBe('w0')
    expect(alice.flowId, 'a plain UDP binding: reached at its contact from any worker').toBeNull()
    const bob = c.workers[1]!.lookup('sip:bob@patchbay.test')[0]!
    expect(bob.nodeRoute).toBe('<sip:127.0.0.1:5070;lr;pb-flow=ws-3>')
    expect(c.relay.size).toBe(2)
  })

  test('compare-and-delete: a late removal by the first worker does not delete a newer registration made through the second', () => {
    const c = cluster(2)
    const old = binding('carol')
    c.workers[0]!.apply(old.aor, [], [old])
    c.flush()
    // carol re-registers through worker 1 (new Call-ID); worker 0 has not heard of it yet and unregisters the old one.
    const newer = binding('carol', { callId: 'c-carol-2', expiresAt: NOW + 900 })
    c.workers[1]!.apply(newer.aor, c.workers[1]!.current(newer.aor).slice(), [newer])
    c.workers[0]!.apply(old.aor, [old], [])
    c.stores[1]!.flush()
    c.stores[0]!.flush()
    expect(c.relay.stats.ignored).toBe(1)
    expect(c.relay.size).toBe(1)
    expect(c.workers[0]!.lookup(old.aor).map((b) => b.callId)).toEqual(['c-carol-2'])
  })

  test('expiry happens once: the row goes only if no worker refreshed it meanwhile', () => {
    const c = cluster(2)
    const b = binding('dave', { expiresAt: NOW + 60 })
    c.workers[0]!.apply(b.aor, [], [b])
    c.flush()
    // Worker 0 sweeps the old expiry while worker 1's refresh is on its way: the refresh
    // reaches the master first, then worker 0's expiry, which finds the row refreshed.
    c.scheduler.advance(61_000)
    c.workers[0]!.expire()
    const refreshed = binding('dave', { expiresAt: NOW + 3600, cseq: 2 })
    c.workers[1]!.apply(b.aor, c.workers[1]!.current(b.aor).slice(), [refreshed])
    c.stores[1]!.flush()
    c.stores[0]!.flush()
    expect(c.relay.stats.ignored, 'the conditional expiry found the row refreshed').toBe(1)
    expect(c.relay.size).toBe(1)
    expect(c.workers[0]!.lookup(b.aor).map((x) => x.expiresAt), 'worker 0 has the refreshed binding back').toEqual([NOW + 3600])
    // Both sweep past the new expiry: one removal, relayed once.
    c.scheduler.advance(3600_000)
    c.workers[0]!.expire()
    c.workers[1]!.expire()
    c.flush()
    expect(c.relay.size).toBe(0)
  })

  test('a worker that dies takes its connections\' bindings with it; its UDP bindings stay; a restarted worker gets the snapshot', () => {
    const c = cluster(2)
    c.workers[1]!.apply('sip:erin@patchbay.test', [], [binding('erin', { transport: 'WSS', flowId: 'wss-9', contact: 'sip:erin@y.invalid;transport=ws' })])
    c.workers[1]!.apply('sip:frank@patchbay.test', [], [binding('frank')])
    c.flush()
    expect(c.workers[0]!.all()).toHaveLength(2)
    c.kill(1)
    expect(c.workers[0]!.lookup('sip:erin@patchbay.test')).toHaveLength(0)
    expect(c.workers[0]!.lookup('sip:frank@patchbay.test')).toHaveLength(1)
    c.restart(1)
    expect(c.workers[1]!.all().map((b) => b.aor)).toEqual(['sip:frank@patchbay.test'])
  })

  test('the master persists the table: a new master (whole gateway restarted) offers the UDP rows, not the connections\'', () => {
    const db = openDatabase(':memory:')
    const c = cluster(1, db)
    c.workers[0]!.apply('sip:gina@patchbay.test', [], [binding('gina')])
    c.workers[0]!.apply('sip:hal@patchbay.test', [], [binding('hal', { transport: 'TCP', flowId: 'tcp-1' })])
    c.flush()
    c.relay.close()
    expect(new BindingStore(db).loadAll().map((b) => b.aor).sort()).toEqual(['sip:gina@patchbay.test', 'sip:hal@patchbay.test'])
    const next = new BindingRelay({ db, send: () => {} })
    expect(next.snapshot().map((r) => [r.aor, r.node])).toEqual([['sip:gina@patchbay.test', 'store']])
  })

  test('an AOR removed as a whole (REGISTER with Contact: *) is gone everywhere', () => {
    const c = cluster(2)
    const a = binding('ivy')
    const b2 = binding('ivy', { contact: 'sip:ivy@192.0.2.9:5060' })
    c.workers[0]!.apply(a.aor, [], [a, b2])
    c.flush()
    expect(c.workers[1]!.lookup(a.aor)).toHaveLength(2)
    c.stores[0]!.deleteByAor(a.aor)
    c.flush()
    expect(c.workers[1]!.lookup(a.aor)).toHaveLength(0)
    expect(c.relay.size).toBe(0)
    expect(bindingKey(a)).not.toBe(bindingKey(b2))
  })

  test('malformed changes from a worker are ignored, the others applied', () => {
    const c = cluster(2)
    c.relay.receive(0, { t: 'bindings', ops: [
      { op: 'u', aor: 'sip:x@patchbay.test', key: 'c:x', b: 'not a row' },
      { op: 'd', aor: 'sip:x@patchbay.test', key: 'c:x', b: null },
      { op: 'zap', aor: 'sip:x@patchbay.test' },
      null,
    ] })
    c.relay.receive(0, { t: 'bindings', ops: 'nope' })
    expect(c.relay.size).toBe(0)
    expect(c.relay.stats.ignored).toBe(4)
    c.workers[0]!.apply('sip:kim@patchbay.test', [], [binding('kim')])
    c.flush()
    expect(c.workers[1]!.lookup('sip:kim@patchbay.test')).toHaveLength(1)
  })
})

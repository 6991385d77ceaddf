/**
 * RedisBindingStore against a real redis-server (tests/support/redis.ts): two or three
 * LocationServices ("nodes") on one Redis, one fake clock for all of them.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { RedisClient } from 'bun'
import { bindingKey, type Binding } from '../../../gateway/src/sip/registrar/binding.ts'
import { LocationService } from '../../../gateway/src/sip/registrar/location-service.ts'
import { RedisBindingStore } from '../../../gateway/src/store/redis-binding-store.ts'
import { setLogLevel, type LogLevel } from '../../../gateway/src/base/log.ts'
import { FakeScheduler } from '../../support/fake-scheduler.ts'
import { startRedis, type RedisPeer } from '../../support/redis.ts'

const AOR = 'sip:alice@patchbay.test'

let redis: RedisPeer
let client: RedisClient
let scheduler: FakeScheduler
let nodes: Node[] = []
/** Messages published on pb:bindings, seen by an independent subscriber. */
let published: Array<{ op: string; n: string; aor: string; key?: string }> = []
let listener: RedisClient

interface Node {
  id: string
  location: LocationService
  store: RedisBindingStore
}

let logLevel: LogLevel
beforeAll(async () => {
  // The outages these tests cause are logged at warn; the loads at info are noise here.
  logLevel = setLogLevel('error')
  redis = await startRedis()
})
afterAll(async () => {
  await redis.stop()
  setLogLevel(logLevel)
})

beforeEach(async () => {
  scheduler = new FakeScheduler()
  client = new RedisClient(redis.url)
  await client.connect()
  await client.send('FLUSHALL', [])
  listener = new RedisClient(redis.url)
  await listener.connect()
  published = []
  await listener.subscribe('pb:bindings', (m: string) => {
    published.push(JSON.parse(m))
  })
})
afterEach(async () => {
  for (const n of nodes.splice(0)) {
    n.location.close()
    await n.store.close()
  }
  listener.close()
  client.close()
})

async function node(id: string, options: { wait?: boolean } = {}): Promise<Node> {
  const store = new RedisBindingStore({ url: redis.url, nodeId: id, unixSeconds: () => scheduler.unixSeconds(), retryMinMs: 50, retryMaxMs: 200 })
  const location = new LocationService({ scheduler, store })
  location.restore()
  store.start(location)
  if (options.wait !== false) await store.ready
  const n = { id, location, store }
  nodes.push(n)
  return n
}

function binding(over: Partial<Binding> & { contact: string }): Binding {
  const now = scheduler.unixSeconds()
  return {
    aor: AOR, q: 1, expiresAt: now + 600, callId: 'c', cseq: 1, instanceId: null, regId: null, flowId: null,
    transport: 'UDP', sourceAddress: '192.0.2.10', sourcePort: 5062, userAgent: 'ua', path: [], registeredAt: now,
    ...over,
  }
}

async function until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(5)
  }
}

async function row(aor: string, key: string): Promise<Record<string, unknown> | null> {
  const v = await client.hget(`pb:aor:${aor}`, key)
  return v === null ? null : JSON.parse(v)
}

describe('RedisBindingStore', () => {
  test('a binding registered at one node is stored with its node and appears at the other at once', async () => {
    const a = await node('a')
    const b = await node('b')
    const ws = binding({ contact: 'sip:x@abc.invalid;transport=ws', transport: 'WS', flowId: 'ws-3', instanceId: 'urn:uuid:1', regId: 1 })
    const udp = binding({ contact: 'sip:alice@192.0.2.10:5062', q: 0.5 })
    a.location.apply(AOR, [], [ws, udp])
    await until('B sees both bindings', () => b.location.lookup(AOR).length === 2)
    const [seenWs, seenUdp] = b.location.lookup(AOR)
    expect(seenWs!.node).toBe('a')
    // Another node's flow id never matches a flow here.
    expect(seenWs!.flowId).toBe('a/ws-3')
    expect(seenUdp!.contact).toBe('sip:alice@192.0.2.10:5062')
    expect(seenUdp!.node).toBe('a')
    expect(await row(AOR, bindingKey(ws))).toMatchObject({ node: 'a', flowId: 'ws-3', contact: ws.contact })
    expect(Number(await client.send('ZSCORE', ['pb:exp', `${AOR}\n${bindingKey(udp)}`]))).toBe(udp.expiresAt)
    // A's own bindings stay unmarked.
    expect(a.location.lookup(AOR).every((x) => x.node === undefined)).toBe(true)
    // B closing a local flow with the same id does not touch A's binding.
    expect(b.location.removeFlow('ws-3')).toEqual([])
    expect(a.store.stats.written).toBe(2)
    expect(b.store.stats.received).toBe(2)
  })

  test('an unregister at one node removes the binding at the others and in Redis', async () => {
    const a = await node('a')
    const b = await node('b')
    const udp = binding({ contact: 'sip:alice@192.0.2.10:5062' })
    a.location.apply(AOR, [], [udp])
    await until('B sees it', () => b.location.lookup(AOR).length === 1)
    // The unregister may come through the other node (a UDP phone can register anywhere).
    b.location.apply(AOR, b.location.current(AOR).slice(), [])
    await until('A drops it', () => a.location.lookup(AOR).length === 0)
    expect(await client.send('EXISTS', [`pb:aor:${AOR}`])).toBe(0)
    expect(await client.send('ZCARD', ['pb:exp'])).toBe(0)
  })

  test('a stale removal never deletes a newer registration of the same row (compare-and-delete)', async () => {
    const a = await node('a')
    const b = await node('b')
    const old = binding({ contact: 'sip:x@h.invalid;transport=ws', transport: 'WS', flowId: 'ws-1', instanceId: 'urn:uuid:9', regId: 1 })
    a.location.apply(AOR, [], [old])
    await until('B sees it', () => b.location.lookup(AOR).length === 1)
    // The browser reconnects to B: same instance and reg-id, B replaces the row.
    const moved = { ...old, flowId: 'ws-7', callId: 'c2', expiresAt: old.expiresAt + 10 }
    b.location.apply(AOR, b.location.current(AOR).slice(), [moved])
    await until('A sees the move', () => a.location.lookup(AOR)[0]?.node === 'b')
    // A's old connection closing afterwards: its binding is already replaced here...
    expect(a.location.removeFlow('ws-1')).toEqual([])
    // ...and even a late delete of the old value leaves B's row alone.
    a.store.delete(old)
    await Bun.sleep(50)
    expect(await row(AOR, bindingKey(old))).toMatchObject({ node: 'b', flowId: 'ws-7' })
    expect(b.location.lookup(AOR)).toHaveLength(1)
  })

  test('a lapsed binding is expired once, whichever nodes sweep it', async () => {
    const a = await node('a')
    const b = await node('b')
    const c = await node('c')
    a.location.apply(AOR, [], [binding({ contact: 'sip:alice@192.0.2.10:5062', expiresAt: scheduler.unixSeconds() + 60 })])
    await until('B and C see it', () => b.location.size === 1 && c.location.size === 1)
    // One clock for the three nodes: every node's timer fires and each tries the expiry.
    scheduler.advance(61_000)
    expect(a.location.size + b.location.size + c.location.size).toBe(0)
    await until('the expiry reached Redis', async () => (await client.send('ZCARD', ['pb:exp'])) === 0)
    await Bun.sleep(50)
    expect(published.filter((m) => m.op === 'x')).toHaveLength(1)
    expect(a.store.stats.expired + b.store.stats.expired + c.store.stats.expired).toBe(1)
    expect(await client.send('EXISTS', [`pb:aor:${AOR}`])).toBe(0)
  })

  test('a binding refreshed at another node is not expired by a node that missed the refresh', async () => {
    const a = await node('a')
    const b = await node('b')
    const first = binding({ contact: 'sip:alice@192.0.2.10:5062', expiresAt: scheduler.unixSeconds() + 60 })
    a.location.apply(AOR, [], [first])
    await until('B sees it', () => b.location.size === 1)
    // B refreshes; A's sweep of the old value races with the refresh message.
    b.location.apply(AOR, b.location.current(AOR).slice(), [{ ...first, expiresAt: first.expiresAt + 600, cseq: 2 }])
    a.store.expire(first)
    await until('A sees the refresh', () => a.location.lookup(AOR)[0]?.cseq === 2)
    await Bun.sleep(50)
    expect(await row(AOR, bindingKey(first))).toMatchObject({ cseq: 2, node: 'b' })
    expect(published.filter((m) => m.op === 'x')).toHaveLength(0)
  })

  test('deleteByAor removes every row of the AOR everywhere; scripts flushed from Redis are sent again', async () => {
    const a = await node('a')
    const b = await node('b')
    await client.send('SCRIPT', ['FLUSH'])
    a.location.apply(AOR, [], [binding({ contact: 'sip:alice@192.0.2.10:5062' }), binding({ contact: 'sip:alice@192.0.2.10:5064' })])
    await until('B sees both', () => b.location.size === 2)
    a.store.deleteByAor(AOR)
    await until('B drops both', () => b.location.size === 0)
    expect(await client.send('EXISTS', [`pb:aor:${AOR}`])).toBe(0)
    expect(await client.send('ZCARD', ['pb:exp'])).toBe(0)
  })

  test('a node starting loads the bindings; its own WebSocket bindings of a previous run are dropped everywhere', async () => {
    const a = await node('a')
    const b = await node('b')
    const udp = binding({ contact: 'sip:alice@192.0.2.10:5062' })
    const ws = binding({ contact: 'sip:y@h.invalid;transport=ws', transport: 'WS', flowId: 'ws-2' })
    a.location.apply(AOR, [], [udp, ws])
    await until('B sees both', () => b.location.size === 2)
    a.location.close()
    await a.store.close()
    nodes = nodes.filter((n) => n !== a)

    const fresh = await node('c')
    expect(fresh.location.lookup(AOR).map((x) => x.node)).toEqual(['a', 'a'])

    const restarted = await node('a')
    // The UDP binding survives A's restart (reachable again); the WebSocket died with A's process.
    expect(restarted.location.lookup(AOR).map((x) => [x.contact, x.node])).toEqual([[udp.contact, undefined]])
    await until('B and C drop the dead WebSocket binding', () => b.location.size === 1 && fresh.location.size === 1)
    expect(await row(AOR, bindingKey(ws))).toBeNull()
  })

  test('rows lapsed while no node ran are swept at start, once', async () => {
    const a = await node('a')
    a.location.apply(AOR, [], [binding({ contact: 'sip:alice@192.0.2.10:5062', expiresAt: scheduler.unixSeconds() + 60 })])
    await until('stored', async () => (await client.send('ZCARD', ['pb:exp'])) === 1)
    a.location.close()
    // Close without the sweep ever running there.
    await a.store.close()
    nodes = []
    scheduler.advance(120_000)
    const b = await node('b')
    expect(b.location.size).toBe(0)
    expect(await client.send('ZCARD', ['pb:exp'])).toBe(0)
    await until('the sweep message', () => published.some((m) => m.op === 'x'))
    expect(published.filter((m) => m.op === 'x')).toHaveLength(1)
  })

  test('Redis going away: registrations go on locally, removals are journaled, and both nodes resync when it returns', async () => {
    const a = await node('a')
    const b = await node('b')
    const early = binding({ contact: 'sip:alice@192.0.2.10:5062' })
    a.location.apply(AOR, [], [early])
    await until('B sees it', () => b.location.size === 1)
    listener.close()
    client.close()

    await redis.stop()
    await until('both nodes notice', () => a.store.state === 'down' && b.store.state === 'down')
    const late = binding({ aor: 'sip:bob@patchbay.test', contact: 'sip:bob@192.0.2.11:5062' })
    a.location.apply(late.aor, [], [late])
    a.location.apply(AOR, a.location.current(AOR).slice(), [])
    expect(a.location.lookup(late.aor)).toHaveLength(1)
    expect(a.location.lookup(AOR)).toHaveLength(0)
    expect(a.store.journaled).toBe(1)

    await redis.restart()
    client = new RedisClient(redis.url)
    await client.connect()
    listener = new RedisClient(redis.url)
    await listener.connect()
    await listener.subscribe('pb:bindings', () => {})
    await until('both nodes resynced', () => a.store.state === 'up' && b.store.state === 'up' && a.store.stats.syncs === 2 && b.store.stats.syncs === 2, 5_000)
    // The empty Redis got A's bindings back; B reloaded them and dropped the one A removed.
    expect(await row(late.aor, bindingKey(late))).toMatchObject({ node: 'a', contact: late.contact })
    await until('B sees bob and no alice', () => b.location.lookup(late.aor).length === 1 && b.location.lookup(AOR).length === 0)
    expect(a.store.journaled).toBe(0)
    expect(a.store.stats.outages).toBeGreaterThanOrEqual(1)
    // Writes flow again.
    a.location.apply(AOR, [], [early])
    await until('B sees alice again', () => b.location.lookup(AOR).length === 1)
  })

  test('a node started while Redis is down serves locally and loads once Redis comes up', async () => {
    await redis.stop()
    listener.close()
    client.close()
    const a = await node('a', { wait: false })
    const local = binding({ contact: 'sip:alice@192.0.2.10:5062' })
    a.location.apply(AOR, [], [local])
    expect(a.location.lookup(AOR)).toHaveLength(1)
    await until('A noticed', () => a.store.state === 'down')
    await redis.restart()
    client = new RedisClient(redis.url)
    await client.connect()
    listener = new RedisClient(redis.url)
    await listener.connect()
    await a.store.ready
    await until('the binding reached Redis', async () => (await row(AOR, bindingKey(local))) !== null, 5_000)
    const b = await node('b')
    expect(b.location.lookup(AOR).map((x) => x.node)).toEqual(['a'])
  })
})

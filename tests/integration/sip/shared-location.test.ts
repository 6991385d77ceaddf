/**
 * Two gateway nodes on one location service in Redis (store.redis, issue 14 item 2), in one
 * test process, with a real redis-server (tests/support/redis.ts): a UDP phone registers at
 * node A and is reached through node B; an unregister at A disappears at B; a lapsed binding
 * is expired once; a restarted node reloads the bindings from Redis; Redis going away does not
 * stop registrations, and the nodes resynchronize when it returns.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { RedisClient } from 'bun'
import { TEST_DOMAIN, startGateway, testConfig, userEntry, type RunningGateway } from '../../support/gateway.ts'
import type { GatewayConfig } from '../../../gateway/src/config/schema.ts'
import { WsSipClient } from '../../support/ws-sip-client.ts'
import { startRedis, type RedisPeer } from '../../support/redis.ts'
import { UdpPhone } from './udp-phone.ts'

setDefaultTimeout(30_000)

const PHONE = { username: 'shared-udp', password: 'shared-udp-password' }
const WS_USER = { username: 'shared-ws', password: 'shared-ws-password' }
const CALLER = { username: 'shared-caller', password: 'shared-caller-password' }
const PHONE_AOR = `sip:${PHONE.username}@${TEST_DOMAIN}`

let redis: RedisPeer
let configA: GatewayConfig
let configB: GatewayConfig
let a: RunningGateway | null = null
let b: RunningGateway | null = null
let phone: UdpPhone
let watcher: RedisClient | null = null
const clients: WsSipClient[] = []
/** Operations published on pb:bindings, seen by an independent subscriber. */
const published: Array<{ op: string; n: string; aor: string }> = []

function nodeConfig(nodeId: string): GatewayConfig {
  return testConfig(
    { store: { redis: { url: redis.url, nodeId } }, media: { driver: 'none' }, registrar: { minExpires: 2 } },
    { extraUsers: [PHONE, WS_USER, CALLER].map((u) => userEntry(u.username, u.password)) },
  )
}

async function until(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(10)
  }
}

async function caller(gw: RunningGateway): Promise<WsSipClient> {
  const c = await WsSipClient.connect({ url: gw.wsUrl, username: CALLER.username, password: CALLER.password, domain: TEST_DOMAIN })
  clients.push(c)
  return c
}

/** A MESSAGE from a WebSocket user of `gw` to the phone; resolves with the final status. */
async function messagePhone(gw: RunningGateway, body: string): Promise<number> {
  const c = await caller(gw)
  const { final } = await c.request('MESSAGE', PHONE_AOR, { body, contentType: 'text/plain' })
  return final.status
}

async function watch(): Promise<void> {
  watcher = new RedisClient(redis.url)
  await watcher.connect()
  await watcher.subscribe('pb:bindings', (m: string) => {
    published.push(JSON.parse(m))
  })
}

beforeAll(async () => {
  redis = await startRedis()
  configA = nodeConfig('node-a')
  configB = nodeConfig('node-b')
  await watch()
  phone = await UdpPhone.open(PHONE.username, PHONE.password, TEST_DOMAIN)
  a = await startGateway(configA)
  b = await startGateway(configB)
})

afterAll(async () => {
  for (const c of clients) c.close()
  phone?.close()
  watcher?.close()
  await a?.stop().catch(() => {})
  await b?.stop().catch(() => {})
  await redis?.stop()
})

describe('two nodes sharing the location service in Redis', () => {
  test('a UDP phone registered at node A is reached through node B', async () => {
    const ok = await phone.register(a!.udpPort)
    expect(ok.status, ok.raw).toBe(200)
    await until('B knows the binding', () => b!.internals.location.lookup(PHONE_AOR).length === 1)
    const seen = b!.internals.location.lookup(PHONE_AOR)[0]!
    expect(seen.node).toBe('node-a')
    expect(seen.contact).toBe(phone.contactUri)
    expect(a!.internals.location.lookup(PHONE_AOR)[0]!.node).toBeUndefined()

    expect(await messagePhone(b!, 'via node B')).toBe(200)
    const delivered = await phone.waitFor((m) => m.isRequest && m.method === 'MESSAGE' && m.body === 'via node B', 'the MESSAGE through B')
    // B sent it itself: a UDP phone is reached directly from any node.
    expect(delivered.getAll('via')[0]).toStartWith(`SIP/2.0/UDP 127.0.0.1:${b!.udpPort};`)
  })

  test('a WebSocket binding at node A is known at B with its node and a flow id that is not B\'s', async () => {
    const ws = await WsSipClient.connect({ url: a!.wsUrl, username: WS_USER.username, password: WS_USER.password, domain: TEST_DOMAIN })
    clients.push(ws)
    const { final } = await ws.register()
    expect(final.status, final.raw).toBe(200)
    const aor = `sip:${WS_USER.username}@${TEST_DOMAIN}`
    await until('B knows the WebSocket binding', () => b!.internals.location.lookup(aor).length === 1)
    const atA = a!.internals.location.lookup(aor)[0]!
    const atB = b!.internals.location.lookup(aor)[0]!
    expect(atB.node).toBe('node-a')
    expect(atB.flowId).toBe(`node-a/${atA.flowId}`)
    // The connection closing at A removes the binding at B too.
    ws.close()
    await until('B drops it with the flow', () => b!.internals.location.lookup(aor).length === 0)
  })

  test('an unregister (Expires: 0) at node A disappears at node B', async () => {
    const gone = await phone.register(a!.udpPort, 0)
    expect(gone.status, gone.raw).toBe(200)
    await until('B drops the binding', () => b!.internals.location.lookup(PHONE_AOR).length === 0)
    expect(await messagePhone(b!, 'nobody home')).toBe(480)
  })

  test('a lapsed binding is expired once, whichever node sweeps first', async () => {
    const before = published.filter((m) => m.op === 'x' && m.aor === PHONE_AOR).length
    const ok = await phone.register(a!.udpPort, 2)
    expect(ok.status, ok.raw).toBe(200)
    await until('B knows the binding', () => b!.internals.location.lookup(PHONE_AOR).length === 1)
    await until('both nodes swept it', () => a!.internals.location.size === 0 && b!.internals.location.size === 0, 6_000)
    await until('the expiry was published', () => published.some((m) => m.op === 'x' && m.aor === PHONE_AOR))
    await Bun.sleep(200)
    expect(published.filter((m) => m.op === 'x' && m.aor === PHONE_AOR).length - before).toBe(1)
  })

  test('a restarted node reloads the bindings from Redis', async () => {
    const ok = await phone.register(a!.udpPort)
    expect(ok.status, ok.raw).toBe(200)
    await until('B knows the binding', () => b!.internals.location.lookup(PHONE_AOR).length === 1)
    await b!.stop()
    b = null
    b = await startGateway(configB)
    await until('the new B loaded it', () => b!.internals.location.lookup(PHONE_AOR).length === 1)
    expect(b.internals.location.lookup(PHONE_AOR)[0]!.node).toBe('node-a')
    expect(await messagePhone(b, 'after B restarted')).toBe(200)
    await phone.waitFor((m) => m.isRequest && m.method === 'MESSAGE' && m.body === 'after B restarted', 'the MESSAGE through the new B')

    // The node that took the registration restarts too: its own UDP binding comes back as its own.
    await a!.stop()
    a = null
    a = await startGateway(configA)
    await until('the new A loaded it', () => a!.internals.location.lookup(PHONE_AOR).length === 1)
    expect(a.internals.location.lookup(PHONE_AOR)[0]!.node).toBeUndefined()
  })

  test('Redis going away: registrations go on at the node, which resynchronizes when Redis returns', async () => {
    watcher?.close()
    watcher = null
    await redis.stop()
    // The phone registers again at A while Redis is away (a refresh, then the answer is 200).
    const ok = await phone.register(a!.udpPort, 300)
    expect(ok.status, ok.raw).toBe(200)
    const local = a!.internals.location.lookup(PHONE_AOR)
    expect(local).toHaveLength(1)
    expect(await messagePhone(a!, 'A alone')).toBe(200)
    await phone.waitFor((m) => m.isRequest && m.method === 'MESSAGE' && m.body === 'A alone', 'the MESSAGE through A without Redis')

    // Redis comes back empty (no persistence): A writes its bindings again, B reloads them.
    await redis.restart()
    const check = new RedisClient(redis.url)
    await check.connect()
    try {
      await until('A rewrote its binding into Redis', async () => Object.keys((await check.hgetall(`pb:aor:${PHONE_AOR}`)) ?? {}).length === 1, 10_000)
      const stored = JSON.parse(Object.values((await check.hgetall(`pb:aor:${PHONE_AOR}`))!)[0]!) as { node: string; expiresAt: number }
      expect(stored.node).toBe('node-a')
      expect(stored.expiresAt).toBe(local[0]!.expiresAt)
    } finally {
      check.close()
    }
    await until('B has the refreshed binding', () => b!.internals.location.lookup(PHONE_AOR)[0]?.expiresAt === local[0]!.expiresAt, 10_000)
    expect(await messagePhone(b!, 'B after the outage')).toBe(200)
    await phone.waitFor((m) => m.isRequest && m.method === 'MESSAGE' && m.body === 'B after the outage', 'the MESSAGE through B after the outage')
  })
})

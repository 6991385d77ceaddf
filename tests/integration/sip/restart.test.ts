/**
 * Bindings across a restart (store: a bun:sqlite file). A UDP phone and a WebSocket client
 * register with digest; the gateway stops and a new one starts on the same file. The UDP
 * binding is back (listed by /api/registrations, and a MESSAGE to that user reaches the UDP
 * socket); the WebSocket binding is gone (RFC 5626 §7: its flow did not survive), so a request
 * to that user gets 480. Connection bindings that a crash left in the file (the stop closes
 * the WebSocket first, which already removes its row) are dropped at the start as well.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TEST_DOMAIN, startGateway, testConfig, userEntry, type RunningGateway } from '../../support/gateway.ts'
import type { GatewayConfig } from '../../../gateway/src/config/schema.ts'
import { WsSipClient } from '../../support/ws-sip-client.ts'
import { openDatabase } from '../../../gateway/src/store/database.ts'
import { BindingStore } from '../../../gateway/src/store/binding-store.ts'
import { UdpPhone } from './udp-phone.ts'

setDefaultTimeout(30_000)

const UDP_USER = { username: 'restart-udp', password: 'restart-udp-password' }
const WS_USER = { username: 'restart-ws', password: 'restart-ws-password' }
const CALLER = { username: 'restart-caller', password: 'restart-caller-password' }
const ADMIN_TOKEN = 'restart-test-admin-token-0123456789'

let dir: string
let config: GatewayConfig
let first: RunningGateway | null = null
let second: RunningGateway | null = null
let phone: UdpPhone
const wsClients: WsSipClient[] = []

interface Registration {
  aor: string
  contact: string
  transport: string
  source: string
  expiresIn: number
}

async function registrations(gw: RunningGateway): Promise<Registration[]> {
  const res = await fetch(`${gw.httpUrl}/api/registrations`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  expect(res.status).toBe(200)
  return ((await res.json()) as { registrations: Registration[] }).registrations
}

async function wsClient(gw: RunningGateway, user: { username: string; password: string }): Promise<WsSipClient> {
  const c = await WsSipClient.connect({ url: gw.wsUrl, username: user.username, password: user.password, domain: TEST_DOMAIN })
  wsClients.push(c)
  return c
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'patchbay-restart-'))
  config = testConfig(
    { store: { path: join(dir, 'bindings.sqlite') }, adminToken: ADMIN_TOKEN, media: { driver: 'none' }, auth: { algorithms: ['MD5', 'SHA-256'] } },
    { extraUsers: [UDP_USER, WS_USER, CALLER].map((u) => userEntry(u.username, u.password)) },
  )
  phone = await UdpPhone.open(UDP_USER.username, UDP_USER.password, TEST_DOMAIN)
})

afterAll(async () => {
  for (const c of wsClients) c.close()
  phone?.close()
  await first?.stop().catch(() => {})
  await second?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('restart with a file store', () => {
  test('before: a UDP and a WebSocket binding, both listed', async () => {
    first = await startGateway(config)
    const ok = await phone.register(first.udpPort)
    expect(ok.status, ok.raw).toBe(200)
    const ws = await wsClient(first, WS_USER)
    const { final } = await ws.register()
    expect(final.status, final.raw).toBe(200)
    const regs = await registrations(first)
    expect(regs.map((r) => `${r.aor} ${r.transport}`).sort()).toEqual([
      `sip:${UDP_USER.username}@${TEST_DOMAIN} UDP`,
      `sip:${WS_USER.username}@${TEST_DOMAIN} WS`,
    ])
    expect(existsSync(join(dir, 'bindings.sqlite'))).toBe(true)
  })

  test('after a stop and a new start on the same store: the UDP binding is back, the WebSocket one is gone', async () => {
    if (!first) throw new Error('the first test must run first')
    const before = (await registrations(first)).find((r) => r.transport === 'UDP')!
    await first.stop()
    first = null
    // What a crash would leave behind: rows for a WebSocket and a TCP binding whose
    // connections died with the process.
    const db = openDatabase(config.store.path)
    const store = new BindingStore(db)
    const now = Math.floor(Date.now() / 1000)
    for (const [transport, flowId, port] of [['WS', 'ws-999', 40999], ['TCP', 'tcp-999', 40998]] as const) {
      store.upsert({
        aor: `sip:${WS_USER.username}@${TEST_DOMAIN}`, contact: `sip:${WS_USER.username}@stale${port}.invalid;transport=${transport.toLowerCase()}`,
        q: 1, expiresAt: now + 600, callId: `stale-${port}`, cseq: 2, instanceId: null, regId: null, flowId, transport,
        sourceAddress: '127.0.0.1', sourcePort: port, userAgent: 'crashed', path: [], registeredAt: now,
      })
    }
    store.flush()
    expect(store.loadAll().length).toBe(3)
    db.close()
    second = await startGateway(config)
    const regs = await registrations(second)
    expect(regs).toHaveLength(1)
    expect(regs[0]!.aor).toBe(`sip:${UDP_USER.username}@${TEST_DOMAIN}`)
    expect(regs[0]!.contact).toContain(`${phone.contactUri}`)
    expect(regs[0]!.source).toBe(`127.0.0.1:${phone.port}`)
    // The expiry went on counting across the restart (not renewed, not lost).
    expect(regs[0]!.expiresIn).toBeLessThanOrEqual(before.expiresIn)
    expect(regs[0]!.expiresIn).toBeGreaterThan(before.expiresIn - 10)
  })

  test('a MESSAGE to the UDP user is forwarded to its socket; one to the WebSocket user gets 480', async () => {
    if (!second) throw new Error('the restart test must run first')
    const caller = await wsClient(second, CALLER)
    const toUdp = await caller.request('MESSAGE', `sip:${UDP_USER.username}@${TEST_DOMAIN}`, { body: 'hello after restart', contentType: 'text/plain' })
    expect(toUdp.challenge?.status).toBe(407)
    expect(toUdp.final.status, toUdp.final.raw).toBe(200)
    const delivered = await phone.waitFor((m) => m.isRequest && m.method === 'MESSAGE', 'the MESSAGE at the UDP phone')
    expect(delivered.requestUri).toBe(phone.contactUri)
    expect(delivered.body).toBe('hello after restart')
    expect(delivered.getAll('via')[0]).toStartWith(`SIP/2.0/UDP 127.0.0.1:${second.udpPort};`)

    const toWs = await caller.request('MESSAGE', `sip:${WS_USER.username}@${TEST_DOMAIN}`, { body: 'anyone?', contentType: 'text/plain' })
    expect(toWs.final.status, toWs.final.raw).toBe(480)
  })
})

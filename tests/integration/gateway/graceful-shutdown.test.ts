/**
 * Graceful shutdown (issue 11 item 6): SIGTERM stops accepting new transactions (503 with
 * Retry-After), lets a call being set up finish, flushes the bindings store and exits 0; a
 * restart on the same store finds every UDP and TCP binding again.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { TEST_DOMAIN, startGateway, testConfig, userEntry, type RunningGateway } from '../../support/gateway.ts'
import { PeerProcess } from '../../support/processes.ts'
import { WsSipClient, fakeAnswerFor, fakeSdp } from '../../support/ws-sip-client.ts'
import { ha1 } from '../../../gateway/src/sip/auth/digest.ts'
import { UdpPhone } from '../sip/udp-phone.ts'
import { StreamSipClient } from '../sip/stream-client.ts'

setDefaultTimeout(60_000)

const ADMIN_TOKEN = 'shutdown-test-admin-token-0123456789'
const PASSWORD = 'shutdown-test-password'
const UDP_USERS = Array.from({ length: 20 }, (_, i) => `sd-udp-${i}`)
const NAMES = [...UDP_USERS, 'sd-tcp', 'sd-caller', 'sd-callee', 'sd-late']

const dirs: string[] = []
const cleanups: Array<() => unknown> = []
afterAll(async () => {
  for (const c of cleanups.reverse()) await c()
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'patchbay-shutdown-'))
  dirs.push(d)
  return d
}

async function registrations(gw: RunningGateway): Promise<Array<{ aor: string; transport: string }>> {
  const res = await fetch(`${gw.httpUrl}/api/registrations`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  expect(res.status).toBe(200)
  return ((await res.json()) as { registrations: Array<{ aor: string; transport: string }> }).registrations
}

describe('graceful shutdown', () => {
  test('draining: new requests get 503 + Retry-After, a ringing call is answered, then every UDP/TCP binding survives the restart', async () => {
    const dir = tempDir()
    const config = testConfig(
      { store: { path: join(dir, 'bindings.sqlite') }, adminToken: ADMIN_TOKEN, media: { driver: 'none' }, shutdown: { graceSeconds: 10, retryAfterSeconds: 7 } },
      { extraUsers: NAMES.map((n) => userEntry(n, PASSWORD)) },
    )
    const first = await startGateway(config)
    let firstStopped = false
    cleanups.push(() => (firstStopped ? undefined : first.stop()))

    const phones = await Promise.all(UDP_USERS.map((u) => UdpPhone.open(u, PASSWORD, TEST_DOMAIN)))
    cleanups.push(() => phones.forEach((p) => p.close()))
    for (const p of phones) expect((await p.register(first.udpPort)).status).toBe(200)
    const tcp = await StreamSipClient.connect({ port: first.tcpPort, username: 'sd-tcp', password: PASSWORD, domain: TEST_DOMAIN })
    cleanups.push(() => tcp.close())
    expect((await tcp.register()).final.status).toBe(200)

    // A call being set up when the shutdown starts: the callee rings.
    const caller = await WsSipClient.connect({ url: first.wsUrl, username: 'sd-caller', password: PASSWORD, domain: TEST_DOMAIN })
    const callee = await WsSipClient.connect({ url: first.wsUrl, username: 'sd-callee', password: PASSWORD, domain: TEST_DOMAIN })
    cleanups.push(() => { caller.close(); callee.close() })
    expect((await callee.register()).final.status).toBe(200)
    const { call } = await caller.inviteWithAuth(callee.aor, { body: fakeSdp('webrtc', 'offer') })
    const invite = await callee.waitForRequest('INVITE', call.callId)
    callee.respond(invite, 180)
    await caller.waitForResponse({ status: 180, callId: call.callId })
    expect(first.internals.proxy.pendingInvites).toBe(1)
    expect((await registrations(first)).length).toBe(UDP_USERS.length + 2)

    const started = Date.now()
    const done = first.shutdown()
    await Bun.sleep(100)
    // A new REGISTER while draining: 503 with the configured Retry-After (RFC 3261 §21.5.4).
    const late = await UdpPhone.open('sd-late', PASSWORD, TEST_DOMAIN)
    cleanups.push(() => late.close())
    const refused = await late.register(first.udpPort)
    expect(refused.status).toBe(503)
    expect(refused.get('retry-after')).toBe('7')
    // The call set up before the shutdown still completes.
    callee.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
    const ok = await caller.waitForResponse({ status: 200, callId: call.callId, method: 'INVITE' })
    expect(ok.status).toBe(200)
    expect(await done, 'no INVITE cut short').toBe(0)
    firstStopped = true
    expect(Date.now() - started, 'done once the call was answered, well inside the grace period').toBeLessThan(5_000)

    const second = await startGateway(config)
    cleanups.push(() => second.stop())
    const regs = await registrations(second)
    const udp = regs.filter((r) => r.transport === 'UDP').map((r) => r.aor).sort()
    expect(udp).toEqual(UDP_USERS.map((u) => `sip:${u}@${TEST_DOMAIN}`).sort())
    expect(regs.filter((r) => r.transport === 'TCP').map((r) => r.aor)).toEqual([`sip:sd-tcp@${TEST_DOMAIN}`])
    // The browser's WebSocket binding did not survive (RFC 5626 §7: its flow is gone).
    expect(regs.some((r) => r.transport === 'WS')).toBe(false)
  })

  test('a call that is never answered is cut short when the grace period ends', async () => {
    const config = testConfig({ media: { driver: 'none' } }, { extraUsers: ['sd-caller', 'sd-callee'].map((n) => userEntry(n, PASSWORD)) })
    const gw = await startGateway(config)
    let stopped = false
    cleanups.push(() => (stopped ? undefined : gw.stop()))
    const caller = await WsSipClient.connect({ url: gw.wsUrl, username: 'sd-caller', password: PASSWORD, domain: TEST_DOMAIN })
    const callee = await WsSipClient.connect({ url: gw.wsUrl, username: 'sd-callee', password: PASSWORD, domain: TEST_DOMAIN })
    cleanups.push(() => { caller.close(); callee.close() })
    expect((await callee.register()).final.status).toBe(200)
    const { call } = await caller.inviteWithAuth(callee.aor, { body: fakeSdp('webrtc', 'offer') })
    const invite = await callee.waitForRequest('INVITE', call.callId)
    callee.respond(invite, 180)
    await caller.waitForResponse({ status: 180, callId: call.callId })
    const started = Date.now()
    expect(await gw.shutdown(500), 'the ringing INVITE was still pending').toBe(1)
    stopped = true
    const took = Date.now() - started
    expect(took).toBeGreaterThanOrEqual(500)
    expect(took, 'bounded by the grace period').toBeLessThan(3_000)
  })

  test('the CLI exits 0 on SIGTERM', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'gateway.yaml'), [
      'domain: patchbay.test', 'http:', '  port: 0', 'sip:', '  udpPort: 0', '  tcpPort: 0', 'ice:', '  stun:', '    enabled: false',
      'store:', `  path: ${join(dir, 'b.sqlite')}`, 'shutdown:', '  graceSeconds: 3', '',
    ].join('\n'))
    writeFileSync(join(dir, 'users.yaml'), `users:\n  - username: "u1"\n    ha1: "${ha1('MD5', 'u1', 'patchbay.test', 'pw-u1')}"\n    ha1Sha256: "${ha1('SHA-256', 'u1', 'patchbay.test', 'pw-u1')}"\n`)
    const main = resolve(import.meta.dir, '../../../gateway/src/main.ts')
    const proc = new PeerProcess('gateway-cli', [process.execPath, main, '--config', dir])
    cleanups.push(() => proc.kill())
    await proc.waitFor(/SIP UDP\s+[\d.]+:\d+/, 30_000)
    process.kill(proc.pid, 'SIGTERM')
    expect(await proc.waitForExit(10_000)).toBe(0)
  })
})

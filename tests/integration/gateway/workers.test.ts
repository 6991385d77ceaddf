/**
 * The gateway on two worker processes (issue 14 item 1; docs/architecture.md §4b), run as a
 * user runs it: `bun gateway/src/main.ts --config DIR` with `workers: { count: 2 }`. Both
 * workers share the SIP UDP, TCP and HTTP/WebSocket ports (SO_REUSEPORT, so the kernel spreads
 * new requests and connections over them); each writes its private UDP port in Via and
 * Record-Route. Every test runs twice: bindings shared through the master (the default), and
 * on a Redis (`store.redis`: each worker is a Redis node `gw-w<i>`).
 *
 * Real peers: SIPp with one UDP socket per call (`-t un`, so that calls come from many source
 * ports and land on both workers) and SIP over WebSocket clients. The failure path: one worker
 * killed with SIGKILL mid-call.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ha1 } from '../../../gateway/src/sip/auth/digest.ts'
import { PeerProcess, PeerSet, requireBinary } from '../../support/processes.ts'
import { SIPP_SCENARIOS, expectAllSucceeded, runSipp, sippCsv, startSipp } from '../../support/sipp.ts'
import { freePortRange } from '../../support/ports.ts'
import { WsSipClient, fakeAnswerFor, fakeSdp } from '../../support/ws-sip-client.ts'
import { digestCredentials, parseDigestChallenge } from '../../support/digest.ts'
import { startRedis, type RedisPeer } from '../../support/redis.ts'

setDefaultTimeout(60_000)

const MAIN = resolve(import.meta.dir, '../../../gateway/src/main.ts')
const DOMAIN = 'patchbay.test'
const TOKEN = 'workers-admin-token-0123456789'
const PASSWORD = 'workers-password'
const UDP_USERS = Array.from({ length: 24 }, (_, i) => `wk-udp${i}`)
const WS_USERS = Array.from({ length: 12 }, (_, i) => `wk-ws${i}`)
const CALLER = 'wk-caller'
const CALLEE = 'wk-callee'

let dir: string
let gw: PeerProcess
let redis: RedisPeer | null = null
/** The node id worker i has in the shared location service (`w0`; `gw-w0` on Redis). */
let nodeName: (i: number) => string
let udpPort: number
let httpUrl: string
let wsUrl: string
const peers = new PeerSet()
const clients: WsSipClient[] = []

function userYaml(name: string): string {
  return `  - username: "${name}"\n    ha1: "${ha1('MD5', name, DOMAIN, PASSWORD)}"\n    ha1Sha256: "${ha1('SHA-256', name, DOMAIN, PASSWORD)}"\n`
}

/** Starts the CLI with two workers; bindings through the master, or on a Redis of its own. */
async function startCluster(store: 'master' | 'redis'): Promise<void> {
  requireBinary('sipp', 'sip-tester')
  dir = mkdtempSync(join(tmpdir(), 'patchbay-workers-'))
  redis = store === 'redis' ? await startRedis() : null
  nodeName = (i) => (redis === null ? `w${i}` : `gw-w${i}`)
  writeFileSync(join(dir, 'gateway.yaml'), [
    `domain: ${DOMAIN}`,
    'http: { host: 127.0.0.1, port: 0 }',
    'sip: { host: 127.0.0.1, udpPort: 0, tcpPort: 0 }',
    'ice: { stun: { enabled: false } }',
    'media: { driver: none }',
    `store: { path: "${join(dir, 'bindings.sqlite')}"${redis === null ? '' : `, redis: { url: "${redis.url}", nodeId: gw }`} }`,
    'workers: { count: 2 }',
    'auth: { algorithms: [MD5, SHA-256] }',
    // A scanner on 127.0.0.5 is banned after 4 wrong passwords (the tests' own peers use 127.0.0.1).
    'security: { bans: { action: reject }, bruteForce: { maxFailuresPerSource: 4 } }',
    `adminToken: ${TOKEN}`,
    `log: { level: ${process.env.WK_LOG ?? 'info'} }`,
    '',
  ].join('\n'))
  writeFileSync(join(dir, 'users.yaml'), `users:\n${[...UDP_USERS, ...WS_USERS, CALLER, CALLEE].map(userYaml).join('')}`)
  gw = new PeerProcess('gateway', [process.execPath, MAIN, '--config', dir])
  const banner = await gw.waitFor(/workers\s+2 \(private UDP ports \d+, \d+\)/, 20_000)
  expect(banner).toBeTruthy()
  udpPort = Number(/SIP UDP\s+127\.0\.0\.1:(\d+)/.exec(gw.output())![1])
  httpUrl = `http://127.0.0.1:${/softphone\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(gw.output())![1]}`
  wsUrl = `${httpUrl.replace('http:', 'ws:')}/sip`
}

async function stopCluster(): Promise<void> {
  if (process.env.WK_LOG !== undefined) writeFileSync('/tmp/wk-gw.log', gw?.output() ?? '')
  for (const c of clients.splice(0)) c.close()
  await peers.killAll()
  await gw?.kill()
  await redis?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
}

interface Registration { aor: string; contact: string; transport: string; node: string | null }

/** GET /api/registrations on a new connection (so that either worker may answer). */
async function registrations(): Promise<Registration[]> {
  const res = await fetch(`${httpUrl}/api/registrations`, { headers: { authorization: `Bearer ${TOKEN}`, connection: 'close' }, keepalive: false })
  expect(res.status).toBe(200)
  return ((await res.json()) as { registrations: Registration[] }).registrations
}

/** An admin request on a new connection (so that either worker may take it). */
function admin(method: string, path: string): Promise<Response> {
  return fetch(`${httpUrl}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, connection: 'close' }, keepalive: false })
}

/** Until `check` holds for the registrations as 6 fresh connections in a row see them. */
async function everyWorkerSees(check: (r: Registration[]) => boolean, what: string): Promise<Registration[]> {
  const deadline = Date.now() + 8000
  let last: Registration[] = []
  for (;;) {
    let ok = true
    for (let i = 0; i < 6 && ok; i++) {
      last = await registrations()
      ok = check(last)
    }
    if (ok) return last
    if (Date.now() > deadline) throw new Error(`not every worker sees ${what}: ${JSON.stringify(last.map((r) => [r.aor, r.node]))}`)
    await Bun.sleep(100)
  }
}

/** The pid of worker `index` as the master last logged it. */
function workerPid(index: number): number {
  const lines = gw.output().split('\n').filter((l) => l.includes('"msg":"worker listening"') && l.includes(`"worker":${index},`))
  const m = /"pid":(\d+)/.exec(lines.at(-1) ?? '')
  if (m === null) throw new Error(`no "worker listening" line for worker ${index}:\n${gw.output().slice(-2000)}`)
  return Number(m[1])
}

async function wsUser(username: string): Promise<{ client: WsSipClient; node: string }> {
  const client = await WsSipClient.connect({ url: wsUrl, username, password: PASSWORD, domain: DOMAIN })
  clients.push(client)
  const { final } = await client.register()
  expect(final.status, final.raw).toBe(200)
  const mine = (await everyWorkerSees((r) => r.some((x) => x.contact === client.contactUri), `${username}'s binding`))
    .find((x) => x.contact === client.contactUri)!
  expect(mine.node === nodeName(0) || mine.node === nodeName(1), `node of ${username}: ${mine.node}`).toBe(true)
  return { client, node: mine.node === nodeName(0) ? 'w0' : 'w1' }
}

/** alice calls bob (both WebSocket clients): INVITE, 200, ACK; returns the call for the BYE. */
async function establish(alice: WsSipClient, bob: WsSipClient) {
  const { call } = await alice.inviteWithAuth(bob.aor, { body: fakeSdp('webrtc', 'offer') })
  const invite = await bob.waitForRequest('INVITE', call.callId)
  bob.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
  const ok = await alice.waitForResponse({ status: 200, method: 'INVITE', callId: call.callId })
  alice.ack2xx(call, ok)
  await bob.waitForRequest('ACK', call.callId)
  return { call, invite, ok }
}

async function hangUp(alice: WsSipClient, bob: WsSipClient, call: Awaited<ReturnType<typeof establish>>['call']): Promise<void> {
  alice.byeAsCaller(call)
  const bye = await bob.waitForRequest('BYE', call.callId)
  bob.respond(bye, 200)
  await alice.waitForResponse({ status: 200, method: 'BYE', callId: call.callId })
}

const SCANNER = '127.0.0.5'

/** A UDP socket on `address` that sends one request and returns the first response (or null after 1.5 s). */
async function udpClient(address: string) {
  const inbox: string[] = []
  let wake: (() => void) | null = null
  const sock = await Bun.udpSocket({
    hostname: address, port: 0,
    socket: { data: (_s, data) => { inbox.push(new TextDecoder().decode(data)); wake?.() } },
  })
  return {
    port: sock.port,
    async request(text: string): Promise<string | null> {
      inbox.length = 0
      sock.send(text.replaceAll('\n', '\r\n'), udpPort, '127.0.0.1')
      const deadline = Date.now() + 1500
      while (Date.now() < deadline) {
        const final = inbox.find((m) => !m.startsWith('SIP/2.0 1'))
        if (final !== undefined) return final
        await new Promise<void>((r) => { wake = r; setTimeout(r, 50) })
      }
      return null
    },
    close: () => sock.close(),
  }
}

function register(port: number, n: number, authorization?: string): string {
  return `REGISTER sip:${DOMAIN} SIP/2.0
Via: SIP/2.0/UDP ${SCANNER}:${port};branch=z9hG4bKscan${port}x${n};rport
From: <sip:${UDP_USERS[0]}@${DOMAIN}>;tag=scan${port}
To: <sip:${UDP_USERS[0]}@${DOMAIN}>
Call-ID: scan-${port}@${SCANNER}
CSeq: ${n} REGISTER
Contact: <sip:scan@${SCANNER}:${port}>
Max-Forwards: 70
${authorization !== undefined ? `Authorization: ${authorization}\n` : ''}Content-Length: 0

`
}

for (const store of ['master', 'redis'] as const) describe(`two workers, bindings shared through ${store === 'master' ? 'the master' : 'Redis'}`, () => {
  beforeAll(() => startCluster(store))
  afterAll(stopCluster)

  test('both workers listen on the same UDP, TCP and HTTP ports, each with its own private UDP port', () => {
    const out = gw.output()
    expect(workerPid(0)).not.toBe(workerPid(1))
    const [p0, p1] = /private UDP ports (\d+), (\d+)/.exec(out)!.slice(1).map(Number)
    expect(p0).not.toBe(udpPort)
    expect(p1).not.toBe(p0)
  })

  test(`${UDP_USERS.length} UDP phones register from as many source ports: both workers take some, and every worker knows all of them`, async () => {
    const result = await runSipp({
      name: 'workers-register', scenarioFile: SIPP_SCENARIOS.register, remote: `127.0.0.1:${udpPort}`, transport: 'un', extraArgs: ['-max_socket', '1000'],
      calls: UDP_USERS.length, rate: 100, limit: 10,
      keys: { domain: DOMAIN }, authUri: DOMAIN, injection: sippCsv(UDP_USERS.map((u) => [u, PASSWORD])),
    })
    expectAllSucceeded(result, UDP_USERS.length)
    const seen = await everyWorkerSees((r) => r.filter((x) => x.aor.includes('wk-udp')).length === UDP_USERS.length, `${UDP_USERS.length} UDP bindings`)
    const nodes = new Set(seen.filter((x) => x.aor.includes('wk-udp')).map((x) => x.node))
    expect([...nodes].sort(), 'the kernel spread the REGISTERs over both workers').toEqual([nodeName(0), nodeName(1)])
  })

  test('30 SIPp calls from 30 source ports to a registered SIPp UAS: responses and in-dialog requests reach the worker that holds each transaction', async () => {
    const uasPort = await freePortRange(1)
    const reg = await runSipp({
      name: 'workers-register-callee', scenarioFile: SIPP_SCENARIOS.register, remote: `127.0.0.1:${udpPort}`, localPort: uasPort, calls: 1,
      keys: { domain: DOMAIN }, authUri: DOMAIN, injection: sippCsv([[CALLEE, PASSWORD]]),
    })
    expectAllSucceeded(reg, 1)
    await everyWorkerSees((r) => r.some((x) => x.aor.startsWith(`sip:${CALLEE}@`)), 'the callee')
    const uas = await startSipp({ name: 'workers-uas', scenarioFile: SIPP_SCENARIOS.uas, localPort: uasPort, calls: 30, service: CALLEE })
    peers.add(uas.process)
    const uac = await runSipp({
      name: 'workers-uac', scenarioFile: SIPP_SCENARIOS.uacAuth, remote: `127.0.0.1:${udpPort}`, transport: 'un', extraArgs: ['-max_socket', '1000'],
      calls: 30, rate: 30, limit: 10, pauseMs: 100,
      service: CALLEE, authUser: CALLER, authPassword: PASSWORD, authUri: `${CALLEE}@${DOMAIN}`, keys: { domain: DOMAIN, caller: CALLER },
    })
    const uasResult = await uas.finish(15_000)
    expectAllSucceeded(uac, 30)
    expectAllSucceeded(uasResult, 30)
    // The INVITEs reached the UAS through both workers: their Via names both private ports.
    const ports = new Set([...uasResult.messages.matchAll(/Via: SIP\/2\.0\/UDP 127\.0\.0\.1:(\d+);branch=z9hG4bK[^\r\n]*\r?\n/g)].map((m) => Number(m[1])))
    const [p0, p1] = /private UDP ports (\d+), (\d+)/.exec(gw.output())!.slice(1).map(Number)
    expect(ports.has(p0!) || ports.has(p1!), `Via ports seen by the UAS: ${[...ports].join(', ')}`).toBe(true)
  })

  test('a password scanner banned by one worker is refused by both, whatever its source port', async () => {
    const first = await udpClient(SCANNER)
    let n = 0
    let banned = false
    for (let i = 0; i < 8 && !banned; i++) {
      const challenge = await first.request(register(first.port, ++n))
      expect(challenge).not.toBeNull()
      if (challenge!.startsWith('SIP/2.0 403')) { banned = true; break }
      expect(challenge!.split('\r\n')[0]).toBe('SIP/2.0 401 Unauthorized')
      const www = /^WWW-Authenticate: (.*)$/im.exec(challenge!)![1]!
      const auth = digestCredentials({ challenge: parseDigestChallenge(www)!, username: UDP_USERS[0]!, password: 'guess' + i, method: 'REGISTER', uri: `sip:${DOMAIN}` })
      const answer = await first.request(register(first.port, ++n, auth))
      if (answer?.startsWith('SIP/2.0 403')) banned = true
    }
    first.close()
    expect(banned, 'the scanner is banned after 4 wrong passwords').toBe(true)
    // The ban reaches the other worker through the master within milliseconds.
    await Bun.sleep(200)
    // 16 new source ports: the kernel hands about half of them to the other worker.
    const statuses: string[] = []
    for (let i = 0; i < 16; i++) {
      const c = await udpClient(SCANNER)
      statuses.push((await c.request(register(c.port, 1)))?.split('\r\n')[0] ?? 'no answer')
      c.close()
    }
    expect(new Set(statuses), statuses.join(', ')).toEqual(new Set(['SIP/2.0 403 Forbidden']))
    const bans = await (await admin('GET', '/api/security/bans')).json() as { bans: Array<{ source: string }> }
    expect(bans.bans.filter((b) => b.source === SCANNER)).toHaveLength(1)
    // Lifted through whichever worker takes the request: both let it in again.
    expect((await admin('DELETE', `/api/security/bans/${SCANNER}`)).status).toBeLessThan(300)
    const again = await udpClient(SCANNER)
    expect((await again.request(register(again.port, 1)))?.split('\r\n')[0]).toBe('SIP/2.0 401 Unauthorized')
    again.close()
  })

  test('WebSocket users on different workers call each other; a worker killed mid-call is restarted, the other worker\'s call goes on, and the bindings stay', async () => {
    // Connect until both workers hold a user and worker 0 holds two.
    const users: Array<{ client: WsSipClient; node: string }> = []
    for (const name of WS_USERS) {
      users.push(await wsUser(name))
      const on0 = users.filter((u) => u.node === 'w0').length
      const on1 = users.filter((u) => u.node === 'w1').length
      if (on0 >= 2 && on1 >= 1) break
    }
    const [a0, b0] = users.filter((u) => u.node === 'w0')
    const c1 = users.find((u) => u.node === 'w1')
    if (a0 === undefined || b0 === undefined || c1 === undefined) throw new Error(`the kernel put ${users.length} connections on one worker: ${users.map((u) => u.node).join(',')}`)

    // Across workers: the INVITE goes from worker 1 to worker 0 (the callee's connection).
    const cross = await establish(c1.client, a0.client)
    const rr = cross.ok.getAll('record-route').join(',')
    const [p0, p1] = /private UDP ports (\d+), (\d+)/.exec(gw.output())!.slice(1).map(Number)
    expect(rr, 'both workers are in the route set').toContain(`:${p0};`)
    expect(rr).toContain(`:${p1};`)
    await hangUp(c1.client, a0.client, cross.call)

    // A call within worker 0, up while worker 1 dies.
    const local = await establish(a0.client, b0.client)
    // The admin API answers for every worker, whichever takes the connection: the call in
    // progress is listed (worker 0's), the bindings gauge is not doubled by two copies.
    for (let i = 0; i < 6; i++) {
      const calls = await admin('GET', '/api/calls')
      expect(calls.status).toBe(200)
      const body = await calls.json() as { total: number; calls: Array<{ callId: string }> }
      expect(body.calls.map((c) => c.callId), `GET /api/calls #${i}`).toContain(local.call.callId)
      const metrics = await (await admin('GET', '/metrics')).text()
      const bindings = Number(/^patchbay_sip_registrar_bindings (\d+)$/m.exec(metrics)?.[1])
      expect(bindings, 'bindings gauge, workers aggregated').toBe((await registrations()).length)
    }
    const udpBefore = (await registrations()).filter((x) => x.aor.includes('wk-udp')).length
    expect(udpBefore).toBe(UDP_USERS.length)
    const deadPid = workerPid(1)
    process.kill(deadPid, 'SIGKILL')
    await until(() => c1.client.isClosed, 'worker 1\'s WebSocket closes with it')
    await gw.waitFor(/"msg":"worker exited; restarting it","worker":1/, 10_000)

    // Worker 0's call is untouched: the BYE goes through.
    await hangUp(a0.client, b0.client, local.call)

    // The restarted worker gets every binding from the master; worker 1's WebSocket binding
    // left with its connection; the UDP phones it registered stay.
    await until(() => workerPid(1) !== deadPid, 'worker 1 listens again', 15_000)
    const after = await everyWorkerSees(
      (r) => r.filter((x) => x.aor.includes('wk-udp')).length === UDP_USERS.length && !r.some((x) => x.contact === c1.client.contactUri),
      'the UDP bindings and not the dead connection',
    )
    expect(after.some((x) => x.contact === a0.client.contactUri)).toBe(true)

    // And calls work again through whichever worker takes the new connection.
    const late = await wsUser(CALLER)
    const again = await establish(late.client, b0.client)
    // The operator hangs it up through whichever worker takes the request: BYE to both sides.
    const del = await admin('DELETE', `/api/calls/${encodeURIComponent(again.call.callId)}`)
    expect(del.status).toBe(204)
    const byeToCallee = await b0.client.waitForRequest('BYE', again.call.callId)
    b0.client.respond(byeToCallee, 200)
    const byeToCaller = await late.client.waitForRequest('BYE', again.call.callId)
    late.client.respond(byeToCaller, 200)
  })

  if (store === 'master') {
    test('the master is the bindings\' single sqlite writer: after a restart of the whole gateway both workers know the UDP phones again', async () => {
      await gw.kill(15_000)
      gw = new PeerProcess('gateway', [process.execPath, MAIN, '--config', dir])
      await gw.waitFor(/workers\s+2 \(private UDP ports \d+, \d+\)/, 20_000)
      httpUrl = `http://127.0.0.1:${/softphone\s+http:\/\/127\.0\.0\.1:(\d+)/.exec(gw.output())![1]}`
      udpPort = Number(/SIP UDP\s+127\.0\.0\.1:(\d+)/.exec(gw.output())![1])
      const seen = await everyWorkerSees((r) => r.filter((x) => x.aor.includes('wk-udp')).length === UDP_USERS.length, 'the restored UDP bindings')
      // Restored rows belong to no worker's connection: they are reached directly.
      expect(seen.filter((x) => x.aor.includes('wk-udp')).every((x) => x.transport === 'UDP')).toBe(true)
      expect(seen.some((x) => x.transport === 'WS')).toBe(false)
    })

    test('the master killed (SIGKILL): its workers stop too and free the shared ports', async () => {
      const pids = [workerPid(0), workerPid(1)]
      await expect((async () => Bun.udpSocket({ hostname: '127.0.0.1', port: udpPort }))()).rejects.toThrow(/EADDRINUSE/)
      process.kill(gw.pid, 'SIGKILL')
      await gw.exited
      await until(() => pids.every((p) => !alive(p)), 'both workers exit once their master is gone', 10_000)
      // Nothing holds the public UDP port any more: it binds without SO_REUSEPORT.
      const probe = await Bun.udpSocket({ hostname: '127.0.0.1', port: udpPort })
      probe.close()
    })
  }
})

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}\n${gw.output().slice(-1500)}`)
    await Bun.sleep(20)
  }
}

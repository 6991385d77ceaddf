/**
 * End to end through a real NAT: Linux network namespaces that this test creates (and deletes).
 *
 *   LAN namespace                 router namespace                    "internet" namespace
 *   alice's Chromium  10.77.0.2 -- lan0 10.77.0.1 | wan0 198.51.100.2 -- 198.51.100.1
 *                                 MASQUERADE out of wan0,               gateway (HTTP, SIP/WS, STUN)
 *                                 only replies allowed back in          coturn, bob's Chromium
 *
 * The internet side has no route to 10.77.0.0/24, so alice is reachable only through the
 * mappings her own packets open in the router (iptables MASQUERADE + conntrack). The gateway's
 * STUN service then reflects 198.51.100.2, not her host address: her srflx candidate differs
 * from her host candidate, and the call to bob goes over it (selected pair: local srflx
 * 198.51.100.2 at alice). A second call with "Force relay" on both pages goes through coturn.
 * Tones (1000 Hz / 440 Hz) are checked both ways with an AnalyserNode; ICE setup times are printed.
 *
 * The root namespace is not touched: every address, route and iptables rule lives in the three
 * namespaces. The gateway runs in the internet namespace as a child process (`ip netns exec`),
 * with non-demo passwords (demo passwords may only listen on loopback). The Chromium pages are
 * on http://198.51.100.1, made a secure context by --unsafely-treat-insecure-origin-as-secure.
 *
 * Needs root (CAP_NET_ADMIN), iproute2 and iptables (`apt-get install -y iproute2 iptables`),
 * Debian's Chromium and coturn (`apt-get install -y chromium coturn`).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import { testConfig, userEntry } from '../support/gateway.ts'
import { PeerSet, requireBinary, type PeerProcess } from '../support/processes.ts'
import {
  CHROMIUM_ARGS,
  CHROMIUM_PATH,
  dial,
  iceSetupMs,
  openSoftphone,
  peerConnectionLogs,
  selectedCandidatePair,
  setForceRelay,
  signIn,
  startCoturn,
  waitForCall,
  waitForIdle,
  waitForTone,
  watchPeerConnections,
  type PeerConnectionLog,
  type RunningCoturn,
  type SoftphonePage,
} from './softphone-helpers.ts'

setDefaultTimeout(60_000)

const TAG = `pb${process.pid % 100000}`
const NS = { lan: `${TAG}-lan`, router: `${TAG}-rt`, internet: `${TAG}-inet` } as const
const PUBLIC_IP = '198.51.100.1' // TEST-NET-2 (RFC 5737): the gateway, coturn, bob
const ROUTER_WAN_IP = '198.51.100.2' // what the internet sees of alice
const LAN_IP = '10.77.0.2' // alice's host address
const ROUTER_LAN_IP = '10.77.0.1'
const HTTP_PORT = 8088
const STUN_PORT = 3478
const TURN_PORT = 3479
const SECRET = 'nat-namespace-secret'
const PASSWORDS = { alice: 'alice-behind-nat', bob: 'bob-on-the-internet' } as const
const TONE = { alice: 1000, bob: 440 } as const
const REPO = resolve(import.meta.dir, '..', '..')

const peers = new PeerSet()
const browsers: Browser[] = []
let workDir = ''
let namespacesCreated = false

/** Runs a command to completion; throws with its output when it fails. */
function run(argv: string[]): string {
  const r = Bun.spawnSync(argv, { stdout: 'pipe', stderr: 'pipe' })
  const out = `${r.stdout.toString()}${r.stderr.toString()}`
  if (r.exitCode !== 0) throw new Error(`\`${argv.join(' ')}\` failed (exit ${r.exitCode}): ${out.trim()}`)
  return out
}

/** Creates the three namespaces, the two veth links, the NAT and the firewall of the router. */
function createNetwork(): void {
  const ip = requireBinary('ip', 'iproute2')
  const iptables = requireBinary('iptables', 'iptables')
  if (process.getuid?.() !== 0) throw new Error('the NAT test creates network namespaces: run it as root (CAP_NET_ADMIN)')
  for (const ns of Object.values(NS)) run([ip, 'netns', 'add', ns])
  namespacesCreated = true
  run([ip, 'link', 'add', 'wan0', 'netns', NS.router, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS.internet])
  run([ip, 'link', 'add', 'lan0', 'netns', NS.router, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS.lan])
  const inNs = (ns: string, ...args: string[]) => run([ip, '-n', ns, ...args])
  inNs(NS.internet, 'addr', 'add', `${PUBLIC_IP}/24`, 'dev', 'eth0')
  inNs(NS.router, 'addr', 'add', `${ROUTER_WAN_IP}/24`, 'dev', 'wan0')
  inNs(NS.router, 'addr', 'add', `${ROUTER_LAN_IP}/24`, 'dev', 'lan0')
  inNs(NS.lan, 'addr', 'add', `${LAN_IP}/24`, 'dev', 'eth0')
  for (const [ns, dev] of [[NS.internet, 'eth0'], [NS.router, 'wan0'], [NS.router, 'lan0'], [NS.lan, 'eth0']] as const) inNs(ns, 'link', 'set', dev, 'up')
  for (const ns of Object.values(NS)) inNs(ns, 'link', 'set', 'lo', 'up')
  inNs(NS.lan, 'route', 'add', 'default', 'via', ROUTER_LAN_IP)
  const exec = (...args: string[]) => run([ip, 'netns', 'exec', NS.router, ...args])
  exec('sysctl', '-q', '-w', 'net.ipv4.ip_forward=1')
  exec(iptables, '-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan0', '-j', 'MASQUERADE')
  // A NAT router: from the internet only replies to what the LAN sent get in.
  exec(iptables, '-A', 'FORWARD', '-i', 'wan0', '-o', 'lan0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT')
  exec(iptables, '-A', 'FORWARD', '-i', 'wan0', '-o', 'lan0', '-j', 'DROP')
}

function deleteNetwork(): void {
  if (!namespacesCreated) return
  for (const ns of Object.values(NS)) {
    Bun.spawnSync(['ip', 'netns', 'del', ns], { stdout: 'ignore', stderr: 'ignore' })
  }
}

/** Starts the gateway inside `ns` as a child process; resolves with its base URL once it listens. */
async function startGatewayIn(ns: string): Promise<{ process: PeerProcess; url: string }> {
  const config = testConfig({
    http: { host: PUBLIC_IP, port: HTTP_PORT },
    sip: { host: PUBLIC_IP },
    ice: { stun: { port: STUN_PORT }, turn: { urls: [`turn:${PUBLIC_IP}:${TURN_PORT}?transport=udp`], secret: SECRET, ttlSeconds: 600 } },
    users: [userEntry('alice', PASSWORDS.alice), userEntry('bob', PASSWORDS.bob)],
  })
  // Not the published demo passwords: the listen policy allows a non-loopback address.
  config.usesDemoPasswords = false
  const runner = join(workDir, 'run-gateway.ts')
  writeFileSync(runner, [
    `import { startGateway } from ${JSON.stringify(join(REPO, 'gateway/src/main.ts'))}`,
    `const gateway = await startGateway(JSON.parse(process.env.PB_CONFIG!))`,
    `console.log('PATCHBAY-READY ' + gateway.httpUrl)`,
    `for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => void gateway.stop().then(() => process.exit(0)))`,
  ].join('\n'))
  const proc = peers.spawn('gateway', [requireBinary('ip', 'iproute2'), 'netns', 'exec', ns, process.execPath, runner], {
    env: { PB_CONFIG: JSON.stringify(config) },
  })
  const line = await proc.waitFor(/PATCHBAY-READY \S+/, 20_000)
  return { process: proc, url: line.split(' ')[1]! }
}

/** Launches Debian's Chromium inside `ns` (a wrapper script runs it under `ip netns exec`). */
async function launchChromiumIn(ns: string, secureOrigin: string): Promise<Browser> {
  const wrapper = join(workDir, `chromium-${ns}.sh`)
  writeFileSync(wrapper, `#!/bin/sh\nexec ${requireBinary('ip', 'iproute2')} netns exec ${ns} ${CHROMIUM_PATH} "$@"\n`)
  chmodSync(wrapper, 0o755)
  const browser = await chromium.launch({
    executablePath: wrapper,
    args: [...CHROMIUM_ARGS, `--unsafely-treat-insecure-origin-as-secure=${secureOrigin}`],
  })
  browsers.push(browser)
  return browser
}

async function lastPeerConnection(phone: SoftphonePage): Promise<PeerConnectionLog> {
  const logs = await peerConnectionLogs(phone.page)
  const last = logs[logs.length - 1]
  if (!last) throw new Error('the page created no RTCPeerConnection')
  return last
}

/** Both pages ICE-connected, counted from the callee applying its answer (epoch ms in each page). */
function callIceSetupMs(caller: PeerConnectionLog, callee: PeerConnectionLog): number {
  const ice = (l: PeerConnectionLog) => l.iceStates.find(([s]) => s === 'connected' || s === 'completed')?.[1] ?? NaN
  return Math.max(ice(caller), ice(callee)) - (callee.localDescriptionAt ?? NaN)
}

/** Hangs up whatever call is left on the pages (through the client) and waits until both are idle. */
async function hangUpAll(...phones: SoftphonePage[]): Promise<void> {
  for (const phone of phones) {
    await phone.page.evaluate(async () => {
      const client = (window as unknown as { __pb: { client: { calls: Array<{ id: string }>; hangup(id: string): Promise<void> } } }).__pb.client
      for (const c of client.calls) await client.hangup(c.id)
    })
  }
  await Promise.all(phones.map((p) => waitForIdle(p.page)))
}

/** alice dials bob, bob answers, both tones heard; returns answer -> tones (ms). */
async function aliceCallsBob(alice: SoftphonePage, bob: SoftphonePage): Promise<number> {
  await dial(alice.page, 'bob')
  await waitForCall(bob.page, (c) => c.state === 'incoming')
  const answered = Date.now()
  await bob.page.locator('pb-incoming-call button[part="answer"]').click()
  await waitForCall(alice.page, (c) => c.state === 'connected')
  const [atAlice, atBob] = await Promise.all([waitForTone(alice.page, TONE.bob), waitForTone(bob.page, TONE.alice)])
  expect(Math.abs(atAlice.peakHz - TONE.bob)).toBeLessThan(6)
  expect(Math.abs(atBob.peakHz - TONE.alice)).toBeLessThan(6)
  return Date.now() - answered
}

describe('a call from behind a NAT (network namespaces)', () => {
  let coturn: RunningCoturn
  let alice: SoftphonePage
  let bob: SoftphonePage
  let gatewayUrl = ''

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'patchbay-nat-'))
    createNetwork()
    coturn = await startCoturn(peers, {
      secret: SECRET, host: PUBLIC_IP, port: TURN_PORT, prefix: ['ip', 'netns', 'exec', NS.internet],
    })
    gatewayUrl = (await startGatewayIn(NS.internet)).url
    expect(gatewayUrl).toBe(`http://${PUBLIC_IP}:${HTTP_PORT}`)
    const [lanBrowser, internetBrowser] = await Promise.all([launchChromiumIn(NS.lan, gatewayUrl), launchChromiumIn(NS.internet, gatewayUrl)])
    alice = await openSoftphone(lanBrowser, gatewayUrl, { toneHz: TONE.alice, label: 'alice (LAN)' })
    bob = await openSoftphone(internetBrowser, gatewayUrl, { toneHz: TONE.bob, label: 'bob (internet)' })
    await Promise.all([watchPeerConnections(alice.page), watchPeerConnections(bob.page)])
  }, 60_000)

  afterAll(async () => {
    await Promise.allSettled(browsers.map((b) => b.close()))
    await peers.killAll()
    await coturn?.stop().catch(() => undefined)
    deleteNetwork()
    if (workDir) rmSync(workDir, { recursive: true, force: true })
  }, 30_000)

  test('the LAN reaches the gateway through the NAT; the internet side has no route to the LAN', () => {
    const curl = requireBinary('curl', 'curl')
    const status = run(['ip', 'netns', 'exec', NS.lan, curl, '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', `${gatewayUrl}/api/client-config`])
    expect(status).toBe('200')
    const r = Bun.spawnSync(['ip', '-n', NS.internet, 'route', 'get', LAN_IP], { stdout: 'pipe', stderr: 'pipe' })
    expect(r.exitCode).not.toBe(0)
    expect(r.stderr.toString()).toMatch(/unreachable/i)
  })

  test('alice (behind the NAT) and bob (on the internet side) register', async () => {
    await signIn(alice.page, 'alice', PASSWORDS.alice)
    await signIn(bob.page, 'bob', PASSWORDS.bob)
  })

  test('alice calls bob: her srflx candidate differs from her host one, and the call crosses the NAT', async () => {
    try {
      const mediaMs = await aliceCallsBob(alice, bob)
      const aliceLog = await lastPeerConnection(alice)
      const bobLog = await lastPeerConnection(bob)
      const hosts = aliceLog.candidates.filter((c) => c.type === 'host')
      const srflx = aliceLog.candidates.filter((c) => c.type === 'srflx')
      expect(hosts.map((c) => c.address)).toContain(LAN_IP)
      expect(srflx.length).toBeGreaterThan(0)
      expect(srflx.every((c) => c.address === ROUTER_WAN_IP)).toBe(true)
      const atAlice = await selectedCandidatePair(alice.page)
      const atBob = await selectedCandidatePair(bob.page)
      // alice's media leaves through the NAT: the local candidate of her selected pair is her
      // mapped address, never her host address. It is `srflx` when her checks reuse the mapping
      // that STUN found, and `prflx` when the router had to pick another port: bob's first check
      // to the srflx address can reach the router before alice's own check and occupy that
      // conntrack tuple, so the NAT maps her check to a new port (learnt from bob's answer).
      expect(['srflx', 'prflx']).toContain(atAlice.local.candidateType)
      expect(atAlice.local.address).toBe(ROUTER_WAN_IP)
      expect(atAlice.remote.address).toBe(PUBLIC_IP)
      expect(atBob.local.candidateType).toBe('host')
      expect(['srflx', 'prflx']).toContain(atBob.remote.candidateType)
      expect(atBob.remote.port).toBe(atAlice.local.port)
      const srflxAfter = Math.round(srflx[0]!.at - aliceLog.createdAt)
      console.log(`srflx path through the NAT: alice host ${LAN_IP}:${hosts.find((c) => c.address === LAN_IP)!.port} -> srflx ${srflx[0]!.address}:${srflx[0]!.port} ` +
        `(gathered after ${srflxAfter} ms); selected local ${atAlice.local.candidateType} ${atAlice.local.address}:${atAlice.local.port}; ` +
        `ICE setup ${Math.round(callIceSetupMs(aliceLog, bobLog))} ms (alice own ${Math.round(iceSetupMs(aliceLog)?.iceMs ?? NaN)} ms), ` +
        `answer -> tones both ways ${mediaMs} ms`)
    } finally {
      await hangUpAll(alice, bob)
    }
  })

  test('with relay forced on both pages the call goes through coturn', async () => {
    await setForceRelay(alice.page, true)
    await setForceRelay(bob.page, true)
    const mediaMs = await aliceCallsBob(alice, bob)
    const atAlice = await selectedCandidatePair(alice.page)
    const atBob = await selectedCandidatePair(bob.page)
    expect(atAlice.local.candidateType).toBe('relay')
    expect(atBob.local.candidateType).toBe('relay')
    expect(atAlice.local.address).toBe(PUBLIC_IP)
    // coturn saw alice's allocation coming from the NAT's public address.
    expect(coturn.log()).toMatch(/user <\d+:alice>: incoming packet ALLOCATE processed, success/)
    const aliceLog = await lastPeerConnection(alice)
    const bobLog = await lastPeerConnection(bob)
    console.log(`relay path through the NAT: ICE setup ${Math.round(callIceSetupMs(aliceLog, bobLog))} ms, answer -> tones both ways ${mediaMs} ms`)
    await hangUpAll(alice, bob)
  })
})

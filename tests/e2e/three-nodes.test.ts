/**
 * End to end: three gateway nodes sharing one location service in Redis (issue 14 item 3),
 * with audio proven by tones.
 *
 * Nodes A, B, C listen for SIP on 127.0.0.7, 127.0.0.8, 127.0.0.9, each trusting the other two
 * (proxy.trustedSources), with HTTP on 127.0.0.1 at free ports and the embedded media driver.
 * `http.webSocketUrls` lists B, A, C (the same list on every node), so the softphone opened
 * from B signs in at B and fails over to A.
 *
 * - alice: JsSIP in a Chromium page (tests/support/browser.ts harness), connected to node A,
 *   microphone a 1500 Hz sine;
 * - bob: the Patchbay softphone (SIP.js), signed in at node B, 440 Hz;
 * - carol: baresip (G.711, no ICE, auto-answer), registered over UDP through node C, 1000 Hz.
 *
 * 1. alice calls bob: node A routes the INVITE through B (bob's WebSocket); peer to peer media;
 *    each page hears the other's tone.
 * 2. alice calls carol: carol's UDP binding (written by C) is reached directly from A, and A's
 *    embedded driver anchors the call (WebRTC <-> plain RTP); each hears the other's tone.
 * 3. node B stops: the softphone re-registers at A within FAILOVER_BOUND_MS, and alice's call
 *    reaches it there, is answered, and both hear each other.
 *
 * Needs Debian's Chromium, baresip-core and redis-server (tests/setup/install-peers.sh).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { TEST_DOMAIN, startGateway, testConfig, type RunningGateway } from '../support/gateway.ts'
import { startRedis, type RedisPeer } from '../support/redis.ts'
import { openHarnessPage, serveSipHarness, type HarnessPage, type HarnessServer } from '../support/browser.ts'
import { Baresip } from '../support/baresip.ts'
import { freeTcpPort } from '../support/ports.ts'
import {
  launchChromium, openSoftphone, signIn, waitForCall, waitForIdle, waitForTone, type SoftphonePage,
} from './softphone-helpers.ts'

setDefaultTimeout(60_000)

const NODE_A = '127.0.0.7'
const NODE_B = '127.0.0.8'
const NODE_C = '127.0.0.9'
const JSSIP_HZ = 1500
const SOFTPHONE_HZ = 440
const PHONE_HZ = 1000
/**
 * Node B stopped -> the softphone registered at node A. Expected about 2.4-3.6 s (one refused
 * retry of B after 0.8-1.2 s, then A after 1.6-2.4 s, plus a REGISTER round trip: README
 * "Several nodes on one Redis"); the bound leaves room for a loaded 2-core machine.
 */
const FAILOVER_BOUND_MS = 8_000

// The nodes' HTTP ports must be known before they start: every node lists all three URLs.
const http = { a: await freeTcpPort(), b: await freeTcpPort(), c: await freeTcpPort() }
const wsUrl = (port: number) => `ws://127.0.0.1:${port}/sip`
const WS_URLS = [wsUrl(http.b), wsUrl(http.a), wsUrl(http.c)]

let redis: RedisPeer
let a: RunningGateway
let b: RunningGateway
let c: RunningGateway
let bStopped = false
let browser: Browser
let server: HarnessServer
let alice: HarnessPage
let bob: SoftphonePage
let carol: Baresip

function node(nodeId: string, sipHost: string, httpPort: number, peers: string[]) {
  return testConfig({
    http: { host: '127.0.0.1', port: httpPort, webSocketUrls: WS_URLS },
    sip: { host: sipHost },
    store: { redis: { url: redis.url, nodeId } },
    media: { driver: 'embedded' },
    proxy: { trustedSources: peers },
  })
}

/** Until `gw`'s location service has exactly one binding of `aor`, matching `ok`. */
async function bindingAt(gw: RunningGateway, aor: string, ok: (x: { node?: string; transport: string }) => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const at = gw.internals.location.lookup(aor)
    if (at.length === 1 && ok(at[0]!)) return
    if (Date.now() > deadline) throw new Error(`no single matching binding of ${aor} at this node: ${JSON.stringify(at)}`)
    await Bun.sleep(20)
  }
}

/** Records every registration state of the softphone's client with Date.now(), in window.__pbRegLog. */
async function recordRegistrationStates(page: Page): Promise<void> {
  await page.evaluate(() => {
    type Client = { on(type: 'registration', f: (s: { status: string }) => void): void }
    const w = window as unknown as { __pb: { client: Client }; __pbRegLog?: Array<{ status: string; at: number }> }
    const log: Array<{ status: string; at: number }> = (w.__pbRegLog = [])
    w.__pb.client.on('registration', (s) => log.push({ status: s.status, at: Date.now() }))
  })
}

async function registrationStates(page: Page): Promise<Array<{ status: string; at: number }>> {
  return page.evaluate(() => (window as unknown as { __pbRegLog?: Array<{ status: string; at: number }> }).__pbRegLog ?? [])
}

const BOB_AOR = `sip:bob@${TEST_DOMAIN}`
const CAROL_AOR = `sip:carol@${TEST_DOMAIN}`

/** alice (JsSIP on A) calls bob; bob answers; both hear the other; alice hangs up. */
async function aliceCallsBob(): Promise<void> {
  await alice.call(BOB_AOR)
  await waitForCall(bob.page, (x) => x.direction === 'incoming' && x.state === 'incoming', 10_000)
  await bob.page.locator('pb-incoming-call button[part="answer"]').click()
  await waitForCall(bob.page, (x) => x.state === 'connected', 10_000)
  await alice.waitForState((s) => s.callState === 'established', 'JsSIP established')
  const atBob = await waitForTone(bob.page, JSSIP_HZ, 15_000)
  const atAlice = await waitForTone(alice.page, SOFTPHONE_HZ, 15_000)
  expect(Math.abs(atBob.peakHz - JSSIP_HZ)).toBeLessThan(8)
  expect(Math.abs(atAlice.peakHz - SOFTPHONE_HZ)).toBeLessThan(8)
  await alice.hangup()
  await waitForIdle(bob.page)
  await alice.waitForState((s) => s.callState === 'terminated', 'JsSIP terminated')
}

beforeAll(async () => {
  redis = await startRedis()
  a = await startGateway(node('node-a', NODE_A, http.a, [NODE_B, NODE_C]))
  b = await startGateway(node('node-b', NODE_B, http.b, [NODE_A, NODE_C]))
  c = await startGateway(node('node-c', NODE_C, http.c, [NODE_A, NODE_B]))
  browser = await launchChromium()
  server = await serveSipHarness()
  alice = await openHarnessPage(browser, server, 'jssip:alice', { toneHz: JSSIP_HZ })
  await alice.start({ lib: 'jssip', wsUrl: a.wsUrl, username: 'alice', password: 'alice-demo', domain: TEST_DOMAIN })
  bob = await openSoftphone(browser, b.httpUrl, { toneHz: SOFTPHONE_HZ, label: 'bob@B' })
  await signIn(bob.page, 'bob', 'bob-demo')
  carol = await Baresip.start({ user: 'carol', password: 'carol-demo', domain: TEST_DOMAIN, gatewayHost: NODE_C, gatewayUdpPort: c.udpPort, toneHz: PHONE_HZ })
})

afterAll(async () => {
  await alice?.close().catch(() => undefined)
  await browser?.close().catch(() => undefined)
  await server?.stop()
  await carol?.stop()
  for (const gw of [a, bStopped ? undefined : b, c]) await gw?.stop().catch(() => undefined)
  await redis?.stop()
}, 30_000)

test('every node knows every binding: bob through B (WebSocket), carol through C (UDP), alice at A', async () => {
  expect(a.wsUrl).toBe(wsUrl(http.a))
  const config = await (await fetch(`${b.httpUrl}/api/client-config`)).json() as Record<string, unknown>
  expect(config.sipWebSocketUrls).toEqual(WS_URLS)
  for (const gw of [a, b, c]) {
    await bindingAt(gw, BOB_AOR, (x) => (gw === b ? x.node === undefined : x.node === 'node-b'), 5000)
    await bindingAt(gw, CAROL_AOR, (x) => x.transport.toLowerCase() === 'udp' && (gw === c ? x.node === undefined : x.node === 'node-c'), 5000)
    await bindingAt(gw, `sip:alice@${TEST_DOMAIN}`, (x) => (gw === a ? x.node === undefined : x.node === 'node-a'), 5000)
  }
})

test('1. alice (JsSIP on A) calls bob (softphone on B): each hears the other', async () => {
  await aliceCallsBob()
  for (const gw of [a, b, c]) expect(gw.internals.anchoredCalls?.size ?? 0).toBe(0) // browser to browser
})

test('2. alice (JsSIP on A) calls carol (baresip registered over UDP at C): each hears the other through the anchor', async () => {
  const before = carol.recordings().length
  await alice.call(CAROL_AOR)
  await alice.waitForState((s) => s.callState === 'established', 'JsSIP established with baresip')
  const atAlice = await waitForTone(alice.page, PHONE_HZ, 15_000)
  expect(Math.abs(atAlice.peakHz - PHONE_HZ)).toBeLessThan(8)
  const anchored = { a: a.internals.anchoredCalls?.size ?? 0, b: b.internals.anchoredCalls?.size ?? 0, c: c.internals.anchoredCalls?.size ?? 0 }
  console.log(`three nodes: call alice@A -> carol(UDP via C) anchored at ${JSON.stringify(anchored)}`)
  expect(anchored.a + anchored.b + anchored.c).toBe(1)
  expect(anchored.a).toBe(1)
  await Bun.sleep(1500) // let baresip record alice's tone
  await alice.hangup()
  await alice.waitForState((s) => s.callState === 'terminated', 'JsSIP terminated')
  await Bun.sleep(500)
  const heard = carol.newestRecordingTone(before, JSSIP_HZ, PHONE_HZ)
  expect(heard.target).toBeGreaterThan(heard.other * 10)
  expect(a.internals.anchoredCalls?.size ?? 0).toBe(0)
  expect(a.internals.media?.activeSessions ?? -1).toBe(0)
})

test('3. node B stops: the softphone re-registers at A, and alice\'s call reaches it there and is answered', async () => {
  await recordRegistrationStates(bob.page)
  const stopAt = Date.now()
  await b.stop()
  bStopped = true
  let states = await registrationStates(bob.page)
  while (!states.some((s) => s.status === 'registered' && s.at >= stopAt) && Date.now() - stopAt < FAILOVER_BOUND_MS) {
    await Bun.sleep(20)
    states = await registrationStates(bob.page)
  }
  const registered = states.find((s) => s.status === 'registered' && s.at >= stopAt)
  expect(registered, JSON.stringify(states)).toBeDefined()
  const failoverMs = registered!.at - stopAt
  console.log(`three nodes: B stopping -> softphone registered again ${failoverMs} ms; states ${states.map((s) => `${s.status}@${s.at - stopAt}`).join(' ')}`)
  expect(failoverMs).toBeLessThan(FAILOVER_BOUND_MS)
  // A now holds bob's flow itself; C learns it through Redis.
  await bindingAt(a, BOB_AOR, (x) => x.node === undefined && x.transport.toLowerCase() === 'ws', 2000)
  await bindingAt(c, BOB_AOR, (x) => x.node === 'node-a', 2000)
  const callAt = Date.now()
  await aliceCallsBob()
  console.log(`three nodes: call after failover answered and audio both ways in ${Date.now() - callAt} ms`)
})

/**
 * End to end: a softphone fails over to another gateway node when its node goes away
 * (issue 14 item 2). Two nodes share the location service in Redis (as in
 * tests/integration/sip/cross-node-call.test.ts: SIP on 127.0.0.7 / 127.0.0.8, trusting each
 * other; HTTP on 127.0.0.1 with free ports); `http.webSocketUrls` lists node B's, then node
 * A's `/sip`, so the client-config gives the page both in that order.
 *
 * The page (Debian's Chromium) signs in at node B, the first URL. Node B is stopped: the page
 * retries B once (refused), moves on to A, registers there with the same `+sip.instance` and
 * `reg-id` (RFC 5626), within FAILOVER_BOUND_MS of the stop. Then a user on node A (WsSipClient)
 * calls the page's user; the INVITE reaches the page over its new WebSocket at A, the page
 * answers (no audio here: the caller's SDP is a fake WebRTC offer), and the caller hangs up.
 * The same with JSON signaling (`?signaling=json`, `jsonWebSocketUrls`) on a node B started
 * again: B's session token is refused at A, so the page logs in afresh there.
 *
 * Needs `http-app.ts` to pass `config.http.webSocketUrls` to `apiPlugin` (`webSocketUrls`).
 *
 * Needs Debian's Chromium (`apt-get install -y chromium`, or CHROMIUM_PATH) and redis-server
 * (`apt-get install -y redis-server`, or tests/setup/install-peers.sh).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { TEST_DOMAIN, startGateway, testConfig, userEntry, type RunningGateway } from '../support/gateway.ts'
import { WsSipClient, fakeSdp } from '../support/ws-sip-client.ts'
import { startRedis, type RedisPeer } from '../support/redis.ts'
import { launchChromium, openSoftphone, signIn, waitForCall, waitForIdle, type SoftphonePage } from './softphone-helpers.ts'

setDefaultTimeout(60_000)

const CALLER = { username: 'fo-alice', password: 'fo-alice-password' }
const PHONE = { username: 'fo-bob', password: 'fo-bob-password' }
const JSON_PHONE = { username: 'fo-carol', password: 'fo-carol-password' }
const NODE_A = '127.0.0.7'
const NODE_B = '127.0.0.8'
/**
 * Node B stopped -> the page registered at node A. Expected: the first retry (back-off
 * attempt 1, 0.8-1.2 s) to B is refused at once, the second (attempt 2, 1.6-2.4 s) opens A's
 * WebSocket and registers: 2.4-3.6 s plus a REGISTER round trip. The bound leaves room for a
 * loaded 2-core machine.
 */
const FAILOVER_BOUND_MS = 8_000

let redis: RedisPeer
let a: RunningGateway
let b: RunningGateway
let bStopped = false
let browser: Browser | undefined
let phone: SoftphonePage | undefined
const clients: WsSipClient[] = []

/** A TCP port free on 127.0.0.1 now (the nodes' HTTP ports must be known before they start). */
function freePort(): number {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = probe.port
  probe.stop(true)
  return port
}

const httpA = freePort()
const httpB = freePort()
const wsUrlA = `ws://127.0.0.1:${httpA}/sip`
const wsUrlB = `ws://127.0.0.1:${httpB}/sip`

function node(nodeId: string, sipHost: string, httpPort: number, peer: string) {
  return testConfig(
    {
      http: { host: '127.0.0.1', port: httpPort, webSocketUrls: [wsUrlB, wsUrlA] },
      sip: { host: sipHost },
      store: { redis: { url: redis.url, nodeId } },
      media: { driver: 'none' },
      proxy: { trustedSources: [peer] },
    },
    { extraUsers: [CALLER, PHONE, JSON_PHONE].map((u) => userEntry(u.username, u.password)) },
  )
}

beforeAll(async () => {
  redis = await startRedis()
  a = await startGateway(node('node-a', NODE_A, httpA, NODE_B))
  b = await startGateway(node('node-b', NODE_B, httpB, NODE_A))
  browser = await launchChromium()
})

afterAll(async () => {
  for (const c of clients) c.close()
  await browser?.close().catch(() => undefined)
  await a?.stop().catch(() => undefined)
  if (!bStopped) await b?.stop().catch(() => undefined)
  await redis?.stop()
}, 30_000)

/** Records every registration state of the page's client with Date.now(), in window.__pbRegLog. */
async function recordRegistrationStates(page: Page): Promise<void> {
  await page.evaluate(() => {
    type Client = { registration: { status: string }; on(type: 'registration', f: (s: { status: string }) => void): void }
    const w = window as unknown as { __pb: { client: Client }; __pbRegLog?: Array<{ status: string; at: number }> }
    const log: Array<{ status: string; at: number }> = (w.__pbRegLog = [])
    w.__pb.client.on('registration', (s) => log.push({ status: s.status, at: Date.now() }))
  })
}

async function registrationStates(page: Page): Promise<Array<{ status: string; at: number }>> {
  return page.evaluate(() => (window as unknown as { __pbRegLog?: Array<{ status: string; at: number }> }).__pbRegLog ?? [])
}

const PHONE_AOR = `sip:${PHONE.username}@${TEST_DOMAIN}`
const JSON_PHONE_AOR = `sip:${JSON_PHONE.username}@${TEST_DOMAIN}`

/** Until `gw`'s location service has exactly one binding of `aor`, matching `ok`. */
async function bindingAt(gw: RunningGateway, ok: (b: { node?: string; transport: string }) => boolean, timeoutMs: number, aor = PHONE_AOR): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const at = gw.internals.location.lookup(aor)
    if (at.length === 1 && ok(at[0]!)) return
    if (Date.now() > deadline) throw new Error(`no single matching binding of ${aor}: ${JSON.stringify(at)}`)
    await Bun.sleep(20)
  }
}

/** Until the page's client reports "registered" after `since` (ms since the epoch), at most `boundMs` after it. */
async function registeredAfter(page: Page, since: number, boundMs: number): Promise<{ at: number; states: Array<{ status: string; at: number }> }> {
  let states = await registrationStates(page)
  while (!states.some((s) => s.status === 'registered' && s.at >= since) && Date.now() - since < boundMs) {
    await Bun.sleep(20)
    states = await registrationStates(page)
  }
  const registered = states.find((s) => s.status === 'registered' && s.at >= since)
  expect(registered, JSON.stringify(states)).toBeDefined()
  return { at: registered!.at, states }
}

/** A user registered on node A calls `aor`; the page answers; the caller hangs up. */
async function callAnsweredFromNodeA(page: Page, aor: string): Promise<void> {
  const caller = await WsSipClient.connect({ url: a.wsUrl, username: CALLER.username, password: CALLER.password, domain: TEST_DOMAIN })
  clients.push(caller)
  expect((await caller.register()).final.status).toBe(200)
  const { call } = await caller.inviteWithAuth(aor, { body: fakeSdp('webrtc', 'offer') })
  await waitForCall(page, (c) => c.direction === 'incoming' && c.remoteUser === CALLER.username, 10_000)
  await page.locator('pb-incoming-call button[part="answer"]').click()
  const ok = await caller.waitForResponse({ status: 200, method: 'INVITE', callId: call.callId }, 10_000)
  expect(ok.body).toContain('m=audio')
  caller.ack2xx(call, ok)
  await waitForCall(page, (c) => c.state === 'connected', 10_000)
  caller.byeAsCaller(call)
  await caller.waitForResponse({ status: 200, method: 'BYE', callId: call.callId }, 5000)
  await waitForIdle(page)
  caller.close()
}

test('the client-config lists both nodes in failover order (SIP and JSON)', async () => {
  const config = await (await fetch(`${b.httpUrl}/api/client-config`)).json() as Record<string, unknown>
  expect(config.sipWebSocketPath).toBe('/sip')
  expect(config.sipWebSocketUrls).toEqual([wsUrlB, wsUrlA])
  expect(config.jsonWebSocketUrls).toEqual([`ws://127.0.0.1:${httpB}/json`, `ws://127.0.0.1:${httpA}/json`])
})

test('node B stops: the page re-registers at node A and a call from node A reaches it and is answered', async () => {
  phone = await openSoftphone(browser!, b.httpUrl, { toneHz: 440, label: 'fo-bob' })
  await signIn(phone.page, PHONE.username, PHONE.password)
  // Registered at B (the first URL): B holds the flow, A knows the binding through Redis.
  await bindingAt(b, (x) => x.node === undefined && x.transport.toLowerCase() === 'ws', 5000)
  await bindingAt(a, (x) => x.node === 'node-b', 5000)
  await recordRegistrationStates(phone.page)

  const stopAt = Date.now()
  await b.stop()
  bStopped = true
  const stoppedMs = Date.now() - stopAt
  // The page says "registered" again (the 200 from A), and A holds the binding's flow itself.
  const { at: registeredAt, states } = await registeredAfter(phone.page, stopAt, FAILOVER_BOUND_MS)
  await bindingAt(a, (x) => x.node === undefined && x.transport.toLowerCase() === 'ws', 2000)
  const failoverMs = registeredAt - stopAt
  console.log(`failover: b.stop() took ${stoppedMs} ms; B stopping -> page registered at A ${failoverMs} ms; states ${states.map((s) => `${s.status}@${s.at - stopAt}`).join(' ')}`)
  expect(states.some((s) => s.status === 'reconnecting')).toBe(true)
  expect(failoverMs).toBeLessThan(FAILOVER_BOUND_MS)

  // A user on node A calls the page's user: A routes to the page's WebSocket at A itself.
  await callAnsweredFromNodeA(phone.page, PHONE_AOR)
  await phone.close()
})

test('JSON signaling: node B (started again) stops, the page logs in at node A and answers a call there', async () => {
  b = await startGateway(node('node-b', NODE_B, httpB, NODE_A))
  bStopped = false
  const page = await openSoftphone(browser!, b.httpUrl, { toneHz: 440, label: 'fo-carol', signaling: 'json' })
  await signIn(page.page, JSON_PHONE.username, JSON_PHONE.password)
  await bindingAt(a, (x) => x.node === 'node-b', 5000, JSON_PHONE_AOR)
  await recordRegistrationStates(page.page)

  const stopAt = Date.now()
  await b.stop()
  bStopped = true
  // B's session token means nothing at A: A refuses the attach and the page logs in afresh.
  const { at, states } = await registeredAfter(page.page, stopAt, FAILOVER_BOUND_MS)
  await bindingAt(a, (x) => x.node === undefined, 2000, JSON_PHONE_AOR)
  console.log(`JSON failover: B stopping -> logged in at A ${at - stopAt} ms; states ${states.map((s) => `${s.status}@${s.at - stopAt}`).join(' ')}`)
  expect(at - stopAt).toBeLessThan(FAILOVER_BOUND_MS)
  await callAnsweredFromNodeA(page.page, JSON_PHONE_AOR)
  await page.close()
})

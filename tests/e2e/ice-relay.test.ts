/**
 * End to end: ICE paths of softphone calls, with a real TURN server.
 *
 * - coturn (`turnserver --use-auth-secret`) on a free port of 127.0.0.1 and the gateway with
 *   `ice.turn.urls` + `ice.turn.secret`: `GET /api/ice-servers` hands out TURN REST credentials
 *   (username `expiry:user`, password base64(HMAC-SHA1(secret, username))).
 * - alice and bob both tick "Force relay (TURN only)" (iceTransportPolicy 'relay'); alice calls
 *   bob; `getStats()` on both pages shows a selected candidate pair whose local candidate is
 *   `relay`, coturn logs allocations for both users' credentials, and the tones are heard both
 *   ways (1000 Hz at bob, 440 Hz at alice, through an AnalyserNode).
 * - Without forced relay the same two pages talk over `host` candidates.
 * - ICE setup time (both descriptions applied -> iceConnectionState 'connected') is printed for
 *   each path. srflx: the gateway's own STUN service on 127.0.0.1 reflects the host address
 *   itself, and Chromium drops a srflx candidate equal to its base (RFC 8445 §5.1.3: redundant),
 *   so no srflx path exists on loopback; tests/e2e/nat-namespace.test.ts covers it behind a NAT.
 * - With relay forced and no TURN server configured, the page says so in words and sends no
 *   INVITE (the SIP frames on its WebSocket are watched).
 *
 * Needs Debian's Chromium and coturn: `apt-get install -y chromium coturn`.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { createHmac } from 'node:crypto'
import type { Browser } from 'playwright-core'
import { startGateway, type RunningGateway } from '../../gateway/src/main.ts'
import { testConfig } from '../support/gateway.ts'
import { PeerSet } from '../support/processes.ts'
import {
  calls,
  dial,
  launchChromium,
  openSoftphone,
  peerConnectionLogs,
  selectedCandidatePair,
  setForceRelay,
  signIn,
  startCoturn,
  waitForCall,
  waitForIdle,
  waitForText,
  waitForTone,
  watchPeerConnections,
  watchSipFrames,
  type PeerConnectionLog,
  type RunningCoturn,
  type SoftphonePage,
} from './softphone-helpers.ts'

setDefaultTimeout(60_000)

const SECRET = 'ice-relay-e2e-secret'
const PASSWORDS = { alice: 'alice-demo', bob: 'bob-demo', carol: 'carol-demo' } as const
const TONE = { alice: 1000, bob: 440, carol: 1500 } as const

const peers = new PeerSet()
const gateways: RunningGateway[] = []
let browser: Browser | undefined

afterAll(async () => {
  await browser?.close().catch(() => undefined)
  await Promise.allSettled(gateways.map((g) => g.stop()))
  await peers.killAll()
}, 30_000)

interface CallTimes {
  /** Dial click -> callee's page shows the incoming call (ms). */
  readonly ringMs: number
  /** Answer click -> both tones detected (ms). */
  readonly mediaMs: number
}

/** `caller` dials `callee`, the callee answers, both tones must be heard. */
async function callAndHear(caller: SoftphonePage, callee: SoftphonePage, calleeUser: string): Promise<CallTimes> {
  const clicked = Date.now()
  await dial(caller.page, calleeUser)
  await waitForCall(callee.page, (c) => c.state === 'incoming')
  const ringMs = Date.now() - clicked
  const answered = Date.now()
  await callee.page.locator('pb-incoming-call button[part="answer"]').click()
  await waitForCall(caller.page, (c) => c.state === 'connected')
  const [atCaller, atCallee] = await Promise.all([waitForTone(caller.page, callee.toneHz), waitForTone(callee.page, caller.toneHz)])
  const mediaMs = Date.now() - answered
  expect(Math.abs(atCaller.peakHz - callee.toneHz)).toBeLessThan(6)
  expect(Math.abs(atCallee.peakHz - caller.toneHz)).toBeLessThan(6)
  return { ringMs, mediaMs }
}

async function hangUp(phone: SoftphonePage, other: SoftphonePage): Promise<void> {
  await phone.page.locator('pb-call-card button[aria-label="Hang up"]').click()
  await Promise.all([waitForIdle(phone.page), waitForIdle(other.page)])
}

/** The newest peer connection's log of a page. */
async function lastPeerConnection(phone: SoftphonePage): Promise<PeerConnectionLog> {
  const logs = await peerConnectionLogs(phone.page)
  const last = logs[logs.length - 1]
  if (!last) throw new Error('the page created no RTCPeerConnection')
  return last
}

/** One page's gathering: candidate types and when the first one came (ms after the connection was created). */
function describeGathering(label: string, log: PeerConnectionLog): string {
  const types = [...new Set(log.candidates.map((c) => c.type))].join('+') || 'none'
  const first = log.candidates[0] ? Math.round(log.candidates[0].at - log.createdAt) : -1
  return `${label}: candidates ${types} (first after ${first} ms)`
}

/**
 * ICE setup time of a call: from the callee applying its answer (its agent starts the checks;
 * the caller gets the answer a moment later) until both pages are ICE-connected, and until both
 * are DTLS-connected too (connectionState). Times are epoch ms recorded in each page.
 */
function callIceSetup(caller: PeerConnectionLog, callee: PeerConnectionLog): { iceMs: number; dtlsMs: number } {
  const start = callee.localDescriptionAt
  const ice = (l: PeerConnectionLog) => l.iceStates.find(([s]) => s === 'connected' || s === 'completed')?.[1]
  const dtls = (l: PeerConnectionLog) => l.connectionStates.find(([s]) => s === 'connected')?.[1]
  const [a, b, c, d] = [ice(caller), ice(callee), dtls(caller), dtls(callee)]
  if (start === undefined || a === undefined || b === undefined || c === undefined || d === undefined) {
    throw new Error(`call not connected in the peer connection logs: ${JSON.stringify({ caller, callee })}`)
  }
  return { iceMs: Math.max(a, b) - start, dtlsMs: Math.max(c, d) - start }
}

describe('calls through coturn with TURN REST credentials from the gateway', () => {
  let coturn: RunningCoturn
  let gateway: RunningGateway
  let alice: SoftphonePage
  let bob: SoftphonePage

  beforeAll(async () => {
    coturn = await startCoturn(peers, { secret: SECRET })
    gateway = await startGateway(testConfig({ ice: { turn: { urls: [coturn.url], secret: SECRET, ttlSeconds: 600 } } }))
    gateways.push(gateway)
    browser = await launchChromium()
    alice = await openSoftphone(browser, gateway.httpUrl, { toneHz: TONE.alice, label: 'alice' })
    bob = await openSoftphone(browser, gateway.httpUrl, { toneHz: TONE.bob, label: 'bob' })
    await Promise.all([watchPeerConnections(alice.page), watchPeerConnections(bob.page)])
  })

  test('GET /api/ice-servers hands alice TURN REST credentials coturn can check', async () => {
    const response = await fetch(`${gateway.httpUrl}/api/ice-servers`, {
      headers: { authorization: `Basic ${Buffer.from(`alice:${PASSWORDS.alice}`).toString('base64')}` },
    })
    expect(response.status).toBe(200)
    const body = await response.json() as { iceServers: Array<{ urls: string | string[]; username?: string; credential?: string }>; ttlSeconds: number }
    const turn = body.iceServers.find((s) => [s.urls].flat().includes(coturn.url))
    expect(turn).toBeDefined()
    const [expiry, user] = turn!.username!.split(':')
    expect(user).toBe('alice')
    const now = Date.now() / 1000
    expect(Number(expiry)).toBeGreaterThan(now + 590)
    expect(Number(expiry)).toBeLessThan(now + 610)
    expect(turn!.credential).toBe(createHmac('sha1', SECRET).update(turn!.username!).digest('base64'))
    expect(body.ttlSeconds).toBe(600)
  })

  test('alice and bob sign in and force relay in the settings', async () => {
    await signIn(alice.page, 'alice', PASSWORDS.alice)
    await signIn(bob.page, 'bob', PASSWORDS.bob)
    await setForceRelay(alice.page, true)
    await setForceRelay(bob.page, true)
  })

  test('alice calls bob over TURN: relay candidates on both ends, tones heard both ways', async () => {
    const times = await callAndHear(alice, bob, 'bob')
    for (const [phone, user] of [[alice, 'alice'], [bob, 'bob']] as const) {
      const pair = await selectedCandidatePair(phone.page)
      expect(pair.local.candidateType).toBe('relay')
      expect(pair.local.relayProtocol).toBe('udp')
      // Both ends relay, so the far end's candidate is coturn's relayed address too.
      expect(pair.remote.candidateType).toBe('relay')
      expect(pair.remote.address).toBe(coturn.host)
      const log = await lastPeerConnection(phone)
      expect(log.iceTransportPolicy).toBe('relay')
      expect(log.iceServerUrls).toContain(coturn.url)
      expect(log.turnUsernames.some((u) => new RegExp(`^\\d+:${user}$`).test(u))).toBe(true)
      expect(log.candidates.length).toBeGreaterThan(0)
      expect(log.candidates.every((c) => c.type === 'relay')).toBe(true)
      console.log(describeGathering(`relay path, ${user}`, log))
    }
    const setup = callIceSetup(await lastPeerConnection(alice), await lastPeerConnection(bob))
    console.log(`relay call: ICE setup ${Math.round(setup.iceMs)} ms, ICE+DTLS ${Math.round(setup.dtlsMs)} ms; dial -> bob rings ${times.ringMs} ms, answer -> tones both ways ${times.mediaMs} ms`)
    // The quality panel names the media path.
    await waitForText(alice.page, /Media path: relayed \(TURN\)/)
    // coturn accepted the credentials the gateway handed out: it allocated for both users.
    const log = coturn.log()
    expect(log).toMatch(/user <\d+:alice>: incoming packet ALLOCATE processed, success/)
    expect(log).toMatch(/user <\d+:bob>: incoming packet ALLOCATE processed, success/)
    await hangUp(alice, bob)
  })

  test('without forced relay the same call takes the host path', async () => {
    await setForceRelay(alice.page, false)
    await setForceRelay(bob.page, false)
    const times = await callAndHear(alice, bob, 'bob')
    for (const [phone, user] of [[alice, 'alice'], [bob, 'bob']] as const) {
      const pair = await selectedCandidatePair(phone.page)
      expect(pair.local.candidateType).toBe('host')
      expect(pair.remote.candidateType).toBe('host')
      const log = await lastPeerConnection(phone)
      expect(log.iceTransportPolicy).toBe('all')
      expect(log.candidates.some((c) => c.type === 'host')).toBe(true)
      // srflx from the gateway's STUN service on loopback would equal the host candidate:
      // Chromium drops it as redundant, so there is no srflx to measure here.
      const srflx = log.candidates.filter((c) => c.type === 'srflx')
      const hosts = new Set(log.candidates.filter((c) => c.type === 'host').map((c) => `${c.address}:${c.port}`))
      expect(srflx.every((c) => !hosts.has(`${c.address}:${c.port}`))).toBe(true)
      console.log(describeGathering(`host path, ${user}`, log) + (srflx.length === 0 ? ' (no srflx gathered: STUN on loopback reflects the host address)' : ''))
    }
    const setup = callIceSetup(await lastPeerConnection(alice), await lastPeerConnection(bob))
    console.log(`host call: ICE setup ${Math.round(setup.iceMs)} ms, ICE+DTLS ${Math.round(setup.dtlsMs)} ms; dial -> bob rings ${times.ringMs} ms, answer -> tones both ways ${times.mediaMs} ms`)
    await waitForText(alice.page, /Media path: direct \(local network\)/)
    await hangUp(alice, bob)
  })
})

describe('relay forced but no TURN server configured', () => {
  let gateway: RunningGateway
  let carol: SoftphonePage

  beforeAll(async () => {
    gateway = await startGateway(testConfig())
    gateways.push(gateway)
    browser ??= await launchChromium()
    carol = await openSoftphone(browser, gateway.httpUrl, { toneHz: TONE.carol, label: 'carol' })
  })

  test('the page says so in words and sends no INVITE', async () => {
    const frames = watchSipFrames(carol.page)
    await signIn(carol.page, 'carol', PASSWORDS.carol)
    // The gateway offers no TURN entry.
    const response = await fetch(`${gateway.httpUrl}/api/ice-servers`, {
      headers: { authorization: `Basic ${Buffer.from(`carol:${PASSWORDS.carol}`).toString('base64')}` },
    })
    const body = await response.json() as { iceServers: Array<{ urls: string | string[] }> }
    expect(body.iceServers.flatMap((s) => [s.urls].flat()).some((u) => /^turns?:/.test(u))).toBe(false)

    await setForceRelay(carol.page, true)
    await dial(carol.page, 'alice')
    await waitForText(carol.page, /“Force relay” is on, but the server offers no TURN relay/)
    await carol.page.waitForTimeout(500)
    expect(await calls(carol.page)).toEqual([])
    // The watcher sees the page's SIP (its REGISTERs), but no INVITE went out.
    expect(frames.sentMethods()).toContain('REGISTER')
    expect(frames.sentMethods()).not.toContain('INVITE')

    // Control: with relay off the same dial does send an INVITE (alice is not registered here).
    await setForceRelay(carol.page, false)
    await dial(carol.page, 'alice')
    await waitForText(carol.page, /not available|not found/)
    expect(frames.sentMethods()).toContain('INVITE')
  })
})

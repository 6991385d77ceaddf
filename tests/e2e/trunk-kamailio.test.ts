/**
 * Browsers behind a Kamailio PBX trunk, in Chromium (issue 13, "Tests with real peers";
 * tests/support/kamailio-pbx.ts): the gateway's registration trunk registers to Kamailio
 * (registrar + usrloc, digest auth, record_route, 407 on every INVITE).
 *
 * - Inbound: baresip, a phone registered at Kamailio, calls the gateway's DID; Kamailio sends
 *   it to the Contact the trunk registered; the dial plan maps the DID to a user whose
 *   softphone rings and answers; each side hears the other's tone (the browser its analyser,
 *   baresip its recording) through the anchored media path (WebRTC <-> RTP).
 * - Outbound: the softphone dials an international number; the dial plan sends it in E.164
 *   through the trunk; the gateway answers Kamailio's 407 with the trunk's credentials;
 *   Kamailio relays it to its "carrier" (a baresip registered at Kamailio, answering with its
 *   own tone); both tones are heard; the browser hangs up. (The SIPp-UAS carrier and the
 *   Request-URI it receives are in tests/integration/trunks/kamailio-pbx.test.ts.)
 *
 * Needs chromium, kamailio, baresip-core (tests/setup/install-peers.sh).
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { loadConfig, formatConfigError } from '../../gateway/src/config/loader.ts'
import { trunkContactUri } from '../../gateway/src/sip/trunks/registration-client.ts'
import { startGateway, testConfig, type RunningGateway } from '../support/gateway.ts'
import { Baresip } from '../support/baresip.ts'
import { PeerSet } from '../support/processes.ts'
import { startKamailioPbx, writePbxTrunkConfig, type KamailioPbx } from '../support/kamailio-pbx.ts'
import { waitUntil } from '../support/kamailio-registrar.ts'
import { dial, launchChromium, openSoftphone, signIn, waitForCall, waitForIdle, waitForTone, type SoftphonePage } from './softphone-helpers.ts'

setDefaultTimeout(60_000)

const PASSWORD = 'kam-e2e-password'
const TRUNK = { name: 'kam-pbx', username: 'gw-trunk', password: 'trunk-s3cret' }
const PHONE = { username: '2001', password: 'phone-s3cret' }
/** The PBX's stand-in for a carrier: a registered baresip that answers outside numbers. */
const CARRIER = { username: 'carrier', password: 'carrier-s3cret' }
const DID = '+4930555'
const BROWSER_HZ = 440
const PHONE_HZ = 1000
const CARRIER_HZ = 1300

const peers = new PeerSet()
let dir: string
let pbx: KamailioPbx
let gateway: RunningGateway
let browser: Browser
let carol: SoftphonePage
let phone: Baresip
let carrier: Baresip

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'patchbay-trunk-kamailio-'))
  pbx = await startKamailioPbx(peers, {
    users: [{ username: TRUNK.username, password: TRUNK.password }, PHONE, CARRIER],
    dids: { account: TRUNK.username, numbers: [DID] },
    outside: { user: CARRIER.username },
  })
  writePbxTrunkConfig(dir, {
    pbxPort: pbx.port, trunk: TRUNK, users: ['kp-alice', 'kp-carol'], password: PASSWORD,
    international: ['kp-alice'], did: { number: DID, user: 'kp-carol' },
  })
  const loaded = loadConfig(dir)
  if (!loaded.ok) throw new Error(loaded.errors.map(formatConfigError).join('\n'))
  const config = testConfig({ media: { driver: 'embedded' } })
  config.users = loaded.config.users
  config.trunks = loaded.config.trunks
  config.dialPlan = loaded.config.dialPlan
  gateway = await startGateway(config)
  const contact = trunkContactUri(TRUNK.username, gateway.internals.transport.sentBy('UDP'), 'UDP')
  await waitUntil('the trunk registered at Kamailio', () => pbx.hasContact(contact), 10_000)
  phone = await Baresip.start({ user: PHONE.username, password: PHONE.password, domain: pbx.realm, gatewayUdpPort: pbx.port, toneHz: PHONE_HZ })
  carrier = await Baresip.start({ user: CARRIER.username, password: CARRIER.password, domain: pbx.realm, gatewayUdpPort: pbx.port, toneHz: CARRIER_HZ })
  browser = await launchChromium()
  carol = await openSoftphone(browser, gateway.httpUrl, { toneHz: BROWSER_HZ, label: 'kp-carol' })
  await signIn(carol.page, 'kp-carol', PASSWORD)
})

afterAll(async () => {
  await browser?.close()
  await phone?.stop()
  await carrier?.stop()
  await gateway?.stop()
  await pbx?.close()
  await peers.killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

test('baresip behind Kamailio calls the DID: the softphone rings, answers, and each side hears the other through the anchored path', async () => {
  const before = phone.recordings().length
  const didRoutes = pbx.routes().filter((r) => r.kind === 'did').length
  await phone.dial(`sip:${DID}@${pbx.realm}`)
  const ringing = await waitForCall(carol.page, (c) => c.state === 'incoming', 15_000)
  expect(ringing.direction).toBe('incoming')
  await carol.page.locator('pb-incoming-call button[part="answer"]').click()
  await waitForCall(carol.page, (c) => c.state === 'connected')
  await waitForTone(carol.page, PHONE_HZ, 15_000)
  expect(gateway.internals.anchoredCalls!.size).toBe(1)
  await Bun.sleep(1_500) // let baresip record the browser's tone
  await carol.page.locator('pb-call-card button[aria-label="Hang up"]').click()
  await waitForIdle(carol.page)
  await Bun.sleep(500)
  const heard = phone.newestRecordingTone(before, BROWSER_HZ, PHONE_HZ)
  console.log(`[trunk-kamailio] phone heard ${BROWSER_HZ} Hz at ${heard.target.toExponential(2)} vs ${PHONE_HZ} Hz at ${heard.other.toExponential(2)}`)
  expect(heard.target, JSON.stringify(heard)).toBeGreaterThan(heard.other * 10)
  expect(gateway.internals.anchoredCalls!.size).toBe(0)
  expect(gateway.internals.media?.activeSessions ?? -1).toBe(0)

  // Kamailio challenged baresip, routed the DID to the trunk's Contact, relayed the browser's BYE.
  const route = pbx.routes().filter((r) => r.kind === 'did')
  expect(route).toHaveLength(didRoutes + 1)
  const callId = route.at(-1)!.callId
  expect(pbx.challenges()).toContainEqual({ method: 'INVITE', callId })
  expect(pbx.authenticated()).toContainEqual({ method: 'INVITE', callId, user: PHONE.username })
  expect(pbx.requests('BYE').some((r) => r.callId === callId && r.source === `127.0.0.1:${gateway.udpPort}`)).toBe(true)
})

test('the softphone dials an international number: E.164 through Kamailio (407 answered with the trunk\'s credentials) to the carrier; each side hears the other', async () => {
  const before = carrier.recordings().length
  const alice = await openSoftphone(browser, gateway.httpUrl, { toneHz: BROWSER_HZ, label: 'kp-alice' })
  try {
    await signIn(alice.page, 'kp-alice', PASSWORD)
    const t0 = Date.now()
    await dial(alice.page, '0044207946000')
    await waitForCall(alice.page, (c) => c.state === 'connected', 15_000)
    const connectedMs = Date.now() - t0
    await waitForTone(alice.page, CARRIER_HZ, 15_000)
    console.log(`[trunk-kamailio] browser -> trunk -> carrier: connected in ${connectedMs} ms, ${CARRIER_HZ} Hz heard ${Date.now() - t0} ms after dialing`)
    expect(gateway.internals.anchoredCalls!.size).toBe(1)
    expect(gateway.internals.routing.trunks().activeCalls(TRUNK.name)).toBe(1)
    await Bun.sleep(1_500) // let the carrier record the browser's tone
    await alice.page.locator('pb-call-card button[aria-label="Hang up"]').click()
    await waitForIdle(alice.page)
  } finally {
    await alice.close()
  }
  await Bun.sleep(500)
  const heard = carrier.newestRecordingTone(before, BROWSER_HZ, CARRIER_HZ)
  console.log(`[trunk-kamailio] carrier heard ${BROWSER_HZ} Hz at ${heard.target.toExponential(2)} vs ${CARRIER_HZ} Hz at ${heard.other.toExponential(2)}`)
  expect(heard.target, JSON.stringify(heard)).toBeGreaterThan(heard.other * 10)
  expect(gateway.internals.anchoredCalls!.size).toBe(0)
  expect(gateway.internals.routing.trunks().activeCalls(TRUNK.name)).toBe(0)

  // Kamailio got the E.164 number from the gateway, challenged it, accepted the trunk's credentials.
  const invites = pbx.requests('INVITE').filter((x) => x.ruri === `sip:+44207946000@${pbx.trunkAddress}:${pbx.port}`)
  expect(invites.map((x) => x.auth)).toEqual([false, true])
  const callId = invites[0]!.callId
  expect(invites.every((x) => x.callId === callId && x.source === `127.0.0.1:${gateway.udpPort}`)).toBe(true)
  expect(pbx.challenges()).toContainEqual({ method: 'INVITE', callId })
  expect(pbx.authenticated()).toContainEqual({ method: 'INVITE', callId, user: TRUNK.username })
  expect(pbx.routes().some((r) => r.kind === 'outside' && r.callId === callId)).toBe(true)
  expect(pbx.requests('BYE').some((x) => x.callId === callId)).toBe(true)
})

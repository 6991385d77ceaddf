/**
 * Kamailio as the upstream PBX of a registration trunk, real peers end to end (issue 13,
 * "Tests with real peers"; tests/support/kamailio-pbx.ts): Kamailio is registrar + usrloc with
 * digest auth for its users (the gateway's trunk account `gw-trunk`, a baresip phone `2001`),
 * a record-routing stateful proxy that challenges every INVITE (407), sends the gateway's
 * DID to the Contact the trunk registered (lookup of the trunk account's AOR, with the DID
 * left in To) and relays outside numbers (`+…`) to a SIPp UAS "carrier".
 *
 * 1. the trunk registers: Kamailio's location holds the gateway's Contact, GET /api/trunks
 *    says `registered`;
 * 2. a browser-side user (SIP over WebSocket) dials 0044…: the dial plan rewrites it to E.164
 *    and sends it to Kamailio, which answers 407; the gateway answers with the trunk's
 *    credentials; the SIPp UAS answers; BYE through the gateway and Kamailio;
 * 3. baresip registered at Kamailio calls the DID: the gateway maps it to a user, who answers;
 * 4. baresip registered at the gateway dials out through the trunk;
 * 5. an unauthenticated INVITE to an outside number from an address that is no trunk: 403,
 *    Kamailio never sees it; nor a user whose class is too low (403) or who sends no
 *    credentials (407).
 * Also after the trunk's 407 was answered: the caller's CANCEL gets 487, a busy carrier's 486
 * reaches the caller (the 407 the gateway consumed is not the best response, §16.7).
 *
 * Kamailio's trunk side is 127.0.0.3 (the gateway recognises the trunk by that address); the
 * browser-side users and baresip phones are on 127.0.0.1. Needs kamailio, sip-tester, baresip-core.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { GatewayConfig } from '../../../gateway/src/config/schema.ts'
import { trunkContactUri } from '../../../gateway/src/sip/trunks/registration-client.ts'
import { TEST_DOMAIN, startGateway, testConfigFromFolder, type RunningGateway } from '../../support/gateway.ts'
import { WsSipClient, fakeSdp, fakeAnswerFor } from '../../support/ws-sip-client.ts'
import { readSippTrace, runSipp, startSipp, expectAllSucceeded, SIPP_SCENARIOS, uasRejectScenario, type SippPeer } from '../../support/sipp.ts'
import { freePortRange, freeUdpPort } from '../../support/ports.ts'
import { PeerSet } from '../../support/processes.ts'
import { Baresip } from '../../support/baresip.ts'
import { startKamailioPbx, writePbxTrunkConfig, type KamailioPbx } from '../../support/kamailio-pbx.ts'
import { waitUntil } from '../../support/kamailio-registrar.ts'

setDefaultTimeout(60_000)

const PASSWORD = 'kam-trunk-test-password'
const ADMIN_TOKEN = 'kamailio-pbx-admin-token'
const TRUNK = { name: 'kam-pbx', username: 'gw-trunk', password: 'trunk-s3cret' }
const PHONE = { username: '2001', password: 'phone-s3cret' }
const DID = '+4930555'
const DIALED = '0044207946000'
const E164 = '+44207946000'

const peers = new PeerSet()
let dir: string
let gateway: RunningGateway
let pbx: KamailioPbx
let uasPort: number
const clients: WsSipClient[] = []
const phones: Baresip[] = []
/** SIPp carriers started, killed at the end if a failed test left one waiting. */
const carriers: SippPeer[] = []

/** The operator's users.yaml, trunks.yaml and dialplan.yaml in `dir`, loaded like the gateway does, ports 0. */
function gatewayConfig(kamPort: number): GatewayConfig {
  writePbxTrunkConfig(dir, {
    pbxPort: kamPort, trunk: TRUNK, users: ['kp-alice', 'kp-carol', 'kp-desk'], password: PASSWORD,
    international: ['kp-alice', 'kp-desk'], did: { number: DID, user: 'kp-carol' },
  })
  return testConfigFromFolder(dir, { adminToken: ADMIN_TOKEN })
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'patchbay-kamailio-pbx-'))
  uasPort = await freePortRange(1)
  pbx = await startKamailioPbx(peers, {
    users: [{ username: TRUNK.username, password: TRUNK.password }, PHONE],
    dids: { account: TRUNK.username, numbers: [DID] },
    outside: { address: '127.0.0.1', port: uasPort },
  })
  gateway = await startGateway(gatewayConfig(pbx.port))
})

afterAll(async () => {
  for (const c of clients) c.close()
  await Promise.allSettled(phones.map((p) => p.stop()))
  await Promise.allSettled(carriers.map((c) => c.process.kill()))
  await gateway?.stop()
  await pbx?.close()
  await peers.killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

async function user(name: string): Promise<WsSipClient> {
  const c = await WsSipClient.connect({ url: gateway.wsUrl, username: name, password: PASSWORD, domain: TEST_DOMAIN })
  clients.push(c)
  const { final } = await c.register()
  expect(final.status, final.raw).toBe(200)
  return c
}

async function trunkState(): Promise<{ state: string; lastStatus?: number; activeCalls: number }> {
  const r = await fetch(`${gateway.httpUrl}/api/trunks`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  expect(r.status).toBe(200)
  const body = await r.json() as { trunks: Array<{ name: string; state: string; lastStatus?: number; activeCalls: number }> }
  const t = body.trunks.find((x) => x.name === TRUNK.name)
  if (t === undefined) throw new Error(`no trunk ${TRUNK.name} in ${JSON.stringify(body)}`)
  return t
}

/** A SIPp carrier on `uasPort` (where Kamailio sends outside numbers); one left by a failed test is killed first. */
async function carrier(name: string, scenarioFile: string = SIPP_SCENARIOS.uas, keys?: Record<string, string>): Promise<SippPeer> {
  for (const old of carriers) if (old.process.running) await old.process.kill()
  const c = await startSipp({ name, scenarioFile, localPort: uasPort, calls: 1, ...(keys ? { keys } : {}) })
  carriers.push(c)
  return c
}

/** Kamailio's view of an outbound call through the trunk: 407 first, then the trunk account's credentials. */
function expectChallengedAndAnswered(callId: string): void {
  const invites = pbx.requests('INVITE').filter((r) => r.callId === callId)
  expect(invites.map((r) => r.auth), JSON.stringify(invites)).toEqual([false, true])
  for (const r of invites) {
    expect(r.source).toBe(`127.0.0.1:${gateway.udpPort}`)
    expect(r.ruri).toBe(`sip:${E164}@127.0.0.3:${pbx.port}`)
  }
  expect(pbx.challenges()).toContainEqual({ method: 'INVITE', callId })
  expect(pbx.authenticated()).toContainEqual({ method: 'INVITE', callId, user: TRUNK.username })
  expect(pbx.routes()).toContainEqual({ kind: 'outside', callId, ruri: `sip:${E164}@127.0.0.1:${uasPort}` })
}

test('the registration trunk registers to Kamailio: its location holds the gateway\'s Contact; GET /api/trunks says registered', async () => {
  const contact = trunkContactUri(TRUNK.username, gateway.internals.transport.sentBy('UDP'), 'UDP')
  await waitUntil('Kamailio holds the gateway\'s contact', () => pbx.hasContact(contact), 10_000)
  await waitUntil('trunk registered', async () => (await trunkState()).state === 'registered', 10_000)
  expect(await trunkState()).toMatchObject({ state: 'registered', lastStatus: 200, activeCalls: 0 })
  expect(await pbx.bindings()).toContain(`AoR: ${TRUNK.username}`)
  const regs = pbx.requests('REGISTER')
  expect(regs.slice(0, 2).map((r) => r.auth)).toEqual([false, true])
  expect(regs[0]!.source).toBe(`127.0.0.1:${gateway.udpPort}`)
  expect(pbx.challenges()[0]).toMatchObject({ method: 'REGISTER' })
  expect(pbx.authenticated()[0]).toMatchObject({ method: 'REGISTER', user: TRUNK.username })
})

test('a browser-side user dials an outside number: E.164 through Kamailio (407 answered with the trunk\'s credentials) to the SIPp UAS; BYE through both', async () => {
  const sipp = await carrier('kam-carrier')
  const alice = await user('kp-alice')
  const { call } = await alice.inviteWithAuth(`sip:${DIALED}@${TEST_DOMAIN}`, { body: fakeSdp('webrtc', 'offer') })
  const ok = await alice.waitForResponse({ status: 200, method: 'INVITE', callId: call.callId }, 10_000)
  alice.ack2xx(call, ok)
  expect((await trunkState()).activeCalls).toBe(1)
  // Two Record-Routes on the answer: Kamailio's and the gateway's.
  expect(ok.getAll('record-route').join(',')).toContain(`127.0.0.3:${pbx.port}`)
  alice.byeAsCaller(call)
  await alice.waitForResponse({ status: 200, method: 'BYE', callId: call.callId })
  expect((await trunkState()).activeCalls).toBe(0)

  const r = await sipp.finish(10_000)
  expectAllSucceeded(r, 1)
  const trace = readSippTrace(r).filter((m) => m.direction === 'received')
  const invite = trace.find((m) => m.message.method === 'INVITE')
  expect(invite?.message.requestUri).toBe(`sip:${E164}@127.0.0.1:${uasPort}`)
  expect(invite?.message.get('proxy-authorization'), 'Kamailio consumed the trunk\'s credentials').toBeUndefined()
  expect(trace.some((m) => m.message.method === 'BYE')).toBe(true)

  expectChallengedAndAnswered(call.callId)
  // The BYE went through Kamailio (loose routing) too.
  expect(pbx.requests('BYE').some((x) => x.callId === call.callId && x.source === `127.0.0.1:${gateway.udpPort}`)).toBe(true)
  expect(pbx.replies()).toContainEqual({ status: 200, method: 'INVITE', callId: call.callId })
})

test('the caller cancels while the carrier rings: the CANCEL follows the authenticated INVITE through Kamailio; 487', async () => {
  const sipp = await carrier('kam-carrier-ring', SIPP_SCENARIOS.uasRingCancel)
  const alice = await user('kp-alice')
  const { call } = await alice.inviteWithAuth(`sip:${DIALED}@${TEST_DOMAIN}`, { body: fakeSdp('webrtc', 'offer') })
  await alice.waitForResponse({ status: 180, method: 'INVITE', callId: call.callId }, 10_000)
  alice.cancel(call)
  await alice.waitForResponse({ status: 200, method: 'CANCEL', callId: call.callId })
  const terminated = await alice.waitForResponse({ status: (s) => s >= 300, method: 'INVITE', callId: call.callId }, 10_000)
  expect(terminated.status, 'the 407 the gateway answered itself is not the caller\'s answer').toBe(487)
  alice.ackNon2xx(call, terminated)
  expectAllSucceeded(await sipp.finish(10_000), 1)
  expectChallengedAndAnswered(call.callId)
  // Kamailio matched the CANCEL to the authenticated INVITE's transaction (same branch as that INVITE).
  const invite = pbx.requests('INVITE').find((x) => x.callId === call.callId && x.auth)!
  const cancel = pbx.requests('CANCEL').find((x) => x.callId === call.callId)
  expect(cancel?.cseq).toBe(invite.cseq)
  expect(pbx.replies()).toContainEqual({ status: 487, method: 'INVITE', callId: call.callId })
  await waitUntil('the trunk\'s call count is back to 0', async () => (await trunkState()).activeCalls === 0, 5_000)
})

test('the carrier is busy: its 486 reaches the caller, not the 407 the gateway answered', async () => {
  const sipp = await carrier('kam-carrier-busy', uasRejectScenario(486, 'Busy Here'))
  const alice = await user('kp-alice')
  const { call } = await alice.inviteWithAuth(`sip:${DIALED}@${TEST_DOMAIN}`, { body: fakeSdp('webrtc', 'offer') })
  const final = await alice.waitForResponse({ status: (s) => s >= 300, method: 'INVITE', callId: call.callId }, 10_000)
  alice.ackNon2xx(call, final)
  expect(final.status, final.raw).toBe(486)
  expect(final.get('proxy-authenticate'), 'the trunk\'s challenge is not passed to the caller').toBeUndefined()
  expectAllSucceeded(await sipp.finish(10_000), 1)
  expectChallengedAndAnswered(call.callId)
  expect(pbx.replies()).toContainEqual({ status: 486, method: 'INVITE', callId: call.callId })
  await waitUntil('the trunk\'s call count is back to 0', async () => (await trunkState()).activeCalls === 0, 5_000)
})

test('baresip registered at Kamailio calls the DID: Kamailio sends it to the trunk\'s registered Contact, the dial plan rings the DID\'s user', async () => {
  const carol = await user('kp-carol')
  const phone = await Baresip.start({ user: PHONE.username, password: PHONE.password, domain: pbx.realm, gatewayUdpPort: pbx.port, toneHz: 1000 })
  phones.push(phone)
  expect(await pbx.bindings()).toContain(`AoR: ${PHONE.username}`)
  await phone.dial(`sip:${DID}@${pbx.realm}`)
  const invite = await carol.waitForRequest('INVITE', undefined, 10_000)
  expect(invite.requestUri).toBe(carol.contactUri)
  expect(invite.get('to')).toContain(`sip:${DID}@${pbx.realm}`)
  carol.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
  await waitUntil('Kamailio relayed the 200', () => pbx.replies().some((r) => r.callId === invite.callId && r.status === 200 && r.method === 'INVITE'), 5_000)
  await Bun.sleep(500)
  await phone.hangup()
  const bye = await carol.waitForRequest('BYE', invite.callId, 10_000)
  carol.respond(bye, 200)

  // Kamailio: challenged baresip's INVITE, then routed the DID to the gateway's registered Contact.
  expect(pbx.challenges()).toContainEqual({ method: 'INVITE', callId: invite.callId })
  expect(pbx.authenticated()).toContainEqual({ method: 'INVITE', callId: invite.callId, user: PHONE.username })
  const contact = trunkContactUri(TRUNK.username, gateway.internals.transport.sentBy('UDP'), 'UDP')
  expect(pbx.routes()).toContainEqual({ kind: 'did', callId: invite.callId, ruri: contact })
  expect(pbx.requests('BYE').some((r) => r.callId === invite.callId)).toBe(true)
})

test('baresip registered at the gateway dials out through the Kamailio trunk', async () => {
  const sipp = await carrier('kam-carrier-desk')
  const desk = await Baresip.start({ user: 'kp-desk', password: PASSWORD, domain: TEST_DOMAIN, gatewayUdpPort: gateway.udpPort, toneHz: 1000 })
  phones.push(desk)
  const before = pbx.routes().length
  await desk.dial(`sip:${DIALED}@${TEST_DOMAIN}`)
  await waitUntil('the carrier answered', () => pbx.replies().some((r) => r.status === 200 && r.method === 'INVITE' && pbx.routes().slice(before).some((x) => x.callId === r.callId)), 10_000)
  await Bun.sleep(1_000)
  await desk.hangup()
  const r = await sipp.finish(10_000)
  expectAllSucceeded(r, 1)
  const invite = readSippTrace(r).find((m) => m.direction === 'received' && m.message.method === 'INVITE')!
  expect(invite.message.requestUri).toBe(`sip:${E164}@127.0.0.1:${uasPort}`)
  expect(invite.message.get('from')).toContain('kp-desk')
  const callId = invite.message.get('call-id')!
  expectChallengedAndAnswered(callId)
})

/** A UAC sending one INVITE without credentials, expecting 403 (then ACK). */
const UAC_EXPECT_403 = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="unauthenticated INVITE to an outside number expects 403">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[domain] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      Max-Forwards: 70
      From: <sip:[caller]@example.org>;tag=[pid]SIPpUac[call_number]
      To: <sip:[service]@[domain]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=[caller] 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 8
      a=rtpmap:0 PCMU/8000
      a=sendrecv

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="403"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[domain] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-4]
      Max-Forwards: 70
      From: <sip:[caller]@example.org>;tag=[pid]SIPpUac[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Content-Length: 0

    ]]>
  </send>
  <pause milliseconds="300"/>
</scenario>
`

test('an unauthenticated INVITE to an outside number from an address that is no trunk gets 403; Kamailio never sees it', async () => {
  const file = join(dir, 'uac-expect-403.xml')
  writeFileSync(file, UAC_EXPECT_403)
  const invitesBefore = pbx.requests('INVITE').length
  const routesBefore = pbx.routes().length
  const remote = `127.0.0.1:${gateway.udpPort}`
  const r = await runSipp({
    name: 'mallory-outside', scenarioFile: file, remote, localPort: await freeUdpPort(), calls: 1,
    service: DIALED, keys: { domain: remote, caller: 'mallory' },
  })
  expectAllSucceeded(r, 1)
  const callId = readSippTrace(r).find((m) => m.direction === 'sent' && m.message.method === 'INVITE')!.message.get('call-id')!
  await Bun.sleep(500)
  expect(pbx.requests().filter((x) => x.callId === callId)).toEqual([])
  expect(pbx.requests('INVITE')).toHaveLength(invitesBefore)
  expect(pbx.routes()).toHaveLength(routesBefore)
  expect((await trunkState()).activeCalls).toBe(0)
})

test('unpermitted or unanswered-challenge calls to outside numbers never reach Kamailio: class internal gets 403, no credentials gets 407', async () => {
  const invitesBefore = pbx.requests('INVITE').length
  // kp-carol is of class internal: authenticated, but not allowed international numbers.
  const carol = await user('kp-carol')
  const { call, challenge } = await carol.inviteWithAuth(`sip:${DIALED}@${TEST_DOMAIN}`, { body: fakeSdp('webrtc', 'offer') })
  expect(challenge?.status).toBe(407)
  const refused = await carol.waitForResponse({ status: 403, method: 'INVITE', callId: call.callId })
  carol.ackNon2xx(call, refused)
  // A request claiming to be kp-alice without credentials is challenged, not routed.
  const anonymous = await WsSipClient.connect({ url: gateway.wsUrl, username: 'kp-alice', password: 'wrong', domain: TEST_DOMAIN })
  clients.push(anonymous)
  const probe = anonymous.startInvite(`sip:${DIALED}@${TEST_DOMAIN}`, { body: fakeSdp('webrtc', 'offer') })
  const challenged = await anonymous.waitForResponse({ status: (s) => s >= 200, method: 'INVITE', callId: probe.callId })
  expect(challenged.status).toBe(407)
  anonymous.ackNon2xx(probe, challenged)
  await Bun.sleep(500)
  expect(pbx.requests('INVITE')).toHaveLength(invitesBefore)
  expect(pbx.requests().filter((x) => x.callId === call.callId || x.callId === probe.callId)).toEqual([])
  expect((await trunkState()).activeCalls).toBe(0)
})

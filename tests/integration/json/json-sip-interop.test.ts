/**
 * One user base, one location service: JSON users call SIP users and are called by them,
 * the gateway owning the JSON leg's dialog (a B2BUA for that leg). Against SIP over WebSocket
 * clients (message by message) and SIPp phones over UDP (real processes), in both directions,
 * plus text messages from SIP to JSON.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { TEST_DOMAIN, startGateway, testConfig, testUsers, userEntry, type RunningGateway } from '../../support/gateway.ts'
import { JsonClient } from '../../support/json-client.ts'
import { WsSipClient, fakeAnswerFor, fakeSdp } from '../../support/ws-sip-client.ts'
import { SIPP_SCENARIOS, expectAllSucceeded, runSipp, sippCsv, startSipp } from '../../support/sipp.ts'
import { freePortRange } from '../../support/ports.ts'
import { PeerSet, requireBinary } from '../../support/processes.ts'

setDefaultTimeout(30_000)

const PASSWORD = 'interop-password'
const ACCOUNTS = testUsers(16, 'ix', PASSWORD)
let nextAccount = 0
const SIPP_CALLEE = { username: 'ix-sipp-callee', password: 'sipp-callee-pw' }
const SIPP_CALLER = { username: 'ix-sipp-caller', password: 'sipp-caller-pw' }
/** A user with a display name in users.yaml (RFC 3325 P-Asserted-Identity carries it). */
const NAMED = { username: 'ix-named', password: 'named-pw', displayName: 'Nadia Named' }

let gateway: RunningGateway
const jsonClients: JsonClient[] = []
const sipClients: WsSipClient[] = []
const peers = new PeerSet()

beforeAll(async () => {
  gateway = await startGateway(testConfig(
    { auth: { algorithms: ['MD5', 'SHA-256'] } },
    { extraUsers: [...ACCOUNTS, userEntry(SIPP_CALLEE.username, SIPP_CALLEE.password), userEntry(SIPP_CALLER.username, SIPP_CALLER.password), userEntry(NAMED.username, NAMED.password, TEST_DOMAIN, NAMED.displayName)] },
  ))
})

afterEach(() => {
  for (const c of jsonClients.splice(0)) c.close()
  for (const c of sipClients.splice(0)) c.close()
})

afterAll(async () => {
  await peers.killAll()
  await gateway?.stop()
})

function account(): string {
  const a = ACCOUNTS[nextAccount++]
  if (!a) throw new Error('json-sip-interop.test.ts: ACCOUNTS exhausted')
  return a.username
}

async function jsonUser(): Promise<{ client: JsonClient; username: string; uri: string }> {
  const username = account()
  const client = await JsonClient.login(gateway.httpUrl, username, PASSWORD)
  jsonClients.push(client)
  return { client, username, uri: `sip:${username}@${TEST_DOMAIN}` }
}

async function sipWsUser(): Promise<{ client: WsSipClient; username: string; uri: string }> {
  const username = account()
  const client = await WsSipClient.connect({ url: gateway.wsUrl, username, password: PASSWORD, domain: TEST_DOMAIN })
  sipClients.push(client)
  const { final } = await client.register()
  expect(final.status, final.raw).toBe(200)
  return { client, username, uri: `sip:${username}@${TEST_DOMAIN}` }
}

describe('JSON <-> SIP over WebSocket', () => {
  test('a JSON user calls a SIP user: 180 -> ringing, 200 -> answered, ACK reaches the callee, its BYE ends the call', async () => {
    const alice = await jsonUser()
    const bob = await sipWsUser()
    alice.client.send({ type: 'call', callId: 'to-sip', to: bob.username, sdp: fakeSdp('webrtc', 'offer') })
    const invite = await bob.client.waitForRequest('INVITE')
    expect(invite.body).toContain('m=audio')
    expect(invite.get('from')).toContain(`sip:${alice.username}@${TEST_DOMAIN}`)
    bob.client.respond(invite, 180)
    await alice.client.next('ringing', (m) => m.callId === 'to-sip')
    bob.client.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
    const answered = await alice.client.next('answered', (m) => m.callId === 'to-sip')
    expect(answered.sdp).toContain('m=audio')
    await bob.client.waitForRequest('ACK', invite.callId)
    bob.client.byeAsCallee(bob.client.incomingCall(invite))
    await bob.client.waitForResponse({ status: 200, method: 'BYE', callId: invite.callId })
    expect(await alice.client.next('ended', (m) => m.callId === 'to-sip')).toMatchObject({ status: 200, cause: 'hangup', by: 'remote' })
  })

  test('a SIP user calls a JSON user: incoming, answer -> 200 with the SDP, the JSON side hangs up with BYE', async () => {
    const alice = await jsonUser()
    const bob = await sipWsUser()
    const offer = fakeSdp('webrtc', 'offer')
    const { call } = await bob.client.inviteWithAuth(alice.uri, { body: offer })
    const incoming = await alice.client.next('incoming')
    expect(incoming.from).toBe(bob.uri)
    expect(incoming.sdp).toContain('a=ice-ufrag')
    await bob.client.waitForResponse({ status: 180, method: 'INVITE', callId: call.callId })
    const answer = fakeAnswerFor(incoming.sdp)
    alice.client.send({ type: 'answer', callId: incoming.callId, sdp: answer })
    const ok = await bob.client.waitForResponse({ status: 200, method: 'INVITE', callId: call.callId })
    expect(ok.body.replace(/\r\n/g, '\n')).toBe(answer.replace(/\r\n/g, '\n'))
    bob.client.ack2xx(call, ok)
    // The ACK stops the gateway's 2xx retransmissions (RFC 3261 §13.3.1.4): no second 200 after T1.
    await Bun.sleep(700)
    expect((await bob.client.collectFor(100, (m) => m.isResponse && m.status === 200 && m.callId === call.callId))).toHaveLength(0)
    alice.client.send({ type: 'hangup', callId: incoming.callId })
    const bye = await bob.client.waitForRequest('BYE', call.callId)
    bob.client.respond(bye, 200)
    expect(await alice.client.next('ended', (m) => m.callId === incoming.callId)).toMatchObject({ status: 200, by: 'local' })
  })

  test('the SIP callee\'s connection drops while it rings: the JSON caller hears 480 at once, not after Timer C', async () => {
    const alice = await jsonUser()
    const bob = await sipWsUser()
    alice.client.send({ type: 'call', callId: 'gone', to: bob.username, sdp: fakeSdp('webrtc', 'offer') })
    const invite = await bob.client.waitForRequest('INVITE')
    bob.client.respond(invite, 180)
    await alice.client.next('ringing', (m) => m.callId === 'gone')
    const closedAt = Date.now()
    bob.client.close()
    expect(await alice.client.next('ended', (m) => m.callId === 'gone', 3_000)).toMatchObject({ status: 480, cause: 'unavailable', by: 'remote' })
    expect(Date.now() - closedAt).toBeLessThan(2_000)
    expect(gateway.internals.proxy.pendingInvites).toBe(0)
  })

  test('a SIP user gets busy from a JSON user who rejects; statuses map both ways', async () => {
    const alice = await jsonUser()
    const bob = await sipWsUser()
    const { call } = await bob.client.inviteWithAuth(alice.uri, { body: fakeSdp('webrtc', 'offer') })
    const incoming = await alice.client.next('incoming')
    alice.client.send({ type: 'reject', callId: incoming.callId, status: 603 })
    const final = await bob.client.waitForResponse({ status: (s) => s >= 300, method: 'INVITE', callId: call.callId })
    expect(final.status).toBe(603)
    bob.client.ackNon2xx(call, final)
    // And the other way: a SIP 486 reaches the JSON caller as busy.
    alice.client.send({ type: 'call', callId: 'busy', to: bob.username, sdp: fakeSdp('webrtc', 'offer') })
    const invite = await bob.client.waitForRequest('INVITE')
    bob.client.respond(invite, 486)
    expect(await alice.client.next('ended', (m) => m.callId === 'busy')).toMatchObject({ status: 486, cause: 'busy', by: 'remote' })
  })

  test('a re-offer the SIP side refuses (488) is reported to the JSON client; the call goes on', async () => {
    const alice = await jsonUser()
    const bob = await sipWsUser()
    alice.client.send({ type: 'call', callId: 'reo', to: bob.username, sdp: fakeSdp('webrtc', 'offer') })
    const invite = await bob.client.waitForRequest('INVITE')
    bob.client.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
    await alice.client.next('answered', (m) => m.callId === 'reo')
    await bob.client.waitForRequest('ACK', invite.callId)
    alice.client.send({ type: 'reoffer', callId: 'reo', sdp: fakeSdp('webrtc', 'offer') })
    const reinvite = await bob.client.waitForRequest('INVITE', invite.callId)
    bob.client.respond(reinvite, 488)
    expect(await alice.client.next('error', (m) => m.callId === 'reo')).toMatchObject({ code: 'offer-refused', status: 488 })
    await bob.client.waitForRequest('ACK', invite.callId) // the gateway ACKs the 488 (hop by hop)
    bob.client.byeAsCallee(bob.client.incomingCall(invite))
    expect(await alice.client.next('ended', (m) => m.callId === 'reo')).toMatchObject({ cause: 'hangup', by: 'remote' })
  })

  test('the callee sees the caller\'s users.yaml name (P-Asserted-Identity), not a name or identity the caller made up', async () => {
    const alice = await jsonUser()
    const named = await WsSipClient.connect({ url: gateway.wsUrl, username: NAMED.username, password: NAMED.password, domain: TEST_DOMAIN, displayName: 'Totally The CEO' })
    sipClients.push(named)
    const { call } = await named.inviteWithAuth(alice.uri, {
      body: fakeSdp('webrtc', 'offer'), headers: [['P-Asserted-Identity', '"The CEO" <sip:ceo@patchbay.test>']],
    })
    const incoming = await alice.client.next('incoming')
    expect(incoming).toMatchObject({ from: `sip:${NAMED.username}@${TEST_DOMAIN}`, displayName: NAMED.displayName })
    alice.client.send({ type: 'reject', callId: incoming.callId, status: 486 })
    const final = await named.waitForResponse({ status: 486, method: 'INVITE', callId: call.callId })
    named.ackNon2xx(call, final)
    // A JSON caller's name travels the same way to a SIP callee.
    const bob = await sipWsUser()
    const carolJson = await JsonClient.login(gateway.httpUrl, 'carol', 'carol-demo')
    jsonClients.push(carolJson)
    carolJson.send({ type: 'call', callId: 'named', to: bob.username, sdp: fakeSdp('webrtc', 'offer') })
    const invite = await bob.client.waitForRequest('INVITE')
    expect(invite.get('p-asserted-identity')).toBe(`"Carol Cooper" <sip:carol@${TEST_DOMAIN}>`)
    bob.client.respond(invite, 486)
    await carolJson.next('ended', (m) => m.callId === 'named')
  })

  test('a SIP MESSAGE reaches a JSON user, and a JSON message reaches a SIP user', async () => {
    const alice = await jsonUser()
    const bob = await sipWsUser()
    const { final } = await bob.client.request('MESSAGE', alice.uri, { body: 'from SIP', contentType: 'text/plain' })
    expect(final.status).toBe(200)
    expect(await alice.client.next('message')).toMatchObject({ from: bob.uri, text: 'from SIP' })
    alice.client.send({ type: 'message', id: 'to-sip', to: bob.username, text: 'from JSON' })
    const msg = await bob.client.waitForRequest('MESSAGE')
    expect(msg.body).toBe('from JSON')
    expect(msg.get('content-type')).toContain('text/plain')
    bob.client.respond(msg, 200)
    expect(await alice.client.next('delivered')).toMatchObject({ id: 'to-sip' })
  })
})

describe('JSON <-> SIPp phones over UDP (media anchored by the gateway)', () => {
  beforeAll(() => {
    requireBinary('sipp', 'sip-tester')
  })

  test('a JSON user calls a SIPp phone: answered, and the caller\'s hang-up is the phone\'s BYE', async () => {
    const remote = `127.0.0.1:${gateway.udpPort}`
    const uasPort = await freePortRange(1)
    const reg = await runSipp({
      name: 'ix-register-callee', scenarioFile: SIPP_SCENARIOS.register, remote, localPort: uasPort, calls: 1,
      keys: { domain: TEST_DOMAIN }, authUri: TEST_DOMAIN, injection: sippCsv([[SIPP_CALLEE.username, SIPP_CALLEE.password]]),
    })
    expectAllSucceeded(reg, 1)
    const uas = await startSipp({ name: 'ix-uas', scenarioFile: SIPP_SCENARIOS.uas, localPort: uasPort, calls: 1, service: SIPP_CALLEE.username })
    peers.add(uas.process)
    const alice = await jsonUser()
    alice.client.send({ type: 'call', callId: 'to-phone', to: SIPP_CALLEE.username, sdp: fakeSdp('webrtc', 'offer') })
    const answered = await alice.client.next('answered', (m) => m.callId === 'to-phone', 10_000)
    // Anchored: the browser side gets the gateway's WebRTC answer, not the phone's RTP one.
    expect(answered.sdp).toContain('UDP/TLS/RTP/SAVPF')
    alice.client.send({ type: 'hangup', callId: 'to-phone' })
    await alice.client.next('ended', (m) => m.callId === 'to-phone')
    expectAllSucceeded(await uas.finish(10_000), 1)
  })

  test('a SIPp phone calls a JSON user: incoming with a WebRTC offer, answered, the phone hangs up', async () => {
    const alice = await jsonUser()
    const remote = `127.0.0.1:${gateway.udpPort}`
    const uacDone = runSipp({
      name: 'ix-uac', scenarioFile: SIPP_SCENARIOS.uacAuth, remote, calls: 1, pauseMs: 300,
      service: alice.username, authUser: SIPP_CALLER.username, authPassword: SIPP_CALLER.password,
      authUri: `${alice.username}@${TEST_DOMAIN}`, keys: { domain: TEST_DOMAIN, caller: SIPP_CALLER.username },
    })
    const incoming = await alice.client.next('incoming', () => true, 10_000)
    expect(incoming.from).toBe(`sip:${SIPP_CALLER.username}@${TEST_DOMAIN}`)
    expect(incoming.sdp).toContain('UDP/TLS/RTP/SAVPF') // the gateway's offer towards the browser
    alice.client.send({ type: 'answer', callId: incoming.callId, sdp: fakeAnswerFor(incoming.sdp) })
    expect(await alice.client.next('ended', (m) => m.callId === incoming.callId, 10_000)).toMatchObject({ cause: 'hangup', by: 'remote' })
    expectAllSucceeded(await uacDone, 1)
  })
})

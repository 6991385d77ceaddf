/**
 * Trickle ICE in JSON signaling (RFC 8838; RFC 8840 over the gateway's SIP legs), over real
 * WebSockets: two trickling JSON clients get each other's candidates as `candidate` messages
 * (full trickle: partial offer and answer at once, candidates by INFO); towards a SIP over
 * WebSocket callee, a UDP phone (SIPp, anchored), or a JSON client that does not trickle, the
 * offer goes complete with the candidates folded in (half trickle), and a SIP caller gets a
 * complete answer from a trickling JSON callee.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { TEST_DOMAIN, startGateway, testConfig, testUsers, userEntry, type RunningGateway } from '../../support/gateway.ts'
import { JsonClient } from '../../support/json-client.ts'
import { WsSipClient, fakeAnswerFor, fakeSdp } from '../../support/ws-sip-client.ts'
import { SIPP_SCENARIOS, expectAllSucceeded, runSipp, sippCsv, startSipp } from '../../support/sipp.ts'
import { freePortRange } from '../../support/ports.ts'
import { PeerSet, requireBinary } from '../../support/processes.ts'

setDefaultTimeout(30_000)

const PASSWORD = 'trickle-password'
const ACCOUNTS = testUsers(24, 'tr', PASSWORD)
const SIPP_CALLEE = { username: 'tr-sipp-callee', password: 'sipp-callee-pw' }
let nextAccount = 0

let gateway: RunningGateway
const jsonClients: JsonClient[] = []
const sipClients: WsSipClient[] = []
const peers = new PeerSet()

beforeAll(async () => {
  gateway = await startGateway(testConfig({ auth: { algorithms: ['MD5', 'SHA-256'] } }, { extraUsers: [...ACCOUNTS, userEntry(SIPP_CALLEE.username, SIPP_CALLEE.password)] }))
})

afterEach(async () => {
  for (const c of jsonClients.splice(0)) c.close()
  for (const c of sipClients.splice(0)) c.close()
})

afterAll(async () => {
  await peers.killAll()
  await gateway?.stop()
})

function account(): string {
  const a = ACCOUNTS[nextAccount++]
  if (!a) throw new Error('json-trickle.test.ts: ACCOUNTS exhausted')
  return a.username
}

async function jsonUser(trickle = true): Promise<{ client: JsonClient; username: string }> {
  const username = account()
  const client = await JsonClient.login(gateway.httpUrl, username, PASSWORD, { trickle })
  jsonClients.push(client)
  return { client, username }
}

async function sipWsUser(): Promise<{ client: WsSipClient; username: string; uri: string }> {
  const username = account()
  const client = await WsSipClient.connect({ url: gateway.wsUrl, username, password: PASSWORD, domain: TEST_DOMAIN })
  sipClients.push(client)
  const { final } = await client.register()
  expect(final.status, final.raw).toBe(200)
  return { client, username, uri: `sip:${username}@${TEST_DOMAIN}` }
}

/** A WebRTC offer or answer as a browser has it right after setLocalDescription: no candidates yet. */
function bareSdp(role: 'offer' | 'answer'): string {
  return fakeSdp('webrtc', role).replace(/^a=candidate:.*\r\n/gm, '').replace('c=IN IP4 127.0.0.1', 'c=IN IP4 0.0.0.0')
}

const hostCandidate = (port: number): string => `candidate:1 1 udp 2122260223 127.0.0.1 ${port} typ host generation 0`
const srflxCandidate = (port: number): string => `candidate:2 1 udp 1686052607 198.51.100.7 ${port} typ srflx raddr 127.0.0.1 rport ${port}`

describe('JSON <-> JSON, both trickling: full trickle', () => {
  test('the partial offer and answer go at once; each side gets the other\'s candidates and end marker as candidate messages', async () => {
    const alice = await jsonUser()
    const bob = await jsonUser()
    alice.client.send({ type: 'call', callId: 'full', to: bob.username, sdp: bareSdp('offer'), trickle: true })
    // No candidate sent yet, and well before the 1 s half-trickle cap: the INVITE did not wait
    // for them (this needs the location service wired into JsonSignalingService: gateway.ts).
    const incoming = await bob.client.next('incoming', () => true, 600)
    expect(incoming.trickle).toBe(true)
    expect(incoming.sdp).not.toContain('a=candidate')
    expect(incoming.sdp).toContain('a=ice-options:trickle')
    await alice.client.next('ringing', (m) => m.callId === 'full')

    // Caller -> callee, in the early dialog (INFO after the 180).
    alice.client.send({ type: 'candidate', callId: 'full', candidate: hostCandidate(50000), sdpMid: '0', sdpMLineIndex: 0 })
    alice.client.send({ type: 'candidate', callId: 'full', candidate: '' })
    const c1 = await bob.client.next('candidate', (m) => m.callId === incoming.callId && m.candidate !== '')
    expect(c1).toMatchObject({ candidate: hostCandidate(50000), sdpMid: '0', sdpMLineIndex: 0 })
    await bob.client.next('candidate', (m) => m.callId === incoming.callId && m.candidate === '')
    // A later candidate (after the end marker) still goes.
    alice.client.send({ type: 'candidate', callId: 'full', candidate: srflxCandidate(50000), sdpMid: '0', sdpMLineIndex: 0 })
    expect(await bob.client.next('candidate', (m) => m.callId === incoming.callId && m.candidate !== '')).toMatchObject({ candidate: srflxCandidate(50000) })

    // Callee -> caller: the answer goes without candidates, then INFOs in the confirmed dialog.
    bob.client.send({ type: 'answer', callId: incoming.callId, sdp: bareSdp('answer'), trickle: true })
    const answered = await alice.client.next('answered', (m) => m.callId === 'full', 3_000)
    expect(answered.sdp).not.toContain('a=candidate')
    bob.client.send({ type: 'candidate', callId: incoming.callId, candidate: hostCandidate(50010), sdpMid: '0', sdpMLineIndex: 0 })
    bob.client.send({ type: 'candidate', callId: incoming.callId, candidate: '' })
    expect(await alice.client.next('candidate', (m) => m.callId === 'full' && m.candidate !== '')).toMatchObject({ candidate: hostCandidate(50010), sdpMid: '0' })
    await alice.client.next('candidate', (m) => m.callId === 'full' && m.candidate === '')

    alice.client.send({ type: 'hangup', callId: 'full' })
    expect(await bob.client.next('ended', (m) => m.callId === incoming.callId)).toMatchObject({ cause: 'hangup', by: 'remote' })
    expect(alice.client.pending('error')).toEqual([])
    expect(bob.client.pending('error')).toEqual([])
  })

  test('two trickling tabs of the callee: both ring at once and each early dialog gets the candidates (forking)', async () => {
    const alice = await jsonUser()
    const bob = await jsonUser()
    const bob2 = await JsonClient.login(gateway.httpUrl, bob.username, PASSWORD, { trickle: true })
    jsonClients.push(bob2)
    alice.client.send({ type: 'call', callId: 'fork', to: bob.username, sdp: bareSdp('offer'), trickle: true })
    const [in1, in2] = await Promise.all([bob.client.next('incoming', () => true, 600), bob2.next('incoming', () => true, 600)])
    await alice.client.next('ringing', (m) => m.callId === 'fork')
    await Bun.sleep(50) // both 180s in: two early dialogs
    alice.client.send({ type: 'candidate', callId: 'fork', candidate: hostCandidate(50070), sdpMid: '0', sdpMLineIndex: 0 })
    expect(await bob.client.next('candidate', (m) => m.callId === in1.callId)).toMatchObject({ candidate: hostCandidate(50070) })
    expect(await bob2.next('candidate', (m) => m.callId === in2.callId)).toMatchObject({ candidate: hostCandidate(50070) })
    bob2.send({ type: 'answer', callId: in2.callId, sdp: bareSdp('answer'), trickle: true })
    await alice.client.next('answered', (m) => m.callId === 'fork')
    expect(await bob.client.next('ended', (m) => m.callId === in1.callId)).toMatchObject({ cause: 'cancelled' })
    alice.client.send({ type: 'hangup', callId: 'fork' })
    await bob2.next('ended', (m) => m.callId === in2.callId)
  })

  test('a callee with a trickling JSON tab and a SIP over WebSocket phone: half trickle, the SIP phone gets a complete INVITE', async () => {
    const alice = await jsonUser()
    const bob = await jsonUser()
    const phone = await WsSipClient.connect({ url: gateway.wsUrl, username: bob.username, password: PASSWORD, domain: TEST_DOMAIN })
    sipClients.push(phone)
    expect((await phone.register()).final.status).toBe(200)
    alice.client.send({ type: 'call', callId: 'mixed', to: bob.username, sdp: bareSdp('offer'), trickle: true })
    alice.client.send({ type: 'candidate', callId: 'mixed', candidate: hostCandidate(50080), sdpMid: '0', sdpMLineIndex: 0 })
    alice.client.send({ type: 'candidate', callId: 'mixed', candidate: '' })
    const invite = await phone.waitForRequest('INVITE')
    expect(invite.body).toContain(`a=${hostCandidate(50080)}`)
    const incoming = await bob.client.next('incoming')
    expect(incoming.sdp).toContain(`a=${hostCandidate(50080)}`)
    phone.respond(invite, 180) // a proxy cancels a branch only after its provisional (RFC 3261 §16.10)
    alice.client.send({ type: 'hangup', callId: 'mixed' })
    const cancel = await phone.waitForRequest('CANCEL', invite.callId)
    phone.respond(cancel, 200)
    phone.respond(invite, 487)
    expect(await alice.client.next('ended', (m) => m.callId === 'mixed')).toMatchObject({ cause: 'cancelled' })
  })

  test('a callee that does not trickle (login without trickle) gets a complete offer: half trickle, candidates folded in', async () => {
    const alice = await jsonUser()
    const carol = await jsonUser(false)
    alice.client.send({ type: 'call', callId: 'half', to: carol.username, sdp: bareSdp('offer'), trickle: true })
    await Bun.sleep(150)
    expect(carol.client.pending('incoming')).toEqual([]) // waits for the end marker
    alice.client.send({ type: 'candidate', callId: 'half', candidate: hostCandidate(50020), sdpMid: '0', sdpMLineIndex: 0 })
    alice.client.send({ type: 'candidate', callId: 'half', candidate: '' })
    const incoming = await carol.client.next('incoming')
    expect(incoming.trickle).toBeUndefined()
    expect(incoming.sdp).toContain(`a=${hostCandidate(50020)}`)
    expect(incoming.sdp).toContain('a=end-of-candidates')
    expect(incoming.sdp).toContain('m=audio 50020 ') // the default candidate
    carol.client.send({ type: 'answer', callId: incoming.callId, sdp: fakeAnswerFor(incoming.sdp) })
    await alice.client.next('answered', (m) => m.callId === 'half')
    expect(carol.client.pending('candidate')).toEqual([])
    alice.client.send({ type: 'hangup', callId: 'half' })
    await carol.client.next('ended', (m) => m.callId === incoming.callId)
  })

  test('hanging up while the half-trickle offer waits sends nothing and ends the call', async () => {
    const alice = await jsonUser()
    const carol = await jsonUser(false)
    alice.client.send({ type: 'call', callId: 'gone', to: carol.username, sdp: bareSdp('offer'), trickle: true })
    alice.client.send({ type: 'hangup', callId: 'gone' })
    expect(await alice.client.next('ended', (m) => m.callId === 'gone')).toMatchObject({ status: 487, cause: 'cancelled', by: 'local' })
    await Bun.sleep(1_200) // past the 1 s cap
    expect(carol.client.pending('incoming')).toEqual([])
  })
})

describe('JSON trickle <-> SIP (no trickle): half trickle', () => {
  test('a SIP over WebSocket callee gets one complete INVITE with the a=candidate lines and a=end-of-candidates', async () => {
    const alice = await jsonUser()
    const bob = await sipWsUser()
    alice.client.send({ type: 'call', callId: 'to-sip', to: bob.username, sdp: bareSdp('offer'), trickle: true })
    expect(await bob.client.collectFor(200, (m) => !m.isResponse && m.method === 'INVITE')).toHaveLength(0)
    alice.client.send({ type: 'candidate', callId: 'to-sip', candidate: hostCandidate(50030), sdpMid: '0', sdpMLineIndex: 0 })
    alice.client.send({ type: 'candidate', callId: 'to-sip', candidate: srflxCandidate(50030), sdpMid: null, sdpMLineIndex: 0 })
    alice.client.send({ type: 'candidate', callId: 'to-sip', candidate: '' })
    const invite = await bob.client.waitForRequest('INVITE')
    expect(invite.body).toContain(`a=${hostCandidate(50030)}\r\n`)
    expect(invite.body).toContain(`a=${srflxCandidate(50030)}\r\n`)
    expect(invite.body).toContain('a=end-of-candidates')
    expect(invite.body).toContain('c=IN IP4 127.0.0.1')
    // A later candidate has nowhere to go (bob takes no trickle-ice INFO): no INFO reaches him.
    bob.client.respond(invite, 180)
    await alice.client.next('ringing', (m) => m.callId === 'to-sip')
    alice.client.send({ type: 'candidate', callId: 'to-sip', candidate: hostCandidate(50031), sdpMid: '0', sdpMLineIndex: 0 })
    expect(await bob.client.collectFor(200, (m) => !m.isResponse && m.method === 'INFO')).toHaveLength(0)
    bob.client.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
    await alice.client.next('answered', (m) => m.callId === 'to-sip')
    await bob.client.waitForRequest('ACK', invite.callId)
    alice.client.send({ type: 'hangup', callId: 'to-sip' })
    const bye = await bob.client.waitForRequest('BYE', invite.callId)
    bob.client.respond(bye, 200)
  })

  test('without the end marker the INVITE goes after the 1 s cap with the candidates so far', async () => {
    const alice = await jsonUser()
    const bob = await sipWsUser()
    alice.client.send({ type: 'call', callId: 'cap', to: bob.username, sdp: bareSdp('offer'), trickle: true })
    alice.client.send({ type: 'candidate', callId: 'cap', candidate: hostCandidate(50040), sdpMid: '0', sdpMLineIndex: 0 })
    const invite = await bob.client.waitForRequest('INVITE', undefined, 3_000)
    expect(invite.body).toContain(`a=${hostCandidate(50040)}`)
    expect(invite.body).not.toContain('a=end-of-candidates')
    bob.client.respond(invite, 486)
    expect(await alice.client.next('ended', (m) => m.callId === 'cap')).toMatchObject({ status: 486, cause: 'busy' })
  })

  test('a SIP caller gets a complete 200 from a trickling JSON callee (candidates folded in)', async () => {
    const alice = await jsonUser()
    const bob = await sipWsUser()
    const { call } = await bob.client.inviteWithAuth(`sip:${alice.username}@${TEST_DOMAIN}`, { body: fakeSdp('webrtc', 'offer') })
    const incoming = await alice.client.next('incoming')
    expect(incoming.trickle).toBeUndefined() // the SIP caller announced no trickle-ice
    alice.client.send({ type: 'answer', callId: incoming.callId, sdp: bareSdp('answer'), trickle: true })
    alice.client.send({ type: 'candidate', callId: incoming.callId, candidate: hostCandidate(50050), sdpMid: '0', sdpMLineIndex: 0 })
    alice.client.send({ type: 'candidate', callId: incoming.callId, candidate: '' })
    const ok = await bob.client.waitForResponse({ status: 200, method: 'INVITE', callId: call.callId })
    expect(ok.body).toContain(`a=${hostCandidate(50050)}`)
    expect(ok.body).toContain('a=end-of-candidates')
    bob.client.ack2xx(call, ok)
    alice.client.send({ type: 'hangup', callId: incoming.callId })
    const bye = await bob.client.waitForRequest('BYE', call.callId)
    bob.client.respond(bye, 200)
  })
})

describe('JSON trickle -> UDP phone (SIPp, media anchored)', () => {
  beforeAll(() => {
    requireBinary('sipp', 'sip-tester')
  })

  test('the anchored call is answered: the media anchor got a complete offer', async () => {
    const remote = `127.0.0.1:${gateway.udpPort}`
    const uasPort = await freePortRange(1)
    const reg = await runSipp({
      name: 'tr-register-callee', scenarioFile: SIPP_SCENARIOS.register, remote, localPort: uasPort, calls: 1,
      keys: { domain: TEST_DOMAIN }, authUri: TEST_DOMAIN, injection: sippCsv([[SIPP_CALLEE.username, SIPP_CALLEE.password]]),
    })
    expectAllSucceeded(reg, 1)
    const uas = await startSipp({ name: 'tr-uas', scenarioFile: SIPP_SCENARIOS.uas, localPort: uasPort, calls: 1, service: SIPP_CALLEE.username })
    peers.add(uas.process)
    const alice = await jsonUser()
    alice.client.send({ type: 'call', callId: 'to-phone', to: SIPP_CALLEE.username, sdp: bareSdp('offer'), trickle: true })
    alice.client.send({ type: 'candidate', callId: 'to-phone', candidate: hostCandidate(50060), sdpMid: '0', sdpMLineIndex: 0 })
    alice.client.send({ type: 'candidate', callId: 'to-phone', candidate: '' })
    const answered = await alice.client.next('answered', (m) => m.callId === 'to-phone', 10_000)
    expect(answered.sdp).toContain('UDP/TLS/RTP/SAVPF')
    expect(alice.client.pending('candidate')).toEqual([])
    alice.client.send({ type: 'hangup', callId: 'to-phone' })
    await alice.client.next('ended', (m) => m.callId === 'to-phone')
    expectAllSucceeded(await uas.finish(10_000), 1)
  })
})

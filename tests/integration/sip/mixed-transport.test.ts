/**
 * Calls that cross transports: a SIPp endpoint on UDP and a raw WebSocket client
 * (RFC 7118). The proxy double Record-Routes such calls (RFC 5658: one entry for the
 * outbound interface, one for the inbound), so that in-dialog requests — the ACK and the
 * BYE — come back through it in both directions, over the right transport.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { TEST_DOMAIN, startGateway, testConfig, userEntry, type RunningGateway } from '../../support/gateway.ts'
import { freePortRange } from '../../support/ports.ts'
import { PeerSet, requireBinary } from '../../support/processes.ts'
import { uriOf, uriParamOf } from '../../support/sip-text.ts'
import { SIPP_SCENARIOS, readSippTrace, runSipp, sippCsv, startSipp, type SippOptions, type SippResult, expectAllSucceeded } from '../../support/sipp.ts'
import { WsSipClient, fakeAnswerFor, fakeSdp } from '../../support/ws-sip-client.ts'

setDefaultTimeout(45_000)

const SIPP_USER = { username: 'udp-phone', password: 'udp-phone-password' }
const WS_USERS = [1, 2, 3, 4].map((i) => ({ username: `ws-phone-${i}`, password: `ws-phone-${i}-password` }))
let nextWsUser = 0

let gateway: RunningGateway
let remote: string
const peers = new PeerSet()
const clients: WsSipClient[] = []

beforeAll(async () => {
  requireBinary('sipp', 'sip-tester')
  gateway = await startGateway(testConfig(
    { auth: { algorithms: ['MD5', 'SHA-256'] } },
    { extraUsers: [SIPP_USER, ...WS_USERS].map((u) => userEntry(u.username, u.password)) },
  ))
  remote = `127.0.0.1:${gateway.udpPort}`
})

afterEach(() => {
  for (const client of clients.splice(0)) client.close()
})

afterAll(async () => {
  await peers.killAll()
  await gateway?.stop()
})

/** A registered WebSocket client for a user no other test uses. */
async function registeredWsClient(): Promise<WsSipClient> {
  const user = WS_USERS[nextWsUser++]
  if (!user) throw new Error('mixed-transport.test.ts: WS_USERS exhausted')
  const client = await WsSipClient.connect({ url: gateway.wsUrl, username: user.username, password: user.password, domain: TEST_DOMAIN })
  clients.push(client)
  const { final } = await client.register()
  expect(final.status, final.raw).toBe(200)
  return client
}

/** SIPp UAC options calling the WebSocket user `callee` as SIPP_USER. */
function uacCalling(callee: WsSipClient, name: string, scenarioFile: string): SippOptions {
  return {
    name, scenarioFile, remote, calls: 1, pauseMs: 200,
    service: callee.options.username, authUser: SIPP_USER.username, authPassword: SIPP_USER.password,
    authUri: `${callee.options.username}@${TEST_DOMAIN}`, keys: { domain: TEST_DOMAIN, caller: SIPP_USER.username },
  }
}

/** The two Record-Route entries of a UDP <-> WS call: one names ws, the other udp. */
function expectDoubleRecordRoute(recordRoute: string[]): void {
  expect(recordRoute.length, JSON.stringify(recordRoute)).toBe(2)
  for (const entry of recordRoute) expect(uriParamOf(uriOf(entry), 'lr'), entry).not.toBeNull()
  const transports = recordRoute.map((entry) => (uriParamOf(uriOf(entry), 'transport') ?? 'udp').toLowerCase()).sort()
  expect(transports).toEqual(['udp', 'ws'])
}

describe('UDP <-> WebSocket calls', () => {
  test('SIPp (UDP) calls a WebSocket client; the caller\'s BYE reaches it through the double Record-Route', async () => {
    const ws = await registeredWsClient()
    const uac = await startSipp(uacCalling(ws, 'uac-to-ws', SIPP_SCENARIOS.uacAuth))
    peers.add(uac.process)

    const invite = await ws.waitForRequest('INVITE', undefined, 10_000)
    expectDoubleRecordRoute(invite.getAll('record-route'))
    expect(invite.requestUri).toBe(ws.contactUri)
    ws.respond(invite, 180)
    ws.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })

    const ack = await ws.waitForRequest('ACK', invite.callId)
    expect(ack.getAll('route'), 'the gateway consumed both of its Route entries').toEqual([])
    const bye = await ws.waitForRequest('BYE', invite.callId, 10_000)
    expect(bye.requestUri).toBe(ws.contactUri)
    expect(bye.getAll('route')).toEqual([])
    ws.respond(bye, 200)

    expectAllSucceeded(await uac.finish(10_000), 1)
  })

  test('SIPp (UDP) calls a WebSocket client; the callee\'s BYE reaches SIPp over UDP', async () => {
    const ws = await registeredWsClient()
    const uac = await startSipp(uacCalling(ws, 'uac-to-ws-callee-bye', SIPP_SCENARIOS.uacAuthCalleeBye))
    peers.add(uac.process)

    const invite = await ws.waitForRequest('INVITE', undefined, 10_000)
    expectDoubleRecordRoute(invite.getAll('record-route'))
    ws.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
    await ws.waitForRequest('ACK', invite.callId)

    ws.byeAsCallee(ws.incomingCall(invite))
    const byeOk = await ws.waitForResponse({ status: 200, callId: invite.callId, method: 'BYE' }, 10_000)
    expect(byeOk.cseq.method).toBe('BYE')

    const result = await uac.finish(10_000)
    expectAllSucceeded(result, 1)
    const received = readSippTrace(result).filter((t) => t.direction === 'received').map((t) => t.message)
    const bye = received.find((m) => m.isRequest && m.method === 'BYE')
    expect(bye, result.summary()).toBeDefined()
    expect(bye!.getAll('route'), 'the gateway consumed both of its Route entries').toEqual([])
  })

  test('a WebSocket client calls SIPp (UDP, registered); the BYE travels WS -> UDP through the double Record-Route', async () => {
    const uasPort = await freePortRange(1)
    const register = await runSipp({
      name: 'register-udp-phone', scenarioFile: SIPP_SCENARIOS.register, remote, localPort: uasPort, calls: 1,
      keys: { domain: TEST_DOMAIN }, authUri: TEST_DOMAIN, injection: sippCsv([[SIPP_USER.username, SIPP_USER.password]]),
    })
    expectAllSucceeded(register, 1)
    const uas = await startSipp({ name: 'uas-udp-phone', scenarioFile: SIPP_SCENARIOS.uas, localPort: uasPort, calls: 1, service: SIPP_USER.username })
    peers.add(uas.process)

    const ws = await registeredWsClient()
    const { call, challenge } = await ws.inviteWithAuth(`sip:${SIPP_USER.username}@${TEST_DOMAIN}`, { body: fakeSdp('webrtc', 'offer') })
    expect(challenge?.status).toBe(407)
    await ws.waitForResponse({ status: 180, callId: call.callId }, 10_000)
    const ok = await ws.waitForResponse({ status: 200, callId: call.callId, method: 'INVITE' }, 10_000)
    expectDoubleRecordRoute(ok.getAll('record-route'))
    ws.ack2xx(call, ok)
    expect(call.routeSet.length).toBe(2)
    ws.byeAsCaller(call)
    await ws.waitForResponse({ status: 200, callId: call.callId, method: 'BYE' }, 10_000)

    const result = await uas.finish(10_000)
    expectAllSucceeded(result, 1)
    const received = readSippTrace(result).filter((t) => t.direction === 'received').map((t) => t.message)
    const invite = received.find((m) => m.isRequest && m.method === 'INVITE')
    expect(invite, result.summary()).toBeDefined()
    expectDoubleRecordRoute(invite!.getAll('record-route'))
    const bye = received.find((m) => m.isRequest && m.method === 'BYE')
    expect(bye, result.summary()).toBeDefined()
    expect(bye!.getAll('route')).toEqual([])
    expect(bye!.callId).toBe(call.callId)
  })
})

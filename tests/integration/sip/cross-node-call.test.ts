/**
 * A call between two gateway nodes sharing the location service in Redis (issue 14 item 2):
 * bob's browser (SIP over WebSocket) is connected to node B only; alice calls him through node
 * A. A finds bob's binding (written by B, with B's route to bob's connection: Binding.nodeRoute,
 * RFC 3327 Path semantics) and sends the INVITE to B with that Route; B pops it and forwards over
 * bob's WebSocket. The answer, the ACK and the BYE follow both nodes' Record-Routes.
 *
 * The nodes listen for SIP on 127.0.0.7 and 127.0.0.8 and trust each other
 * (proxy.trustedSources: a node does not challenge what another node already authenticated);
 * the browsers connect over HTTP on 127.0.0.1, which neither node trusts.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { TEST_DOMAIN, startGateway, testConfig, userEntry, type RunningGateway } from '../../support/gateway.ts'
import { WsSipClient, fakeSdp, fakeAnswerFor } from '../../support/ws-sip-client.ts'
import { startRedis, type RedisPeer } from '../../support/redis.ts'

setDefaultTimeout(30_000)

const ALICE = { username: 'xn-alice', password: 'xn-alice-password' }
const BOB = { username: 'xn-bob', password: 'xn-bob-password' }
const NODE_A = '127.0.0.7'
const NODE_B = '127.0.0.8'

let redis: RedisPeer
let a: RunningGateway
let b: RunningGateway
const clients: WsSipClient[] = []

function node(nodeId: string, host: string, peer: string) {
  return testConfig(
    { sip: { host }, store: { redis: { url: redis.url, nodeId } }, media: { driver: 'none' }, proxy: { trustedSources: [peer] } },
    { extraUsers: [ALICE, BOB].map((u) => userEntry(u.username, u.password)) },
  )
}

beforeAll(async () => {
  redis = await startRedis()
  a = await startGateway(node('node-a', NODE_A, NODE_B))
  b = await startGateway(node('node-b', NODE_B, NODE_A))
})

afterAll(async () => {
  for (const c of clients) c.close()
  await a?.stop()
  await b?.stop()
  await redis?.stop()
})

async function registered(gw: RunningGateway, u: { username: string; password: string }): Promise<WsSipClient> {
  const c = await WsSipClient.connect({ url: gw.wsUrl, username: u.username, password: u.password, domain: TEST_DOMAIN })
  clients.push(c)
  const { final } = await c.register()
  expect(final.status, final.raw).toBe(200)
  return c
}

const BOB_AOR = `sip:${BOB.username}@${TEST_DOMAIN}`

/** Until node A's copy of the location service holds bob's binding over `flowAtB` (and only it). */
async function knownAtA(flowAtB: string): Promise<void> {
  const deadline = Date.now() + 5000
  for (;;) {
    const at = a.internals.location.lookup(BOB_AOR)
    if (at.length === 1 && at[0]!.flowId === `node-b/${flowAtB}`) return
    if (Date.now() > deadline) throw new Error(`node A does not know bob's binding over ${flowAtB}: ${JSON.stringify(at)}`)
    await Bun.sleep(10)
  }
}

test('alice on node A calls bob, whose WebSocket is on node B: INVITE through B, answer, ACK and BYE through both', async () => {
  const bob = await registered(b, BOB)
  const alice = await registered(a, ALICE)
  const aor = BOB_AOR
  await knownAtA(b.internals.location.lookup(aor).find((x) => x.contact === bob.contactUri)!.flowId!)
  const seen = a.internals.location.lookup(aor)[0]!
  expect(seen.node).toBe('node-b')
  expect(seen.nodeRoute).toBe(`<sip:${NODE_B}:${b.udpPort};lr;pb-flow=${seen.flowId!.slice('node-b/'.length)}>`)

  const { call, challenge } = await alice.inviteWithAuth(bob.aor, { body: fakeSdp('webrtc', 'offer') })
  expect(challenge?.status, 'node A challenges its own user').toBe(407)
  const invite = await bob.waitForRequest('INVITE', call.callId)
  expect(invite.requestUri).toBe(bob.contactUri)
  expect(invite.getAll('route')).toEqual([])
  const vias = invite.getAll('via')
  expect(vias[0]).toContain(`${NODE_B}:`)
  expect(vias[1]).toContain(`${NODE_A}:${a.udpPort}`)

  bob.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
  const ok = await alice.waitForResponse({ status: 200, method: 'INVITE', callId: call.callId })
  const rr = ok.getAll('record-route').join(',')
  expect(rr).toContain(NODE_A)
  expect(rr).toContain(NODE_B)
  alice.ack2xx(call, ok)
  await bob.waitForRequest('ACK', call.callId)
  alice.byeAsCaller(call)
  const bye = await bob.waitForRequest('BYE', call.callId)
  bob.respond(bye, 200)
  await alice.waitForResponse({ status: 200, method: 'BYE', callId: call.callId })
  bob.close()
  alice.close()
})

test('bob hangs up from node B: his BYE reaches alice through both nodes', async () => {
  const bob = await registered(b, BOB)
  const alice = await registered(a, ALICE)
  // His first page's binding left with its WebSocket; node A knows only the new one.
  await knownAtA(b.internals.location.lookup(BOB_AOR).find((x) => x.contact === bob.contactUri)!.flowId!)
  const { call } = await alice.inviteWithAuth(bob.aor, { body: fakeSdp('webrtc', 'offer') })
  const invite = await bob.waitForRequest('INVITE', call.callId)
  bob.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
  const ok = await alice.waitForResponse({ status: 200, method: 'INVITE', callId: call.callId })
  alice.ack2xx(call, ok)
  await bob.waitForRequest('ACK', call.callId)
  bob.byeAsCallee(bob.incomingCall(invite))
  const bye = await alice.waitForRequest('BYE', call.callId)
  alice.respond(bye, 200)
  await bob.waitForResponse({ status: 200, method: 'BYE', callId: call.callId })
})

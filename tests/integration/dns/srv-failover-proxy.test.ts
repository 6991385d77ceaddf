/**
 * RFC 3263 through the gateway (issue 13, item 4): an authenticated user dials a SIP URI of
 * another domain; the gateway looks the domain up in a real DNS server (dnsmasq: SRV records
 * for two SIPp servers, priority 10 and 20) and fails over to the second server when the first
 * answers 503 (§4.3) — or when nothing listens there. A domain with no records gets 404 with
 * the reason, instead of failing silently.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { TEST_DOMAIN, startGateway, testConfig, testUsers, type RunningGateway } from '../../support/gateway.ts'
import { WsSipClient, fakeSdp } from '../../support/ws-sip-client.ts'
import { startSrvFailoverPeers, type SrvFailoverPeers } from '../../support/srv-failover.ts'
import { startDnsmasq, type Dnsmasq } from '../../support/dnsmasq.ts'
import { expectAllSucceeded, readSippTrace } from '../../support/sipp.ts'

setDefaultTimeout(40_000)

const PASSWORD = 'srv-password'
const USERS = testUsers(3, 'srv', PASSWORD)
const stops: Array<() => Promise<unknown>> = []
let next = 0

afterAll(async () => {
  for (const s of stops.reverse()) await s()
})

async function gatewayWith(dnsServer: string): Promise<RunningGateway> {
  const g = await startGateway(testConfig({ dns: { servers: [dnsServer], timeoutMs: 500, tries: 1 } }, { extraUsers: USERS, shortTimers: true }))
  stops.push(() => g.stop())
  return g
}

async function caller(g: RunningGateway): Promise<WsSipClient> {
  const u = USERS[next++]!
  const c = await WsSipClient.connect({ url: g.wsUrl, username: u.username, password: PASSWORD, domain: TEST_DOMAIN })
  stops.push(async () => c.close())
  expect((await c.register()).final.status).toBe(200)
  return c
}

async function callThrough(g: RunningGateway, peers: SrvFailoverPeers): Promise<void> {
  const alice = await caller(g)
  const { call } = await alice.inviteWithAuth(peers.uri, { body: fakeSdp('rtp', 'offer') })
  const ok = await alice.waitForResponse({ status: 200, method: 'INVITE', callId: call.callId }, 15_000)
  alice.ack2xx(call, ok)
  await Bun.sleep(100)
  alice.byeAsCaller(call)
  await alice.waitForResponse({ status: 200, method: 'BYE', callId: call.callId })
  const backup = await peers.backup.finish(10_000)
  expectAllSucceeded(backup, 1)
  const invite = readSippTrace(backup).find((m) => m.direction === 'received' && m.message.method === 'INVITE')
  expect(invite?.message.requestUri).toBe(peers.uri)
}

test('SRV priority 10 answers 503: the call goes to the priority 20 server', async () => {
  const peers = await startSrvFailoverPeers({ primary: '503' })
  stops.push(() => peers.stop())
  const g = await gatewayWith(peers.dns.server)
  await callThrough(g, peers)
  expectAllSucceeded(await peers.primary!.finish(10_000), 1)
})

test('nothing listens at SRV priority 10: the call still reaches the priority 20 server', async () => {
  const peers = await startSrvFailoverPeers({ primary: 'absent' })
  stops.push(() => peers.stop())
  const g = await gatewayWith(peers.dns.server)
  await callThrough(g, peers)
})

test('a domain without records: 404 with the reason, nothing sent', async () => {
  const dns: Dnsmasq = await startDnsmasq({ domain: 'empty.test', srv: [], hosts: [] })
  stops.push(() => dns.stop())
  const g = await gatewayWith(dns.server)
  const alice = await caller(g)
  const { call } = await alice.inviteWithAuth('sip:bob@nowhere.empty.test', { body: fakeSdp('rtp', 'offer') })
  const final = await alice.waitForResponse({ status: (s) => s >= 300, method: 'INVITE', callId: call.callId }, 10_000)
  expect(final.status).toBe(404)
  expect(final.reason).toMatch(/No Route/)
  alice.ackNon2xx(call, final)
})

/**
 * Trunks to static peers and the dial plan, with real SIPp "PBXs" and "carriers" on loopback
 * (issue 13): a browser-side user (SIP over WebSocket) dials an international number that
 * leaves through the first carrier, which answers 503, and is answered by the second (serial
 * forking, RFC 3263 §4.3 style failover), rewritten to E.164 with the trunk's asserted
 * identity (RFC 3325) and only the codecs it allows; a user whose class is too low gets 403 and nothing leaves the gateway;
 * a PBX on a trunk (recognised by source address) calls a DID that rings a user, an unknown
 * DID gets 404, and a trusted PBX transits to another PBX trunk. A reload routes the next call
 * by the new dial plan.
 *
 * Trunk peers listen on 127.0.0.1 (their ports tell them apart); the PBX that calls in sends
 * from 127.0.0.2, so the users' WebSockets from 127.0.0.1 are never mistaken for a trunk.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { GatewayConfig } from '../../../gateway/src/config/schema.ts'
import { TEST_DOMAIN, startGateway, testConfigFromFolder, userEntry, type RunningGateway } from '../../support/gateway.ts'
import { WsSipClient, fakeSdp, fakeAnswerFor } from '../../support/ws-sip-client.ts'
import { SIPP_SCENARIOS, uasRejectScenario, readSippTrace, runSipp, startSipp, expectAllSucceeded, type SippPeer } from '../../support/sipp.ts'
import { freePortRange } from '../../support/ports.ts'

setDefaultTimeout(60_000)

const PASSWORD = 'trunk-test-password'
const USERS = ['tr-alice', 'tr-bob', 'tr-carol']
const PBX_ADDRESS = '127.0.0.2'

let dir: string
let gateway: RunningGateway
let ports: number[]
const clients: WsSipClient[] = []

function yaml(value: unknown): string {
  return Bun.YAML.stringify(value, null, 2)
}

/** trunks.yaml + dialplan.yaml + users.yaml in `dir`, loaded like the gateway does, ports 0. */
function writeConfig(outbound: unknown[]): GatewayConfig {
  writeFileSync(join(dir, 'users.yaml'), yaml({ users: USERS.map((u) => userEntry(u, PASSWORD)) }))
  writeFileSync(join(dir, 'trunks.yaml'), yaml({
    trunks: [
      { name: 'carrier-a', type: 'peer', host: '127.0.0.1', port: ports[0], qualifySeconds: 0, inbound: { addresses: ['127.0.0.11'] } },
      {
        name: 'carrier-b', type: 'peer', host: '127.0.0.1', port: ports[1], qualifySeconds: 0, inbound: { addresses: ['127.0.0.12'] },
        callerId: { number: '+4930999000', name: 'ACME Ltd' }, fromDomain: 'acme.example', codecs: ['PCMA'],
      },
      { name: 'pbx-a', type: 'peer', host: PBX_ADDRESS, port: ports[2], qualifySeconds: 0, trusted: true, class: 'national', inbound: { addresses: [PBX_ADDRESS] } },
      { name: 'pbx-b', type: 'peer', host: '127.0.0.1', port: ports[3], qualifySeconds: 0, inbound: { addresses: ['127.0.0.13'] } },
    ],
  }))
  writeFileSync(join(dir, 'dialplan.yaml'), yaml({
    classes: ['internal', 'national', 'international'],
    defaultClass: 'internal',
    userClasses: { 'tr-alice': 'international', 'tr-bob': 'national' },
    numbering: { countryCode: '49', nationalPrefix: '0', internationalPrefix: '00' },
    outbound,
    inbound: [{ name: 'main-number', trunk: 'pbx-a', did: ['+4930777'], user: 'tr-carol' }],
  }))
  return testConfigFromFolder(dir)
}

const RULES = [
  { name: 'international', prefix: ['00'], minLength: 6, class: 'international', e164: true, trunks: ['carrier-a', 'carrier-b'] },
  { name: 'office-b', prefix: ['7'], maxLength: 4, class: 'national', trunks: ['pbx-b'] },
]

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'patchbay-trunks-'))
  ports = [await freePortRange(1), await freePortRange(1), await freePortRange(1), await freePortRange(1)]
  gateway = await startGateway(writeConfig(RULES))
})

afterAll(async () => {
  for (const c of clients) c.close()
  await gateway?.stop()
  rmSync(dir, { recursive: true, force: true })
})

async function user(name: string): Promise<WsSipClient> {
  const c = await WsSipClient.connect({ url: gateway.wsUrl, username: name, password: PASSWORD, domain: TEST_DOMAIN })
  clients.push(c)
  const { final } = await c.register()
  expect(final.status, final.raw).toBe(200)
  return c
}

function carrier(name: string, scenarioFile: string, port: number, keys?: Record<string, string>): Promise<SippPeer> {
  return startSipp({ name, scenarioFile, localPort: port, calls: 1, ...(keys ? { keys } : {}) })
}

test('a user whose class is too low gets 403 for an international number; nothing leaves the gateway', async () => {
  const bob = await user('tr-bob')
  const { call } = await bob.inviteWithAuth(`sip:0044207946000@${TEST_DOMAIN}`, { body: fakeSdp('webrtc', 'offer') })
  const final = await bob.waitForResponse({ status: 403, method: 'INVITE', callId: call.callId })
  bob.ackNon2xx(call, final)
  expect(gateway.internals.routing.trunks().activeCalls('carrier-a')).toBe(0)
})

test('international call: carrier-a answers 503, carrier-b takes it, E.164 number and the trunk\'s asserted identity', async () => {
  const a = await carrier('carrier-a-503', uasRejectScenario(503, 'Service Unavailable'), ports[0]!)
  const b = await carrier('carrier-b', SIPP_SCENARIOS.uas, ports[1]!)
  const alice = await user('tr-alice')
  const { call } = await alice.inviteWithAuth(`sip:0044207946000@${TEST_DOMAIN}`, { body: fakeSdp('webrtc', 'offer') })
  const ok = await alice.waitForResponse({ status: 200, method: 'INVITE', callId: call.callId }, 10_000)
  alice.ack2xx(call, ok)
  expect(gateway.internals.routing.trunks().activeCalls('carrier-b')).toBe(1)
  alice.byeAsCaller(call)
  await alice.waitForResponse({ status: 200, method: 'BYE', callId: call.callId })
  expect(gateway.internals.routing.trunks().activeCalls('carrier-b')).toBe(0)

  const ra = await a.finish(10_000)
  expectAllSucceeded(ra, 1)
  const rb = await b.finish(10_000)
  expectAllSucceeded(rb, 1)
  const inviteA = readSippTrace(ra).find((m) => m.direction === 'received' && m.message.requestUri !== undefined && m.message.method === 'INVITE')
  const inviteB = readSippTrace(rb).find((m) => m.direction === 'received' && m.message.method === 'INVITE')
  expect(inviteA?.message.requestUri).toBe(`sip:+44207946000@127.0.0.1:${ports[0]}`)
  expect(inviteB?.message.requestUri).toBe(`sip:+44207946000@127.0.0.1:${ports[1]}`)
  expect(inviteB?.message.getAll('p-asserted-identity')).toEqual(['"ACME Ltd" <sip:+4930999000@acme.example>'])
  // The browser's offer is anchored (WebRTC -> plain RTP: PCMU and PCMA); carrier-b allows
  // PCMA only and gets no other voice codec, carrier-a (no list) gets both.
  expect(inviteB?.message.body).toMatch(/^m=audio \d+ RTP\/AVP 8\r?$/m)
  expect(inviteA?.message.body).toMatch(/^m=audio \d+ RTP\/AVP 0 8\r?$/m)
  expect(inviteB?.message.get('proxy-authorization'), 'the user\'s credentials for the gateway are not forwarded').toBeUndefined()
})

test('a PBX on a trunk calls a DID: it rings the user it maps to; an unknown DID gets 404', async () => {
  const carol = await user('tr-carol')
  const uacPort = await freePortRange(1)
  const remote = `127.0.0.1:${gateway.udpPort}`
  const pbx = runSipp({
    name: 'pbx-a-did', scenarioFile: SIPP_SCENARIOS.uacTrunk, remote, localPort: uacPort, calls: 1, pauseMs: 200,
    service: '+4930777', keys: { domain: remote, caller: 'pbx-a' }, extraArgs: ['-i', PBX_ADDRESS],
  })
  const invite = await carol.waitForRequest('INVITE', undefined, 10_000)
  expect(invite.requestUri).toBe(carol.contactUri)
  carol.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
  const bye = await carol.waitForRequest('BYE', invite.callId, 10_000)
  carol.respond(bye, 200)
  expectAllSucceeded(await pbx, 1)

  const unknown = await runSipp({
    name: 'pbx-a-unknown-did', scenarioFile: SIPP_SCENARIOS.uacExpect404, remote, localPort: uacPort, calls: 1,
    service: '+4930000', keys: { domain: remote, caller: 'pbx-a' }, extraArgs: ['-i', PBX_ADDRESS],
  })
  expectAllSucceeded(unknown, 1)
})

test('a trusted PBX transits to another PBX trunk; after a reload the same number goes elsewhere', async () => {
  const remote = `127.0.0.1:${gateway.udpPort}`
  const pbxB = await carrier('pbx-b', SIPP_SCENARIOS.uas, ports[3]!)
  const uacPort = await freePortRange(1)
  const call = await runSipp({
    name: 'pbx-a-to-b', scenarioFile: SIPP_SCENARIOS.uacTrunk, remote, localPort: uacPort, calls: 1, pauseMs: 200,
    service: '7001', keys: { domain: remote, caller: 'pbx-a' }, extraArgs: ['-i', PBX_ADDRESS],
  })
  expectAllSucceeded(call, 1)
  const rb = await pbxB.finish(10_000)
  expectAllSucceeded(rb, 1)
  expect(readSippTrace(rb).find((m) => m.direction === 'received' && m.message.method === 'INVITE')?.message.requestUri).toBe(`sip:7001@127.0.0.1:${ports[3]}`)

  // The operator edits the dial plan: 7xxx now rings carol; a reload applies it to the next call.
  const restart = gateway.reload(writeConfig([{ name: 'office-b', prefix: ['7'], maxLength: 4, user: 'tr-carol' }, RULES[0]]))
  expect(restart).toEqual([])
  const carol = await user('tr-carol')
  const again = runSipp({
    name: 'pbx-a-to-carol', scenarioFile: SIPP_SCENARIOS.uacTrunk, remote, localPort: uacPort, calls: 1, pauseMs: 200,
    service: '7001', keys: { domain: remote, caller: 'pbx-a' }, extraArgs: ['-i', PBX_ADDRESS],
  })
  const invite = await carol.waitForRequest('INVITE', undefined, 10_000)
  carol.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
  const bye = await carol.waitForRequest('BYE', invite.callId, 10_000)
  carol.respond(bye, 200)
  expectAllSucceeded(await again, 1)
})

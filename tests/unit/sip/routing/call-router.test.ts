/**
 * CallRouter (sip/routing/call-router.ts) over the real DialPlan and TrunkRegistry, a fake
 * DNS locator and an empty location service: which trunk first, what fails over to what, the
 * trunk's credentials after its 401/407, caps and down trunks skipped, refusals.
 */
import { describe, expect, test } from 'bun:test'
import { DialPlan } from '../../../../gateway/src/sip/dialplan/dial-plan.ts'
import type { TrunkDefinition } from '../../../../gateway/src/sip/dialplan/trunk-definition.ts'
import type { DnsLocator, LocatedServer } from '../../../../gateway/src/sip/dns/dns-locator.ts'
import { TrunkRegistry } from '../../../../gateway/src/sip/trunks/trunk-registry.ts'
import type { TrunkStatus } from '../../../../gateway/src/sip/trunks/trunk-status.ts'
import { CallRouter, type RoutedCall } from '../../../../gateway/src/sip/routing/call-router.ts'
import { NextHopResolver } from '../../../../gateway/src/sip/routing/next-hop-resolver.ts'
import { LocationService } from '../../../../gateway/src/sip/registrar/location-service.ts'
import { SipRequest, SipResponse } from '../../../../gateway/src/sip/message/sip-message.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import { fixturePlan } from '../dialplan/plan-fixture.ts'

function trunk(name: string, host: string, extra: Partial<TrunkDefinition> = {}): TrunkDefinition {
  return {
    name, type: 'peer', host, port: 5060, transport: 'udp', register: false, expires: 600, codecs: [], maxCalls: 0,
    qualifySeconds: 0, inbound: { addresses: [] }, trusted: false, ...extra,
  }
}

/** Every host resolves to two servers: .1 and .2 of its own /24 (an SRV pair). */
const locator: DnsLocator = {
  locate: async (uri) => (await locator.resolve(uri)).servers,
  resolve: async (uri) => {
    const servers: LocatedServer[] = [1, 2].map((n) => ({ transport: 'UDP', address: uri.host.replace(/\.\d+$/, `.${n}`), port: 5060, target: uri.host }))
    return { servers, reason: null, steps: [] }
  },
}

function setup(live: Record<string, TrunkStatus> = {}, trunks: TrunkDefinition[] = [
  trunk('carrier-a', '198.51.100.10', { credentials: { authUsername: 'acct', password: 'secret' } }),
  trunk('carrier-b', '203.0.113.10', { maxCalls: 1 }),
]) {
  const scheduler = new FakeScheduler()
  const location = new LocationService({ scheduler })
  const registry = new TrunkRegistry({ trunks, locator, scheduler, liveStatus: (n) => live[n] })
  const router = new CallRouter({
    dialPlan: () => new DialPlan(fixturePlan()), trunks: () => registry, location,
    nextHop: new NextHopResolver({ flow: () => undefined, location }), locator, domain: 'patchbay.test',
  })
  return { router, registry }
}

function invite(callId = 'c1'): SipRequest {
  return new SipRequest('INVITE', 'sip:0044207946000@patchbay.test', [
    { name: 'via', value: 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1' },
    { name: 'from', value: '<sip:alice@patchbay.test>;tag=a' },
    { name: 'to', value: '<sip:0044207946000@patchbay.test>' },
    { name: 'call-id', value: callId },
    { name: 'cseq', value: '1 INVITE' },
  ])
}

function response(status: number, headers: Array<{ name: string; value: string }> = []): SipResponse {
  return new SipResponse(status, 'x', [{ name: 'to', value: '<sip:x@y>;tag=t' }, ...headers])
}

async function forward(r: RoutedCall | Promise<RoutedCall>) {
  const routed = await r
  if (routed.kind !== 'forward') throw new Error(`expected forward, got ${routed.status} ${routed.reason}`)
  return routed
}

describe('CallRouter: trunks', () => {
  test('first trunk, first server; 503 -> its second server; then the next trunk; 486 stops', async () => {
    const { router, registry } = setup()
    const r = await forward(router.route(invite(), { kind: 'user', username: 'alice' }, '0044207946000'))
    expect(r.direction).toBe('outbound')
    expect(r.rule).toBe('international')
    expect(r.targets.map((t) => [t.requestUri, t.destination.address, t.trunk])).toEqual([['sip:+44207946000@198.51.100.10:5060', '198.51.100.1', 'carrier-a']])
    const first = r.targets[0]!
    const next1 = await r.onFailure!(response(503), [{ target: first, status: 503, response: response(503) }])
    expect(next1!.map((t) => t.destination.address)).toEqual(['198.51.100.2'])
    const next2 = await r.onFailure!(response(408), [{ target: next1![0]!, status: 408, response: null }])
    expect(next2!.map((t) => [t.destination.address, t.trunk])).toEqual([['203.0.113.1', 'carrier-b']])
    expect(registry.activeCalls('carrier-b')).toBe(1)
    expect(registry.activeCalls('carrier-a')).toBe(0)
    expect(await r.onFailure!(response(486), [{ target: next2![0]!, status: 486, response: response(486) }])).toBeNull()
    expect(registry.activeCalls('carrier-b')).toBe(0)
  })

  test('a 407 from a trunk with credentials: the same server again, once, with Proxy-Authorization', async () => {
    const { router } = setup()
    const r = await forward(router.route(invite(), { kind: 'user', username: 'alice' }, '0044207946000'))
    const challenge = response(407, [{ name: 'proxy-authenticate', value: 'Digest realm="carrier.example", nonce="n1", qop="auth", algorithm=MD5' }])
    const retry = await r.onFailure!(challenge, [{ target: r.targets[0]!, status: 407, response: challenge }])
    expect(retry).toHaveLength(1)
    expect(retry![0]!.destination.address).toBe('198.51.100.1')
    const auth = retry![0]!.headers!.find((h) => h.name === 'proxy-authorization')!.value
    expect(auth).toContain('username="acct"')
    expect(auth).toContain('realm="carrier.example"')
    expect(retry![0]!.answers).toBe(challenge)
    // A second 407 on the same trunk: the trunk refused the account; the next trunk is tried
    // and the refused challenge is withdrawn too.
    const again = response(407, [{ name: 'proxy-authenticate', value: 'Digest realm="carrier.example", nonce="n2", algorithm=MD5' }])
    const next = await r.onFailure!(again, [{ target: retry![0]!, status: 407, response: again }])
    expect(next!.map((t) => [t.trunk, t.answers])).toEqual([['carrier-b', again]])
  })

  test('a trunk that is down and a trunk at its cap are skipped; none left: 503', async () => {
    const down: TrunkStatus = { name: 'carrier-a', state: 'down', detail: '3 OPTIONS unanswered', since: 0 }
    const { router, registry } = setup({ 'carrier-a': down })
    const r = await forward(router.route(invite('c1'), { kind: 'user', username: 'alice' }, '0044207946000'))
    expect(r.targets[0]!.trunk).toBe('carrier-b')
    expect(registry.activeCalls('carrier-b')).toBe(1)
    const refused = await router.route(invite('c2'), { kind: 'user', username: 'alice' }, '0044207946000')
    expect(refused.kind === 'refuse' && [refused.status, refused.reason]).toEqual([503, 'No Trunk Available'])
  })

  test('refusals: a class too low 403, anonymous callers never reach a trunk, an unknown number 404', async () => {
    const { router } = setup()
    const bob = await router.route(invite(), { kind: 'user', username: 'bob' }, '0044207946000')
    expect(bob.kind === 'refuse' && bob.status).toBe(403)
    const anon = await router.route(invite(), { kind: 'anonymous' }, '0044207946000')
    expect(anon.kind === 'refuse' && anon.status).toBe(403)
    const unknown = await router.route(invite(), { kind: 'user', username: 'alice' }, '7')
    expect(unknown.kind === 'refuse' && unknown.status).toBe(404)
  })

  test('a DID on a trunk to a user with no binding: 480', async () => {
    const { router } = setup()
    const r = await router.route(invite(), { kind: 'trunk', trunk: 'carrier-a' }, '+493012345610')
    expect(r.kind === 'refuse' && r.status).toBe(480)
  })
})

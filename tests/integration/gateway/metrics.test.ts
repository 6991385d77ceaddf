/**
 * GET /metrics as a Prometheus server reads it: the exposition is parsed with a real
 * text-format parser (parse-prometheus-text-format), every family has HELP and TYPE, and the
 * numbers follow real traffic over SIP over WebSocket: a failed digest, a call set up and
 * hung up (the setup-time and transaction-duration histograms), bindings and transactions.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import parsePrometheus from 'parse-prometheus-text-format'
import { TEST_DOMAIN, startGateway, testConfig, testUsers, type RunningGateway } from '../../support/gateway.ts'
import { WsSipClient, fakeAnswerFor, fakeSdp } from '../../support/ws-sip-client.ts'

setDefaultTimeout(30_000)

const PASSWORD = 'metrics-test-password'
const ACCOUNTS = testUsers(2, 'metrics', PASSWORD)

interface Family {
  name: string
  help: string
  type: string
  metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }>
}

let gateway: RunningGateway
const clients: WsSipClient[] = []

beforeAll(async () => {
  gateway = await startGateway(testConfig({}, { extraUsers: ACCOUNTS }))
})

afterAll(async () => {
  for (const c of clients) c.close()
  await gateway?.stop()
})

async function scrape(): Promise<{ contentType: string | null; families: Map<string, Family> }> {
  const res = await fetch(`${gateway.httpUrl}/metrics`)
  expect(res.status).toBe(200)
  const families = parsePrometheus(await res.text()) as Family[]
  return { contentType: res.headers.get('content-type'), families: new Map(families.map((f) => [f.name, f])) }
}

function value(f: Family | undefined, labels: Record<string, string> = {}): number {
  const m = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v))
  return m?.value === undefined ? NaN : Number(m.value)
}

async function client(i: number, password = PASSWORD): Promise<WsSipClient> {
  const c = await WsSipClient.connect({ url: gateway.wsUrl, username: ACCOUNTS[i]!.username, password, domain: TEST_DOMAIN })
  clients.push(c)
  return c
}

describe('GET /metrics (Prometheus text format)', () => {
  test('parses with a real parser; every family has HELP and TYPE; counters, gauges and histograms follow the traffic', async () => {
    const before = await scrape()
    expect(before.contentType).toContain('text/plain')
    for (const f of before.families.values()) {
      expect(f.help.length, `${f.name} has HELP`).toBeGreaterThan(0)
      expect(['COUNTER', 'GAUGE', 'HISTOGRAM'], `${f.name} has a TYPE`).toContain(f.type)
    }
    for (const name of [
      'patchbay_sip_messages_received_total', 'patchbay_sip_auth_failures_total', 'patchbay_sip_bans_total',
      'patchbay_sip_requests_refused_total', 'patchbay_sip_send_errors_total', 'patchbay_sip_transactions',
      'patchbay_sip_registrar_bindings', 'patchbay_media_anchored_dialogs', 'patchbay_sip_call_setup_seconds',
      'patchbay_sip_transaction_duration_seconds',
    ]) expect(before.families.has(name), name).toBe(true)
    expect(before.families.get('patchbay_sip_call_setup_seconds')!.type).toBe('HISTOGRAM')
    const authFailuresBefore = value(before.families.get('patchbay_sip_auth_failures_total'))

    // A wrong password: one failed digest attempt.
    const intruder = await client(0, 'not-the-password')
    const wrong = await intruder.register()
    expect(wrong.final.status).not.toBe(200)

    // A call between two registered WebSocket users, answered and hung up.
    const alice = await client(0)
    const bob = await client(1)
    expect((await alice.register()).final.status).toBe(200)
    expect((await bob.register()).final.status).toBe(200)
    const { call } = await alice.inviteWithAuth(bob.aor, { body: fakeSdp('webrtc', 'offer') })
    const invite = await bob.waitForRequest('INVITE', call.callId)
    bob.respond(invite, 180)
    bob.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
    const ok = await alice.waitForResponse({ status: 200, callId: call.callId, method: 'INVITE' })
    alice.ack2xx(call, ok)
    alice.byeAsCaller(call)
    const bye = await bob.waitForRequest('BYE', call.callId)
    bob.respond(bye, 200)
    await alice.waitForResponse({ status: 200, callId: call.callId, method: 'BYE' })

    // 48 OPTIONS health checks over the WebSocket: their transactions end at once (reliable
    // transport, Timer J = 0), enough for the one-in-16 lifetime sample to see several.
    for (let i = 0; i < 48; i++) expect((await alice.request('OPTIONS', `sip:${TEST_DOMAIN}`)).final.status).toBe(200)

    const after = await scrape()
    expect(value(after.families.get('patchbay_sip_auth_failures_total'))).toBeGreaterThan(authFailuresBefore)
    expect(value(after.families.get('patchbay_sip_registrar_bindings'))).toBeGreaterThanOrEqual(2)
    expect(value(after.families.get('patchbay_sip_messages_received_total'))).toBeGreaterThan(value(before.families.get('patchbay_sip_messages_received_total')))
    const setup = after.families.get('patchbay_sip_call_setup_seconds')!.metrics[0]
    expect(Number(setup?.count), 'one answered INVITE observed').toBeGreaterThanOrEqual(1)
    expect(Number(setup?.sum)).toBeGreaterThan(0)
    expect(Number(setup?.buckets?.['+Inf'])).toBe(Number(setup?.count))
    const tx = after.families.get('patchbay_sip_transaction_duration_seconds')!.metrics[0]
    expect(Number(tx?.count), 'one transaction in 16 is sampled: at least 3 of the 48 OPTIONS').toBeGreaterThanOrEqual(3)
    expect(Number(tx?.buckets?.['+Inf'])).toBe(Number(tx?.count))
  })
})

import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { setLogSink } from '../../../../gateway/src/base/log.ts'
import { RegistrationClient, trunkContactUri, type RegistrationClientOptions } from '../../../../gateway/src/sip/trunks/registration-client.ts'
import { DigestAuthenticator } from '../../../../gateway/src/sip/auth/digest-authenticator.ts'
import { ha1 } from '../../../../gateway/src/sip/auth/digest.ts'
import { parseCredentials } from '../../../../gateway/src/sip/auth/parse-credentials.ts'
import type { TrunkStatus } from '../../../../gateway/src/sip/trunks/trunk-status.ts'
import { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter } from '../../../../gateway/src/sip/trunks/retry-backoff.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import { FakeUac } from './fake-uac.ts'

let prevSink: (line: string) => void
beforeAll(() => { prevSink = setLogSink(() => undefined) })
afterAll(() => { setLogSink(prevSink) })

const REALM = 'pbx.example'
const CONTACT = 'sip:carrier@192.0.2.10:5060'

function setup(over: Partial<RegistrationClientOptions> = {}, password = 'secret') {
  const scheduler = new FakeScheduler()
  const uac = new FakeUac()
  const registrar = new DigestAuthenticator({
    realm: REALM, scheduler, nonceLifetime: 3600, algorithms: ['SHA-256', 'MD5'],
    lookupUser: (u) => (u === '1001' ? { username: u, ha1: ha1('MD5', u, REALM, 'secret'), ha1Sha256: ha1('SHA-256', u, REALM, 'secret') } : undefined),
  })
  const changes: TrunkStatus[] = []
  const client = new RegistrationClient({
    name: 'carrier', transactions: uac, scheduler,
    destination: { transport: 'UDP', address: '192.0.2.1', port: 5060 },
    sentBy: () => ({ host: '192.0.2.10', port: 5060 }),
    registrarUri: 'sip:pbx.example', aor: 'sip:1001@pbx.example', contactUri: CONTACT, expires: 120,
    credentials: { username: '1001', password }, random: () => 0,
    onChange: (s) => changes.push(s),
    ...over,
  })
  /** The registrar's side: challenge a request without valid credentials, else 200 granting `granted`. */
  const answer = (granted = 60) => {
    const req = uac.last.request
    const r = registrar.verify(req, { proxy: false })
    if (!r.ok) {
      const ch = registrar.challenge(req, { proxy: false, ...(r.reason === 'stale-nonce' ? { stale: true } : {}) })
      uac.last.handler.onResponse(ch, uac.last.tx)
      return 401
    }
    uac.respond(200, [{ name: 'contact', value: `<${CONTACT}>;expires=${granted}` }])
    return 200
  }
  return { scheduler, uac, client, changes, answer, registrar }
}

describe('RegistrationClient', () => {
  test('REGISTER, 401, REGISTER with credentials, 200: registered with the granted expiry; same Call-ID, CSeq + 1, new branch', () => {
    const { uac, client, answer, scheduler } = setup()
    client.start()
    expect(client.state).toMatchObject({ state: 'registering', attempts: 1 })
    const first = uac.last.request
    expect(first.method).toBe('REGISTER')
    expect(first.uri).toBe('sip:pbx.example')
    expect(first.get('authorization')).toBeUndefined()
    expect(first.get('contact')).toBe(`<${CONTACT}>`)
    expect(first.get('expires')).toBe('120')
    expect(first.get('to')).toBe('<sip:1001@pbx.example>')
    expect(first.get('via')).toMatch(/^SIP\/2\.0\/UDP 192\.0\.2\.10:5060;branch=z9hG4bK-t\d+;rport$/)
    expect(answer()).toBe(401)
    const second = uac.last.request
    expect(uac.sent).toHaveLength(2)
    expect(second.get('call-id')).toBe(first.get('call-id')!)
    expect(second.cseq.seq).toBe(first.cseq.seq + 1)
    expect(second.topVia.branch).not.toBe(first.topVia.branch)
    expect(parseCredentials(second.get('authorization')!)).toMatchObject({ username: '1001', realm: REALM, algorithm: 'SHA-256', qop: 'auth', nc: '00000001' })
    expect(answer(60)).toBe(200)
    const now = scheduler.unixSeconds()
    expect(client.state).toEqual({ state: 'registered', lastStatus: 200, lastReason: 'OK', expiresAt: now + 60, nextAttemptAt: now + 30, attempts: 0 })
    expect(client.status).toMatchObject({ name: 'carrier', state: 'registered', lastStatus: 200, expiresAt: now + 60 })
  })

  test('refreshes at half a short interval, reusing the challenge (nc 2), with the next CSeq', () => {
    const { uac, client, answer, scheduler } = setup()
    client.start()
    answer()
    answer(60)
    scheduler.advance(29_999)
    expect(uac.sent).toHaveLength(2)
    scheduler.advance(1)
    expect(uac.sent).toHaveLength(3)
    expect(client.state).toMatchObject({ state: 'registered', attempts: 1 }) // a refresh in flight
    const refresh = uac.last.request
    expect(refresh.cseq.seq).toBe(3)
    expect(parseCredentials(refresh.get('authorization')!)?.nc).toBe('00000002')
    expect(answer(60)).toBe(200) // accepted without a new challenge
    expect(client.state.state).toBe('registered')
  })

  test('refreshes 30 s ahead of a long interval, honouring what the registrar granted over what was asked', () => {
    const { uac, client, answer, scheduler } = setup({ expires: 3600 })
    client.start()
    answer()
    answer(1800)
    expect(client.state.expiresAt).toBe(scheduler.unixSeconds() + 1800)
    scheduler.advance(1769_999)
    expect(uac.sent).toHaveLength(2)
    scheduler.advance(1)
    expect(uac.sent).toHaveLength(3)
  })

  test('without our Contact in the 2xx the Expires header gives the interval', () => {
    const { uac, client, scheduler } = setup({ credentials: undefined })
    client.start()
    uac.respond(200, [{ name: 'contact', value: '<sip:other@192.0.2.99>;expires=999' }, { name: 'expires', value: '40' }])
    expect(client.state.expiresAt).toBe(scheduler.unixSeconds() + 40)
  })

  test('a wrong password: the second 401 fails the attempt, retried after 2 s, 4 s, 8 s ... capped at 300 s', () => {
    const { uac, client, answer, scheduler, changes } = setup({}, 'wrong')
    client.start()
    expect(answer()).toBe(401)
    expect(answer()).toBe(401)
    const now = scheduler.unixSeconds()
    expect(client.state).toEqual({ state: 'failed', lastStatus: 401, lastReason: 'Unauthorized', expiresAt: null, nextAttemptAt: now + 2, attempts: 1 })
    expect(changes.at(-1)).toMatchObject({ state: 'failed', lastStatus: 401, nextAttemptAt: now + 2 })
    const delays: number[] = []
    for (let i = 0; i < 10; i++) {
      const before = uac.sent.length
      const t0 = scheduler.now()
      while (uac.sent.length === before) scheduler.advance(1000)
      delays.push(scheduler.now() - t0)
      answer()
      answer()
    }
    expect(delays).toEqual([2000, 4000, 8000, 16000, 32000, 64000, 128000, 256000, 300000, 300000])
    expect(client.state.attempts).toBe(11)
  })

  test('a 403 fails at once (no credentials were asked for)', () => {
    const { uac, client } = setup()
    client.start()
    uac.respond(403)
    expect(client.state).toMatchObject({ state: 'failed', lastStatus: 403, lastReason: 'Forbidden' })
    expect(uac.sent).toHaveLength(1)
  })

  test('timeout counts as 408, a transport error as 503; both back off', () => {
    const { uac, client, scheduler } = setup()
    client.start()
    uac.last.handler.onTimeout(uac.last.tx)
    expect(client.state).toMatchObject({ state: 'failed', lastStatus: 408, nextAttemptAt: scheduler.unixSeconds() + 2 })
    scheduler.advance(2000)
    expect(client.state.state).toBe('registering')
    uac.last.handler.onTransportError(uac.last.tx)
    expect(client.state).toMatchObject({ state: 'failed', lastStatus: 503, lastReason: 'Transport Error', nextAttemptAt: scheduler.unixSeconds() + 4 })
  })

  test('503 with Retry-After: the next attempt after that many seconds', () => {
    const { uac, client, scheduler } = setup()
    client.start()
    uac.respond(503, [{ name: 'retry-after', value: '120 (maintenance)' }])
    expect(client.state).toMatchObject({ state: 'failed', lastStatus: 503, nextAttemptAt: scheduler.unixSeconds() + 120 })
    scheduler.advance(119_999)
    expect(uac.sent).toHaveLength(1)
    scheduler.advance(1)
    expect(uac.sent).toHaveLength(2)
  })

  test('423 Interval Too Brief: again at once with Min-Expires, kept for later REGISTERs', () => {
    const { uac, client, answer } = setup({ expires: 30 })
    client.start()
    uac.respond(423, [{ name: 'min-expires', value: '600' }])
    expect(uac.sent).toHaveLength(2)
    expect(uac.last.request.get('expires')).toBe('600')
    answer()
    expect(uac.last.request.get('expires')).toBe('600')
    expect(answer(600)).toBe(200)
    expect(client.state.state).toBe('registered')
  })

  test('a 423 without a usable Min-Expires fails', () => {
    const { uac, client } = setup()
    client.start()
    uac.respond(423)
    expect(client.state).toMatchObject({ state: 'failed', lastStatus: 423 })
  })

  test('a stale nonce on the answered request is answered once more', () => {
    const { uac, client, answer, scheduler } = setup()
    client.start()
    answer()
    answer(60)
    // The refresh reuses a nonce the registrar now calls stale: challenged again, answered.
    scheduler.advance(30_000)
    uac.respond(401, [{ name: 'www-authenticate', value: `Digest realm="${REALM}", nonce="n2", algorithm=MD5, qop="auth"` }])
    expect(uac.sent).toHaveLength(4)
    uac.respond(401, [{ name: 'www-authenticate', value: `Digest realm="${REALM}", nonce="n3", algorithm=MD5, qop="auth", stale=true` }])
    expect(uac.sent).toHaveLength(5)
    expect(parseCredentials(uac.last.request.get('authorization')!)?.nonce).toBe('n3')
    uac.respond(401, [{ name: 'www-authenticate', value: `Digest realm="${REALM}", nonce="n4", algorithm=MD5, qop="auth", stale=true` }])
    expect(client.state).toMatchObject({ state: 'failed', lastStatus: 401 })
  })

  test('a 407 is answered in Proxy-Authorization', () => {
    const { uac, client } = setup()
    client.start()
    uac.respond(407, [{ name: 'proxy-authenticate', value: 'Digest realm="proxy.example", nonce="p1"' }])
    const creds = parseCredentials(uac.last.request.get('proxy-authorization')!)
    expect(creds).toMatchObject({ realm: 'proxy.example', nonce: 'p1', algorithm: 'MD5' })
    expect(creds?.qop).toBeUndefined()
  })

  test('stop() unregisters with Expires: 0 and leaves no timer', async () => {
    const { uac, client, answer, scheduler } = setup()
    client.start()
    answer()
    answer(60)
    const stopped = client.stop()
    const unreg = uac.last.request
    expect(unreg.get('expires')).toBe('0')
    expect(unreg.get('contact')).toBe(`<${CONTACT}>`)
    expect(unreg.get('authorization')).toBeDefined()
    uac.respond(200)
    await stopped
    expect(client.state).toMatchObject({ state: 'unregistered', expiresAt: null, nextAttemptAt: null })
    expect(scheduler.pendingCount).toBe(0)
  })

  test('stop() gives up on an unanswered un-REGISTER after 4 s; stop() when never started sends nothing', async () => {
    const { uac, client, answer, scheduler } = setup()
    client.start()
    answer()
    answer(60)
    const stopped = client.stop()
    scheduler.advance(4000)
    await stopped
    expect(client.state.state).toBe('unregistered')
    expect(uac.last.tx.terminated).toBe(true)
    const b = setup()
    await b.client.stop()
    expect(b.uac.sent).toHaveLength(0)
  })

  test('a destination resolver that fails counts as a transport error', () => {
    const { client } = setup({ destination: () => { throw new Error('NXDOMAIN') } })
    client.start()
    expect(client.state).toMatchObject({ state: 'failed', lastStatus: 503 })
  })

  test('trunkContactUri names the trunk in the user part', () => {
    expect(trunkContactUri('carrier', { host: '192.0.2.10', port: 5060 }, 'UDP')).toBe('sip:carrier@192.0.2.10:5060')
    expect(trunkContactUri('my trunk', { host: 'gw.example', port: 5070 }, 'TCP')).toBe('sip:my%20trunk@gw.example:5070;transport=tcp')
    expect(trunkContactUri('t', { host: 'gw.example', port: 5061 }, 'TLS')).toBe('sips:t@gw.example:5061')
  })
})

describe('retry-backoff', () => {
  test('doubles from 2 s to the 300 s cap; jitter only shortens', () => {
    expect([1, 2, 3, 9, 50].map((n) => backoffDelay(DEFAULT_RETRY_POLICY, n, () => 0))).toEqual([2000, 4000, 8000, 300000, 300000])
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 1, () => 0.999)).toBeGreaterThanOrEqual(1600)
    expect(backoffDelay(DEFAULT_RETRY_POLICY, 50, () => 0.5)).toBe(270000)
  })

  test('parseRetryAfter reads delta-seconds and ignores comments and parameters', () => {
    expect(parseRetryAfter('18000;duration=3600')).toBe(18000)
    expect(parseRetryAfter('120 (I\'m in a meeting)')).toBe(120)
    expect(parseRetryAfter('soon')).toBeNull()
    expect(parseRetryAfter(undefined)).toBeNull()
  })
})

import { describe, expect, spyOn, test } from 'bun:test'
import { DigestAuthenticator } from '../../../../gateway/src/sip/auth/digest-authenticator.ts'
import * as digest from '../../../../gateway/src/sip/auth/digest.ts'
import { digestResponse, ha1, type DigestAlgorithm } from '../../../../gateway/src/sip/auth/digest.ts'
import { parseCredentials } from '../../../../gateway/src/sip/auth/parse-credentials.ts'
import { AUTH_FAILURES } from '../../../../gateway/src/sip/auth/auth-errors.ts'
import { SipRequest, type SipResponse } from '../../../../gateway/src/sip/message/sip-message.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import type { UserEntry } from '../../../../gateway/src/config/schema.ts'

const REALM = 'patchbay.test'

function user(username: string, password: string): UserEntry {
  return { username, ha1: ha1('MD5', username, REALM, password), ha1Sha256: ha1('SHA-256', username, REALM, password) }
}

const USERS = new Map([['alice', user('alice', 'alice-demo')], ['bob', user('bob', 'bob-demo')]])

function setup(algorithms: DigestAlgorithm[] = ['SHA-256', 'MD5'], lifetime = 300) {
  const scheduler = new FakeScheduler()
  const auth = new DigestAuthenticator({
    realm: REALM,
    lookupUser: (u) => USERS.get(u),
    scheduler,
    nonceLifetime: lifetime,
    algorithms,
  })
  return { scheduler, auth }
}

function register(extra: [string, string][] = [], uri = 'sip:patchbay.test'): SipRequest {
  return new SipRequest('REGISTER', uri, [
    { name: 'via', value: 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1' },
    { name: 'from', value: '<sip:alice@patchbay.test>;tag=a1' },
    { name: 'to', value: '<sip:alice@patchbay.test>' },
    { name: 'call-id', value: 'c1@127.0.0.1' },
    { name: 'cseq', value: '1 REGISTER' },
    ...extra.map(([name, value]) => ({ name, value })),
  ])
}

interface Challenge {
  realm: string
  nonce: string
  opaque: string
  algorithm: string
  qop: string
  stale?: string
}

function challenges(res: SipResponse, proxy = false): Challenge[] {
  return res.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate').map((v) => {
    const c = parseCredentials(v)
    if (c === null) throw new Error(`unreadable challenge ${v}`)
    return c.params as unknown as Challenge
  })
}

/** What a UAC sends back (RFC 7616 §3.4), computed from the password. */
function answer(ch: Challenge, o: { username: string; password: string; method?: string; uri?: string; nc?: number; algorithm?: string; qop?: boolean; response?: string }): string {
  const alg = (o.algorithm ?? ch.algorithm) as DigestAlgorithm
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0')
  const cnonce = 'c0ffee42'
  const uri = o.uri ?? 'sip:patchbay.test'
  const withQop = o.qop ?? true
  const response = o.response ?? digestResponse({
    algorithm: alg,
    ha1: ha1(alg, o.username, ch.realm, o.password),
    nonce: ch.nonce,
    nc: withQop ? nc : undefined,
    cnonce: withQop ? cnonce : undefined,
    qop: withQop ? 'auth' : null,
    method: o.method ?? 'REGISTER',
    uri,
  })
  const q = withQop ? `, qop=auth, nc=${nc}, cnonce="${cnonce}"` : ''
  return `Digest username="${o.username}", realm="${ch.realm}", nonce="${ch.nonce}", uri="${uri}", response="${response}", algorithm=${alg}, opaque="${ch.opaque}"${q}`
}

function firstChallenge(auth: DigestAuthenticator, alg: string, proxy = false): Challenge {
  const ch = challenges(auth.challenge(register(), { proxy }), proxy).find((c) => c.algorithm === alg)
  if (!ch) throw new Error(`no ${alg} challenge`)
  return ch
}

describe('challenge', () => {
  test('401 with one WWW-Authenticate per algorithm, SHA-256 first, qop="auth", shared fresh nonce, To tag', () => {
    const { auth } = setup()
    const res = auth.challenge(register(), { proxy: false })
    expect(res.status).toBe(401)
    expect(res.reason).toBe('Unauthorized')
    const chs = challenges(res)
    expect(chs.map((c) => c.algorithm)).toEqual(['SHA-256', 'MD5'])
    for (const c of chs) {
      expect(c.realm).toBe(REALM)
      expect(c.qop).toBe('auth')
      expect(c.opaque.length).toBeGreaterThan(0)
      expect(c.stale).toBeUndefined()
      expect(auth.nonces.check(c.nonce).ok).toBe(true)
    }
    expect(chs[0]!.nonce).toBe(chs[1]!.nonce)
    expect(res.get('www-authenticate')).toMatch(/algorithm=SHA-256/) // unquoted token (RFC 7616 §3.3)
    expect(res.get('to')).toMatch(/;tag=[0-9a-f]+$/)
    expect(res.get('call-id')).toBe('c1@127.0.0.1')
    expect(res.has('proxy-authenticate')).toBe(false)
    const again = challenges(auth.challenge(register(), { proxy: false }))
    expect(again[0]!.nonce).not.toBe(chs[0]!.nonce)
  })

  test('proxy: 407 with Proxy-Authenticate; stale=true when asked', () => {
    const { auth } = setup(['MD5'])
    const res = auth.challenge(register(), { proxy: true, stale: true, toTag: 'xyz' })
    expect(res.status).toBe(407)
    expect(res.has('www-authenticate')).toBe(false)
    const chs = challenges(res, true)
    expect(chs).toHaveLength(1)
    expect(chs[0]!.algorithm).toBe('MD5')
    expect(chs[0]!.stale).toBe('true')
    expect(res.get('to')).toBe('<sip:alice@patchbay.test>;tag=xyz')
  })
})

describe('verify', () => {
  test('no credentials -> challenge (401 / 407)', () => {
    const { auth } = setup()
    expect(auth.verify(register(), { proxy: false })).toMatchObject({ ok: false, status: 401, failure: 'no-credentials' })
    expect(auth.verify(register(), { proxy: true })).toMatchObject({ ok: false, status: 407, failure: 'no-credentials' })
  })

  test('success with SHA-256 and with MD5', () => {
    const { auth } = setup()
    for (const alg of ['SHA-256', 'MD5']) {
      const ch = firstChallenge(auth, alg)
      const req = register([['authorization', answer(ch, { username: 'alice', password: 'alice-demo' })]])
      expect(auth.verify(req, { proxy: false })).toEqual({ ok: true, username: 'alice' })
    }
  })

  test('proxy authentication reads Proxy-Authorization only', () => {
    const { auth } = setup()
    const ch = firstChallenge(auth, 'MD5', true)
    const value = answer(ch, { username: 'bob', password: 'bob-demo' })
    expect(auth.verify(register([['authorization', value]]), { proxy: true })).toMatchObject({ ok: false, status: 407, failure: 'no-credentials' })
    expect(auth.verify(register([['proxy-authorization', value]]), { proxy: true })).toEqual({ ok: true, username: 'bob' })
  })

  test('wrong password -> challenge again, reason "wrong password", not stale', () => {
    const { auth } = setup()
    const ch = firstChallenge(auth, 'MD5')
    const r = auth.verify(register([['authorization', answer(ch, { username: 'alice', password: 'guess' })]]), { proxy: false })
    expect(r).toMatchObject({ ok: false, status: 401, reason: 'wrong password', failure: 'wrong-password', stale: false, username: 'alice' })
  })

  test('unknown user -> challenge again, reason "unknown user"', () => {
    const { auth } = setup()
    const ch = firstChallenge(auth, 'MD5')
    const r = auth.verify(register([['authorization', answer(ch, { username: 'mallory', password: 'x' })]]), { proxy: false })
    expect(r).toMatchObject({ ok: false, status: 401, reason: 'unknown user', failure: 'unknown-user' })
  })

  test('no enumeration: an unknown user and a wrong password get the same outcome (only the log reason differs)', () => {
    const { auth } = setup()
    const ch = firstChallenge(auth, 'MD5')
    const unknown = auth.verify(register([['authorization', answer(ch, { username: 'mallory', password: 'x' })]]), { proxy: false })
    const wrong = auth.verify(register([['authorization', answer(ch, { username: 'alice', password: 'x', nc: 2 })]]), { proxy: false })
    const strip = (r: ReturnType<typeof auth.verify>) => {
      const { reason: _r, failure: _f, username: _u, ...rest } = r as Record<string, unknown>
      return rest
    }
    expect(strip(unknown)).toEqual(strip(wrong))
    expect(strip(unknown)).toEqual({ ok: false, status: 401, stale: false })
    expect(AUTH_FAILURES['unknown-user']).toEqual({ ...AUTH_FAILURES['wrong-password'], reason: 'unknown user' })
    // As a proxy (407) too.
    const pch = firstChallenge(auth, 'MD5', true)
    const pUnknown = auth.verify(register([['proxy-authorization', answer(pch, { username: 'mallory', password: 'x' })]]), { proxy: true })
    const pWrong = auth.verify(register([['proxy-authorization', answer(pch, { username: 'bob', password: 'x', nc: 2 })]]), { proxy: true })
    expect(strip(pUnknown)).toEqual(strip(pWrong))
    expect(strip(pUnknown)).toEqual({ ok: false, status: 407, stale: false })
  })

  test('no enumeration by timing: an unknown user takes the digest path of a known one (one response computed and compared)', () => {
    const { auth } = setup()
    const ch = firstChallenge(auth, 'SHA-256')
    // Built before the spies: answer() computes its response with the same functions.
    const wrong = register([['authorization', answer(ch, { username: 'alice', password: 'x' })]])
    const unknown = register([['authorization', answer(ch, { username: 'mallory', password: 'x', nc: 2 })]])
    const compute = spyOn(digest, 'digestResponse')
    const compare = spyOn(digest, 'hexDigestEquals')
    try {
      auth.verify(wrong, { proxy: false })
      expect([compute.mock.calls.length, compare.mock.calls.length]).toEqual([1, 1])
      auth.verify(unknown, { proxy: false })
      expect([compute.mock.calls.length, compare.mock.calls.length]).toEqual([2, 2])
      // With an HA1 of the right length for the algorithm (SHA-256: 64 hex digits), so the hash costs the same.
      const unknownInput = compute.mock.calls[1]![0]
      expect(unknownInput.algorithm).toBe('SHA-256')
      expect(unknownInput.ha1).toMatch(/^[0-9a-f]{64}$/)
      expect(unknownInput.ha1).not.toBe(USERS.get('alice')!.ha1Sha256)
    } finally {
      compute.mockRestore()
      compare.mockRestore()
    }
  })

  test('no enumeration by timing, measured: unknown user and wrong password take the same time (medians within 15 %; the old early return was 30 % faster)', () => {
    const { auth } = setup(['MD5'])
    const ch = firstChallenge(auth, 'MD5')
    // Fresh nc each time keeps every request on the full path; the nonce stays valid.
    let nc = 1
    const N = 6000
    const reqs = Array.from({ length: 2 * N }, (_, i) =>
      register([['authorization', answer(ch, { username: i % 2 === 0 ? 'mallory' : 'alice', password: 'x', nc: nc++ })]]))
    for (let i = 0; i < 1000; i++) auth.verify(reqs[i]!, { proxy: false }) // warm up (counts already used: still the full path)
    // Interleaved one by one, so that both kinds see the same machine load; medians ignore GC pauses.
    const unknown: number[] = []
    const wrong: number[] = []
    for (let i = 0; i < reqs.length; i++) {
      const t0 = performance.now()
      auth.verify(reqs[i]!, { proxy: false })
      const dt = performance.now() - t0
      if (i % 2 === 0) unknown.push(dt)
      else wrong.push(dt)
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
    const ratio = median(unknown) / median(wrong)
    console.log(`verify() per request (median of ${N}): unknown user ${(median(unknown) * 1000).toFixed(2)} µs, wrong password ${(median(wrong) * 1000).toFixed(2)} µs, ratio ${ratio.toFixed(3)}`)
    expect(ratio).toBeGreaterThan(0.85)
    expect(ratio).toBeLessThan(1.18)
  })

  test('stale nonce after its lifetime: challenge with stale=true, but only for a right digest', () => {
    const { auth, scheduler } = setup(['SHA-256', 'MD5'], 300)
    const ch = firstChallenge(auth, 'SHA-256')
    const good = register([['authorization', answer(ch, { username: 'alice', password: 'alice-demo' })]])
    const bad = register([['authorization', answer(ch, { username: 'alice', password: 'nope', nc: 2 })]])
    scheduler.advance(301_000)
    expect(auth.verify(good, { proxy: false })).toMatchObject({ ok: false, status: 401, failure: 'stale-nonce', stale: true })
    expect(auth.verify(bad, { proxy: false })).toMatchObject({ ok: false, failure: 'wrong-password', stale: false })
    // The client retries on the stale=true challenge with a fresh nonce and succeeds.
    const res = auth.challenge(good, { proxy: false, stale: true })
    expect(res.get('www-authenticate')).toMatch(/stale=true/)
    const fresh = challenges(res)[0]!
    expect(auth.verify(register([['authorization', answer(fresh, { username: 'alice', password: 'alice-demo' })]]), { proxy: false }).ok).toBe(true)
  })

  test('nonce-count replay rejected; a higher count on the same nonce is accepted', () => {
    const { auth } = setup()
    const ch = firstChallenge(auth, 'MD5')
    const first = register([['authorization', answer(ch, { username: 'alice', password: 'alice-demo', nc: 1 })]])
    expect(auth.verify(first, { proxy: false }).ok).toBe(true)
    expect(auth.verify(first, { proxy: false })).toMatchObject({ ok: false, status: 401, failure: 'nc-replay', stale: true })
    const second = register([['authorization', answer(ch, { username: 'alice', password: 'alice-demo', nc: 2 })]])
    expect(auth.verify(second, { proxy: false }).ok).toBe(true)
    expect(auth.verify(second, { proxy: false }).ok).toBe(false)
  })

  test('RFC 2617 client without qop: accepted once per nonce', () => {
    const { auth } = setup()
    const ch = firstChallenge(auth, 'MD5')
    const req = register([['authorization', answer(ch, { username: 'bob', password: 'bob-demo', qop: false })]])
    expect(auth.verify(req, { proxy: false })).toEqual({ ok: true, username: 'bob' })
    expect(auth.verify(req, { proxy: false })).toMatchObject({ ok: false, failure: 'nc-replay', stale: true })
  })

  test('unknown scheme (RFC 4475 regaut01) is ignored -> challenge', () => {
    const { auth } = setup()
    const r = auth.verify(register([['authorization', 'NoOneKnowsThisScheme opaque-data=here']]), { proxy: false })
    expect(r).toMatchObject({ ok: false, status: 401, failure: 'no-credentials', reason: 'no credentials' })
  })

  test('credentials for another realm are ignored; ours among several are found', () => {
    const { auth } = setup()
    const ch = firstChallenge(auth, 'MD5')
    const other = answer({ ...ch, realm: 'elsewhere.example' }, { username: 'alice', password: 'alice-demo' })
    expect(auth.verify(register([['authorization', other]]), { proxy: false })).toMatchObject({ failure: 'no-credentials' })
    const ours = answer(ch, { username: 'alice', password: 'alice-demo' })
    expect(auth.verify(register([['authorization', other], ['authorization', ours]]), { proxy: false }).ok).toBe(true)
  })

  test('digest uri not the Request-URI -> 400', () => {
    const { auth } = setup()
    const ch = firstChallenge(auth, 'MD5')
    const value = answer(ch, { username: 'alice', password: 'alice-demo', uri: 'sip:other.example' })
    const r = auth.verify(register([['authorization', value]]), { proxy: false })
    expect(r).toMatchObject({ ok: false, status: 400, failure: 'uri-mismatch' })
    // Scheme/host case differences are the same resource.
    const ch2 = firstChallenge(auth, 'MD5')
    const v2 = answer(ch2, { username: 'alice', password: 'alice-demo', uri: 'SIP:PATCHBAY.TEST' })
    expect(auth.verify(register([['authorization', v2]]), { proxy: false }).ok).toBe(true)
  })

  test('a nonce we did not issue -> challenge (bad nonce), never stale', () => {
    const { auth } = setup()
    const ch = firstChallenge(auth, 'MD5')
    const forged = { ...ch, nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v' }
    const r = auth.verify(register([['authorization', answer(forged, { username: 'alice', password: 'alice-demo' })]]), { proxy: false })
    expect(r).toMatchObject({ ok: false, status: 401, failure: 'bad-nonce', stale: false })
  })

  test('an algorithm not offered -> challenge', () => {
    const { auth } = setup(['MD5'])
    const ch = firstChallenge(auth, 'MD5')
    const r = auth.verify(register([['authorization', answer(ch, { username: 'alice', password: 'alice-demo', algorithm: 'SHA-256' })]]), { proxy: false })
    expect(r).toMatchObject({ ok: false, status: 401, failure: 'unsupported-algorithm' })
  })

  test('missing parameters or a bad nc -> 400 malformed', () => {
    const { auth } = setup()
    const ch = firstChallenge(auth, 'MD5')
    const noNonce = `Digest username="alice", realm="${REALM}", uri="sip:patchbay.test", response="00000000000000000000000000000000"`
    expect(auth.verify(register([['authorization', noNonce]]), { proxy: false })).toMatchObject({ status: 400, failure: 'malformed-credentials' })
    const badNc = answer(ch, { username: 'alice', password: 'alice-demo' }).replace('nc=00000001', 'nc=1')
    expect(auth.verify(register([['authorization', badNc]]), { proxy: false })).toMatchObject({ status: 400, failure: 'malformed-credentials' })
    const authInt = answer(ch, { username: 'alice', password: 'alice-demo' }).replace('qop=auth', 'qop=auth-int')
    expect(auth.verify(register([['authorization', authInt]]), { proxy: false })).toMatchObject({ status: 401, failure: 'unsupported-qop' })
  })

  test('a response computed for another method fails (A2 covers the method)', () => {
    const { auth } = setup()
    const ch = firstChallenge(auth, 'MD5')
    const value = answer(ch, { username: 'alice', password: 'alice-demo', method: 'INVITE' })
    expect(auth.verify(register([['authorization', value]]), { proxy: false })).toMatchObject({ failure: 'wrong-password' })
  })

  test('results never carry the digest response or an HA1', () => {
    const { auth } = setup()
    const ch = firstChallenge(auth, 'MD5')
    const value = answer(ch, { username: 'alice', password: 'guess' })
    const sent = parseCredentials(value)!.response!
    const r = auth.verify(register([['authorization', value]]), { proxy: false })
    const text = JSON.stringify(r)
    expect(text).not.toContain(sent)
    expect(text).not.toContain(USERS.get('alice')!.ha1)
    expect(text).not.toContain(USERS.get('alice')!.ha1Sha256)
  })
})

describe('errors table', () => {
  test('every failure maps to a challenge or to 400/403 with a reason', () => {
    for (const [failure, o] of Object.entries(AUTH_FAILURES)) {
      expect(o.reason.length).toBeGreaterThan(0)
      if (o.kind === 'reject') expect([400, 403]).toContain(o.status)
      else expect(typeof o.stale).toBe('boolean')
      expect(failure).toMatch(/^[a-z-]+$/)
    }
    expect(AUTH_FAILURES['uri-mismatch']).toMatchObject({ kind: 'reject', status: 400 })
    expect(AUTH_FAILURES['stale-nonce']).toMatchObject({ kind: 'challenge', stale: true })
  })
})

describe('clients that cannot skip a SHA-256 challenge (md5OnlyUserAgents)', () => {
  function withPolicy() {
    const auth = new DigestAuthenticator({
      realm: REALM,
      lookupUser: (u) => USERS.get(u),
      scheduler: new FakeScheduler(),
      nonceLifetime: 300,
      algorithms: ['SHA-256', 'MD5'],
      md5OnlyUserAgents: [/^baresip/i, /^$/],
    })
    return auth
  }

  test('baresip gets MD5 alone; a browser library gets SHA-256 and MD5 side by side', () => {
    const auth = withPolicy()
    const baresip = auth.challenge(register([['user-agent', 'baresip v1.0.0 (x86_64/linux)']]), { proxy: false })
    expect(challenges(baresip).map((c) => c.algorithm)).toEqual(['MD5'])
    const sipjs = auth.challenge(register([['user-agent', 'SIP.js/0.21.2']]), { proxy: false })
    expect(challenges(sipjs).map((c) => c.algorithm)).toEqual(['SHA-256', 'MD5'])
  })

  test('a request without User-Agent (SIPp) matches "^$" and gets MD5 alone', () => {
    const auth = withPolicy()
    expect(challenges(auth.challenge(register(), { proxy: true }), true).map((c) => c.algorithm)).toEqual(['MD5'])
  })

  test('an MD5-only challenge still verifies', () => {
    const auth = withPolicy()
    const [ch] = challenges(auth.challenge(register([['user-agent', 'baresip v1.0.0']]), { proxy: false }))
    const req = register([['user-agent', 'baresip v1.0.0'], ['authorization', answer(ch!, { username: 'alice', password: 'alice-demo', method: 'REGISTER', uri: 'sip:patchbay.test' })]])
    expect(auth.verify(req, { proxy: false })).toEqual({ ok: true, username: 'alice' })
  })
})

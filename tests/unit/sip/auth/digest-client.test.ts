import { describe, expect, test } from 'bun:test'
import {
  answerChallenge, digestAuthorization, ha1For, NonceCounter, parseChallenge, selectChallenge,
} from '../../../../gateway/src/sip/auth/digest-client.ts'
import { DigestAuthenticator } from '../../../../gateway/src/sip/auth/digest-authenticator.ts'
import { ha1, type DigestAlgorithm } from '../../../../gateway/src/sip/auth/digest.ts'
import { parseCredentials } from '../../../../gateway/src/sip/auth/parse-credentials.ts'
import { SipRequest } from '../../../../gateway/src/sip/message/sip-message.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'

// RFC 7616 §3.9.1 (with erratum 4495: the password is "Circle of Life", lower-case "of").
const RFC = {
  username: 'Mufasa',
  password: 'Circle of Life',
  realm: 'http-auth@example.org',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  uri: '/dir/index.html',
  sha256Response: '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
  md5Response: '8ca523f5e9506fed4657c9700eebdbec',
}

const RFC_CHALLENGES = [
  `Digest realm="${RFC.realm}", qop="auth, auth-int", algorithm=SHA-256, nonce="${RFC.nonce}", opaque="${RFC.opaque}"`,
  `Digest realm="${RFC.realm}", qop="auth, auth-int", algorithm=MD5, nonce="${RFC.nonce}", opaque="${RFC.opaque}"`,
]

function params(value: string): Record<string, string> {
  const c = parseCredentials(value)
  if (c === null) throw new Error(`unreadable credentials ${value}`)
  return { ...c.params }
}

describe('parseChallenge', () => {
  test('reads realm, nonce, algorithm, qop list and opaque of the RFC 7616 §3.9.1 challenge', () => {
    expect(parseChallenge(RFC_CHALLENGES[0]!)).toEqual({
      realm: RFC.realm, nonce: RFC.nonce, algorithm: 'SHA-256', qop: 'auth', opaque: RFC.opaque, stale: false,
    })
  })

  test('no algorithm means MD5, no qop means the RFC 2069 form, stale=true is read', () => {
    expect(parseChallenge('Digest realm="k", nonce="n1", stale=TRUE')).toEqual({ realm: 'k', nonce: 'n1', algorithm: 'MD5', qop: null, stale: true })
  })

  test('refuses what it cannot answer', () => {
    expect(parseChallenge('Basic realm="k"')).toBeNull()
    expect(parseChallenge('Digest realm="k"')).toBeNull() // no nonce
    expect(parseChallenge('Digest nonce="n"')).toBeNull() // no realm
    expect(parseChallenge('Digest realm="k", nonce="n", algorithm=MD5-sess')).toBeNull()
    expect(parseChallenge('Digest realm="k", nonce="n", algorithm=SHA-512-256')).toBeNull()
    expect(parseChallenge('Digest realm="k", nonce="n", qop="auth-int"')).toBeNull()
    expect(parseChallenge('Digest realm="k, nonce="n')).toBeNull()
  })
})

describe('RFC 7616 §3.9.1 example', () => {
  for (const [alg, expected] of [['SHA-256', RFC.sha256Response], ['MD5', RFC.md5Response]] as const) {
    test(`${alg} response is the RFC's`, () => {
      const challenge = parseChallenge(RFC_CHALLENGES[alg === 'SHA-256' ? 0 : 1]!)!
      const v = digestAuthorization({
        challenge, credentials: { username: RFC.username, password: RFC.password }, method: 'GET', uri: RFC.uri, nc: 1, cnonce: RFC.cnonce,
      })
      const p = params(v)
      expect(p).toEqual({
        username: RFC.username, realm: RFC.realm, uri: RFC.uri, algorithm: alg, nonce: RFC.nonce, nc: '00000001',
        cnonce: RFC.cnonce, qop: 'auth', response: expected, opaque: RFC.opaque,
      })
    })
  }

  test('the same response from a stored HA1 for that realm (no password)', () => {
    const challenge = parseChallenge(RFC_CHALLENGES[0]!)!
    const credentials = { username: RFC.username, realm: RFC.realm, ha1Sha256: ha1('SHA-256', RFC.username, RFC.realm, RFC.password) }
    const v = digestAuthorization({ challenge, credentials, method: 'GET', uri: RFC.uri, nc: 1, cnonce: RFC.cnonce })
    expect(params(v).response).toBe(RFC.sha256Response)
  })

  test('SHA-256 is chosen over MD5 whichever comes first', () => {
    const creds = { username: RFC.username, password: RFC.password }
    expect(selectChallenge(RFC_CHALLENGES, creds)?.algorithm).toBe('SHA-256')
    expect(selectChallenge([...RFC_CHALLENGES].reverse(), creds)?.algorithm).toBe('SHA-256')
  })
})

describe('selectChallenge / ha1For', () => {
  test('stored HA1s answer only their realm and algorithm', () => {
    const creds = { username: 'u', realm: 'r1', ha1: ha1('MD5', 'u', 'r1', 'p') }
    expect(ha1For(creds, 'MD5', 'r1')).toBe(ha1('MD5', 'u', 'r1', 'p'))
    expect(ha1For(creds, 'SHA-256', 'r1')).toBeNull()
    expect(ha1For(creds, 'MD5', 'r2')).toBeNull()
    // MD5 HA1 only: the SHA-256 challenge is skipped for the MD5 one.
    expect(selectChallenge(['Digest realm="r1", nonce="a", algorithm=SHA-256', 'Digest realm="r1", nonce="b"'], creds)?.nonce).toBe('b')
    expect(selectChallenge(['Digest realm="r2", nonce="a"'], creds)).toBeNull()
  })

  test('a password answers any realm; an unknown algorithm is skipped', () => {
    const creds = { username: 'u', password: 'p' }
    expect(selectChallenge(['Digest realm="x", nonce="a", algorithm=SHA-512-256', 'Digest realm="x", nonce="b", algorithm=MD5'], creds))
      .toMatchObject({ nonce: 'b', algorithm: 'MD5' })
    expect(selectChallenge([], creds)).toBeNull()
  })

  test('digestAuthorization refuses credentials that cannot answer, and a bad nc', () => {
    const challenge = parseChallenge('Digest realm="r", nonce="n"')!
    expect(() => digestAuthorization({ challenge, credentials: { username: 'u' }, method: 'REGISTER', uri: 'sip:r', nc: 1 })).toThrow(RangeError)
    expect(() => digestAuthorization({ challenge, credentials: { username: 'u', password: 'p' }, method: 'REGISTER', uri: 'sip:r', nc: 0 })).toThrow(RangeError)
  })

  test('without qop the RFC 2069 form: no cnonce, no nc', () => {
    const challenge = parseChallenge('Digest realm="r", nonce="n"')!
    const p = params(digestAuthorization({ challenge, credentials: { username: 'u', password: 'p' }, method: 'REGISTER', uri: 'sip:r', nc: 1 }))
    expect(p.qop).toBeUndefined()
    expect(p.nc).toBeUndefined()
    expect(p.cnonce).toBeUndefined()
    const h1 = ha1('MD5', 'u', 'r', 'p')
    const h2 = new Bun.CryptoHasher('md5').update('REGISTER:sip:r').digest('hex')
    expect(p.response).toBe(new Bun.CryptoHasher('md5').update(`${h1}:n:${h2}`).digest('hex'))
  })

  test('quotes and escapes user names and realms', () => {
    const challenge = parseChallenge('Digest realm="a\\"b", nonce="n", qop="auth"')!
    expect(challenge.realm).toBe('a"b')
    const p = params(digestAuthorization({ challenge, credentials: { username: 'x"y', password: 'p' }, method: 'OPTIONS', uri: 'sip:h', nc: 2 }))
    expect(p.username).toBe('x"y')
    expect(p.realm).toBe('a"b')
    expect(p.nc).toBe('00000002')
  })
})

describe('NonceCounter', () => {
  test('counts per nonce and forgets the least recently used beyond its capacity', () => {
    const c = new NonceCounter(2)
    expect(c.next('a')).toBe(1)
    expect(c.next('a')).toBe(2)
    expect(c.next('b')).toBe(1)
    expect(c.next('a')).toBe(3)
    expect(c.next('c')).toBe(1) // evicts b
    expect(c.next('b')).toBe(1)
  })
})

describe('round trip with the gateway DigestAuthenticator', () => {
  const REALM = 'patchbay.test'
  const users = new Map([['alice', { username: 'alice', ha1: ha1('MD5', 'alice', REALM, 'pw'), ha1Sha256: ha1('SHA-256', 'alice', REALM, 'pw') }]])

  function request(authorization?: { name: string; value: string }, cseq = 1): SipRequest {
    return new SipRequest('REGISTER', 'sip:patchbay.test', [
      { name: 'via', value: `SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-${cseq}` },
      { name: 'from', value: '<sip:alice@patchbay.test>;tag=a1' },
      { name: 'to', value: '<sip:alice@patchbay.test>' },
      { name: 'call-id', value: 'c1@127.0.0.1' },
      { name: 'cseq', value: `${cseq} REGISTER` },
      ...(authorization ? [authorization] : []),
    ])
  }

  for (const [offered, expected] of [[['SHA-256', 'MD5'], 'SHA-256'], [['MD5', 'SHA-256'], 'SHA-256'], [['MD5'], 'MD5']] as const) {
    for (const proxy of [false, true]) {
      test(`server offers ${offered.join(',')} (${proxy ? '407' : '401'}): the client answers ${expected} and is accepted, twice with nc 1 and 2`, () => {
        const auth = new DigestAuthenticator({ realm: REALM, lookupUser: (u) => users.get(u), scheduler: new FakeScheduler(), nonceLifetime: 300, algorithms: offered as unknown as DigestAlgorithm[] })
        const challenge = auth.challenge(request(), { proxy })
        const counter = new NonceCounter()
        for (const [cseq, password] of [[2, 'pw'], [3, 'pw']] as const) {
          const h = answerChallenge(challenge, 'REGISTER', 'sip:patchbay.test', { username: 'alice', password }, counter)
          expect(h).not.toBeNull()
          expect(h!.name).toBe(proxy ? 'proxy-authorization' : 'authorization')
          expect(h!.challenge.algorithm).toBe(expected)
          expect(auth.verify(request(h!, cseq), { proxy })).toEqual({ ok: true, username: 'alice' })
        }
      })
    }
  }

  test('the stored HA1 works as well as the password; a wrong password is refused', () => {
    const auth = new DigestAuthenticator({ realm: REALM, lookupUser: (u) => users.get(u), scheduler: new FakeScheduler(), nonceLifetime: 300, algorithms: ['SHA-256', 'MD5'] })
    const challenge = auth.challenge(request(), { proxy: false })
    const stored = { realm: REALM, ...users.get('alice')! }
    const good = answerChallenge(challenge, 'REGISTER', 'sip:patchbay.test', stored, new NonceCounter())!
    expect(auth.verify(request(good, 2), { proxy: false }).ok).toBe(true)
    const bad = answerChallenge(challenge, 'REGISTER', 'sip:patchbay.test', { username: 'alice', password: 'nope' }, new NonceCounter())!
    expect(auth.verify(request(bad, 3), { proxy: false }).ok).toBe(false)
  })

  test('a response that is no challenge is not answered', () => {
    const challenge = { status: 403, getAll: () => [] }
    expect(answerChallenge(challenge, 'REGISTER', 'sip:x', { username: 'u', password: 'p' }, new NonceCounter())).toBeNull()
  })
})

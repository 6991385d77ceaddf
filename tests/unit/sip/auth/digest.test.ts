import { describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { digestResponse, ha1, hashHex, hexDigestEquals, parseDigestAlgorithm } from '../../../../gateway/src/sip/auth/digest.ts'

// RFC 7616 §3.9.1 (the same request answered with SHA-256 and with MD5).
const RFC7616 = {
  username: 'Mufasa',
  password: 'Circle of Life',
  realm: 'http-auth@example.org',
  nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
  cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  nc: '00000001',
  qop: 'auth',
  method: 'GET',
  uri: '/dir/index.html',
}

function independent(alg: 'md5' | 'sha256', s: string): string {
  return createHash(alg).update(s).digest('hex')
}

describe('RFC 7616 §3.9.1 known answers', () => {
  test('MD5 response', () => {
    const h = ha1('MD5', RFC7616.username, RFC7616.realm, RFC7616.password)
    expect(digestResponse({ algorithm: 'MD5', ha1: h, ...RFC7616 })).toBe('8ca523f5e9506fed4657c9700eebdbec')
  })

  test('SHA-256 response', () => {
    const h = ha1('SHA-256', RFC7616.username, RFC7616.realm, RFC7616.password)
    expect(digestResponse({ algorithm: 'SHA-256', ha1: h, ...RFC7616 })).toBe(
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    )
  })
})

describe('RFC 2617 §3.5 known answer', () => {
  test('MD5, qop=auth, "Circle Of Life"', () => {
    const h = ha1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life')
    const r = digestResponse({
      algorithm: 'MD5', ha1: h, nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', nc: '00000001',
      cnonce: '0a4f113b', qop: 'auth', method: 'GET', uri: '/dir/index.html',
    })
    expect(r).toBe('6629fae49393a05397450978507c4ef1')
  })
})

describe('ha1 and the no-qop form', () => {
  test('ha1 is H(username:realm:password) for both algorithms', () => {
    expect(ha1('MD5', 'alice', 'patchbay.test', 'alice-demo')).toBe(independent('md5', 'alice:patchbay.test:alice-demo'))
    expect(ha1('SHA-256', 'alice', 'patchbay.test', 'alice-demo')).toBe(independent('sha256', 'alice:patchbay.test:alice-demo'))
    expect(ha1('MD5', 'a', 'r', 'p')).toHaveLength(32)
    expect(ha1('SHA-256', 'a', 'r', 'p')).toHaveLength(64)
  })

  test('without qop the response is KD(HA1, nonce:HA2) (RFC 2617 §3.2.2.1)', () => {
    const h = ha1('MD5', 'bob', 'patchbay.test', 'bob-demo')
    const ha2 = independent('md5', 'REGISTER:sip:patchbay.test')
    const expected = independent('md5', `${h}:abc:${ha2}`)
    expect(digestResponse({ algorithm: 'MD5', ha1: h, nonce: 'abc', method: 'REGISTER', uri: 'sip:patchbay.test' })).toBe(expected)
    expect(digestResponse({ algorithm: 'MD5', ha1: h, nonce: 'abc', qop: null, method: 'REGISTER', uri: 'sip:patchbay.test' })).toBe(expected)
  })

  test('hashHex hashes UTF-8 bytes', () => {
    expect(hashHex('SHA-256', 'Jäsøn')).toBe(independent('sha256', 'Jäsøn'))
  })
})

describe('parseDigestAlgorithm', () => {
  test('absent means MD5; tokens are case-insensitive; others are null', () => {
    expect(parseDigestAlgorithm(undefined)).toBe('MD5')
    expect(parseDigestAlgorithm('md5')).toBe('MD5')
    expect(parseDigestAlgorithm('sha-256')).toBe('SHA-256')
    expect(parseDigestAlgorithm('MD5-sess')).toBeNull()
    expect(parseDigestAlgorithm('SHA-512-256')).toBeNull()
  })
})

describe('hexDigestEquals', () => {
  test('equal, upper-case received, different, different length', () => {
    expect(hexDigestEquals('8ca523f5e9506fed4657c9700eebdbec', '8ca523f5e9506fed4657c9700eebdbec')).toBe(true)
    expect(hexDigestEquals('8ca523f5e9506fed4657c9700eebdbec', '8CA523F5E9506FED4657C9700EEBDBEC')).toBe(true)
    expect(hexDigestEquals('8ca523f5e9506fed4657c9700eebdbec', '8ca523f5e9506fed4657c9700eebdbed')).toBe(false)
    expect(hexDigestEquals('8ca523f5e9506fed4657c9700eebdbec', '8ca523f5e9506fed4657c9700eebdbe')).toBe(false)
    // A non-hex character never stands in for a digit.
    expect(hexDigestEquals('00', '\u0010\u0010')).toBe(false)
  })
})

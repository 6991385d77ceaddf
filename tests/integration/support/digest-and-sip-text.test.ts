/**
 * Self-checks of the test side's own SIP reader and digest code (tests/support/), which the
 * integration tests use to judge the gateway: known answers from the RFCs.
 */
import { describe, expect, test } from 'bun:test'
import { digestCredentials, ha1, parseDigestChallenge } from '../../support/digest.ts'
import { SipText, formatSipText, paramOf, splitHeaderList, uriOf, uriParamOf } from '../../support/sip-text.ts'

describe('test-side digest (RFC 2617 §3.5, RFC 7616 §3.9.1 examples)', () => {
  test('RFC 2617 §3.5: MD5, qop=auth', () => {
    const challenge = parseDigestChallenge('Digest realm="testrealm@host.com", qop="auth,auth-int", ' +
      'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    expect(challenge).not.toBeNull()
    expect(challenge!.algorithm).toBe('MD5')
    expect(challenge!.qop).toEqual(['auth', 'auth-int'])
    const value = digestCredentials({ challenge: challenge!, username: 'Mufasa', password: 'Circle Of Life', method: 'GET',
      uri: '/dir/index.html', nc: 1, cnonce: '0a4f113b' })
    expect(value).toContain('response="6629fae49393a05397450978507c4ef1"')
    expect(value).toContain('opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    expect(value).toContain('nc=00000001')
  })

  for (const [algorithm, response] of [
    ['SHA-256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
    ['MD5', '8ca523f5e9506fed4657c9700eebdbec'],
  ] as const) {
    test(`RFC 7616 §3.9.1: ${algorithm}`, () => {
      const challenge = parseDigestChallenge(`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, ` +
        'nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"')
      const value = digestCredentials({ challenge: challenge!, username: 'Mufasa', password: 'Circle of Life', method: 'GET',
        uri: '/dir/index.html', nc: 1, cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' })
      expect(value).toContain(`response="${response}"`)
      expect(value).toContain(`algorithm=${algorithm}`)
    })
  }

  test('HA1 is H(username:realm:password)', () => {
    expect(ha1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life')).toBe('939e7578ed9e3c518a452acee763bce9')
  })

  test('a non-digest challenge is not parsed', () => {
    expect(parseDigestChallenge('Basic realm="x"')).toBeNull()
    expect(parseDigestChallenge('Digest qop="auth"')).toBeNull()
  })
})

describe('test-side SIP reader', () => {
  const raw = [
    'SIP/2.0 200 OK',
    'v: SIP/2.0/WS a.invalid;branch=z9hG4bK1;received=127.0.0.1, SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK2',
    'Record-Route: <sip:127.0.0.1:5060;lr>,',
    ' <sip:127.0.0.1:8080;transport=ws;lr>',
    'From: "Alice, A." <sip:alice@patchbay.test>;tag=1',
    't: <sip:bob@patchbay.test>;tag=2',
    'i: abc',
    'CSeq: 7 INVITE',
    'm: <sip:bob@b.invalid;transport=ws>;expires=60',
    'l: 4',
    '',
    'bodyEXTRA',
  ].join('\r\n')

  test('reads compact names, folded lines, comma lists and Content-Length framing', () => {
    const message = SipText.parse(raw)
    expect(message).not.toBeNull()
    expect(message!.status).toBe(200)
    expect(message!.method).toBe('INVITE')
    expect(message!.getAll('via')).toHaveLength(2)
    expect(message!.topBranch).toBe('z9hG4bK1')
    expect(message!.getAll('record-route')).toEqual(['<sip:127.0.0.1:5060;lr>', '<sip:127.0.0.1:8080;transport=ws;lr>'])
    expect(message!.callId).toBe('abc')
    expect(message!.cseq).toEqual({ seq: 7, method: 'INVITE' })
    expect(message!.fromTag).toBe('1')
    expect(message!.toTag).toBe('2')
    expect(message!.body).toBe('body')
    const contact = message!.getAll('contact')[0]!
    expect(uriOf(contact)).toBe('sip:bob@b.invalid;transport=ws')
    expect(paramOf(contact, 'expires')).toBe('60')
    expect(uriParamOf(uriOf(contact), 'transport')).toBe('ws')
  })

  test('splits lists outside quotes and angle brackets only', () => {
    expect(splitHeaderList('"a, b" <sip:x@y>, <sip:z@w;p=1,2>')).toEqual(['"a, b" <sip:x@y>', '<sip:z@w;p=1,2>'])
  })

  test('returns null for text that is not a SIP message', () => {
    expect(SipText.parse('\r\n')).toBeNull()
    expect(SipText.parse('HELLO\r\n\r\n')).toBeNull()
  })

  test('writes Content-Length in bytes', () => {
    const text = formatSipText({ startLine: 'MESSAGE sip:a@b SIP/2.0', headers: [['Call-ID', 'x']], body: 'héllo' })
    expect(text).toContain('Content-Length: 6\r\n\r\nhéllo')
  })
})

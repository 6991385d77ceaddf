import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseCredentials } from '../../../../gateway/src/sip/auth/parse-credentials.ts'

const FIXTURES = join(import.meta.dir, '../../../fixtures/rfc4475')

describe('parseCredentials', () => {
  test('the RFC 7616 §3.9.1 MD5 Authorization value (folded over lines)', () => {
    const v = `Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm=MD5,
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       nc=00000001,
       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
       qop=auth,
       response="8ca523f5e9506fed4657c9700eebdbec",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`
    const c = parseCredentials(v)
    expect(c).not.toBeNull()
    expect(c!.scheme).toBe('Digest')
    expect(c!.username).toBe('Mufasa')
    expect(c!.realm).toBe('http-auth@example.org')
    expect(c!.uri).toBe('/dir/index.html')
    expect(c!.algorithm).toBe('MD5')
    expect(c!.nonce).toBe('7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v')
    expect(c!.nc).toBe('00000001')
    expect(c!.cnonce).toBe('f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ')
    expect(c!.qop).toBe('auth')
    expect(c!.response).toBe('8ca523f5e9506fed4657c9700eebdbec')
    expect(c!.opaque).toBe('FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS')
  })

  test('RFC 4475 §3.1.2.9 regaut01: an unknown scheme gives null', () => {
    const text = readFileSync(join(FIXTURES, 'regaut01.dat'), 'latin1')
    const line = text.split(/\r?\n/).find((l) => /^Authorization:/i.test(l))
    expect(line).toBeDefined()
    const value = line!.slice(line!.indexOf(':') + 1).trim()
    expect(value).toBe('NoOneKnowsThisScheme opaque-data=here')
    expect(parseCredentials(value)).toBeNull()
  })

  test('other schemes and near misses give null', () => {
    expect(parseCredentials('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==')).toBeNull()
    expect(parseCredentials('Digestive username="a"')).toBeNull()
    expect(parseCredentials('')).toBeNull()
  })

  test('scheme and parameter names are case-insensitive; values keep their case', () => {
    const c = parseCredentials('dIgEsT USERNAME="Alice", Realm="Patchbay.test", NONCE=AbC')
    expect(c?.username).toBe('Alice')
    expect(c?.realm).toBe('Patchbay.test')
    expect(c?.nonce).toBe('AbC')
  })

  test('quoted-pair escapes are resolved; commas and = inside quotes are data', () => {
    const c = parseCredentials('Digest username="a\\"b\\\\c", realm="x,y=z", uri="sip:bob@h;transport=tcp"')
    expect(c?.username).toBe('a"b\\c')
    expect(c?.realm).toBe('x,y=z')
    expect(c?.uri).toBe('sip:bob@h;transport=tcp')
  })

  test('unquoted uri, quoted qop/nc/algorithm, spaces around = and empty list elements', () => {
    const c = parseCredentials('Digest  username = "bob" ,, uri=sip:patchbay.test , qop="auth", nc="00000002", algorithm="SHA-256" ,')
    expect(c?.username).toBe('bob')
    expect(c?.uri).toBe('sip:patchbay.test')
    expect(c?.qop).toBe('auth')
    expect(c?.nc).toBe('00000002')
    expect(c?.algorithm).toBe('SHA-256')
  })

  test('unknown parameters are kept in params', () => {
    const c = parseCredentials('Digest username="a", userhash=false, x-ext="1"')
    expect(c?.params['userhash']).toBe('false')
    expect(c?.params['x-ext']).toBe('1')
  })

  test('"Digest" alone parses with no parameters', () => {
    const c = parseCredentials('Digest')
    expect(c).not.toBeNull()
    expect(Object.keys(c!.params)).toHaveLength(0)
    expect(c!.username).toBeUndefined()
  })

  test('unreadable parameter lists give null and never throw', () => {
    expect(parseCredentials('Digest username="unterminated')).toBeNull()
    expect(parseCredentials('Digest username')).toBeNull()
    expect(parseCredentials('Digest username=')).toBeNull()
    expect(parseCredentials('Digest username="a" realm="b"')).toBeNull()
    expect(parseCredentials('Digest ="a"')).toBeNull()
    expect(parseCredentials('Digest username="a\\')).toBeNull()
  })

  test('a parameter given twice is ambiguous: null', () => {
    expect(parseCredentials('Digest username="a", username="b"')).toBeNull()
    expect(parseCredentials('Digest username="a", USERNAME="b"')).toBeNull()
  })

  test('a parameter named __proto__ does not reach the prototype', () => {
    const c = parseCredentials('Digest __proto__="x", username="a"')
    expect(c?.params['__proto__']).toBe('x')
    expect(c?.username).toBe('a')
  })
})

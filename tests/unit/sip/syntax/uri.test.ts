import { describe, expect, test } from 'bun:test'
import { parseUri, unescapeUriComponent } from '../../../../gateway/src/sip/syntax/uri.ts'

describe('parseUri: sip and sips (RFC 3261 §19.1)', () => {
  test('user, password, host, port, params and headers', () => {
    expect(parseUri('sip:alice:secretword@Atlanta.COM:5061;transport=TCP;lr?subject=project%20x&priority=urgent')).toEqual({
      scheme: 'sip',
      user: 'alice',
      password: 'secretword',
      host: 'atlanta.com',
      port: 5061,
      params: { transport: 'TCP', lr: null },
      headers: { subject: 'project%20x', priority: 'urgent' },
      opaque: null,
    })
  })

  test('the examples of §19.1.3', () => {
    expect(parseUri('sips:alice@atlanta.com?subject=project%20x&priority=urgent')!.scheme).toBe('sips')
    expect(parseUri('sip:+1-212-555-1212:1234@gateway.com;user=phone')).toMatchObject({
      user: '+1-212-555-1212', password: '1234', host: 'gateway.com', params: { user: 'phone' },
    })
    expect(parseUri('sip:alice@192.0.2.4')!.host).toBe('192.0.2.4')
    expect(parseUri('sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com')).toMatchObject({
      user: null, host: 'atlanta.com', params: { method: 'REGISTER' }, headers: { to: 'alice%40atlanta.com' },
    })
    // "The last sample URI above has a user field value of "alice;day=tuesday"."
    expect(parseUri('sip:alice;day=tuesday@atlanta.com')).toMatchObject({ user: 'alice;day=tuesday', params: {} })
  })

  test('scheme is case-insensitive and lower-cased; host lower-cased; user case kept', () => {
    expect(parseUri('SIP:ALICE@AtLanTa.CoM;Transport=udp')).toMatchObject({
      scheme: 'sip', user: 'ALICE', host: 'atlanta.com', params: { transport: 'udp' },
    })
  })

  test('IPv6 references keep their brackets', () => {
    expect(parseUri('sip:[2001:DB8::1]:5060;maddr=[2001:db8::2]')).toMatchObject({
      host: '[2001:db8::1]', port: 5060, params: { maddr: '[2001:db8::2]' },
    })
    expect(parseUri('sip:bob@[::1]')!.host).toBe('[::1]')
  })

  test('browser hosts ending in .invalid', () => {
    expect(parseUri('sip:k3l2m1@df7jal23ls0d.invalid;transport=ws')).toMatchObject({ host: 'df7jal23ls0d.invalid', params: { transport: 'ws' } })
  })

  test('first parameter wins; __proto__ cannot reach the prototype', () => {
    const u = parseUri('sip:a@b;x=1;x=2;__proto__=3')!
    expect(u.params.x).toBe('1')
    expect(Object.getPrototypeOf(u.params)).toBe(Object.prototype)
    expect(Object.hasOwn(u.params, '__proto__')).toBe(false)
  })

  const invalid = [
    '', 'sip:', 'sip:@host', 'sip:user@', 'sip:host:', 'sip:host:99999', 'sip:host:123456', 'sip:ho st',
    ' sip:host', 'sip:host ', '<sip:host>', 'sip:host;', 'sip:host;=x', 'sip:host;a=', 'sip:host?', 'sip:host?=x',
    'sip:us%zzer@host', 'sip:user%4@host', 'sip:[::1', 'sip:[]', 'sip:[zz::1]', 'sip:a"b@host', '1sip:host', 'sip',
    'si p:host', 'sip:host>x', 'sip:us er@host',
  ]
  for (const text of invalid) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      expect(parseUri(text)).toBeNull()
    })
  }
})

describe('parseUri: tel and other schemes', () => {
  test('tel (RFC 3966): subscriber in user, parameters', () => {
    expect(parseUri('tel:+1-201-555-0123;ext=1234;phone-context=example.com')).toEqual({
      scheme: 'tel', user: '+1-201-555-0123', password: null, host: '', port: null,
      params: { ext: '1234', 'phone-context': 'example.com' }, headers: {}, opaque: null,
    })
    expect(parseUri('TEL:7042')!.scheme).toBe('tel')
    expect(parseUri('tel:')).toBeNull()
    expect(parseUri('tel:;x=1')).toBeNull()
  })

  test('other schemes are opaque (RFC 4475 unkscm, novelsc, unksm2)', () => {
    expect(parseUri('nobodyKnowsThisScheme:totallyopaquecontent')).toMatchObject({
      scheme: 'nobodyknowsthisscheme', opaque: 'totallyopaquecontent', host: '', user: null,
    })
    expect(parseUri('soap.beep://192.0.2.103:3002')!.opaque).toBe('//192.0.2.103:3002')
    expect(parseUri('http://www.example.com')!.scheme).toBe('http')
    expect(parseUri('urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6')!.opaque).toBe('uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6')
    expect(parseUri('http:')).toBeNull()
    expect(parseUri('http://a b')).toBeNull()
  })
})

describe('unescapeUriComponent', () => {
  test('resolves %HH escapes as UTF-8', () => {
    expect(unescapeUriComponent('sips%3Auser%40example.com')).toBe('sips:user@example.com')
    expect(unescapeUriComponent('I%20have%20spaces')).toBe('I have spaces')
    expect(unescapeUriComponent('%E2%82%AC')).toBe('\u20ac')
    expect(unescapeUriComponent('%c3%a9t%C3%A9')).toBe('\u00e9t\u00e9')
  })
  test('keeps escaped NUL (escnull) and literal % that is not an escape', () => {
    expect(unescapeUriComponent('null-%00-null')).toBe('null-\u0000-null')
    expect(unescapeUriComponent('%Z%45%')).toBe('%ZE%')
    expect(unescapeUriComponent('plain')).toBe('plain')
  })
})

import { describe, expect, test } from 'bun:test'
import { parseNameAddr, unquoteString } from '../../../../gateway/src/sip/syntax/name-addr.ts'

describe('parseNameAddr (RFC 3261 §20.10, §25.1)', () => {
  test('quoted display name, URI in <>, header params', () => {
    const na = parseNameAddr('"Alice Liddell" <sip:alice@atlanta.example.com;transport=tcp>;tag=1928301774;expires=3600')!
    expect(na.displayName).toBe('Alice Liddell')
    expect(na.uri.user).toBe('alice')
    expect(na.uri.params).toEqual({ transport: 'tcp' })
    expect(na.params).toEqual({ tag: '1928301774', expires: '3600' })
  })

  test('quoted-pairs are resolved in the display name', () => {
    expect(parseNameAddr('"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>')!.displayName).toBe('J Rosenberg \\"')
    expect(parseNameAddr('"Quoted string \\"\\"" <sip:jdrosen@example.com>')!.displayName).toBe('Quoted string ""')
    expect(parseNameAddr('"" <sip:a@b>')!.displayName).toBe('')
    expect(unquoteString('a\\\\b\\"c')).toBe('a\\b"c')
  })

  test('UTF-8 and separators inside a quoted display name', () => {
    const na = parseNameAddr('"Watson, Thomas; <boss> \u00e9" <sip:t.watson@example.org>')!
    expect(na.displayName).toBe('Watson, Thomas; <boss> \u00e9')
    expect(na.uri.host).toBe('example.org')
  })

  test('token display name, with or without LWS before < (lwsdisp)', () => {
    expect(parseNameAddr('Bob <sip:bob@biloxi.example.com>')!.displayName).toBe('Bob')
    expect(parseNameAddr('caller<sip:caller@example.com>;tag=323')!.displayName).toBe('caller')
    expect(parseNameAddr("A.  G. Bell  <sip:a.g.bell@example.com>")!.displayName).toBe('A.  G. Bell')
  })

  test('no display name', () => {
    const na = parseNameAddr('<sip:user@example.com>')!
    expect(na.displayName).toBeNull()
    expect(na.params).toEqual({})
  })

  test('addr-spec: parameters after the URI are header parameters (§20.10, cparam01)', () => {
    const na = parseNameAddr('sip:+19725552222@gw1.example.net;unknownparam;tag=x')!
    expect(na.displayName).toBeNull()
    expect(na.uri.params).toEqual({})
    expect(na.params).toEqual({ unknownparam: null, tag: 'x' })
  })

  test('LWS around ; and = (wsinv)', () => {
    const na = parseNameAddr(' sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n ')!
    expect(na.params.tag).toBe('1918181833n')
    const c = parseNameAddr('"Quoted string" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33')!
    expect(c.params).toEqual({ newparam: 'newvalue', secondparam: null, q: '0.33' })
  })

  test('quoted parameter values keep their quotes; param names are lower-cased', () => {
    const na = parseNameAddr('<sip:a@b>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";Reg-Id=1')!
    expect(na.params['+sip.instance']).toBe('"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"')
    expect(na.params['reg-id']).toBe('1')
  })

  test('other URI schemes', () => {
    expect(parseNameAddr('isbn:2983792873')!.uri).toMatchObject({ scheme: 'isbn', opaque: '2983792873' })
    expect(parseNameAddr('<http://www.example.com>;tag=3234233')!.uri.scheme).toBe('http')
    expect(parseNameAddr('<tel:+15551234567;phone-context=x>')!.uri.user).toBe('+15551234567')
  })

  const invalid: [string, string][] = [
    ['"Mr. J. User <sip:j.user@example.com>', 'unterminated quoted string (quotbal)'],
    ['Bell, Alexander <sip:a.g.bell@example.com>;tag=43', 'non-token display name (baddn)'],
    ['"Watson, Thomas" < sip:t.watson@example.org >', 'LWS inside <> (badaspec)'],
    ['sip:user@example.com?Route=%3Csip:sip.example.com%3E', 'addr-spec with ? (regbadct)'],
    ['"Joe" <sip:joe@example.org>;;;;', 'empty parameters (badinv01)'],
    ['<sip:a@b>;tag=', 'empty parameter value'],
    ['<sip:a@b>;tag="x', 'unterminated quoted parameter'],
    ['<sip:a@b', 'missing >'],
    ['"x" sip:a@b', 'quoted display name without <>'],
    ['<sip:a@b> junk', 'trailing garbage'],
    ['', 'empty'],
    ['   ', 'blank'],
    ['<>', 'empty URI'],
    ['sip:a@b, sip:c@d', 'a comma in an addr-spec'],
  ]
  for (const [text, why] of invalid) {
    test(`rejects ${why}`, () => {
      expect(parseNameAddr(text)).toBeNull()
    })
  }
})

import { describe, expect, test } from 'bun:test'
import { parseUri } from '../../../../gateway/src/sip/syntax/uri.ts'
import { aorKey } from '../../../../gateway/src/sip/registrar/aor.ts'
import { bindingKey, normalizeInstanceId, sipUrisEquivalent } from '../../../../gateway/src/sip/registrar/binding.ts'

const local = (h: string) => h === '127.0.0.1' || h === 'localhost' || h === '[::1]'
const key = (text: string) => aorKey(parseUri(text)!, 'patchbay.test', local)

describe('aorKey (RFC 3261 §10.3 step 5)', () => {
  test('drops URI parameters, headers, password; folds sips to sip', () => {
    expect(key('sip:alice@patchbay.test')).toBe('sip:alice@patchbay.test')
    expect(key('sips:alice@patchbay.test;transport=tcp;user=phone')).toBe('sip:alice@patchbay.test')
    expect(key('sip:alice:secret@patchbay.test?subject=x')).toBe('sip:alice@patchbay.test')
  })

  test('unescapes the user part and keeps its case; lower-cases the host', () => {
    expect(key('sip:%61lice@PatchBay.TEST')).toBe('sip:alice@patchbay.test')
    expect(key('sip:Alice@patchbay.test')).toBe('sip:Alice@patchbay.test')
    expect(key('sip:a%20b@patchbay.test')).toBe('sip:a b@patchbay.test')
  })

  test('local aliases become the domain, port dropped; foreign hosts keep the port', () => {
    expect(key('sip:alice@127.0.0.1:5060')).toBe('sip:alice@patchbay.test')
    expect(key('sip:alice@[::1]:5070')).toBe('sip:alice@patchbay.test')
    expect(key('sip:alice@patchbay.test:5062')).toBe('sip:alice@patchbay.test')
    expect(key('sip:bob@example.org:5070')).toBe('sip:bob@example.org:5070')
    expect(key('sip:bob@Example.org')).toBe('sip:bob@example.org')
  })

  test('no user part gives the bare domain; non-sip URIs give null', () => {
    expect(key('sip:patchbay.test')).toBe('sip:patchbay.test')
    expect(key('tel:+15551234567')).toBeNull()
    expect(key('isbn:2983792873')).toBeNull()
  })
})

describe('sipUrisEquivalent (RFC 3261 §19.1.4 examples)', () => {
  const eq = (a: string, b: string) => sipUrisEquivalent(parseUri(a)!, parseUri(b)!)

  test('equivalent sets', () => {
    expect(eq('sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp')).toBe(true)
    expect(eq('sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5')).toBe(true)
    expect(eq('sip:carol@chicago.com', 'sip:carol@chicago.com;security=on')).toBe(true)
    expect(eq('sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com',
      'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com')).toBe(true)
    expect(eq('sip:alice@atlanta.com?subject=project%20x&priority=urgent',
      'sip:alice@atlanta.com?priority=urgent&subject=project%20x')).toBe(true)
  })

  test('non-equivalent sets', () => {
    expect(eq('SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP')).toBe(false)
    expect(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060')).toBe(false)
    expect(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp')).toBe(false)
    expect(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp')).toBe(false)
    expect(eq('sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting')).toBe(false)
    expect(eq('sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4')).toBe(false)
    expect(eq('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off')).toBe(false)
    expect(eq('sip:alice@atlanta.com', 'sips:alice@atlanta.com')).toBe(false)
    expect(eq('sip:alice@atlanta.com', 'sip:alice@atlanta.com;maddr=192.0.2.1')).toBe(false)
    expect(eq('sip:alice@atlanta.com', 'sip:alice@atlanta.com;user=phone')).toBe(false)
  })
})

describe('binding identity', () => {
  test('normalizeInstanceId strips quotes and brackets and lower-cases uuid URNs', () => {
    expect(normalizeInstanceId('"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"')).toBe('urn:uuid:00000000-0000-1000-8000-aabbccddeeff')
    expect(normalizeInstanceId('"<urn:gsma:imei:35209900-176148-1>"')).toBe('urn:gsma:imei:35209900-176148-1')
    expect(normalizeInstanceId(null)).toBeNull()
    expect(normalizeInstanceId('""')).toBeNull()
  })

  test('bindingKey: outbound, instance-only and plain contacts', () => {
    expect(bindingKey({ contact: 'sip:a@h', instanceId: 'urn:uuid:1', regId: 2 })).toBe('o:urn:uuid:1 2')
    expect(bindingKey({ contact: 'sip:a@h', instanceId: 'urn:uuid:1', regId: null })).toBe('i:urn:uuid:1')
    expect(bindingKey({ contact: 'sip:a@h', instanceId: null, regId: null })).toBe('c:sip:a@h')
  })
})

import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseMessage } from '../../../../gateway/src/sip/parser/message-parser.ts'
import { LocationService } from '../../../../gateway/src/sip/registrar/location-service.ts'
import { Registrar } from '../../../../gateway/src/sip/registrar/registrar.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import { hasTag } from '../../../../gateway/src/sip/message/create-response.ts'
import { SipRequest } from '../../../../gateway/src/sip/message/sip-message.ts'
import { REGISTRAR_ERRORS } from '../../../../gateway/src/sip/registrar/registrar-errors.ts'
import { DOMAIN, contactsOf, fakeFlow, harness, register } from './register-fixtures.ts'
import { LocalAddresses } from '../../../../gateway/src/base/local-addresses.ts'

const AOR = `sip:alice@${DOMAIN}`
const INSTANCE = '"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"'

describe('Registrar: adding, refreshing, removing (RFC 3261 §10.3)', () => {
  test('adds a binding with the default expiry and answers 200 with Contact, Date and a To tag', () => {
    const { registrar, location, scheduler } = harness()
    const res = registrar.handleRegister(register(), fakeFlow(), 'alice')
    expect(res.status).toBe(200)
    expect(contactsOf(res)).toEqual(['<sip:alice@192.0.2.10:5062>;expires=600'])
    expect(res.get('date')).toBe(new Date(scheduler.unixSeconds() * 1000).toUTCString())
    expect(hasTag(res.get('to')!)).toBe(true)
    expect(res.get('call-id')).toBe('call-1@192.0.2.10')
    expect(res.get('cseq')).toBe('1 REGISTER')
    const [b] = location.lookup(AOR)
    expect(b).toMatchObject({
      aor: AOR, contact: 'sip:alice@192.0.2.10:5062', q: 1, callId: 'call-1@192.0.2.10', cseq: 1,
      instanceId: null, regId: null, flowId: null, transport: 'UDP', sourceAddress: '192.0.2.10', sourcePort: 5062,
    })
    expect(b!.expiresAt).toBe(scheduler.unixSeconds() + 600)
  })

  test('Expires header and the contact expires parameter (parameter wins); capped at maxExpires', () => {
    const { registrar, location } = harness()
    const res = registrar.handleRegister(register({
      contacts: ['<sip:alice@192.0.2.10:5062>;expires=120', '<sip:alice@192.0.2.11>'],
      expires: 99999,
    }), fakeFlow(), null)
    expect(res.status).toBe(200)
    expect(contactsOf(res).sort()).toEqual(['<sip:alice@192.0.2.10:5062>;expires=120', '<sip:alice@192.0.2.11>;expires=3600'])
    expect(location.lookup(AOR)).toHaveLength(2)
  })

  test('a malformed expires parameter counts as 3600 (§10.2.1)', () => {
    const { registrar } = harness()
    const res = registrar.handleRegister(register({ contacts: ['<sip:alice@192.0.2.10>;expires=soon'] }), fakeFlow(), null)
    expect(contactsOf(res)).toEqual(['<sip:alice@192.0.2.10>;expires=3600'])
  })

  test('refresh with the same Call-ID and a higher CSeq updates the one binding', () => {
    const { registrar, location, scheduler } = harness()
    registrar.handleRegister(register({ cseq: 1, expires: 300 }), fakeFlow(), 'alice')
    const first = location.lookup(AOR)[0]!
    scheduler.advance(100_000)
    const res = registrar.handleRegister(register({ cseq: 2, expires: 300 }), fakeFlow(), 'alice')
    expect(res.status).toBe(200)
    const list = location.lookup(AOR)
    expect(list).toHaveLength(1)
    expect(list[0]!.cseq).toBe(2)
    expect(list[0]!.expiresAt).toBe(scheduler.unixSeconds() + 300)
    expect(list[0]!.registeredAt).toBe(first.registeredAt)
    expect(contactsOf(res)).toEqual(['<sip:alice@192.0.2.10:5062>;expires=300'])
  })

  test('contacts equal under §19.1.4 (host case, escapes, param case) are one binding', () => {
    const { registrar, location } = harness()
    registrar.handleRegister(register({ cseq: 1, contacts: ['<sip:%61lice@PC.Example.com;transport=TCP>'] }), fakeFlow(), null)
    registrar.handleRegister(register({ cseq: 2, contacts: ['<sip:alice@pc.example.com;Transport=tcp;newparam=5>'] }), fakeFlow(), null)
    const list = location.lookup(AOR)
    expect(list).toHaveLength(1)
    expect(list[0]!.cseq).toBe(2)
    // ...but a different port is a different contact
    registrar.handleRegister(register({ cseq: 3, contacts: ['<sip:alice@pc.example.com:5060;transport=tcp>'] }), fakeFlow(), null)
    expect(location.lookup(AOR)).toHaveLength(2)
  })

  test('expires=0 on a contact removes its binding; Expires: 0 removes the contacts listed', () => {
    const { registrar, location } = harness()
    registrar.handleRegister(register({ cseq: 1, contacts: ['<sip:alice@192.0.2.10>', '<sip:alice@192.0.2.11>', '<sip:alice@192.0.2.12>'] }), fakeFlow(), null)
    expect(location.lookup(AOR)).toHaveLength(3)
    const r1 = registrar.handleRegister(register({ cseq: 2, contacts: ['<sip:alice@192.0.2.10>;expires=0'] }), fakeFlow(), null)
    expect(r1.status).toBe(200)
    expect(contactsOf(r1)).toHaveLength(2)
    registrar.handleRegister(register({ cseq: 3, contacts: ['<sip:alice@192.0.2.11>'], expires: 0 }), fakeFlow(), null)
    expect(location.lookup(AOR).map((b) => b.contact)).toEqual(['sip:alice@192.0.2.12'])
  })

  test('Contact: * with Expires: 0 removes every binding of the AOR, and only that AOR', () => {
    const { registrar, location } = harness()
    registrar.handleRegister(register({ cseq: 1, contacts: ['<sip:alice@192.0.2.10>', '<sip:alice@192.0.2.11>'] }), fakeFlow(), null)
    registrar.handleRegister(register({ user: 'bob', callId: 'b1', contacts: ['<sip:bob@192.0.2.20>'] }), fakeFlow(), null)
    const res = registrar.handleRegister(register({ cseq: 2, contacts: ['*'], expires: 0 }), fakeFlow(), null)
    expect(res.status).toBe(200)
    expect(contactsOf(res)).toEqual([])
    expect(location.lookup(AOR)).toEqual([])
    expect(location.lookup(`sip:bob@${DOMAIN}`)).toHaveLength(1)
  })

  test('Contact: * without Expires: 0, or with other contacts, is 400 and changes nothing', () => {
    const { registrar, location } = harness()
    registrar.handleRegister(register({ cseq: 1 }), fakeFlow(), null)
    const noExpires = registrar.handleRegister(register({ cseq: 2, contacts: ['*'] }), fakeFlow(), null)
    expect(noExpires.status).toBe(400)
    const nonZero = registrar.handleRegister(register({ cseq: 3, contacts: ['*'], expires: 60 }), fakeFlow(), null)
    expect(nonZero.status).toBe(400)
    const mixed = registrar.handleRegister(register({ cseq: 4, contacts: ['*', '<sip:alice@192.0.2.10>'], expires: 0 }), fakeFlow(), null)
    expect(mixed.status).toBe(400)
    expect(mixed.reason).toBe(REGISTRAR_ERRORS['star-with-other-contacts'].reason)
    expect(location.lookup(AOR)).toHaveLength(1)
  })

  test('a REGISTER without Contact is a query: 200 listing the bindings, nothing changed', () => {
    const { registrar, location } = harness()
    registrar.handleRegister(register({ cseq: 1, expires: 300 }), fakeFlow(), null)
    const res = registrar.handleRegister(register({ cseq: 2, contacts: [] }), fakeFlow(), null)
    expect(res.status).toBe(200)
    expect(contactsOf(res)).toEqual(['<sip:alice@192.0.2.10:5062>;expires=300'])
    expect(location.lookup(AOR)[0]!.cseq).toBe(1)
  })
})

describe('Registrar: expiration interval (§10.3 step 7)', () => {
  test('0 < expires < minExpires is 423 with Min-Expires, and nothing is bound', () => {
    const { registrar, location } = harness()
    const res = registrar.handleRegister(register({ expires: 30 }), fakeFlow(), null)
    expect(res.status).toBe(423)
    expect(res.reason).toBe('Interval Too Brief')
    expect(res.get('min-expires')).toBe('60')
    expect(hasTag(res.get('to')!)).toBe(true)
    expect(location.size).toBe(0)
  })

  test('one brief contact among several rejects the whole request', () => {
    const { registrar, location } = harness()
    const res = registrar.handleRegister(register({ contacts: ['<sip:alice@192.0.2.10>;expires=600', '<sip:alice@192.0.2.11>;expires=5'] }), fakeFlow(), null)
    expect(res.status).toBe(423)
    expect(location.size).toBe(0)
  })

  test('expires=0 and expires=minExpires are accepted', () => {
    const { registrar } = harness()
    expect(registrar.handleRegister(register({ cseq: 1, expires: 60 }), fakeFlow(), null).status).toBe(200)
    expect(registrar.handleRegister(register({ cseq: 2, expires: 0 }), fakeFlow(), null).status).toBe(200)
  })
})

describe('Registrar: q values and lookup order', () => {
  test('lookup returns unexpired bindings by q, highest first; the 200 carries q', () => {
    const { registrar, location } = harness()
    const res = registrar.handleRegister(register({
      contacts: ['<sip:alice@192.0.2.10>;q=0.1', '<sip:alice@192.0.2.11>;q=1.0', '<sip:alice@192.0.2.12>;q=0.5', '<sip:alice@192.0.2.13>'],
    }), fakeFlow(), null)
    expect(res.status).toBe(200)
    const order = location.lookup(AOR).map((b) => [b.contact, b.q])
    expect(order).toEqual([
      ['sip:alice@192.0.2.13', 1], ['sip:alice@192.0.2.11', 1], ['sip:alice@192.0.2.12', 0.5], ['sip:alice@192.0.2.10', 0.1],
    ])
    expect(contactsOf(res)).toContain('<sip:alice@192.0.2.12>;expires=600;q=0.5')
  })

  test('an invalid q is 400', () => {
    const { registrar, location } = harness()
    expect(registrar.handleRegister(register({ contacts: ['<sip:alice@192.0.2.10>;q=1.5'] }), fakeFlow(), null).status).toBe(400)
    expect(registrar.handleRegister(register({ contacts: ['<sip:alice@192.0.2.10>;q=abc'] }), fakeFlow(), null).status).toBe(400)
    expect(location.size).toBe(0)
  })
})

describe('Registrar: Call-ID / CSeq ordering (§10.3 steps 6–7)', () => {
  test('same Call-ID with a lower or equal CSeq is rejected and the binding kept', () => {
    const { registrar, location } = harness()
    registrar.handleRegister(register({ cseq: 5, expires: 300 }), fakeFlow(), null)
    const lower = registrar.handleRegister(register({ cseq: 4, expires: 0 }), fakeFlow(), null)
    expect(lower.status).toBe(400)
    expect(lower.reason).toBe(REGISTRAR_ERRORS['out-of-order'].reason)
    const equal = registrar.handleRegister(register({ cseq: 5, expires: 900 }), fakeFlow(), null)
    expect(equal.status).toBe(400)
    const list = location.lookup(AOR)
    expect(list).toHaveLength(1)
    expect(list[0]!.cseq).toBe(5)
  })

  test('a different Call-ID updates the binding whatever its CSeq', () => {
    const { registrar, location } = harness()
    registrar.handleRegister(register({ callId: 'boot-1', cseq: 50 }), fakeFlow(), null)
    const res = registrar.handleRegister(register({ callId: 'boot-2', cseq: 1, expires: 120 }), fakeFlow(), null)
    expect(res.status).toBe(200)
    const list = location.lookup(AOR)
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({ callId: 'boot-2', cseq: 1 })
  })

  test('Contact: * is aborted by an out-of-order CSeq for any binding', () => {
    const { registrar, location } = harness()
    registrar.handleRegister(register({ cseq: 7 }), fakeFlow(), null)
    const res = registrar.handleRegister(register({ cseq: 6, contacts: ['*'], expires: 0 }), fakeFlow(), null)
    expect(res.status).toBe(400)
    expect(location.lookup(AOR)).toHaveLength(1)
  })

  test('the request is atomic: one out-of-order contact leaves every binding as it was', () => {
    const { registrar, location } = harness()
    registrar.handleRegister(register({ callId: 'A', cseq: 10, contacts: ['<sip:alice@192.0.2.10>'] }), fakeFlow(), null)
    registrar.handleRegister(register({ callId: 'B', cseq: 1, contacts: ['<sip:alice@192.0.2.11>'] }), fakeFlow(), null)
    // Call-ID A with a lower CSeq: removing .10 fails, so adding .12 must not happen either.
    const res = registrar.handleRegister(register({ callId: 'A', cseq: 3, contacts: ['<sip:alice@192.0.2.12>', '<sip:alice@192.0.2.10>;expires=0'] }), fakeFlow(), null)
    expect(res.status).toBe(400)
    expect(location.lookup(AOR).map((b) => b.contact).sort()).toEqual(['sip:alice@192.0.2.10', 'sip:alice@192.0.2.11'])
  })
})

describe('Registrar: RFC 5626 instance-id / reg-id', () => {
  test('a reloaded page (new Call-ID, same instance and reg-id) replaces its stale binding', () => {
    const { registrar, location } = harness()
    const ws1 = fakeFlow('WSS', '198.51.100.7', 50001)
    const first = registrar.handleRegister(register({
      callId: 'page-load-1', cseq: 1,
      contacts: [`<sip:k3j2h1@abcdef.invalid;transport=ws;ob>;+sip.instance=${INSTANCE};reg-id=1`],
      extra: [{ name: 'supported', value: 'path, gruu, outbound' }],
    }), ws1, 'alice')
    expect(first.status).toBe(200)
    expect(first.get('require')).toBe('outbound')
    const ws2 = fakeFlow('WSS', '198.51.100.7', 50002)
    const second = registrar.handleRegister(register({
      callId: 'page-load-2', cseq: 1,
      contacts: [`<sip:zz99yy@fedcba.invalid;transport=ws;ob>;+sip.instance=${INSTANCE};reg-id=1`],
      extra: [{ name: 'supported', value: 'outbound' }],
    }), ws2, 'alice')
    expect(second.status).toBe(200)
    const list = location.lookup(AOR)
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({
      contact: 'sip:zz99yy@fedcba.invalid;transport=ws;ob', callId: 'page-load-2', flowId: ws2.id, transport: 'WSS',
      instanceId: 'urn:uuid:00000000-0000-1000-8000-aabbccddeeff', regId: 1, sourcePort: 50002,
    })
    expect(contactsOf(second)).toEqual([
      '<sip:zz99yy@fedcba.invalid;transport=ws;ob>;expires=600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-aabbccddeeff>";reg-id=1',
    ])
    // the old flow no longer routes to alice
    expect(location.removeFlow(ws1.id)).toEqual([])
  })

  test('the same instance with a different reg-id is a second binding (two flows)', () => {
    const { registrar, location } = harness()
    registrar.handleRegister(register({ callId: 'x', cseq: 1, contacts: [`<sip:a@h1.invalid;transport=ws>;+sip.instance=${INSTANCE};reg-id=1`] }), fakeFlow('WS'), null)
    registrar.handleRegister(register({ callId: 'x', cseq: 2, contacts: [`<sip:a@h1.invalid;transport=ws>;+sip.instance=${INSTANCE};reg-id=2`] }), fakeFlow('WS'), null)
    expect(location.lookup(AOR).map((b) => b.regId).sort()).toEqual([1, 2])
  })

  test('an instance without reg-id replaces the binding of the same instance', () => {
    const { registrar, location } = harness()
    registrar.handleRegister(register({ callId: 'c1', contacts: [`<sip:alice@192.0.2.10:5062>;+sip.instance=${INSTANCE}`] }), fakeFlow(), null)
    const res = registrar.handleRegister(register({ callId: 'c2', contacts: [`<sip:alice@192.0.2.99:6000>;+sip.instance=${INSTANCE}`] }), fakeFlow(), null)
    expect(res.status).toBe(200)
    expect(res.get('require')).toBeUndefined()
    const list = location.lookup(AOR)
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({ contact: 'sip:alice@192.0.2.99:6000', regId: null, callId: 'c2' })
  })

  test('same instance and reg-id with the same Call-ID still obeys CSeq ordering', () => {
    const { registrar, location } = harness()
    const c = `<sip:a@h.invalid;transport=ws>;+sip.instance=${INSTANCE};reg-id=1`
    registrar.handleRegister(register({ callId: 'x', cseq: 9, contacts: [c] }), fakeFlow('WS'), null)
    expect(registrar.handleRegister(register({ callId: 'x', cseq: 8, contacts: [c] }), fakeFlow('WS'), null).status).toBe(400)
    expect(location.lookup(AOR)[0]!.cseq).toBe(9)
  })

  test('no Require: outbound when the UA did not list outbound in Supported', () => {
    const { registrar } = harness()
    const res = registrar.handleRegister(register({ contacts: [`<sip:a@h.invalid;transport=ws>;+sip.instance=${INSTANCE};reg-id=1`] }), fakeFlow('WS'), null)
    expect(res.status).toBe(200)
    expect(res.get('require')).toBeUndefined()
  })

  test('reg-id on one of several non-zero contacts is 400', () => {
    const { registrar, location } = harness()
    const res = registrar.handleRegister(register({
      contacts: [`<sip:a@h.invalid;transport=ws>;+sip.instance=${INSTANCE};reg-id=1`, '<sip:alice@192.0.2.10>'],
    }), fakeFlow('WS'), null)
    expect(res.status).toBe(400)
    expect(location.size).toBe(0)
  })

  test('reg-id without instance is ignored; reg-id=0 is 400', () => {
    const { registrar, location } = harness()
    expect(registrar.handleRegister(register({ cseq: 1, contacts: ['<sip:alice@192.0.2.10>;reg-id=1'] }), fakeFlow(), null).status).toBe(200)
    expect(location.lookup(AOR)[0]!.regId).toBeNull()
    expect(registrar.handleRegister(register({ cseq: 2, contacts: [`<sip:alice@192.0.2.10>;+sip.instance=${INSTANCE};reg-id=0`] }), fakeFlow(), null).status).toBe(400)
  })

  test('not the first hop and no Path with ob: 439 if the UA supports outbound, else reg-id ignored', () => {
    const { registrar, location } = harness()
    const contact = `<sip:alice@192.0.2.10;ob>;+sip.instance=${INSTANCE};reg-id=1`
    const r439 = registrar.handleRegister(register({ vias: 2, contacts: [contact], extra: [{ name: 'supported', value: 'outbound' }] }), fakeFlow('TCP'), null)
    expect(r439.status).toBe(439)
    expect(location.size).toBe(0)
    const ignored = registrar.handleRegister(register({ vias: 2, cseq: 2, contacts: [contact] }), fakeFlow('TCP'), null)
    expect(ignored.status).toBe(200)
    const [b] = location.lookup(AOR)
    expect(b!.regId).toBeNull()
    // not the first hop: the flow leads to the proxy in front, not to the UA
    expect(b!.flowId).toBeNull()
  })

  test('not the first hop but Path with ob: outbound applies, Path stored and echoed', () => {
    const { registrar, location } = harness()
    const path = '<sip:tok3n@edge.example.net;lr;ob>'
    const res = registrar.handleRegister(register({
      vias: 2,
      contacts: [`<sip:alice@192.0.2.10;ob>;+sip.instance=${INSTANCE};reg-id=1`],
      extra: [{ name: 'supported', value: 'outbound, path' }, { name: 'path', value: path }],
    }), fakeFlow('TCP'), null)
    expect(res.status).toBe(200)
    expect(res.get('require')).toBe('outbound')
    expect(res.getAll('path')).toEqual([path])
    expect(location.lookup(AOR)[0]).toMatchObject({ regId: 1, path: [path] })
  })
})

describe('Registrar: authorization and AOR validity (§10.3 steps 1–5)', () => {
  test('403 when the authenticated user is not the AOR user; nothing bound', () => {
    const { registrar, location } = harness()
    const res = registrar.handleRegister(register({ user: 'alice' }), fakeFlow(), 'mallory')
    expect(res.status).toBe(403)
    expect(location.size).toBe(0)
  })

  test('the AOR user is compared unescaped', () => {
    const { registrar, location } = harness()
    const res = registrar.handleRegister(register({ toUri: `sip:%61lice@${DOMAIN}` }), fakeFlow(), 'alice')
    expect(res.status).toBe(200)
    expect(location.lookup(AOR)).toHaveLength(1)
  })

  test('sips: and alias hosts map to the same AOR', () => {
    const { registrar, location } = harness()
    registrar.handleRegister(register({ toUri: 'sips:alice@sip.patchbay.test', contacts: ['<sip:alice@192.0.2.10>'] }), fakeFlow('TLS'), null)
    registrar.handleRegister(register({ toUri: 'sip:alice@127.0.0.1:5060', callId: 'z', contacts: ['<sip:alice@192.0.2.11>'] }), fakeFlow(), null)
    expect(location.lookup(AOR)).toHaveLength(2)
  })

  test('404 for an AOR of a foreign domain, or without user', () => {
    const { registrar } = harness()
    expect(registrar.handleRegister(register({ toUri: 'sip:alice@example.org' }), fakeFlow(), null).status).toBe(404)
    expect(registrar.handleRegister(register({ toUri: `sip:${DOMAIN}` }), fakeFlow(), null).status).toBe(404)
    expect(registrar.handleRegister(register({ requestUri: 'sip:example.org' }), fakeFlow(), null).status).toBe(404)
  })

  test('RFC 4475 unksm2: isbn: To and name: Contact are 400', () => {
    const { registrar, location } = harness()
    const req = new SipRequest('REGISTER', `sip:${DOMAIN}`, [
      { name: 'to', value: 'isbn:2983792873' },
      { name: 'from', value: '<http://www.example.com>;tag=3234233' },
      { name: 'call-id', value: 'unksm2.daksdj@hyphenated-host.example.com' },
      { name: 'cseq', value: '234902 REGISTER' },
      { name: 'max-forwards', value: '70' },
      { name: 'via', value: 'SIP/2.0/UDP 192.0.2.21:5060;branch=z9hG4bKkdjuw' },
      { name: 'contact', value: '<name:John_Smith>' },
      { name: 'content-length', value: '0' },
    ])
    const res = registrar.handleRegister(req, fakeFlow(), null)
    expect(res.status).toBe(400)
    expect(res.reason).toBe(REGISTRAR_ERRORS['to-not-sip'].reason)
    const onlyContact = registrar.handleRegister(register({ contacts: ['<name:John_Smith>'] }), fakeFlow(), null)
    expect(onlyContact.status).toBe(400)
    expect(location.size).toBe(0)
  })

  test('Require with an unknown option tag is 420 listing it in Unsupported', () => {
    const { registrar } = harness()
    const res = registrar.handleRegister(register({ extra: [{ name: 'require', value: 'outbound, 100rel' }] }), fakeFlow(), null)
    expect(res.status).toBe(420)
    expect(res.get('unsupported')).toBe('100rel')
  })

  test('unreadable Contact is 400', () => {
    const { registrar } = harness()
    expect(registrar.handleRegister(register({ contacts: ['<sip:alice@192.0.2.10'] }), fakeFlow(), null).status).toBe(400)
  })

  test('more than maxBindingsPerAor bindings is 503', () => {
    const { registrar, location } = harness({ maxBindingsPerAor: 2 })
    registrar.handleRegister(register({ cseq: 1, contacts: ['<sip:alice@192.0.2.10>', '<sip:alice@192.0.2.11>'] }), fakeFlow(), null)
    const res = registrar.handleRegister(register({ cseq: 2, contacts: ['<sip:alice@192.0.2.12>'] }), fakeFlow(), null)
    expect(res.status).toBe(503)
    expect(location.lookup(AOR)).toHaveLength(2)
    // refreshing existing bindings is still allowed
    expect(registrar.handleRegister(register({ cseq: 3, contacts: ['<sip:alice@192.0.2.11>'] }), fakeFlow(), null).status).toBe(200)
  })
})

describe('Registrar: flows and expiry', () => {
  test('a WebSocket binding carries its flow id; removeFlow drops it (RFC 5626 §7)', () => {
    const { registrar, location } = harness()
    const ws = fakeFlow('WS', '198.51.100.7', 40000)
    registrar.handleRegister(register({ contacts: ['<sip:x1@df7jal23ls0d.invalid;transport=ws>'] }), ws, null)
    registrar.handleRegister(register({ user: 'bob', callId: 'b', contacts: ['<sip:bob@192.0.2.20>'] }), fakeFlow(), null)
    expect(location.lookup(AOR)[0]!.flowId).toBe(ws.id)
    const removed = location.removeFlow(ws.id)
    expect(removed.map((b) => b.aor)).toEqual([AOR])
    expect(location.lookup(AOR)).toEqual([])
    expect(location.lookup(`sip:bob@${DOMAIN}`)).toHaveLength(1)
  })

  test('bindings lapse: lookup hides them at once and the sweep removes them, with one timer', () => {
    const { registrar, location, scheduler } = harness()
    registrar.handleRegister(register({ contacts: ['<sip:alice@192.0.2.10>;expires=60', '<sip:alice@192.0.2.11>;expires=120'] }), fakeFlow(), null)
    registrar.handleRegister(register({ user: 'bob', callId: 'b', contacts: ['<sip:bob@192.0.2.20>;expires=90'] }), fakeFlow(), null)
    expect(scheduler.pendingCount).toBe(1)
    scheduler.advance(60_000)
    expect(location.lookup(AOR).map((b) => b.contact)).toEqual(['sip:alice@192.0.2.11'])
    expect(location.size).toBe(2)
    scheduler.advance(60_000)
    expect(location.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
    // the 200 of a later REGISTER no longer lists lapsed contacts
    const res = registrar.handleRegister(register({ contacts: [] }), fakeFlow(), null)
    expect(contactsOf(res)).toEqual([])
  })
})

describe('Registrar on RFC 4475 torture messages (parsed with parseMessage)', () => {
  const fixture = (name: string) => new Uint8Array(readFileSync(join(import.meta.dir, '../../../fixtures/rfc4475', `${name}.dat`)))
  const exampleCom = () => {
    const scheduler = new FakeScheduler()
    const location = new LocationService({ scheduler })
    const registrar = new Registrar({
      location, local: new LocalAddresses('example.com', []), scheduler, minExpires: 60, maxExpires: 3600, defaultExpires: 600,
    })
    return { location, registrar }
  }
  const parse = (name: string): SipRequest => {
    const r = parseMessage(fixture(name))
    if (!r.ok || r.message.kind !== 'request') throw new Error(`${name} did not parse as a request`)
    return r.message
  }

  test('unksm2 (§3.3.4): isbn: To is answered 400', () => {
    const { registrar, location } = exampleCom()
    const res = registrar.handleRegister(parse('unksm2'), fakeFlow(), null)
    expect(res.status).toBe(400)
    expect(location.size).toBe(0)
  })

  test('regescrt (§3.3.14): 200, and the escaped Route header stays in the bound URI', () => {
    const { registrar, location } = exampleCom()
    const res = registrar.handleRegister(parse('regescrt'), fakeFlow(), null)
    expect(res.status).toBe(200)
    const [b] = location.lookup('sip:user@example.com')
    expect(b!.contact).toBe('sip:user@example.com?Route=%3Csip:sip.example.com%3E')
    expect(contactsOf(res)).toEqual(['<sip:user@example.com?Route=%3Csip:sip.example.com%3E>;expires=600'])
  })
})

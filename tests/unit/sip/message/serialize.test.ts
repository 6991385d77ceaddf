import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  serializeMessage,
  serializeNameAddr,
  serializeUri,
  serializeVia,
} from '../../../../gateway/src/sip/message/serialize.ts'
import { SipRequest, SipResponse, type SipMessage } from '../../../../gateway/src/sip/message/sip-message.ts'
import { parseMessage } from '../../../../gateway/src/sip/parser/message-parser.ts'
import { parseUri } from '../../../../gateway/src/sip/syntax/uri.ts'
import { parseNameAddr } from '../../../../gateway/src/sip/syntax/name-addr.ts'
import { parseVia } from '../../../../gateway/src/sip/syntax/via.ts'

const DIR = join(import.meta.dir, '../../../fixtures/rfc4475')
const td = new TextDecoder()

function reparse(bytes: Uint8Array): SipMessage {
  const r = parseMessage(bytes)
  if (!r.ok) throw new Error(`serializer output does not parse: ${JSON.stringify(r)}`)
  expect(r.consumed).toBe(bytes.length)
  return r.message
}

/** The fields that must survive parse -> serialize -> parse. */
function fields(m: SipMessage): unknown {
  return {
    start: m.kind === 'request' ? [m.method, m.uri] : [m.status, m.reason],
    headers: m.headers.filter((h) => h.name !== 'content-length'),
    body: Array.from(m.body),
  }
}

describe('serializeUri', () => {
  const uris = [
    'sip:alice:secretword@atlanta.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent',
    'sips:1212@gateway.com',
    'sip:alice;day=tuesday@atlanta.com',
    'sip:[2001:db8::1]:5060;maddr=[2001:db8::2]',
    'sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com',
    "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
    'tel:+1-201-555-0123;ext=1234',
    'nobodyknowsthisscheme:totallyopaquecontent',
    'urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
  ]
  for (const u of uris) {
    test(`round trip ${u}`, () => {
      const parsed = parseUri(u)!
      expect(serializeUri(parsed)).toBe(u)
      expect(parseUri(serializeUri(parsed))).toEqual(parsed)
    })
  }
})

describe('serializeNameAddr', () => {
  test('quotes and escapes the display name, always uses <>', () => {
    const na = parseNameAddr('"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>;tag=98asjd8')!
    expect(serializeNameAddr(na)).toBe('"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>;tag=98asjd8')
    expect(serializeNameAddr(parseNameAddr('caller<sip:caller@example.com>;tag=323')!)).toBe('"caller" <sip:caller@example.com>;tag=323')
    expect(serializeNameAddr(parseNameAddr('sip:+19725552222@gw1.example.net;unknownparam')!)).toBe('<sip:+19725552222@gw1.example.net>;unknownparam')
  })

  test('parse(serialize(x)) equals x', () => {
    for (const v of [
      '"Alice \u00e9" <sip:alice@atlanta.example.com;transport=tcp>;tag=1;expires=3600',
      '<sip:a@b>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1',
      'Bob <tel:+15551234567>',
      '<sip:user@example.com?Route=%3Csip:sip.example.com%3E>',
      '"" <sip:x@y>',
    ]) {
      const na = parseNameAddr(v)!
      expect(parseNameAddr(serializeNameAddr(na))).toEqual(na)
    }
  })
})

describe('serializeVia', () => {
  test('canonical form, params in order', () => {
    const v = parseVia('SIP  / 2.0  / tcp     Spindle.example.com:5070   ; branch  =   z9hG4bK9ikj8 ;rport')!
    expect(serializeVia(v)).toBe('SIP/2.0/TCP spindle.example.com:5070;branch=z9hG4bK9ikj8;rport')
    expect(parseVia(serializeVia(v))).toEqual(v)
  })
  test('the branch field wins; a branch only in the field is appended', () => {
    expect(serializeVia({ transport: 'UDP', host: 'h', port: null, params: { branch: 'z9hG4bKold', rport: '5' }, branch: 'z9hG4bKnew' }))
      .toBe('SIP/2.0/UDP h;branch=z9hG4bKnew;rport=5')
    expect(serializeVia({ transport: 'WSS', host: 'x.invalid', port: null, params: {}, branch: 'z9hG4bK1' }))
      .toBe('SIP/2.0/WSS x.invalid;branch=z9hG4bK1')
    expect(serializeVia({ transport: 'UDP', host: '[::1]', port: 5060, params: {}, branch: null })).toBe('SIP/2.0/UDP [::1]:5060')
  })
})

describe('serializeMessage', () => {
  test('start line, wire spellings, CRLF, Content-Length from the body bytes', () => {
    const body = new TextEncoder().encode('v=0\r\n\u00e9\r\n') // 9 bytes, 8 chars
    const req = new SipRequest('INVITE', 'sip:bob@biloxi.example.com', [
      { name: 'via', value: 'SIP/2.0/UDP a.example;branch=z9hG4bK1' },
      { name: 'call-id', value: 'c1' },
      { name: 'cseq', value: '1 INVITE' },
      { name: 'content-length', value: '999' },
      { name: 'www-authenticate', value: 'Digest realm="x"' },
      { name: 'content-length', value: '3' },
    ], body)
    const text = td.decode(serializeMessage(req))
    expect(text).toBe(
      'INVITE sip:bob@biloxi.example.com SIP/2.0\r\n' +
        'Via: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\n' +
        'Call-ID: c1\r\n' +
        'CSeq: 1 INVITE\r\n' +
        'Content-Length: 9\r\n' +
        'WWW-Authenticate: Digest realm="x"\r\n' +
        '\r\n' +
        'v=0\r\n\u00e9\r\n',
    )
  })

  test('Content-Length is appended when absent, 0 for no body; responses', () => {
    const res = new SipResponse(180, 'Ringing', [{ name: 'to', value: '<sip:b@b>;tag=x' }])
    expect(td.decode(serializeMessage(res))).toBe('SIP/2.0 180 Ringing\r\nTo: <sip:b@b>;tag=x\r\nContent-Length: 0\r\n\r\n')
  })

  test('a non-ASCII head is encoded as UTF-8 and the body follows byte-exact', () => {
    const body = new Uint8Array([0, 255, 13, 10, 128])
    const res = new SipResponse(200, 'D\u2019accord', [{ name: 'subject', value: '\u2615' }], body)
    const out = serializeMessage(res)
    const head = 'SIP/2.0 200 D\u2019accord\r\nSubject: \u2615\r\nContent-Length: 5\r\n\r\n'
    const headBytes = new TextEncoder().encode(head)
    expect(out.length).toBe(headBytes.length + 5)
    expect(td.decode(out.subarray(0, headBytes.length))).toBe(head)
    expect(Array.from(out.subarray(headBytes.length))).toEqual([0, 255, 13, 10, 128])
  })

  test('every RFC 4475 message that parses round-trips: equal fields, byte-exact body', () => {
    let count = 0
    for (const file of readdirSync(DIR).filter((f) => f.endsWith('.dat')).sort()) {
      const data = new Uint8Array(readFileSync(join(DIR, file)))
      const r = parseMessage(data)
      if (!r.ok) continue
      count++
      const out = serializeMessage(r.message)
      const text = td.decode(out)
      // One CRLF-terminated field per line; no bare LF in the head.
      const headText = text.slice(0, text.indexOf('\r\n\r\n') + 4)
      expect(headText.replace(/\r\n/g, '').includes('\n')).toBe(false)
      expect(headText).toContain(`\r\nContent-Length: ${r.message.body.length}\r\n`)
      const again = reparse(out)
      expect(fields(again)).toEqual(fields(r.message))
      expect(Buffer.from(again.body).equals(Buffer.from(r.message.body))).toBe(true)
      // Serializing the reparsed message gives the same bytes (a fixed point).
      expect(Buffer.from(serializeMessage(again)).equals(Buffer.from(out))).toBe(true)
    }
    expect(count).toBeGreaterThanOrEqual(28)
  })
})

import { describe, expect, test } from 'bun:test'
import { parseMessage, type ParseResult } from '../../../../gateway/src/sip/parser/message-parser.ts'
import type { SipRequest, SipResponse } from '../../../../gateway/src/sip/message/sip-message.ts'

const enc = new TextEncoder()
const bytes = (s: string): Uint8Array => enc.encode(s)

const SDP = 'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n'

function invite(extra = '', body = SDP): string {
  return (
    'INVITE sip:bob@biloxi.example.com SIP/2.0\r\n' +
    'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n' +
    'Max-Forwards: 70\r\n' +
    'To: Bob <sip:bob@biloxi.example.com>\r\n' +
    'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n' +
    'Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n' +
    'CSeq: 314159 INVITE\r\n' +
    'Contact: <sip:alice@pc33.atlanta.example.com>\r\n' +
    extra +
    'Content-Type: application/sdp\r\n' +
    `Content-Length: ${enc.encode(body).length}\r\n` +
    '\r\n' +
    body
  )
}

const OK_200 =
  'SIP/2.0 200 OK\r\n' +
  'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1\r\n' +
  'To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n' +
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n' +
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n' +
  'CSeq: 314159 INVITE\r\n' +
  'Content-Length: 0\r\n\r\n'

type Failure = Extract<ParseResult, { reason: string }>

function okReq(r: ParseResult): SipRequest {
  if (!r.ok || r.message.kind !== 'request') throw new Error(`expected a request: ${JSON.stringify(r)}`)
  return r.message
}
function okRes(r: ParseResult): SipResponse {
  if (!r.ok || r.message.kind !== 'response') throw new Error(`expected a response: ${JSON.stringify(r)}`)
  return r.message
}
function failure(r: ParseResult): Failure {
  if (r.ok || r.incomplete === true) throw new Error(`expected a failure: ${JSON.stringify(r)}`)
  return r
}

describe('parseMessage: requests and responses', () => {
  test('a typical INVITE: start line, headers, body, primed views', () => {
    const data = bytes(invite())
    const r = parseMessage(data)
    const m = okReq(r)
    expect(r.ok && r.consumed).toBe(data.length)
    expect(m.method).toBe('INVITE')
    expect(m.uri).toBe('sip:bob@biloxi.example.com')
    expect(m.topVia.branch).toBe('z9hG4bK776asdhds')
    expect(m.from.params.tag).toBe('1928301774')
    expect(m.to.displayName).toBe('Bob')
    expect(m.cseq).toEqual({ seq: 314159, method: 'INVITE' })
    expect(m.callId).toBe('a84b4c76e66710@pc33.atlanta.example.com')
    expect(new TextDecoder().decode(m.body)).toBe(SDP)
    expect(m.headers.map((h) => h.name)).toEqual([
      'via', 'max-forwards', 'to', 'from', 'call-id', 'cseq', 'contact', 'content-type', 'content-length',
    ])
  })

  test('a 200 OK; empty and missing reason phrases', () => {
    const m = okRes(parseMessage(bytes(OK_200)))
    expect(m.status).toBe(200)
    expect(m.reason).toBe('OK')
    expect(m.to.params.tag).toBe('a6c85cf')
    expect(okRes(parseMessage(bytes(OK_200.replace('200 OK', '180'))))).toMatchObject({ status: 180, reason: '' })
    expect(okRes(parseMessage(bytes(OK_200.replace('200 OK', '183 Session  Progress '))))).toMatchObject({ reason: 'Session  Progress ' })
  })

  test('the body is a copy, not a view of the receive buffer', () => {
    const data = bytes(invite())
    const m = okReq(parseMessage(data))
    const before = m.body[0]
    data.fill(0)
    expect(m.body[0]).toBe(before!)
  })

  test('compact forms, any case, LWS around the colon, folding', () => {
    const text =
      'OPTIONS sip:bob@b.example SIP/2.0\r\n' +
      'v: SIP/2.0/TCP a.example;branch=z9hG4bK1\r\n' +
      'f:  <sip:a@a.example>\r\n   ;tag=1\r\n' +
      'T :<sip:bob@b.example>\r\n' +
      'i\t: c1\r\n' +
      'CSEQ: 1\r\n\tOPTIONS\r\n' +
      'k: path, outbound\r\n' +
      'X-Folded: one\r\n two  \r\n\t three\r\n' +
      'l: 0\r\n\r\n'
    const m = okReq(parseMessage(bytes(text)))
    expect(m.get('from')).toBe('<sip:a@a.example> ;tag=1')
    expect(m.from.params.tag).toBe('1')
    expect(m.callId).toBe('c1')
    expect(m.cseq).toEqual({ seq: 1, method: 'OPTIONS' })
    expect(m.get('supported')).toBe('path, outbound') // not a list header: kept as one field
    expect(m.get('x-folded')).toBe('one two three')
    expect(m.get('content-length')).toBe('0')
  })

  test('list headers are split per value, quote- and <>-aware', () => {
    const text = invite(
      'Route: <sip:p1.example;lr>, <sip:p2.example;lr;x="a,b">,\r\n <sip:p3.example;lr>\r\n' +
        'Contact: "Doe, John" <sip:j,k@h>;q=0.5, <sip:k@h>\r\n' +
        'Via: SIP/2.0/UDP p1.example;branch=z9hG4bK2;x="q,r" , SIP/2.0/UDP p2.example;branch=z9hG4bK3\r\n' +
        'Record-Route:\r\n',
    )
    const m = okReq(parseMessage(bytes(text)))
    expect(m.getAll('route')).toEqual(['<sip:p1.example;lr>', '<sip:p2.example;lr;x="a,b">', '<sip:p3.example;lr>'])
    expect(m.getAll('contact')).toEqual([
      '<sip:alice@pc33.atlanta.example.com>', '"Doe, John" <sip:j,k@h>;q=0.5', '<sip:k@h>',
    ])
    expect(m.vias.map((v) => v.host)).toEqual(['pc33.atlanta.example.com', 'p1.example', 'p2.example'])
    expect(m.has('record-route')).toBe(false) // an empty list line is dropped
  })

  test('headers decode as UTF-8', () => {
    const m = okReq(parseMessage(bytes(invite('Subject: caf\u00e9 \u2615\r\n'))))
    expect(m.get('subject')).toBe('caf\u00e9 \u2615')
    expect(okRes(parseMessage(bytes(OK_200.replace('200 OK', '200 D\u2019accord')))).reason).toBe('D\u2019accord')
  })

  test('bare LF line ends are accepted', () => {
    const lfBody = SDP.replace(/\r\n/g, '\n')
    const m = okReq(parseMessage(bytes(invite('', lfBody).replace(/\r\n/g, '\n'))))
    expect(m.cseq.seq).toBe(314159)
    expect(new TextDecoder().decode(m.body)).toBe(lfBody)
  })

  test('SIP-Version is case-insensitive', () => {
    expect(okReq(parseMessage(bytes(invite().replace(' SIP/2.0\r\n', ' sip/2.0\r\n')))).method).toBe('INVITE')
  })

  test('identical duplicate Content-Length values are accepted', () => {
    const text = invite().replace('Content-Type', `Content-Length: ${SDP.length}\r\nContent-Type`)
    expect(okReq(parseMessage(bytes(text))).body.length).toBe(SDP.length)
  })

  test('tel and unknown-scheme Request-URIs parse (416 is a routing decision)', () => {
    expect(okReq(parseMessage(bytes(invite().replace('sip:bob@biloxi.example.com SIP', 'tel:+15551234567 SIP')))).uri).toBe('tel:+15551234567')
    expect(okReq(parseMessage(bytes(invite().replace('sip:bob@biloxi.example.com SIP', 'mailto:bob@b.example SIP')))).uri).toBe('mailto:bob@b.example')
  })
})

describe('parseMessage: rejections', () => {
  const cases: [string, string, number | null, string][] = [
    ['missing Via', invite().replace(/^Via:.*\r\n/m, ''), 400, 'missing Via'],
    ['missing CSeq', invite().replace(/^CSeq:.*\r\n/m, ''), 400, 'missing CSeq'],
    ['two Call-IDs', invite('Call-ID: other@x\r\n'), 400, 'more than one Call-ID'],
    ['two Max-Forwards', invite('Max-Forwards: 69\r\n'), 400, 'more than one Max-Forwards'],
    ['Max-Forwards 256', invite().replace('Max-Forwards: 70', 'Max-Forwards: 256'), 400, 'malformed Max-Forwards'],
    ['Max-Forwards not a number', invite().replace('Max-Forwards: 70', 'Max-Forwards: seventy'), 400, 'malformed Max-Forwards'],
    ['bad top Via', invite().replace('SIP/2.0/UDP pc33', 'SIP/2.0/UDP'), 400, 'malformed Via'],
    ['bad Contact', invite().replace('Contact: <sip:alice', 'Contact: <sop alice'), 400, 'malformed Contact'],
    ['header line without colon', invite('Broken header line\r\n'), 400, 'header line without a colon'],
    ['invalid header name', invite('Bad Name: x\r\n'), 400, 'invalid header field name'],
    ['empty list element', invite('Route: <sip:a>,,<sip:b>\r\n'), 400, 'empty value in route list'],
    ['SIP/3.0', invite().replace(' SIP/2.0\r\n', ' SIP/3.0\r\n'), 505, 'SIP version not supported'],
    ['HTTP/1.1', invite().replace(' SIP/2.0\r\n', ' HTTP/1.1\r\n'), 400, 'malformed SIP-Version in Request-Line'],
    ['missing version', invite().replace(' SIP/2.0\r\n', '\r\n'), 400, 'malformed Request-Line'],
    ['Request-URI headers', invite().replace('biloxi.example.com SIP', 'biloxi.example.com?Subject=x SIP'), 400, 'headers in Request-URI'],
    ['bad sip Request-URI', invite().replace('sip:bob@biloxi.example.com SIP', 'sip:bob@ SIP'), 400, 'malformed Request-URI'],
    ['control char in Request-URI', invite().replace('sip:bob@', 'sip:b\u0001ob@'), 400, 'invalid character in Request-URI'],
    ['no scheme in Request-URI', invite().replace('sip:bob@biloxi.example.com SIP', 'bob SIP'), 400, 'Request-URI without a scheme'],
    ['folded first line', invite().replace('\r\nVia', '\r\n Via'), 400, 'continuation line without a header field'],
  ]
  for (const [name, text, status, reason] of cases) {
    test(name, () => {
      const f = failure(parseMessage(bytes(text)))
      expect(f.status).toBe(status)
      expect(f.reason).toBe(reason)
      expect(f.kind).toBe('request')
      expect(f.method).toBe('INVITE')
    })
  }

  test('a failed request still returns the header fields read, and consumed when framing is intact', () => {
    const text = invite().replace('CSeq: 314159 INVITE', 'CSeq: 314159 BYE')
    const f = failure(parseMessage(bytes(text), { stream: true }))
    expect(f.status).toBe(400)
    expect(f.consumed).toBe(bytes(text).length)
    expect(f.uri).toBe('sip:bob@biloxi.example.com')
    expect(f.headers.find((h) => h.name === 'via')?.value).toContain('z9hG4bK776asdhds')
  })

  test('bad responses are discarded (status null)', () => {
    for (const text of [
      OK_200.replace('SIP/2.0 200', 'SIP/2.0 2000'),
      OK_200.replace('SIP/2.0 200', 'SIP/2.0 099'),
      OK_200.replace('SIP/2.0 200', 'SIP/2.0 700'),
      OK_200.replace('SIP/2.0 200', 'SIP/3.0 200'),
      OK_200.replace(/^CSeq:.*\r\n/m, ''),
      OK_200.replace('Content-Length: 0', 'Content-Length: 10'),
    ]) {
      const f = failure(parseMessage(bytes(text)))
      expect(f.kind).toBe('response')
      expect(f.status).toBeNull()
    }
  })

  test('garbage is dropped (kind null, status null)', () => {
    for (const text of ['\u0000\u0001\u0002\r\n\r\n', 'hello\r\n\r\n', '<xml/>\r\n\r\n', ' INVITE sip:a@b SIP/2.0\r\n\r\n']) {
      const f = failure(parseMessage(bytes(text)))
      expect(f.kind).toBeNull()
      expect(f.status).toBeNull()
    }
    expect(failure(parseMessage(new Uint8Array(0))).reason).toBe('empty message')
    expect(failure(parseMessage(bytes('\r\n\r\n'))).reason).toBe('empty message')
  })
})

describe('parseMessage: stream framing (RFC 3261 §18.3)', () => {
  test('two messages back to back, with CRLFs before the second start-line', () => {
    const a = bytes(invite())
    const b = bytes(OK_200)
    const buf = new Uint8Array(a.length + 4 + b.length)
    buf.set(a, 0)
    buf.set(bytes('\r\n\r\n'), a.length)
    buf.set(b, a.length + 4)
    const r1 = parseMessage(buf, { stream: true })
    expect(r1.ok && r1.consumed).toBe(a.length)
    const rest = buf.subarray(a.length)
    const r2 = parseMessage(rest, { stream: true })
    expect(okRes(r2).status).toBe(200)
    expect(r2.ok && r2.consumed).toBe(4 + b.length) // the skipped CRLFs count
  })

  test('every strict prefix is incomplete; the whole message is not', () => {
    const data = bytes(invite())
    for (let n = 0; n < data.length; n++) {
      expect(parseMessage(data.subarray(0, n), { stream: true })).toEqual({ ok: false, incomplete: true })
    }
    expect(parseMessage(data, { stream: true }).ok).toBe(true)
  })

  test('Content-Length is mandatory on a stream', () => {
    const f = failure(parseMessage(bytes(invite().replace(/^Content-Length:.*\r\n/m, '')), { stream: true }))
    expect(f.status).toBe(400)
    expect(f.consumed).toBeUndefined()
  })

  test('datagram: no Content-Length means the body runs to the end of the packet', () => {
    const m = okReq(parseMessage(bytes(invite().replace(/^Content-Length:.*\r\n/m, ''))))
    expect(new TextDecoder().decode(m.body)).toBe(SDP)
  })
})

describe('parseMessage: decoding of the header section', () => {
  const displayName = (wire: Uint8Array): string | null => okReq(parseMessage(wire)).from.displayName

  /** invite() with `name` as the From display name, as bytes with `raw` spliced in at the marker. */
  function withRawName(raw: number[]): Uint8Array {
    const text = invite().replace('From: Alice', 'From: "A#B"')
    const b = bytes(text)
    const at = b.indexOf(0x23) // '#'
    const out = new Uint8Array(b.length - 1 + raw.length)
    out.set(b.subarray(0, at), 0)
    out.set(raw, at)
    out.set(b.subarray(at + 1), at + raw.length)
    return out
  }

  test('UTF-8 in a header is decoded (RFC 3261 §25.1 UTF8-NONASCII in quoted-string)', () => {
    expect(displayName(withRawName([0xc3, 0xa9]))).toBe('AéB')
    expect(displayName(withRawName([0xf0, 0x9f, 0x93, 0x9e]))).toBe('A\u{1F4DE}B')
  })

  test('malformed UTF-8 becomes U+FFFD as TextDecoder does (one per maximal subpart)', () => {
    const cases = [[0xff], [0xc3], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf0, 0x9f, 0x93], [0x80, 0x80], [0xc0, 0xaf]]
    const dec = new TextDecoder('utf-8')
    for (const raw of cases) {
      expect(displayName(withRawName(raw))).toBe('A' + dec.decode(new Uint8Array(raw)) + 'B')
    }
    expect(displayName(withRawName([0xe2, 0x82]))).toBe('A\uFFFDB')
    expect(displayName(withRawName([0xed, 0xa0, 0x80]))).toBe('A\uFFFD\uFFFD\uFFFDB')
  })

  test('a leading UTF-8 BOM is dropped as TextDecoder drops it, so the start-line still parses', () => {
    const b = bytes(invite())
    const withBom = new Uint8Array(b.length + 3)
    withBom.set([0xef, 0xbb, 0xbf], 0)
    withBom.set(b, 3)
    const r = okReq(parseMessage(withBom))
    expect(r.method).toBe('INVITE')
    expect(r.uri).toBe('sip:bob@biloxi.example.com')
  })

  test('a message that ends with the empty line has an empty body; the body is a copy, not a view', () => {
    const res = parseMessage(bytes(OK_200))
    if (!res.ok) throw new Error('expected a response')
    expect(res.message.body.length).toBe(0)
    expect(res.consumed).toBe(bytes(OK_200).length)
    const wire = bytes(invite())
    const r = okReq(parseMessage(wire))
    wire.fill(0x21) // the caller reuses its receive buffer
    expect(new TextDecoder().decode(r.body)).toBe(SDP)
  })

  test('a Buffer slice at an offset in a larger buffer (as a socket hands it over) parses the same', () => {
    const wire = bytes(invite())
    const big = Buffer.alloc(wire.length + 100, 0x7a)
    big.set(wire, 37)
    const r = okReq(parseMessage(big.subarray(37, 37 + wire.length)))
    expect(r.callId).toBe('a84b4c76e66710@pc33.atlanta.example.com')
    expect(new TextDecoder().decode(r.body)).toBe(SDP)
  })
})

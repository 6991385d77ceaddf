import { describe, expect, test } from 'bun:test'
import { parseVia } from '../../../../gateway/src/sip/syntax/via.ts'
import { parseCSeq } from '../../../../gateway/src/sip/syntax/cseq.ts'

describe('parseVia (RFC 3261 §20.42)', () => {
  test('the usual value', () => {
    expect(parseVia('SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport')).toEqual({
      transport: 'UDP',
      host: 'pc33.atlanta.example.com',
      port: 5060,
      params: { branch: 'z9hG4bK776asdhds', rport: null },
      branch: 'z9hG4bK776asdhds',
    })
  })

  test('LWS around / : ; = (wsinv)', () => {
    const v = parseVia('SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239')!
    expect(v).toMatchObject({ transport: 'UDP', host: '192.168.255.111', port: null, branch: 'z9hG4bK30239' })
    expect(parseVia('SIP/2.0/TCP host.example.com : 5070 ;received = 192.0.2.1')).toMatchObject({ port: 5070, params: { received: '192.0.2.1' } })
  })

  test('case: transport upper-cased, host and param names lower-cased, version case-insensitive', () => {
    const v = parseVia('sip/2.0/wss Df7jal23ls0d.INVALID;Branch=z9hG4bKAbC')!
    expect(v).toMatchObject({ transport: 'WSS', host: 'df7jal23ls0d.invalid', branch: 'z9hG4bKAbC', params: { branch: 'z9hG4bKAbC' } })
  })

  test('IPv6 sent-by and received', () => {
    const v = parseVia('SIP/2.0/UDP [2001:DB8::9]:5060;received=2001:db8::1;rport=5061;branch=z9hG4bKx')!
    expect(v).toMatchObject({ host: '[2001:db8::9]', port: 5060, params: { received: '2001:db8::1', rport: '5061' } })
  })

  test('RFC 2543 (no branch) and unknown transports', () => {
    expect(parseVia('SIP/2.0/UDP iftgw.example.com')).toMatchObject({ branch: null, params: {} })
    expect(parseVia('SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en')!.transport).toBe('UNKNOWN')
  })

  test('quoted parameter values', () => {
    expect(parseVia('SIP/2.0/TCP h;x="a;b, c";branch=z9hG4bK1')!.params.x).toBe('"a;b, c"')
  })

  const invalid = [
    '', 'SIP/2.0/UDP', 'SIP/2.0/UDP ', 'SIP/2.0 UDP host', 'SIP/7.0/UDP c.example.com', 'XIP/2.0/UDP host',
    'SIP/2.0/UDP 192.0.2.15;;', 'SIP/2.0/UDP host;branch=', 'SIP/2.0/UDP host:', 'SIP/2.0/UDP host:70000',
    'SIP/2.0/UDPhost', 'SIP/2.0/UDP [::1', 'SIP/2.0/UDP host junk', 'SIP/2.0/UDP host;x="open',
  ]
  for (const text of invalid) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      expect(parseVia(text)).toBeNull()
    })
  }
})

describe('parseCSeq (RFC 3261 §20.16)', () => {
  test('number and method, leading zeros, LWS', () => {
    expect(parseCSeq('314159 INVITE')).toEqual({ seq: 314159, method: 'INVITE' })
    expect(parseCSeq('0009 INVITE')).toEqual({ seq: 9, method: 'INVITE' })
    expect(parseCSeq('  1 \t OPTIONS  ')).toEqual({ seq: 1, method: 'OPTIONS' })
    expect(parseCSeq('4294967295 BYE')).toEqual({ seq: 4294967295, method: 'BYE' })
    expect(parseCSeq('0 RE%47IST%45R')).toEqual({ seq: 0, method: 'RE%47IST%45R' })
  })
  test('rejects out of range and malformed values', () => {
    for (const v of ['4294967296 BYE', '36893488147419103232 REGISTER', 'INVITE', '1', '1INVITE', '-1 BYE', '1 INVITE x', '', '1 IN<VITE']) {
      expect(parseCSeq(v)).toBeNull()
    }
  })
})

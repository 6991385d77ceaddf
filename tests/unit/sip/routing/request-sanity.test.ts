import { describe, expect, test } from 'bun:test'
import { checkRequestSanity, type SanityContext } from '../../../../gateway/src/sip/routing/request-sanity.ts'
import { parseMessage } from '../../../../gateway/src/sip/parser/message-parser.ts'
import type { SipRequest } from '../../../../gateway/src/sip/message/sip-message.ts'

const PROXY: SanityContext = {
  isForMe: false,
  supportedOptions: new Set(['100rel', 'timer', 'path', 'outbound']),
  acceptedContentTypes: new Set(['application/sdp']),
}
const UAS: SanityContext = { ...PROXY, isForMe: true }

function request(method: string, ruri: string, extra = '', body = ''): SipRequest {
  const text =
    `${method} ${ruri} SIP/2.0\r\n` +
    'Via: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\n' +
    'Max-Forwards: 70\r\n' +
    'To: <sip:bob@b.example>\r\n' +
    'From: <sip:alice@a.example>;tag=1\r\n' +
    'Call-ID: c1\r\n' +
    `CSeq: 1 ${method}\r\n` +
    extra +
    `Content-Length: ${new TextEncoder().encode(body).length}\r\n\r\n` +
    body
  const r = parseMessage(new TextEncoder().encode(text))
  if (!r.ok || r.message.kind !== 'request') throw new Error(`test request does not parse: ${JSON.stringify(r)}`)
  return r.message
}

describe('checkRequestSanity', () => {
  test('a plain request passes, as proxy and as UAS', () => {
    expect(checkRequestSanity(request('INVITE', 'sip:bob@b.example'), PROXY)).toEqual({ ok: true })
    expect(checkRequestSanity(request('OPTIONS', 'sip:gw.example'), UAS)).toEqual({ ok: true })
  })

  test('416 for schemes other than sip, sips, tel', () => {
    expect(checkRequestSanity(request('INVITE', 'tel:+15551234567'), PROXY)).toEqual({ ok: true })
    expect(checkRequestSanity(request('INVITE', 'SIPS:bob@b.example'), PROXY)).toEqual({ ok: true })
    expect(checkRequestSanity(request('INVITE', 'mailto:bob@b.example'), PROXY)).toEqual({ ok: false, status: 416, reason: 'Unsupported URI Scheme' })
  })

  test('Max-Forwards 0: 483 when proxying, processed when the gateway is the target', () => {
    const r = request('INVITE', 'sip:bob@b.example').set('max-forwards', '00')
    expect(checkRequestSanity(r, PROXY)).toMatchObject({ status: 483 })
    expect(checkRequestSanity(r, UAS)).toEqual({ ok: true })
    expect(checkRequestSanity(r.set('max-forwards', '1'), PROXY)).toEqual({ ok: true })
  })

  test('option tags compare case-insensitively; Require is not a proxy matter', () => {
    expect(checkRequestSanity(request('INVITE', 'sip:b@b', 'Proxy-Require: Timer\r\nRequire: foo\r\n'), PROXY)).toEqual({ ok: true })
    expect(checkRequestSanity(request('INVITE', 'sip:b@b', 'Proxy-Require: timer, x-a\r\nProxy-Require: x-b\r\n'), PROXY)).toEqual({
      ok: false, status: 420, reason: 'Bad Extension', headers: [{ name: 'unsupported', value: 'x-a, x-b' }],
    })
  })

  test('Require and Proxy-Require are ignored in ACK and CANCEL', () => {
    expect(checkRequestSanity(request('CANCEL', 'sip:b@b', 'Proxy-Require: x\r\n'), PROXY)).toEqual({ ok: true })
    expect(checkRequestSanity(request('ACK', 'sip:gw', 'Require: x\r\n'), UAS)).toEqual({ ok: true })
  })

  test('415: unknown type, missing Content-Type, unknown encoding; optional bodies pass', () => {
    const xml = '<x/>'
    expect(checkRequestSanity(request('MESSAGE', 'sip:gw', 'Content-Type: text/xml\r\n', xml), UAS)).toEqual({
      ok: false, status: 415, reason: 'Unsupported Media Type', headers: [{ name: 'accept', value: 'application/sdp' }],
    })
    expect(checkRequestSanity(request('MESSAGE', 'sip:gw', '', xml), UAS)).toMatchObject({ status: 415 })
    expect(checkRequestSanity(request('INVITE', 'sip:gw', 'Content-Type: Application/SDP; charset=utf-8\r\n', 'v=0\r\n'), UAS)).toEqual({ ok: true })
    expect(checkRequestSanity(request('INVITE', 'sip:gw', 'Content-Type: application/sdp\r\nContent-Encoding: gzip\r\n', 'v=0\r\n'), UAS)).toEqual({
      ok: false, status: 415, reason: 'Unsupported Media Type', headers: [{ name: 'accept-encoding', value: 'identity' }],
    })
    expect(checkRequestSanity(request('INFO', 'sip:gw', 'Content-Type: text/xml\r\nContent-Disposition: render;handling=optional\r\n', xml), UAS)).toEqual({ ok: true })
    // A proxy does not look at bodies.
    expect(checkRequestSanity(request('MESSAGE', 'sip:b@b', 'Content-Type: text/xml\r\n', xml), PROXY)).toEqual({ ok: true })
  })

  test('406 when Accept excludes every type the gateway answers with', () => {
    const invite = (accept: string): SipRequest => request('INVITE', 'sip:gw', accept)
    expect(checkRequestSanity(invite(''), UAS)).toEqual({ ok: true }) // no Accept: application/sdp assumed
    expect(checkRequestSanity(invite('Accept: application/*\r\n'), UAS)).toEqual({ ok: true })
    expect(checkRequestSanity(invite('Accept: text/plain, */*;q=0.1\r\n'), UAS)).toEqual({ ok: true })
    expect(checkRequestSanity(invite('Accept: application/sdp;q=0\r\n'), UAS)).toMatchObject({ status: 406 })
    expect(checkRequestSanity(invite('Accept:\r\n'), UAS)).toMatchObject({ status: 406 }) // "no formats are acceptable"
    expect(checkRequestSanity(invite('Accept: text/html\r\n'), { ...UAS, answerContentTypes: new Set(['text/html']) })).toEqual({ ok: true })
    // OPTIONS answers need no body: Accept does not matter.
    expect(checkRequestSanity(request('OPTIONS', 'sip:gw', 'Accept: text/html\r\n'), UAS)).toEqual({ ok: true })
  })

  test('REGISTER: To and Contact must be sip, sips or tel; * is allowed', () => {
    const reg = (to: string, contact: string): SipRequest =>
      request('REGISTER', 'sip:gw', `Contact: ${contact}\r\n`).set('to', to)
    expect(checkRequestSanity(reg('<sip:bob@gw>', '<sips:bob@10.0.0.1>;expires=60'), UAS)).toEqual({ ok: true })
    expect(checkRequestSanity(reg('<sip:bob@gw>', '*').set('expires', '0'), UAS)).toEqual({ ok: true })
    expect(checkRequestSanity(reg('<tel:+15551234567>', '<sip:bob@10.0.0.1>'), UAS)).toEqual({ ok: true })
    expect(checkRequestSanity(reg('<mailto:bob@gw>', '<sip:bob@10.0.0.1>'), UAS)).toMatchObject({ status: 400 })
    expect(checkRequestSanity(reg('<sip:bob@gw>', '<http://bob.example>'), UAS)).toMatchObject({ status: 400 })
  })
})

/**
 * RFC 4475 "SIP Torture Test Messages": one test per fixture file, read as bytes.
 * MANIFEST.tsv gives the expected handling and a SHA-256 per file: a fixture changed by a
 * git line-ending conversion (CRLF -> LF) fails loudly here before anything else.
 */
import { describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseMessage, type ParseResult } from '../../../../gateway/src/sip/parser/message-parser.ts'
import { checkRequestSanity, type SanityContext } from '../../../../gateway/src/sip/routing/request-sanity.ts'
import { parseUri, unescapeUriComponent } from '../../../../gateway/src/sip/syntax/uri.ts'
import { parseNameAddr } from '../../../../gateway/src/sip/syntax/name-addr.ts'
import type { SipRequest, SipResponse } from '../../../../gateway/src/sip/message/sip-message.ts'
import type { NameAddr } from '../../../../gateway/src/sip/syntax/types.ts'

const DIR = join(import.meta.dir, '../../../fixtures/rfc4475')

interface ManifestRow {
  file: string
  section: string
  title: string
  expected: string
  bytes: number
  sha256: string
}

const manifest: ManifestRow[] = readFileSync(join(DIR, 'MANIFEST.tsv'), 'utf8')
  .split('\n')
  .slice(1)
  .filter((l) => l.trim().length > 0)
  .map((l) => {
    const f = l.split('\t')
    return { file: f[0]!, section: f[1]!, title: f[2]!, expected: f[5]!, bytes: Number(f[6]), sha256: f[7]! }
  })

function load(file: string): Uint8Array {
  return new Uint8Array(readFileSync(join(DIR, file)))
}

const PROXY: SanityContext = {
  isForMe: false,
  supportedOptions: new Set(['100rel', 'timer', 'path', 'outbound', 'gruu', 'replaces']),
  acceptedContentTypes: new Set(['application/sdp']),
}
const UAS: SanityContext = { ...PROXY, isForMe: true }

type Failure = Extract<ParseResult, { reason: string }>

function ok(data: Uint8Array): SipRequest | SipResponse {
  const r = parseMessage(data)
  if (!r.ok) throw new Error(`expected a parsed message, got ${JSON.stringify(r)}`)
  expect(r.consumed).toBeLessThanOrEqual(data.length)
  return r.message
}

function req(data: Uint8Array): SipRequest {
  const m = ok(data)
  if (m.kind !== 'request') throw new Error('expected a request')
  return m
}

function res(data: Uint8Array): SipResponse {
  const m = ok(data)
  if (m.kind !== 'response') throw new Error('expected a response')
  return m
}

function bad(data: Uint8Array, options?: { stream?: boolean }): Failure {
  const r = parseMessage(data, options)
  if (r.ok || r.incomplete === true) throw new Error(`expected a parse failure, got ${JSON.stringify(r.ok ? 'ok' : r)}`)
  return r
}

/** A rejected request must still carry what a stateless 400 copies (§8.2.6.2). */
function expectAnswerable(f: Failure): void {
  expect(f.kind).toBe('request')
  const names = new Set(f.headers.map((h) => h.name))
  for (const n of ['via', 'call-id', 'cseq']) expect(names.has(n)).toBe(true)
}

function contacts(m: SipRequest | SipResponse): NameAddr[] {
  return m.getAll('contact').map((v) => {
    const na = parseNameAddr(v)
    if (na === null) throw new Error(`unreadable Contact ${v}`)
    return na
  })
}

const td = new TextDecoder()

/** The assertions each file is about. */
const CHECKS: Record<string, (data: Uint8Array) => void> = {
  'wsinv.dat': (d) => {
    const m = req(d)
    expect(m.method).toBe('INVITE')
    expect(m.uri).toBe('sip:vivekg@chair-dnrc.example.com;unknownparam')
    expect(Number(m.get('max-forwards'))).toBe(68)
    expect(m.get('max-forwards')).toBe('0068')
    expect(m.cseq).toEqual({ seq: 9, method: 'INVITE' })
    expect(m.callId).toBe('wsinv.ndaksdj@192.0.2.1')
    const vias = m.vias
    expect(vias.map((v) => v.transport)).toEqual(['UDP', 'TCP', 'UDP'])
    expect(vias.map((v) => v.host)).toEqual(['192.0.2.2', 'spindle.example.com', '192.168.255.111'])
    expect(vias.map((v) => v.branch)).toEqual(['390skdjuw', 'z9hG4bK9ikj8', 'z9hG4bK30239'])
    expect(m.to.uri.user).toBe('vivekg')
    expect(m.to.displayName).toBeNull()
    expect(m.to.params.tag).toBe('1918181833n')
    expect(m.from.displayName).toBe('J Rosenberg \\"')
    expect(m.from.params.tag).toBe('98asjd8')
    expect(m.get('subject')).toBe('') // "s :" with an empty value
    expect(m.get('newfangledheader')).toBe('newfangled value continued newfangled value')
    expect(m.get('unknownheaderwithunusualvalue')).toBe(';;,,;;,;')
    expect(m.getAll('route')).toEqual(['<sip:services.example.com;lr;unknownwith=value;unknown-no-value>'])
    const [c] = contacts(m)
    expect(c!.displayName).toBe('Quoted string ""')
    expect(c!.params).toEqual({ newparam: 'newvalue', secondparam: null, q: '0.33' })
    expect(m.get('content-type')).toBe('application/sdp')
    expect(m.body.length).toBe(150)
    expect(checkRequestSanity(m, PROXY)).toEqual({ ok: true })
  },
  'intmeth.dat': (d) => {
    const m = req(d)
    const method = "!interesting-Method0123456789_*+`.%indeed'~"
    expect(m.method).toBe(method)
    expect(m.cseq).toEqual({ seq: 139122385, method })
    const u = parseUri(m.uri)!
    expect(u.user).toBe("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    expect(u.password).toBe("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    expect(u.host).toBe('example.com')
    expect(m.to.displayName).toBe('BEL:\x07 NUL:\x00 DEL:\x7f')
    expect(m.from.displayName).toBe("token1~` token2'+_ token3*%!.-")
    expect(m.from.params.tag).toBe("_token~1'+`*%!-.")
    expect(m.from.params["fromparam''~+*_!.-%"]).toBe('"\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439"')
    expect(m.callId).toBe('intmeth.word%ZK-!.*_+\'@word`~)(><:\\/"][?}{')
    expect(m.get("extensionheader-!.%*+_`'~")).toBe('\ufeff\u5927\u505c\u96fb')
    expect(m.get('max-forwards')).toBe('255')
    expect(checkRequestSanity(m, PROXY)).toEqual({ ok: true })
  },
  'esc01.dat': (d) => {
    const m = req(d)
    const u = parseUri(m.uri)!
    expect(u.user).toBe('sips%3Auser%40example.com')
    expect(unescapeUriComponent(u.user!)).toBe('sips:user@example.com')
    expect(u.host).toBe('example.net')
    expect(unescapeUriComponent(m.to.uri.user!)).toBe('user')
    expect(unescapeUriComponent(m.from.uri.user!)).toBe('I have spaces')
    const [c] = contacts(m)
    expect(unescapeUriComponent(c!.uri.user!)).toBe('caller')
    expect(c!.uri.params['%6c%72']).toBeNull()
    expect(unescapeUriComponent(c!.uri.params['n%61me']!)).toBe('value%41')
    expect(m.callId).toBe('esc01.239409asdfakjkn23onasd0-3234')
    expect(m.get('content-type')).toBe('application/sdp')
  },
  'escnull.dat': (d) => {
    const m = req(d)
    expect(m.to.uri.user).toBe('null-%00-null')
    expect(unescapeUriComponent(m.to.uri.user!)).toBe('null-\u0000-null')
    expect(unescapeUriComponent(m.from.uri.user!).length).toBe(11)
    const cs = contacts(m)
    expect(cs.map((c) => c.uri.user)).toEqual(['%00', '%00%00'])
    expect(cs.map((c) => unescapeUriComponent(c.uri.user!))).toEqual(['\u0000', '\u0000\u0000'])
  },
  'esc02.dat': (d) => {
    const m = req(d)
    expect(m.method).toBe('RE%47IST%45R') // an unknown method, not REGISTER
    expect(m.cseq.method).toBe('RE%47IST%45R')
    expect(m.to.displayName).toBe('%Z%45')
    expect(m.from.displayName).toBe('%Z%45')
    expect(m.getAll('contact')).toEqual(['<sip:alias1@host1.example.com>', '<sip:alias3@host3.example.com>'])
    expect(m.get('c%6fntact')).toBe('<sip:alias2@host2.example.com>')
    expect(m.topVia.branch).toBe('z9hG4bK209%fzsnel234')
  },
  'lwsdisp.dat': (d) => {
    const m = req(d)
    expect(m.from.displayName).toBe('caller')
    expect(m.from.uri.user).toBe('caller')
    expect(m.from.params.tag).toBe('323')
  },
  'longreq.dat': (d) => {
    const m = req(d)
    expect(m.to.displayName).toBe(`I have a user name of ${'extreme'.repeat(10)} proportion`)
    expect(m.to.uri.port).toBe(6000)
    expect(Object.keys(m.to.uri.params).length).toBe(3)
    expect(m.from.params.tag!.length).toBe(155)
    expect(m.from.params.unknownvaluelessparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamnameparamname).toBeNull()
    expect(m.callId).toBe(`longreq.one${'really'.repeat(20)}longcallid`)
    const vias = m.vias
    expect(vias.length).toBe(34)
    expect(vias[0]!.host).toBe('sip33.example.com')
    expect(vias[33]!.host).toBe('host.example.com')
    expect(vias[33]!.params.received).toBe('192.0.2.5')
    expect(vias[33]!.branch).toBe(`very${'long'.repeat(50)}branchvalue`)
    expect(contacts(m)[0]!.uri.user).toBe('amazinglylongcallername'.repeat(5))
    expect(m.body.length).toBe(150)
  },
  'dblreq.dat': (d) => {
    const r = parseMessage(d)
    if (!r.ok) throw new Error('dblreq must parse')
    expect(r.message.kind).toBe('request')
    expect((r.message as SipRequest).method).toBe('REGISTER')
    expect(r.consumed).toBeLessThan(d.length)
    // The trailing octets (an INVITE) are not part of this message and are ignored.
    expect(td.decode(d.subarray(r.consumed)).trimStart().startsWith('INVITE sip:joe@example.com SIP/2.0')).toBe(true)
    expect(r.message.body.length).toBe(0)
  },
  'semiuri.dat': (d) => {
    const m = req(d)
    const u = parseUri(m.uri)!
    expect(u.user).toBe('user;par=u%40example.net')
    expect(unescapeUriComponent(u.user!)).toBe('user;par=u@example.net')
    expect(u.host).toBe('example.com')
    expect(u.params).toEqual({})
    expect(m.get('accept')).toBe(
      'application/sdp, application/pkcs7-mime, multipart/mixed, multipart/signed, message/sip, message/sipfrag',
    )
  },
  'transports.dat': (d) => {
    const m = req(d)
    expect(m.vias.map((v) => v.transport)).toEqual(['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP'])
    expect(checkRequestSanity(m, PROXY)).toEqual({ ok: true })
  },
  'mpart01.dat': (d) => {
    const m = req(d)
    expect(m.method).toBe('MESSAGE')
    expect(m.body.length).toBe(Number(m.get('content-length')))
    expect(m.body.length).toBe(553)
    // Byte exact: the body is the last 553 octets, NUL and 8-bit bytes included.
    expect(Buffer.from(m.body).equals(Buffer.from(d.subarray(d.length - 553)))).toBe(true)
    expect(m.body.includes(0)).toBe(true)
    expect(m.body.some((b) => b >= 0x80)).toBe(true)
    expect(m.get('content-type')).toBe('multipart/mixed;boundary=7a9cbec02ceef655')
    // The gateway as UAS does not understand multipart bodies: 415 with Accept.
    expect(checkRequestSanity(m, UAS)).toEqual({
      ok: false, status: 415, reason: 'Unsupported Media Type', headers: [{ name: 'accept', value: 'application/sdp' }],
    })
    expect(checkRequestSanity(m, { ...UAS, acceptedContentTypes: new Set(['application/sdp', 'multipart/mixed']) })).toEqual({ ok: true })
  },
  'unreason.dat': (d) => {
    const m = res(d)
    expect(m.status).toBe(200)
    expect(m.reason).toBe(
      '= 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e \u0434\u0435\u0432\u044f\u043d\u043e\u0441\u0442\u043e ' +
        '\u0434\u0435\u0432\u044f\u0442\u044c - \u043f\u0440\u043e\u0441\u0442\u043e\u0435',
    )
    expect(m.body.length).toBe(154)
  },
  'noreason.dat': (d) => {
    const m = res(d)
    expect(m.status).toBe(100)
    expect(m.reason).toBe('')
  },
  'badinv01.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expectAnswerable(f)
  },
  'clerr.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.reason).toContain('Content-Length')
    // Stream: wait for more; once the 9999 octets are there, the message is complete.
    expect(parseMessage(d, { stream: true })).toEqual({ ok: false, incomplete: true })
    const headLen = td.decode(d).indexOf('\r\n\r\n') + 4
    const full = new Uint8Array(headLen + 9999 + 10)
    full.set(d.subarray(0, Math.min(d.length, full.length)))
    const r = parseMessage(full, { stream: true })
    expect(r.ok && r.consumed === headLen + 9999 && r.message.body.length === 9999).toBe(true)
  },
  'ncl.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.reason).toContain('Content-Length')
  },
  'scalar02.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.method).toBe('REGISTER')
    expect(f.reason).toContain('CSeq')
    expectAnswerable(f)
  },
  'scalarlg.dat': (d) => {
    const f = bad(d)
    expect(f.kind).toBe('response')
    expect(f.status).toBeNull() // responses are discarded
  },
  'quotbal.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.reason).toContain('To')
    expectAnswerable(f)
  },
  'ltgtruri.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.method).toBe('INVITE')
    expectAnswerable(f)
  },
  'lwsruri.dat': (d) => {
    expect(bad(d).status).toBe(400)
  },
  'lwsstart.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expectAnswerable(f)
  },
  'trws.dat': (d) => {
    // Tolerated (RFC 4475 §3.1.2.10 allows it): trailing SP after SIP/2.0.
    const m = req(d)
    expect(m.method).toBe('OPTIONS')
    expect(m.uri).toBe('sip:remote-target@example.com')
  },
  'escruri.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.reason).toContain('headers')
  },
  'baddate.dat': (d) => {
    const m = req(d)
    expect(m.get('date')).toBe('Fri, 01 Jan 2010 16:00:00 EST')
    expect(checkRequestSanity(m, PROXY)).toEqual({ ok: true })
  },
  'regbadct.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.reason).toContain('Contact')
  },
  'badaspec.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.reason).toContain('To')
  },
  'baddn.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.reason).toContain('From')
    expectAnswerable(f)
  },
  'badvers.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(505)
    expect(f.method).toBe('OPTIONS')
    expectAnswerable(f)
  },
  'mismatch01.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.reason).toContain('CSeq')
  },
  'mismatch02.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.method).toBe('NEWMETHOD')
  },
  'bigcode.dat': (d) => {
    const f = bad(d)
    expect(f.kind).toBe('response')
    expect(f.status).toBeNull()
  },
  'badbranch.dat': (d) => {
    const m = req(d)
    expect(m.topVia.branch).toBe('z9hG4bK')
  },
  'insuf.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.reason).toMatch(/^missing (From|To|Call-ID)$/)
  },
  'unkscm.dat': (d) => {
    const m = req(d)
    const u = parseUri(m.uri)!
    expect(u.scheme).toBe('nobodyknowsthisscheme')
    expect(u.opaque).toBe('totallyopaquecontent')
    expect(checkRequestSanity(m, PROXY)).toMatchObject({ ok: false, status: 416 })
    expect(checkRequestSanity(m, UAS)).toMatchObject({ ok: false, status: 416 })
  },
  'novelsc.dat': (d) => {
    const m = req(d)
    expect(m.uri).toBe('soap.beep://192.0.2.103:3002')
    expect(checkRequestSanity(m, PROXY)).toMatchObject({ ok: false, status: 416, reason: 'Unsupported URI Scheme' })
  },
  'unksm2.dat': (d) => {
    const m = req(d)
    expect(m.to.uri.scheme).toBe('isbn')
    expect(m.from.uri.scheme).toBe('http')
    expect(contacts(m)[0]!.uri.scheme).toBe('name')
    expect(checkRequestSanity(m, UAS)).toMatchObject({ ok: false, status: 400 }) // registrar
    expect(checkRequestSanity(m, PROXY)).toEqual({ ok: true }) // a proxy may forward it
  },
  'bext01.dat': (d) => {
    const m = req(d)
    // As a proxy: the Proxy-Require tags; as the UAS: the Require tags (RFC 4475 §3.3.5).
    expect(checkRequestSanity(m, PROXY)).toEqual({
      ok: false, status: 420, reason: 'Bad Extension',
      headers: [{ name: 'unsupported', value: 'noProxiesSupportThis, norDoAnyProxiesSupportThis' }],
    })
    expect(checkRequestSanity(m, UAS)).toEqual({
      ok: false, status: 420, reason: 'Bad Extension',
      headers: [{ name: 'unsupported', value: 'nothingSupportsThis, nothingSupportsThisEither' }],
    })
  },
  'invut.dat': (d) => {
    const m = req(d)
    expect(m.body.length).toBe(40)
    expect(checkRequestSanity(m, UAS)).toEqual({
      ok: false, status: 415, reason: 'Unsupported Media Type', headers: [{ name: 'accept', value: 'application/sdp' }],
    })
    expect(checkRequestSanity(m, PROXY)).toEqual({ ok: true })
  },
  'regaut01.dat': (d) => {
    const m = req(d)
    expect(m.method).toBe('REGISTER')
    expect(m.get('authorization')).toBe('NoOneKnowsThisScheme opaque-data=here')
    expect(m.get('content-length')).toBe('0')
    expect(checkRequestSanity(m, UAS)).toEqual({ ok: true }) // the registrar then challenges (401)
  },
  'multi01.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.reason).toMatch(/^more than one /)
    expectAnswerable(f)
  },
  'mcl01.dat': (d) => {
    const f = bad(d)
    expect(f.status).toBe(400)
    expect(f.reason).toContain('Content-Length')
    // On a stream the framing is lost: no `consumed`, the connection must be closed.
    const s = bad(d, { stream: true })
    expect(s.consumed).toBeUndefined()
  },
  'bcast.dat': (d) => {
    // Parses; the transport discards it (the top Via is not ours, §18.1.2) and would never
    // send to the broadcast address of the second Via.
    const m = res(d)
    expect(m.vias.map((v) => v.host)).toEqual(['192.0.2.198', '255.255.255.255'])
  },
  'zeromf.dat': (d) => {
    const m = req(d)
    expect(m.get('max-forwards')).toBe('0')
    expect(checkRequestSanity(m, PROXY)).toEqual({ ok: false, status: 483, reason: 'Too Many Hops' })
    expect(checkRequestSanity(m, UAS)).toEqual({ ok: true })
  },
  'cparam01.dat': (d) => {
    const [c] = contacts(req(d))
    expect(c!.uri.user).toBe('+19725552222')
    expect(c!.uri.params).toEqual({})
    expect(c!.params).toEqual({ unknownparam: null }) // a header parameter
  },
  'cparam02.dat': (d) => {
    const [c] = contacts(req(d))
    expect(c!.uri.params).toEqual({ unknownparam: null }) // part of the bound URI
    expect(c!.params).toEqual({})
  },
  'regescrt.dat': (d) => {
    const m = req(d)
    const [c] = contacts(m)
    expect(c!.uri.headers).toEqual({ Route: '%3Csip:sip.example.com%3E' })
    expect(unescapeUriComponent(c!.uri.headers.Route!)).toBe('<sip:sip.example.com>')
    expect(checkRequestSanity(m, UAS)).toEqual({ ok: true })
  },
  'sdp01.dat': (d) => {
    const m = req(d)
    expect(m.get('accept')).toBe('text/nobodyKnowsThis')
    expect(checkRequestSanity(m, UAS)).toEqual({ ok: false, status: 406, reason: 'Not Acceptable' })
    expect(checkRequestSanity(m, PROXY)).toEqual({ ok: true })
  },
  'inv2543.dat': (d) => {
    const m = req(d)
    expect(m.topVia.branch).toBeNull()
    expect(m.topVia.host).toBe('iftgw.example.com')
    expect(m.from.params.tag).toBeUndefined()
    expect(m.has('max-forwards')).toBe(false)
    // No Content-Length on a datagram: the body runs to the end of the packet.
    const headEnd = td.decode(d).indexOf('\r\n\r\n') + 4
    expect(m.body.length).toBe(d.length - headEnd)
    expect(checkRequestSanity(m, PROXY)).toEqual({ ok: true })
    // On a stream, Content-Length is mandatory.
    expect(bad(d, { stream: true }).status).toBe(400)
  },
}

describe('RFC 4475 fixtures', () => {
  test('MANIFEST.tsv lists exactly the .dat files, and every file has a check', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.dat')).sort()
    expect(manifest.map((r) => r.file).sort()).toEqual(files)
    expect(Object.keys(CHECKS).sort()).toEqual(files)
    expect(files.length).toBe(49)
  })

  for (const row of manifest) {
    test(`${row.file} (§${row.section} ${row.title}): ${row.expected}`, () => {
      const data = load(row.file)
      const sha = createHash('sha256').update(data).digest('hex')
      if (sha !== row.sha256 || data.length !== row.bytes) {
        throw new Error(
          `${row.file} is corrupted (${data.length} bytes, sha256 ${sha}; manifest: ${row.bytes} bytes, ${row.sha256}). ` +
            'Was it converted to LF line ends by git? tests/fixtures needs "-text" in .gitattributes.',
        )
      }
      const check = CHECKS[row.file]
      if (check === undefined) throw new Error(`no check written for ${row.file}`)
      check(data)
    })
  }
})

/**
 * SIP over WebSocket (RFC 7118) client of the bench:signaling load generator: a SIP UA
 * written out as text, with the headers SIP.js 0.21 (the softphone's SIP mode) sends, so
 * that message sizes are those of a browser:
 *
 * - register: REGISTER -> 401 -> REGISTER with digest (MD5, qop=auth) -> 200; Contact
 *   `<sip:x@y.invalid;transport=ws>;+sip.ice;reg-id=1;+sip.instance=...` (RFC 5626).
 * - call: INVITE (SDP offer) -> 100 (gateway) / 407 -> ACK -> INVITE with Proxy-Authorization
 *   -> 100 -> 180 -> 200 (SDP answer) -> ACK; then BYE -> 200, routed by the Record-Route set.
 * - as callee: INVITE -> 180 and 200 at once (the fixture's answer), ACK, BYE -> 200.
 */
import { digestResponse, ha1 } from '../../gateway/src/sip/auth/digest.ts'
import { deferred, token, WsLoadClient } from './load-client.ts'
import { BENCH_DOMAIN, BENCH_PASSWORD } from './patchbay.ts'

const UA = 'User-Agent: SIP.js/0.21.2'
const ALLOW = 'Allow: ACK,CANCEL,INVITE,MESSAGE,BYE,OPTIONS,INFO,NOTIFY,REFER'
const COMPACT: Record<string, string> = { v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type', k: 'supported' }

/** A parsed SIP message: start line, headers by lower-case name (one entry per value line), body. */
interface Parsed {
  start: string
  status: number | null
  method: string | null
  headers: Map<string, string[]>
  body: string
}

function parse(text: string): Parsed {
  const end = text.indexOf('\r\n\r\n')
  const head = end < 0 ? text : text.slice(0, end)
  const lines = head.split('\r\n')
  const start = lines[0]!
  const headers = new Map<string, string[]>()
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':')
    if (colon < 0) continue
    let name = line.slice(0, colon).trim().toLowerCase()
    name = COMPACT[name] ?? name
    const values = name === 'via' || name === 'record-route' || name === 'route'
      ? line.slice(colon + 1).split(/,\s*(?=<|SIP\/)/i).map((v) => v.trim())
      : [line.slice(colon + 1).trim()]
    const list = headers.get(name)
    if (list) list.push(...values)
    else headers.set(name, values)
  }
  const status = start.startsWith('SIP/2.0 ') ? Number(start.slice(8, 11)) : null
  return { start, status, method: status === null ? start.slice(0, start.indexOf(' ')) : null, headers, body: end < 0 ? '' : text.slice(end + 4) }
}

const one = (m: Parsed, name: string): string => m.headers.get(name)?.[0] ?? ''
const cseqMethod = (m: Parsed): string => one(m, 'cseq').split(/\s+/)[1] ?? ''

function challengeParams(header: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const m of header.replace(/^Digest\s+/i, '').matchAll(/([\w-]+)=(?:"([^"]*)"|([^,\s]*))/g)) out[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? ''
  return out
}

const ha1Cache = new Map<string, string>()

/** The Authorization / Proxy-Authorization value answering `challenge` (MD5 only, as SIP.js). */
function authorization(username: string, challenge: string, method: string, uri: string): string {
  const p = challengeParams(challenge)
  const realm = p.realm ?? BENCH_DOMAIN
  const key = `${username}:${realm}`
  let h = ha1Cache.get(key)
  if (h === undefined) ha1Cache.set(key, (h = ha1('MD5', username, realm, BENCH_PASSWORD)))
  const cnonce = token(12)
  const response = digestResponse({ algorithm: 'MD5', ha1: h, nonce: p.nonce ?? '', nc: '00000001', cnonce, qop: 'auth', method, uri })
  return `Digest algorithm=MD5, username="${username}", realm="${realm}", nonce="${p.nonce}", uri="${uri}", response="${response}"` +
    `${p.opaque !== undefined ? `, opaque="${p.opaque}"` : ''}, qop=auth, cnonce="${cnonce}", nc=00000001`
}

/** Picks the MD5 challenge of a 401/407 (the gateway offers MD5 and SHA-256). */
function md5Challenge(m: Parsed, header: string): string {
  const all = m.headers.get(header) ?? []
  return all.find((c) => /algorithm=("?)MD5\1(,|$|\s)/i.test(c)) ?? all[0] ?? ''
}

/** A SIP over WebSocket user agent of the generator (see the module comment). */
export class SipWsLoadClient extends WsLoadClient {
  private readonly host = `${token(12)}.invalid`
  private readonly contactUser = token(8)
  private readonly instance = crypto.randomUUID()
  private readonly regCallId = token(20)
  private readonly regTag = token(10)
  private regCseq = 0
  /** Responses awaited, by `Call-ID CSeq-method`. */
  private readonly waiting = new Map<string, (m: Parsed) => void>()

  constructor(username: string, httpPort: number, private readonly sdp: { offer: string; answer: string }) {
    super(username, `ws://127.0.0.1:${httpPort}/sip`, 'sip')
  }

  async connectAndRegister(timeoutMs = 10_000): Promise<void> {
    await this.open(timeoutMs)
    let r = await this.register(null, timeoutMs)
    if (r.status === 401) r = await this.register(md5Challenge(r, 'www-authenticate'), timeoutMs)
    if (r.status !== 200) throw new Error(`${this.username}: REGISTER answered ${r.start}`)
    this.registered = true
  }

  private register(challenge: string | null, timeoutMs: number): Promise<Parsed> {
    const uri = `sip:${BENCH_DOMAIN}`
    const aor = `<sip:${this.username}@${BENCH_DOMAIN}>`
    const lines = [
      `REGISTER ${uri} SIP/2.0`,
      `Via: SIP/2.0/WS ${this.host};branch=z9hG4bK${token(7)}`,
      'Max-Forwards: 70',
      `To: ${aor}`,
      `From: ${aor};tag=${this.regTag}`,
      `Call-ID: ${this.regCallId}`,
      `CSeq: ${++this.regCseq} REGISTER`,
    ]
    if (challenge !== null) lines.push(`Authorization: ${authorization(this.username, challenge, 'REGISTER', uri)}`)
    lines.push(
      `Contact: <sip:${this.contactUser}@${this.host};transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:${this.instance}>";expires=600`,
      'Expires: 600', ALLOW, 'Supported: path,gruu,outbound', UA, 'Content-Length: 0', '', '')
    return this.request(lines.join('\r\n'), `${this.regCallId} REGISTER`, () => true, timeoutMs)
  }

  /** Sends a request; resolves with the first response for `key` that `final` accepts (others go to `provisional`). */
  private request(text: string, key: string, final: (m: Parsed) => boolean, timeoutMs: number, provisional?: (m: Parsed) => void): Promise<Parsed> {
    const d = deferred<Parsed>(timeoutMs, `${this.username}: answer to ${text.slice(0, text.indexOf(' '))}`)
    this.waiting.set(key, (m) => {
      if (m.status !== null && m.status >= 200 && final(m)) {
        this.waiting.delete(key)
        d.resolve(m)
      } else provisional?.(m)
    })
    d.promise.catch(() => this.waiting.delete(key))
    this.send(text)
    return d.promise
  }

  async call(callee: string, timeoutMs = 10_000): Promise<number> {
    const callId = token(20)
    const fromTag = token(10)
    const target = `sip:${callee}@${BENCH_DOMAIN}`
    const from = `<sip:${this.username}@${BENCH_DOMAIN}>;tag=${fromTag}`
    const started = performance.now()
    let cseq = 1
    const invite = (auth: string | null, branch: string) => [
      `INVITE ${target} SIP/2.0`,
      `Via: SIP/2.0/WS ${this.host};branch=${branch}`,
      'Max-Forwards: 70',
      `To: <${target}>`,
      `From: ${from}`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} INVITE`,
      ...(auth === null ? [] : [`Proxy-Authorization: ${auth}`]),
      `Contact: <sip:${this.contactUser}@${this.host};transport=ws;ob>`,
      ALLOW, 'Supported: ice,replaces,outbound', UA,
      'Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(this.sdp.offer)}`, '', this.sdp.offer,
    ].join('\r\n')
    const key = `${callId} INVITE`
    let branch = `z9hG4bK${token(7)}`
    let r = await this.request(invite(null, branch), key, () => true, timeoutMs)
    if (r.status === 407 || r.status === 401) {
      this.send(this.ack(target, [], one(r, 'to'), from, callId, cseq, branch))
      const challenge = md5Challenge(r, r.status === 407 ? 'proxy-authenticate' : 'www-authenticate')
      cseq++
      branch = `z9hG4bK${token(7)}`
      r = await this.request(invite(authorization(this.username, challenge, 'INVITE', target), branch), key, () => true, timeoutMs)
    }
    if (r.status !== 200) throw new Error(`${this.username} -> ${callee}: INVITE answered ${r.start}`)
    const latency = performance.now() - started
    const remoteTarget = /<([^>]+)>/.exec(one(r, 'contact'))?.[1] ?? target
    const routes = [...(r.headers.get('record-route') ?? [])].reverse()
    const to = one(r, 'to')
    this.send(this.ack(remoteTarget, routes, to, from, callId, cseq, `z9hG4bK${token(7)}`))
    const bye = [
      `BYE ${remoteTarget} SIP/2.0`,
      `Via: SIP/2.0/WS ${this.host};branch=z9hG4bK${token(7)}`,
      'Max-Forwards: 70',
      ...routes.map((rr) => `Route: ${rr}`),
      `To: ${to}`, `From: ${from}`, `Call-ID: ${callId}`, `CSeq: ${cseq + 1} BYE`,
      'Supported: outbound', UA, 'Content-Length: 0', '', '',
    ].join('\r\n')
    const b = await this.request(bye, `${callId} BYE`, () => true, timeoutMs)
    if (b.status !== 200) throw new Error(`${this.username}: BYE answered ${b.start}`)
    return latency
  }

  private ack(uri: string, routes: string[], to: string, from: string, callId: string, cseq: number, branch: string): string {
    return [
      `ACK ${uri} SIP/2.0`,
      `Via: SIP/2.0/WS ${this.host};branch=${branch}`,
      'Max-Forwards: 70',
      ...routes.map((rr) => `Route: ${rr}`),
      `To: ${to}`, `From: ${from}`, `Call-ID: ${callId}`, `CSeq: ${cseq} ACK`,
      'Supported: outbound', UA, 'Content-Length: 0', '', '',
    ].join('\r\n')
  }

  protected onText(text: string): void {
    if (text.trim() === '') return // CRLF keep-alive (RFC 5626 §4.4.1 over WebSocket)
    const m = parse(text)
    if (m.status !== null) {
      this.waiting.get(`${one(m, 'call-id')} ${cseqMethod(m)}`)?.(m)
      return
    }
    if (m.method === 'ACK') return
    if (m.method === 'INVITE') {
      const toTag = token(10)
      this.send(this.response(m, 180, 'Ringing', toTag))
      this.send(this.response(m, 200, 'OK', toTag, this.sdp.answer))
    } else this.send(this.response(m, m.method === 'BYE' || m.method === 'OPTIONS' ? 200 : 405, m.method === 'BYE' || m.method === 'OPTIONS' ? 'OK' : 'Method Not Allowed', null))
  }

  private response(req: Parsed, status: number, reason: string, toTag: string | null, body?: string): string {
    const to = one(req, 'to')
    const lines = [
      `SIP/2.0 ${status} ${reason}`,
      ...(req.headers.get('via') ?? []).map((v) => `Via: ${v}`),
      ...(req.method === 'INVITE' ? (req.headers.get('record-route') ?? []).map((rr) => `Record-Route: ${rr}`) : []),
      `To: ${toTag !== null && !/;tag=/i.test(to) ? `${to};tag=${toTag}` : to}`,
      `From: ${one(req, 'from')}`, `Call-ID: ${one(req, 'call-id')}`, `CSeq: ${one(req, 'cseq')}`,
    ]
    if (req.method === 'INVITE') lines.push(`Contact: <sip:${this.contactUser}@${this.host};transport=ws>`, ALLOW, 'Supported: outbound')
    lines.push(UA)
    if (body !== undefined) lines.push('Content-Type: application/sdp', `Content-Length: ${Buffer.byteLength(body)}`, '', body)
    else lines.push('Content-Length: 0', '', '')
    return lines.join('\r\n')
  }

  protected connectionLost(): void {
    for (const [key, f] of this.waiting) {
      this.waiting.delete(key)
      f({ start: 'SIP/2.0 599 connection lost', status: 599, method: null, headers: new Map(), body: '' })
    }
  }
}

/**
 * A raw SIP-over-TCP/TLS client for integration tests (RFC 3261 §18.3: a byte stream framed by
 * Content-Length). It writes whatever the test gives it, splits what arrives into messages
 * (skipping CRLF keepalives, counting them as pongs), answers digest challenges for REGISTER,
 * and can answer an INVITE as a UAS. Not a user agent: it answers nothing by itself.
 */
import type { Socket } from 'bun'
import { digestCredentials, parseDigestChallenge } from '../../support/digest.ts'
import { SipText, formatSipText, paramOf } from '../../support/sip-text.ts'
import { newBranch, randomToken } from '../../support/ws-sip-client.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export interface StreamClientOptions {
  host?: string
  port: number
  /** TLS (certificate not verified: the tests use a self-signed one). */
  tls?: boolean
  username?: string
  password?: string
  domain?: string
}

export class StreamSipClient {
  readonly messages: SipText[] = []
  /** CRLF "pongs" received between messages (RFC 5626 §3.5.1). */
  pongs = 0
  closed = false
  /** Host written in Via / Contact. */
  readonly viaHost = '127.0.0.1'
  readonly localPort: number
  private buffer = new Uint8Array(0)
  private readonly pending: Uint8Array[] = []
  private readonly consumed = new Set<SipText>()
  private cseq = 1

  private constructor(private readonly socket: Socket<undefined>, readonly options: StreamClientOptions) {
    this.localPort = socket.localPort
  }

  /**
   * Connects; with `tls`, also waits for the TLS handshake (certificate not verified).
   * @throws Error when the connection or the handshake fails
   */
  static async connect(options: StreamClientOptions): Promise<StreamSipClient> {
    let client: StreamSipClient | null = null
    const early: Uint8Array[] = []
    let handshake: (ok: boolean) => void = () => {}
    const handshakeDone = new Promise<boolean>((resolve) => {
      handshake = resolve
    })
    const socket = await Bun.connect({
      hostname: options.host ?? '127.0.0.1',
      port: options.port,
      ...(options.tls ? { tls: { rejectUnauthorized: false } } : {}),
      socket: {
        // Called once the TLS handshake is over; `success` is false for our self-signed
        // certificate (not verified on purpose), the connection is up all the same.
        handshake() {
          handshake(true)
        },
        data(_s, d) {
          if (client) client.onData(new Uint8Array(d))
          else early.push(new Uint8Array(d))
        },
        drain() {
          client?.flush()
        },
        close() {
          if (client) client.closed = true
          handshake(false)
        },
        error() {},
      },
    })
    if (options.tls && !(await handshakeDone)) throw new Error(`TLS handshake with 127.0.0.1:${options.port} failed`)
    client = new StreamSipClient(socket as Socket<undefined>, options)
    for (const d of early) client.onData(d)
    return client
  }

  get transport(): 'TCP' | 'TLS' {
    return this.options.tls ? 'TLS' : 'TCP'
  }

  /** `sip:user@127.0.0.1:port;transport=tcp|tls` */
  get contactUri(): string {
    return `sip:${this.options.username}@${this.viaHost}:${this.localPort};transport=${this.transport.toLowerCase()}`
  }

  /** Writes `data` in one write (the rest, if the socket takes only part, on drain). */
  write(data: string): void {
    const b = encoder.encode(data)
    if (this.pending.length > 0) {
      this.pending.push(b)
      return
    }
    const n = this.socket.write(b)
    if (n < 0) throw new Error('write on a closed connection')
    if (n < b.length) this.pending.push(b.subarray(n))
  }

  private flush(): void {
    while (this.pending.length > 0) {
      const d = this.pending[0]!
      const n = this.socket.write(d)
      if (n < d.length) {
        if (n > 0) this.pending[0] = d.subarray(n)
        return
      }
      this.pending.shift()
    }
  }

  close(): void {
    this.socket.end()
  }

  private onData(chunk: Uint8Array): void {
    const buf = new Uint8Array(this.buffer.length + chunk.length)
    buf.set(this.buffer, 0)
    buf.set(chunk, this.buffer.length)
    let off = 0
    for (;;) {
      // CRLF "pongs" between messages (a message never starts with CR or LF).
      while (off < buf.length && (buf[off] === 13 || buf[off] === 10)) {
        if (buf[off] === 10) this.pongs++
        off++
      }
      const rest = decoder.decode(buf.subarray(off))
      const headEnd = rest.indexOf('\r\n\r\n')
      if (headEnd < 0) break
      const m = /\r\ncontent-length\s*:\s*(\d+)/i.exec(rest.slice(0, headEnd))
      const length = m ? Number(m[1]) : 0
      const headBytes = encoder.encode(rest.slice(0, headEnd + 4)).length
      if (buf.length - off < headBytes + length) break
      const msgBytes = buf.subarray(off, off + headBytes + length)
      const msg = SipText.parse(decoder.decode(msgBytes))
      if (msg) this.messages.push(msg)
      off += headBytes + length
    }
    this.buffer = buf.slice(off)
  }

  /** Waits for the first unconsumed message matching `predicate`. */
  async waitFor(predicate: (m: SipText) => boolean, what: string, timeoutMs = 5_000): Promise<SipText> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.messages.find((m) => !this.consumed.has(m) && predicate(m))
      if (found) {
        this.consumed.add(found)
        return found
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; received: ${this.messages.map((m) => m.describe()).join(', ') || '(nothing)'}` +
          (this.closed ? ' (connection closed)' : ''))
      }
      await Bun.sleep(5)
    }
  }

  /** A request's wire text (Via with rport, our Contact when asked). */
  request(method: string, requestUri: string, o: { callId?: string; cseq?: number; to?: string; fromTag?: string; contact?: boolean; headers?: Array<[string, string]>; body?: string; branch?: string } = {}): string {
    const from = `<sip:${this.options.username}@${this.options.domain}>;tag=${o.fromTag ?? randomToken(8)}`
    const headers: Array<[string, string]> = [
      ['Via', `SIP/2.0/${this.transport} ${this.viaHost}:${this.localPort};branch=${o.branch ?? newBranch()};rport`],
      ['Max-Forwards', '70'],
      ['From', from],
      ['To', o.to ?? `<${requestUri}>`],
      ['Call-ID', o.callId ?? randomToken(16)],
      ['CSeq', `${o.cseq ?? this.cseq++} ${method}`],
    ]
    if (o.contact) headers.push(['Contact', `<${this.contactUri}>`])
    headers.push(...(o.headers ?? []))
    if (o.body) headers.push(['Content-Type', 'application/sdp'])
    return formatSipText({ startLine: `${method} ${requestUri} SIP/2.0`, headers, body: o.body })
  }

  /** REGISTER with digest (one challenge answered); returns the final response. */
  async register(expires = 600): Promise<{ challenge: SipText | null; final: SipText }> {
    const domain = this.options.domain!
    const uri = `sip:${domain}`
    const callId = randomToken(16)
    const fromTag = randomToken(8)
    const build = (auth?: [string, string]) => this.request('REGISTER', uri, {
      callId, fromTag, to: `<sip:${this.options.username}@${domain}>`, contact: true,
      headers: [['Expires', String(expires)], ...(auth ? [auth] : [])],
    })
    this.write(build())
    let final = await this.waitFor((m) => m.isResponse && m.callId === callId && m.status >= 200, 'REGISTER response')
    let challenge: SipText | null = null
    if (final.status === 401) {
      challenge = final
      const c = final.getAll('www-authenticate').map(parseDigestChallenge).find((x) => x !== null && x.algorithm === 'MD5')
      if (!c) throw new Error(`no MD5 challenge in ${final.raw}`)
      const value = digestCredentials({ challenge: c, username: this.options.username!, password: this.options.password!, method: 'REGISTER', uri })
      this.write(build(['Authorization', value]))
      final = await this.waitFor((m) => m.isResponse && m.callId === callId && m.status >= 200, 'REGISTER response (with credentials)')
    }
    return { challenge, final }
  }

  /** Answers `request` (copies Via, From, To + tag, Call-ID, CSeq, and Record-Route for 1xx/2xx to INVITE). */
  respond(request: SipText, status: number, reason: string, toTag: string, body?: string): void {
    const headers: Array<[string, string]> = []
    for (const v of request.fields('via')) headers.push(['Via', v.value])
    headers.push(['From', request.get('from') ?? ''])
    const to = request.get('to') ?? ''
    headers.push(['To', paramOf(to, 'tag') === null && status > 100 ? `${to};tag=${toTag}` : to])
    headers.push(['Call-ID', request.callId], ['CSeq', request.get('cseq') ?? ''])
    if (request.method === 'INVITE' && status > 100 && status < 300) {
      for (const rr of request.fields('record-route')) headers.push(['Record-Route', rr.value])
      headers.push(['Contact', `<${this.contactUri}>`])
    }
    if (body) headers.push(['Content-Type', 'application/sdp'])
    this.write(formatSipText({ startLine: `SIP/2.0 ${status} ${reason}`, headers, body }))
  }
}

/**
 * A minimal legacy phone on one UDP socket for integration tests: REGISTER with digest
 * (RFC 3261 §10.2, §22), and answers every request it receives with a configurable status
 * (200 by default; never answers ACK). Keeps every message it receives.
 */
import { digestCredentials, parseDigestChallenge } from '../../support/digest.ts'
import { SipText, formatSipText, paramOf } from '../../support/sip-text.ts'
import { newBranch, randomToken } from '../../support/ws-sip-client.ts'

export class UdpPhone {
  readonly received: SipText[] = []
  /** Status answered to requests (except ACK). */
  answerWith = 200
  private readonly toTag = randomToken(8)

  private constructor(private readonly socket: Bun.udp.Socket<'buffer'>, readonly username: string, readonly password: string,
    readonly domain: string) {}

  static async open(username: string, password: string, domain: string): Promise<UdpPhone> {
    let phone: UdpPhone | null = null
    const socket = await Bun.udpSocket({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        data(_s, data) {
          phone?.onDatagram(new TextDecoder().decode(data))
        },
      },
    })
    phone = new UdpPhone(socket, username, password, domain)
    return phone
  }

  get port(): number {
    return this.socket.port
  }

  get contactUri(): string {
    return `sip:${this.username}@127.0.0.1:${this.port}`
  }

  close(): void {
    this.socket.close()
  }

  private onDatagram(text: string): void {
    const m = SipText.parse(text)
    if (!m) return
    this.received.push(m)
    if (m.isRequest && m.method !== 'ACK') {
      const to = m.get('to') ?? ''
      const headers: Array<[string, string]> = [
        ...m.fields('via').map((f): [string, string] => ['Via', f.value]),
        ['From', m.get('from') ?? ''],
        ['To', paramOf(to, 'tag') === null ? `${to};tag=${this.toTag}` : to],
        ['Call-ID', m.callId],
        ['CSeq', m.get('cseq') ?? ''],
      ]
      // RFC 3261 §18.2.2: to the sent-by of the top Via (the gateway writes its IP and port).
      const sentBy = /^SIP\/2\.0\/UDP\s+([0-9.]+):(\d+)/i.exec(m.getAll('via')[0] ?? '')
      if (!sentBy) return
      this.socket.send(formatSipText({ startLine: `SIP/2.0 ${this.answerWith} Answer`, headers }), Number(sentBy[2]), sentBy[1]!)
    }
  }

  /** Waits for a received message matching `predicate`. */
  async waitFor(predicate: (m: SipText) => boolean, what: string, timeoutMs = 5_000): Promise<SipText> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const m = this.received.find(predicate)
      if (m) return m
      if (Date.now() > deadline) throw new Error(`${this.username}: timed out waiting for ${what}; got ${this.received.map((r) => r.describe()).join(', ') || 'nothing'}`)
      await Bun.sleep(5)
    }
  }

  /** REGISTER at the gateway on 127.0.0.1:`gatewayPort` with digest; returns the final response. */
  async register(gatewayPort: number, expires = 600): Promise<SipText> {
    const uri = `sip:${this.domain}`
    const callId = randomToken(16)
    const send = (cseq: number, auth?: [string, string]) => {
      const text = formatSipText({
        startLine: `REGISTER ${uri} SIP/2.0`,
        headers: [
          ['Via', `SIP/2.0/UDP 127.0.0.1:${this.port};branch=${newBranch()};rport`],
          ['Max-Forwards', '70'],
          ['From', `<sip:${this.username}@${this.domain}>;tag=reg-${this.toTag}`],
          ['To', `<sip:${this.username}@${this.domain}>`],
          ['Call-ID', callId],
          ['CSeq', `${cseq} REGISTER`],
          ['Contact', `<${this.contactUri}>`],
          ['Expires', String(expires)],
          ['User-Agent', 'patchbay-test-udp-phone'],
          ...(auth ? [auth] : []),
        ],
      })
      this.socket.send(text, gatewayPort, '127.0.0.1')
    }
    send(1)
    const first = await this.waitFor((m) => m.isResponse && m.callId === callId && m.cseq.seq === 1 && m.status >= 200, 'the REGISTER response')
    if (first.status !== 401) return first
    const challenge = first.getAll('www-authenticate').map(parseDigestChallenge).find((c) => c !== null && c.algorithm === 'MD5')
    if (!challenge) throw new Error(`no MD5 challenge: ${first.raw}`)
    send(2, ['Authorization', digestCredentials({ challenge, username: this.username, password: this.password, method: 'REGISTER', uri })])
    return this.waitFor((m) => m.isResponse && m.callId === callId && m.cseq.seq === 2 && m.status >= 200, 'the authenticated REGISTER response')
  }
}

/**
 * The SIP side of one JSON user: a user agent (RFC 3261 §8) that the gateway runs on the
 * user's behalf, attached to the SIP stack by a WebSocket flow of its own (RFC 7118 framing,
 * so routing, the registrar, forking, media anchoring and every defence treat it exactly like
 * a browser speaking SIP). The JSON session translates between this UA and the JSON client:
 * the gateway is a B2BUA for that leg and owns its dialogs.
 *
 * This module is the UA's plumbing: the flow, sending requests and matching their responses
 * (the flow is reliable, so nothing is retransmitted below the transaction user; RFC 3261
 * §17.1.1.2 Timer B / §17.1.2.2 Timer F still bound the wait, 64*T1), answering digest
 * challenges with the account's stored HA1 (RFC 7616 §3.4.1 — the password is never needed),
 * building requests and responses. Dialogs and calls live in `call-leg.ts`.
 */
import { SipRequest, type SipResponse } from '../../sip/message/sip-message.ts'
import { createResponse, type CreateResponseOptions } from '../../sip/message/create-response.ts'
import { serializeMessage } from '../../sip/message/serialize.ts'
import { ackForNon2xx } from '../../sip/message/transaction-requests.ts'
import { parseMessageText } from '../../sip/parser/message-parser.ts'
import { parseCredentials } from '../../sip/auth/parse-credentials.ts'
import { digestResponse, parseDigestAlgorithm, type DigestAlgorithm } from '../../sip/auth/digest.ts'
import type { HeaderField } from '../../sip/syntax/types.ts'
import { WsFlow } from '../../sip/transport/ws-flow.ts'
import type { Scheduler, TimerHandle } from '../../base/scheduler.ts'
import type { UserCredentials } from '../../base/user-credentials.ts'
import { logger } from '../../base/log.ts'

const log = logger('json.sip')

/** What the endpoint needs from the SIP transport layer (TransportLayer satisfies it). */
export interface SipFlowHost {
  wsOpened(flow: WsFlow): void
  wsMessage(flow: WsFlow, message: string | Uint8Array): void
  flowClosed(flow: WsFlow): void
}

export interface SipEndpointOptions {
  host: SipFlowHost
  scheduler: Scheduler
  user: UserCredentials
  /** The gateway's SIP domain (AOR host) and digest realm. */
  domain: string
  realm: string
  /** The JSON client's address, as the flow's remote end (source checks, logs). */
  remoteAddress: string
  /** 'WSS' when the JSON WebSocket runs over TLS. */
  transport: 'WS' | 'WSS'
  localAddress: string
  localPort: number
  /** Timer values, ms (T1: RFC 3261 §17.1.1.1). */
  t1: number
  t2: number
}

/** Receives the requests that arrive for this user (calls, messages, in-dialog requests). */
export interface SipRequestSink {
  onSipRequest(request: SipRequest): void
}

interface Pending {
  method: string
  onResponse: (response: SipResponse) => void
  timer: TimerHandle
  /** Whether this request already carried credentials (a second challenge is a failure). */
  authorized: boolean
  request: SipRequest
}

const encoder = new TextEncoder()

function randomToken(bytes: number): string {
  const a = new Uint8Array(bytes)
  crypto.getRandomValues(a)
  let s = ''
  for (const b of a) s += b.toString(36).padStart(2, '0')
  return s
}

/** A tag (RFC 3261 §19.3), Call-ID (§8.1.1.4) or branch (§8.1.1.7, with the magic cookie). */
export const newTag = (): string => randomToken(6)
export const newCallId = (): string => randomToken(12)
export const newBranch = (): string => 'z9hG4bK' + randomToken(8)

export class SipEndpoint {
  readonly flow: WsFlow
  readonly aor: string
  /** Our Contact URI: the flow's `.invalid` host (RFC 7118 §5.2), reachable only over it. */
  readonly contactUri: string
  private readonly pending = new Map<string, Pending>()
  private readonly viaHost: string
  private sink: SipRequestSink | null = null
  private closed = false
  private nc = 0

  constructor(private readonly o: SipEndpointOptions) {
    this.viaHost = `${randomToken(5)}.invalid`
    this.aor = `sip:${o.user.username}@${o.domain}`
    this.contactUri = `sip:${o.user.username}@${this.viaHost};transport=ws`
    this.flow = new WsFlow(
      o.transport, o.remoteAddress, 0, o.localAddress, o.localPort,
      (text) => {
        // Delivered on a microtask: the SIP stack may answer while our own send is still on
        // the stack, and this UA must not re-enter itself.
        if (this.closed) return false
        queueMicrotask(() => this.receive(text))
        return true
      },
      () => this.close(),
    )
    // The session logged in with the HMAC proof: its own requests skip the digest round trip
    // (the registrar still checks that a REGISTER names this user's AOR).
    this.flow.authenticatedUser = o.user.username
    o.host.wsOpened(this.flow)
  }

  get user(): UserCredentials {
    return this.o.user
  }

  get domain(): string {
    return this.o.domain
  }

  setSink(sink: SipRequestSink): void {
    this.sink = sink
  }

  /**
   * Sends a request and reports every response to it (provisional ones included). A 401/407
   * is answered once with credentials (a new branch and CSeq, §22.2); a final response that
   * never comes is reported as 408 after 64*T1 (§8.1.3.1). The request must carry its Via
   * (see `via()`), CSeq and the rest.
   */
  send(request: SipRequest, onResponse: (response: SipResponse) => void, authorized = false): void {
    if (this.closed) {
      onResponse(createResponse(request, 503, { toTag: 'pb-closed', reason: 'Session Closed' }))
      return
    }
    const key = `${request.topVia.branch} ${request.method}`
    const timer = this.o.scheduler.setTimer(64 * this.o.t1, () => {
      if (!this.pending.delete(key)) return
      onResponse(createResponse(request, 408, { toTag: 'pb-408' }))
    })
    this.pending.set(key, { method: request.method, onResponse, timer, authorized, request })
    this.transmit(request)
  }

  /** Sends a message outside any pending request (ACK, responses). */
  transmit(message: SipRequest | SipResponse): void {
    if (this.closed) return
    this.o.host.wsMessage(this.flow, serializeMessage(message))
  }

  /** Answers `request` (§8.2.6): our responses go straight to the transport. */
  respond(request: SipRequest, status: number, options: CreateResponseOptions = {}): SipResponse {
    const res = createResponse(request, status, options)
    this.transmit(res)
    return res
  }

  /** A Via for a new request from this UA (RFC 7118 §5.2: `.invalid` host, transport WS). */
  via(branch = newBranch()): HeaderField {
    return { name: 'via', value: `SIP/2.0/${this.o.transport} ${this.viaHost};branch=${branch}` }
  }

  /** Contact header value, with optional parameters. */
  contact(params = ''): HeaderField {
    return { name: 'contact', value: `<${this.contactUri}>${params}` }
  }

  /** Our name-addr for From: display name from users.yaml, AOR, tag. */
  fromValue(tag: string): string {
    const dn = this.o.user.displayName
    return `${dn ? `"${dn.replace(/["\\]/g, '')}" ` : ''}<${this.aor}>;tag=${tag}`
  }

  /**
   * Ends the UA: pending requests are answered 503 locally, the flow closes (the registrar
   * drops the bindings that came over it, RFC 5626 §5).
   */
  close(): void {
    if (this.closed) return
    this.closed = true
    for (const [key, p] of this.pending) {
      this.pending.delete(key)
      this.o.scheduler.clearTimer(p.timer)
      p.onResponse(createResponse(p.request, 503, { toTag: 'pb-closed', reason: 'Session Closed' }))
    }
    this.flow.markClosed()
    this.o.host.flowClosed(this.flow)
  }


  // ---- receiving ------------------------------------------------------------------------

  private receive(text: string): void {
    if (this.closed) return
    if (text === '\r\n') return // keepalive answer
    const parsed = parseMessageText(text)
    if (!parsed.ok) {
      log.warn('unreadable SIP message towards a JSON user dropped', { user: this.o.user.username, reason: parsed.incomplete ? 'incomplete' : parsed.reason })
      return
    }
    const msg = parsed.message
    if (msg.kind === 'request') {
      this.sink?.onSipRequest(msg)
      return
    }
    const key = `${msg.topVia.branch} ${msg.cseq.method}`
    const p = this.pending.get(key)
    if (p === undefined) {
      // A retransmitted 2xx to an INVITE whose transaction is over: the call leg re-ACKs it.
      if (msg.cseq.method === 'INVITE' && msg.status >= 200 && msg.status < 300) this.onStray2xx?.(msg)
      return
    }
    if (msg.status < 200) {
      p.onResponse(msg)
      return
    }
    this.pending.delete(key)
    this.o.scheduler.clearTimer(p.timer)
    if ((msg.status === 401 || msg.status === 407) && !p.authorized && p.method !== 'ACK' && p.method !== 'CANCEL') {
      const retry = this.withCredentials(p.request, msg)
      if (retry !== null) {
        if (p.method === 'INVITE') this.ackNon2xx(p.request, msg)
        p.onResponse(Object.assign(msg, { retriedAs: retry }))
        this.send(retry, p.onResponse, true)
        return
      }
    }
    if (p.method === 'INVITE' && msg.status >= 300) this.ackNon2xx(p.request, msg)
    p.onResponse(msg)
  }

  /** Set by the call legs: a 2xx to an INVITE that matched no pending request. */
  onStray2xx: ((response: SipResponse) => void) | null = null

  /**
   * The ACK for a non-2xx final response to our INVITE (§17.1.1.3): same branch, the
   * response's To, one Via, CSeq number with method ACK. The gateway's server transaction
   * waits for it even over a reliable flow (Timer H).
   */
  private ackNon2xx(invite: SipRequest, response: SipResponse): void {
    this.transmit(ackForNon2xx(invite, response))
  }

  /**
   * The request again with credentials for the challenge in `challenge` (RFC 3261 §22.2,
   * RFC 7616 §3.4): the first challenge whose algorithm we have an HA1 for, a new branch and
   * the next CSeq. Null when no challenge is usable (another realm, an unknown algorithm).
   */
  private withCredentials(request: SipRequest, challenge: SipResponse): SipRequest | null {
    const header = challenge.status === 401 ? 'www-authenticate' : 'proxy-authenticate'
    for (const value of challenge.getAll(header)) {
      const c = parseCredentials(value)
      if (c === null || c.nonce === undefined || c.realm !== this.o.realm) continue
      const algorithm: DigestAlgorithm | null = parseDigestAlgorithm(c.algorithm)
      if (algorithm === null) continue
      const qop = c.qop === undefined ? undefined : c.qop.split(',').map((q) => q.trim()).includes('auth') ? 'auth' : null
      if (qop === null) continue
      const ha1 = algorithm === 'MD5' ? this.o.user.ha1 : this.o.user.ha1Sha256
      const cnonce = randomToken(8)
      const nc = (++this.nc).toString(16).padStart(8, '0')
      const uri = request.uri
      const response = digestResponse({ algorithm, ha1, nonce: c.nonce, method: request.method, uri, qop, nc, cnonce })
      let value2 = `Digest username="${this.o.user.username}", realm="${c.realm}", nonce="${c.nonce}", uri="${uri}", response="${response}", algorithm=${algorithm}`
      if (qop) value2 += `, qop=auth, nc=${nc}, cnonce="${cnonce}"`
      if (c.opaque !== undefined) value2 += `, opaque="${c.opaque}"`
      const headers = request.headers.filter((h) => h.name !== 'via' && h.name !== 'cseq' && h.name !== 'authorization' && h.name !== 'proxy-authorization')
      headers.unshift(this.via())
      headers.push({ name: 'cseq', value: `${request.cseq.seq + 1} ${request.method}` })
      headers.push({ name: challenge.status === 401 ? 'authorization' : 'proxy-authorization', value: value2 })
      return new SipRequest(request.method, request.uri, headers, request.body)
    }
    return null
  }
}

/** A response that was answered with credentials carries the retried request (CANCEL needs it). */
export type ChallengedResponse = SipResponse & { retriedAs?: SipRequest }

/** UTF-8 bytes of a body. */
export function bodyOf(text: string): Uint8Array {
  return encoder.encode(text)
}

/**
 * A minimal raw SIP-over-WebSocket client (RFC 7118) for integration tests. It plays a
 * browser library's part on the wire, one request at a time, so that a test can assert on
 * every message: it connects with the `sip` subprotocol, sends one SIP message per text
 * frame, keeps every frame it receives, and builds REGISTER / INVITE / ACK / BYE / CANCEL /
 * MESSAGE / OPTIONS requests the way JsSIP and SIP.js do (Via `SIP/2.0/WS <random>.invalid`,
 * Contact `<sip:user@<random>.invalid;transport=ws>`). It answers digest challenges (MD5 or
 * SHA-256, qop=auth) and keeps the dialog state a UAC or UAS needs for ACK, BYE and CANCEL.
 *
 * It is not a user agent: it never answers anything by itself (no automatic 100, no
 * retransmissions: WebSocket is reliable, RFC 3261 §17.1.1.2 timers A/E do not apply).
 */
import { digestCredentials, parseDigestChallenge, type DigestAlgorithm } from './digest.ts'
import { SipText, formatSipText, paramOf, uriOf } from './sip-text.ts'

export interface WsSipClientOptions {
  /** `ws://127.0.0.1:PORT/sip` */
  url: string
  username: string
  password: string
  /** SIP domain (AOR host), e.g. `patchbay.test`. */
  domain: string
  displayName?: string
  /** WebSocket subprotocols; default `['sip']` (RFC 7118 §4). Pass `[]` to offer none. */
  protocols?: string[]
  /** Digest algorithm to answer with when the server offers several; default MD5 (what JsSIP and SIP.js use). */
  algorithm?: DigestAlgorithm
  connectTimeoutMs?: number
}

/** One received frame: its text, and the SIP message in it (null for keepalives and junk). */
export interface ReceivedFrame {
  text: string
  message: SipText | null
  at: number
}

/** What a request is built from (RFC 3261 §8.1.1). */
export interface RequestDraft {
  method: string
  requestUri: string
  callId: string
  /** From URI; default this client's AOR. */
  fromUri?: string
  fromTag: string
  toUri: string
  toTag?: string | null
  cseq: number
  /** Route header values in order (`<sip:gw;lr>`). */
  routes?: string[]
  /** Via branch; a new one when absent. */
  branch?: string
  /** Add this client's Contact (default: for INVITE, REGISTER, and never for CANCEL/ACK/BYE/MESSAGE). */
  contact?: boolean
  headers?: Array<[string, string]>
  body?: string
  contentType?: string
}

/** A request that was sent: its text, branch and the draft it came from. */
export interface SentRequest {
  draft: RequestDraft
  branch: string
  text: string
}

/** UAC-side state of one INVITE: the transaction, and the dialog once a 2xx arrived (RFC 3261 §12.1.2). */
export interface OutgoingCall {
  callId: string
  fromTag: string
  targetUri: string
  /** The last INVITE sent (after a challenge: the one with credentials). */
  invite: SentRequest
  /** Set from the 2xx: remote tag, route set (Record-Route reversed) and remote target (Contact). */
  toTag: string | null
  routeSet: string[]
  remoteTarget: string | null
  localSeq: number
}

/** UAS-side state of a received INVITE (RFC 3261 §12.1.1). */
export interface IncomingCall {
  invite: SipText
  callId: string
  localTag: string
  /** Remote party: From of the INVITE (with its tag). */
  remoteUri: string
  remoteTag: string | null
  /** Local party: To URI of the INVITE. */
  localUri: string
  /** Record-Route of the INVITE, in order (the UAS route set is not reversed). */
  routeSet: string[]
  /** Contact of the INVITE. */
  remoteTarget: string
  localSeq: number
}

/** Outcome of {@link WsSipClient.register}. */
export interface RegisterResult {
  /** The 401 (or 407) that was answered, null when the first REGISTER got no challenge. */
  challenge: SipText | null
  /** The final response to the (authenticated) REGISTER. */
  final: SipText
  request: SentRequest
}

/** A random token of `length` characters from [a-z0-9]. */
export function randomToken(length = 10): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  const bytes = crypto.getRandomValues(new Uint8Array(length))
  let out = ''
  for (const b of bytes) out += alphabet[b % alphabet.length]
  return out
}

/** A new RFC 3261 branch: starts with the magic cookie `z9hG4bK` (§8.1.1.7). */
export function newBranch(): string {
  return `z9hG4bK${randomToken(16)}`
}

interface Waiter {
  predicate: (frame: ReceivedFrame) => boolean
  consume: boolean
  resolve: (frame: ReceivedFrame) => void
}

/** See the file comment. Create with {@link WsSipClient.connect}. */
export class WsSipClient {
  readonly options: WsSipClientOptions
  /** The `.invalid` host this client writes in Via and Contact (RFC 7118 §5.2). */
  readonly viaHost: string
  /** `sip:user@domain` */
  readonly aor: string
  /** `sip:user@<viaHost>;transport=ws` */
  readonly contactUri: string
  /** Every frame received, in order. */
  readonly frames: ReceivedFrame[] = []
  /** The subprotocol the server accepted. */
  readonly protocol: string
  private readonly socket: WebSocket
  private readonly consumed = new Set<ReceivedFrame>()
  private waiters: Waiter[] = []
  private closed = false
  private closeInfo: { code: number; reason: string } | null = null
  private nextCseq = 1
  /** UAS To tags per Call-ID, so that 180 and 200 carry the same tag. */
  private readonly localTags = new Map<string, string>()

  private constructor(options: WsSipClientOptions, socket: WebSocket) {
    this.options = options
    this.socket = socket
    this.protocol = socket.protocol
    this.viaHost = `${randomToken(12)}.invalid`
    this.aor = `sip:${options.username}@${options.domain}`
    this.contactUri = `sip:${options.username}@${this.viaHost};transport=ws`
    socket.addEventListener('message', (event) => this.onFrame(event.data))
    socket.addEventListener('close', (event) => {
      this.closed = true
      this.closeInfo = { code: event.code, reason: event.reason }
    })
  }

  /**
   * Opens the WebSocket and resolves once it is open.
   *
   * @throws Error when the handshake fails, or the server accepted without the `sip`
   *   subprotocol although it was offered (RFC 7118 §4), or after `connectTimeoutMs`
   */
  static connect(options: WsSipClientOptions): Promise<WsSipClient> {
    const protocols = options.protocols ?? ['sip']
    const timeoutMs = options.connectTimeoutMs ?? 5_000
    return new Promise((resolve, reject) => {
      const socket = protocols.length > 0 ? new WebSocket(options.url, protocols) : new WebSocket(options.url)
      socket.binaryType = 'arraybuffer'
      const timer = setTimeout(() => {
        socket.close()
        reject(new Error(`WebSocket ${options.url}: not open after ${timeoutMs} ms`))
      }, timeoutMs)
      socket.addEventListener('open', () => {
        clearTimeout(timer)
        if (protocols.includes('sip') && socket.protocol !== 'sip') {
          socket.close()
          reject(new Error(`WebSocket ${options.url}: server accepted subprotocol "${socket.protocol}", expected "sip" (RFC 7118 §4)`))
          return
        }
        resolve(new WsSipClient(options, socket))
      })
      socket.addEventListener('error', () => {
        clearTimeout(timer)
        reject(new Error(`WebSocket ${options.url}: handshake failed`))
      })
      socket.addEventListener('close', (event) => {
        clearTimeout(timer)
        reject(new Error(`WebSocket ${options.url}: closed during handshake (code ${event.code})`))
      })
    })
  }

  /** True once the server or the client closed the connection. */
  get isClosed(): boolean {
    return this.closed
  }

  get closeEvent(): { code: number; reason: string } | null {
    return this.closeInfo
  }

  /** Closes the connection (idempotent). */
  close(): void {
    if (!this.closed) this.socket.close(1000, 'test done')
    this.closed = true
  }

  /** Sends one text frame as is (a SIP message, or a keepalive `\r\n\r\n`). */
  sendFrame(text: string): void {
    if (this.socket.readyState !== WebSocket.OPEN) {
      throw new Error(`${this.options.username}: WebSocket is not open (readyState ${this.socket.readyState})`)
    }
    this.socket.send(text)
  }

  /** Every SIP message received, in order. */
  get messages(): SipText[] {
    return this.frames.flatMap((f) => (f.message ? [f.message] : []))
  }

  // ---------------------------------------------------------------- waiting

  /**
   * Waits for the first received frame (earlier ones included) that matches `predicate`
   * and has not been consumed by an earlier wait.
   *
   * @param consume mark the frame so that later waits skip it (default true)
   * @throws Error naming `description` and listing what did arrive, after `timeoutMs`
   */
  waitForFrame(predicate: (frame: ReceivedFrame) => boolean, description: string, timeoutMs = 5_000, consume = true): Promise<ReceivedFrame> {
    const existing = this.frames.find((f) => !this.consumed.has(f) && predicate(f))
    if (existing) {
      if (consume) this.consumed.add(existing)
      return Promise.resolve(existing)
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        consume,
        resolve: (frame) => {
          clearTimeout(timer)
          resolve(frame)
        },
      }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        const seen = this.frames.map((f) => (f.message ? f.message.describe() : JSON.stringify(f.text))).join('\n  ')
        reject(new Error(`${this.options.username}: timed out after ${timeoutMs} ms waiting for ${description}; received:\n  ${seen || '(nothing)'}` +
          (this.closed ? `\n(connection closed: ${JSON.stringify(this.closeInfo)})` : '')))
      }, timeoutMs)
      this.waiters.push(waiter)
    })
  }

  /** Waits for a SIP message matching `predicate` (see {@link waitForFrame}). */
  async waitForMessage(predicate: (message: SipText) => boolean, description: string, timeoutMs = 5_000, consume = true): Promise<SipText> {
    const frame = await this.waitForFrame((f) => f.message !== null && predicate(f.message), description, timeoutMs, consume)
    return frame.message!
  }

  /**
   * Waits for a response. `status` is one code or a predicate; `callId`, `method` (CSeq
   * method) and `seq` (CSeq number) narrow the match.
   */
  waitForResponse(match: { status: number | ((status: number) => boolean); callId?: string; method?: string; seq?: number },
    timeoutMs = 5_000, consume = true): Promise<SipText> {
    const statusOk = typeof match.status === 'number' ? (s: number) => s === match.status : match.status
    const description = `response ${typeof match.status === 'number' ? match.status : '(predicate)'}` +
      `${match.method ? ` to ${match.method}` : ''}${match.seq !== undefined ? ` CSeq ${match.seq}` : ''}` +
      `${match.callId ? ` Call-ID ${match.callId}` : ''}`
    return this.waitForMessage((m) => m.isResponse && statusOk(m.status) &&
      (match.callId === undefined || m.callId === match.callId) &&
      (match.method === undefined || m.cseq.method === match.method) &&
      (match.seq === undefined || m.cseq.seq === match.seq), description, timeoutMs, consume)
  }

  /** Waits for a request with `method` (optionally in call `callId`). */
  waitForRequest(method: string, callId?: string, timeoutMs = 5_000): Promise<SipText> {
    return this.waitForMessage((m) => m.isRequest && m.method === method && (callId === undefined || m.callId === callId),
      `${method} request${callId ? ` in Call-ID ${callId}` : ''}`, timeoutMs)
  }

  /**
   * Waits `ms` and returns the SIP messages matching `predicate` that arrived and were not
   * consumed — for asserting that something did NOT happen.
   */
  async collectFor(ms: number, predicate: (message: SipText) => boolean): Promise<SipText[]> {
    await Bun.sleep(ms)
    return this.frames.filter((f) => f.message && !this.consumed.has(f) && predicate(f.message)).map((f) => f.message!)
  }

  // ---------------------------------------------------------------- building and sending

  /** Allocates the next CSeq number for a new out-of-dialog request. */
  takeCseq(): number {
    return this.nextCseq++
  }

  /** Writes a request from `draft` (RFC 3261 §8.1.1 header set) and sends it. */
  send(draft: RequestDraft): SentRequest {
    const branch = draft.branch ?? newBranch()
    const from = `${this.options.displayName ? `"${this.options.displayName}" ` : ''}<${draft.fromUri ?? this.aor}>;tag=${draft.fromTag}`
    const to = `<${draft.toUri}>${draft.toTag ? `;tag=${draft.toTag}` : ''}`
    const headers: Array<[string, string]> = [
      ['Via', `SIP/2.0/WS ${this.viaHost};branch=${branch}`],
      ['Max-Forwards', '70'],
    ]
    for (const route of draft.routes ?? []) headers.push(['Route', route])
    headers.push(['To', to], ['From', from], ['Call-ID', draft.callId], ['CSeq', `${draft.cseq} ${draft.method}`])
    const wantsContact = draft.contact ?? (draft.method === 'INVITE' || draft.method === 'REGISTER')
    if (wantsContact) headers.push(['Contact', `<${this.contactUri}>`])
    headers.push(...(draft.headers ?? []))
    headers.push(['User-Agent', 'patchbay-test-ws-client'])
    if (draft.body !== undefined && draft.body.length > 0) {
      headers.push(['Content-Type', draft.contentType ?? 'application/sdp'])
    }
    const text = formatSipText({ startLine: `${draft.method} ${draft.requestUri} SIP/2.0`, headers, body: draft.body })
    this.sendFrame(text)
    return { draft, branch, text }
  }

  /**
   * Answers `request` with `status` (RFC 3261 §8.2.6.2): copies Via (all values, in order),
   * From, Call-ID and CSeq, adds a To tag (the same one for every response in that call),
   * and for 101–299 responses to INVITE copies Record-Route and adds Contact (§12.1.1).
   */
  respond(request: SipText, status: number, reason = defaultReason(status), options: { body?: string; contentType?: string; headers?: Array<[string, string]> } = {}): string {
    const headers: Array<[string, string]> = []
    for (const field of request.fields('via')) headers.push(['Via', field.value])
    headers.push(['From', request.get('from') ?? ''])
    let to = request.get('to') ?? ''
    if (status > 100 && paramOf(to, 'tag') === null) {
      let tag = this.localTags.get(request.callId)
      if (!tag) {
        tag = randomToken(10)
        this.localTags.set(request.callId, tag)
      }
      to = `${to};tag=${tag}`
    }
    headers.push(['To', to], ['Call-ID', request.callId], ['CSeq', request.get('cseq') ?? ''])
    const dialogForming = request.method === 'INVITE' && status > 100 && status < 300
    if (dialogForming) {
      for (const field of request.fields('record-route')) headers.push(['Record-Route', field.value])
      headers.push(['Contact', `<${this.contactUri}>`])
    }
    headers.push(...(options.headers ?? []))
    if (options.body !== undefined && options.body.length > 0) headers.push(['Content-Type', options.contentType ?? 'application/sdp'])
    const text = formatSipText({ startLine: `SIP/2.0 ${status} ${reason}`, headers, body: options.body })
    this.sendFrame(text)
    return text
  }

  /**
   * Credentials answering the 401/407 `challengeResponse` for `request` (RFC 3261 §22.2,
   * §22.3): picks the challenge with this client's algorithm (default MD5) among the
   * WWW-Authenticate / Proxy-Authenticate values.
   *
   * @returns [header name, header value] to add to the retried request
   * @throws Error when no challenge with a usable algorithm is present
   */
  credentialsFor(challengeResponse: SipText, method: string, uri: string): [string, string] {
    const proxy = challengeResponse.status === 407
    const values = challengeResponse.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate')
    const wanted = this.options.algorithm ?? 'MD5'
    const challenges = values.map(parseDigestChallenge).filter((c) => c !== null)
    const challenge = challenges.find((c) => c.algorithm === wanted)
    if (!challenge) {
      throw new Error(`${this.options.username}: no ${wanted} digest challenge in ${challengeResponse.describe()}: ${JSON.stringify(values)}`)
    }
    const value = digestCredentials({ challenge, username: this.options.username, password: this.options.password, method, uri })
    return [proxy ? 'Proxy-Authorization' : 'Authorization', value]
  }

  /**
   * REGISTER with digest: sends REGISTER, answers a 401/407 once, and returns the
   * challenge and the final response (RFC 3261 §10.2, §22).
   *
   * @param options.expires Expires header value in seconds (default 600); 0 unregisters
   * @param options.contactParams extra Contact header parameters, e.g. `;+sip.instance="<urn:uuid:...>";reg-id=1`
   */
  async register(options: { expires?: number; contactParams?: string; timeoutMs?: number } = {}): Promise<RegisterResult> {
    const callId = `${randomToken(16)}`
    const fromTag = randomToken(10)
    const expires = options.expires ?? 600
    const requestUri = `sip:${this.options.domain}`
    const timeoutMs = options.timeoutMs ?? 5_000
    const build = (cseq: number, auth?: [string, string]): RequestDraft => ({
      method: 'REGISTER',
      requestUri,
      callId,
      fromTag,
      toUri: this.aor,
      cseq,
      contact: false,
      headers: [
        ['Contact', `<${this.contactUri}>${options.contactParams ?? ''};expires=${expires}`],
        ['Expires', String(expires)],
        ...(auth ? [auth] : []),
      ],
    })
    let request = this.send(build(this.takeCseq()))
    let response = await this.waitForResponse({ status: (s) => s >= 200, callId, method: 'REGISTER', seq: request.draft.cseq }, timeoutMs)
    let challenge: SipText | null = null
    if (response.status === 401 || response.status === 407) {
      challenge = response
      request = this.send(build(this.takeCseq(), this.credentialsFor(response, 'REGISTER', requestUri)))
      response = await this.waitForResponse({ status: (s) => s >= 200, callId, method: 'REGISTER', seq: request.draft.cseq }, timeoutMs)
    }
    return { challenge, final: response, request }
  }

  /** Starts an INVITE to `targetUri` (CSeq 1, new Call-ID) without waiting for anything. */
  startInvite(targetUri: string, options: { body?: string; headers?: Array<[string, string]> } = {}): OutgoingCall {
    const callId = randomToken(16)
    const fromTag = randomToken(10)
    const invite = this.send({
      method: 'INVITE', requestUri: targetUri, callId, fromTag, toUri: targetUri, cseq: 1,
      body: options.body, headers: options.headers,
    })
    return { callId, fromTag, targetUri, invite, toTag: null, routeSet: [], remoteTarget: null, localSeq: 1 }
  }

  /**
   * Sends an INVITE and answers one 401/407 challenge: ACKs the challenge (same branch,
   * §17.1.1.3) and re-sends the INVITE with credentials and CSeq + 1 (§22.2).
   * Provisional and final responses other than the challenge stay unconsumed for the test.
   *
   * @returns the call and the challenge that was answered (null when none came)
   */
  async inviteWithAuth(targetUri: string, options: { body?: string; headers?: Array<[string, string]>; timeoutMs?: number } = {}): Promise<{ call: OutgoingCall; challenge: SipText | null }> {
    const call = this.startInvite(targetUri, options)
    const first = await this.waitForResponse({ status: (s) => s > 100, callId: call.callId, method: 'INVITE', seq: 1 }, options.timeoutMs ?? 5_000, false)
    if (first.status !== 401 && first.status !== 407) return { call, challenge: null }
    await this.waitForResponse({ status: first.status, callId: call.callId, method: 'INVITE', seq: 1 })
    this.ackNon2xx(call, first)
    const auth = this.credentialsFor(first, 'INVITE', targetUri)
    call.localSeq = 2
    call.invite = this.send({
      method: 'INVITE', requestUri: targetUri, callId: call.callId, fromTag: call.fromTag, toUri: targetUri, cseq: 2,
      body: options.body, headers: [...(options.headers ?? []), auth],
    })
    return { call, challenge: first }
  }

  /**
   * ACK for a non-2xx final response to the INVITE (RFC 3261 §17.1.1.3): same Request-URI,
   * Call-ID, From, CSeq number and top Via branch as the INVITE, To from the response.
   */
  ackNon2xx(call: OutgoingCall, response: SipText): void {
    const { draft, branch } = call.invite
    this.send({
      method: 'ACK', requestUri: draft.requestUri, callId: call.callId, fromTag: call.fromTag,
      toUri: draft.toUri, toTag: response.toTag, cseq: draft.cseq, routes: draft.routes, branch, contact: false,
    })
  }

  /**
   * ACK for a 2xx (RFC 3261 §13.2.2.4, §12.1.2): records the dialog from the 2xx — remote
   * tag, route set = Record-Route in reverse order, remote target = Contact — and sends the
   * ACK to the remote target through the route set, in a new transaction.
   */
  ack2xx(call: OutgoingCall, response: SipText): void {
    call.toTag = response.toTag
    call.routeSet = [...response.getAll('record-route')].reverse()
    const contact = response.getAll('contact')[0]
    if (!contact) throw new Error(`${this.options.username}: 2xx without Contact: ${response.describe()}`)
    call.remoteTarget = uriOf(contact)
    this.send({
      method: 'ACK', requestUri: call.remoteTarget, callId: call.callId, fromTag: call.fromTag,
      toUri: call.targetUri, toTag: call.toTag, cseq: call.invite.draft.cseq, routes: call.routeSet, contact: false,
    })
  }

  /** BYE from the caller inside the dialog the 2xx created (RFC 3261 §15.1.1, §12.2.1.1). */
  byeAsCaller(call: OutgoingCall): SentRequest {
    if (!call.remoteTarget) throw new Error('byeAsCaller: no dialog yet (call ack2xx first)')
    call.localSeq += 1
    return this.send({
      method: 'BYE', requestUri: call.remoteTarget, callId: call.callId, fromTag: call.fromTag,
      toUri: call.targetUri, toTag: call.toTag, cseq: call.localSeq, routes: call.routeSet, contact: false,
    })
  }

  /**
   * CANCEL for the pending INVITE (RFC 3261 §9.1): "The Request-URI, Call-ID, To, the
   * numeric part of CSeq, and From header fields in the CANCEL request MUST be identical to
   * those in the request being cancelled, including tags. ... A CANCEL constructed by a
   * client MUST have only a single Via header field value matching the top Via value in
   * the request being cancelled." Route is copied too.
   */
  cancel(call: OutgoingCall): SentRequest {
    const { draft, branch } = call.invite
    return this.send({
      method: 'CANCEL', requestUri: draft.requestUri, callId: call.callId, fromTag: call.fromTag,
      toUri: draft.toUri, cseq: draft.cseq, routes: draft.routes, branch, contact: false,
    })
  }

  /** UAS dialog state from a received INVITE, to send BYE as the callee later. */
  incomingCall(invite: SipText): IncomingCall {
    let localTag = this.localTags.get(invite.callId)
    if (!localTag) {
      localTag = randomToken(10)
      this.localTags.set(invite.callId, localTag)
    }
    const contact = invite.getAll('contact')[0]
    return {
      invite,
      callId: invite.callId,
      localTag,
      remoteUri: uriOf(invite.get('from') ?? ''),
      remoteTag: invite.fromTag,
      localUri: uriOf(invite.get('to') ?? ''),
      routeSet: invite.getAll('record-route'),
      remoteTarget: contact ? uriOf(contact) : uriOf(invite.get('from') ?? ''),
      localSeq: randomCseq(),
    }
  }

  /** BYE from the callee (RFC 3261 §12.2.1.1: route set in Record-Route order for the UAS). */
  byeAsCallee(call: IncomingCall): SentRequest {
    call.localSeq += 1
    return this.send({
      method: 'BYE', requestUri: call.remoteTarget, callId: call.callId, fromUri: call.localUri, fromTag: call.localTag,
      toUri: call.remoteUri, toTag: call.remoteTag, cseq: call.localSeq, routes: call.routeSet, contact: false,
    })
  }

  /**
   * An out-of-dialog request (OPTIONS, MESSAGE, ...) to `requestUri`, answering one digest
   * challenge. Returns the final response and the challenge answered (if any).
   */
  async request(method: string, requestUri: string, options: { body?: string; contentType?: string; headers?: Array<[string, string]>; timeoutMs?: number } = {}): Promise<{ challenge: SipText | null; final: SipText }> {
    const callId = randomToken(16)
    const fromTag = randomToken(10)
    const timeoutMs = options.timeoutMs ?? 5_000
    const draft = (cseq: number, auth?: [string, string]): RequestDraft => ({
      method, requestUri, callId, fromTag, toUri: requestUri, cseq, contact: false,
      body: options.body, contentType: options.contentType, headers: [...(options.headers ?? []), ...(auth ? [auth] : [])],
    })
    let sent = this.send(draft(this.takeCseq()))
    let final = await this.waitForResponse({ status: (s) => s >= 200, callId, seq: sent.draft.cseq }, timeoutMs)
    let challenge: SipText | null = null
    if (final.status === 401 || final.status === 407) {
      challenge = final
      sent = this.send(draft(this.takeCseq(), this.credentialsFor(final, method, requestUri)))
      final = await this.waitForResponse({ status: (s) => s >= 200, callId, seq: sent.draft.cseq }, timeoutMs)
    }
    return { challenge, final }
  }

  // ---------------------------------------------------------------- receiving

  private onFrame(data: unknown): void {
    const text = typeof data === 'string' ? data : new TextDecoder().decode(data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array))
    const message = text.trim().length === 0 ? null : SipText.parse(text)
    const frame: ReceivedFrame = { text, message, at: Date.now() }
    this.frames.push(frame)
    for (const waiter of [...this.waiters]) {
      if (waiter.predicate(frame)) {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        if (waiter.consume) this.consumed.add(frame)
        waiter.resolve(frame)
        if (waiter.consume) break
      }
    }
  }
}

function randomCseq(): number {
  return 1 + (crypto.getRandomValues(new Uint32Array(1))[0]! % 10_000)
}

const REASONS: Record<number, string> = {
  100: 'Trying', 180: 'Ringing', 183: 'Session Progress', 200: 'OK', 404: 'Not Found', 480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist', 486: 'Busy Here', 487: 'Request Terminated', 488: 'Not Acceptable Here',
  500: 'Server Internal Error', 603: 'Decline',
}

function defaultReason(status: number): string {
  return REASONS[status] ?? 'Unknown'
}

/**
 * SDP bodies for raw clients. `webrtc` looks like what Chromium offers (ICE, DTLS
 * fingerprint, rtcp-mux, UDP/TLS/RTP/SAVPF); `rtp` like a legacy phone (RTP/AVP, G.711).
 * Nothing listens on the ports: the tests using them check signalling only.
 */
export function fakeSdp(kind: 'webrtc' | 'rtp', role: 'offer' | 'answer', port = 9): string {
  const id = String(Date.now())
  if (kind === 'rtp') {
    return [
      'v=0', `o=- ${id} 1 IN IP4 127.0.0.1`, 's=-', 'c=IN IP4 127.0.0.1', 't=0 0',
      `m=audio ${port} RTP/AVP 0 8 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=ptime:20', 'a=sendrecv', '',
    ].join('\r\n')
  }
  const fingerprint = Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':')
  return [
    'v=0', `o=- ${id} 2 IN IP4 127.0.0.1`, 's=-', 't=0 0', 'a=group:BUNDLE 0', 'a=msid-semantic: WMS',
    `m=audio ${port} UDP/TLS/RTP/SAVPF 111 0 8`, 'c=IN IP4 127.0.0.1', 'a=rtcp:9 IN IP4 0.0.0.0',
    `a=candidate:1 1 udp 2122260223 127.0.0.1 ${port} typ host`,
    `a=ice-ufrag:${randomToken(4)}`, `a=ice-pwd:${randomToken(24)}`, 'a=ice-options:trickle',
    `a=fingerprint:sha-256 ${fingerprint}`, `a=setup:${role === 'offer' ? 'actpass' : 'active'}`,
    'a=mid:0', 'a=sendrecv', 'a=rtcp-mux', 'a=rtpmap:111 opus/48000/2', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', '',
  ].join('\r\n')
}

/** An answer shaped like `offer`: a WebRTC answer to a SAVPF offer, a plain RTP answer otherwise. */
export function fakeAnswerFor(offer: string, port = 9): string {
  return fakeSdp(offer.includes('UDP/TLS/RTP/SAVPF') ? 'webrtc' : 'rtp', 'answer', port)
}

/**
 * The JSON signaling mode's front door: one `JsonConnection` per WebSocket (challenge, login,
 * attach, frame validation) and the registry of logged-in sessions with their re-attach
 * tokens and grace timers.
 *
 * Login (protocol.ts `login`): the gateway sends a fresh nonce; the client proves it knows the
 * password with HMAC-SHA-256 keyed with the account's SHA-256 HA1 (hex text, RFC 7616 §3.4.2)
 * over the nonce. The password never crosses the wire and the gateway keeps only HA1s, as for
 * SIP digest. A wrong proof and an unknown user get the same answer after the same work
 * (RFC 3261 §22 practice, issue 11's `alwaysauthreject`), and each failure counts towards the
 * source's brute-force ban exactly as a failed SIP digest does.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import type { Scheduler, TimerHandle } from '../base/scheduler.ts'
import type { UserCredentials } from '../base/user-credentials.ts'
import type { UserDirectory } from '../base/user-directory.ts'
import { logger } from '../base/log.ts'
import type { SipSecurity } from '../sip/security/sip-security.ts'
import type { LocationService } from '../sip/registrar/location-service.ts'
import { parseUri } from '../sip/syntax/uri.ts'
import { decodeClientFrame } from './decode.ts'
import { JsonSession, type SendToClient } from './json-session.ts'
import type { SipFlowHost } from './sip-leg/sip-endpoint.ts'
import { ERROR_CODES, FRAME_BURST, JSON_PROTOCOL_VERSION, MAX_FRAMES_PER_SECOND, type ServerMessage } from './protocol.ts'

const log = logger('json.signaling')

/** Client messages that end a call or the session: never refused by the frame budget. */
const ENDING_TYPES: ReadonlySet<string> = new Set(['hangup', 'reject', 'logout'])

export interface JsonSignalingOptions {
  host: SipFlowHost
  scheduler: Scheduler
  users: UserDirectory
  security: SipSecurity
  domain: string
  realm: string
  localAddress: string
  localPort: () => number
  /** Seconds a session waits for `attach` after its WebSocket closed. */
  graceSeconds: number
  t1: number
  t2: number
  /**
   * The registrar's location service, for trickle ICE discovery (RFC 8840 §4.1): a trickling
   * call goes out with a partial offer only when every binding of the target advertises
   * trickle ICE. Absent: trickling calls always use half trickle.
   */
  location?: LocationService | null
}

/** A dummy account for unknown usernames: the same HMAC work as a real one (no timing oracle). */
const NOBODY: UserCredentials = { username: '', ha1: '0'.repeat(32), ha1Sha256: '0'.repeat(64) }

export class JsonSignalingService {
  private readonly sessions = new Map<string, JsonSession>()
  private readonly graceTimers = new Map<JsonSession, TimerHandle>()
  private readonly counters = { logins: 0, loginFailures: 0, attaches: 0, refusedFrames: 0 }
  /** Flow ids of the sessions registered with the trickle-ice feature tag. */
  private readonly trickleFlows = new Set<string>()
  private location: LocationService | null

  constructor(private readonly o: JsonSignalingOptions) {
    this.location = o.location ?? null
  }

  /** Sets the location service for trickle discovery (when the composition root builds it later). */
  useLocation(location: LocationService): void {
    this.location = location
  }

  /**
   * Trickle ICE discovery (RFC 8840 §4.1, RFC 8838 §3): true when the target URI is a user of
   * this domain with at least one binding and every binding advertises trickle ICE, i.e. was
   * registered with the `+sip.extensions="trickle-ice"` feature tag (RFC 3840). The location
   * service keeps no Contact parameters, so a binding counts when its flow is a JSON session
   * that registered with the tag; any other binding (SIP over WebSocket, UDP, ...) does not.
   */
  calleeTrickles(targetUri: string): boolean {
    if (this.location === null) return false
    const uri = parseUri(targetUri)
    if (uri === null || uri.user === null || uri.host.toLowerCase() !== this.o.domain.toLowerCase()) return false
    let user: string
    try {
      user = decodeURIComponent(uri.user)
    } catch {
      return false
    }
    const bindings = this.location.lookup(`sip:${user}@${this.o.domain.toLowerCase()}`)
    return bindings.length > 0 && bindings.every((b) => b.flowId !== null && this.trickleFlows.has(b.flowId))
  }

  /** A new WebSocket: returns its connection (the HTTP layer feeds it frames and the close). */
  connect(remoteAddress: string, secure: boolean, send: (text: string) => void, close: () => void): JsonConnection {
    return new JsonConnection(this, remoteAddress, secure, send, close)
  }

  /** Sessions alive (attached or in their grace period). */
  get sessionCount(): number {
    return this.sessions.size
  }

  get stats(): Readonly<typeof this.counters> {
    return { ...this.counters }
  }

  get graceSeconds(): number {
    return this.o.graceSeconds
  }

  get realm(): string {
    return this.o.realm
  }

  /** Ends every session (gateway shutdown). */
  close(): void {
    for (const s of [...this.sessions.values()]) this.endSession(s, 'gateway stopped')
  }

  /** @internal JsonConnection: checks a login proof; null when it fails (counted). */
  verifyLogin(source: string, username: string, nonce: string, proof: string): UserCredentials | null {
    const user = this.o.users.get(username)
    const expected = createHmac('sha256', (user ?? NOBODY).ha1Sha256).update(nonce).digest()
    const given = Buffer.from(proof, 'hex')
    const ok = user !== undefined && given.length === expected.length && timingSafeEqual(given, expected)
    if (ok) {
      this.counters.logins++
      return user
    }
    this.counters.loginFailures++
    const banned = this.o.security.authFailure(source, username, this.o.security.allowed(source))
    log.warn('JSON login failed', { source, username, banned })
    return null
  }

  /** @internal JsonConnection: whether the source is banned (brute force, flood). */
  refused(source: string): boolean {
    return this.o.security.refused(source)
  }

  /** @internal JsonConnection: a session for a verified user, registered. */
  async openSession(user: UserCredentials, source: string, secure: boolean, trickle = false): Promise<{ session: JsonSession; status: number }> {
    const session = new JsonSession({
      trickle, calleeTrickles: (target) => this.calleeTrickles(target),
      host: this.o.host, scheduler: this.o.scheduler, user, domain: this.o.domain, realm: this.o.realm,
      remoteAddress: source, transport: secure ? 'WSS' : 'WS', localAddress: this.o.localAddress,
      localPort: this.o.localPort(), t1: this.o.t1, t2: this.o.t2, token: randomBytes(24).toString('base64url'),
    })
    const flowId = session.endpoint.flow.id
    if (trickle) this.trickleFlows.add(flowId)
    const status = await session.register()
    if (status >= 300) {
      this.trickleFlows.delete(flowId)
      session.end(`registration refused (${status})`)
      return { session, status }
    }
    this.sessions.set(session.token, session)
    return { session, status }
  }

  /** @internal JsonConnection: the session a token names, taken out of its grace period. */
  takeSession(token: string): JsonSession | null {
    const s = this.sessions.get(token)
    if (s === undefined || s.isEnded) return null
    const t = this.graceTimers.get(s)
    if (t !== undefined) {
      this.o.scheduler.clearTimer(t)
      this.graceTimers.delete(s)
    }
    this.counters.attaches++
    return s
  }

  /** @internal JsonConnection: its WebSocket closed; the session waits `graceSeconds` for an attach. */
  socketClosed(session: JsonSession, client: SendToClient | null): void {
    if (session.isEnded) {
      this.sessions.delete(session.token)
      this.trickleFlows.delete(session.endpoint.flow.id)
      return
    }
    if (client !== null && !session.detach(client)) return // another WebSocket has it now
    const prev = this.graceTimers.get(session)
    if (prev !== undefined) this.o.scheduler.clearTimer(prev)
    this.graceTimers.set(session, this.o.scheduler.setTimer(this.o.graceSeconds * 1000, () => {
      this.graceTimers.delete(session)
      if (!session.attached) this.endSession(session, 'grace period over')
    }))
  }

  /** @internal */
  endSession(session: JsonSession, why: string): void {
    const t = this.graceTimers.get(session)
    if (t !== undefined) this.o.scheduler.clearTimer(t)
    this.graceTimers.delete(session)
    this.sessions.delete(session.token)
    this.trickleFlows.delete(session.endpoint.flow.id)
    session.end(why)
  }

  /** @internal */
  frameRefused(): void {
    this.counters.refusedFrames++
  }
}

/**
 * One JSON signaling WebSocket: the challenge on open, `login`/`attach`/`ping` before a
 * session, everything else handed to the session after. A refused frame gets an `error`
 * and changes nothing else.
 */
export class JsonConnection {
  private readonly nonce = randomBytes(18).toString('base64url')
  /** Token bucket of frames (MAX_FRAMES_PER_SECOND, FRAME_BURST) and the refusals in a row. */
  private tokens = FRAME_BURST
  private refilledAt = performance.now()
  private refusedInARow = 0
  private session: JsonSession | null = null
  /** What this connection hands its session (compared on close: has another socket taken over?). */
  private readonly toClient: SendToClient = (m) => this.send(m)
  private loggingIn = false
  private closed = false

  constructor(
    private readonly service: JsonSignalingService,
    private readonly source: string,
    private readonly secure: boolean,
    private readonly sendText: (text: string) => void,
    private readonly closeSocket: () => void,
  ) {
    this.send({ type: 'challenge', version: JSON_PROTOCOL_VERSION, realm: service.realm, nonce: this.nonce, algorithm: 'HMAC-SHA-256' })
  }

  /**
   * One frame from the client. Over the frame budget it is refused — unless it ends a call or
   * the session (`hangup`, `reject`, `logout`): like BYE and CANCEL past the SIP overload cap,
   * a request that frees resources always passes.
   */
  receive(frame: string | Uint8Array): void {
    if (this.closed) return
    const decoded = decodeClientFrame(frame)
    const ending = decoded.ok && ENDING_TYPES.has(decoded.message.type)
    if (!ending && !this.takeToken()) return
    if (!decoded.ok) {
      this.service.frameRefused()
      this.send({ type: 'error', ...decoded.error })
      return
    }
    const m = decoded.message
    if (this.session !== null) {
      if (m.type === 'logout') {
        const s = this.session
        this.session = null
        this.service.endSession(s, 'logout')
        return
      }
      this.session.handle(m)
      return
    }
    switch (m.type) {
      case 'ping':
        this.send({ type: 'pong', ...(m.id ? { id: m.id } : {}) })
        return
      case 'login':
        void this.login(m.id, m.username, m.proof, m.trickle === true)
        return
      case 'attach':
        this.attach(m.id, m.token)
        return
      default:
        this.send({ type: 'error', code: ERROR_CODES.notLoggedIn, message: `log in before "${m.type}"`, ...('callId' in m ? { callId: m.callId } : {}) })
    }
  }

  /**
   * Spends one frame token. Out of tokens, the frame is refused (`rate-limited`, said once
   * per burst) and, after FRAME_BURST refusals in a row, the connection is closed.
   */
  private takeToken(): boolean {
    const now = performance.now()
    this.tokens = Math.min(FRAME_BURST, this.tokens + ((now - this.refilledAt) / 1000) * MAX_FRAMES_PER_SECOND)
    this.refilledAt = now
    if (this.tokens >= 1) {
      this.tokens -= 1
      this.refusedInARow = 0
      return true
    }
    this.service.frameRefused()
    if (this.refusedInARow++ === 0) {
      this.send({ type: 'error', code: ERROR_CODES.rateLimited, message: `more than ${MAX_FRAMES_PER_SECOND} frames per second` })
    }
    if (this.refusedInARow >= FRAME_BURST) {
      log.warn('JSON connection closed: frame flood', { source: this.source })
      this.close()
    }
    return false
  }

  private async login(id: string, username: string, proof: string, trickle: boolean): Promise<void> {
    if (this.loggingIn) {
      this.send({ type: 'error', code: ERROR_CODES.wrongState, message: 'a login is in progress', id })
      return
    }
    if (this.service.refused(this.source)) {
      this.send({ type: 'error', code: ERROR_CODES.rateLimited, message: 'too many failed attempts from this address', id })
      return
    }
    const user = this.service.verifyLogin(this.source, username, this.nonce, proof)
    if (user === null) {
      this.send({ type: 'error', code: ERROR_CODES.authFailed, message: 'wrong username or password', id })
      return
    }
    this.loggingIn = true
    const { session, status } = await this.service.openSession(user, this.source, this.secure, trickle)
    this.loggingIn = false
    if (status >= 300) {
      this.send({ type: 'error', code: ERROR_CODES.authFailed, message: `registration refused: ${status}`, id, status })
      return
    }
    if (this.closed) {
      this.service.socketClosed(session, null)
      return
    }
    this.adopt(session, id)
  }

  private attach(id: string, token: string): void {
    const session = this.service.takeSession(token)
    if (session === null) {
      this.send({ type: 'error', code: ERROR_CODES.authFailed, message: 'unknown or expired session token', id })
      return
    }
    this.adopt(session, id)
  }

  private adopt(session: JsonSession, id: string): void {
    this.session = session
    session.attach(this.toClient)
    const u = session.endpoint.user
    this.send({
      type: 'session', id, username: u.username, ...(u.displayName ? { displayName: u.displayName } : {}),
      aor: session.endpoint.aor, token: session.token, graceSeconds: this.service.graceSeconds, calls: session.callSummaries(),
    })
  }

  /** The WebSocket closed: the session (if any) enters its grace period. */
  closedByPeer(): void {
    if (this.closed) return
    this.closed = true
    if (this.session !== null) this.service.socketClosed(this.session, this.toClient)
    this.session = null
  }

  /** Closes the WebSocket from our side. */
  close(): void {
    this.closeSocket()
  }

  private send(m: ServerMessage): void {
    if (this.closed) return
    this.sendText(JSON.stringify(m))
  }
}

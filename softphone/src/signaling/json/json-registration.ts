/**
 * Being signed in over JSON signaling (docs/json-signaling.md): the client-config, the
 * `/json` WebSocket (`JsonConnection`), the challenge and the HMAC `login`, re-attaching to
 * the gateway's session with its `token` (after a page reload or a lost connection), and
 * reconnection with the same back-off as SIP mode (`reconnectDelayMs`).
 *
 * The session token lives in sessionStorage (one per tab, like the session itself: two tabs
 * are two registrations), keyed by nothing but itself; it names the server and user it
 * belongs to. It survives a reload, not a closed tab.
 */
import type { Credentials, RegistrationState } from '../signaling-client.ts'
import { loadClientConfig, normaliseServer, webSocketUrl, type ClientConfig, type FetchLike } from '../client-config.ts'
import { UNREACHABLE_TEXT } from '../failure-text.ts'
import type { IceServerAccount } from '../media-setup.ts'
import { ReconnectSchedule } from '../reconnect-backoff.ts'
import { JsonConnection, type JsonConnectionTimings, type WebSocketFactory } from './json-connection.ts'
import { ServerRotation } from '../server-rotation.ts'
import type { ClientMessage, ServerMessage, ServerMessageOf } from './json-protocol.ts'
import { loginProof } from './login-proof.ts'

/** sessionStorage key of the stored session: `{ origin, user, token }`. */
export const JSON_SESSION_KEY = 'pb.json-session'

type ReconnectReason = Extract<RegistrationState, { status: 'reconnecting' }>['reason']
type FailedReason = Extract<RegistrationState, { status: 'failed' }>['reason']

/** The session a tab keeps across reloads. */
export interface StoredJsonSession {
  readonly origin: string
  readonly user: string
  readonly token: string
}

export interface JsonRegistrationOptions extends JsonConnectionTimings {
  /** The page's origin, used when the user leaves the server empty. */
  readonly pageOrigin: string
  readonly fetch: FetchLike
  readonly createWebSocket: WebSocketFactory
  /** Where the session token is kept (sessionStorage); none: no re-attach after a reload. */
  readonly sessionStorage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>
  /** `window`, to reconnect on the `online` event. */
  readonly networkEvents?: EventTarget
  /** A number in [0, 1) for the back-off jitter; Math.random by default. */
  readonly random?: () => number
  /** Every registration state change, in order. */
  readonly onState: (state: RegistrationState) => void
  /** Logged in (`how: 'login'`, a new session: no calls) or attached to the previous session. */
  readonly onSession: (session: ServerMessageOf<'session'>, how: 'login' | 'attach') => void
  /** The previous session is gone for good (attach refused, sign-out): calls in memory are over. */
  readonly onSessionGone: () => void
  /** Every other server message while signed in (calls, errors with a callId, ...). */
  readonly onMessage: (message: ServerMessage) => void
}

function readStored(storage: JsonRegistrationOptions['sessionStorage']): StoredJsonSession | undefined {
  try {
    const raw = storage?.getItem(JSON_SESSION_KEY)
    if (!raw) return undefined
    const v = JSON.parse(raw) as Partial<StoredJsonSession>
    return typeof v.origin === 'string' && typeof v.user === 'string' && typeof v.token === 'string' ? { origin: v.origin, user: v.user, token: v.token } : undefined
  } catch {
    return undefined
  }
}

/**
 * Keeps one account logged in over JSON signaling until `unregister()`. States go out
 * through `onState`; nothing here throws. A wrong password (`auth-failed` on `login`) is
 * permanent (`failed`/`wrong-password`: the gateway gives one answer for an unknown user
 * and a wrong password); an unreachable gateway or a lost WebSocket is retried with back-off.
 */
export class JsonRegistration {
  private current: RegistrationState = { status: 'signed-out' }
  private credentials: (Credentials & { origin: string }) | undefined
  private config: ClientConfig | undefined
  private connection: JsonConnection | undefined
  /** The nodes' JSON WebSocket URLs in failover order (issue 14), once the client-config is loaded. */
  private rotation: ServerRotation | undefined
  private token: string | undefined
  private shouldBeRegistered = false
  private readonly retry = new ReconnectSchedule(() => (this.options.random ?? Math.random)())
  private requestSeq = 0
  /** The challenge of the current connection (a refused attach falls back to a login with it). */
  private challenge: ServerMessageOf<'challenge'> | undefined
  /** The `id` of the login / attach waiting for its answer. */
  private pending: { id: string; kind: 'login' | 'attach' } | undefined
  /** Bumped on every sign-in/out and connection, so that late callbacks of old ones are ignored. */
  private generation = 0
  private readonly onOnline = (): void => this.reconnectNow()

  constructor(private readonly options: JsonRegistrationOptions) {
    options.networkEvents?.addEventListener('online', this.onOnline)
  }

  get state(): RegistrationState {
    return this.current
  }

  get isRegistered(): boolean {
    return this.current.status === 'registered'
  }

  /** The SIP domain from the client-config (for targets typed without one), once loaded. */
  get domain(): string | undefined {
    return this.config?.domain
  }

  /** The account for the ICE servers endpoint; undefined without a password (a resumed session). */
  get iceServerAccount(): IceServerAccount | undefined {
    const creds = this.credentials
    if (!creds || !this.config || creds.password === '') return undefined
    return { origin: creds.origin, path: this.config.iceServersPath, user: creds.user, password: creds.password }
  }

  /** Sends a message on the current connection; false when there is none (not signed in or reconnecting). */
  send(message: ClientMessage): boolean {
    return this.isRegistered && (this.connection?.send(message) ?? false)
  }

  /**
   * Signs in with `credentials`. When this tab already has (or is resuming) a session of the
   * same server and user, it is kept and only the password is taken (for the ICE servers);
   * otherwise the previous account is signed out first.
   */
  async register(credentials: Credentials): Promise<void> {
    const origin = normaliseServer(credentials.server, this.options.pageOrigin)
    const stored = readStored(this.options.sessionStorage)
    const same = origin !== undefined && this.credentials?.origin === origin && this.credentials.user === credentials.user
    if (same && this.shouldBeRegistered && this.current.status !== 'failed') {
      this.credentials = { ...credentials, origin }
      return
    }
    this.teardown(true)
    const generation = ++this.generation
    if (!origin) {
      this.setState({ status: 'failed', reason: 'configuration', message: 'The server address is not valid.' })
      return
    }
    this.credentials = { ...credentials, origin }
    this.token = stored && stored.origin === origin && stored.user === credentials.user ? stored.token : undefined
    this.shouldBeRegistered = true
    this.retry.attempt = 0
    this.setState({ status: 'connecting', attempt: 0 })
    await this.connect(generation)
  }

  /**
   * After a page reload: attaches to the session this tab had (its token in sessionStorage)
   * without credentials. Returns false when there is none. If the gateway refuses the token,
   * the state goes back to `signed-out` (the sign-in form) unless `register()` gave a password meanwhile.
   */
  resume(): boolean {
    const stored = readStored(this.options.sessionStorage)
    if (!stored || this.shouldBeRegistered) return false
    const generation = ++this.generation
    this.credentials = { server: stored.origin, origin: stored.origin, user: stored.user, password: '' }
    this.token = stored.token
    this.shouldBeRegistered = true
    this.retry.attempt = 0
    this.setState({ status: 'connecting', attempt: 0 })
    void this.connect(generation)
    return true
  }

  /** Logs out (`logout`: the gateway hangs up the calls and removes the registration) and goes `signed-out`. */
  async unregister(): Promise<void> {
    this.teardown(true)
    this.forgetToken()
    this.generation++
    this.setState({ status: 'signed-out' })
  }

  /** While waiting to reconnect: try again now. */
  reconnectNow(): void {
    if (this.shouldBeRegistered && this.current.status === 'reconnecting') {
      this.retry.clear()
      this.setState({ status: 'connecting', attempt: this.retry.attempt })
      void this.connect(this.generation)
    }
  }

  /** Stops listening for `online` and closes the connection without logging out (the session waits for an attach). */
  dispose(): void {
    this.options.networkEvents?.removeEventListener('online', this.onOnline)
    this.shouldBeRegistered = false
    this.generation++
    this.retry.clear()
    this.connection?.close()
    this.connection = undefined
  }

  private teardown(logout: boolean): void {
    this.retry.clear()
    const hadSession = this.token !== undefined
    if (logout && this.connection?.isOpen && this.current.status === 'registered') this.connection.send({ type: 'logout' })
    this.connection?.close()
    this.connection = undefined
    this.rotation = undefined
    this.pending = undefined
    this.shouldBeRegistered = false
    if (logout && hadSession) {
      this.forgetToken()
      this.options.onSessionGone()
    }
  }

  private async connect(generation: number): Promise<void> {
    const creds = this.credentials
    if (!creds) return
    if (!this.config) {
      const loaded = await loadClientConfig(creds.origin, this.options.fetch)
      if (generation !== this.generation) return
      if (!loaded.ok) {
        if (loaded.kind === 'unreachable') this.scheduleRetry('unreachable', loaded.message)
        else this.fail('configuration', loaded.message)
        return
      }
      if (loaded.config.jsonWebSocketPath === null) {
        this.fail('configuration', 'This server does not offer JSON signaling. Use SIP signaling instead (Settings).')
        return
      }
      this.config = loaded.config
    }
    // Failover between nodes: a lost connection is retried on the same node once, then the
    // next URL of the list (ServerRotation); a session token another node does not know is
    // refused there and a fresh login follows on the same connection.
    this.rotation ??= new ServerRotation(this.config.jsonWebSocketUrls ?? [webSocketUrl(creds.origin, this.config.jsonWebSocketPath ?? '/json')])
    const url = this.rotation.current
    const connection: JsonConnection = new JsonConnection(url, {
      message: (m) => {
        if (generation === this.generation && connection === this.connection) this.onServerMessage(m, generation)
      },
      lost: () => {
        if (generation === this.generation && connection === this.connection) this.onLost()
      },
    }, this.options.createWebSocket, this.options)
    this.connection?.close()
    this.connection = connection
    this.challenge = undefined
    this.pending = undefined
    const opened = await connection.open()
    if (generation !== this.generation || connection !== this.connection) return
    if (!opened) {
      this.connection = undefined
      this.rotation?.failed()
      this.scheduleRetry('unreachable', UNREACHABLE_TEXT)
    }
    // The gateway speaks first (`challenge`).
  }

  private onServerMessage(m: ServerMessage, generation: number): void {
    switch (m.type) {
      case 'challenge':
        if (this.current.status !== 'registered' && this.pending === undefined) void this.authenticate(m, generation)
        return
      case 'session':
        if (this.pending !== undefined && m.id === this.pending.id) return this.onSession(m, this.pending.kind)
        return
      case 'error':
        if (this.pending !== undefined && m.id === this.pending.id) return this.onAuthError(m, generation)
        if (this.isRegistered) this.options.onMessage(m)
        return
      default:
        if (this.isRegistered) this.options.onMessage(m)
    }
  }

  private async authenticate(challenge: ServerMessageOf<'challenge'>, generation: number): Promise<void> {
    const creds = this.credentials
    if (!creds) return
    this.challenge = challenge
    const id = `r${++this.requestSeq}`
    if (this.token !== undefined) {
      this.pending = { id, kind: 'attach' }
      this.connection?.send({ type: 'attach', id, token: this.token })
      return
    }
    if (creds.password === '') {
      // A resumed session was refused and no password is known: back to the sign-in form.
      this.teardown(false)
      this.setState({ status: 'signed-out' })
      return
    }
    let proof: string
    try {
      proof = await loginProof(creds.user, challenge.realm, creds.password, challenge.nonce)
    } catch {
      if (generation === this.generation) this.fail('configuration', 'This browser cannot sign in here (WebCrypto needs HTTPS).')
      return
    }
    if (generation !== this.generation) return
    this.pending = { id, kind: 'login' }
    // trickle: this client applies trickled candidates (json-trickle.ts), so callers may trickle to it.
    this.connection?.send({ type: 'login', id, username: creds.user, proof, trickle: true })
  }

  private onAuthError(m: ServerMessageOf<'error'>, generation: number): void {
    const kind = this.pending?.kind
    this.pending = undefined
    if (kind === 'attach') {
      // The session is over (grace period passed, gateway restarted): a fresh login, same connection.
      this.forgetToken()
      this.options.onSessionGone()
      if (m.code === 'rate-limited') return this.fail('rejected', 'Too many failed sign-ins from this address. Try again later.')
      if (this.challenge) void this.authenticate(this.challenge, generation)
      return
    }
    if (m.code === 'auth-failed' && m.status === undefined) return this.fail('wrong-password', 'Wrong password.')
    if (m.code === 'auth-failed' && m.status !== undefined && m.status >= 500) {
      this.connection?.close()
      this.connection = undefined
      return this.scheduleRetry('server-error', `The server is not available (${m.status}).`, m.status)
    }
    if (m.code === 'rate-limited') return this.fail('rejected', 'Too many failed sign-ins from this address. Try again later.')
    this.fail('rejected', `Sign-in refused: ${m.message}`, m.status)
  }

  private onSession(m: ServerMessageOf<'session'>, how: 'login' | 'attach'): void {
    this.pending = undefined
    this.token = m.token
    const creds = this.credentials
    if (creds) {
      try {
        this.options.sessionStorage?.setItem(JSON_SESSION_KEY, JSON.stringify({ origin: creds.origin, user: creds.user, token: m.token } satisfies StoredJsonSession))
      } catch {
        // storage full or unavailable: no re-attach after a reload
      }
    }
    this.retry.attempt = 0
    this.retry.clear()
    this.rotation?.succeeded()
    this.setState({ status: 'registered', aor: m.aor, since: Date.now(), ...(m.displayName ? { displayName: m.displayName } : {}) })
    this.options.onSession(m, how)
  }

  private onLost(): void {
    this.connection = undefined
    this.pending = undefined
    if (!this.shouldBeRegistered) return
    // The gateway keeps the session for its grace period: the next connection attaches.
    this.scheduleRetry('unreachable', UNREACHABLE_TEXT)
  }

  private fail(reason: FailedReason, message: string, statusCode?: number): void {
    this.teardown(false)
    this.forgetToken()
    this.setState({ status: 'failed', reason, message, ...(statusCode !== undefined ? { statusCode } : {}) })
  }

  private forgetToken(): void {
    this.token = undefined
    try {
      this.options.sessionStorage?.removeItem(JSON_SESSION_KEY)
    } catch {
      // unavailable
    }
  }

  private scheduleRetry(reason: ReconnectReason, message: string, statusCode?: number): void {
    if (!this.shouldBeRegistered) return
    const generation = this.generation
    const retryAt = this.retry.next(() => {
      if (generation === this.generation) this.reconnectNow()
    })
    this.setState({
      status: 'reconnecting', reason, message, attempt: this.retry.attempt, retryAt,
      ...(statusCode !== undefined ? { statusCode } : {}),
    })
  }


  private setState(state: RegistrationState): void {
    this.current = state
    this.options.onState(state)
  }
}

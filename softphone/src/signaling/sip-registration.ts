/**
 * Registration over SIP over WebSocket (RFC 7118): the SIP.js UserAgent (the WebSocket
 * transport), REGISTER with a stable `+sip.instance`, and our own reconnection.
 *
 * Choices that avoid the known traps of browser SIP stacks (docs/architecture.md §5):
 * - CRLF keepalive on the WebSocket every ~25 s (RFC 5626 §4.4.1 double-CRLF ping), so that
 *   NATs and proxies keep the flow open.
 * - A stable `+sip.instance` (UUID kept in localStorage) with `reg-id=1` in the REGISTER
 *   Contact (RFC 5626 §4.2), so that a page reload replaces the previous binding instead of
 *   adding a stale one.
 * - Reconnection and re-registration are ours (exponential back-off, `online` event), not
 *   SIP.js's deprecated fixed-delay reconnection.
 * - Failover between gateway nodes (issue 14): the client-config's `sipWebSocketUrls` are
 *   tried in order (`ServerRotation`); SIP.js's transport has one server URL, so moving to
 *   another node means a new UserAgent there, which registers with the same `+sip.instance`
 *   and `reg-id` (the shared location service replaces the old node's binding). Calls on the
 *   lost node's WebSocket are lost with it.
 */
import {
  Registerer,
  RegistererState,
  URI,
  UserAgent,
  UserAgentState,
  type Core,
  type Invitation,
  type Message,
  type SessionDescriptionHandlerFactory,
  type UserAgentOptions,
} from 'sip.js'
import type { Credentials, RegistrationState } from './signaling-client.ts'
import { loadClientConfig, normaliseServer, webSocketUrl, type ClientConfig, type FetchLike } from './client-config.ts'
import { describeRegistrationFailure, UNREACHABLE_TEXT } from './failure-text.ts'
import { SIP_ICE_GATHERING_TIMEOUT_MS } from './ice-gathering-policy.ts'
import type { IceServerAccount } from './media-setup.ts'
import { ReconnectSchedule } from './reconnect-backoff.ts'
import { ServerRotation } from './server-rotation.ts'

/** Seconds between CRLF keepalives on the WebSocket (SIP.js picks 80–100 % of this). */
const KEEPALIVE_INTERVAL_S = 25
/** Registration lifetime we ask for (the registrar may shorten it). */
const REGISTER_EXPIRES_S = 600

type ReconnectReason = Extract<RegistrationState, { status: 'reconnecting' }>['reason']

export interface SipRegistrationOptions {
  /** Persistent UUID for `+sip.instance` (RFC 5626 §4.1). */
  readonly instanceId: string
  /** The page's origin, used when the user leaves the server empty. */
  readonly pageOrigin: string
  readonly fetch: FetchLike
  /** `window`, to reconnect on the `online` event. */
  readonly networkEvents?: EventTarget
  /** SIP.js log level; `debug` also traces SIP messages. */
  readonly logLevel?: 'debug' | 'log' | 'warn' | 'error'
  readonly userAgentString?: string
  /** Jitter source for the back-off, a number in [0, 1); Math.random unless a test fixes it. */
  readonly random?: () => number
  /** From display name for the UserAgent; read when it is created. */
  readonly displayName: () => string | undefined
  /** Handlers for the INVITE sessions of every UserAgent this creates. */
  readonly sessionDescriptionHandlerFactory: SessionDescriptionHandlerFactory
  /** Peer connection configuration given to SIP.js with the factory options. */
  readonly rtcConfiguration: () => RTCConfiguration
  /** Every registration state change, in order. */
  readonly onState: (state: RegistrationState) => void
  /** The server address is valid: the sign-in goes ahead with these credentials. */
  readonly onSignIn?: (credentials: Credentials) => void
  /** The registrar accepted the binding after not being registered (the password is right). */
  readonly onRegistered?: () => void
  /** An out-of-dialog INVITE for the current UserAgent (the answer is up to the callee). */
  readonly onInvite: (invitation: Invitation) => void
  /** An out-of-dialog MESSAGE for the current UserAgent (RFC 3428); accepted 200 when absent. */
  readonly onMessage?: (message: Message) => void
  /** On sign-in again or sign-out, before the UserAgent stops: end the calls (BYE/CANCEL still go out). */
  readonly beforeDisconnect: () => Promise<void>
}

/**
 * Keeps one account registered (REGISTER, RFC 3261 §10) until `unregister()`: loads the
 * client-config, creates the UserAgent, registers, refreshes, and after a transport loss or
 * a transient failure retries with a growing, jittered back-off (`reconnectDelayMs`, RFC 5626
 * §4.5). Permanent failures (wrong password, unknown user) end in `failed` with no retry.
 * States go out through `onState`; nothing here throws.
 */
export class SipRegistration {
  private current: RegistrationState = { status: 'signed-out' }
  private ua: UserAgent | undefined
  /** The WebSocket URL `ua` connects to. */
  private uaUrl: string | undefined
  /** The nodes' WebSocket URLs in failover order, once the client-config is loaded. */
  private rotation: ServerRotation | undefined
  private registerer: Registerer | undefined
  private credentials: (Credentials & { origin: string }) | undefined
  private config: ClientConfig | undefined
  private shouldBeRegistered = false
  private readonly retry = new ReconnectSchedule(() => (this.options.random ?? Math.random)())
  private registerInFlight = false
  /** Bumped on every sign-in/out so that late callbacks of an old UserAgent are ignored. */
  private generation = 0
  private readonly onOnline = (): void => {
    if (this.shouldBeRegistered && this.current.status === 'reconnecting') this.retryNow()
  }

  constructor(private readonly options: SipRegistrationOptions) {
    options.networkEvents?.addEventListener('online', this.onOnline)
  }

  get state(): RegistrationState {
    return this.current
  }

  /** The UserAgent while signed in (it may be disconnected); undefined when signed out. */
  get userAgent(): UserAgent | undefined {
    return this.ua
  }

  /** The WebSocket URL of the current (or next) connection; undefined before the client-config. */
  get serverUrl(): string | undefined {
    return this.rotation?.current
  }

  get isRegistered(): boolean {
    return this.current.status === 'registered'
  }

  /** The SIP domain from the client-config (host part of our AOR), once loaded. */
  get domain(): string | undefined {
    return this.config?.domain
  }

  /** The account for the ICE servers endpoint, once the client-config is loaded. */
  get iceServerAccount(): IceServerAccount | undefined {
    const creds = this.credentials
    const config = this.config
    if (!creds || !config) return undefined
    return { origin: creds.origin, path: config.iceServersPath, user: creds.user, password: creds.password }
  }

  /** Signs out of any previous account, then connects and registers with `credentials`. */
  async register(credentials: Credentials): Promise<void> {
    await this.teardown()
    const generation = ++this.generation
    const origin = normaliseServer(credentials.server, this.options.pageOrigin)
    if (!origin) {
      this.setState({ status: 'failed', reason: 'configuration', message: 'The server address is not valid.' })
      return
    }
    this.credentials = { ...credentials, origin }
    this.options.onSignIn?.(credentials)
    this.shouldBeRegistered = true
    this.retry.attempt = 0
    this.setState({ status: 'connecting', attempt: 0 })
    await this.connect(generation)
  }

  /** Unregisters (Expires: 0, at most 2 s), stops the UserAgent and goes `signed-out`. */
  async unregister(): Promise<void> {
    this.shouldBeRegistered = false
    this.generation++
    await this.teardown()
    this.setState({ status: 'signed-out' })
  }

  /** While waiting to reconnect: try again now. */
  reconnectNow(): void {
    if (this.shouldBeRegistered && this.current.status === 'reconnecting') this.retryNow()
  }

  /** Stops listening for `online`; call `unregister()` as well. */
  dispose(): void {
    this.options.networkEvents?.removeEventListener('online', this.onOnline)
  }

  private async connect(generation: number): Promise<void> {
    const creds = this.credentials
    if (!creds) return
    if (!this.config) {
      const loaded = await loadClientConfig(creds.origin, this.options.fetch)
      if (generation !== this.generation) return
      if (!loaded.ok) {
        if (loaded.kind === 'unreachable') this.scheduleRetry('unreachable', loaded.message)
        else this.setState({ status: 'failed', reason: 'configuration', message: loaded.message })
        return
      }
      this.config = loaded.config
    }
    const config = this.config
    this.rotation ??= new ServerRotation(config.sipWebSocketUrls ?? [webSocketUrl(creds.origin, config.sipWebSocketPath)])
    const url = this.rotation.current
    if (this.ua && this.uaUrl !== url) this.dropUserAgent()
    if (!this.ua) {
      this.ua = this.createUserAgent(creds, config, url, generation)
      this.uaUrl = url
    }
    const ua = this.ua
    try {
      if (ua.state === UserAgentState.Started) await ua.reconnect()
      else await ua.start()
      // onConnect sends the REGISTER.
    } catch {
      if (generation !== this.generation || ua !== this.ua) return
      this.connectFailed()
    }
  }

  /** A connection attempt to the current node failed: maybe move to the next, then back off. */
  private connectFailed(): void {
    this.rotation?.failed()
    this.scheduleRetry('unreachable', UNREACHABLE_TEXT)
  }

  /**
   * Forgets the UserAgent of a node we are leaving and stops it in the background (its
   * WebSocket is gone already; its calls end with it). Its late callbacks are ignored.
   */
  private dropUserAgent(): void {
    const old = this.ua
    this.ua = undefined
    this.uaUrl = undefined
    if (this.registerer) void this.registerer.dispose().catch(() => undefined)
    this.registerer = undefined
    this.registerInFlight = false
    if (old && old.state !== UserAgentState.Stopped) void old.stop().catch(() => undefined)
  }

  private createUserAgent(creds: Credentials & { origin: string }, config: ClientConfig, server: string, generation: number): UserAgent {
    // Callbacks of a UserAgent we have since dropped (another node, or signed out) are ignored.
    const isCurrent = (): boolean => generation === this.generation && this.ua === ua
    const uri = new URI('sip', creds.user, config.domain)
    const logLevel = this.options.logLevel ?? 'warn'
    const options: UserAgentOptions = {
      uri,
      authorizationUsername: creds.user,
      authorizationPassword: creds.password,
      displayName: this.options.displayName() ?? '',
      // RFC 5626 §4.1: "+sip.instance" — the same UUID across page reloads, so that the
      // registrar replaces this device's binding (reg-id=1 is added by the Registerer).
      instanceId: this.options.instanceId,
      instanceIdAlwaysAdded: false,
      contactParams: { transport: 'ws' },
      // "outbound" is announced by SIP.js itself; nothing more to add.
      sipExtensionExtraSupported: [],
      userAgentString: this.options.userAgentString ?? 'Patchbay Softphone (SIP.js 0.21)',
      logLevel,
      logBuiltinEnabled: true,
      logConfiguration: false,
      // We reconnect ourselves (back-off + `online` event).
      reconnectionAttempts: 0,
      transportOptions: {
        server,
        connectionTimeout: 5,
        keepAliveInterval: KEEPALIVE_INTERVAL_S,
        traceSip: logLevel === 'debug',
      },
      sessionDescriptionHandlerFactory: this.options.sessionDescriptionHandlerFactory,
      sessionDescriptionHandlerFactoryOptions: {
        iceGatheringTimeout: SIP_ICE_GATHERING_TIMEOUT_MS,
        peerConnectionConfiguration: this.options.rtcConfiguration(),
      },
      delegate: {
        onConnect: () => {
          if (!isCurrent()) return
          this.sendRegister(generation)
        },
        onDisconnect: (error?: Error) => {
          if (!isCurrent()) return
          this.onTransportLost(error)
        },
        onInvite: (invitation) => {
          if (!isCurrent()) {
            void invitation.reject({ statusCode: 480 })
            return
          }
          this.options.onInvite(invitation)
        },
        onMessage: (message) => {
          if (!isCurrent()) {
            void message.reject({ statusCode: 480 }).catch(() => undefined)
            return
          }
          if (this.options.onMessage) this.options.onMessage(message)
          else void message.accept().catch(() => undefined)
        },
      },
    }
    const ua = new UserAgent(options)
    return ua
  }

  private sendRegister(generation: number): void {
    const ua = this.ua
    if (!ua || !this.shouldBeRegistered || this.registerInFlight) return
    if (!this.registerer) {
      // regId 1 with the UA's instanceId -> Contact: <...>;reg-id=1;+sip.instance="<urn:uuid:...>"
      const registerer = new Registerer(ua, { regId: 1, expires: REGISTER_EXPIRES_S, refreshFrequency: 90, logConfiguration: false })
      registerer.stateChange.addListener((registererState) => {
        if (generation !== this.generation || registerer !== this.registerer) return
        if (registererState === RegistererState.Registered) {
          this.markRegistered()
        } else if (registererState === RegistererState.Unregistered && this.shouldBeRegistered && !this.registerInFlight) {
          // A refresh failed or the binding expired: try again with back-off.
          if (this.current.status === 'registered') this.scheduleRetry('server-error', 'Registration lost.')
        }
      })
      this.registerer = registerer
    }
    if (this.current.status !== 'registered') this.setState({ status: 'connecting', attempt: this.retry.attempt })
    this.registerInFlight = true
    const registerer = this.registerer
    // A REGISTER sent on a WebSocket that has since closed is not cancelled by SIP.js: its
    // client transaction ends with Timer F (64*T1 = 32 s, RFC 3261 §17.1.2.2) as a 408, long
    // after we reconnected and registered again with a new Registerer. Such late answers
    // belong to a dropped registerer and must not touch the current state.
    const current = (): boolean => generation === this.generation && registerer === this.registerer
    registerer.register({
      requestDelegate: {
        onAccept: () => {
          if (!current()) return
          this.registerInFlight = false
          // A re-REGISTER of a Registerer that is already Registered (e.g. a retry after a
          // failed refresh) fires no stateChange: show "registered" from the 200 itself.
          if (registerer.state === RegistererState.Registered && this.current.status !== 'registered') this.markRegistered()
        },
        onReject: (response: Core.IncomingResponse) => {
          if (!current()) return
          this.registerInFlight = false
          const code = response.message.statusCode ?? 0
          const failure = describeRegistrationFailure(code)
          this.retry.clear()
          if (failure.permanent) {
            this.shouldBeRegistered = false
            this.setState({ status: 'failed', reason: failure.reason, message: failure.message, statusCode: code })
            void this.ua?.stop().catch(() => undefined)
          } else if (code === 503 && !ua.isConnected()) {
            // SIP.js turns transport errors into an internal 503.
            this.connectFailed()
          } else {
            this.scheduleRetry(failure.reason, failure.message, code)
          }
        },
      },
    }).catch(() => {
      if (!current()) return
      this.registerInFlight = false
      this.scheduleRetry('server-error', 'Could not send the registration.')
    })
  }

  /** The registrar accepted our binding (first time, after a reconnect, or a re-REGISTER). */
  private markRegistered(): void {
    // The ICE servers (TURN credentials) once the password is known to be right.
    if (this.current.status !== 'registered') this.options.onRegistered?.()
    this.retry.attempt = 0
    this.retry.clear()
    this.rotation?.succeeded()
    this.setState({ status: 'registered', aor: `sip:${this.credentials?.user}@${this.config?.domain}`, since: Date.now() })
  }

  private onTransportLost(error?: Error): void {
    this.registerInFlight = false
    if (this.registerer) {
      const old = this.registerer
      this.registerer = undefined
      void old.dispose().catch(() => undefined)
    }
    if (!this.shouldBeRegistered) return
    if (error || this.current.status === 'registered' || this.current.status === 'connecting') {
      this.scheduleRetry('unreachable', UNREACHABLE_TEXT)
    }
  }

  private scheduleRetry(reason: ReconnectReason, message: string, statusCode?: number): void {
    if (!this.shouldBeRegistered) return
    const generation = this.generation
    const retryAt = this.retry.next(() => {
      if (generation === this.generation) this.retryNow()
    })
    this.setState({
      status: 'reconnecting', reason, message, attempt: this.retry.attempt, retryAt,
      ...(statusCode !== undefined ? { statusCode } : {}),
    })
  }

  private retryNow(): void {
    this.retry.clear()
    const generation = this.generation
    if (this.ua?.isConnected()) {
      this.sendRegister(generation)
    } else {
      this.setState({ status: 'connecting', attempt: this.retry.attempt })
      void this.connect(generation)
    }
  }


  private async teardown(): Promise<void> {
    this.retry.clear()
    await this.options.beforeDisconnect()
    const ua = this.ua
    const registerer = this.registerer
    this.ua = undefined
    this.uaUrl = undefined
    this.rotation = undefined
    this.registerer = undefined
    this.config = undefined
    this.registerInFlight = false
    if (registerer && ua?.isConnected() && registerer.state === RegistererState.Registered) {
      await Promise.race([
        new Promise<void>((resolve) => {
          registerer.unregister({ requestDelegate: { onAccept: () => resolve(), onReject: () => resolve() } }).catch(() => resolve())
        }),
        new Promise<void>((resolve) => setTimeout(resolve, 2000)),
      ])
    }
    if (ua && ua.state !== UserAgentState.Stopped) await ua.stop().catch(() => undefined)
  }

  private setState(state: RegistrationState): void {
    this.current = state
    this.options.onState(state)
  }
}

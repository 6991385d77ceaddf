/**
 * `SignalingClient` over SIP: SIP over WebSocket (RFC 7118) through SIP.js 0.21. The only
 * file of the softphone that imports sip.js.
 *
 * Choices that avoid the known traps of browser SIP stacks (design.md §8):
 * - CRLF keepalive on the WebSocket every ~25 s (RFC 5626 §4.4.1 double-CRLF ping), so that
 *   NATs and proxies keep the flow open.
 * - ICE gathering ends as soon as the candidate set is usable (`IceGatheringPolicy`) and at the
 *   latest after 500 ms, not SIP.js's 5 s default.
 * - A stable `+sip.instance` (UUID kept in localStorage) with `reg-id=1` in the REGISTER
 *   Contact (RFC 5626 §4.2), so that a page reload replaces the previous binding instead of
 *   adding a stale one.
 * - `bundlePolicy: 'max-bundle'` and `rtcpMuxPolicy: 'require'`.
 * - DTMF goes out as RFC 4733 telephone-events through the audio sender's RTCDTMFSender,
 *   never as SIP INFO (SIP.js's SessionManager default).
 * - Reconnection and re-registration are ours (exponential back-off, `online` event), not
 *   SIP.js's deprecated fixed-delay reconnection.
 *
 * Decline sends 603 Decline: RFC 3261 §21.6.2 "the callee's machine was successfully
 * contacted but the user explicitly does not wish to or cannot participate". As a 6xx it
 * also stops the user's other devices from ringing (§16.7 step 5: "If a 6xx response is
 * received, ... the proxy SHOULD cancel all client pending transactions"), and the caller
 * can say "declined" rather than "busy". 486 Busy Here is sent only automatically, when a
 * call arrives while two calls are already in progress.
 */
import {
  Invitation,
  Inviter,
  Registerer,
  RegistererState,
  RequestPendingError,
  SessionState,
  URI,
  UserAgent,
  UserAgentState,
  Web,
  type Bye,
  type Cancel,
  type Core,
  type Info,
  type InviterOptions,
  type Notification,
  type Referral,
  type Session,
  type SessionDescriptionHandlerFactory,
  type UserAgentOptions,
} from 'sip.js'
import type {
  ActionResult,
  CallEnd,
  CallSnapshot,
  CallStartResult,
  Credentials,
  RegistrationState,
  SignalingClient,
  SignalingEvents,
  SignalingPreferences,
  Unsubscribe,
} from './signaling-client.ts'
import {
  fetchIceServers,
  hasTurnServer,
  loadClientConfig,
  normaliseServer,
  webSocketUrl,
  type ClientConfig,
  type FetchLike,
  type IceServerList,
} from './client-config.ts'
import { parseDialTarget } from './dial-target.ts'
import { describeCallFailure, describeRegistrationFailure, UNREACHABLE_TEXT } from './failure-text.ts'
import {
  candidateTypeOf,
  ICE_SETTLE_MS,
  IceGatheringPolicy,
  SIP_ICE_GATHERING_TIMEOUT_MS,
} from './ice-gathering-policy.ts'
import { reconnectDelayMs } from './reconnect-backoff.ts'
import { TypedEmitter } from '../util/emitter.ts'

/** Seconds between CRLF keepalives on the WebSocket (SIP.js picks 80–100 % of this). */
const KEEPALIVE_INTERVAL_S = 25
/** Registration lifetime we ask for (the registrar may shorten it). */
const REGISTER_EXPIRES_S = 600
/** DTMF tone length and gap (ms): long enough for IVRs behind transcoding gateways (ITU-T Q.24 asks for at least 40 ms). */
const DTMF_DURATION_MS = 160
const DTMF_GAP_MS = 80
/** At most this many calls at once (one active, one waiting/on hold); more get 486. */
const MAX_CALLS = 2

export interface SipSignalingClientOptions {
  /** Persistent UUID for `+sip.instance` (RFC 5626 §4.1). */
  readonly instanceId: string
  /** The page's origin, used when the user leaves the server empty. */
  readonly pageOrigin: string
  readonly fetch?: FetchLike
  /** For tests and device selection; defaults to navigator.mediaDevices.getUserMedia. */
  readonly getUserMedia?: (constraints: MediaStreamConstraints) => Promise<MediaStream>
  /** `window`, to reconnect on the `online` event. */
  readonly networkEvents?: EventTarget
  /** SIP.js log level; `debug` also traces SIP messages. */
  readonly logLevel?: 'debug' | 'log' | 'warn' | 'error'
  readonly userAgentString?: string
  readonly preferences?: Partial<SignalingPreferences>
}

interface CallEntry {
  snapshot: CallSnapshot
  session: Session
  /** Microphone stream acquired before the INVITE / before answering. */
  microphone?: MediaStream
  /** Set when we ended (or are ending) the call ourselves. */
  localEnd?: CallEnd
  /** Set from a non-2xx final response or a CANCEL. */
  remoteEnd?: CallEnd
  /** The far end transferred us away (REFER received and followed). */
  transferredTo?: string
}

/** Our SessionDescriptionHandler: stops waiting for ICE candidates once the set is usable. */
class PatchbaySessionDescriptionHandler extends Web.SessionDescriptionHandler {
  private readonly policy: IceGatheringPolicy
  private settleTimer: ReturnType<typeof setTimeout> | undefined

  constructor(
    logger: ConstructorParameters<typeof Web.SessionDescriptionHandler>[0],
    mediaStreamFactory: Web.MediaStreamFactory,
    configuration: Web.SessionDescriptionHandlerConfiguration,
  ) {
    super(logger, mediaStreamFactory, configuration)
    this.policy = IceGatheringPolicy.fromConfiguration(configuration.peerConnectionConfiguration ?? {})
    this.peerConnection?.addEventListener('icecandidate', (event) => {
      if (event.candidate && this.policy.add(candidateTypeOf(event.candidate))) this.endGatheringSoon()
    })
  }

  protected override waitForIceGatheringComplete(restart = false, timeout = 0): Promise<void> {
    const waiting = super.waitForIceGatheringComplete(restart, timeout)
    if (!restart && this.policy.usable) this.endGatheringSoon()
    return waiting
  }

  /** Swaps the microphone (device change) on the sender and in localMediaStream. */
  replaceLocalStream(stream: MediaStream): Promise<void> {
    return this.setLocalMediaStream(stream)
  }

  override close(): void {
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer)
    super.close()
  }

  private endGatheringSoon(): void {
    if (this.settleTimer !== undefined) return
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined
      // "May be called prior to ICE gathering actually completing to allow the session
      // description handler proceed with whatever candidates have been gathered" (SIP.js).
      this.iceGatheringComplete()
    }, ICE_SETTLE_MS)
  }
}

function isSdpWithHold(sdp: string | undefined): boolean {
  if (!sdp) return false
  // RFC 3264 §8.4: hold is an offer with a=sendonly (or a=inactive if we were recvonly).
  return /^a=(sendonly|inactive)\r?$/m.test(sdp) && !/^a=sendrecv\r?$/m.test(sdp)
}

function mediaErrorResult(error: unknown): Extract<CallStartResult, { ok: false }> {
  const name = (error as { name?: string } | undefined)?.name
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return { ok: false, reason: 'media-denied', message: 'Microphone access is blocked. Allow it in the browser (address bar), then try again.' }
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') {
    return { ok: false, reason: 'no-microphone', message: 'No microphone found. Plug one in or pick another in Settings.' }
  }
  if (name === 'NotReadableError') {
    return { ok: false, reason: 'no-microphone', message: 'The microphone is in use by another application.' }
  }
  return { ok: false, reason: 'failed', message: `Could not start the microphone: ${(error as Error)?.message ?? error}` }
}

export class SipSignalingClient implements SignalingClient {
  private readonly emitter = new TypedEmitter<SignalingEvents>()
  private readonly fetchFn: FetchLike
  private readonly getUserMediaFn: (constraints: MediaStreamConstraints) => Promise<MediaStream>
  private preferences: SignalingPreferences
  private state: RegistrationState = { status: 'signed-out' }
  private readonly entries = new Map<string, CallEntry>()

  private ua: UserAgent | undefined
  private registerer: Registerer | undefined
  private credentials: (Credentials & { origin: string }) | undefined
  private config: ClientConfig | undefined
  private iceList: (IceServerList & { fetchedAt: number }) | undefined
  private shouldBeRegistered = false
  private attempt = 0
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private registerInFlight = false
  /** Bumped on every sign-in/out so that late callbacks of an old UserAgent are ignored. */
  private generation = 0
  private readonly onOnline = (): void => {
    if (this.shouldBeRegistered && this.state.status === 'reconnecting') this.retryNow()
  }

  constructor(private readonly options: SipSignalingClientOptions) {
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init))
    this.getUserMediaFn = options.getUserMedia
      ?? ((constraints) => navigator.mediaDevices.getUserMedia(constraints))
    this.preferences = { forceRelay: false, ...options.preferences }
    options.networkEvents?.addEventListener('online', this.onOnline)
  }

  get registration(): RegistrationState {
    return this.state
  }

  get calls(): readonly CallSnapshot[] {
    return [...this.entries.values()].map((e) => e.snapshot).filter((s) => s.state !== 'ended')
  }

  on<K extends keyof SignalingEvents>(type: K, listener: (event: SignalingEvents[K]) => void): Unsubscribe {
    return this.emitter.on(type, listener)
  }

  // ---------------------------------------------------------------------------------------
  // Registration

  async register(credentials: Credentials): Promise<void> {
    await this.teardown()
    const generation = ++this.generation
    const origin = normaliseServer(credentials.server, this.options.pageOrigin)
    if (!origin) {
      this.setState({ status: 'failed', reason: 'configuration', message: 'The server address is not valid.' })
      return
    }
    this.credentials = { ...credentials, origin }
    if (credentials.displayName !== undefined) {
      this.preferences = { ...this.preferences, displayName: credentials.displayName }
    }
    this.shouldBeRegistered = true
    this.attempt = 0
    this.setState({ status: 'connecting', attempt: 0 })
    await this.connect(generation)
  }

  async unregister(): Promise<void> {
    this.shouldBeRegistered = false
    this.generation++
    await this.teardown()
    this.setState({ status: 'signed-out' })
  }

  async updatePreferences(preferences: Partial<SignalingPreferences>): Promise<void> {
    const previousInput = this.preferences.inputDeviceId
    this.preferences = { ...this.preferences, ...preferences }
    if ('inputDeviceId' in preferences && preferences.inputDeviceId !== previousInput) {
      await this.switchMicrophone()
    }
  }

  reconnectNow(): void {
    if (this.shouldBeRegistered && this.state.status === 'reconnecting') this.retryNow()
  }

  private async connect(generation: number): Promise<void> {
    const creds = this.credentials
    if (!creds) return
    if (!this.config) {
      const loaded = await loadClientConfig(creds.origin, this.fetchFn)
      if (generation !== this.generation) return
      if (!loaded.ok) {
        if (loaded.kind === 'unreachable') this.scheduleRetry('unreachable', loaded.message)
        else this.setState({ status: 'failed', reason: 'configuration', message: loaded.message })
        return
      }
      this.config = loaded.config
    }
    if (!this.ua) this.ua = this.createUserAgent(creds, this.config, generation)
    try {
      if (this.ua.state === UserAgentState.Started) await this.ua.reconnect()
      else await this.ua.start()
      // onConnect sends the REGISTER.
    } catch {
      if (generation !== this.generation) return
      this.scheduleRetry('unreachable', UNREACHABLE_TEXT)
    }
  }

  private createUserAgent(creds: Credentials & { origin: string }, config: ClientConfig, generation: number): UserAgent {
    const uri = new URI('sip', creds.user, config.domain)
    const logLevel = this.options.logLevel ?? 'warn'
    const options: UserAgentOptions = {
      uri,
      authorizationUsername: creds.user,
      authorizationPassword: creds.password,
      displayName: this.preferences.displayName ?? '',
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
        server: webSocketUrl(creds.origin, config.sipWebSocketPath),
        connectionTimeout: 5,
        keepAliveInterval: KEEPALIVE_INTERVAL_S,
        traceSip: logLevel === 'debug',
      },
      sessionDescriptionHandlerFactory: this.sessionDescriptionHandlerFactory(),
      sessionDescriptionHandlerFactoryOptions: {
        iceGatheringTimeout: SIP_ICE_GATHERING_TIMEOUT_MS,
        peerConnectionConfiguration: this.rtcConfiguration(),
      },
      delegate: {
        onConnect: () => {
          if (generation !== this.generation) return
          this.sendRegister(generation)
        },
        onDisconnect: (error?: Error) => {
          if (generation !== this.generation) return
          this.onTransportLost(error)
        },
        onInvite: (invitation) => {
          if (generation !== this.generation) {
            void invitation.reject({ statusCode: 480 })
            return
          }
          this.onIncomingInvite(invitation)
        },
      },
    }
    return new UserAgent(options)
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
          if (this.state.status === 'registered') this.scheduleRetry('server-error', 'Registration lost.')
        }
      })
      this.registerer = registerer
    }
    if (this.state.status !== 'registered') this.setState({ status: 'connecting', attempt: this.attempt })
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
          if (registerer.state === RegistererState.Registered && this.state.status !== 'registered') this.markRegistered()
        },
        onReject: (response: Core.IncomingResponse) => {
          if (!current()) return
          this.registerInFlight = false
          const code = response.message.statusCode ?? 0
          const failure = describeRegistrationFailure(code)
          this.clearRetry()
          if (failure.permanent) {
            this.shouldBeRegistered = false
            this.setState({ status: 'failed', reason: failure.reason, message: failure.message, statusCode: code })
            void this.ua?.stop().catch(() => undefined)
          } else if (code === 503 && !ua.isConnected()) {
            // SIP.js turns transport errors into an internal 503.
            this.scheduleRetry('unreachable', UNREACHABLE_TEXT)
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
    if (this.state.status !== 'registered') void this.refreshIceServers()
    this.attempt = 0
    this.clearRetry()
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
    if (error || this.state.status === 'registered' || this.state.status === 'connecting') {
      this.scheduleRetry('unreachable', UNREACHABLE_TEXT)
    }
  }

  private scheduleRetry(reason: Extract<RegistrationState, { status: 'reconnecting' }>['reason'], message: string, statusCode?: number): void {
    if (!this.shouldBeRegistered) return
    this.clearRetry()
    this.attempt += 1
    const delay = reconnectDelayMs(this.attempt, Math.random())
    this.setState({
      status: 'reconnecting', reason, message, attempt: this.attempt, retryAt: Date.now() + delay,
      ...(statusCode !== undefined ? { statusCode } : {}),
    })
    const generation = this.generation
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      if (generation === this.generation) this.retryNow()
    }, delay)
  }

  private retryNow(): void {
    this.clearRetry()
    const generation = this.generation
    if (this.ua?.isConnected()) {
      this.sendRegister(generation)
    } else {
      this.setState({ status: 'connecting', attempt: this.attempt })
      void this.connect(generation)
    }
  }

  private clearRetry(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.retryTimer = undefined
  }

  private async teardown(): Promise<void> {
    this.clearRetry()
    for (const entry of this.entries.values()) {
      if (entry.snapshot.state !== 'ended') await this.hangup(entry.snapshot.id)
    }
    const ua = this.ua
    const registerer = this.registerer
    this.ua = undefined
    this.registerer = undefined
    this.config = undefined
    this.iceList = undefined
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
    this.state = state
    this.emitter.emit('registration', state)
  }

  // ---------------------------------------------------------------------------------------
  // Media configuration

  private rtcConfiguration(): RTCConfiguration {
    return {
      iceServers: this.iceList?.iceServers ?? [],
      iceTransportPolicy: this.preferences.forceRelay ? 'relay' : 'all',
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
      iceCandidatePoolSize: 0,
    }
  }

  /** Fetches the ICE servers (TURN REST credentials); on failure keeps an unexpired list or uses none. */
  private async refreshIceServers(): Promise<void> {
    const creds = this.credentials
    const config = this.config
    if (!creds || !config) return
    const result = await fetchIceServers(creds.origin, config.iceServersPath, creds.user, creds.password, this.fetchFn)
    if (result.ok) {
      this.iceList = { ...result.list, fetchedAt: Date.now() }
    } else if (this.iceList && Date.now() - this.iceList.fetchedAt > this.iceList.ttlSeconds * 1000) {
      this.iceList = undefined
    }
  }

  private audioConstraints(): MediaTrackConstraints | boolean {
    const id = this.preferences.inputDeviceId
    const base: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true }
    return id ? { ...base, deviceId: { exact: id } } : base
  }

  private sessionDescriptionHandlerFactory(): SessionDescriptionHandlerFactory {
    return (session, factoryOptions?: { iceGatheringTimeout?: number }) => {
      const logger = session.userAgent.getLogger('sip.SessionDescriptionHandler')
      const mediaStreamFactory: Web.MediaStreamFactory = (constraints) => {
        const entry = this.entries.get(session.id)
        const ready = entry?.microphone
        if (ready && ready.getAudioTracks().some((t) => t.readyState === 'live')) return Promise.resolve(ready)
        if (!constraints.audio && !constraints.video) return Promise.resolve(new MediaStream())
        return this.getUserMediaFn({ audio: this.audioConstraints(), video: false })
      }
      const sdh = new PatchbaySessionDescriptionHandler(logger, mediaStreamFactory, {
        iceGatheringTimeout: factoryOptions?.iceGatheringTimeout ?? SIP_ICE_GATHERING_TIMEOUT_MS,
        peerConnectionConfiguration: this.rtcConfiguration(),
      })
      sdh.peerConnection?.addEventListener('track', () => {
        this.emitter.emit('remote-media', { callId: session.id, stream: sdh.remoteMediaStream })
      })
      return sdh
    }
  }

  private async acquireMicrophone(): Promise<{ ok: true; stream: MediaStream } | Extract<CallStartResult, { ok: false }>> {
    try {
      const stream = await this.getUserMediaFn({ audio: this.audioConstraints(), video: false })
      return { ok: true, stream }
    } catch (error) {
      return mediaErrorResult(error)
    }
  }

  /** Gets fresh ICE servers and checks the relay-only preference against them. */
  private async prepareIce(): Promise<{ ok: true } | Extract<CallStartResult, { ok: false }>> {
    await this.refreshIceServers()
    if (this.preferences.forceRelay && !hasTurnServer(this.iceList?.iceServers ?? [])) {
      return {
        ok: false,
        reason: 'relay-unavailable',
        message: '“Force relay” is on, but the server offers no TURN relay. Turn it off in Settings or ask your administrator.',
      }
    }
    return { ok: true }
  }

  private async switchMicrophone(): Promise<void> {
    for (const entry of this.entries.values()) {
      const sdh = entry.session.sessionDescriptionHandler
      if (entry.snapshot.state === 'ended' || !(sdh instanceof PatchbaySessionDescriptionHandler)) continue
      const got = await this.acquireMicrophone()
      if (!got.ok) continue
      for (const track of got.stream.getAudioTracks()) track.enabled = !entry.snapshot.muted && !entry.snapshot.onHold
      await sdh.replaceLocalStream(got.stream).catch(() => undefined)
      entry.microphone = got.stream
    }
  }

  // ---------------------------------------------------------------------------------------
  // Calls

  async call(target: string): Promise<CallStartResult> {
    const ua = this.ua
    if (!ua || this.state.status !== 'registered' || !this.config) {
      return { ok: false, reason: 'not-registered', message: 'You are offline. Wait until the status shows “Registered”.' }
    }
    const parsed = parseDialTarget(target, this.config.domain)
    if (!parsed.ok) return { ok: false, reason: 'invalid-target', message: parsed.message }
    const uri = UserAgent.makeURI(parsed.uri)
    if (!uri) return { ok: false, reason: 'invalid-target', message: `“${target}” is not a valid address.` }
    if (this.calls.length >= MAX_CALLS) {
      return { ok: false, reason: 'failed', message: 'Hang up one of your calls first.' }
    }
    return this.startOutgoing((options) => new Inviter(ua, uri, options), { user: parsed.user, uri: parsed.uri, displayName: '' })
  }

  private async startOutgoing(
    makeInviter: (options: InviterOptions) => Inviter,
    remote: CallSnapshot['remote'],
    referredBy?: string,
  ): Promise<CallStartResult> {
    const ice = await this.prepareIce()
    if (!ice.ok) return ice
    const mic = await this.acquireMicrophone()
    if (!mic.ok) return mic
    // Hold the current call before a new one starts (e.g. a call made while another is up).
    for (const other of this.entries.values()) {
      if (other.snapshot.state === 'connected' && !other.snapshot.onHold) await this.hold(other.snapshot.id)
    }
    const displayName = this.preferences.displayName
    const inviter = makeInviter({
      earlyMedia: true,
      ...(displayName ? { params: { fromDisplayName: displayName } } : {}),
      sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } },
      sessionDescriptionHandlerOptionsReInvite: {},
    })
    const entry: CallEntry = {
      session: inviter,
      microphone: mic.stream,
      snapshot: {
        id: inviter.id,
        direction: 'outgoing',
        remote,
        state: 'dialing',
        muted: false,
        onHold: false,
        remoteHold: false,
        createdAt: Date.now(),
        dtmfSent: '',
        ...(referredBy !== undefined ? { referredBy } : {}),
      },
    }
    this.entries.set(inviter.id, entry)
    this.watchSession(entry)
    this.emitter.emit('call', entry.snapshot)
    inviter.invite({
      requestDelegate: {
        onProgress: (response) => {
          const code = response.message.statusCode ?? 0
          const hasSdp = Boolean(response.message.body) && /application\/sdp/i.test(response.message.getHeader('content-type') ?? '')
          if (entry.snapshot.state === 'connected' || entry.snapshot.state === 'ended') return
          if (hasSdp) this.update(entry, { state: 'early-media', ringingAt: entry.snapshot.ringingAt ?? Date.now() })
          else if (code === 180 && entry.snapshot.state !== 'early-media') this.update(entry, { state: 'ringing', ringingAt: entry.snapshot.ringingAt ?? Date.now() })
        },
        onReject: (response) => {
          const code = response.message.statusCode ?? 0
          if (code === 487 && entry.localEnd) return
          entry.remoteEnd = describeCallFailure(code, remote.displayName || remote.user)
        },
        onRedirect: (response) => {
          entry.remoteEnd = { reason: 'failed', statusCode: response.message.statusCode ?? 0, message: 'The call was redirected; redirection is not supported.' }
        },
      },
    }).catch((error: unknown) => {
      entry.remoteEnd ??= { reason: 'failed', message: `The call could not start: ${(error as Error).message}` }
    })
    return { ok: true, callId: inviter.id }
  }

  private onIncomingInvite(invitation: Invitation): void {
    if (this.calls.length >= MAX_CALLS) {
      // RFC 3261 §21.4.24 486 Busy Here: "the callee's end system was contacted successfully,
      // but the callee is currently not willing or able to take additional calls".
      void invitation.reject({ statusCode: 486 })
      return
    }
    const identity = invitation.remoteIdentity
    const entry: CallEntry = {
      session: invitation,
      snapshot: {
        id: invitation.id,
        direction: 'incoming',
        remote: {
          user: identity.uri.user ?? identity.uri.host,
          uri: identity.uri.toString(),
          displayName: identity.displayName ?? '',
        },
        state: 'incoming',
        muted: false,
        onHold: false,
        remoteHold: false,
        createdAt: Date.now(),
        dtmfSent: '',
      },
    }
    this.entries.set(invitation.id, entry)
    invitation.delegate = {
      ...invitation.delegate,
      onCancel: (cancel: Cancel) => {
        // RFC 3326 Reason: SIP;cause=200 on the CANCEL means another device answered.
        const reason = cancel.request.getHeader('reason') ?? ''
        entry.remoteEnd = /cause=200/.test(reason)
          ? { reason: 'answered-elsewhere', message: 'Answered on another device.' }
          : { reason: 'missed', message: `Missed call from ${entry.snapshot.remote.displayName || entry.snapshot.remote.user}.` }
      },
    }
    this.watchSession(entry)
    this.emitter.emit('call', entry.snapshot)
  }

  /** Common session wiring: state changes, BYE, re-INVITE (remote hold), REFER, INFO. */
  private watchSession(entry: CallEntry): void {
    const session = entry.session
    session.delegate = {
      ...session.delegate,
      onBye: (bye: Bye) => {
        void bye.accept()
        entry.remoteEnd ??= entry.transferredTo
          ? { reason: 'transferred', message: `Transferred to ${entry.transferredTo}.` }
          : { reason: 'remote-hangup', message: `${entry.snapshot.remote.displayName || entry.snapshot.remote.user} hung up.` }
      },
      onInvite: (request: Core.IncomingRequestMessage, _response: string, statusCode: number) => {
        if (statusCode === 200) this.update(entry, { remoteHold: isSdpWithHold(request.body) })
      },
      onRefer: (referral: Referral) => this.onReferral(entry, referral),
      onInfo: (info: Info) => {
        // We do not use SIP INFO for DTMF (RFC 4733 only); accept it so the peer is not confused.
        void info.accept()
      },
      onSessionDescriptionHandler: (sdh) => {
        if (sdh instanceof Web.SessionDescriptionHandler) {
          this.emitter.emit('remote-media', { callId: entry.snapshot.id, stream: sdh.remoteMediaStream })
        }
      },
    }
    session.stateChange.addListener((sessionState) => {
      if (sessionState === SessionState.Established) {
        this.update(entry, { state: 'connected', connectedAt: Date.now() })
        const sdh = session.sessionDescriptionHandler
        if (sdh instanceof Web.SessionDescriptionHandler) {
          this.emitter.emit('remote-media', { callId: entry.snapshot.id, stream: sdh.remoteMediaStream })
        }
      } else if (sessionState === SessionState.Terminated) {
        // SIP.js terminates the session before it calls our request delegates (onReject,
        // onCancel): finish after them, so the end reason is known.
        queueMicrotask(() => this.finish(entry))
      }
    })
  }

  private finish(entry: CallEntry): void {
    if (entry.snapshot.state === 'ended') return
    const wasConnected = entry.snapshot.connectedAt !== undefined
    const who = entry.snapshot.remote.displayName || entry.snapshot.remote.user
    const end: CallEnd = entry.localEnd ?? entry.remoteEnd ?? (wasConnected
      ? { reason: 'remote-hangup', message: `${who} hung up.` }
      : entry.snapshot.direction === 'incoming'
        ? { reason: 'missed', message: `Missed call from ${who}.` }
        : { reason: 'failed', message: 'The call failed.' })
    for (const track of entry.microphone?.getTracks() ?? []) track.stop()
    entry.microphone = undefined
    this.update(entry, { state: 'ended', endedAt: Date.now(), end })
    this.entries.delete(entry.snapshot.id)
  }

  private update(entry: CallEntry, patch: Partial<CallSnapshot>): void {
    entry.snapshot = { ...entry.snapshot, ...patch }
    this.emitter.emit('call', entry.snapshot)
  }

  async answer(callId: string): Promise<ActionResult> {
    const entry = this.entries.get(callId)
    if (!entry || !(entry.session instanceof Invitation) || entry.snapshot.state !== 'incoming') {
      return { ok: false, message: 'This call is no longer ringing.' }
    }
    const ice = await this.prepareIce()
    if (!ice.ok) return { ok: false, message: ice.message }
    const mic = await this.acquireMicrophone()
    if (!mic.ok) return { ok: false, message: mic.message }
    if (entry.snapshot.state !== 'incoming') {
      for (const t of mic.stream.getTracks()) t.stop()
      return { ok: false, message: 'The caller hung up.' }
    }
    entry.microphone = mic.stream
    // Call waiting: "answer and hold" — put the current call on hold first.
    for (const other of this.entries.values()) {
      if (other !== entry && other.snapshot.state === 'connected' && !other.snapshot.onHold) await this.hold(other.snapshot.id)
    }
    try {
      await entry.session.accept({
        sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } },
      })
      return { ok: true }
    } catch (error) {
      return { ok: false, message: `Could not answer: ${(error as Error).message}` }
    }
  }

  async decline(callId: string): Promise<void> {
    const entry = this.entries.get(callId)
    if (!entry || !(entry.session instanceof Invitation) || entry.snapshot.state !== 'incoming') return
    entry.localEnd = { reason: 'declined', statusCode: 603, message: 'You declined the call.' }
    await entry.session.reject({ statusCode: 603, reasonPhrase: 'Decline' }).catch(() => undefined)
  }

  async hangup(callId: string): Promise<void> {
    const entry = this.entries.get(callId)
    if (!entry || entry.snapshot.state === 'ended') return
    const session = entry.session
    entry.localEnd ??= entry.snapshot.state === 'connected'
      ? { reason: 'local-hangup', message: 'Call ended.' }
      : { reason: 'cancelled', message: 'Call cancelled.' }
    try {
      if (session.state === SessionState.Established) {
        await session.bye()
      } else if (session instanceof Inviter && (session.state === SessionState.Initial || session.state === SessionState.Establishing)) {
        await session.cancel()
      } else if (session instanceof Invitation && (session.state === SessionState.Initial || session.state === SessionState.Establishing)) {
        entry.localEnd = { reason: 'declined', statusCode: 603, message: 'You declined the call.' }
        await session.reject({ statusCode: 603 })
      } else {
        this.finish(entry)
      }
    } catch {
      // Transport gone: end locally.
      await session.dispose().catch(() => undefined)
      this.finish(entry)
    }
  }

  hold(callId: string): Promise<ActionResult> {
    return this.setHold(callId, true)
  }

  unhold(callId: string): Promise<ActionResult> {
    return this.setHold(callId, false)
  }

  /** Re-INVITE with a=sendonly (hold) or a=sendrecv (resume), RFC 3264 §8.4. */
  private async setHold(callId: string, hold: boolean): Promise<ActionResult> {
    const entry = this.entries.get(callId)
    if (!entry || entry.snapshot.state !== 'connected') return { ok: false, message: 'The call is not connected.' }
    if (entry.snapshot.onHold === hold) return { ok: true }
    if (!hold) {
      // Resuming one call holds the others.
      for (const other of this.entries.values()) {
        if (other !== entry && other.snapshot.state === 'connected' && !other.snapshot.onHold) await this.setHold(other.snapshot.id, true)
      }
    }
    const session = entry.session
    const previous = session.sessionDescriptionHandlerOptionsReInvite as Web.SessionDescriptionHandlerOptions
    session.sessionDescriptionHandlerOptionsReInvite = { ...previous, hold } as Web.SessionDescriptionHandlerOptions
    const result = await new Promise<ActionResult>((resolve) => {
      session.invite({
        requestDelegate: {
          onAccept: () => resolve({ ok: true }),
          onReject: (response) => resolve({ ok: false, message: `${hold ? 'Hold' : 'Resume'} was refused (${response.message.statusCode}).` }),
        },
      }).catch((error: unknown) => {
        resolve({
          ok: false,
          message: error instanceof RequestPendingError ? 'Another change is in progress; try again.' : `${hold ? 'Hold' : 'Resume'} failed: ${(error as Error).message}`,
        })
      })
    })
    if (!result.ok) {
      session.sessionDescriptionHandlerOptionsReInvite = { ...previous, hold: !hold } as Web.SessionDescriptionHandlerOptions
      return result
    }
    const sdh = session.sessionDescriptionHandler
    if (sdh instanceof Web.SessionDescriptionHandler) {
      try {
        sdh.enableReceiverTracks(!hold)
        sdh.enableSenderTracks(!hold && !entry.snapshot.muted)
      } catch {
        // peer connection closed meanwhile
      }
    }
    this.update(entry, { onHold: hold })
    return { ok: true }
  }

  setMuted(callId: string, muted: boolean): void {
    const entry = this.entries.get(callId)
    if (!entry || entry.snapshot.state === 'ended') return
    const sdh = entry.session.sessionDescriptionHandler
    if (sdh instanceof Web.SessionDescriptionHandler) {
      try {
        sdh.enableSenderTracks(!muted && !entry.snapshot.onHold)
      } catch {
        // closed
      }
    } else {
      for (const t of entry.microphone?.getAudioTracks() ?? []) t.enabled = !muted
    }
    this.update(entry, { muted })
  }

  /**
   * RFC 4733 telephone-events through the audio sender's RTCDTMFSender (W3C webrtc-pc §7).
   * Digits pressed while earlier ones still play are appended to the tone buffer, since
   * insertDTMF replaces the buffer.
   */
  sendDtmf(callId: string, tones: string): boolean {
    const entry = this.entries.get(callId)
    if (!entry || entry.snapshot.state !== 'connected' || !/^[0-9A-D#*,]+$/i.test(tones)) return false
    const pc = this.getPeerConnection(callId)
    const sender = pc?.getSenders().find((s) => s.track?.kind === 'audio' || s.dtmf)
    const dtmf = sender?.dtmf
    if (!dtmf || !dtmf.canInsertDTMF) return false
    try {
      dtmf.insertDTMF(dtmf.toneBuffer + tones, DTMF_DURATION_MS, DTMF_GAP_MS)
    } catch {
      return false
    }
    this.update(entry, { dtmfSent: entry.snapshot.dtmfSent + tones })
    return true
  }

  /** Blind transfer: REFER with Refer-To (RFC 3515 §2.4.1); BYE once the NOTIFY says 2xx. */
  async transfer(callId: string, target: string): Promise<ActionResult> {
    const entry = this.entries.get(callId)
    if (!entry || entry.snapshot.state !== 'connected' || !this.config) return { ok: false, message: 'The call is not connected.' }
    const parsed = parseDialTarget(target, this.config.domain)
    if (!parsed.ok) return { ok: false, message: parsed.message }
    const uri = UserAgent.makeURI(parsed.uri)
    if (!uri) return { ok: false, message: `“${target}” is not a valid address.` }
    const session = entry.session
    this.update(entry, { transfer: { target: parsed.user, state: 'trying' } })
    return new Promise<ActionResult>((resolve) => {
      session.refer(uri, {
        requestDelegate: {
          onAccept: () => {
            this.update(entry, { transfer: { target: parsed.user, state: 'accepted' } })
            resolve({ ok: true })
          },
          onReject: (response) => {
            const message = `Transfer refused (${response.message.statusCode}).`
            this.update(entry, { transfer: { target: parsed.user, state: 'failed', message } })
            resolve({ ok: false, message })
          },
        },
        // RFC 3515 §2.4.5: NOTIFY bodies are message/sipfrag status lines of the new call.
        onNotify: (notification: Notification) => {
          void notification.accept()
          const status = /^SIP\/2\.0 (\d{3})/.exec(notification.request.body ?? '')
          const code = status ? Number(status[1]) : 0
          if (code >= 200 && code < 300) {
            this.update(entry, { transfer: { target: parsed.user, state: 'succeeded' } })
            entry.localEnd = { reason: 'transferred', message: `Transferred to ${parsed.user}.` }
            void this.hangup(entry.snapshot.id)
          } else if (code >= 300) {
            const failed = describeCallFailure(code, parsed.user)
            this.update(entry, { transfer: { target: parsed.user, state: 'failed', message: `Transfer failed: ${failed.message}` } })
          }
        },
      }).catch((error: unknown) => {
        const message = `Transfer failed: ${(error as Error).message}`
        this.update(entry, { transfer: { target: parsed.user, state: 'failed', message } })
        resolve({ ok: false, message })
      })
    })
  }

  /** We are the transferee (RFC 3515 §2.4.2): accept with 202 and call the Refer-To target. */
  private onReferral(entry: CallEntry, referral: Referral): void {
    let target: URI
    try {
      target = referral.referTo.uri
    } catch {
      void referral.reject({ statusCode: 400 })
      return
    }
    void referral.accept()
    const user = target.user ?? target.host
    entry.transferredTo = user
    const by = entry.snapshot.remote.displayName || entry.snapshot.remote.user
    void this.startOutgoing(
      (options) => referral.makeInviter(options),
      { user, uri: `sip:${user}@${target.host}`, displayName: '' },
      by,
    ).then((result) => {
      if (!result.ok) this.update(entry, { transfer: { target: user, state: 'failed', message: result.message } })
    })
  }

  getPeerConnection(callId: string): RTCPeerConnection | undefined {
    const sdh = this.entries.get(callId)?.session.sessionDescriptionHandler
    return sdh instanceof Web.SessionDescriptionHandler ? sdh.peerConnection : undefined
  }

  getLocalStream(callId: string): MediaStream | undefined {
    const entry = this.entries.get(callId)
    const sdh = entry?.session.sessionDescriptionHandler
    return sdh instanceof Web.SessionDescriptionHandler ? sdh.localMediaStream : entry?.microphone
  }

  getRemoteStream(callId: string): MediaStream | undefined {
    const sdh = this.entries.get(callId)?.session.sessionDescriptionHandler
    return sdh instanceof Web.SessionDescriptionHandler ? sdh.remoteMediaStream : undefined
  }

  async dispose(): Promise<void> {
    this.options.networkEvents?.removeEventListener('online', this.onOnline)
    await this.unregister()
  }
}

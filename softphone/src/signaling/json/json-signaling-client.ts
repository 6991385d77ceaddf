/**
 * `SignalingClient` over Patchbay's JSON signaling (docs/json-signaling.md, WebSocket `/json`,
 * subprotocol `patchbay-json.1`): the second signaling mode of the softphone, chosen with
 * `?signaling=json` or in Settings. The same Lit components and controllers work unchanged;
 * nothing here imports sip.js.
 *
 * - `JsonRegistration`: client-config, the WebSocket (`JsonConnection`, ping keepalive), the
 *   HMAC login, `attach` with the session token (page reload, lost connection), back-off.
 * - `MediaSetup` (shared with SIP mode): ICE servers from `/api/ice-servers` with Basic
 *   auth, RTCConfiguration, microphone.
 * - `JsonCall`: one call's RTCPeerConnection and snapshot; this class keeps the rules
 *   across calls (at most two; a new or answered call holds the connected one), as
 *   `SipCallControl` does in SIP mode.
 *
 * What SIP over WebSocket cannot do and this does: after a page reload the tab attaches to
 * its session (token in sessionStorage) and keeps its calls, re-offering each connected
 * call on a new RTCPeerConnection. Blind transfer: `transfer` out, and the gateway's
 * `transfer` request followed with a new `call` (`transferOf`), as SIP mode follows a REFER.
 * `JsonMessaging` carries text messages (`message` / `delivered`).
 */
import type {
  ActionResult,
  CallSnapshot,
  CallStartResult,
  Credentials,
  MessageSendResult,
  RegistrationState,
  RemoteParty,
  SignalingClient,
  SignalingEvents,
  SignalingPreferences,
  Unsubscribe,
} from '../signaling-client.ts'
import type { FetchLike } from '../client-config.ts'
import { parseDialTarget } from '../dial-target.ts'
import { MediaSetup } from '../media-setup.ts'
import { TypedEmitter } from '../../util/emitter.ts'
import { JsonCall, remoteParty, type JsonCallHooks, type ReferredCall } from './json-call.ts'
import type { JsonConnectionTimings, WebSocketFactory, WebSocketLike } from './json-connection.ts'
import type { ServerMessage, ServerMessageOf, SessionCall } from './json-protocol.ts'
import { JsonMessaging } from './json-messaging.ts'
import { JsonRegistration } from './json-registration.ts'

/** At most this many calls at once (one active, one waiting/on hold); more get 486. */
const MAX_CALLS = 2

export interface JsonSignalingClientOptions {
  /** The page's origin, used when the user leaves the server empty. */
  readonly pageOrigin: string
  readonly fetch?: FetchLike
  /** For tests and device selection; defaults to navigator.mediaDevices.getUserMedia. */
  readonly getUserMedia?: (constraints: MediaStreamConstraints) => Promise<MediaStream>
  /** Defaults to `new WebSocket(url, protocols)`. */
  readonly createWebSocket?: WebSocketFactory
  /** Defaults to `new RTCPeerConnection(config)` (the global as it is at call time). */
  readonly createPeerConnection?: (config: RTCConfiguration) => RTCPeerConnection
  /** Where the session token is kept across reloads (window.sessionStorage). */
  readonly sessionStorage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>
  /** `window`, to reconnect on the `online` event. */
  readonly networkEvents?: EventTarget
  readonly preferences?: Partial<SignalingPreferences>
  /** Back-off jitter source in [0, 1); Math.random by default. */
  readonly random?: () => number
  /** Keepalive and connect timings (tests shorten them). */
  readonly timings?: JsonConnectionTimings
}

function newCallId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(9))
  return `c-${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`
}

/** The softphone's `SignalingClient` over JSON signaling (see the file comment). */
export class JsonSignalingClient implements SignalingClient {
  private readonly emitter = new TypedEmitter<SignalingEvents>()
  private preferences: SignalingPreferences
  private readonly media: MediaSetup
  private readonly jsonRegistration: JsonRegistration
  private readonly entries = new Map<string, JsonCall>()
  /** Calls ended here (maybe while the connection was down): not restored by an attach. */
  private readonly endedHere = new Set<string>()
  private readonly hooks: JsonCallHooks
  private readonly messaging: JsonMessaging

  constructor(options: JsonSignalingClientOptions) {
    const fetchFn: FetchLike = options.fetch ?? ((input, init) => fetch(input, init))
    this.preferences = { forceRelay: false, ...options.preferences }
    this.media = new MediaSetup({
      fetch: fetchFn,
      getUserMedia: options.getUserMedia ?? ((constraints) => navigator.mediaDevices.getUserMedia(constraints)),
      preferences: () => this.preferences,
      iceServerAccount: () => this.jsonRegistration.iceServerAccount,
    })
    this.jsonRegistration = new JsonRegistration({
      pageOrigin: options.pageOrigin,
      fetch: fetchFn,
      createWebSocket: options.createWebSocket ?? ((url, protocols) => new WebSocket(url, protocols) as unknown as WebSocketLike),
      ...(options.sessionStorage ? { sessionStorage: options.sessionStorage } : {}),
      ...(options.networkEvents ? { networkEvents: options.networkEvents } : {}),
      ...(options.random ? { random: options.random } : {}),
      ...options.timings,
      onState: (state) => this.emitter.emit('registration', state),
      onSession: (session, how) => this.onSession(session, how),
      onSessionGone: () => {
        this.endAll({ reason: 'network', message: 'The connection to the server was lost.' })
        this.messaging.failAll()
      },
      onMessage: (message) => this.onMessage(message),
    })
    this.messaging = new JsonMessaging({
      send: (message) => this.jsonRegistration.send(message),
      isRegistered: () => this.jsonRegistration.isRegistered,
      domain: () => this.jsonRegistration.domain,
      onMessage: (message) => this.emitter.emit('message', message),
    })
    this.hooks = {
      changed: (snapshot) => this.emitter.emit('call', snapshot),
      remoteMedia: (callId, stream) => this.emitter.emit('remote-media', { callId, stream }),
      ended: (call) => {
        this.entries.delete(call.id)
        this.endedHere.add(call.id)
        if (this.endedHere.size > 50) this.endedHere.delete(this.endedHere.values().next().value!)
      },
      send: (message) => this.jsonRegistration.send(message),
      rtcConfiguration: () => this.media.rtcConfiguration(),
      createPeerConnection: options.createPeerConnection ?? ((config) => new RTCPeerConnection(config)),
    }
  }

  get registration(): RegistrationState {
    return this.jsonRegistration.state
  }

  get calls(): readonly CallSnapshot[] {
    return [...this.entries.values()].map((e) => e.snapshot).filter((s) => s.state !== 'ended')
  }

  on<K extends keyof SignalingEvents>(type: K, listener: (event: SignalingEvents[K]) => void): Unsubscribe {
    return this.emitter.on(type, listener)
  }

  /**
   * After a page reload: attaches to this tab's session (token in sessionStorage), with its
   * calls, before any sign-in. False when the tab has no session to resume.
   */
  resume(): boolean {
    return this.jsonRegistration.resume()
  }

  async register(credentials: Credentials): Promise<void> {
    if (credentials.displayName !== undefined) this.preferences = { ...this.preferences, displayName: credentials.displayName }
    await this.jsonRegistration.register(credentials)
    // A resumed session now knows the password: the ICE servers can be fetched.
    if (this.jsonRegistration.isRegistered) void this.media.refreshIceServers()
  }

  async unregister(): Promise<void> {
    for (const call of [...this.entries.values()]) {
      call.hangup()
      call.finish()
    }
    await this.jsonRegistration.unregister()
    this.messaging.failAll('Signed out; the message may not have been delivered.')
    this.media.forgetIceServers()
  }

  async updatePreferences(preferences: Partial<SignalingPreferences>): Promise<void> {
    const previousInput = this.preferences.inputDeviceId
    this.preferences = { ...this.preferences, ...preferences }
    if ('inputDeviceId' in preferences && preferences.inputDeviceId !== previousInput) {
      await this.media.switchMicrophone(this.entries.values())
    }
  }

  reconnectNow(): void {
    this.jsonRegistration.reconnectNow()
  }

  // ---- session and server messages

  private onSession(session: ServerMessageOf<'session'>, how: 'login' | 'attach'): void {
    void this.media.refreshIceServers()
    if (how === 'login') {
      // A new session: calls of an older one (lost with it) are over.
      this.endAll({ reason: 'network', message: 'The connection to the server was lost.' })
      return
    }
    const listed = new Map(session.calls.map((c) => [c.callId, c]))
    for (const call of [...this.entries.values()]) {
      const found = listed.get(call.id)
      listed.delete(call.id)
      if (!found) call.finish({ reason: 'network', message: 'The call ended while the connection was lost.' })
      else if (found.state === 'connected' && call.snapshot.state !== 'incoming') void call.restartMedia()
    }
    for (const found of listed.values()) {
      if (!this.endedHere.has(found.callId)) void this.restore(found)
      else if (found.direction === 'incoming' && found.state === 'ringing') this.jsonRegistration.send({ type: 'reject', callId: found.callId, status: 603 })
      else this.jsonRegistration.send({ type: 'hangup', callId: found.callId })
    }
  }

  /** A call of the session this page does not know (it was reloaded). */
  private async restore(found: SessionCall): Promise<void> {
    const remote = remoteParty(found.peer)
    if (found.direction === 'incoming' && found.state === 'ringing' && found.sdp) {
      const call = JsonCall.incoming(found.callId, remote, found.sdp, this.hooks)
      this.entries.set(call.id, call)
      this.emitter.emit('call', call.snapshot)
      return
    }
    if (found.state !== 'connected') {
      // An outgoing call still ringing: its offer died with the old page; give it up.
      this.jsonRegistration.send({ type: 'hangup', callId: found.callId, reason: 'Page reloaded' })
      return
    }
    const call = JsonCall.restored(found.callId, found.direction, remote, this.hooks)
    this.entries.set(call.id, call)
    this.emitter.emit('call', call.snapshot)
    const mic = await this.media.acquireMicrophone()
    await call.restartMedia(mic.ok ? mic.stream : undefined)
  }

  private onMessage(m: ServerMessage): void {
    if (this.messaging.onServerMessage(m)) return
    switch (m.type) {
      case 'incoming': return this.onIncoming(m)
      case 'ringing': return this.entries.get(m.callId)?.onRinging(m.sdp)
      case 'answered': return this.entries.get(m.callId)?.onAnswered(m.sdp)
      case 'reoffer': {
        const call = this.entries.get(m.callId)
        if (call) void call.onReoffer(m.sdp)
        return
      }
      case 'ended': return this.entries.get(m.callId)?.onEnded(m)
      case 'transfer': return this.followTransfer(m)
      case 'candidate': return this.entries.get(m.callId)?.onRemoteCandidate(m)
      case 'error':
        if (m.callId !== undefined) this.entries.get(m.callId)?.onError(m)
        return
      default:
        // pong: nothing to do here.
        return
    }
  }

  private onIncoming(m: ServerMessageOf<'incoming'>): void {
    if (this.entries.has(m.callId)) return
    if (this.calls.length >= MAX_CALLS) {
      // RFC 3261 §21.4.24 486 Busy Here, as SIP mode does for a third call.
      this.jsonRegistration.send({ type: 'reject', callId: m.callId, status: 486 })
      return
    }
    const call = JsonCall.incoming(m.callId, remoteParty(m.from, m.displayName ?? ''), m.sdp, this.hooks)
    this.entries.set(call.id, call)
    this.emitter.emit('call', call.snapshot)
  }

  /**
   * The far end transfers us (its REFER was accepted by the gateway, RFC 3515 §2.4.2): call
   * `to` with `transferOf`, so the gateway reports the new call's progress to the transferor.
   */
  private followTransfer(m: ServerMessageOf<'transfer'>): void {
    const call = this.entries.get(m.callId)
    if (!call || call.snapshot.state === 'ended') return
    const remote = remoteParty(m.to)
    const old = call.snapshot.remote
    const referredBy = old.displayName || old.user || (m.by !== undefined ? remoteParty(m.by).user : '')
    call.transferredAway(remote.user)
    void this.startOutgoing(remote, { referredBy, transferOf: call.id }).then((result) => {
      if (!result.ok) call.transferFailed(remote.user, result.message)
    })
  }

  private endAll(end: { reason: 'network'; message: string }): void {
    for (const call of [...this.entries.values()]) call.finish(end)
  }

  // ---- calls

  async call(target: string): Promise<CallStartResult> {
    const domain = this.jsonRegistration.domain
    if (!this.jsonRegistration.isRegistered || domain === undefined) {
      return { ok: false, reason: 'not-registered', message: 'You are offline. Wait until the status shows “Registered”.' }
    }
    const parsed = parseDialTarget(target, domain)
    if (!parsed.ok) return { ok: false, reason: 'invalid-target', message: parsed.message }
    if (this.calls.length >= MAX_CALLS) return { ok: false, reason: 'failed', message: 'Hang up one of your calls first.' }
    return this.startOutgoing({ user: parsed.user, uri: parsed.uri, displayName: '' })
  }

  /** ICE servers, microphone, the connected call on hold, then the `call` (with `transferOf` when `referred`). */
  private async startOutgoing(remote: RemoteParty, referred?: ReferredCall): Promise<CallStartResult> {
    // Both at once: the ICE servers fetch and getUserMedia do not depend on each other.
    const [ice, mic] = await Promise.all([this.media.prepareIce(), this.media.acquireMicrophone()])
    if (!ice.ok) {
      if (mic.ok) for (const track of mic.stream.getTracks()) track.stop()
      return ice
    }
    if (!mic.ok) return mic
    await this.holdConnected()
    const call = JsonCall.outgoing(newCallId(), remote, mic.stream, this.hooks, referred)
    this.entries.set(call.id, call)
    // The UI hears of the call once its `call` went (right after setLocalDescription with
    // trickle ICE): rendering the call screen would otherwise hold up the offer in the page.
    void call.start().then(() => {
      if (call.snapshot.state !== 'ended') this.emitter.emit('call', call.snapshot)
    })
    return { ok: true, callId: call.id }
  }

  /** Call waiting is "answer and hold": puts every connected call but `except` on hold. */
  private async holdConnected(except?: JsonCall): Promise<void> {
    for (const other of [...this.entries.values()]) {
      if (other !== except && other.snapshot.state === 'connected' && !other.snapshot.onHold) await other.setHold(true)
    }
  }

  async answer(callId: string): Promise<ActionResult> {
    const call = this.entries.get(callId)
    if (!call || call.snapshot.state !== 'incoming') return { ok: false, message: 'This call is no longer ringing.' }
    const ice = await this.media.prepareIce()
    if (!ice.ok) return { ok: false, message: ice.message }
    const mic = await this.media.acquireMicrophone()
    if (!mic.ok) return { ok: false, message: mic.message }
    if (call.snapshot.state !== 'incoming') {
      for (const t of mic.stream.getTracks()) t.stop()
      return { ok: false, message: 'The caller hung up.' }
    }
    await this.holdConnected(call)
    return call.accept(mic.stream)
  }

  async decline(callId: string): Promise<void> {
    this.entries.get(callId)?.decline()
  }

  async hangup(callId: string): Promise<void> {
    this.entries.get(callId)?.hangup()
  }

  hold(callId: string): Promise<ActionResult> {
    return this.setHold(callId, true)
  }

  async unhold(callId: string): Promise<ActionResult> {
    const call = this.entries.get(callId)
    if (!call || call.snapshot.state !== 'connected') return { ok: false, message: 'The call is not connected.' }
    if (call.snapshot.onHold) await this.holdConnected(call) // resuming one call holds the others
    return call.setHold(false)
  }

  private async setHold(callId: string, hold: boolean): Promise<ActionResult> {
    const call = this.entries.get(callId)
    if (!call || call.snapshot.state !== 'connected') return { ok: false, message: 'The call is not connected.' }
    return call.setHold(hold)
  }

  setMuted(callId: string, muted: boolean): void {
    this.entries.get(callId)?.setMuted(muted)
  }

  sendDtmf(callId: string, tones: string): boolean {
    return this.entries.get(callId)?.sendDtmf(tones) ?? false
  }

  /**
   * Blind transfer (`transfer`, a REFER by the gateway, RFC 3515): the snapshot's `transfer`
   * goes `trying`, then `succeeded` as the call ends `transferred`, or `failed` on an `error`.
   */
  async transfer(callId: string, target: string): Promise<ActionResult> {
    const call = this.entries.get(callId)
    const domain = this.jsonRegistration.domain
    if (!call || call.snapshot.state !== 'connected' || domain === undefined) return { ok: false, message: 'The call is not connected.' }
    const parsed = parseDialTarget(target, domain)
    if (!parsed.ok) return { ok: false, message: parsed.message }
    return call.transfer(parsed.uri, parsed.user)
  }

  sendMessage(target: string, text: string): Promise<MessageSendResult> {
    return this.messaging.send(target, text)
  }

  getPeerConnection(callId: string): RTCPeerConnection | undefined {
    return this.entries.get(callId)?.peerConnection
  }

  getLocalStream(callId: string): MediaStream | undefined {
    return this.entries.get(callId)?.localStream
  }

  getRemoteStream(callId: string): MediaStream | undefined {
    return this.entries.get(callId)?.remoteStream
  }

  async dispose(): Promise<void> {
    await this.unregister()
    this.jsonRegistration.dispose()
  }
}

/**
 * `SignalingClient` over SIP: SIP over WebSocket (RFC 7118) through SIP.js 0.21. A thin
 * facade that composes the pieces; together with them (the `sip-*.ts` files and
 * `patchbay-session-description-handler.ts`) the only code of the softphone that imports
 * sip.js.
 *
 * - `SipRegistration`: UserAgent, REGISTER with `+sip.instance`/`reg-id` (RFC 5626), CRLF
 *   keepalive, reconnection with back-off and on the `online` event.
 * - `MediaSetup`: ICE servers (TURN REST credentials), RTCConfiguration (`max-bundle`,
 *   `rtcp-mux`, relay-only), microphone; protocol-neutral.
 * - `PatchbaySessionDescriptionHandler`: SIP.js's WebRTC handler with ICE gathering ended
 *   as soon as the candidate set is usable (at the latest after 500 ms, not 5 s).
 * - `SipCallControl` / `SipCall`: INVITE, answer, 603 decline, hangup, hold, mute, RFC 4733
 *   DTMF, REFER, and the call snapshots.
 * - `SipMessaging`: text messages (MESSAGE, RFC 3428) out and in.
 */
import type {
  ActionResult,
  CallSnapshot,
  CallStartResult,
  Credentials,
  MessageSendResult,
  RegistrationState,
  SignalingClient,
  SignalingEvents,
  SignalingPreferences,
  Unsubscribe,
} from './signaling-client.ts'
import type { FetchLike } from './client-config.ts'
import { MediaSetup } from './media-setup.ts'
import { PatchbaySessionDescriptionHandler } from './patchbay-session-description-handler.ts'
import { SipCallControl } from './sip-call-control.ts'
import { SipMessaging } from './sip-messaging.ts'
import { SipRegistration } from './sip-registration.ts'
import { TypedEmitter } from '../util/emitter.ts'

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

/** The softphone's `SignalingClient` over SIP (see the file comment for what each piece owns). */
export class SipSignalingClient implements SignalingClient {
  private readonly emitter = new TypedEmitter<SignalingEvents>()
  private preferences: SignalingPreferences
  private readonly media: MediaSetup
  private readonly callControl: SipCallControl
  private readonly sipRegistration: SipRegistration
  private readonly messaging: SipMessaging

  constructor(options: SipSignalingClientOptions) {
    const fetchFn: FetchLike = options.fetch ?? ((input, init) => fetch(input, init))
    this.preferences = { forceRelay: false, ...options.preferences }
    const preferences = (): SignalingPreferences => this.preferences
    this.media = new MediaSetup({
      fetch: fetchFn,
      getUserMedia: options.getUserMedia ?? ((constraints) => navigator.mediaDevices.getUserMedia(constraints)),
      preferences,
      iceServerAccount: () => this.sipRegistration.iceServerAccount,
    })
    this.sipRegistration = new SipRegistration({
      instanceId: options.instanceId,
      pageOrigin: options.pageOrigin,
      fetch: fetchFn,
      networkEvents: options.networkEvents,
      logLevel: options.logLevel,
      userAgentString: options.userAgentString,
      displayName: () => this.preferences.displayName,
      sessionDescriptionHandlerFactory: PatchbaySessionDescriptionHandler.factory({
        rtcConfiguration: () => this.media.rtcConfiguration(),
        preparedMicrophone: (callId) => this.callControl.preparedMicrophone(callId),
        openMicrophone: () => this.media.openMicrophone(),
        onRemoteTrack: (callId, stream) => this.emitter.emit('remote-media', { callId, stream }),
      }),
      rtcConfiguration: () => this.media.rtcConfiguration(),
      onState: (state) => this.emitter.emit('registration', state),
      onSignIn: (credentials) => {
        if (credentials.displayName !== undefined) this.preferences = { ...this.preferences, displayName: credentials.displayName }
      },
      onRegistered: () => void this.media.refreshIceServers(),
      onInvite: (invitation) => this.callControl.onIncomingInvite(invitation),
      onMessage: (message) => this.messaging.onIncoming(message),
      beforeDisconnect: async () => {
        await this.callControl.hangupAll()
        this.media.forgetIceServers()
      },
    })
    this.callControl = new SipCallControl({
      registration: this.sipRegistration,
      media: this.media,
      preferences,
      emit: (type, event) => this.emitter.emit(type, event),
    })
    this.messaging = new SipMessaging({
      registration: this.sipRegistration,
      displayName: () => this.preferences.displayName,
      onMessage: (message) => this.emitter.emit('message', message),
    })
  }

  get registration(): RegistrationState {
    return this.sipRegistration.state
  }

  get calls(): readonly CallSnapshot[] {
    return this.callControl.calls
  }

  on<K extends keyof SignalingEvents>(type: K, listener: (event: SignalingEvents[K]) => void): Unsubscribe {
    return this.emitter.on(type, listener)
  }

  register(credentials: Credentials): Promise<void> {
    return this.sipRegistration.register(credentials)
  }

  unregister(): Promise<void> {
    return this.sipRegistration.unregister()
  }

  async updatePreferences(preferences: Partial<SignalingPreferences>): Promise<void> {
    const previousInput = this.preferences.inputDeviceId
    this.preferences = { ...this.preferences, ...preferences }
    if ('inputDeviceId' in preferences && preferences.inputDeviceId !== previousInput) {
      await this.media.switchMicrophone(this.callControl.liveCalls())
    }
  }

  reconnectNow(): void {
    this.sipRegistration.reconnectNow()
  }

  call(target: string): Promise<CallStartResult> {
    return this.callControl.call(target)
  }

  answer(callId: string): Promise<ActionResult> {
    return this.callControl.answer(callId)
  }

  decline(callId: string): Promise<void> {
    return this.callControl.decline(callId)
  }

  hangup(callId: string): Promise<void> {
    return this.callControl.hangup(callId)
  }

  hold(callId: string): Promise<ActionResult> {
    return this.callControl.hold(callId)
  }

  unhold(callId: string): Promise<ActionResult> {
    return this.callControl.unhold(callId)
  }

  setMuted(callId: string, muted: boolean): void {
    this.callControl.setMuted(callId, muted)
  }

  sendDtmf(callId: string, tones: string): boolean {
    return this.callControl.sendDtmf(callId, tones)
  }

  transfer(callId: string, target: string): Promise<ActionResult> {
    return this.callControl.transfer(callId, target)
  }

  sendMessage(target: string, text: string): Promise<MessageSendResult> {
    return this.messaging.send(target, text)
  }

  getPeerConnection(callId: string): RTCPeerConnection | undefined {
    return this.callControl.getPeerConnection(callId)
  }

  getLocalStream(callId: string): MediaStream | undefined {
    return this.callControl.getLocalStream(callId)
  }

  getRemoteStream(callId: string): MediaStream | undefined {
    return this.callControl.getRemoteStream(callId)
  }

  async dispose(): Promise<void> {
    this.sipRegistration.dispose()
    await this.unregister()
  }
}

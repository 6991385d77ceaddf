/**
 * A scriptable SignalingClient for controller and component tests: records every call the
 * UI makes and lets the test play the network (registration changes, incoming calls,
 * call state changes, text messages).
 */
import type {
  ActionResult,
  CallSnapshot,
  CallStartResult,
  Credentials,
  IncomingTextMessage,
  MessageSendResult,
  RegistrationState,
  SignalingClient,
  SignalingEvents,
  SignalingPreferences,
  Unsubscribe,
} from '../../../softphone/src/signaling/signaling-client.ts'
import { TypedEmitter } from '../../../softphone/src/util/emitter.ts'

export class FakeSignalingClient implements SignalingClient {
  readonly emitter = new TypedEmitter<SignalingEvents>()
  readonly log: string[] = []
  registration: RegistrationState = { status: 'signed-out' }
  private readonly live = new Map<string, CallSnapshot>()
  callResult: CallStartResult = { ok: true, callId: 'out-1' }
  answerResult: ActionResult = { ok: true }
  dtmfResult = true
  /** What `sendMessage` resolves with (a promise lets a test hold the answer back). */
  messageResult: MessageSendResult | Promise<MessageSendResult> = { ok: true }
  readonly sentMessages: Array<{ target: string; text: string }> = []
  preferences: Partial<SignalingPreferences> = {}
  lastCredentials: Credentials | undefined

  get calls(): readonly CallSnapshot[] {
    return [...this.live.values()]
  }

  on<K extends keyof SignalingEvents>(type: K, listener: (event: SignalingEvents[K]) => void): Unsubscribe {
    return this.emitter.on(type, listener)
  }

  // --- the network side, driven by tests

  setRegistration(state: RegistrationState): void {
    this.registration = state
    this.emitter.emit('registration', state)
  }

  emitCall(snapshot: CallSnapshot): void {
    if (snapshot.state === 'ended') this.live.delete(snapshot.id)
    else this.live.set(snapshot.id, snapshot)
    this.emitter.emit('call', snapshot)
  }

  /** A text message arrives from `from` (`sip:bob@patchbay.test`). */
  emitMessage(patch: Partial<IncomingTextMessage> & { text: string }): void {
    this.emitter.emit('message', { from: 'sip:bob@patchbay.test', user: 'bob', displayName: '', at: 2_000, ...patch })
  }

  /** A snapshot with defaults. */
  static snapshot(patch: Partial<CallSnapshot> & { id: string }): CallSnapshot {
    return {
      direction: 'outgoing',
      remote: { user: 'bob', uri: 'sip:bob@patchbay.test', displayName: '' },
      state: 'dialing',
      muted: false,
      onHold: false,
      remoteHold: false,
      createdAt: 1_000,
      dtmfSent: '',
      ...patch,
    }
  }

  // --- SignalingClient

  async register(credentials: Credentials): Promise<void> {
    this.lastCredentials = credentials
    this.log.push(`register ${credentials.user}`)
    this.setRegistration({ status: 'connecting', attempt: 0 })
  }

  async unregister(): Promise<void> {
    this.log.push('unregister')
    this.setRegistration({ status: 'signed-out' })
  }

  async updatePreferences(preferences: Partial<SignalingPreferences>): Promise<void> {
    this.preferences = { ...this.preferences, ...preferences }
    this.log.push(`prefs ${JSON.stringify(preferences)}`)
  }

  reconnectNow(): void {
    this.log.push('reconnectNow')
  }

  async call(target: string): Promise<CallStartResult> {
    this.log.push(`call ${target}`)
    return this.callResult
  }

  async answer(callId: string): Promise<ActionResult> {
    this.log.push(`answer ${callId}`)
    return this.answerResult
  }

  async decline(callId: string): Promise<void> {
    this.log.push(`decline ${callId}`)
  }

  async hangup(callId: string): Promise<void> {
    this.log.push(`hangup ${callId}`)
  }

  async hold(callId: string): Promise<ActionResult> {
    this.log.push(`hold ${callId}`)
    return { ok: true }
  }

  async unhold(callId: string): Promise<ActionResult> {
    this.log.push(`unhold ${callId}`)
    return { ok: true }
  }

  setMuted(callId: string, muted: boolean): void {
    this.log.push(`mute ${callId} ${muted}`)
  }

  sendDtmf(callId: string, tones: string): boolean {
    this.log.push(`dtmf ${callId} ${tones}`)
    return this.dtmfResult
  }

  async transfer(callId: string, target: string): Promise<ActionResult> {
    this.log.push(`transfer ${callId} ${target}`)
    return { ok: true }
  }

  async sendMessage(target: string, text: string): Promise<MessageSendResult> {
    this.log.push(`message ${target} ${text}`)
    this.sentMessages.push({ target, text })
    return this.messageResult
  }

  getPeerConnection(): RTCPeerConnection | undefined {
    return undefined
  }

  getLocalStream(): MediaStream | undefined {
    return undefined
  }

  getRemoteStream(): MediaStream | undefined {
    return undefined
  }

  async dispose(): Promise<void> {
    this.log.push('dispose')
  }
}

/** In-memory Storage (localStorage stand-in). */
export class MemoryStorage implements Storage {
  private readonly map = new Map<string, string>()
  get length(): number {
    return this.map.size
  }
  clear(): void {
    this.map.clear()
  }
  getItem(key: string): string | null {
    return this.map.get(key) ?? null
  }
  key(index: number): string | null {
    return [...this.map.keys()][index] ?? null
  }
  removeItem(key: string): void {
    this.map.delete(key)
  }
  setItem(key: string, value: string): void {
    this.map.set(key, String(value))
  }
}

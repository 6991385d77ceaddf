/**
 * Bridges calls from the SignalingClient into a Lit host: which call is active, which one
 * rings or waits, what ended and why; drives the ringtone, the far-end audio element and a
 * one-second tick for call timers. Components call its actions; it never touches SIP.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import type { CallSnapshot, SignalingClient } from '../signaling/signaling-client.ts'
import type { TimerHandle, Timers } from '../util/timers.ts'
import type { ToneKind } from '../audio/ringtone.ts'

export interface Notice {
  readonly id: number
  readonly kind: 'error' | 'info'
  readonly text: string
}

/** What the controller needs from the audio layer (real: Ringtone + RemoteAudio). */
export interface CallAudio {
  playTone(kind: ToneKind | undefined): void
  playRemote(stream: MediaStream | undefined): void
}

/** How long an ended call stays on screen with its reason (ms). */
export const ENDED_DISPLAY_MS = 4000
/** Ends of an outgoing call that are no failure worth a notice. */
const QUIET_ENDS = new Set(['local-hangup', 'remote-hangup', 'transferred', 'cancelled', 'answered-elsewhere'])
/** How long a notice stays (ms). */
export const NOTICE_DISPLAY_MS = 6000

export class CallController implements ReactiveController {
  /** Calls not yet ended, in creation order. */
  calls: CallSnapshot[] = []
  /** The last call that ended, shown for a few seconds with its reason. */
  ended: CallSnapshot | undefined
  notice: Notice | undefined
  /** Set while an outgoing call is being prepared (ICE servers, microphone). */
  dialing = false
  /** Why answering an incoming call failed (shown on its card). */
  answerError: { readonly callId: string; readonly message: string } | undefined

  private unsubscribes: Array<() => void> = []
  private tickTimer: TimerHandle | undefined
  private endedTimer: TimerHandle | undefined
  private noticeTimer: TimerHandle | undefined
  private noticeId = 0

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly client: SignalingClient,
    private readonly timers: Timers,
    private readonly audio: CallAudio,
    /** Epoch ms, for call durations. */
    readonly clock: () => number = () => Date.now(),
  ) {
    host.addController(this)
  }

  hostConnected(): void {
    this.calls = [...this.client.calls]
    this.unsubscribes.push(
      this.client.on('call', (snapshot) => this.onCall(snapshot)),
      this.client.on('remote-media', () => this.syncAudio()),
    )
    this.syncAudio()
  }

  hostDisconnected(): void {
    for (const u of this.unsubscribes) u()
    this.unsubscribes = []
    this.stopTick()
    this.audio.playTone(undefined)
  }

  /** The first call that is ringing in (not answered yet). */
  get incoming(): CallSnapshot | undefined {
    return this.calls.find((c) => c.state === 'incoming')
  }

  /** The call the user is talking on (or dialing): not incoming, not on hold; else the newest held one. */
  get active(): CallSnapshot | undefined {
    const candidates = this.calls.filter((c) => c.state !== 'incoming')
    return candidates.find((c) => !c.onHold) ?? candidates[candidates.length - 1]
  }

  /** Connected calls other than the active one (they are on hold). */
  get held(): CallSnapshot[] {
    const active = this.active
    return this.calls.filter((c) => c !== active && c.state === 'connected')
  }

  /** An incoming call while another call is up: call waiting. */
  get waiting(): boolean {
    return this.incoming !== undefined && this.active !== undefined
  }

  /** Seconds since the call connected. */
  durationOf(call: CallSnapshot): number {
    return call.connectedAt === undefined ? 0 : Math.max(0, Math.floor((this.clock() - call.connectedAt) / 1000))
  }

  async dial(target: string): Promise<boolean> {
    if (this.dialing) return false
    this.dialing = true
    this.clearEnded()
    this.host.requestUpdate()
    try {
      const result = await this.client.call(target)
      if (!result.ok) {
        this.showNotice('error', result.message)
        return false
      }
      return true
    } finally {
      this.dialing = false
      this.host.requestUpdate()
    }
  }

  async answer(callId: string): Promise<void> {
    this.answerError = undefined
    const result = await this.client.answer(callId)
    if (!result.ok) {
      this.answerError = { callId, message: result.message }
      this.host.requestUpdate()
    }
  }

  decline(callId: string): Promise<void> {
    return this.client.decline(callId)
  }

  hangup(callId: string): Promise<void> {
    return this.client.hangup(callId)
  }

  toggleMute(callId: string): void {
    const call = this.calls.find((c) => c.id === callId)
    if (call) this.client.setMuted(callId, !call.muted)
  }

  async toggleHold(callId: string): Promise<void> {
    const call = this.calls.find((c) => c.id === callId)
    if (!call) return
    const result = call.onHold ? await this.client.unhold(callId) : await this.client.hold(callId)
    if (!result.ok) this.showNotice('error', result.message)
  }

  sendDtmf(callId: string, digits: string): void {
    if (!this.client.sendDtmf(callId, digits)) this.showNotice('error', 'Keypad tones cannot be sent on this call right now.')
  }

  async transfer(callId: string, target: string): Promise<boolean> {
    const result = await this.client.transfer(callId, target)
    if (!result.ok) this.showNotice('error', result.message)
    return result.ok
  }

  /** Puts the active call on hold and resumes the held one. */
  async swap(): Promise<void> {
    const held = this.held[0]
    if (!held) return
    const result = await this.client.unhold(held.id)
    if (!result.ok) this.showNotice('error', result.message)
  }

  showNotice(kind: Notice['kind'], text: string): void {
    this.notice = { id: ++this.noticeId, kind, text }
    if (this.noticeTimer) this.timers.clearTimer(this.noticeTimer)
    this.noticeTimer = this.timers.setTimer(NOTICE_DISPLAY_MS, () => {
      this.noticeTimer = undefined
      this.notice = undefined
      this.host.requestUpdate()
    })
    this.host.requestUpdate()
  }

  dismissNotice(): void {
    if (this.noticeTimer) this.timers.clearTimer(this.noticeTimer)
    this.noticeTimer = undefined
    this.notice = undefined
    this.host.requestUpdate()
  }

  clearEnded(): void {
    if (this.endedTimer) this.timers.clearTimer(this.endedTimer)
    this.endedTimer = undefined
    this.ended = undefined
  }

  private onCall(snapshot: CallSnapshot): void {
    const wasActive = this.active?.id === snapshot.id
    const index = this.calls.findIndex((c) => c.id === snapshot.id)
    if (snapshot.state === 'ended') {
      if (index >= 0) this.calls.splice(index, 1)
      // Show why a call ended, unless the user ended it themselves (they know).
      const byUser = snapshot.end?.reason === 'local-hangup' || snapshot.end?.reason === 'cancelled'
      const showEnd = !byUser && (wasActive || snapshot.direction === 'outgoing' || snapshot.connectedAt !== undefined)
      if (showEnd && this.active === undefined) {
        this.clearEnded()
        this.ended = snapshot
        this.endedTimer = this.timers.setTimer(ENDED_DISPLAY_MS, () => {
          this.endedTimer = undefined
          this.ended = undefined
          this.host.requestUpdate()
        })
      }
      if (snapshot.end && snapshot.end.reason === 'missed' && this.active !== undefined) {
        this.showNotice('info', snapshot.end.message)
      } else if (showEnd && this.active !== undefined && snapshot.end && snapshot.connectedAt === undefined && snapshot.direction === 'outgoing'
        && !QUIET_ENDS.has(snapshot.end.reason)) {
        // A call that failed while another one is on screen (e.g. on hold): say why anyway.
        this.showNotice('error', snapshot.end.message)
      }
    } else if (index >= 0) {
      this.calls[index] = snapshot
    } else {
      this.calls.push(snapshot)
      if (snapshot.direction === 'outgoing') this.clearEnded()
    }
    if (snapshot.transfer?.state === 'failed' && snapshot.transfer.message) this.showNotice('error', snapshot.transfer.message)
    this.syncAudio()
    this.syncTick()
    this.host.requestUpdate()
  }

  private syncAudio(): void {
    const active = this.active
    const incoming = this.incoming
    let tone: ToneKind | undefined
    if (incoming) tone = active && active.state !== 'ended' ? 'waiting' : 'ring'
    else if (active?.state === 'ringing') tone = 'ringback'
    this.audio.playTone(tone)
    const hearable = active && (active.state === 'connected' || active.state === 'early-media')
    this.audio.playRemote(hearable ? this.client.getRemoteStream(active.id) : undefined)
  }

  private syncTick(): void {
    const needsTick = this.calls.some((c) => c.state === 'connected')
    if (needsTick && !this.tickTimer) this.scheduleTick()
    if (!needsTick) this.stopTick()
  }

  private scheduleTick(): void {
    this.tickTimer = this.timers.setTimer(1000, () => {
      this.tickTimer = undefined
      this.host.requestUpdate()
      if (this.calls.some((c) => c.state === 'connected')) this.scheduleTick()
    })
  }

  private stopTick(): void {
    if (this.tickTimer) this.timers.clearTimer(this.tickTimer)
    this.tickTimer = undefined
  }
}

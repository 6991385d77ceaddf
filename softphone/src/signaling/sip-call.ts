/**
 * One call: a SIP.js INVITE session (Inviter or Invitation) and the immutable
 * `CallSnapshot` the UI sees, re-emitted on every change. The policies across calls (how
 * many at once, holding the other call) are `SipCallControl`'s.
 *
 * Decline sends 603 Decline: RFC 3261 §21.6.2 "the callee's machine was successfully
 * contacted but the user explicitly does not wish to or cannot participate". As a 6xx it
 * also stops the user's other devices from ringing (§16.7 step 5: "If a 6xx response is
 * received, ... the proxy SHOULD cancel all client pending transactions"), and the caller
 * can say "declined" rather than "busy".
 *
 * DTMF goes out as RFC 4733 telephone-events through the audio sender's RTCDTMFSender,
 * never as SIP INFO (SIP.js's SessionManager default).
 */
import {
  Invitation,
  Inviter,
  RequestPendingError,
  SessionState,
  Web,
  type Bye,
  type Cancel,
  type Core,
  type Info,
  type Notification,
  type Referral,
  type Session,
  type URI,
} from 'sip.js'
import type { ActionResult, CallDirection, CallEnd, CallSnapshot, CallState, RemoteParty } from './signaling-client.ts'
import { assertedDisplayName } from './asserted-identity.ts'
import { describeCallFailure } from './failure-text.ts'
import { insertDtmf } from './dtmf.ts'
import { isSdpWithHold } from './sdp-hold.ts'
import type { MicrophoneUser } from './media-setup.ts'
import { PatchbaySessionDescriptionHandler } from './patchbay-session-description-handler.ts'


/** What a call reports to its owner. */
export interface SipCallHooks {
  /** The snapshot changed (not its creation: the owner emits the first snapshot). */
  changed(snapshot: CallSnapshot): void
  /** Far-end audio became available (or changed). */
  remoteMedia(callId: string, stream: MediaStream): void
  /** The call ended; its last snapshot (state `ended`) was reported just before. */
  ended(call: SipCall): void
  /** The far end transferred us (REFER accepted with 202): call `target` now. */
  referred(call: SipCall, referral: Referral, target: URI): void
}

function newSnapshot(id: string, direction: CallDirection, remote: RemoteParty, state: CallState): CallSnapshot {
  return { id, direction, remote, state, muted: false, onHold: false, remoteHold: false, createdAt: Date.now(), dtmfSent: '' }
}

/**
 * A call's session and snapshot. Created by `SipCall.outgoing` / `SipCall.incoming`, which
 * wire the session's delegates (BYE, re-INVITE for remote hold, REFER, INFO) and its state
 * changes; the call ends itself (`state: 'ended'` with `end`) when the session terminates.
 * Actions resolve with results for the user and never throw.
 */
export class SipCall implements MicrophoneUser {
  /** Microphone stream acquired before the INVITE / before answering (or after a device switch). */
  microphone: MediaStream | undefined
  /** Set when we ended (or are ending) the call ourselves. */
  localEnd: CallEnd | undefined
  /** Set from a non-2xx final response or a CANCEL. */
  remoteEnd: CallEnd | undefined
  /** The far end transferred us away (REFER received and followed). */
  transferredTo: string | undefined

  /** An outgoing call (state `dialing`); send its INVITE with `invite()`. */
  static outgoing(
    inviter: Inviter, remote: RemoteParty, microphone: MediaStream, referredBy: string | undefined, hooks: SipCallHooks,
  ): SipCall {
    const snapshot = newSnapshot(inviter.id, 'outgoing', remote, 'dialing')
    return new SipCall(inviter, referredBy !== undefined ? { ...snapshot, referredBy } : snapshot, hooks, microphone)
  }

  /** An incoming call (state `incoming`) from a received INVITE. */
  static incoming(invitation: Invitation, hooks: SipCallHooks): SipCall {
    const identity = invitation.remoteIdentity
    const remote = {
      user: identity.uri.user ?? identity.uri.host,
      uri: identity.uri.toString(),
      // RFC 3325: the gateway's asserted name (users.yaml) before the caller's own From name.
      displayName: assertedDisplayName(invitation.request.getHeader('P-Asserted-Identity')) || identity.displayName || '',
    }
    return new SipCall(invitation, newSnapshot(invitation.id, 'incoming', remote, 'incoming'), hooks)
  }

  private constructor(
    readonly session: Session,
    private current: CallSnapshot,
    private readonly hooks: SipCallHooks,
    microphone?: MediaStream,
  ) {
    this.microphone = microphone
    if (session instanceof Invitation) {
      session.delegate = {
        ...session.delegate,
        onCancel: (cancel: Cancel) => {
          // RFC 3326 Reason: SIP;cause=200 on the CANCEL means another device answered.
          const reason = cancel.request.getHeader('reason') ?? ''
          this.remoteEnd = /cause=200/.test(reason)
            ? { reason: 'answered-elsewhere', message: 'Answered on another device.' }
            : { reason: 'missed', message: `Missed call from ${this.current.remote.displayName || this.current.remote.user}.` }
        },
      }
    }
    this.watchSession()
  }

  get id(): string {
    return this.current.id
  }

  get snapshot(): CallSnapshot {
    return this.current
  }

  /** Applies `patch` and reports the new snapshot. */
  update(patch: Partial<CallSnapshot>): void {
    this.current = { ...this.current, ...patch }
    this.hooks.changed(this.current)
  }

  /** Sends the INVITE of an outgoing call; provisional and final responses update the snapshot. */
  invite(): void {
    const inviter = this.session as Inviter
    const remote = this.current.remote
    inviter.invite({
      requestDelegate: {
        onProgress: (response) => {
          const code = response.message.statusCode ?? 0
          const hasSdp = Boolean(response.message.body) && /application\/sdp/i.test(response.message.getHeader('content-type') ?? '')
          if (this.current.state === 'connected' || this.current.state === 'ended') return
          if (hasSdp) this.update({ state: 'early-media', ringingAt: this.current.ringingAt ?? Date.now() })
          else if (code === 180 && this.current.state !== 'early-media') this.update({ state: 'ringing', ringingAt: this.current.ringingAt ?? Date.now() })
        },
        onReject: (response) => {
          const code = response.message.statusCode ?? 0
          if (code === 487 && this.localEnd) return
          this.remoteEnd = describeCallFailure(code, remote.displayName || remote.user)
        },
        onRedirect: (response) => {
          this.remoteEnd = { reason: 'failed', statusCode: response.message.statusCode ?? 0, message: 'The call was redirected; redirection is not supported.' }
        },
      },
    }).catch((error: unknown) => {
      this.remoteEnd ??= { reason: 'failed', message: `The call could not start: ${(error as Error).message}` }
    })
  }

  /** Common session wiring: state changes, BYE, re-INVITE (remote hold), REFER, INFO. */
  private watchSession(): void {
    const session = this.session
    session.delegate = {
      ...session.delegate,
      onBye: (bye: Bye) => {
        void bye.accept()
        this.remoteEnd ??= this.transferredTo
          ? { reason: 'transferred', message: `Transferred to ${this.transferredTo}.` }
          : { reason: 'remote-hangup', message: `${this.current.remote.displayName || this.current.remote.user} hung up.` }
      },
      onInvite: (request: Core.IncomingRequestMessage, _response: string, statusCode: number) => {
        if (statusCode === 200) this.update({ remoteHold: isSdpWithHold(request.body) })
      },
      onRefer: (referral: Referral) => this.onReferral(referral),
      onInfo: (info: Info) => {
        // We do not use SIP INFO for DTMF (RFC 4733 only); accept it so the peer is not confused.
        void info.accept()
      },
      onSessionDescriptionHandler: (sdh) => {
        if (sdh instanceof Web.SessionDescriptionHandler) this.hooks.remoteMedia(this.id, sdh.remoteMediaStream)
      },
    }
    session.stateChange.addListener((sessionState) => {
      if (sessionState === SessionState.Established) {
        this.update({ state: 'connected', connectedAt: Date.now() })
        const sdh = session.sessionDescriptionHandler
        if (sdh instanceof Web.SessionDescriptionHandler) this.hooks.remoteMedia(this.id, sdh.remoteMediaStream)
      } else if (sessionState === SessionState.Terminated) {
        // SIP.js terminates the session before it calls our request delegates (onReject,
        // onCancel): finish after them, so the end reason is known.
        queueMicrotask(() => this.finish())
      }
    })
  }

  /** Ends the call once: stops the microphone, reports `ended` with the reason, then `ended(call)`. */
  finish(): void {
    if (this.current.state === 'ended') return
    const wasConnected = this.current.connectedAt !== undefined
    const who = this.current.remote.displayName || this.current.remote.user
    const end: CallEnd = this.localEnd ?? this.remoteEnd ?? (wasConnected
      ? { reason: 'remote-hangup', message: `${who} hung up.` }
      : this.current.direction === 'incoming'
        ? { reason: 'missed', message: `Missed call from ${who}.` }
        : { reason: 'failed', message: 'The call failed.' })
    for (const track of this.microphone?.getTracks() ?? []) track.stop()
    this.microphone = undefined
    this.update({ state: 'ended', endedAt: Date.now(), end })
    this.hooks.ended(this)
  }

  /** Accepts an incoming call (200 OK with our SDP answer). */
  async accept(): Promise<ActionResult> {
    try {
      await (this.session as Invitation).accept({
        sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } },
      })
      return { ok: true }
    } catch (error) {
      return { ok: false, message: `Could not answer: ${(error as Error).message}` }
    }
  }

  /** 603 Decline (RFC 3261 §21.6.2) for a call still ringing; otherwise nothing. */
  async decline(): Promise<void> {
    if (!(this.session instanceof Invitation) || this.current.state !== 'incoming') return
    this.localEnd = { reason: 'declined', statusCode: 603, message: 'You declined the call.' }
    await this.session.reject({ statusCode: 603, reasonPhrase: 'Decline' }).catch(() => undefined)
  }

  /** BYE when established, CANCEL while our INVITE is pending, 603 while ringing here; ends locally if the transport is gone. */
  async hangup(): Promise<void> {
    if (this.current.state === 'ended') return
    const session = this.session
    this.localEnd ??= this.current.state === 'connected'
      ? { reason: 'local-hangup', message: 'Call ended.' }
      : { reason: 'cancelled', message: 'Call cancelled.' }
    try {
      if (session.state === SessionState.Established) {
        await session.bye()
      } else if (session instanceof Inviter && (session.state === SessionState.Initial || session.state === SessionState.Establishing)) {
        await session.cancel()
      } else if (session instanceof Invitation && (session.state === SessionState.Initial || session.state === SessionState.Establishing)) {
        this.localEnd = { reason: 'declined', statusCode: 603, message: 'You declined the call.' }
        await session.reject({ statusCode: 603 })
      } else {
        this.finish()
      }
    } catch {
      // Transport gone: end locally.
      await session.dispose().catch(() => undefined)
      this.finish()
    }
  }

  /** Re-INVITE with a=sendonly (hold) or a=sendrecv (resume), RFC 3264 §8.4; then pauses or resumes the tracks. */
  async reinviteHold(hold: boolean): Promise<ActionResult> {
    const session = this.session
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
        sdh.enableSenderTracks(!hold && !this.current.muted)
      } catch {
        // peer connection closed meanwhile
      }
    }
    this.update({ onHold: hold })
    return { ok: true }
  }

  /** Disables (or re-enables) the microphone track we send. */
  setMuted(muted: boolean): void {
    if (this.current.state === 'ended') return
    const sdh = this.session.sessionDescriptionHandler
    if (sdh instanceof Web.SessionDescriptionHandler) {
      try {
        sdh.enableSenderTracks(!muted && !this.current.onHold)
      } catch {
        // closed
      }
    } else {
      for (const t of this.microphone?.getAudioTracks() ?? []) t.enabled = !muted
    }
    this.update({ muted })
  }

  /**
   * RFC 4733 telephone-events through the audio sender's RTCDTMFSender (W3C webrtc-pc §7).
   * Digits pressed while earlier ones still play are appended to the tone buffer, since
   * insertDTMF replaces the buffer. `tones`: 0-9, A-D, #, * and `,` (a 2 s pause).
   */
  sendDtmf(tones: string): boolean {
    if (this.current.state !== 'connected' || !insertDtmf(this.peerConnection, tones)) return false
    this.update({ dtmfSent: this.current.dtmfSent + tones })
    return true
  }

  /**
   * Blind transfer: REFER with Refer-To `uri` (RFC 3515 §2.4.1); BYE once the NOTIFY says 2xx.
   * `user` names the target in the snapshot's `transfer` and in messages.
   */
  transfer(uri: URI, user: string): Promise<ActionResult> {
    this.update({ transfer: { target: user, state: 'trying' } })
    return new Promise<ActionResult>((resolve) => {
      this.session.refer(uri, {
        requestDelegate: {
          onAccept: () => {
            this.update({ transfer: { target: user, state: 'accepted' } })
            resolve({ ok: true })
          },
          onReject: (response) => {
            const message = `Transfer refused (${response.message.statusCode}).`
            this.update({ transfer: { target: user, state: 'failed', message } })
            resolve({ ok: false, message })
          },
        },
        // RFC 3515 §2.4.5: NOTIFY bodies are message/sipfrag status lines of the new call.
        onNotify: (notification: Notification) => {
          void notification.accept()
          const status = /^SIP\/2\.0 (\d{3})/.exec(notification.request.body ?? '')
          const code = status ? Number(status[1]) : 0
          if (code >= 200 && code < 300) {
            this.update({ transfer: { target: user, state: 'succeeded' } })
            this.localEnd = { reason: 'transferred', message: `Transferred to ${user}.` }
            void this.hangup()
          } else if (code >= 300) {
            const failed = describeCallFailure(code, user)
            this.update({ transfer: { target: user, state: 'failed', message: `Transfer failed: ${failed.message}` } })
          }
        },
      }).catch((error: unknown) => {
        const message = `Transfer failed: ${(error as Error).message}`
        this.update({ transfer: { target: user, state: 'failed', message } })
        resolve({ ok: false, message })
      })
    })
  }

  /** We are the transferee (RFC 3515 §2.4.2): accept with 202 and call the Refer-To target. */
  private onReferral(referral: Referral): void {
    let target: URI
    try {
      target = referral.referTo.uri
    } catch {
      void referral.reject({ statusCode: 400 })
      return
    }
    void referral.accept()
    this.transferredTo = target.user ?? target.host
    this.hooks.referred(this, referral, target)
  }

  get peerConnection(): RTCPeerConnection | undefined {
    const sdh = this.session.sessionDescriptionHandler
    return sdh instanceof Web.SessionDescriptionHandler ? sdh.peerConnection : undefined
  }

  get localStream(): MediaStream | undefined {
    const sdh = this.session.sessionDescriptionHandler
    return sdh instanceof Web.SessionDescriptionHandler ? sdh.localMediaStream : this.microphone
  }

  get remoteStream(): MediaStream | undefined {
    const sdh = this.session.sessionDescriptionHandler
    return sdh instanceof Web.SessionDescriptionHandler ? sdh.remoteMediaStream : undefined
  }

  get canReplaceMicrophone(): boolean {
    return this.current.state !== 'ended' && this.session.sessionDescriptionHandler instanceof PatchbaySessionDescriptionHandler
  }

  get sendsAudio(): boolean {
    return !this.current.muted && !this.current.onHold
  }

  async replaceMicrophone(stream: MediaStream): Promise<void> {
    const sdh = this.session.sessionDescriptionHandler
    if (sdh instanceof PatchbaySessionDescriptionHandler) await sdh.replaceLocalStream(stream).catch(() => undefined)
    this.microphone = stream
  }
}

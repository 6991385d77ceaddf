/**
 * The calls of one SIP account: starting them (INVITE), taking incoming INVITEs, and the
 * rules across calls. Each call itself is a `SipCall`.
 *
 * - At most `MAX_CALLS` (2) at once: one active, one waiting or on hold. A third incoming
 *   INVITE gets 486 Busy Here, automatically (the user's own "decline" is 603, see SipCall).
 * - Call waiting is "answer and hold": answering, resuming or starting a call first holds
 *   the connected one (re-INVITE with a=sendonly, RFC 3264 §8.4).
 * - Before any INVITE or answer, the ICE servers are refreshed and the microphone is opened,
 *   so that a denied microphone or a missing TURN relay fails the action, not the call.
 */
import { Invitation, Inviter, UserAgent, type InviterOptions, type Referral, type URI } from 'sip.js'
import type { ActionResult, CallSnapshot, CallStartResult, SignalingEvents, SignalingPreferences } from './signaling-client.ts'
import { parseDialTarget } from './dial-target.ts'
import type { MediaSetup } from './media-setup.ts'
import { SipCall, type SipCallHooks } from './sip-call.ts'

/** At most this many calls at once (one active, one waiting/on hold); more get 486. */
const MAX_CALLS = 2

/** What call control needs from the registration (see `SipRegistration`). */
export interface SipCallRegistration {
  /** The UserAgent while signed in. */
  readonly userAgent: UserAgent | undefined
  readonly isRegistered: boolean
  /** Our SIP domain, for targets typed without one. */
  readonly domain: string | undefined
}

export interface SipCallControlOptions {
  readonly registration: SipCallRegistration
  readonly media: Pick<MediaSetup, 'prepareIce' | 'acquireMicrophone'>
  /** The current preferences (From display name); read for every new call. */
  readonly preferences: () => SignalingPreferences
  /** Emits `call` (every snapshot change) and `remote-media`. */
  readonly emit: <K extends 'call' | 'remote-media'>(type: K, event: SignalingEvents[K]) => void
}

/**
 * Starts, answers and acts on calls by id. Every snapshot change is emitted as a `call`
 * event; results are for the user and nothing throws.
 */
export class SipCallControl {
  private readonly entries = new Map<string, SipCall>()
  private readonly hooks: SipCallHooks = {
    changed: (snapshot) => this.options.emit('call', snapshot),
    remoteMedia: (callId, stream) => this.options.emit('remote-media', { callId, stream }),
    ended: (call) => {
      this.entries.delete(call.id)
    },
    referred: (call, referral, target) => this.followReferral(call, referral, target),
  }

  constructor(private readonly options: SipCallControlOptions) {}

  /** Every call not yet ended, oldest first. */
  get calls(): readonly CallSnapshot[] {
    return [...this.entries.values()].map((e) => e.snapshot).filter((s) => s.state !== 'ended')
  }

  /** The calls (a live view: calls that end meanwhile leave it), for a microphone switch. */
  liveCalls(): Iterable<SipCall> {
    return this.entries.values()
  }

  /** The microphone prepared for a session (the SessionDescriptionHandler takes it). */
  preparedMicrophone(callId: string): MediaStream | undefined {
    return this.entries.get(callId)?.microphone
  }

  /** Ends every call (BYE / CANCEL / 603), one after the other. */
  async hangupAll(): Promise<void> {
    for (const entry of this.entries.values()) {
      if (entry.snapshot.state !== 'ended') await this.hangup(entry.snapshot.id)
    }
  }

  /** Starts an outgoing call to a user name, number or SIP URI (INVITE, RFC 3261 §13). */
  async call(target: string): Promise<CallStartResult> {
    const { userAgent: ua, isRegistered, domain } = this.options.registration
    if (!ua || !isRegistered || domain === undefined) {
      return { ok: false, reason: 'not-registered', message: 'You are offline. Wait until the status shows “Registered”.' }
    }
    const parsed = parseDialTarget(target, domain)
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
    const ice = await this.options.media.prepareIce()
    if (!ice.ok) return ice
    const mic = await this.options.media.acquireMicrophone()
    if (!mic.ok) return mic
    // Hold the current call before a new one starts (e.g. a call made while another is up).
    for (const other of this.entries.values()) {
      if (other.snapshot.state === 'connected' && !other.snapshot.onHold) await this.hold(other.snapshot.id)
    }
    const displayName = this.options.preferences().displayName
    const inviter = makeInviter({
      earlyMedia: true,
      ...(displayName ? { params: { fromDisplayName: displayName } } : {}),
      sessionDescriptionHandlerOptions: { constraints: { audio: true, video: false } },
      sessionDescriptionHandlerOptionsReInvite: {},
    })
    const call = SipCall.outgoing(inviter, remote, mic.stream, referredBy, this.hooks)
    this.entries.set(call.id, call)
    this.options.emit('call', call.snapshot)
    call.invite()
    return { ok: true, callId: inviter.id }
  }

  /** An out-of-dialog INVITE from the UserAgent: ring, or 486 when two calls are already up. */
  onIncomingInvite(invitation: Invitation): void {
    if (this.calls.length >= MAX_CALLS) {
      // RFC 3261 §21.4.24 486 Busy Here: "the callee's end system was contacted successfully,
      // but the callee is currently not willing or able to take additional calls".
      void invitation.reject({ statusCode: 486 })
      return
    }
    const call = SipCall.incoming(invitation, this.hooks)
    this.entries.set(call.id, call)
    this.options.emit('call', call.snapshot)
  }

  /** Answers a ringing call; the connected call is put on hold first. */
  async answer(callId: string): Promise<ActionResult> {
    const entry = this.entries.get(callId)
    if (!entry || !(entry.session instanceof Invitation) || entry.snapshot.state !== 'incoming') {
      return { ok: false, message: 'This call is no longer ringing.' }
    }
    const ice = await this.options.media.prepareIce()
    if (!ice.ok) return { ok: false, message: ice.message }
    const mic = await this.options.media.acquireMicrophone()
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
    return entry.accept()
  }

  /** 603 Decline (RFC 3261 §21.6.2) for a ringing call. */
  async decline(callId: string): Promise<void> {
    await this.entries.get(callId)?.decline()
  }

  /** CANCEL before answer, BYE after. */
  async hangup(callId: string): Promise<void> {
    await this.entries.get(callId)?.hangup()
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
    return entry.reinviteHold(hold)
  }

  setMuted(callId: string, muted: boolean): void {
    this.entries.get(callId)?.setMuted(muted)
  }

  /** RFC 4733 DTMF on the call's audio sender; false if the call is not connected or cannot send it. */
  sendDtmf(callId: string, tones: string): boolean {
    return this.entries.get(callId)?.sendDtmf(tones) ?? false
  }

  /** Blind transfer: REFER with Refer-To (RFC 3515 §2.4.1); BYE once the NOTIFY says 2xx. */
  async transfer(callId: string, target: string): Promise<ActionResult> {
    const entry = this.entries.get(callId)
    const domain = this.options.registration.domain
    if (!entry || entry.snapshot.state !== 'connected' || domain === undefined) return { ok: false, message: 'The call is not connected.' }
    const parsed = parseDialTarget(target, domain)
    if (!parsed.ok) return { ok: false, message: parsed.message }
    const uri = UserAgent.makeURI(parsed.uri)
    if (!uri) return { ok: false, message: `“${target}” is not a valid address.` }
    return entry.transfer(uri, parsed.user)
  }

  /** We are the transferee (RFC 3515 §2.4.2), the REFER is accepted: call the Refer-To target. */
  private followReferral(call: SipCall, referral: Referral, target: URI): void {
    const user = target.user ?? target.host
    const by = call.snapshot.remote.displayName || call.snapshot.remote.user
    void this.startOutgoing(
      (options) => referral.makeInviter(options),
      { user, uri: `sip:${user}@${target.host}`, displayName: '' },
      by,
    ).then((result) => {
      if (!result.ok) call.update({ transfer: { target: user, state: 'failed', message: result.message } })
    })
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
}

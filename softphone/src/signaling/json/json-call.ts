/**
 * One call over JSON signaling: its RTCPeerConnection and the immutable `CallSnapshot` the UI
 * sees, re-emitted on every change (the SIP counterpart is `SipCall`). The first offer or
 * answer goes right after setLocalDescription with `trickle: true`, its candidates following
 * as `candidate` messages (trickle ICE, RFC 8838, json-trickle.ts; the gateway relays or
 * folds them); the other side's candidates are applied as they come. Re-offers (hold,
 * resume, restart) are sent complete (ICE gathering cut short by the same policy as SIP mode).
 *
 * - Outgoing: `call` with the offer; `ringing` (with `sdp`: early media, applied as a
 *   pranswer); `answered` (the answer).
 * - Incoming: the `incoming` offer; `accept()` sends `answer`, `decline()` sends `reject` 603.
 * - Hold / resume: `reoffer` with a=sendonly / a=sendrecv (RFC 3264 §8.4); the answer comes
 *   as `answered`. The other side's `reoffer` is answered with `answer` (remote hold when its
 *   offer is sendonly/inactive).
 * - After an attach: `restartMedia()` makes a new RTCPeerConnection and re-offers (new ICE
 *   credentials and DTLS fingerprint: an ICE restart, RFC 8445 §9).
 * - DTMF: RFC 4733 through RTCDTMFSender (`insertDtmf`), as in SIP mode.
 * - Blind transfer (RFC 3515 through the gateway): `transfer()` sends `transfer`; the call
 *   ends with `ended` cause `transferred`, or an `error` `transfer-failed` leaves it up.
 *   When the other side transfers us (`transfer` from the gateway) the owner places the new
 *   call (`transferOf`) and `transferredAway()` marks this one, as SIP mode does for a REFER.
 *
 * SDP work is serialised (one negotiation at a time). Actions resolve with results for the
 * user and never throw; the call ends itself (`state: 'ended'` with `end`) on `ended`.
 */
import type { ActionResult, CallDirection, CallEnd, CallSnapshot, CallState, RemoteParty } from '../signaling-client.ts'
import { insertDtmf } from '../dtmf.ts'
import { gatheredLocalDescription } from '../local-description.ts'
import type { MicrophoneUser } from '../media-setup.ts'
import { isSdpWithHold } from '../sdp-hold.ts'
import { describeJsonCallEnd, transferErrorText } from './json-call-end.ts'
import type { ClientMessage, ServerMessageOf } from './json-protocol.ts'
import { LocalCandidates, RemoteCandidates, type CandidateFields } from './json-trickle.ts'

/** How long a `reoffer` may wait for its `answered` (ms): the gateway v1 reports no failed re-INVITE but 481/408. */
export const REOFFER_TIMEOUT_MS = 10_000
/** How long a `hangup` may wait for its `ended` before the call ends here anyway (ms). */
export const HANGUP_TIMEOUT_MS = 5_000

/** What a call needs from its owner. */
export interface JsonCallHooks {
  /** The snapshot changed (not its creation: the owner emits the first snapshot). */
  changed(snapshot: CallSnapshot): void
  /** Far-end audio became available (or changed: a new peer connection). */
  remoteMedia(callId: string, stream: MediaStream): void
  /** The call ended; its last snapshot (state `ended`) was reported just before. */
  ended(call: JsonCall): void
  /** Sends a message to the gateway; false when the connection is down. */
  send(message: ClientMessage): boolean
  /** The configuration for a new peer connection (ICE servers, relay policy). */
  rtcConfiguration(): RTCConfiguration
  /** `new RTCPeerConnection(config)`, or a fake. */
  createPeerConnection(config: RTCConfiguration): RTCPeerConnection
  /** Trickle the first offer / answer's candidates (default true; false: complete SDP as before). */
  readonly trickle?: boolean
}

/** `sip:bob@host` (or `"Bob" <sip:bob@host>`) -> the remote party as the UI shows it. */
export function remoteParty(peer: string, displayName = ''): RemoteParty {
  const uri = /<([^>]*)>/.exec(peer)?.[1] ?? peer.trim()
  const user = /^sips?:([^@;?]+)@/i.exec(uri)?.[1] ?? uri.replace(/^sips?:/i, '')
  return { user, uri, displayName }
}

/** Options of an outgoing call placed because the far end of another call transferred us. */
export interface ReferredCall {
  /** Who transferred us (shown as "Transferred by ..."). */
  readonly referredBy: string
  /** The call whose `transfer` request this call follows (sent as `transferOf`). */
  readonly transferOf: string
}

function newSnapshot(id: string, direction: CallDirection, remote: RemoteParty, state: CallState): CallSnapshot {
  return { id, direction, remote, state, muted: false, onHold: false, remoteHold: false, createdAt: Date.now(), dtmfSent: '' }
}

/** A JSON signaling call (see the file comment). */
export class JsonCall implements MicrophoneUser {
  private pc: RTCPeerConnection | undefined
  private pcConfig: RTCConfiguration = {}
  private remote: MediaStream | undefined
  /** Set when we ended (or are ending) the call ourselves. */
  private localEnd: CallEnd | undefined
  private waitingAnswer: { resolve: (sdp: string | undefined) => void; timer: ReturnType<typeof setTimeout> } | undefined
  private hangupTimer: ReturnType<typeof setTimeout> | undefined
  private queue: Promise<unknown> = Promise.resolve()
  /** The call whose `transfer` request this outgoing call follows. */
  private transferOf: string | undefined
  /** The far end transferred us away to this party (a `transfer` request followed). */
  private transferredTo: string | undefined
  /** Our trickled candidates of the first offer / answer, and the other side's waiting for a remote description. */
  private localCandidates: LocalCandidates | undefined
  private readonly remoteCandidates = new RemoteCandidates()

  /** An outgoing call (`dialing`); `start()` sends its `call` (with `transferOf` when `referred`). */
  static outgoing(id: string, remote: RemoteParty, microphone: MediaStream, hooks: JsonCallHooks, referred?: ReferredCall): JsonCall {
    const snapshot = newSnapshot(id, 'outgoing', remote, 'dialing')
    const call = new JsonCall(referred ? { ...snapshot, referredBy: referred.referredBy } : snapshot, hooks, microphone)
    call.transferOf = referred?.transferOf
    return call
  }

  /** An incoming call (`incoming`) with the caller's offer. */
  static incoming(id: string, remote: RemoteParty, offer: string, hooks: JsonCallHooks): JsonCall {
    return new JsonCall(newSnapshot(id, 'incoming', remote, 'incoming'), hooks, undefined, offer)
  }

  /** A connected call found in the session after a page reload; `restartMedia()` gives it media. */
  static restored(id: string, direction: CallDirection, remote: RemoteParty, hooks: JsonCallHooks): JsonCall {
    return new JsonCall({ ...newSnapshot(id, direction, remote, 'connected'), connectedAt: Date.now() }, hooks)
  }

  private constructor(
    private current: CallSnapshot,
    private readonly hooks: JsonCallHooks,
    /** The microphone stream of this call (before the offer / answer, or after a device switch). */
    public microphone?: MediaStream,
    private readonly offer?: string,
  ) {}

  get id(): string {
    return this.current.id
  }

  get snapshot(): CallSnapshot {
    return this.current
  }

  private update(patch: Partial<CallSnapshot>): void {
    if (this.current.state === 'ended') return
    this.current = { ...this.current, ...patch }
    this.hooks.changed(this.current)
  }

  private get who(): string {
    return this.current.remote.displayName || this.current.remote.user
  }

  /** Runs SDP work one at a time; a failure of one step does not block the next. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work)
    this.queue = run.catch(() => undefined)
    return run
  }

  /** A new peer connection with the microphone on it; the old one (if any) is closed. */
  private newPeerConnection(): RTCPeerConnection {
    this.localCandidates?.stop()
    this.localCandidates = undefined
    this.pc?.close()
    this.pcConfig = this.hooks.rtcConfiguration()
    const pc = this.hooks.createPeerConnection(this.pcConfig)
    this.pc = pc
    this.remote = undefined
    const mic = this.microphone
    const track = mic?.getAudioTracks()[0]
    if (mic && track) {
      track.enabled = this.sendsAudio
      pc.addTrack(track, mic)
    } else {
      pc.addTransceiver('audio', { direction: 'recvonly' })
    }
    pc.addEventListener('track', (event) => {
      if (pc !== this.pc) return
      const e = event as RTCTrackEvent
      const stream = e.streams[0] ?? this.remote ?? new MediaStream()
      if (!stream.getTracks().includes(e.track)) stream.addTrack(e.track)
      this.remote = stream
      this.hooks.remoteMedia(this.id, stream)
    })
    return pc
  }

  private get trickles(): boolean {
    return this.hooks.trickle !== false
  }

  /**
   * The local description `create` makes: with trickle, right after setLocalDescription (the
   * candidates follow once `localCandidates.start()` runs), else complete (gathered).
   */
  private async localDescription(pc: RTCPeerConnection, create: () => Promise<RTCSessionDescriptionInit>): Promise<string> {
    if (!this.trickles) return gatheredLocalDescription(pc, this.pcConfig, create)
    this.localCandidates = new LocalCandidates(pc, this.pcConfig, (c) => this.hooks.send({ type: 'candidate', callId: this.id, ...c }))
    await pc.setLocalDescription(await create())
    const sdp = pc.localDescription?.sdp
    if (!sdp) throw new Error('no local description')
    return sdp
  }

  /** Sends the `call` with the offer (trickle: its candidates follow); ends the call when that fails. */
  start(): Promise<void> {
    return this.exclusive(async () => {
      try {
        const pc = this.newPeerConnection()
        const sdp = await this.localDescription(pc, () => pc.createOffer())
        if (this.localEnd) return this.finish() // hung up while gathering: nothing was sent
        if (this.current.state === 'ended') return
        const transferOf = this.transferOf !== undefined ? { transferOf: this.transferOf } : {}
        const trickle = this.trickles ? { trickle: true } : {}
        if (!this.hooks.send({ type: 'call', callId: this.id, to: this.current.remote.uri, sdp, ...transferOf, ...trickle })) {
          this.finish({ reason: 'network', message: 'You are offline.' })
          return
        }
        this.localCandidates?.start()
      } catch (error) {
        this.finish({ reason: 'failed', message: `The call could not start: ${(error as Error).message}` })
      }
    })
  }

  /** `ringing`: the callee rings (180), or sends early media (183 with `sdp`, applied as a pranswer). */
  onRinging(sdp: string | undefined): void {
    if (this.current.state !== 'dialing' && this.current.state !== 'ringing') return
    const ringingAt = this.current.ringingAt ?? Date.now()
    if (!sdp) {
      this.update({ state: 'ringing', ringingAt })
      return
    }
    void this.exclusive(async () => {
      try {
        await this.pc?.setRemoteDescription({ type: 'pranswer', sdp })
        if (this.pc) await this.remoteCandidates.flush(this.pc)
        this.update({ state: 'early-media', ringingAt })
      } catch {
        this.update({ state: 'ringing', ringingAt })
      }
    })
  }

  /** `answered`: the answer to our `call`, or to our `reoffer`. */
  onAnswered(sdp: string): void {
    if (this.waitingAnswer) {
      const waiting = this.waitingAnswer
      this.waitingAnswer = undefined
      clearTimeout(waiting.timer)
      waiting.resolve(sdp)
      return
    }
    if (this.current.state === 'connected' || this.current.state === 'ended') return
    void this.exclusive(async () => {
      try {
        await this.pc?.setRemoteDescription({ type: 'answer', sdp })
        if (this.pc) await this.remoteCandidates.flush(this.pc)
        this.update({ state: 'connected', connectedAt: Date.now() })
      } catch (error) {
        this.localEnd = { reason: 'incompatible', message: `${this.who}'s phone cannot handle this call's audio (${(error as Error).message}).` }
        this.hooks.send({ type: 'hangup', callId: this.id, reason: 'Incompatible SDP' })
        this.endSoon()
      }
    })
  }

  /** Answers the ringing call: our SDP answer to the caller's offer, sent as `answer`. */
  accept(microphone: MediaStream): Promise<ActionResult> {
    this.microphone = microphone
    return this.exclusive(async (): Promise<ActionResult> => {
      if (this.current.state !== 'incoming' || this.offer === undefined) return { ok: false, message: 'This call is no longer ringing.' }
      try {
        const pc = this.newPeerConnection()
        await pc.setRemoteDescription({ type: 'offer', sdp: this.offer })
        await this.remoteCandidates.flush(pc)
        const sdp = await this.localDescription(pc, () => pc.createAnswer())
        if (this.current.state !== 'incoming') return { ok: false, message: 'The caller hung up.' }
        const trickle = this.trickles ? { trickle: true } : {}
        if (!this.hooks.send({ type: 'answer', callId: this.id, sdp, ...trickle })) return { ok: false, message: 'You are offline.' }
        this.localCandidates?.start()
        this.update({ state: 'connected', connectedAt: Date.now(), remoteHold: isSdpWithHold(this.offer) })
        return { ok: true }
      } catch (error) {
        return { ok: false, message: `Could not answer: ${(error as Error).message}` }
      }
    })
  }

  /** A `candidate` of the other side (trickle ICE): applied now, or once the remote description is set. */
  onRemoteCandidate(c: CandidateFields): void {
    if (this.current.state === 'ended') return
    this.remoteCandidates.add(this.pc, c)
  }

  /** 603 Decline (as SIP mode: the caller is told "declined") for a call still ringing here. */
  decline(): void {
    if (this.current.state !== 'incoming') return
    this.localEnd = { reason: 'declined', statusCode: 603, message: 'You declined the call.' }
    if (!this.hooks.send({ type: 'reject', callId: this.id, status: 603, reason: 'Decline' })) this.finish()
    else this.endSoon()
  }

  /** `hangup` (CANCEL while ringing out, BYE once connected); a ringing incoming call is declined. */
  hangup(): void {
    if (this.current.state === 'ended') return
    if (this.current.state === 'incoming') return this.decline()
    this.localEnd ??= this.current.state === 'connected'
      ? { reason: 'local-hangup', message: 'Call ended.' }
      : { reason: 'cancelled', message: 'Call cancelled.' }
    if (!this.hooks.send({ type: 'hangup', callId: this.id })) this.finish()
    else this.endSoon()
  }

  /** Waits for the gateway's `ended`, at most HANGUP_TIMEOUT_MS. */
  private endSoon(): void {
    this.hangupTimer ??= setTimeout(() => this.finish(), HANGUP_TIMEOUT_MS)
  }

  /** Sends `reoffer` and waits for its `answered`: the answer SDP, or undefined (refused, timed out, offline). */
  private reofferAndWait(sdp: string): Promise<string | undefined> {
    if (!this.hooks.send({ type: 'reoffer', callId: this.id, sdp })) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waitingAnswer = undefined
        resolve(undefined)
      }, REOFFER_TIMEOUT_MS)
      this.waitingAnswer = { resolve, timer }
    })
  }

  private audioTransceiver(): RTCRtpTransceiver | undefined {
    return this.pc?.getTransceivers().find((t) => t.sender.track?.kind === 'audio' || t.receiver.track?.kind === 'audio')
  }

  private enableMicrophone(on: boolean): void {
    for (const track of this.microphone?.getAudioTracks() ?? []) track.enabled = on
  }

  /** Hold (a=sendonly, microphone paused) or resume (a=sendrecv) with a `reoffer`, RFC 3264 §8.4. */
  setHold(hold: boolean): Promise<ActionResult> {
    return this.exclusive(async (): Promise<ActionResult> => {
      const pc = this.pc
      const transceiver = this.audioTransceiver()
      if (this.current.state !== 'connected' || !pc || !transceiver) return { ok: false, message: 'The call is not connected.' }
      if (this.current.onHold === hold) return { ok: true }
      const previous = transceiver.direction
      try {
        transceiver.direction = hold ? 'sendonly' : 'sendrecv'
        const offer = await gatheredLocalDescription(pc, this.pcConfig, () => pc.createOffer())
        const answer = await this.reofferAndWait(offer)
        if (!answer) throw new Error(hold ? 'The other side did not take the hold.' : 'The other side did not take the resume.')
        await pc.setRemoteDescription({ type: 'answer', sdp: answer })
        this.update({ onHold: hold })
        this.enableMicrophone(this.sendsAudio)
        return { ok: true }
      } catch (error) {
        await this.rollback(pc)
        transceiver.direction = previous
        return { ok: false, message: (error as Error).message }
      }
    })
  }

  private async rollback(pc: RTCPeerConnection): Promise<void> {
    if (pc.signalingState === 'have-local-offer') await pc.setLocalDescription({ type: 'rollback' }).catch(() => undefined)
  }

  /** The other side's `reoffer` (hold, resume, ICE restart): answered with `answer`. */
  onReoffer(sdp: string): Promise<void> {
    return this.exclusive(async () => {
      const pc = this.pc
      if (this.current.state !== 'connected' || !pc) return
      try {
        await this.rollback(pc)
        await pc.setRemoteDescription({ type: 'offer', sdp })
        const answer = await gatheredLocalDescription(pc, this.pcConfig, () => pc.createAnswer())
        this.hooks.send({ type: 'answer', callId: this.id, sdp: answer })
        this.update({ remoteHold: isSdpWithHold(sdp) })
      } catch {
        // An offer we cannot take: the gateway's re-INVITE stays unanswered and its peer times out.
      }
    })
  }

  /**
   * A new peer connection and a `reoffer` for it (after an attach: a reloaded page has none,
   * a reconnected one needs new ICE credentials). `microphone` replaces the current one.
   */
  restartMedia(microphone?: MediaStream): Promise<ActionResult> {
    if (microphone) this.microphone = microphone
    // A hold or resume waiting on the old connection will not be answered: let it fail now.
    this.answerWaitersFail()
    return this.exclusive(async (): Promise<ActionResult> => {
      if (this.current.state === 'ended') return { ok: false, message: 'The call has ended.' }
      try {
        const pc = this.newPeerConnection()
        const onHold = this.current.onHold
        const transceiver = this.audioTransceiver()
        if (onHold && transceiver) transceiver.direction = 'sendonly'
        const offer = await gatheredLocalDescription(pc, this.pcConfig, () => pc.createOffer())
        const answer = await this.reofferAndWait(offer)
        if (!answer) throw new Error('The other side did not take the new connection.')
        await pc.setRemoteDescription({ type: 'answer', sdp: answer })
        if (this.current.state !== 'connected') this.update({ state: 'connected', connectedAt: this.current.connectedAt ?? Date.now() })
        return { ok: true }
      } catch (error) {
        return { ok: false, message: (error as Error).message }
      }
    })
  }

  private answerWaitersFail(): void {
    const waiting = this.waitingAnswer
    this.waitingAnswer = undefined
    if (waiting) {
      clearTimeout(waiting.timer)
      waiting.resolve(undefined)
    }
  }

  /**
   * Blind transfer to `uri` (`transfer`, REFER through the gateway, RFC 3515 §2.4.1); `user`
   * names the target in the snapshot. The gateway sends no "accepted": the transfer stays
   * `trying` until the call ends `transferred` or an `error` says it failed.
   */
  transfer(uri: string, user: string): ActionResult {
    if (this.current.state !== 'connected') return { ok: false, message: 'The call is not connected.' }
    if (this.current.transfer?.state === 'trying') return { ok: false, message: 'A transfer is already under way.' }
    this.update({ transfer: { target: user, state: 'trying' } })
    if (!this.hooks.send({ type: 'transfer', callId: this.id, to: uri })) {
      const message = 'Transfer failed: you are offline.'
      this.update({ transfer: { target: user, state: 'failed', message } })
      return { ok: false, message }
    }
    return { ok: true }
  }

  /** The far end transferred us to `target` (its `transfer` request is being followed). */
  transferredAway(target: string): void {
    this.transferredTo = target
  }

  /** Following the far end's transfer request failed before the new call started. */
  transferFailed(target: string, message: string): void {
    this.update({ transfer: { target, state: 'failed', message } })
  }

  /** An `error` about this call: a refused `call` ends it; a refused `reoffer` fails the hold / resume. */
  onError(error: ServerMessageOf<'error'>): void {
    const transfer = this.current.transfer
    if (transfer?.state === 'trying' && (error.code === 'transfer-failed' || error.code === 'wrong-state' || error.code === 'invalid-field')) {
      this.update({ transfer: { target: transfer.target, state: 'failed', message: transferErrorText(error, transfer.target) } })
      return
    }
    if (error.code === 'transfer-failed') return
    if (this.waitingAnswer) return this.answerWaitersFail()
    if (this.localEnd) return this.finish()
    if (this.current.state === 'dialing' && error.code !== 'wrong-state') {
      const message = error.code === 'self-call' ? 'You cannot call yourself.'
        : error.code === 'invalid-field' ? `“${this.current.remote.uri}” is not a valid address.`
          : `The call could not start: ${error.message}`
      this.finish({ reason: 'failed', ...(error.status !== undefined ? { statusCode: error.status } : {}), message })
    } else if (error.code === 'unknown-call') {
      this.finish({ reason: 'network', message: 'The call was lost.' })
    }
  }

  /** `ended` from the gateway. */
  onEnded(ended: ServerMessageOf<'ended'>): void {
    const transfer = this.current.transfer
    if (ended.cause === 'transferred' && transfer) {
      this.update({ transfer: { target: transfer.target, state: 'succeeded' } })
      return this.finish({ reason: 'transferred', statusCode: ended.status, message: `Transferred to ${transfer.target}.` })
    }
    if (this.transferredTo !== undefined && ended.by === 'remote' && (ended.cause === 'hangup' || ended.cause === 'transferred')) {
      return this.finish({ reason: 'transferred', statusCode: ended.status, message: `Transferred to ${this.transferredTo}.` })
    }
    const end = this.localEnd ?? describeJsonCallEnd(ended, {
      who: this.who, direction: this.current.direction, wasConnected: this.current.connectedAt !== undefined,
    })
    this.finish({ ...end, statusCode: end.statusCode ?? ended.status })
  }

  /** Ends the call once: closes the peer connection, stops the microphone, reports `ended`. */
  finish(end?: CallEnd): void {
    if (this.current.state === 'ended') return
    if (this.hangupTimer !== undefined) clearTimeout(this.hangupTimer)
    this.answerWaitersFail()
    const final: CallEnd = end ?? this.localEnd ?? { reason: 'failed', message: 'The call failed.' }
    this.localCandidates?.stop()
    this.pc?.close()
    for (const track of this.microphone?.getTracks() ?? []) track.stop()
    this.update({ state: 'ended', endedAt: Date.now(), end: final })
    this.hooks.ended(this)
  }

  setMuted(muted: boolean): void {
    if (this.current.state === 'ended') return
    this.update({ muted })
    this.enableMicrophone(this.sendsAudio)
  }

  /** RFC 4733 DTMF on the audio sender; false when not connected or it cannot be sent. */
  sendDtmf(tones: string): boolean {
    if (this.current.state !== 'connected' || !insertDtmf(this.pc, tones)) return false
    this.update({ dtmfSent: this.current.dtmfSent + tones })
    return true
  }

  get peerConnection(): RTCPeerConnection | undefined {
    return this.pc
  }

  get localStream(): MediaStream | undefined {
    return this.microphone
  }

  get remoteStream(): MediaStream | undefined {
    return this.remote
  }

  get canReplaceMicrophone(): boolean {
    return this.current.state !== 'ended' && this.pc !== undefined
  }

  get sendsAudio(): boolean {
    return !this.current.muted && !this.current.onHold
  }

  /** Puts `stream`'s audio track on the sender (device switch); never rejects. */
  async replaceMicrophone(stream: MediaStream): Promise<void> {
    const sender = this.pc?.getSenders().find((s) => s.track?.kind === 'audio')
    const track = stream.getAudioTracks()[0]
    if (sender && track) await sender.replaceTrack(track).catch(() => undefined)
    for (const old of this.microphone?.getTracks() ?? []) if (old !== track) old.stop()
    this.microphone = stream
  }
}

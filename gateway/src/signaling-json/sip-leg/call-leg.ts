/**
 * One call of a JSON user, as the SIP dialog the gateway owns on that user's behalf (RFC 3261
 * §12-15): an outgoing INVITE (UAC) or an incoming one (UAS), its provisional and final
 * responses, ACK, CANCEL, BYE, and re-INVITEs for hold and resume (§14).
 *
 * The JSON side is told through `CallEvents` (ringing, answered, ended, incoming re-offer);
 * the JSON session calls the methods (answer, reject, hangup, reoffer).
 */
import { SipRequest, type SipResponse } from '../../sip/message/sip-message.ts'
import { parseNameAddr } from '../../sip/syntax/name-addr.ts'
import { cancelFor } from '../../sip/message/transaction-requests.ts'
import type { HeaderField } from '../../sip/syntax/types.ts'
import type { Scheduler } from '../../base/scheduler.ts'
import { bodyOf, newCallId, newTag, type ChallengedResponse, type SipEndpoint } from './sip-endpoint.ts'
import { endCauseOf, type CallEndCause } from './end-cause.ts'
import { CallTransfer } from './call-transfer.ts'
import { OkRetransmission } from './ok-retransmission.ts'
import { assertedDisplayName, hasToken, uriText } from './header-values.ts'
import { asTrickleInfo, HALF_TRICKLE_CAP_MS, infoDialogOf, readTrickleInfo, TRICKLE_HEADERS, TrickleIce, type InfoDialog, type TrickleMode } from './trickle-ice.ts'
import { TRICKLE_ICE, withTrickleOption, type TrickledCandidate } from './trickle-sdp.ts'

export type CallDirection = 'outgoing' | 'incoming'
export type CallLegState = 'calling' | 'ringing' | 'connected' | 'ended'

/** What a call leg tells the JSON session. */
export interface CallEvents {
  ringing(leg: CallLeg, sdp: string | undefined): void
  answered(leg: CallLeg, sdp: string): void
  /** The other side re-offers (hold, resume): the client answers with `answer`. */
  reoffer(leg: CallLeg, sdp: string): void
  /** Our re-offer was refused (491 glare, 488, 5xx): the call goes on with the previous session. */
  reofferRefused(leg: CallLeg, status: number, reason: string): void
  /** The other side asks this user to call `target` (a REFER, RFC 3515 §2.4.2; 202 sent). */
  transferRequested(leg: CallLeg, target: string, referredBy: string | undefined): void
  /** Our REFER's outcome (RFC 3515 §2.4.4/§2.4.5): the final status of the transfer target's call, or of the REFER itself. */
  transferFailed(leg: CallLeg, status: number, reason: string): void
  ended(leg: CallLeg, status: number, cause: CallEndCause, by: 'local' | 'remote' | 'gateway', reason?: string): void
  /** The other side trickled candidates (an INFO of the trickle-ice package, RFC 8840 §6); `end`: a=end-of-candidates. */
  remoteCandidates(leg: CallLeg, candidates: TrickledCandidate[], end: boolean): void
}

const decoder = new TextDecoder()
const SDP: HeaderField = { name: 'content-type', value: 'application/sdp' }
const ALLOW: HeaderField = { name: 'allow', value: 'INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE, REFER, NOTIFY, INFO' }
const NO_EVENTS: CallEvents = { ringing() {}, answered() {}, reoffer() {}, reofferRefused() {}, transferRequested() {}, transferFailed() {}, ended() {}, remoteCandidates() {} }

export class CallLeg {
  state: CallLegState = 'calling'
  /** SIP Call-ID of the dialog. */
  readonly sipCallId: string
  readonly localTag: string
  remoteTag: string | null = null
  /** The other side's URI as the user sees it (`sip:bob@domain`). */
  readonly peer: string
  readonly peerDisplayName: string | undefined
  /** Remote target (§12.1: the Contact URI) and route set, once the dialog exists. */
  private remoteTarget: string
  private routeSet: string[] = []
  private localCseq = 1
  /** Outgoing: the INVITE in progress (the retried one after a challenge), for CANCEL. */
  private invite: SipRequest | null = null
  /** A provisional response (100 included) arrived: a CANCEL may go (§9.1). */
  private provisional = false
  private cancelRequested = false
  private cancelSent = false
  /** Incoming: the INVITE being answered, its 2xx and the 2xx's retransmission timer (§13.3.1.4). */
  private incomingInvite: SipRequest | null = null
  private readonly okRetransmission: OkRetransmission
  /** A re-INVITE from the other side waiting for the client's answer. */
  private pendingReoffer: SipRequest | null = null
  /** Our re-INVITE waiting for its answer. */
  private reofferInFlight = false
  /** RFC 3515 blind transfer, both roles. */
  private readonly xfer: CallTransfer
  /** Trickle ICE of this call's first offer / answer (trickle-ice.ts), when the client trickles. */
  private trickle: TrickleIce | null = null
  /** Incoming: the caller takes trickle-ice INFOs (`Recv-Info`, RFC 8840 §4.1). */
  peerTrickles = false

  private constructor(
    readonly callId: string,
    readonly direction: CallDirection,
    private readonly ep: SipEndpoint,
    private readonly scheduler: Scheduler,
    private readonly events: CallEvents,
    private readonly timers: { t1: number; t2: number },
    init: { sipCallId: string; localTag: string; peer: string; peerDisplayName?: string; remoteTarget: string },
  ) {
    this.sipCallId = init.sipCallId
    this.localTag = init.localTag
    this.peer = init.peer
    this.peerDisplayName = init.peerDisplayName
    this.remoteTarget = init.remoteTarget
    const leg = this
    this.okRetransmission = new OkRetransmission(scheduler, timers, (ok) => ep.transmit(ok), () => {
      // §13.3.1.4: "the dialog is confirmed, but the session SHOULD be terminated."
      this.sendBye()
      this.finish(408, 'failed', 'gateway', 'No ACK')
    })
    this.xfer = new CallTransfer(ep, {
      get connected() { return leg.state === 'connected' },
      nextRequest: (method) => this.inDialogRequest(method, ++this.localCseq),
      noteCseq: (seq) => { this.localCseq = seq },
      endTransferred: () => {
        this.sendBye('Transferred')
        this.finish(200, 'transferred', 'local', 'Transferred')
      },
      requested: (target, by) => this.events.transferRequested(this, target, by),
      failed: (status, reason) => this.events.transferFailed(this, status, reason),
    })
  }

  /** Dialog key: Call-ID and local tag (§12.2.2: how requests inside the dialog are matched). */
  get dialogKey(): string {
    return `${this.sipCallId} ${this.localTag}`
  }

  // ---- outgoing (UAC, §13.2) --------------------------------------------------------------

  /**
   * Starts an outgoing call: INVITE `targetUri` with the SDP offer. `trickle` (the client
   * trickles its candidates): 'full' sends the INVITE at once with `Supported`/`Recv-Info:
   * trickle-ice` and candidates follow by INFO; 'half' waits for the end marker (at most
   * HALF_TRICKLE_CAP_MS) and sends them folded into the offer (RFC 8838 §4, RFC 8840 §4.1).
   */
  static call(
    callId: string, targetUri: string, sdp: string, ep: SipEndpoint, scheduler: Scheduler, events: CallEvents,
    timers: { t1: number; t2: number }, trickle?: TrickleMode,
  ): CallLeg {
    const leg = new CallLeg(callId, 'outgoing', ep, scheduler, events, timers, {
      sipCallId: newCallId(), localTag: newTag(), peer: targetUri, remoteTarget: targetUri,
    })
    if (trickle === undefined) {
      leg.sendInvite(targetUri, sdp, [])
      return leg
    }
    leg.trickle = new TrickleIce(trickle, sdp, scheduler, (d, body) => leg.sendInfo(d, body))
    if (trickle === 'full') leg.sendInvite(targetUri, withTrickleOption(sdp), TRICKLE_HEADERS)
    else leg.trickle.waitForEnd(HALF_TRICKLE_CAP_MS, () => leg.sendInvite(targetUri, leg.trickle!.foldedSdp(), TRICKLE_HEADERS))
    return leg
  }

  private sendInvite(targetUri: string, sdp: string, extra: readonly HeaderField[]): void {
    const leg = this
    const ep = this.ep
    if (this.state === 'ended') return
    const invite = new SipRequest('INVITE', targetUri, [
      ep.via(),
      { name: 'max-forwards', value: '70' },
      { name: 'to', value: `<${targetUri}>` },
      { name: 'from', value: ep.fromValue(leg.localTag) },
      { name: 'call-id', value: leg.sipCallId },
      { name: 'cseq', value: `${leg.localCseq} INVITE` },
      ep.contact(),
      ALLOW,
      ...extra,
      SDP,
    ], bodyOf(sdp))
    leg.invite = invite
    ep.send(invite, (res) => leg.onInviteResponse(res as ChallengedResponse))
  }

  /** A local candidate (or the end marker, `candidate: ''`) the client trickled; ignored unless this call trickles. */
  addLocalCandidate(c: TrickledCandidate): void {
    if (this.state !== 'ended') this.trickle?.addLocal(c)
  }

  /** A response that makes or confirms a dialog: where trickle INFOs go (§12.1.2). */
  private trickleDialog(res: SipResponse): void {
    const d = this.trickle === null ? null : infoDialogOf(res, this.peer)
    if (d !== null) this.trickle!.dialog(d, this.trickle!.mode === 'half')
  }

  /** One INFO of the trickle-ice Info Package in `d`, early or confirmed (RFC 6086 §4.2.1). */
  private sendInfo(d: InfoDialog, body: string): void {
    const req = asTrickleInfo(this.inDialogRequest('INFO', ++this.localCseq, d), body)
    this.ep.send(req, (res) => {
      if ((res as ChallengedResponse).retriedAs) {
        this.localCseq = (res as ChallengedResponse).retriedAs!.cseq.seq
        return
      }
      if (res.status >= 300) this.trickle?.dropDialog(d.remoteTag)
    })
  }

  private onInviteResponse(res: ChallengedResponse): void {
    if (res.retriedAs) {
      // Challenged (§22.2): the request went again with credentials; a CANCEL names that one.
      // The retried INVITE is a new transaction: a CANCEL waits for its own provisional.
      this.invite = res.retriedAs
      this.localCseq = res.retriedAs.cseq.seq
      this.provisional = false
      return
    }
    if (this.state === 'ended') {
      // Given up before any provisional: the CANCEL goes now (§9.1).
      if (res.status < 200 && this.cancelRequested) return this.sendCancel()
      // A 2xx after we gave up (CANCEL lost the race): accept it and end it at once (§15).
      if (res.status >= 200 && res.status < 300) {
        this.establish(res)
        this.ack(res)
        this.sendBye()
      }
      return
    }
    const status = res.status
    if (status < 200) {
      this.provisional = true
      if (this.cancelRequested) return this.sendCancel()
      if (status === 100) return
      this.trickleDialog(res)
      this.state = 'ringing'
      const sdp = res.body.length > 0 ? decoder.decode(res.body) : undefined
      this.events.ringing(this, sdp)
      return
    }
    if (status < 300) {
      this.establish(res)
      this.ack(res)
      this.trickle?.confirmed(this.remoteTag ?? '')
      this.trickleDialog(res)
      if (this.cancelRequested) {
        // Answered while our CANCEL was on its way: hang up the call the other side accepted.
        this.sendBye()
        this.finish(487, 'cancelled', 'local')
        return
      }
      this.state = 'connected'
      this.events.answered(this, decoder.decode(res.body))
      return
    }
    if (this.cancelRequested && status === 487) return this.finish(487, 'cancelled', 'local')
    this.finish(status, endCauseOf(status), 'remote', res.reason)
  }

  /** A retransmitted 2xx for this dialog (our ACK was lost): ACK it again (§13.2.2.4). */
  onRetransmitted2xx(res: SipResponse): void {
    if (this.remoteTag !== null && res.to.params['tag'] === this.remoteTag) this.ack(res)
    else {
      // Another fork answered too (§13.2.2.4): ACK and BYE that dialog.
      const other = new CallLeg(this.callId, 'outgoing', this.ep, this.scheduler, NO_EVENTS, this.timers, {
        sipCallId: this.sipCallId, localTag: this.localTag, peer: this.peer, remoteTarget: this.peer,
      })
      other.localCseq = this.localCseq
      other.establish(res)
      other.ack(res)
      other.sendBye()
    }
  }

  /** §12.1.2: the dialog from a 2xx: remote tag, remote target (Contact), route set (Record-Route reversed). */
  private establish(res: SipResponse): void {
    this.remoteTag = res.to.params['tag'] ?? ''
    const contact = res.get('contact')
    const na = contact === undefined ? null : parseNameAddr(contact)
    if (na) this.remoteTarget = contactUriText(contact!)
    this.routeSet = res.getAll('record-route').reverse()
  }

  /** The ACK for a 2xx (§13.2.2.4): a new transaction-less request inside the dialog. */
  private ack(res: SipResponse): void {
    // §13.2.2.4: the CSeq number of the INVITE (INFOs may have used later numbers since).
    const ack = this.inDialogRequest('ACK', res.cseq.seq)
    ack.set('to', res.get('to')!)
    this.ep.transmit(ack)
  }

  // ---- incoming (UAS, §13.3) --------------------------------------------------------------

  /**
   * An INVITE that creates a dialog with this user: rings at once (180, §13.3.1.1) and lets
   * the JSON client know through the session (which sends `incoming`).
   */
  static incoming(
    callId: string, invite: SipRequest, ep: SipEndpoint, scheduler: Scheduler, events: CallEvents,
    timers: { t1: number; t2: number }, clientTrickles = false,
  ): CallLeg {
    const from = invite.from
    const leg = new CallLeg(callId, 'incoming', ep, scheduler, events, timers, {
      sipCallId: invite.callId,
      localTag: newTag(),
      peer: uriText(invite.get('from')!),
      peerDisplayName: assertedDisplayName(invite) ?? from.displayName ?? undefined,
      remoteTarget: contactUriText(invite.get('contact') ?? `<${uriText(invite.get('from')!)}>`),
    })
    leg.remoteTag = from.params['tag'] ?? ''
    // §12.1.1: the UAS route set is the Record-Route list in order.
    leg.routeSet = invite.getAll('record-route')
    leg.incomingInvite = invite
    leg.state = 'ringing'
    leg.peerTrickles = hasToken(invite.getAll('recv-info'), TRICKLE_ICE)
    // RFC 8840 §4.1, RFC 6086 §5.2.2: the 180 tells the caller it may trickle by INFO.
    const trickle = clientTrickles ? TRICKLE_HEADERS : []
    ep.respond(invite, 180, { toTag: leg.localTag, headers: [ep.contact(), ...trickle], copyRecordRoute: true })
    return leg
  }

  /**
   * The client answers (an incoming call, or the other side's re-offer). `trickle` (the client
   * trickles the answer's candidates, first answer only): when the caller takes trickle-ice
   * INFOs the 200 goes at once and the candidates follow by INFO, else the 200 waits for the
   * end marker (at most HALF_TRICKLE_CAP_MS) with them folded in (RFC 8840 §4.2).
   */
  answer(sdp: string, trickle = false): 'ok' | 'wrong-state' {
    if (this.pendingReoffer !== null) {
      const re = this.pendingReoffer
      this.pendingReoffer = null
      this.ep.respond(re, 200, { toTag: this.localTag, headers: [this.ep.contact(), SDP], body: bodyOf(sdp) })
      return 'ok'
    }
    if (this.direction !== 'incoming' || this.state !== 'ringing' || this.incomingInvite === null || this.trickle !== null) return 'wrong-state'
    if (!trickle) return this.sendOk(sdp, [])
    const t = new TrickleIce(this.peerTrickles ? 'full' : 'half', sdp, this.scheduler, (d, body) => this.sendInfo(d, body))
    this.trickle = t
    const dialog = { remoteTag: this.remoteTag ?? '', remoteTarget: this.remoteTarget, routeSet: this.routeSet, accepts: this.peerTrickles }
    if (t.mode === 'full') {
      this.sendOk(withTrickleOption(sdp), TRICKLE_HEADERS)
      t.dialog(dialog)
    } else {
      t.waitForEnd(HALF_TRICKLE_CAP_MS, () => {
        if (this.state !== 'ringing') return
        this.sendOk(t.foldedSdp(), [])
        t.dialog(dialog, true)
      })
    }
    return 'ok'
  }

  private sendOk(sdp: string, extra: readonly HeaderField[]): 'ok' {
    const invite = this.incomingInvite!
    this.state = 'connected'
    // §13.3.1.4: retransmitted until the ACK comes (ok-retransmission.ts).
    this.okRetransmission.start(this.ep.respond(invite, 200, {
      toTag: this.localTag, headers: [this.ep.contact(), ALLOW, ...extra, SDP], body: bodyOf(sdp), copyRecordRoute: true,
    }))
    return 'ok'
  }

  /** The client refuses an incoming call (486, 480, 603). */
  reject(status: number, reason?: string): 'ok' | 'wrong-state' {
    if (this.direction !== 'incoming' || this.state !== 'ringing' || this.incomingInvite === null) return 'wrong-state'
    this.ep.respond(this.incomingInvite, status, { toTag: this.localTag, reason })
    this.finish(status, endCauseOf(status), 'local', reason)
    return 'ok'
  }

  // ---- requests from the other side -------------------------------------------------------

  /** A request inside this dialog, or a CANCEL for the INVITE that created it. */
  onRequest(req: SipRequest): void {
    switch (req.method) {
      case 'ACK':
        this.okRetransmission.stop()
        return
      case 'CANCEL': {
        // §9.2: 200 to the CANCEL; the INVITE, if not answered yet, gets 487.
        this.ep.respond(req, 200, { toTag: this.localTag })
        if (this.state === 'ringing' && this.incomingInvite !== null) {
          this.ep.respond(this.incomingInvite, 487, { toTag: this.localTag })
          this.finish(487, 'cancelled', 'remote')
        }
        return
      }
      case 'BYE':
        this.ep.respond(req, 200)
        if (this.state !== 'ended') this.finish(200, 'hangup', 'remote')
        return
      case 'INVITE':
        // A re-INVITE (§14.2): hold, resume, a new offer. The client answers with `answer`.
        if (this.pendingReoffer !== null || this.reofferInFlight) {
          this.ep.respond(req, 491) // §14.2: request pending
          return
        }
        if (req.body.length === 0) {
          this.ep.respond(req, 488, { reason: 'Offerless re-INVITE not supported' })
          return
        }
        this.pendingReoffer = req
        this.events.reoffer(this, decoder.decode(req.body))
        return
      case 'OPTIONS':
        this.ep.respond(req, 200, { headers: [ALLOW] })
        return
      case 'INFO': return this.onInfo(req)
      case 'REFER': return this.xfer.onRefer(req, this.ep.contact())
      case 'NOTIFY': return this.xfer.onNotify(req)
      default:
        this.ep.respond(req, 405, { headers: [ALLOW] })
    }
  }

  /** An INFO (RFC 6086): the trickle-ice package's candidates go to the client; others get 469. */
  private onInfo(req: SipRequest): void {
    const frag = readTrickleInfo(req)
    if (frag === null) {
      this.ep.respond(req, 469, { headers: [{ name: 'recv-info', value: TRICKLE_ICE }] }) // RFC 6086 §4.2.2
      return
    }
    this.ep.respond(req, 200)
    if (this.state !== 'ended' && (frag.candidates.length > 0 || frag.end)) this.events.remoteCandidates(this, frag.candidates, frag.end)
  }

  // ---- blind transfer (RFC 3515, call-transfer.ts) -------------------------------------

  /** Transferee: report the progress of the call to the Refer-To target (RFC 3515 §2.4.5). */
  notifyTransfer(status: number, reason: string): void {
    if (this.state !== 'ended') this.xfer.notify(status, reason)
  }

  /** Transferor: blind transfer of this call to `targetUri` (REFER, RFC 3515 §2.4.1). */
  transfer(targetUri: string): 'ok' | 'wrong-state' {
    return this.xfer.start(targetUri)
  }

  // ---- ending -------------------------------------------------------------------------

  /**
   * The client ends the call: CANCEL while ringing out (§9.1), 480 while ringing in, BYE once
   * connected (§15.1.1).
   */
  hangup(reason?: string): void {
    switch (this.state) {
      case 'ended':
        return
      case 'calling':
      case 'ringing':
        if (this.direction === 'incoming') {
          this.reject(480, reason ?? 'Hung Up')
          return
        }
        // Half trickle: the INVITE has not gone yet, so nothing to cancel.
        if (this.invite === null) return this.finish(487, 'cancelled', 'local')
        this.cancelRequested = true
        // §9.1: "a CANCEL request SHOULD NOT be sent to cancel an INVITE until a
        // provisional response is received": until then it waits.
        if (this.provisional) this.sendCancel()
        return
      case 'connected':
        this.sendBye(reason)
        this.finish(200, 'hangup', 'local', reason)
        return
    }
  }

  /**
   * Refuses the other side's re-offer that waits for the client (its WebSocket went away):
   * 491 Request Pending makes the other UA try again later (§14.1), by when the client may
   * be back.
   */
  refusePendingReoffer(): void {
    const re = this.pendingReoffer
    if (re === null) return
    this.pendingReoffer = null
    this.ep.respond(re, 491, { toTag: this.localTag })
  }


  /** The client re-offers (hold or resume, §14.1): re-INVITE; the answer comes as `answered`. */
  reoffer(sdp: string): 'ok' | 'wrong-state' {
    if (this.state !== 'connected' || this.reofferInFlight || this.pendingReoffer !== null) return 'wrong-state'
    this.reofferInFlight = true
    const req = this.inDialogRequest('INVITE', ++this.localCseq)
    req.append('content-type', 'application/sdp')
    req.body = bodyOf(sdp)
    this.ep.send(req, (res) => {
      const r = res as ChallengedResponse
      if (r.retriedAs) {
        this.localCseq = r.retriedAs.cseq.seq
        return
      }
      if (res.status < 200) return
      this.reofferInFlight = false
      if (res.status < 300) {
        this.ack(res)
        this.events.answered(this, decoder.decode(res.body))
      } else if (res.status === 481 || res.status === 408) {
        // §14.1: the dialog is gone.
        this.finish(res.status, 'failed', 'remote', res.reason)
      } else {
        // §14.1: "the UAC [...] MUST consider the session to still be active with the old
        // parameters"; the client decides whether to try again (after 491, later, §14.1).
        this.events.reofferRefused(this, res.status, res.reason)
      }
    })
    return 'ok'
  }

  /** Ends the leg without telling the other side (the session is gone for good): BYE or CANCEL first. */
  terminate(): void {
    if (this.state === 'ended') return
    if (this.state === 'connected') this.sendBye('Session Ended')
    else if (this.direction === 'incoming' && this.incomingInvite !== null) this.ep.respond(this.incomingInvite, 480, { toTag: this.localTag })
    else if (this.invite !== null) {
      this.cancelRequested = true
      if (this.provisional) this.sendCancel()
    }
    this.finish(this.state === 'connected' ? 200 : 487, this.state === 'connected' ? 'hangup' : 'cancelled', 'gateway', 'Session Ended')
  }

  private sendCancel(): void {
    const inv = this.invite
    if (inv === null || this.cancelSent) return
    this.cancelSent = true
    this.ep.send(cancelFor(inv), () => {}) // §9.1
  }

  private sendBye(reason?: string): void {
    const bye = this.inDialogRequest('BYE', ++this.localCseq)
    if (reason) bye.append('reason', `SIP;cause=200;text="${reason.replace(/["\\]/g, '')}"`)
    this.ep.send(bye, () => {})
  }

  /**
   * A request inside the dialog (§12.2.1.1): remote target, route set, tags, our CSeq; `early`
   * names another (early) dialog of this call than the one in the leg's own fields.
   */
  private inDialogRequest(method: string, cseq: number, early?: Pick<InfoDialog, 'remoteTag' | 'remoteTarget' | 'routeSet'>): SipRequest {
    const headers: HeaderField[] = [this.ep.via()]
    headers.push({ name: 'max-forwards', value: '70' })
    for (const r of early?.routeSet ?? this.routeSet) headers.push({ name: 'route', value: r })
    const remote = `<${this.peer}>`
    headers.push({ name: 'to', value: `${remote};tag=${early?.remoteTag ?? this.remoteTag ?? ''}` })
    headers.push({ name: 'from', value: this.ep.fromValue(this.localTag) })
    headers.push({ name: 'call-id', value: this.sipCallId })
    headers.push({ name: 'cseq', value: `${cseq} ${method}` })
    if (method === 'INVITE') headers.push(this.ep.contact())
    return new SipRequest(method, early?.remoteTarget ?? this.remoteTarget, headers)
  }


  private finish(status: number, cause: CallEndCause, by: 'local' | 'remote' | 'gateway', reason?: string): void {
    if (this.state === 'ended') return
    this.state = 'ended'
    this.trickle?.stop()
    this.okRetransmission.stop()
    this.incomingInvite = null
    this.pendingReoffer = null
    this.events.ended(this, status, cause, by, reason)
  }
}

function contactUriText(contact: string): string {
  return uriText(contact)
}

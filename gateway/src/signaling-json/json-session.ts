/**
 * A logged-in JSON user: its SIP endpoint (registered like any SIP client, so SIP users and
 * other JSON users reach it through the one location service), its calls and its text
 * messages. A session outlives its WebSocket for a grace period, so that a page reload can
 * `attach` to it and keep the calls (FreeSWITCH Verto's `verto.attach`): SIP over WebSocket
 * cannot, since the registration and dialogs die with the connection (RFC 5626 §5).
 *
 * The session turns client messages into SIP (call -> INVITE, hangup -> CANCEL/BYE,
 * message -> MESSAGE, ...) and SIP into server messages (incoming, ringing, answered, ended,
 * message); protocol.ts has the message shapes.
 */
import type { SipRequest } from '../sip/message/sip-message.ts'
import { SipRequest as Request } from '../sip/message/sip-message.ts'
import type { Scheduler, TimerHandle } from '../base/scheduler.ts'
import { logger } from '../base/log.ts'
import { CallLeg, type CallEvents } from './sip-leg/call-leg.ts'
import { assertedDisplayName } from './sip-leg/header-values.ts'
import { bodyOf, newCallId, newTag, SipEndpoint, type ChallengedResponse, type SipEndpointOptions, type SipRequestSink } from './sip-leg/sip-endpoint.ts'
import { ERROR_CODES, MAX_CALLS_PER_SESSION, type CallEndCause, type ClientMessage, type ServerMessage } from './protocol.ts'
import { foldCandidates, TRICKLE_ICE, type TrickledCandidate } from './sip-leg/trickle-sdp.ts'
import { hasToken } from './sip-leg/header-values.ts'

const log = logger('json.session')
const decoder = new TextDecoder()

/** Registration lifetime asked for, seconds; refreshed at 80 %. */
const REGISTER_EXPIRES = 600

export type SendToClient = (message: ServerMessage) => void

export interface JsonSessionOptions extends SipEndpointOptions {
  /** Unguessable token that re-attaches the session (`attach`). */
  token: string
  /** The client applies trickled candidates (`login` with `trickle: true`). */
  trickle?: boolean
  /**
   * Whether every binding of the target AOR takes trickle ICE (RFC 8840 §4.1 discovery
   * through the registrar): a trickling `call` then goes out at once (full trickle), else
   * its candidates are folded into the INVITE (half trickle). Absent: always half trickle.
   */
  calleeTrickles?: (targetUri: string) => boolean
}

/** RFC 3840 feature tag of a trickle ICE UA's Contact (RFC 8840 §4.1). */
export const TRICKLE_FEATURE_TAG = `;+sip.extensions="${TRICKLE_ICE}"`

let incomingSeq = 0

export class JsonSession implements SipRequestSink, CallEvents {
  readonly endpoint: SipEndpoint
  readonly token: string
  private client: SendToClient | null = null
  private readonly calls = new Map<string, CallLeg>()
  private readonly byDialog = new Map<string, CallLeg>()
  /** The SDP offer of each incoming call still ringing (sent again on attach). */
  private readonly offers = new Map<string, string>()
  /** Calls placed for a transfer request -> the call whose transferor hears of their progress (RFC 3515 §2.4.5). */
  private readonly transfers = new Map<CallLeg, CallLeg>()
  private registerTimer: TimerHandle | null = null
  private registerCseq = 0
  private readonly registerCallId = newCallId()
  private readonly registerTag = newTag()
  private finished = false
  private readonly scheduler: Scheduler

  constructor(private readonly o: JsonSessionOptions) {
    this.token = o.token
    this.scheduler = o.scheduler
    this.endpoint = new SipEndpoint(o)
    this.endpoint.setSink(this)
    this.endpoint.onStray2xx = (res) => {
      for (const leg of this.calls.values()) if (leg.sipCallId === res.callId) return leg.onRetransmitted2xx(res)
    }
  }

  get username(): string {
    return this.o.user.username
  }

  /** The client applies trickled candidates (its registration carries the trickle-ice feature tag). */
  get trickle(): boolean {
    return this.o.trickle === true
  }


  /**
   * Registers the user (REGISTER through the gateway's own registrar, digest answered with
   * the stored HA1). Resolves with the final status: 200 when registered.
   */
  register(): Promise<number> {
    return new Promise((resolve) => this.sendRegister(REGISTER_EXPIRES, resolve))
  }

  private sendRegister(expires: number, done?: (status: number) => void): void {
    const ep = this.endpoint
    const req = new Request('REGISTER', `sip:${ep.domain}`, [
      ep.via(),
      { name: 'max-forwards', value: '70' },
      { name: 'to', value: `<${ep.aor}>` },
      { name: 'from', value: ep.fromValue(this.registerTag) },
      { name: 'call-id', value: this.registerCallId },
      { name: 'cseq', value: `${++this.registerCseq} REGISTER` },
      ep.contact(`;expires=${expires}${this.trickle ? TRICKLE_FEATURE_TAG : ''}`),
      { name: 'user-agent', value: 'Patchbay JSON signaling' },
    ])
    ep.send(req, (res) => {
      const retried = (res as ChallengedResponse).retriedAs
      if (retried) {
        this.registerCseq = retried.cseq.seq
        return
      }
      if (res.status < 200) return
      if (expires > 0 && res.status < 300 && !this.finished) {
        const granted = Number(/expires=(\d+)/.exec(res.get('contact') ?? '')?.[1] ?? res.get('expires') ?? expires)
        this.registerTimer = this.scheduler.setTimer(Math.max(30, granted * 0.8) * 1000, () => {
          this.registerTimer = null
          this.sendRegister(REGISTER_EXPIRES)
        })
      } else if (expires > 0 && res.status >= 300) {
        log.warn('JSON user registration failed', { user: this.username, status: res.status })
      }
      done?.(res.status)
    })
  }

  /** Hands the session to a (new) WebSocket. */
  attach(client: SendToClient): void {
    this.client = client
  }

  /**
   * The WebSocket of `client` went away: events are dropped until an `attach` (calls go on).
   * False when another WebSocket has attached since (nothing changes then).
   */
  detach(client: SendToClient): boolean {
    if (this.client !== client) return false
    this.client = null
    // A re-offer the old page never answered: refused (491) so that the other side retries.
    for (const leg of this.calls.values()) leg.refusePendingReoffer()
    return true
  }

  get attached(): boolean {
    return this.client !== null
  }

  /** Calls in progress, for the `session` message after an attach. */
  callSummaries(): Array<{ callId: string; direction: 'outgoing' | 'incoming'; peer: string; state: 'calling' | 'ringing' | 'connected'; sdp?: string }> {
    const out = []
    for (const leg of this.calls.values()) {
      if (leg.state === 'ended') continue
      const offer = this.offers.get(leg.callId)
      out.push({ callId: leg.callId, direction: leg.direction, peer: leg.peer, state: leg.state, ...(offer ? { sdp: offer } : {}) })
    }
    return out
  }

  // ---- client messages ------------------------------------------------------------------

  /** One validated client message (login/attach/ping are the connection's). */
  handle(m: ClientMessage): void {
    switch (m.type) {
      case 'call': return this.placeCall(m.callId, m.to, m.sdp, m.transferOf, m.trickle === true)
      case 'transfer': {
        const leg = this.calls.get(m.callId)
        if (!leg) return this.unknownCall(m.callId)
        const target = targetUri(m.to, this.endpoint.domain)
        if (target === null) return this.error(ERROR_CODES.invalidField, `not a user or SIP URI: ${m.to.slice(0, 80)}`, { callId: m.callId, field: '/to' })
        if (leg.transfer(target) !== 'ok') this.error(ERROR_CODES.wrongState, `call ${m.callId} cannot be transferred now`, { callId: m.callId })
        return
      }
      case 'answer': {
        const leg = this.calls.get(m.callId)
        if (!leg) return this.unknownCall(m.callId)
        if (leg.answer(m.sdp, m.trickle === true) !== 'ok') return this.error(ERROR_CODES.wrongState, `call ${m.callId} is not ringing here`, { callId: m.callId })
        this.offers.delete(m.callId)
        return
      }
      case 'reject': {
        const leg = this.calls.get(m.callId)
        if (!leg) return this.unknownCall(m.callId)
        if (leg.reject(m.status ?? 486, m.reason) !== 'ok') this.error(ERROR_CODES.wrongState, `call ${m.callId} is not ringing here`, { callId: m.callId })
        return
      }
      case 'hangup': {
        const leg = this.calls.get(m.callId)
        if (!leg) return this.unknownCall(m.callId)
        return leg.hangup(m.reason)
      }
      case 'reoffer': {
        const leg = this.calls.get(m.callId)
        if (!leg) return this.unknownCall(m.callId)
        if (leg.reoffer(m.sdp) !== 'ok') this.error(ERROR_CODES.wrongState, `call ${m.callId} cannot take a new offer now`, { callId: m.callId })
        return
      }
      case 'candidate': {
        // Relayed by INFO or folded into the SDP (trickle-ice.ts); ignored for calls that do not trickle.
        const leg = this.calls.get(m.callId)
        if (!leg) return this.unknownCall(m.callId)
        return leg.addLocalCandidate({ candidate: m.candidate, sdpMid: m.sdpMid ?? null, sdpMLineIndex: m.sdpMLineIndex ?? null })
      }
      case 'message': return this.sendText(m.id, m.to, m.text)
      case 'ping': return this.send({ type: 'pong', ...(m.id ? { id: m.id } : {}) })
      case 'logout': return this.end('logout')
      case 'login':
        return this.error(ERROR_CODES.alreadyLoggedIn, 'this connection is logged in already', { id: m.id })
      case 'attach':
        return this.error(ERROR_CODES.alreadyLoggedIn, 'this connection is logged in already', { id: m.id })
    }
  }

  private placeCall(callId: string, to: string, sdp: string, transferOf: string | undefined, trickle: boolean): void {
    if (this.calls.has(callId)) return this.error(ERROR_CODES.callExists, `call ${callId} exists already`, { callId })
    if (this.calls.size >= MAX_CALLS_PER_SESSION) {
      return this.error(ERROR_CODES.tooManyCalls, `at most ${MAX_CALLS_PER_SESSION} calls at once`, { callId })
    }
    const target = targetUri(to, this.endpoint.domain)
    if (target === null) return this.error(ERROR_CODES.invalidField, `not a user or SIP URI: ${to.slice(0, 80)}`, { callId, field: '/to' })
    if (target.toLowerCase() === this.endpoint.aor.toLowerCase()) return this.error(ERROR_CODES.selfCall, 'a call to oneself', { callId })
    const mode = !trickle ? undefined : this.o.calleeTrickles?.(target) === true ? 'full' : 'half'
    const leg = CallLeg.call(callId, target, sdp, this.endpoint, this.scheduler, this, { t1: this.o.t1, t2: this.o.t2 }, mode)
    this.track(leg)
    const referred = transferOf === undefined ? undefined : this.calls.get(transferOf)
    if (referred !== undefined) this.transfers.set(leg, referred)
  }

  private sendText(id: string, to: string, text: string): void {
    const target = targetUri(to, this.endpoint.domain)
    if (target === null) return this.error(ERROR_CODES.invalidField, `not a user or SIP URI: ${to.slice(0, 80)}`, { id, field: '/to' })
    const ep = this.endpoint
    // RFC 3428 §4: a MESSAGE outside any dialog, text/plain.
    const req = new Request('MESSAGE', target, [
      ep.via(),
      { name: 'max-forwards', value: '70' },
      { name: 'to', value: `<${target}>` },
      { name: 'from', value: ep.fromValue(newTag()) },
      { name: 'call-id', value: newCallId() },
      { name: 'cseq', value: '1 MESSAGE' },
      { name: 'content-type', value: 'text/plain;charset=utf-8' },
    ], bodyOf(text))
    ep.send(req, (res) => {
      if ((res as ChallengedResponse).retriedAs || res.status < 200) return
      if (res.status < 300) this.send({ type: 'delivered', id })
      else this.error(ERROR_CODES.notDelivered, `not delivered: ${res.status} ${res.reason}`, { id, status: res.status })
    })
  }

  // ---- SIP requests for this user --------------------------------------------------------

  onSipRequest(req: SipRequest): void {
    const toTag = req.to.params['tag']
    if (req.method === 'CANCEL' || (req.method === 'ACK' && !toTag)) {
      for (const leg of this.calls.values()) if (leg.sipCallId === req.callId && leg.direction === 'incoming') return leg.onRequest(req)
      if (req.method === 'CANCEL') this.endpoint.respond(req, 481)
      return
    }
    if (toTag) {
      const leg = this.byDialog.get(`${req.callId} ${toTag}`)
      if (leg) return leg.onRequest(req)
      if (req.method !== 'ACK') this.endpoint.respond(req, 481)
      return
    }
    switch (req.method) {
      case 'INVITE': return this.incomingCall(req)
      case 'MESSAGE': return this.incomingText(req)
      case 'OPTIONS': this.endpoint.respond(req, 200); return
      default: this.endpoint.respond(req, 405, { headers: [{ name: 'allow', value: 'INVITE, ACK, CANCEL, BYE, OPTIONS, MESSAGE' }] })
    }
  }

  private incomingCall(invite: SipRequest): void {
    if (invite.body.length === 0) {
      // An offerless INVITE would need the client to make the offer: not in version 1.
      this.endpoint.respond(invite, 488, { toTag: newTag(), reason: 'Offer Required' })
      return
    }
    if (this.calls.size >= MAX_CALLS_PER_SESSION) {
      this.endpoint.respond(invite, 486, { toTag: newTag(), reason: 'Too Many Calls' })
      return
    }
    const callId = `in-${(++incomingSeq).toString(36)}-${newTag()}`
    const leg = CallLeg.incoming(callId, invite, this.endpoint, this.scheduler, this, { t1: this.o.t1, t2: this.o.t2 }, this.trickle)
    this.track(leg)
    const sdp = decoder.decode(invite.body)
    this.offers.set(callId, sdp)
    // RFC 8840 §4.1: a trickle ICE caller's offer may be partial; its candidates follow by INFO.
    const trickle = this.trickle && hasToken(invite.getAll('supported'), TRICKLE_ICE)
    this.send({ type: 'incoming', callId, from: leg.peer, ...(leg.peerDisplayName ? { displayName: leg.peerDisplayName } : {}), sdp, ...(trickle ? { trickle } : {}) })
  }

  private incomingText(req: SipRequest): void {
    const type = (req.get('content-type') ?? '').toLowerCase()
    if (!type.startsWith('text/plain')) {
      this.endpoint.respond(req, 415, { headers: [{ name: 'accept', value: 'text/plain' }] })
      return
    }
    this.endpoint.respond(req, 200, { toTag: newTag() })
    const from = req.from
    const displayName = assertedDisplayName(req) ?? from.displayName ?? undefined
    this.send({
      type: 'message', from: from.uri.scheme === 'sip' || from.uri.scheme === 'sips' ? `${from.uri.scheme}:${from.uri.user ?? ''}@${from.uri.host}` : String(req.get('from')),
      ...(displayName ? { displayName } : {}),
      text: decoder.decode(req.body),
    })
  }

  private track(leg: CallLeg): void {
    this.calls.set(leg.callId, leg)
    this.byDialog.set(leg.dialogKey, leg)
  }

  // ---- CallEvents ------------------------------------------------------------------------

  ringing(leg: CallLeg, sdp: string | undefined): void {
    this.transfers.get(leg)?.notifyTransfer(180, 'Ringing')
    this.send({ type: 'ringing', callId: leg.callId, ...(sdp ? { sdp } : {}) })
  }

  answered(leg: CallLeg, sdp: string): void {
    const referred = this.transfers.get(leg)
    if (referred !== undefined) {
      this.transfers.delete(leg)
      referred.notifyTransfer(200, 'OK')
    }
    this.send({ type: 'answered', callId: leg.callId, sdp })
  }

  transferRequested(leg: CallLeg, target: string, referredBy: string | undefined): void {
    this.send({ type: 'transfer', callId: leg.callId, to: target, ...(referredBy ? { by: referredBy } : {}) })
  }

  transferFailed(leg: CallLeg, status: number, reason: string): void {
    this.error(ERROR_CODES.transferFailed, `transfer failed: ${status} ${reason}`, { callId: leg.callId, status })
  }

  reoffer(leg: CallLeg, sdp: string): void {
    // Nobody to answer while the page reloads: 491, and the other side tries again (§14.1).
    if (this.client === null) return leg.refusePendingReoffer()
    this.send({ type: 'reoffer', callId: leg.callId, sdp })
  }

  remoteCandidates(leg: CallLeg, candidates: TrickledCandidate[], end: boolean): void {
    // A reloaded page gets the offer again with these folded in (`session` calls).
    const offer = this.offers.get(leg.callId)
    if (offer !== undefined) this.offers.set(leg.callId, foldCandidates(offer, candidates, end))
    for (const c of candidates) {
      this.send({ type: 'candidate', callId: leg.callId, candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null })
    }
    if (end) this.send({ type: 'candidate', callId: leg.callId, candidate: '' })
  }

  reofferRefused(leg: CallLeg, status: number, reason: string): void {
    this.error(ERROR_CODES.offerRefused, `the other side refused the new offer: ${status} ${reason}`, { callId: leg.callId, status })
  }

  ended(leg: CallLeg, status: number, cause: CallEndCause, by: 'local' | 'remote' | 'gateway', reason?: string): void {
    const referred = this.transfers.get(leg)
    if (referred !== undefined) {
      // The call to the transfer target failed before it was answered: final NOTIFY (§2.4.5).
      this.transfers.delete(leg)
      referred.notifyTransfer(status >= 300 ? status : 487, reason ?? (status >= 300 ? 'Failed' : 'Request Terminated'))
    }
    for (const [l, r] of this.transfers) if (r === leg) this.transfers.delete(l)
    this.calls.delete(leg.callId)
    this.byDialog.delete(leg.dialogKey)
    this.offers.delete(leg.callId)
    this.send({ type: 'ended', callId: leg.callId, status, cause, by, ...(reason ? { reason } : {}) })
  }

  // ---- ending ----------------------------------------------------------------------------

  /**
   * Ends the session for good: calls hung up (BYE/CANCEL/480), the registration removed
   * (REGISTER expires=0, then the flow closes, which drops its bindings too).
   */
  end(why: string): void {
    if (this.finished) return
    this.finished = true
    log.info('JSON session ended', { user: this.username, why, calls: this.calls.size })
    for (const leg of [...this.calls.values()]) leg.terminate()
    if (this.registerTimer !== null) this.scheduler.clearTimer(this.registerTimer)
    this.registerTimer = null
    this.sendRegister(0)
    // Let the un-REGISTER and the BYEs leave before the flow closes.
    this.scheduler.setTimer(50, () => this.endpoint.close())
    this.client = null
  }

  get isEnded(): boolean {
    return this.finished
  }

  private send(message: ServerMessage): void {
    this.client?.(message)
  }

  private unknownCall(callId: string): void {
    this.error(ERROR_CODES.unknownCall, `no call ${callId} in this session`, { callId })
  }

  private error(code: string, message: string, extra: { id?: string; callId?: string; field?: string; status?: number } = {}): void {
    this.send({ type: 'error', code, message, ...extra })
  }
}

/**
 * The SIP URI a JSON `to` names: `bob` -> `sip:bob@<domain>`, `bob@host` -> `sip:bob@host`,
 * `sip:`/`sips:` URIs as they are. Null for anything with spaces or angle brackets.
 */
export function targetUri(to: string, domain: string): string | null {
  const t = to.trim()
  if (t === '' || /[\s<>"]/.test(t)) return null
  if (/^sips?:/i.test(t)) return t
  if (t.includes('@')) return `sip:${t}`
  return `sip:${t}@${domain}`
}

/**
 * The trickle ICE state of one JSON call leg (RFC 8838, RFC 8840): the local candidates the
 * JSON client trickles (`candidate` messages), and where they go.
 *
 * - Full trickle (RFC 8840 §4.1, the other side is known to support it): the offer or answer
 *   has gone without candidates; each candidate goes in an INFO request of the `trickle-ice`
 *   Info Package (RFC 8840 §6, §9) to every dialog that accepts it (`Recv-Info: trickle-ice`
 *   in the response or request that made it, RFC 6086 §5.2.2): early dialogs while the call
 *   rings (one per fork, §4.3), the confirmed dialog after the 2xx. Candidates that come
 *   before any such dialog exists are kept and go with the first INFO.
 * - Half trickle (RFC 8838 §4, the other side may not support it): the SDP waits until the
 *   client's end marker (`candidate: ''`) or `capMs`, then carries the candidates folded in
 *   (`foldedSdp()`); later candidates go by INFO only to a dialog that accepts them.
 */
import type { Scheduler, TimerHandle } from '../../base/scheduler.ts'
import type { SipRequest, SipResponse } from '../../sip/message/sip-message.ts'
import type { HeaderField } from '../../sip/syntax/types.ts'
import { hasToken, uriText } from './header-values.ts'
import { buildSdpFrag, foldCandidates, parseSdpFrag, SDPFRAG_TYPE, TRICKLE_ICE, type SdpFrag, type TrickledCandidate } from './trickle-sdp.ts'

/** Longest wait for the client's end marker before a half-trickle SDP goes anyway, ms. */
export const HALF_TRICKLE_CAP_MS = 1000

/** A dialog (early or confirmed) that INFO requests go to (RFC 3261 §12.2.1.1). */
export interface InfoDialog {
  remoteTag: string
  remoteTarget: string
  routeSet: string[]
  /** The other side took the `trickle-ice` Info Package (`Recv-Info`). */
  accepts: boolean
  /** Local candidates already sent to it. */
  sent: number
  endSent: boolean
}

export type TrickleMode = 'full' | 'half'

/** RFC 8840 §4.1 / §10, RFC 6086 §5.2.2: what a trickle ICE agent puts in its INVITE and responses. */
export const TRICKLE_HEADERS: readonly HeaderField[] = [{ name: 'supported', value: TRICKLE_ICE }, { name: 'recv-info', value: TRICKLE_ICE }]

/**
 * The dialog a provisional (with a To tag) or 2xx response to our INVITE makes (RFC 3261
 * §12.1.2: remote tag, Contact as remote target, Record-Route reversed), and whether the other
 * side takes trickle-ice INFOs (`Recv-Info`); null without a To tag.
 */
export function infoDialogOf(res: SipResponse, fallbackTarget: string): Omit<InfoDialog, 'sent' | 'endSent'> | null {
  const tag = res.to.params['tag']
  if (!tag) return null
  const contact = res.get('contact')
  return {
    remoteTag: tag, remoteTarget: contact === undefined ? fallbackTarget : uriText(contact),
    routeSet: res.getAll('record-route').reverse(), accepts: hasToken(res.getAll('recv-info'), TRICKLE_ICE),
  }
}

/** `req` (an INFO built for its dialog) as one of the trickle-ice package (RFC 8840 §9, RFC 6086 §4.2.1) carrying `sdpfrag`. */
export function asTrickleInfo(req: SipRequest, sdpfrag: string): SipRequest {
  req.append('info-package', TRICKLE_ICE)
  req.append('content-type', SDPFRAG_TYPE)
  req.append('content-disposition', 'Info-Package')
  req.body = new TextEncoder().encode(sdpfrag)
  return req
}

/** The sdpfrag of an INFO of the trickle-ice package (RFC 8840 §9); null for any other INFO. */
export function readTrickleInfo(req: SipRequest): SdpFrag | null {
  const pkg = (req.get('info-package') ?? '').split(';')[0]!.trim().toLowerCase()
  const type = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
  if (pkg !== TRICKLE_ICE || type !== SDPFRAG_TYPE) return null
  return parseSdpFrag(new TextDecoder().decode(req.body))
}

export class TrickleIce {
  private readonly local: TrickledCandidate[] = []
  private localEnd = false
  private readonly dialogs = new Map<string, InfoDialog>()
  private waitTimer: TimerHandle | null = null
  private waitDone: (() => void) | null = null
  private stopped = false

  /**
   * @param localSdp the client's offer or answer as it gave it (for the fold, the sdpfrag's
   *   m= lines, mids and ICE credentials)
   * @param sendInfo sends one INFO with this sdpfrag body in that dialog
   */
  constructor(
    readonly mode: TrickleMode,
    private readonly localSdp: string,
    private readonly scheduler: Scheduler,
    private readonly sendInfo: (dialog: InfoDialog, body: string) => void,
  ) {}

  /** A local candidate from the client (`candidate: ''`: the end marker). */
  addLocal(c: TrickledCandidate): void {
    if (this.stopped) return
    if (c.candidate === '') this.localEnd = true
    else this.local.push({ candidate: c.candidate, sdpMid: c.sdpMid ?? null, sdpMLineIndex: c.sdpMLineIndex ?? null })
    if (this.localEnd && this.waitDone !== null) return this.fire()
    this.flush()
  }

  /**
   * Half trickle: calls `ready` once, when the end marker came or after `capMs` (ms). Call
   * `foldedSdp()` in it for the SDP to send.
   */
  waitForEnd(capMs: number, ready: () => void): void {
    this.waitDone = ready
    if (this.localEnd) return this.fire()
    this.waitTimer = this.scheduler.setTimer(capMs, () => {
      this.waitTimer = null
      this.fire()
    })
  }

  private fire(): void {
    const done = this.waitDone
    this.waitDone = null
    if (this.waitTimer !== null) this.scheduler.clearTimer(this.waitTimer)
    this.waitTimer = null
    done?.()
  }

  /** The local SDP with every candidate so far (and a=end-of-candidates after the end marker). */
  foldedSdp(): string {
    return foldCandidates(this.localSdp, this.local, this.localEnd)
  }

  /**
   * A dialog appeared (a provisional with a To tag, or the 2xx) or was refreshed: candidates
   * not sent to it yet go now when it accepts them. A folded SDP already carried the first ones.
   */
  dialog(d: Omit<InfoDialog, 'sent' | 'endSent'>, alreadyInSdp = false): void {
    if (this.stopped) return
    const known = this.dialogs.get(d.remoteTag)
    if (known !== undefined) {
      known.remoteTarget = d.remoteTarget
      known.routeSet = d.routeSet
      known.accepts ||= d.accepts
    } else {
      this.dialogs.set(d.remoteTag, { ...d, sent: alreadyInSdp ? this.local.length : 0, endSent: alreadyInSdp && this.localEnd })
    }
    this.flush()
  }

  /** The 2xx chose this dialog: the other early dialogs get nothing more (RFC 3261 §13.2.2.4). */
  confirmed(remoteTag: string): void {
    for (const tag of [...this.dialogs.keys()]) if (tag !== remoteTag) this.dialogs.delete(tag)
  }

  /** An INFO was refused for good (481, 469, 408): that dialog gets no more. */
  dropDialog(remoteTag: string): void {
    const d = this.dialogs.get(remoteTag)
    if (d !== undefined) d.accepts = false
  }

  /** Stops everything (the call ended). */
  stop(): void {
    this.stopped = true
    this.waitDone = null
    if (this.waitTimer !== null) this.scheduler.clearTimer(this.waitTimer)
    this.waitTimer = null
    this.dialogs.clear()
  }

  /** Whether the SDP is still waiting for the end marker (half trickle). */
  get waiting(): boolean {
    return this.waitDone !== null
  }

  private flush(): void {
    if (this.waitDone !== null) return // the SDP has not gone yet
    for (const d of this.dialogs.values()) {
      if (!d.accepts) continue
      const fresh = this.local.slice(d.sent)
      const end = this.localEnd && !d.endSent
      if (fresh.length === 0 && !end) continue
      const body = buildSdpFrag(this.localSdp, fresh, end)
      d.sent = this.local.length
      d.endSent = this.localEnd
      if (body !== null) this.sendInfo(d, body)
    }
  }
}

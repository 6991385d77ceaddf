/**
 * Trickle ICE (RFC 8838) for a JSON signaling call: the local candidates of a peer connection
 * sent as `candidate` messages, and the other side's applied with addIceCandidate.
 *
 * - `LocalCandidates`: listens from before setLocalDescription; candidates found before the
 *   `call` / `answer` went are kept and go right after it (`start()`). Once the set is usable
 *   (`IceGatheringPolicy`, the rule SIP mode uses to cut gathering short, plus
 *   `ICE_SETTLE_MS`), or gathering completes, or `SIP_ICE_GATHERING_TIMEOUT_MS` passed, the
 *   end marker (`candidate: ''`) goes: a gateway folding candidates into the SDP for a SIP
 *   peer that does not trickle (half trickle) waits for it. Later candidates still go.
 * - `RemoteCandidates`: the other side's candidates, kept until the remote description is set
 *   (they can arrive while our page still rings, before the answer, ...), then applied in
 *   order. End markers are not applied: later candidates may follow them here.
 */
import { candidateTypeOf, ICE_SETTLE_MS, IceGatheringPolicy, SIP_ICE_GATHERING_TIMEOUT_MS } from '../ice-gathering-policy.ts'

/** One candidate as the `candidate` message carries it (RTCIceCandidateInit); `''` ends them. */
export interface CandidateFields {
  candidate: string
  sdpMid?: string | null
  sdpMLineIndex?: number | null
}

/** See the file comment. */
export class LocalCandidates {
  private readonly policy: IceGatheringPolicy
  private readonly kept: CandidateFields[] = []
  private started = false
  private ended = false
  private settle: ReturnType<typeof setTimeout> | undefined
  private limit: ReturnType<typeof setTimeout> | undefined

  /**
   * Starts listening on `pc` (before its setLocalDescription).
   * @param config the configuration `pc` was made with (which ICE servers: what "usable" means)
   * @param send sends one `candidate` message's fields; false when offline (ignored)
   */
  constructor(private readonly pc: RTCPeerConnection, config: RTCConfiguration, private readonly send: (c: CandidateFields) => void) {
    this.policy = IceGatheringPolicy.fromConfiguration(config)
    pc.addEventListener('icecandidate', this.onCandidate)
    pc.addEventListener('icegatheringstatechange', this.onState)
  }

  /** The `call` / `answer` went: candidates kept so far go now, later ones as they come. */
  start(): void {
    this.started = true
    for (const c of this.kept.splice(0)) this.send(c)
    if (this.ended) return
    if (this.pc.iceGatheringState === 'complete') return this.end()
    this.limit = setTimeout(() => this.end(), SIP_ICE_GATHERING_TIMEOUT_MS)
  }

  /** Stops listening (the call ended, or a new peer connection replaced this one). */
  stop(): void {
    this.pc.removeEventListener('icecandidate', this.onCandidate)
    this.pc.removeEventListener('icegatheringstatechange', this.onState)
    this.clearTimers()
  }

  private readonly onCandidate = (event: Event): void => {
    const candidate = (event as RTCPeerConnectionIceEvent).candidate
    if (!candidate || candidate.candidate === '') return this.end() // end of gathering
    this.emit({ candidate: candidate.candidate, sdpMid: candidate.sdpMid ?? null, sdpMLineIndex: candidate.sdpMLineIndex ?? null })
    if (this.policy.add(candidateTypeOf(candidate)) && this.settle === undefined && !this.ended) {
      this.settle = setTimeout(() => this.end(), ICE_SETTLE_MS)
    }
  }

  private readonly onState = (): void => {
    if (this.pc.iceGatheringState === 'complete') this.end()
  }

  private emit(c: CandidateFields): void {
    if (this.started) this.send(c)
    else this.kept.push(c)
  }

  private end(): void {
    if (this.ended) return
    this.ended = true
    this.clearTimers()
    this.emit({ candidate: '' })
  }

  private clearTimers(): void {
    if (this.settle !== undefined) clearTimeout(this.settle)
    if (this.limit !== undefined) clearTimeout(this.limit)
    this.settle = undefined
    this.limit = undefined
  }
}

/** See the file comment. */
export class RemoteCandidates {
  private readonly waiting: CandidateFields[] = []

  /** A `candidate` message for this call: applied when `pc` has a remote description, else kept. */
  add(pc: RTCPeerConnection | undefined, c: CandidateFields): void {
    if (c.candidate === '') return
    if (pc && pc.remoteDescription) void apply(pc, c)
    else this.waiting.push(c)
  }

  /** `pc` has its remote description now: the kept candidates are applied, in order. */
  async flush(pc: RTCPeerConnection): Promise<void> {
    for (const c of this.waiting.splice(0)) await apply(pc, c)
  }
}

/** addIceCandidate that never rejects (a candidate of another generation, a closed connection). */
async function apply(pc: RTCPeerConnection, c: CandidateFields): Promise<void> {
  const init: RTCIceCandidateInit = { candidate: c.candidate }
  if (c.sdpMid !== undefined && c.sdpMid !== null) init.sdpMid = c.sdpMid
  if (c.sdpMLineIndex !== undefined && c.sdpMLineIndex !== null) init.sdpMLineIndex = c.sdpMLineIndex
  if (init.sdpMid === undefined && init.sdpMLineIndex === undefined) init.sdpMLineIndex = 0
  await pc.addIceCandidate(init).catch(() => undefined)
}

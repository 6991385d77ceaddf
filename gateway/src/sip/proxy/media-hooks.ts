/**
 * The seam through which the stateful proxy anchors media (docs/architecture.md §1: "Calls that cross
 * from WebRTC to plain RTP are anchored: the gateway rewrites the SDP on both legs and relays
 * media"). The proxy knows dialogs and branches; what a leg speaks and how its SDP is
 * rewritten is the media layer's business, wired in by the composition root. `sip/` declares
 * this interface so that it imports nothing from `media/` (docs/architecture.md §2).
 */
import type { Flow, TransportProtocol } from '../transport/flow.ts'

/** One side of a call as the proxy sees it. */
export interface CallLeg {
  /** Transport of the leg's first hop (WS/WSS legs are browsers). */
  transport: TransportProtocol
  /** The leg's flow when it is connection-oriented. */
  flow: Flow | null
  /** The local user on that side (caller's From user, callee's AOR user), if any. */
  user: string | null
}

/**
 * Identifies one anchored media session: the media call id (the SIP Call-ID, suffixed per
 * forked branch so that each branch gets its own relay) and the caller's tag.
 */
export interface MediaSessionKey {
  mediaCallId: string
  callerTag: string
  /** Set once the callee answered. */
  calleeTag?: string
}

/** Which side an SDP came from. */
export type CallSide = 'caller' | 'callee'

/** A refusal the proxy turns into a SIP final response (488, 503, 500). */
export interface MediaRefusal {
  status: number
  reason: string
}

export interface MediaHooks {
  /**
   * Synchronous, cheap decision for a new INVITE branch: does the call need anchoring
   * (WebRTC on one side, plain RTP on the other, or forced by configuration)? Returns an
   * opaque plan (kept by the proxy for the branch) or null to leave the SDP alone.
   */
  plan(caller: CallLeg, callee: CallLeg, sdp: Uint8Array): object | null
  /**
   * Rewrites an SDP offer from `side`; the result goes to the other side.
   * Rejects with a MediaRefusal.
   */
  offer(plan: object, key: MediaSessionKey, sdp: Uint8Array, side: CallSide): Promise<Uint8Array>
  /** Rewrites an SDP answer from `side`; the result goes back to the other side. */
  answer(plan: object, key: MediaSessionKey, sdp: Uint8Array, side: CallSide): Promise<Uint8Array>
  /** Releases the session (BYE, CANCEL, failed or lost branch, dropped flow). Never throws. */
  release(plan: object, key: MediaSessionKey): void
}

/** True for a value thrown by MediaHooks.offer/answer. */
export function isMediaRefusal(e: unknown): e is MediaRefusal {
  return typeof e === 'object' && e !== null && typeof (e as MediaRefusal).status === 'number' && typeof (e as MediaRefusal).reason === 'string'
}

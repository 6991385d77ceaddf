/**
 * The seam between the stateful proxy (RFC 3261 §16: branches, responses, CANCEL) and the
 * tracker of anchored calls (`AnchoredCalls`: SDP rewriting per branch, anchored dialogs,
 * re-offers, BYE to the other leg). The proxy declares it and never learns what SDP or a
 * relay is; the composition root plugs `AnchoredCalls` in (docs/architecture.md, "Seams").
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { ClientTransaction } from '../transaction/transaction-user.ts'
import type { Flow } from '../transport/flow.ts'
import type { ForwardOptions, Target } from './target.ts'

/** The media side of one branch whose SDP goes through a relay. */
export interface BranchMedia {
  /**
   * The branch's offer as the far side must see it. Rejects with a MediaRefusal
   * (media-hooks.ts: 488, 503) or an Error (the proxy answers 500).
   */
  offer(): Promise<Uint8Array>
  /**
   * A response on the branch. Answers are rewritten asynchronously and in arrival order;
   * `next` runs once the response may go on through §16.7 response processing.
   */
  onResponse(response: SipResponse, branchTx: ClientTransaction | null, next: () => void): void
  /** The branch failed or was cancelled: release its relay session. Idempotent. */
  release(): void
}

/** Per-request media state, from `BranchMediaSeam.beginForward`. */
export type ForwardMedia = object | undefined

export interface BranchMediaSeam {
  /**
   * Called once per forwarded request, before its branches start: in-dialog bookkeeping
   * (CSeq notes, relay released on BYE). Returns what `branch` needs to rewrite a re-offer.
   */
  beginForward(request: SipRequest): ForwardMedia
  /**
   * A new branch of `request` to `target` (0-based `index` among the target set): its media
   * handle, or null when its SDP passes untouched (no anchoring).
   */
  branch(request: SipRequest, inFlow: Flow, target: Target, index: number, opts: ForwardOptions, forward: ForwardMedia): BranchMedia | null
  /**
   * A connection-oriented flow closed: end every anchored call that used it (BYE to the
   * other leg, relay released). Returns the Call-IDs of the calls ended.
   */
  endOnFlow(flow: Flow): string[]
  /** Ends the anchored call with this Call-ID from the middle (BYE to both sides); false when none. */
  hangUp(callId: string, reason: string): boolean
}

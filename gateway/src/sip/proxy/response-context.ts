/**
 * The stateful proxy's response context for one forwarded request (RFC 3261 §16.7): the set
 * of branches (client transactions, one per target), the best final response so far, and
 * what has been sent upstream.
 *
 * §16.7 item 6: "A stateful proxy MUST choose [...] the response with the lowest response
 * class [...] If no final response has been received, the proxy [...] 408 (Request Timeout).
 * [...] 6xx [...] the proxy SHOULD cancel all client pending transactions [...] and MUST
 * NOT create any new branches in this context" (item 5 and §16.7 item 2).
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { ClientTransaction, ClientTransactionHandler, ServerTransaction } from '../transaction/transaction-user.ts'
import type { ForwardOptions, Target } from './target.ts'
import type { BranchMedia, ForwardMedia } from './branch-media.ts'
import type { Flow } from '../transport/flow.ts'
import type { HeaderField } from '../syntax/types.ts'
import type { TimerHandle } from '../../base/scheduler.ts'

/** One branch of a (possibly forked) request. */
export interface Branch {
  tx: ClientTransaction | null
  /** Highest status received so far (0: nothing yet). */
  lastStatus: number
  final: boolean
  /** CANCEL requested before any provisional arrived (§9.1: send it once one does). */
  cancelPending: boolean
  cancelled: boolean
  timerC: TimerHandle | null
  /** The branch's media handle when its SDP goes through a relay (anchored calls). */
  media: BranchMedia | null
  /** The branch's client transaction handler, told when the context is finished. */
  handler: BranchHandler | null
  /** The target this branch was sent to (failover, call records); dropped when the context finishes. */
  target: Target | null
  /** The final response received on this branch (null: none, or made by the proxy). */
  response: SipResponse | null
  /** Per-branch ring timeout (Target.ringTimeoutMs). */
  ringTimer: TimerHandle | null
  /** The ring timeout CANCELled this branch: its 487 counts as 480 No Answer. */
  ringTimedOut: boolean
}

/** What serial forking needs to start more branches later (ForwardOptions.onFailure). */
export interface SerialForwarding {
  inFlow: Flow
  hash: string
  forwardMedia: ForwardMedia
}

/** A branch's client transaction handler (the proxy's). */
export interface BranchHandler extends ClientTransactionHandler {
  /**
   * The response context is finished (every branch final, the answer sent upstream): let go
   * of it. An INVITE branch's client transaction may linger in Accepted for 64*T1 (RFC 6026
   * §8.4) and still pass 2xx retransmissions up; from now on the handler forwards those with
   * nothing but the server transaction, so the context — the original request, the other
   * branches, the responses — is not kept alive for 32 s by each call.
   */
  detach(): void
}

export class ResponseContext {
  readonly branches: Branch[] = []
  best: SipResponse | null = null
  /** A 2xx (INVITE) or final (non-INVITE) went upstream: no more final choice. */
  finalSent = false
  /** A 6xx arrived or a CANCEL came from upstream: no new branches, cancel pending ones. */
  terminated = false
  /**
   * A 2xx or 6xx to the INVITE arrived on some branch and is on its way through the media
   * driver (anchored calls): the outcome is decided before §16.7 processing sees it.
   */
  decided = false
  /** Every challenge header of every 401/407 received, for aggregation (§16.7 item 7). */
  readonly challenges: Array<{ from: SipResponse; field: HeaderField }> = []

  /** Scheduler time the INVITE arrived, ms, when setup time is measured; else -1. */
  startedAt = -1
  /** The caller CANCELled (§16.10): the call ended by the caller (call records). */
  cancelledByCaller = false
  /** A failover handler is computing the next targets (async): the context is not complete. */
  failoverPending = false
  /** Set when the request was forwarded with a failover handler. */
  serial: SerialForwarding | null = null

  /**
   * @param request the request as received (the server transaction lets go of it once it has
   *   answered; the context keeps it while branches are open, for the responses it makes)
   */
  constructor(
    readonly request: SipRequest, readonly serverTx: ServerTransaction | null, readonly isInvite: boolean,
    readonly options: ForwardOptions,
  ) {}

  /**
   * Whether a new branch may still be sent. RFC 3261 §16.7 item 5: after a 6xx the proxy
   * "MUST NOT create any new branches in this context"; item 10: once a final response was
   * forwarded (a 2xx, for INVITE) "the proxy MUST generate a CANCEL request for all pending
   * client transactions" — a branch started after that would ring a phone for a call that
   * was answered; §16.10: a CANCEL from upstream ends the search too.
   */
  get mayStartBranch(): boolean {
    return !this.terminated && !this.finalSent && !this.decided
  }

  /** True when every branch has a final response. */
  get complete(): boolean {
    if (this.failoverPending) return false
    for (const b of this.branches) if (!b.final) return false
    return true
  }

  /**
   * Withdraws a final response the proxy consumed itself (Target.answers: a challenge it
   * answered): it stops being the best response and its challenges are not aggregated. The
   * best is chosen again among the other branches' responses.
   */
  withdraw(res: SipResponse): void {
    for (let i = this.challenges.length - 1; i >= 0; i--) if (this.challenges[i]!.from === res) this.challenges.splice(i, 1)
    if (this.best !== res) return
    this.best = null
    for (const b of this.branches) {
      const r = b.response
      if (r === null || r === res || !b.final) continue
      if (this.best === null || rank(r.status) < rank(this.best.status)) this.best = r
    }
  }

  /**
   * Keeps the best final response by §16.7 item 6: 6xx beats everything; otherwise the
   * lowest class, preferring within 4xx 401/407/415/420/484 (which carry what the UAC needs
   * to retry), and 503 is turned into 500 when forwarded (§16.7 item 6) by the caller.
   */
  consider(res: SipResponse): void {
    if (res.status === 401 || res.status === 407) {
      for (const h of res.headers) {
        if (h.name === 'www-authenticate' || h.name === 'proxy-authenticate') this.challenges.push({ from: res, field: h })
      }
    }
    const b = this.best
    if (b === null) {
      this.best = res
      return
    }
    if (rank(res.status) < rank(b.status)) this.best = res
  }
}

const PREFERRED_4XX = new Set([401, 407, 415, 420, 484])

function rank(status: number): number {
  if (status >= 600) return 0
  const cls = Math.floor(status / 100)
  // lower rank wins: 2xx (never here) < 3xx < 4xx (preferred first) < 5xx
  let r = cls * 1000
  if (cls === 4 && PREFERRED_4XX.has(status)) r -= 500
  if (status === 408) r += 100 // a timeout says less than a real answer
  if (status === 480 || status === 430) r += 50
  return r + (status % 100)
}

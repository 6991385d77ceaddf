/**
 * What the routing pipeline hands the stateful proxy for one forwarded request: the target
 * set (RFC 3261 §16.5) and how to forward to it (§16.6).
 */
import type { HeaderField } from '../syntax/types.ts'
import type { SipResponse } from '../message/sip-message.ts'
import { parseUri } from '../syntax/uri.ts'
import type { Destination } from '../transport/flow.ts'
import { sipUrisEquivalent } from '../registrar/binding.ts'

/** One element of a target set (§16.5): the Request-URI to use and where to send it. */
export interface Target {
  /** The new Request-URI (a binding's contact, or the original R-URI for in-dialog requests). */
  requestUri: string
  destination: Destination
  /** The local user this target belongs to (callee side of a media decision). */
  user?: string | null
  /** Header fields set on this branch's copy only, replacing the request's fields of those names (a trunk's P-Asserted-Identity, credentials). */
  headers?: HeaderField[]
  /**
   * How long this branch may ring, ms: then it is CANCELled and counts as 408 (sequential ring
   * groups; Kamailio's fr_inv_timer per branch). Absent: Timer C alone.
   */
  ringTimeoutMs?: number
  /** The trunk this target leaves through (call records, concurrent-call caps). */
  trunk?: string
  /** Rewrites the offer (SDP text) this branch sends: a trunk's allowed codecs. */
  offerFilter?: (sdp: string) => string
  /**
   * The 401/407 this target answers: a branch re-sent with credentials in `headers` (a
   * trunk's challenge, answered with the trunk's account like Kamailio's uac_auth). The proxy
   * consumed that response itself, so it is withdrawn from the response context: no longer a
   * candidate for the response sent upstream (§16.7 item 6), its challenge not collected
   * into one (item 7).
   */
  answers?: SipResponse
}

/**
 * Serial forking (RFC 3261 §16.6: "a proxy MAY [...] forward to the next target after the
 * previous one failed"; Kamailio's failure_route): called when every branch started so far
 * is final without a 2xx, no 6xx arrived and the caller did not CANCEL. Returns the next
 * targets to try in the same response context (one branch each, in parallel), or null/[] to
 * send the best response so far upstream. `best` is that response (its status decides:
 * a trunk list fails over on 408 and 5xx, stops on 486 and 603). May be async (DNS).
 */
export type FailoverHandler = (best: SipResponse, branches: readonly FailedBranch[]) => Target[] | null | Promise<Target[] | null>

/** A branch that failed, as the failover handler sees it. */
export interface FailedBranch {
  readonly target: Target
  readonly status: number
  /** The branch's final response as received (null when the proxy made it: timeout, transport error). */
  readonly response: SipResponse | null
}

/** How one request is forwarded (§16.6). */
export interface ForwardOptions {
  /** Insert our (double) Record-Route (dialog-creating requests, §16.6 item 4). */
  recordRoute: boolean
  /** Extra header fields to append to every forwarded copy. */
  extraHeaders?: HeaderField[]
  /** Called once when the context completes (for CDRs, media cleanup). */
  onFinal?: (status: number) => void
  /** The authenticated local user who sent the request (caller side of a media decision). */
  callerUser?: string | null
  /** Serial forking: the next targets after the current ones failed (see FailoverHandler). */
  onFailure?: FailoverHandler
  /** Report this INVITE's outcome to the proxy's CallEventSink (initial INVITEs of calls). */
  reportCall?: boolean
}

/**
 * The target set of RFC 3261 §16.5 without duplicates: "any given URI MUST NOT be added to
 * the set more than once". A target is a duplicate of an earlier one when its Request-URI
 * is equivalent to the earlier one's by the rules of §19.1.4 *and* it resolves to the same
 * next hop (transport, address, port and connection). The next hop is compared too because
 * a binding's Contact URI is not always globally meaningful: two phones behind one NAT may
 * both register `sip:bob@192.168.1.10:5060` and are told apart only by the address their
 * REGISTER came from; URI equality alone would drop one of two real phones. Two bindings of
 * one phone with the same Contact (re-registered with a new +sip.instance, or a stale binding
 * restored from the store) are the same URI at the same address: only the first one stays
 * (bindings come highest q first). URIs that differ beyond §19.1.4 (`;transport=udp` on one
 * only) are different targets, as the RFC says.
 *
 * Returns `targets` itself when there is no duplicate (the usual single target: no work).
 */
export function distinctTargets(targets: Target[]): Target[] {
  if (targets.length < 2) return targets
  let out: Target[] | null = null
  for (let i = 1; i < targets.length; i++) {
    const t = targets[i]!
    let duplicate = false
    for (let j = 0; j < i && !duplicate; j++) duplicate = sameTarget(targets[j]!, t)
    if (duplicate) out ??= targets.slice(0, i)
    else out?.push(t)
  }
  return out ?? targets
}

/** Same next hop and an equivalent Request-URI (§19.1.4); see distinctTargets. */
export function sameTarget(a: Target, b: Target): boolean {
  const da = a.destination
  const db = b.destination
  if (da.flow !== db.flow || da.transport !== db.transport || da.address !== db.address || da.port !== db.port) return false
  if (a.requestUri === b.requestUri) return true
  const ua = parseUri(a.requestUri)
  const ub = parseUri(b.requestUri)
  return ua !== null && ub !== null && sipUrisEquivalent(ua, ub)
}

/**
 * Where a call goes when the dial plan and trunks decide (sip-config/dialplan.yaml,
 * trunks.yaml): the DialPlan's decision (sip/dialplan) turned into proxy targets and a
 * failover handler (serial forking, `ForwardOptions.onFailure`):
 *
 * - a user: its bindings, in parallel (RFC 3261 §16.5);
 * - a ring group: every member's bindings at once with the group's ring time (parallel), or
 *   one member after another, each ringing `ringSeconds` (sequential; members without a
 *   binding are skipped);
 * - trunks, in order: the first usable one (TrunkRegistry.availability: not down, not failed,
 *   under its cap); on 408 or 5xx (RFC 3263 §4.3: also a timeout or transport error) the next
 *   server of the same trunk, then the next usable trunk; a 401/407 from the trunk is answered
 *   once with its credentials (Kamailio's uac_auth); 486, 603 and other answers stop the search
 *   (a 6xx ends it in the proxy already).
 *
 * Also the plain URI case the dial plan does not cover: a SIP URI of another domain dialed by
 * an authenticated user is located by RFC 3263 (sip/dns), with failover across its servers.
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { SipUri } from '../syntax/types.ts'
import type { FailedBranch, FailoverHandler, Target } from '../proxy/target.ts'
import type { CallDirection } from '../proxy/call-events.ts'
import type { LocationService } from '../registrar/location-service.ts'
import type { DialPlan } from '../dialplan/dial-plan.ts'
import type { Caller, RouteDecision, RouteTarget } from '../dialplan/route-decision.ts'
import type { DnsLocator } from '../dns/dns-locator.ts'
import { toDestination } from '../dns/dns-locator.ts'
import type { TrunkRegistry } from '../trunks/trunk-registry.ts'
import type { NextHopResolver } from './next-hop-resolver.ts'
import { logger } from '../../base/log.ts'

const log = logger('sip.routing')

export interface CallRouterOptions {
  /** The running dial plan (replaced on reload). */
  dialPlan(): DialPlan
  /** The running trunks (replaced on reload). */
  trunks(): TrunkRegistry
  location: LocationService
  nextHop: NextHopResolver
  locator: DnsLocator
  /** The gateway's domain (AORs of local users). */
  domain: string
}

/** A refusal with its status, or targets to forward to. */
export type RoutedCall =
  | { kind: 'refuse'; status: number; reason: string; decision: RouteDecision | null }
  | {
    kind: 'forward'
    targets: Target[]
    onFailure?: FailoverHandler
    direction: CallDirection
    /** The trunk of the first target (outbound, transit) or of the caller (inbound). */
    trunk: string | null
    rule: string | null
    decision: RouteDecision | null
  }

/** See the file comment. */
export class CallRouter {
  constructor(private readonly o: CallRouterOptions) {}

  /**
   * Routes a call from `caller` to `dialed` (the Request-URI user part, or a DID) through the
   * dial plan. Synchronous unless a trunk's next hops need DNS.
   */
  route(request: SipRequest, caller: Caller, dialed: string): RoutedCall | Promise<RoutedCall> {
    const decision = this.o.dialPlan().route({ caller, dialed })
    if (decision.outcome !== 'route' || decision.target === null) {
      log.info('call refused by the dial plan', { callId: request.get('call-id'), dialed, status: decision.status, reason: decision.reason })
      return { kind: 'refuse', status: decision.status ?? 404, reason: decision.status === 403 ? 'Forbidden' : 'Not Found', decision }
    }
    const rule = decision.rule?.kind === 'local-user' ? null : decision.rule?.name ?? null
    const inbound = caller.kind === 'trunk'
    const t = decision.target
    if (t.kind === 'trunks') {
      return this.viaTrunks(request, t.trunks, decision.rewritten ?? decision.number, inbound ? 'transit' : 'outbound', rule, decision)
    }
    const direction: CallDirection = inbound ? 'inbound' : 'internal'
    const trunk = inbound ? caller.trunk : null
    const r = this.toUsers(t)
    if (r.targets.length === 0) return { kind: 'refuse', status: 480, reason: 'Temporarily Unavailable', decision }
    return { kind: 'forward', targets: r.targets, ...(r.onFailure ? { onFailure: r.onFailure } : {}), direction, trunk, rule, decision }
  }

  /**
   * A SIP URI outside the gateway's domain (RFC 3263): its servers in order, the first as the
   * target and the others on failover (503, 408, transport error). Empty: 404 with the reason.
   */
  async routeUri(uri: SipUri, requestUri: string): Promise<RoutedCall> {
    const loc = await this.o.locator.resolve(uri)
    if (loc.servers.length === 0) {
      return { kind: 'refuse', status: 404, reason: `No Route (${loc.reason ?? 'no server'})`.slice(0, 120), decision: null }
    }
    const rest = loc.servers.slice(1).map((s): Target => ({ requestUri, destination: toDestination(s) }))
    const onFailure: FailoverHandler = (best) => (failsOver(best.status) && rest.length > 0 ? [rest.shift()!] : null)
    return { kind: 'forward', targets: [{ requestUri, destination: toDestination(loc.servers[0]!) }], onFailure, direction: 'outbound', trunk: null, rule: null, decision: null }
  }

  // ---- users and ring groups ---------------------------------------------------------------

  private bindingTargets(user: string, ringTimeoutMs?: number): Target[] {
    const out: Target[] = []
    for (const b of this.o.location.lookup(`sip:${user}@${this.o.domain}`)) {
      const d = this.o.nextHop.binding(b)
      const headers = this.o.nextHop.bindingHeaders(b)
      if (d) out.push({ requestUri: b.contact, destination: d, user, ...(ringTimeoutMs !== undefined ? { ringTimeoutMs } : {}), ...(headers ? { headers } : {}) })
    }
    return out
  }

  private toUsers(t: Exclude<RouteTarget, { kind: 'trunks' }>): { targets: Target[]; onFailure?: FailoverHandler } {
    if (t.kind === 'user') return { targets: this.bindingTargets(t.user) }
    const ms = t.ringSeconds * 1000
    if (t.strategy === 'parallel') return { targets: t.members.flatMap((m) => this.bindingTargets(m, ms)) }
    // Sequential: the next member with a binding after each one that did not answer.
    const queue = [...t.members]
    const next = (): Target[] | null => {
      while (queue.length > 0) {
        const targets = this.bindingTargets(queue.shift()!, ms)
        if (targets.length > 0) return targets
      }
      return null
    }
    const first = next()
    return first === null ? { targets: [] } : { targets: first, onFailure: () => next() }
  }

  // ---- trunks ------------------------------------------------------------------------------

  private async viaTrunks(
    request: SipRequest, names: string[], number: string, direction: CallDirection, rule: string | null, decision: RouteDecision,
  ): Promise<RoutedCall> {
    const registry = this.o.trunks()
    const callId = request.get('call-id') ?? ''
    const queue = [...names]
    const skipped: string[] = []
    /** The next usable trunk's targets, or null when none is left. */
    const nextTrunk = async (): Promise<Target[] | null> => {
      while (queue.length > 0) {
        const name = queue.shift()!
        const a = registry.availability(name)
        if (!a.usable) {
          skipped.push(`${name}: ${a.reason}`)
          continue
        }
        const r = await registry.targets(name, number)
        if (r.targets.length === 0) {
          skipped.push(`${name}: ${r.reason}`)
          continue
        }
        registry.callStarted(name, callId)
        return r.targets
      }
      return null
    }
    const first = await nextTrunk()
    if (first === null) {
      log.info('no trunk available', { callId, number, trunks: names, skipped })
      return { kind: 'refuse', status: 503, reason: 'No Trunk Available', decision }
    }
    if (skipped.length > 0) log.info('trunks skipped', { callId, skipped })
    let servers = first.slice(1)
    const authenticated = new Set<string>()
    const onFailure: FailoverHandler = (best: SipResponse, failed: readonly FailedBranch[]) => {
      const last = failed[failed.length - 1]
      const trunk = last?.target.trunk
      if (last && trunk !== undefined && (last.status === 401 || last.status === 407) && last.response !== null && !authenticated.has(trunk)) {
        const h = registry.credentialsFor(trunk, last.response, request.method, last.target.requestUri)
        if (h !== null) {
          authenticated.add(trunk)
          // The trunk's 407 is the gateway's to answer: withdrawn from the response context.
          return [{ ...last.target, headers: [...(last.target.headers ?? []), h], answers: last.response }]
        }
      }
      const status = last?.status ?? best.status
      // A trunk that challenges the credentials it was just given refuses the account: like a
      // trunk that is down, the next one is tried, and its challenge is never the caller's.
      const refusedAccount = trunk !== undefined && authenticated.has(trunk) && (status === 401 || status === 407)
      if (refusedAccount) log.warn('trunk refused its credentials', { callId, trunk, status })
      if (!failsOver(status) && !refusedAccount) {
        registry.callEnded(callId)
        return null
      }
      if (servers.length > 0 && !refusedAccount) return [servers.shift()!]
      const withdrawn = refusedAccount && last?.response ? { answers: last.response } : {}
      return nextTrunk().then((t) => {
        if (t === null) {
          registry.callEnded(callId)
          return null
        }
        servers = t.slice(1)
        return [{ ...t[0]!, ...withdrawn }]
      })
    }
    return { kind: 'forward', targets: [first[0]!], onFailure, direction, trunk: first[0]!.trunk ?? null, rule, decision }
  }
}

/** RFC 3263 §4.3 and the trunk failover rule: a timeout, a transport error or a 5xx moves on. */
function failsOver(status: number): boolean {
  return status === 408 || (status >= 500 && status < 600)
}

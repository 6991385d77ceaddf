/**
 * The trunks the gateway runs (sip-config/trunks.yaml, `TrunkDefinition`): inbound matching,
 * live state, concurrent-call counts and caps, next hops, and digest answers for the upstream's
 * challenges on requests sent through a trunk (Kamailio's uac_auth, Asterisk's outbound_auth).
 *
 * The live state comes from the registration clients and OPTIONS qualifiers the composition
 * root runs (`registration-client.ts`, `qualify.ts`), through `liveStatus`: a trunk whose
 * qualify says `down` or whose registration `failed` is skipped by the dial plan's failover,
 * like Kamailio's dispatcher skips inactive destinations.
 */
import type { Scheduler } from '../../base/scheduler.ts'
import type { SipRequest } from '../message/sip-message.ts'
import type { HeaderField } from '../syntax/types.ts'
import { parseUri } from '../syntax/uri.ts'
import type { DnsLocator } from '../dns/dns-locator.ts'
import type { TrunkDefinition } from '../dialplan/trunk-definition.ts'
import { answerChallenge, NonceCounter, type ChallengeResponse, type DigestClientCredentials } from '../auth/digest-client.ts'
import { InboundTrunkMatcher } from './inbound-match.ts'
import { trunkTargets, type TrunkTargets } from './trunk-targets.ts'
import { trunkUsable, type TrunkStatus } from './trunk-status.ts'

export interface TrunkRegistryOptions {
  trunks: readonly TrunkDefinition[]
  locator: DnsLocator
  scheduler: Scheduler
  /** The registration client's or qualifier's state of a trunk; undefined: neither runs. */
  liveStatus?: (name: string) => TrunkStatus | undefined
  /** A call counted against a trunk's cap is forgotten after this long without an end, ms (a lost BYE). Default 4 h. */
  maxCallMs?: number
}

/** Whether a trunk may take a call now, and why not. */
export interface TrunkAvailability {
  usable: boolean
  /** `up 12 ms`, `down: 3 OPTIONS unanswered`, `at its cap of 2 calls`. */
  reason: string
}

/** See the file comment. */
export class TrunkRegistry {
  private readonly byName = new Map<string, TrunkDefinition>()
  private readonly matcher: InboundTrunkMatcher
  /** Call-ID -> trunk and start (ms), for the concurrent-call caps. */
  private readonly calls = new Map<string, { trunk: string; at: number }>()
  private readonly perTrunk = new Map<string, number>()
  private readonly nonces = new NonceCounter(256)
  private readonly maxCallMs: number

  constructor(private readonly o: TrunkRegistryOptions) {
    for (const t of o.trunks) this.byName.set(t.name, t)
    this.matcher = new InboundTrunkMatcher(o.trunks)
    this.maxCallMs = o.maxCallMs ?? 4 * 3600_000
  }

  /** Trunk definitions in trunks.yaml order. */
  get trunks(): readonly TrunkDefinition[] {
    return this.o.trunks
  }

  definition(name: string): TrunkDefinition | undefined {
    return this.byName.get(name)
  }

  /** The trunk an inbound request from `source` comes from (inbound-match.ts), or null. */
  matchInbound(source: string, request: SipRequest): TrunkDefinition | null {
    return this.matcher.match(source, request)
  }

  /**
   * Resolves the hosts of trunks that list no inbound addresses (DNS names), so that their
   * requests are recognised. Call at start and on reload; never rejects.
   */
  async resolveInboundAddresses(): Promise<void> {
    for (const t of this.o.trunks) {
      if (t.inbound.addresses.length > 0) continue
      const hosts = [t.host]
      if (t.outboundProxy) {
        const m = /^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;>]+)/.exec(t.outboundProxy)
        if (m) hosts.push(m[1]!.replace(/^\[|\]$/g, ''))
      }
      const addresses: string[] = []
      for (const host of hosts) {
        const uri = parseUri(`sip:${host.includes(':') ? `[${host}]` : host}`)
        if (uri === null) continue
        const loc = await this.o.locator.resolve(uri)
        for (const s of loc.servers) addresses.push(s.address)
      }
      this.matcher.setResolvedAddresses(t.name, addresses)
    }
  }

  /** The trunk's state for operators (explain, admin page): the live state, else `unknown`. */
  status(name: string): TrunkStatus {
    const live = this.o.liveStatus?.(name)
    if (live !== undefined) return live
    const t = this.byName.get(name)
    return {
      name, state: 'unknown', since: 0,
      detail: t === undefined ? 'no such trunk' : t.qualifySeconds > 0 ? 'not qualified yet' : 'not monitored (qualifySeconds: 0)',
    }
  }

  /** Whether the trunk may take a call now: its state (not down, not failed) and its cap. */
  availability(name: string): TrunkAvailability {
    const t = this.byName.get(name)
    if (t === undefined) return { usable: false, reason: 'no such trunk' }
    const s = this.status(name)
    if (!trunkUsable(s.state)) return { usable: false, reason: `${s.state}: ${s.detail}` }
    const active = this.activeCalls(name)
    if (t.maxCalls > 0 && active >= t.maxCalls) return { usable: false, reason: `at its cap of ${t.maxCalls} concurrent calls` }
    return { usable: true, reason: `${s.state}${s.rttMs !== undefined ? ` (${s.rttMs} ms)` : ''}, ${active} of ${t.maxCalls > 0 ? t.maxCalls : 'unlimited'} calls` }
  }

  /** Next hops for a call to `number` through the trunk (trunk-targets.ts). */
  targets(name: string, number: string): Promise<TrunkTargets> {
    const t = this.byName.get(name)
    if (t === undefined) return Promise.resolve({ targets: [], reason: 'no such trunk' })
    return trunkTargets(t, number, this.o.locator)
  }

  // ---- concurrent calls ---------------------------------------------------------------------

  /** A call (by Call-ID) now uses the trunk; a call already counted moves to this trunk (failover). */
  callStarted(name: string, callId: string): void {
    this.callEnded(callId)
    this.calls.set(callId, { trunk: name, at: this.o.scheduler.now() })
    this.perTrunk.set(name, (this.perTrunk.get(name) ?? 0) + 1)
  }

  /** The call ended (failed, BYE): its trunk's count goes down. Unknown Call-IDs are ignored. */
  callEnded(callId: string): void {
    const c = this.calls.get(callId)
    if (c === undefined) return
    this.calls.delete(callId)
    this.perTrunk.set(c.trunk, Math.max(0, (this.perTrunk.get(c.trunk) ?? 1) - 1))
  }

  /** Calls through the trunk now (after forgetting those older than maxCallMs). */
  activeCalls(name: string): number {
    const now = this.o.scheduler.now()
    for (const [id, c] of this.calls) {
      if (now - c.at <= this.maxCallMs) break // insertion order: the oldest first
      this.callEnded(id)
    }
    return this.perTrunk.get(name) ?? 0
  }

  // ---- digest ------------------------------------------------------------------------------

  /**
   * The Authorization / Proxy-Authorization field answering the trunk's 401/407 to a request
   * (RFC 3261 §22.2-22.3 as a UAC, RFC 7616/8760), or null when the trunk has no credentials
   * or the challenge cannot be answered.
   */
  credentialsFor(name: string, response: ChallengeResponse, method: string, requestUri: string): HeaderField | null {
    const t = this.byName.get(name)
    const c = t?.credentials
    if (c === undefined) return null
    const credentials: DigestClientCredentials = {
      username: c.authUsername,
      ...(c.password !== undefined ? { password: c.password } : {}),
      ...(c.ha1 !== undefined ? { ha1: c.ha1 } : {}),
      ...(c.ha1Sha256 !== undefined ? { ha1Sha256: c.ha1Sha256 } : {}),
      ...(c.realm !== undefined ? { realm: c.realm } : {}),
    }
    const h = answerChallenge(response, method, requestUri, credentials, this.nonces)
    return h === null ? null : { name: h.name, value: h.value }
  }
}

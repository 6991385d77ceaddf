/**
 * The gateway's defences against hostile traffic, in one object the request pipeline, the
 * admin API and the metrics share:
 *
 * - `allowed(source)`: the allow-list (security.allowList + proxy.trustedSources);
 * - `refused(source)`: the ban check (BanList), counting what it refuses;
 * - `request(source)`: the per-source rate limit (FloodGuard, Kamailio pike);
 * - `overCapacity()`: the server transaction cap (503 + Retry-After);
 * - `authFailure(source, username)`: the brute-force counters (BruteForceGuard);
 * - `bans.list()`, `lift(source)`: the admin API; `stats`: plain counters for /metrics.
 *
 * A ban is per source address and never touches another source. `banAction` says what the
 * pipeline does with a banned source's requests: drop them (no answer, like Kamailio's
 * `exit` after an ipban hit) or answer 403 (Forbidden), both statelessly.
 */
import type { Scheduler } from '../../base/scheduler.ts'
import { BanList, type BanInfo } from './ban-list.ts'
import { BruteForceGuard, type BruteForceLimits } from './brute-force-guard.ts'
import { FloodGuard, type FloodLimits } from './flood-guard.ts'
import { SourceAllowList } from './source-allow-list.ts'

/** What happens to requests from a banned source. */
export type BanAction = 'drop' | 'reject'

/** The tunable part of the defences (what a configuration reload may change). */
export interface SipSecuritySettings {
  /** Addresses and CIDR prefixes never banned, rate-limited or refused at the cap. */
  allowList: readonly string[]
  /** drop: no answer; reject: 403 (Forbidden). */
  banAction: BanAction
  bruteForce: BruteForceLimits & { enabled: boolean }
  flood: FloodLimits
}

export interface SipSecurityOptions extends SipSecuritySettings {
  scheduler: Pick<Scheduler, 'now' | 'unixSeconds'>
  /** Most bans held at once. */
  maxBans: number
  /** Most sources (and user names) each counter table tracks. */
  maxTracked: number
  /** Live server transactions now, for the cap. */
  serverTransactions(): number
}

/** The counters, plain numbers (mapped into /metrics by gateway-metrics.ts). */
export interface SecurityStats {
  /** Failed digest attempts counted (wrong response, known user or not). */
  authFailures: number
  /** Bans placed for failed digest attempts since start. */
  bruteForceBans: number
  /** Bans placed for request rate since start. */
  floodBans: number
  /** Bans active now. */
  bansActive: number
  /** Bans placed since start (brute force + flood). */
  bansTotal: number
  /** Bans lifted through the admin API since start. */
  bansLifted: number
  /** Requests refused (dropped or 403) because their source was banned, the banning request included. */
  refusedWhileBanned: number
  /** Requests answered 503 at the server transaction cap. */
  overloadRejected: number
  /** Sources the flood counter tracks now (bounded by maxTracked). */
  trackedSources: number
  /** User names the brute-force counter tracks now (bounded by maxTracked). */
  trackedUsers: number
}

/** See the module comment. */
export class SipSecurity {
  readonly bans: BanList
  readonly bruteForce: BruteForceGuard
  readonly flood: FloodGuard
  private allowList: SourceAllowList
  private settings: SipSecuritySettings
  private authFailureCount = 0
  /** Banning requests (the request that crossed a threshold), refused but not by `refused()`. */
  private banningRefusals = 0

  /** @throws TypeError for an allow-list entry that is not an address or prefix (the loader checks first) */
  constructor(options: SipSecurityOptions) {
    this.settings = options
    this.allowList = new SourceAllowList(options.allowList)
    this.bans = new BanList({ scheduler: options.scheduler, maxEntries: options.maxBans })
    this.bruteForce = new BruteForceGuard({ ...options.bruteForce, scheduler: options.scheduler, bans: this.bans, maxTracked: options.maxTracked })
    this.flood = new FloodGuard({
      ...options.flood, scheduler: options.scheduler, bans: this.bans, maxTracked: options.maxTracked,
      serverTransactions: options.serverTransactions,
    })
  }

  /** drop or reject (403). */
  get banAction(): BanAction {
    return this.settings.banAction
  }

  /** Whether `source` is on the allow-list. */
  allowed(source: string): boolean {
    return this.allowList.has(source)
  }

  /** Whether `source` is banned now; counts the refused request when it is. O(1). */
  refused(source: string): boolean {
    return this.bans.refused(source)
  }

  /** Counts a request from `source`; false when it took the source past its rate (banned now). O(1). */
  request(source: string): boolean {
    if (this.flood.request(source)) return true
    this.banningRefusals++
    return false
  }

  /** Whether the server transaction cap is reached (counts a 503 when it is). */
  overCapacity(): boolean {
    return this.flood.overCapacity()
  }

  /** Retry-After of the overload 503, seconds. */
  get retryAfterSeconds(): number {
    return this.flood.retryAfterSeconds
  }

  /**
   * Counts one failed digest attempt. Returns true when the source is banned now (the
   * caller refuses this request as it would any banned one). An allow-listed source
   * (`allowListed`, as the caller found it) is counted in `stats.authFailures` only.
   */
  authFailure(source: string, username: string | undefined, allowListed = false): boolean {
    this.authFailureCount++
    if (allowListed || !this.settings.bruteForce.enabled) return false
    if (!this.bruteForce.failure(source, username).banned) return false
    this.banningRefusals++
    return true
  }

  /** Lifts the ban of `source` and forgets its counts (so that it starts afresh). */
  lift(source: string): boolean {
    this.bruteForce.forgetSource(source)
    this.flood.forgetSource(source)
    return this.bans.lift(source)
  }

  /** Every active ban (admin API). */
  listBans(): BanInfo[] {
    return this.bans.list()
  }

  /** Applies new settings (configuration reload): allow-list, ban action, limits. */
  reconfigure(settings: SipSecuritySettings): void {
    this.allowList = new SourceAllowList(settings.allowList)
    this.settings = { allowList: [...settings.allowList], banAction: settings.banAction, bruteForce: { ...settings.bruteForce }, flood: { ...settings.flood } }
    this.bruteForce.setLimits(settings.bruteForce)
    this.flood.setLimits(settings.flood)
  }

  /** The counters now (O(bans) for bansActive; meant for scrapes, not per request). */
  get stats(): SecurityStats {
    const b = this.bans.stats
    const tracked = this.bruteForce.tracked
    return {
      authFailures: this.authFailureCount,
      bruteForceBans: this.bruteForce.bansPlaced,
      floodBans: this.flood.bansPlaced,
      bansActive: this.bans.activeCount,
      bansTotal: b.total,
      bansLifted: b.lifted,
      refusedWhileBanned: b.refused + this.banningRefusals,
      overloadRejected: this.flood.overloadRejected,
      trackedSources: this.flood.trackedSources,
      trackedUsers: tracked.users,
    }
  }
}

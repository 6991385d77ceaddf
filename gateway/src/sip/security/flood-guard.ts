/**
 * Flood defence, after Kamailio's `pike` module: requests are counted per source address over
 * a sliding window (pike: `sampling_time_unit`, `reqs_density_per_unit`), and a source that
 * sends more than `maxRequests` in a window is banned for `banSeconds` (the default
 * kamailio.cfg puts a pike-flagged source into the `ipban` htable the same way).
 *
 * Plus a global cap on concurrent server transactions: past `maxServerTransactions`, new
 * requests are refused with 503 (Service Unavailable) and Retry-After (RFC 3261 §21.5.4:
 * "The server MAY indicate when the client should retry the request in a Retry-After header
 * field"), instead of creating ever more work. The caller answers them statelessly, so a
 * refused request keeps no transaction state.
 *
 * O(1) per request, no timer, bounded tables (SlidingWindowCounter). Allow-listed sources
 * are not counted (the caller skips them).
 */
import type { Scheduler } from '../../base/scheduler.ts'
import { logger } from '../../base/log.ts'
import type { BanList } from './ban-list.ts'
import { SlidingWindowCounter } from './sliding-window-counter.ts'

const log = logger('sip.security')

export interface FloodLimits {
  /** Per-source rate limit on/off. */
  enabled: boolean
  /** Sliding window, milliseconds. */
  windowMs: number
  /** Requests one source may send per window; one more bans it (>= 1). */
  maxRequests: number
  /** Ban length, seconds. */
  banSeconds: number
  /** Concurrent server transactions above which new requests get 503; 0: no cap. */
  maxServerTransactions: number
  /** Retry-After of that 503, seconds. */
  retryAfterSeconds: number
}

export interface FloodGuardOptions extends FloodLimits {
  scheduler: Pick<Scheduler, 'now'>
  bans: BanList
  /** Sources tracked at once (the table's bound). */
  maxTracked: number
  /** Live server transactions now (INVITE + non-INVITE), read for the cap. */
  serverTransactions(): number
}

/** Per-source request rate limit with ban, and the global transaction cap. */
export class FloodGuard {
  private limits: FloodLimits
  private readonly bans: BanList
  private readonly scheduler: Pick<Scheduler, 'now'>
  private readonly maxTracked: number
  private readonly serverTransactions: () => number
  private bySource: SlidingWindowCounter
  private banCount = 0
  private rejectedCount = 0
  private overloaded = false

  constructor(options: FloodGuardOptions) {
    this.scheduler = options.scheduler
    this.bans = options.bans
    this.maxTracked = options.maxTracked
    this.serverTransactions = options.serverTransactions
    this.limits = pickLimits(options)
    this.bySource = this.counter()
  }

  /**
   * Counts one request from `source`. Returns false when that took the source past its
   * rate: it is banned from now on (logged once, at the ban). O(1).
   */
  request(source: string): boolean {
    const l = this.limits
    if (!l.enabled) return true
    const n = this.bySource.hit(source)
    if (n <= l.maxRequests) return true
    if (this.bans.ban(source, l.banSeconds, 'flood')) {
      this.banCount++
      log.warn('source banned: request rate over the limit', {
        source, requests: Math.round(n), windowSeconds: l.windowMs / 1000, maxRequests: l.maxRequests, banSeconds: l.banSeconds,
      })
    }
    return false
  }

  /**
   * Whether the server transaction cap is reached now; when it is, counts one 503. Logs when
   * the gateway goes over the cap and when it is below it again (not per request).
   */
  overCapacity(): boolean {
    const cap = this.limits.maxServerTransactions
    if (cap === 0) return false
    const live = this.serverTransactions()
    // The request being decided has its transaction already: `live` counts it.
    const over = live > cap
    if (over !== this.overloaded) {
      this.overloaded = over
      if (over) log.warn('server transaction cap reached: new requests get 503', { live, cap, retryAfterSeconds: this.limits.retryAfterSeconds })
      else log.info('server transactions below the cap again', { live, cap, rejected: this.rejectedCount })
    }
    if (over) this.rejectedCount++
    return over
  }

  /** Retry-After of the overload 503, seconds. */
  get retryAfterSeconds(): number {
    return this.limits.retryAfterSeconds
  }

  /** Forgets the requests counted for `source` (when an operator lifts its ban). */
  forgetSource(source: string): void {
    this.bySource.delete(source)
  }

  /** Replaces the limits; a new window length starts the counts afresh. */
  setLimits(limits: FloodLimits): void {
    const windowChanged = limits.windowMs !== this.limits.windowMs
    this.limits = pickLimits(limits)
    if (windowChanged) this.bySource = this.counter()
  }

  /** Bans this guard placed since start. */
  get bansPlaced(): number {
    return this.banCount
  }

  /** Requests answered 503 at the transaction cap since start. */
  get overloadRejected(): number {
    return this.rejectedCount
  }

  /** Sources tracked now. */
  get trackedSources(): number {
    return this.bySource.size
  }

  private counter(): SlidingWindowCounter {
    return new SlidingWindowCounter({ scheduler: this.scheduler, windowMs: this.limits.windowMs, maxKeys: this.maxTracked })
  }
}

function pickLimits(l: FloodLimits): FloodLimits {
  return {
    enabled: l.enabled, windowMs: l.windowMs, maxRequests: l.maxRequests, banSeconds: l.banSeconds,
    maxServerTransactions: l.maxServerTransactions, retryAfterSeconds: l.retryAfterSeconds,
  }
}

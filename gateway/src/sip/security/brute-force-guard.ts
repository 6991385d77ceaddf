/**
 * Brute-force defence for digest authentication (RFC 3261 §22): failed attempts are counted
 * per source address and per claimed user name over a sliding window, and a source that
 * goes past a threshold is banned for a while — what fail2ban does for Asterisk from its
 * log, and Kamailio's default configuration with an `htable` counter per `$au` / `$si`.
 *
 * What counts as a failure is the caller's decision (the request pipeline counts a wrong
 * digest response, whether or not the user exists — Asterisk's `alwaysauthreject` — and not
 * a missing credential, a stale nonce or a nonce we never issued: those guess nothing).
 *
 * A source is banned when, within `windowMs`:
 * - its own failures reach `maxFailuresPerSource`, or
 * - the failures for the user name it claimed (from any source) have reached
 *   `maxFailuresPerUser`: a distributed guess at one account bans each source that keeps
 *   failing for it, and never the account itself (a guessed-at user with the right password
 *   still gets in from anywhere).
 *
 * Never bans an allow-listed source (the caller does not count those). Logs each ban with
 * source and user name; it never sees a digest response or a password.
 */
import type { Scheduler } from '../../base/scheduler.ts'
import { logger } from '../../base/log.ts'
import type { BanList } from './ban-list.ts'
import { SlidingWindowCounter } from './sliding-window-counter.ts'

const log = logger('sip.security')

/** Longest user name kept as a counter key (longer ones are cut: the table is bounded anyway). */
const MAX_USERNAME_KEY = 128

export interface BruteForceLimits {
  /** Sliding window, milliseconds. */
  windowMs: number
  /** Failures from one source within the window that ban it (>= 1). */
  maxFailuresPerSource: number
  /** Failures for one user name within the window after which each further failing source is banned (>= 1). */
  maxFailuresPerUser: number
  /** Ban length, seconds. */
  banSeconds: number
}

export interface BruteForceGuardOptions extends BruteForceLimits {
  scheduler: Pick<Scheduler, 'now'>
  bans: BanList
  /** Most sources, and most user names, tracked at once (each table). */
  maxTracked: number
}

/** What `failure` decided. */
export interface BruteForceVerdict {
  /** The source is banned now (by this failure or before). */
  banned: boolean
  /** The source's failures in the window, this one included (estimate, see SlidingWindowCounter). */
  sourceFailures: number
  /** The user name's failures in the window, this one included. */
  userFailures: number
}

/** Counts digest failures and bans sources past the thresholds (see the module comment). */
export class BruteForceGuard {
  private limits: BruteForceLimits
  private readonly bans: BanList
  private readonly scheduler: Pick<Scheduler, 'now'>
  private readonly maxTracked: number
  private bySource: SlidingWindowCounter
  private byUser: SlidingWindowCounter
  private failureCount = 0
  private banCount = 0

  constructor(options: BruteForceGuardOptions) {
    this.scheduler = options.scheduler
    this.bans = options.bans
    this.maxTracked = options.maxTracked
    this.limits = pickLimits(options)
    this.bySource = this.counter()
    this.byUser = this.counter()
  }

  /**
   * Counts one failed digest attempt from `source` claiming `username` (undefined when the
   * credentials named none), and bans the source when a threshold is reached. O(1).
   */
  failure(source: string, username: string | undefined): BruteForceVerdict {
    this.failureCount++
    const l = this.limits
    const sourceFailures = this.bySource.hit(source)
    const userKey = username === undefined ? undefined : username.length > MAX_USERNAME_KEY ? username.slice(0, MAX_USERNAME_KEY) : username
    const userFailures = userKey === undefined ? 0 : this.byUser.hit(userKey)
    let why: 'source' | 'user' | null = null
    if (sourceFailures >= l.maxFailuresPerSource) why = 'source'
    else if (userFailures >= l.maxFailuresPerUser) why = 'user'
    if (why === null) return { banned: this.bans.isBanned(source), sourceFailures, userFailures }
    if (this.bans.ban(source, l.banSeconds, 'brute-force', username)) {
      this.banCount++
      log.warn('source banned: too many failed digest attempts', {
        source, username, threshold: why === 'source' ? 'per-source' : 'per-user',
        sourceFailures: round(sourceFailures), userFailures: round(userFailures),
        windowSeconds: l.windowMs / 1000, banSeconds: l.banSeconds,
      })
    }
    return { banned: true, sourceFailures, userFailures }
  }

  /** Forgets the failures counted for `source` (when an operator lifts its ban). */
  forgetSource(source: string): void {
    this.bySource.delete(source)
  }

  /** Replaces the thresholds; a new window length starts the counts afresh. */
  setLimits(limits: BruteForceLimits): void {
    const windowChanged = limits.windowMs !== this.limits.windowMs
    this.limits = pickLimits(limits)
    if (windowChanged) {
      this.bySource = this.counter()
      this.byUser = this.counter()
    }
  }

  /** Failures counted since start. */
  get failures(): number {
    return this.failureCount
  }

  /** Bans this guard placed since start. */
  get bansPlaced(): number {
    return this.banCount
  }

  /** Sources and user names tracked now. */
  get tracked(): { sources: number; users: number } {
    return { sources: this.bySource.size, users: this.byUser.size }
  }

  private counter(): SlidingWindowCounter {
    return new SlidingWindowCounter({ scheduler: this.scheduler, windowMs: this.limits.windowMs, maxKeys: this.maxTracked })
  }
}

function pickLimits(l: BruteForceLimits): BruteForceLimits {
  return { windowMs: l.windowMs, maxFailuresPerSource: l.maxFailuresPerSource, maxFailuresPerUser: l.maxFailuresPerUser, banSeconds: l.banSeconds }
}

function round(n: number): number {
  return Math.round(n * 10) / 10
}

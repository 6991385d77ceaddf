/**
 * Banned source addresses with an expiry, shared by the brute-force and flood guards: the
 * `ipban` htable of Kamailio's default configuration (`$sht(ipban=>$si)` with autoexpire),
 * or fail2ban's jail, inside the gateway.
 *
 * `refused(source)` is one Map lookup; an expired ban is removed when it is next looked at
 * or listed (no timer runs per ban). The table holds at most `maxEntries` bans; a ban added to
 * a full table first drops expired ones, then the oldest ban (logged).
 */
import type { Scheduler } from '../../base/scheduler.ts'
import { logger } from '../../base/log.ts'

const log = logger('sip.security')

/** Why a source was banned. */
export type BanReason =
  /** Too many failed digest attempts from the source (or for one user name), brute-force-guard.ts. */
  | 'brute-force'
  /** Too many requests per second from the source, flood-guard.ts. */
  | 'flood'

/** One active ban as listed (admin API, logs). Times are Unix seconds. */
export interface BanInfo {
  source: string
  reason: BanReason
  /** The user name the last counted failure claimed (brute force), when there was one. */
  username?: string
  bannedAt: number
  expiresAt: number
  /** Seconds left, rounded up. */
  expiresIn: number
  /** Requests refused from the source since the ban began. */
  refused: number
}

interface Ban {
  reason: BanReason
  username: string | undefined
  /** scheduler.now() values, milliseconds. */
  since: number
  until: number
  refused: number
}

export interface BanListOptions {
  /** Clock: `now()` for expiry, `unixSeconds()` for listed times. */
  scheduler: Pick<Scheduler, 'now' | 'unixSeconds'>
  /** Most bans held at once (>= 1). */
  maxEntries: number
}

/** Counters of a BanList, plain numbers. */
export interface BanListStats {
  /** Bans placed since start (a ban extended while active counts once). */
  total: number
  /** Requests refused because their source was banned. */
  refused: number
  /** Bans lifted by an operator. */
  lifted: number
  /** Bans dropped early because the table was full. */
  evicted: number
}

/** Source address -> ban, with expiry. */
export class BanList {
  private readonly bans = new Map<string, Ban>()
  private readonly scheduler: Pick<Scheduler, 'now' | 'unixSeconds'>
  private readonly maxEntries: number
  private readonly counters: BanListStats = { total: 0, refused: 0, lifted: 0, evicted: 0 }
  /**
   * Told of every new ban placed by `ban` (not by `adopt`): the worker processes of one
   * gateway share their bans this way (docs/architecture.md §4b).
   */
  onBan: ((source: string, seconds: number, reason: BanReason, username?: string) => void) | null = null

  /** @throws RangeError when maxEntries < 1 (programming error) */
  constructor(options: BanListOptions) {
    if (!(options.maxEntries >= 1)) throw new RangeError('maxEntries must be >= 1')
    this.scheduler = options.scheduler
    this.maxEntries = Math.floor(options.maxEntries)
  }

  /**
   * Bans `source` for `seconds` from now. A source banned already keeps its ban, extended
   * when the new one ends later (its reason and user name are updated then).
   * @returns true when this placed a new ban (the source was not banned)
   */
  ban(source: string, seconds: number, reason: BanReason, username?: string): boolean {
    const now = this.scheduler.now()
    const until = now + seconds * 1000
    const existing = this.active(source, now)
    if (existing !== undefined) {
      if (until > existing.until) {
        existing.until = until
        existing.reason = reason
        existing.username = username
      }
      return false
    }
    if (this.bans.size >= this.maxEntries) this.makeRoom(now)
    this.bans.set(source, { reason, username, since: now, until, refused: 0 })
    this.counters.total++
    this.onBan?.(source, seconds, reason, username)
    return true
  }

  /** A ban another worker placed: applied like `ban`, without telling `onBan` again. */
  adopt(source: string, seconds: number, reason: BanReason, username?: string): boolean {
    const listener = this.onBan
    this.onBan = null
    try {
      return this.ban(source, seconds, reason, username)
    } finally {
      this.onBan = listener
    }
  }

  /**
   * Whether `source` is banned now; when it is, counts one refused request. O(1).
   */
  refused(source: string): boolean {
    if (this.bans.size === 0) return false
    const b = this.active(source, this.scheduler.now())
    if (b === undefined) return false
    b.refused++
    this.counters.refused++
    return true
  }

  /** Whether `source` is banned now (counts nothing). */
  isBanned(source: string): boolean {
    return this.bans.size > 0 && this.active(source, this.scheduler.now()) !== undefined
  }

  /** The active ban of `source`, or undefined. */
  get(source: string): BanInfo | undefined {
    const now = this.scheduler.now()
    const b = this.active(source, now)
    return b === undefined ? undefined : this.info(source, b, now)
  }

  /** Lifts the ban of `source` (operator action). Returns false when it was not banned. */
  lift(source: string): boolean {
    const was = this.active(source, this.scheduler.now()) !== undefined
    this.bans.delete(source)
    if (was) {
      this.counters.lifted++
      log.info('ban lifted', { source })
    }
    return was
  }

  /** Every active ban, soonest expiry first; removes expired ones. O(n), n <= maxEntries. */
  list(): BanInfo[] {
    const now = this.scheduler.now()
    this.pruneExpired(now)
    const out: BanInfo[] = []
    for (const [source, b] of this.bans) out.push(this.info(source, b, now))
    return out.sort((a, b) => a.expiresAt - b.expiresAt || (a.source < b.source ? -1 : 1))
  }

  /** Active bans now (removes expired ones; O(n), for metrics scrapes rather than per request). */
  get activeCount(): number {
    this.pruneExpired(this.scheduler.now())
    return this.bans.size
  }

  /** A copy of the counters. */
  get stats(): BanListStats {
    return { ...this.counters }
  }

  /** Removes every ban (no counter changes). */
  clear(): void {
    this.bans.clear()
  }

  private active(source: string, now: number): Ban | undefined {
    const b = this.bans.get(source)
    if (b === undefined) return undefined
    if (b.until > now) return b
    this.bans.delete(source)
    log.info('ban expired', { source, reason: b.reason, refused: b.refused })
    return undefined
  }

  private pruneExpired(now: number): void {
    for (const [source, b] of this.bans) {
      if (b.until <= now) {
        this.bans.delete(source)
        log.info('ban expired', { source, reason: b.reason, refused: b.refused })
      }
    }
  }

  private makeRoom(now: number): void {
    this.pruneExpired(now)
    if (this.bans.size < this.maxEntries) return
    const first = this.bans.keys().next()
    if (first.done === true) return
    this.bans.delete(first.value)
    this.counters.evicted++
    log.warn('ban table full: oldest ban dropped early', { source: first.value, maxEntries: this.maxEntries })
  }

  private info(source: string, b: Ban, now: number): BanInfo {
    const unixNow = this.scheduler.unixSeconds()
    const info: BanInfo = {
      source,
      reason: b.reason,
      bannedAt: Math.round(unixNow - (now - b.since) / 1000),
      expiresAt: Math.round(unixNow + (b.until - now) / 1000),
      expiresIn: Math.ceil((b.until - now) / 1000),
      refused: b.refused,
    }
    if (b.username !== undefined) info.username = b.username
    return info
  }
}

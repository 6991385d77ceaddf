/**
 * Event counts per key over a sliding time window, in O(1) time per event and bounded
 * memory: the counting primitive of the brute-force and flood guards (Kamailio's pike
 * counts requests per source in fixed "sampling time units"; this slides).
 *
 * The window of `windowMs` is cut into `slots` sub-buckets on a global grid; each key keeps
 * the counts of the current sub-bucket and the `slots` before it (a ring), and their sum.
 * The window ending now covers the current sub-bucket, the `slots - 1` before it, and the
 * part of the oldest one still inside the window, which is weighted by that overlap:
 *
 *   estimate = sum - oldest * (elapsedInCurrent / slotMs)
 *
 * Events older than the window never count; events inside it always do, except that the
 * oldest sub-bucket is assumed to be spread evenly: the estimate is off by at most that one
 * sub-bucket's share (1/slots of the window; 8 slots: 12.5 %). A burst that starts from
 * nothing is counted exactly until a whole window has passed. No timer runs: the ring rolls
 * lazily when a key is touched, at most `slots + 1` steps (O(1)).
 *
 * Memory is bounded by `maxKeys` (about 100 bytes a key with 8 slots), in two generations
 * of at most maxKeys / 2 keys each: new keys go into the young one; when it is full, the old
 * generation is dropped whole and the young one becomes old; a key found in the old
 * generation moves back into the young one. Keys in use stay; a flood of new keys (random
 * source addresses) pushes out idle ones and never grows the table, in O(1) per key — no
 * scan, no per-entry eviction (deleting from the front of a Map one entry at a time
 * degrades to a scan over its tombstones).
 */
import type { Scheduler } from '../../base/scheduler.ts'

export interface SlidingWindowCounterOptions {
  /** Clock; only `now()` (milliseconds, monotonic) is read. */
  scheduler: Pick<Scheduler, 'now'>
  /** Window length in milliseconds (> 0). */
  windowMs: number
  /** Most keys kept at once (>= 2): two generations of maxKeys / 2 (see the module comment). */
  maxKeys: number
  /** Sub-buckets per window (1..64, default 8): the precision of the slide. */
  slots?: number
}

interface Entry {
  /** Index of the current sub-bucket on the global grid: floor(now / slotMs). */
  slot: number
  /** Ring of slots + 1 counts; the count of grid slot s is at s % (slots + 1). */
  counts: number[]
  /** Sum of `counts`. */
  total: number
}

/** Per-key event counts over the last `windowMs` (see the module comment for the estimate). */
export class SlidingWindowCounter {
  readonly windowMs: number
  readonly maxKeys: number
  readonly slots: number
  private readonly slotMs: number
  private readonly ring: number
  private readonly scheduler: Pick<Scheduler, 'now'>
  private readonly generationSize: number
  private young = new Map<string, Entry>()
  private old = new Map<string, Entry>()
  private evictedCount = 0

  /** @throws RangeError for windowMs <= 0, maxKeys < 2 or slots outside 1..64 (programming errors) */
  constructor(options: SlidingWindowCounterOptions) {
    const slots = options.slots ?? 8
    if (!(options.windowMs > 0)) throw new RangeError('windowMs must be > 0')
    if (!(options.maxKeys >= 2)) throw new RangeError('maxKeys must be >= 2')
    if (!(Number.isInteger(slots) && slots >= 1 && slots <= 64)) throw new RangeError('slots must be an integer in 1..64')
    this.scheduler = options.scheduler
    this.windowMs = options.windowMs
    this.maxKeys = Math.floor(options.maxKeys)
    this.generationSize = Math.floor(this.maxKeys / 2)
    this.slots = slots
    this.slotMs = options.windowMs / slots
    this.ring = slots + 1
  }

  /**
   * Counts `n` events for `key` now and returns the estimated number of events of `key` in
   * the window ending now, these included. O(1).
   */
  hit(key: string, n = 1): number {
    const now = this.scheduler.now()
    const slot = Math.floor(now / this.slotMs)
    let e = this.young.get(key) ?? this.promote(key)
    if (e === undefined) {
      e = { slot, counts: new Array<number>(this.ring).fill(0), total: 0 }
      this.insert(key, e)
    } else if (e.slot !== slot) {
      this.roll(e, slot)
    }
    e.counts[slot % this.ring]! += n
    e.total += n
    return this.estimate(e, now, slot)
  }

  /** The estimated count of `key` in the window ending now, without counting anything. O(1). */
  count(key: string): number {
    const e = this.young.get(key) ?? this.old.get(key)
    if (e === undefined) return 0
    const now = this.scheduler.now()
    const slot = Math.floor(now / this.slotMs)
    if (e.slot !== slot) this.roll(e, slot)
    return this.estimate(e, now, slot)
  }

  /** Forgets `key` (e.g. when an operator lifts a ban). Returns whether it was tracked. */
  delete(key: string): boolean {
    const young = this.young.delete(key)
    return this.old.delete(key) || young
  }

  /** Keys tracked now, at most maxKeys (idle keys stay until their generation is dropped). */
  get size(): number {
    return this.young.size + this.old.size
  }

  /** Keys evicted to make room since construction. */
  get evicted(): number {
    return this.evictedCount
  }

  clear(): void {
    this.young = new Map()
    this.old = new Map()
  }

  /** Moves `e` to grid slot `slot`, zeroing the sub-buckets that left the ring. */
  private roll(e: Entry, slot: number): void {
    const steps = slot - e.slot
    if (steps >= this.ring || steps < 0) {
      e.counts.fill(0)
      e.total = 0
    } else {
      for (let s = e.slot + 1; s <= slot; s++) {
        const i = s % this.ring
        e.total -= e.counts[i]!
        e.counts[i] = 0
      }
    }
    e.slot = slot
  }

  private estimate(e: Entry, now: number, slot: number): number {
    // The oldest sub-bucket in the ring is slot - slots, at (slot + 1) % ring.
    const oldest = e.counts[(slot + 1) % this.ring]!
    if (oldest === 0) return e.total
    return e.total - oldest * ((now - slot * this.slotMs) / this.slotMs)
  }

  /** Moves `key` from the old generation into the young one; undefined when it is in neither. */
  private promote(key: string): Entry | undefined {
    const e = this.old.get(key)
    if (e === undefined) return undefined
    this.old.delete(key)
    this.insert(key, e)
    return e
  }

  /** Adds to the young generation; a full young generation first replaces the old one. */
  private insert(key: string, e: Entry): void {
    if (this.young.size >= this.generationSize) {
      this.evictedCount += this.old.size
      this.old = this.young
      this.young = new Map()
    }
    this.young.set(key, e)
  }
}

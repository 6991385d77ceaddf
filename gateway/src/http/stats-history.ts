/**
 * A short memory of the gateway's load for the admin page's charts (issue 13 item 6):
 * every `intervalMs` (10 s) it samples a few gauges (calls in progress, registered contacts,
 * ...) and the growth of a few counters over the interval (calls started, ...), and keeps the
 * last `capacity` samples (2,160 = 6 h at 10 s) in a ring buffer. Nothing is stored on disk:
 * a restart starts the history afresh. `GET /api/stats/history` (stats-history-plugin.ts)
 * serves it.
 *
 * The values come from the composition root as plain readers (`() => number`), so this
 * module knows no layer; the Prometheus exposition (gateway-metrics.ts) reads the same ones.
 */
import type { Scheduler, TimerHandle } from '../base/scheduler.ts'

/** One sample: when (epoch ms, wall clock) and the value of every series at that time. */
export interface StatsSample {
  /** Wall-clock time of the sample, milliseconds since the Unix epoch. */
  t: number
  /** Series name -> value: a gauge's value, or a counter's growth since the previous sample. */
  values: Record<string, number>
}

export interface StatsHistoryOptions {
  scheduler: Scheduler
  /** Instantaneous values, sampled as they are (e.g. `activeCalls: () => recorder.stats.active`). */
  gauges: Record<string, () => number>
  /**
   * Monotonic totals (e.g. `callsStarted: () => recorder.stats.started`): each sample holds
   * the growth since the previous one (0 for the first sample and after a counter went down).
   */
  counters?: Record<string, () => number>
  /** Sampling period in milliseconds (default 10,000). */
  intervalMs?: number
  /** Samples kept (default 2,160: 6 h at 10 s). */
  capacity?: number
  /** Wall clock in epoch ms (default `scheduler.unixSeconds() * 1000`). */
  wallClockMs?: () => number
}

/** What `GET /api/stats/history` answers. */
export interface StatsHistorySnapshot {
  /** Sampling period, milliseconds. */
  intervalMs: number
  /** Samples the buffer holds at most. */
  capacity: number
  /** Gauge names, then counter names (the keys of every sample's `values`). */
  gauges: string[]
  counters: string[]
  /** Oldest first. */
  samples: StatsSample[]
}

/**
 * The sampler and its ring buffer. `start()` arms the timer (the first sample is taken at
 * once), `stop()` disarms it; `sampleNow()` takes one sample outside the timer (tests).
 * A reader that throws is logged nowhere and recorded as 0: a chart must not stop the gateway.
 */
export class StatsHistory {
  readonly intervalMs: number
  readonly capacity: number
  private readonly scheduler: Scheduler
  private readonly gauges: Array<[string, () => number]>
  private readonly counters: Array<[string, () => number]>
  private readonly wallClockMs: () => number
  private readonly ring: Array<StatsSample | undefined>
  /** Index the next sample goes to. */
  private head = 0
  private count = 0
  private readonly lastTotals = new Map<string, number>()
  private timer: TimerHandle | null = null

  constructor(options: StatsHistoryOptions) {
    this.scheduler = options.scheduler
    this.intervalMs = Math.max(1, options.intervalMs ?? 10_000)
    this.capacity = Math.max(1, Math.floor(options.capacity ?? 2_160))
    this.gauges = Object.entries(options.gauges)
    this.counters = Object.entries(options.counters ?? {})
    this.wallClockMs = options.wallClockMs ?? (() => this.scheduler.unixSeconds() * 1000)
    this.ring = new Array(this.capacity)
  }

  /** Takes a first sample now and one every `intervalMs` until `stop()`. Idempotent. */
  start(): void {
    if (this.timer !== null) return
    this.sampleNow()
    this.arm()
  }

  /** Disarms the timer; the samples stay readable. */
  stop(): void {
    if (this.timer !== null) this.scheduler.clearTimer(this.timer)
    this.timer = null
  }

  /** True between start() and stop(). */
  get running(): boolean {
    return this.timer !== null
  }

  private arm(): void {
    this.timer = this.scheduler.setTimer(this.intervalMs, StatsHistory.tick, this)
  }

  private static tick(self: StatsHistory): void {
    self.sampleNow()
    self.arm()
  }

  /** Reads every series and appends one sample (dropping the oldest when full); returns it. */
  sampleNow(): StatsSample {
    const values: Record<string, number> = {}
    for (const [name, read] of this.gauges) values[name] = safeRead(read)
    for (const [name, read] of this.counters) {
      const total = safeRead(read)
      const last = this.lastTotals.get(name)
      values[name] = last === undefined || total < last ? 0 : total - last
      this.lastTotals.set(name, total)
    }
    const sample: StatsSample = { t: this.wallClockMs(), values }
    this.ring[this.head] = sample
    this.head = (this.head + 1) % this.capacity
    this.count = Math.min(this.count + 1, this.capacity)
    return sample
  }

  /** Samples held now. */
  get size(): number {
    return this.count
  }

  /**
   * The samples, oldest first; with `sinceMs`, only those taken after it (epoch ms,
   * exclusive), so a page that polls gets only what is new.
   */
  samples(sinceMs?: number): StatsSample[] {
    const out: StatsSample[] = []
    const first = (this.head - this.count + this.capacity) % this.capacity
    for (let i = 0; i < this.count; i++) {
      const s = this.ring[(first + i) % this.capacity]!
      if (sinceMs === undefined || s.t > sinceMs) out.push(s)
    }
    return out
  }

  /** The whole history (or what is newer than `sinceMs`) with its description. */
  snapshot(sinceMs?: number): StatsHistorySnapshot {
    return {
      intervalMs: this.intervalMs,
      capacity: this.capacity,
      gauges: this.gauges.map(([n]) => n),
      counters: this.counters.map(([n]) => n),
      samples: this.samples(sinceMs),
    }
  }
}

function safeRead(read: () => number): number {
  try {
    const v = read()
    return Number.isFinite(v) ? v : 0
  } catch {
    return 0
  }
}

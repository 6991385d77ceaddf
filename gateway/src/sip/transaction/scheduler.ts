/**
 * Time as the SIP stack sees it. Injected everywhere timers run (transactions, registrar
 * expiry, nonce lifetime) so that unit tests advance a fake clock instead of waiting.
 */

export type TimerHandle = { readonly id: number }

export interface Scheduler {
  /** Milliseconds since an arbitrary epoch; monotonic. */
  now(): number
  /** Wall-clock seconds since the Unix epoch (registration expiry, nonce timestamps). */
  unixSeconds(): number
  /** Runs `fn` once after `ms` milliseconds. */
  setTimer(ms: number, fn: () => void): TimerHandle
  clearTimer(handle: TimerHandle): void
}

/** The real scheduler: performance.now() and setTimeout. */
export class RealScheduler implements Scheduler {
  private nextId = 1
  private readonly timers = new Map<number, ReturnType<typeof setTimeout>>()

  now(): number {
    return performance.now()
  }

  unixSeconds(): number {
    return Math.floor(Date.now() / 1000)
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.nextId++
    const t = setTimeout(() => {
      this.timers.delete(id)
      fn()
    }, ms)
    this.timers.set(id, t)
    return { id }
  }

  clearTimer(handle: TimerHandle): void {
    const t = this.timers.get(handle.id)
    if (t !== undefined) {
      clearTimeout(t)
      this.timers.delete(handle.id)
    }
  }
}

/**
 * A fake scheduler for tests: time moves only when `advance(ms)` is called, and timers due
 * by then fire in order of their due time.
 */
export class FakeScheduler implements Scheduler {
  private t = 0
  private epochSeconds: number
  private nextId = 1
  private readonly pending = new Map<number, { due: number; fn: () => void }>()

  constructor(startUnixSeconds = 1_800_000_000) {
    this.epochSeconds = startUnixSeconds
  }

  now(): number {
    return this.t
  }

  unixSeconds(): number {
    return this.epochSeconds + Math.floor(this.t / 1000)
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.nextId++
    this.pending.set(id, { due: this.t + Math.max(0, ms), fn })
    return { id }
  }

  clearTimer(handle: TimerHandle): void {
    this.pending.delete(handle.id)
  }

  /** Number of timers not yet fired. */
  get pendingCount(): number {
    return this.pending.size
  }

  /** Moves time forward by `ms`, firing every timer that falls due (including ones set meanwhile). */
  advance(ms: number): void {
    const end = this.t + ms
    for (;;) {
      let nextId = -1
      let nextDue = Infinity
      for (const [id, p] of this.pending) {
        if (p.due <= end && (p.due < nextDue || (p.due === nextDue && id < nextId))) {
          nextDue = p.due
          nextId = id
        }
      }
      if (nextId < 0) break
      const p = this.pending.get(nextId)!
      this.pending.delete(nextId)
      this.t = p.due
      p.fn()
    }
    this.t = end
  }
}

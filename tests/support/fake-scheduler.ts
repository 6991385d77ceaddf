/**
 * Test double for the gateway's Scheduler (gateway/src/base/scheduler.ts).
 */
import type { Scheduler, TimerHandle } from '../../gateway/src/base/scheduler.ts'

/**
 * A fake scheduler for tests: time moves only when `advance(ms)` is called, and timers due
 * by then fire in order of their due time.
 */
export class FakeScheduler implements Scheduler {
  private t = 0
  private epochSeconds: number
  private nextId = 1
  private readonly pending = new Map<number, { due: number; fn: (arg?: unknown) => void; arg: unknown }>()

  constructor(startUnixSeconds = 1_800_000_000) {
    this.epochSeconds = startUnixSeconds
  }

  now(): number {
    return this.t
  }

  unixSeconds(): number {
    return this.epochSeconds + Math.floor(this.t / 1000)
  }

  setTimer<T>(ms: number, fn: (arg?: T) => void, arg?: T): TimerHandle {
    const id = this.nextId++
    this.pending.set(id, { due: this.t + Math.max(0, ms), fn: fn as (arg?: unknown) => void, arg })
    return { id }
  }

  clearTimer(handle: TimerHandle): void {
    this.pending.delete((handle as { id: number }).id)
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
      p.fn(p.arg)
    }
    this.t = end
  }
}

/**
 * Time as the softphone's controllers see it. Structurally the same as the gateway's
 * `Scheduler` (gateway/src/base/scheduler.ts), so unit tests pass its
 * `FakeScheduler` and advance time without waiting.
 */
/** An armed timer, opaque to its owner. */
export type TimerHandle = object

export interface Timers {
  /** Milliseconds, monotonic. */
  now(): number
  setTimer(ms: number, fn: () => void): TimerHandle
  clearTimer(handle: TimerHandle): void
}

/** setTimeout-backed timers for the browser. */
export class BrowserTimers implements Timers {
  private nextId = 1
  private readonly timers = new Map<number, ReturnType<typeof setTimeout>>()

  now(): number {
    return performance.now()
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = this.nextId++
    this.timers.set(id, setTimeout(() => {
      this.timers.delete(id)
      fn()
    }, ms))
    return { id }
  }

  clearTimer(handle: TimerHandle): void {
    const id = (handle as { id: number }).id
    const t = this.timers.get(id)
    if (t !== undefined) clearTimeout(t)
    this.timers.delete(id)
  }
}

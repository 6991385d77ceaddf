/**
 * Time as the gateway sees it. Injected everywhere timers run (transactions, registrar
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

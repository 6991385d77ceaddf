/**
 * Time as the gateway sees it. Injected everywhere timers run (transactions, registrar
 * expiry, nonce lifetime) so that unit tests advance a fake clock instead of waiting.
 */

/** An armed timer, opaque to its owner: only `Scheduler.clearTimer` looks inside. */
export type TimerHandle = object

export interface Scheduler {
  /** Milliseconds since an arbitrary epoch; monotonic. */
  now(): number
  /** Wall-clock seconds since the Unix epoch (registration expiry, nonce timestamps). */
  unixSeconds(): number
  /**
   * Runs `fn(arg)` once after `ms` milliseconds. Passing the owner as `arg` to a shared
   * function (a static method) instead of a closure lets a transaction arm its timers without
   * allocating a function per timer or per instance: at thousands of transactions per second
   * those closures were a measurable share of the heap.
   */
  setTimer<T>(ms: number, fn: (arg: T) => void, arg: T): TimerHandle
  setTimer(ms: number, fn: () => void): TimerHandle
  /** Cancels a timer that has not fired yet; a no-op for one that has. */
  clearTimer(handle: TimerHandle): void
}

/**
 * The real scheduler: performance.now() and setTimeout. The handle is Bun's own Timeout
 * object, so an armed timer costs nothing beyond it (no id table, no wrapper closure).
 */
export class RealScheduler implements Scheduler {
  now(): number {
    return performance.now()
  }

  unixSeconds(): number {
    return Math.floor(Date.now() / 1000)
  }

  setTimer<T>(ms: number, fn: (arg?: T) => void, arg?: T): TimerHandle {
    return arg === undefined ? setTimeout(fn, ms) : setTimeout(fn, ms, arg)
  }

  clearTimer(handle: TimerHandle): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>)
  }
}

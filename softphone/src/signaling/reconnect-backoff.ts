/**
 * Delay before reconnect attempt `attempt` (1-based): exponential from 1 s, capped at 30 s,
 * with ±20 % jitter so that many softphones do not hit a restarted gateway in the same
 * second (RFC 5626 §4.5 recommends a randomised, growing back-off with an upper bound).
 *
 * @param attempt 1 for the first retry after a failure
 * @param random a number in [0, 1) (Math.random in production, fixed in tests)
 * @returns milliseconds
 */
export function reconnectDelayMs(attempt: number, random: number): number {
  const base = Math.min(30_000, 1000 * 2 ** Math.max(0, attempt - 1))
  const jitter = 0.8 + 0.4 * random
  return Math.round(base * jitter)
}

/**
 * The pending reconnect attempt of a registration (SIP or JSON): counts the attempts since the
 * last success, arms the next one after `reconnectDelayMs`, and cancels it.
 */
export class ReconnectSchedule {
  /** Attempts since the last success or fresh start (0: none yet). */
  attempt = 0
  private timer: ReturnType<typeof setTimeout> | undefined

  /** @param random a number in [0, 1) per attempt (Math.random in production, fixed in tests) */
  constructor(private readonly random: () => number) {}

  /**
   * Counts one more attempt and runs `fire` after its back-off (replacing any attempt still
   * pending). Returns when it will run, ms since the UNIX epoch.
   */
  next(fire: () => void): number {
    this.clear()
    this.attempt += 1
    const delay = reconnectDelayMs(this.attempt, this.random())
    this.timer = setTimeout(() => {
      this.timer = undefined
      fire()
    }, delay)
    return Date.now() + delay
  }

  /** Cancels the pending attempt, if any (the count stays). */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}

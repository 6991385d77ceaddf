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

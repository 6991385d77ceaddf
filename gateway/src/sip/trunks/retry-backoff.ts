/**
 * Exponential backoff with jitter for a trunk registration that failed (the policy of
 * Asterisk's `retry_interval` and Kamailio uac's `reg_retry_interval`, made exponential so
 * that a registrar that is down is not hammered by every gateway at once).
 */

/** Backoff settings, milliseconds. */
export interface RetryPolicy {
  /** Delay after the first failure (default 2000). */
  initialMs: number
  /** Upper bound of the delay (default 300000: 5 min). */
  maxMs: number
  /** Fraction in [0, 1) by which a delay is randomly shortened (default 0.2). */
  jitter: number
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { initialMs: 2_000, maxMs: 300_000, jitter: 0.2 }

/**
 * The delay before attempt number `failures + 1`, after `failures` (>= 1) consecutive
 * failures: initialMs * 2^(failures-1), capped at maxMs, then shortened by up to
 * `jitter` (delay * (1 - jitter * random)), so it never exceeds the cap.
 *
 * @param random a number in [0, 1) (Math.random by default; tests pass a constant)
 * @returns milliseconds, >= initialMs * (1 - jitter) for the first failure
 */
export function backoffDelay(policy: RetryPolicy, failures: number, random: () => number = Math.random): number {
  const n = Math.max(1, failures)
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(n - 1, 30))
  return Math.round(base * (1 - policy.jitter * random()))
}

/**
 * Parses a Retry-After value (RFC 3261 §20.33: `delta-seconds [comment] *(;param)`).
 *
 * @returns seconds, or null when absent or unreadable
 */
export function parseRetryAfter(value: string | undefined): number | null {
  if (value === undefined) return null
  const m = /^\s*(\d{1,10})/.exec(value)
  return m === null ? null : parseInt(m[1]!, 10)
}

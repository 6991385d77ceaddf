/**
 * The state of a trunk as operators see it (the dial plan's explain, the admin page, logs):
 * one shape for both the registration client (Asterisk `pjsip show registrations`, Kamailio
 * `uac.reg_dump`) and the OPTIONS qualifier (Asterisk qualify, Kamailio `dispatcher.list`).
 */

/**
 * - registration: 'unregistered' (not started / stopped), 'registering' (REGISTER in
 *   flight), 'registered' (2xx received, binding not expired), 'failed' (last attempt
 *   failed; `nextAttemptAt` says when the next one goes);
 * - qualify: 'unknown' (no answer and fewer than K failures yet), 'up' (answered), 'down'
 *   (K consecutive OPTIONS unanswered).
 */
export type TrunkState = 'unknown' | 'up' | 'down' | 'unregistered' | 'registering' | 'registered' | 'failed'

/** A trunk's state with what explains it. Times are Unix seconds (Scheduler.unixSeconds). */
export interface TrunkStatus {
  /** The trunk's name (trunks.yaml). */
  name: string
  state: TrunkState
  /** Human-readable explanation, e.g. "401 Unauthorized (wrong credentials), retry in 8 s". */
  detail: string
  /** When `state` was entered, Unix seconds. */
  since: number
  /** Status code of the last final response (408 for a timeout, 503 for a transport error). */
  lastStatus?: number
  /** Round-trip time of the last answered OPTIONS, milliseconds. */
  rttMs?: number
  /** When the next REGISTER (or OPTIONS) is due, Unix seconds. */
  nextAttemptAt?: number
  /** When the registration expires at the registrar, Unix seconds (registered only). */
  expiresAt?: number
}

/** True when calls may be routed over a trunk with this state (qualify 'down' and registration 'failed' may not). */
export function trunkUsable(state: TrunkState): boolean {
  return state !== 'down' && state !== 'failed'
}

/** Badness of a state, for `combineTrunkStatus`: the worse of two states wins. */
const SEVERITY: Readonly<Record<TrunkState, number>> = {
  up: 0, registered: 0, unknown: 1, registering: 1, unregistered: 2, failed: 3, down: 4,
}

/**
 * One status for a trunk that both registers and is qualified: the worse state (down >
 * failed > unregistered > registering/unknown > registered/up; on a tie the registration),
 * both details joined, the round-trip time from the qualifier, the retry time and last
 * status from the registration. Either part may be missing.
 *
 * @returns undefined when both are
 */
export function combineTrunkStatus(registration: TrunkStatus | undefined, qualify: TrunkStatus | undefined): TrunkStatus | undefined {
  if (registration === undefined || qualify === undefined) return registration ?? qualify
  const worst = SEVERITY[qualify.state] > SEVERITY[registration.state] ? qualify : registration
  return {
    ...registration,
    state: worst.state,
    since: worst.since,
    detail: `${registration.detail}; OPTIONS: ${qualify.detail}`,
    ...(worst === qualify && qualify.lastStatus !== undefined ? { lastStatus: qualify.lastStatus } : {}),
    ...(qualify.rttMs !== undefined ? { rttMs: qualify.rttMs } : {}),
  }
}

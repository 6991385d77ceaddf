/**
 * Send errors of the transport layer: why a send failed (SendErrorCause, counted in
 * `TransportLayer.stats.sendErrorsByCause`) and their log, rate-limited so that a vanished
 * peer whose responses keep failing costs one line a minute, not one per packet (RFC 3261
 * §18.4: an ICMP error is about an earlier datagram, never the socket).
 */
import { logger } from '../../base/log.ts'
import type { Flow, TransportProtocol } from './flow.ts'

const log = logger('sip.transport')

/**
 * Why a send failed, as counted in `TransportLayer.stats.sendErrorsByCause`:
 * - `econnrefused`: an ICMP port-unreachable (a UDP peer that went away), reported by the
 *   kernel on the socket's error queue, one per ICMP message (RFC 3261 §18.4);
 * - `unreachable`: ICMP host / network unreachable (EHOSTUNREACH, ENETUNREACH, ...);
 * - `no-flow`: nothing to send over (a WS/WSS destination without its connection, a
 *   transport that is not listening);
 * - `closed-connection`: the destination's connection is closed or the write on it failed;
 * - `other`: anything else (EMSGSIZE, a full send buffer that overflowed, a closed socket).
 */
export type SendErrorCause = 'econnrefused' | 'unreachable' | 'no-flow' | 'closed-connection' | 'other'

/** Send errors are logged at most once per cause and destination in this window. */
export const SEND_ERROR_LOG_INTERVAL_MS = 60_000
/** Destinations remembered for the log's rate limit (older ones are forgotten first). */
const SEND_ERROR_LOG_KEYS = 4096

/**
 * The log of send errors: one line per cause and destination host per
 * SEND_ERROR_LOG_INTERVAL_MS, saying how many were not logged since the last one. Errors
 * without a destination (ICMP) share one key per cause. At most SEND_ERROR_LOG_KEYS
 * destinations are remembered (the oldest forgotten first).
 */
export class SendErrorLog {
  /** Last log time and errors not logged since, per "cause destination". */
  private readonly logged = new Map<string, { at: number; suppressed: number }>()

  /** @param now milliseconds clock for the rate limit */
  constructor(private readonly now: () => number) {}

  /** One failed send (`address` null: an ICMP error for an earlier datagram, peer unknown). */
  note(cause: SendErrorCause, transport: TransportProtocol, address: string | null, port: number, code: string): void {
    // Keyed by host, not port: clients that vanish come from ever new ephemeral ports.
    const where = address === null ? transport : `${transport} ${address}`
    const key = cause + ' ' + where
    const now = this.now()
    const logged = this.logged
    const last = logged.get(key)
    if (last !== undefined && now - last.at < SEND_ERROR_LOG_INTERVAL_MS) {
      last.suppressed++
      return
    }
    if (last === undefined && logged.size >= SEND_ERROR_LOG_KEYS) {
      for (const [k, v] of logged) if (now - v.at >= SEND_ERROR_LOG_INTERVAL_MS) logged.delete(k)
      // Still full: forget the oldest (Map order is insertion order).
      if (logged.size >= SEND_ERROR_LOG_KEYS) logged.delete(logged.keys().next().value!)
    }
    if (last !== undefined) logged.delete(key)
    logged.set(key, { at: now, suppressed: 0 })
    const fields: Record<string, unknown> = { cause, transport, notLoggedSinceLast: last?.suppressed ?? 0 }
    if (address !== null) {
      fields.address = address
      fields.port = port
    }
    if (code !== '') fields.code = code
    if (address === null) log.warn('ICMP error for an earlier datagram: a peer went away (other destinations are unaffected)', fields)
    else log.warn('send failed, message dropped', fields)
  }
}

/** Why a send on `flow` failed: a connection that is (or just went) away, or the UDP socket. */
export function flowFailure(flow: Flow): SendErrorCause {
  return flow.reliable ? 'closed-connection' : 'other'
}

/** The cause of a UDP socket error by its errno name. */
export function udpCause(code: string): SendErrorCause {
  switch (code) {
    case 'ECONNREFUSED':
      return 'econnrefused'
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
      return 'unreachable'
    default:
      return 'other'
  }
}

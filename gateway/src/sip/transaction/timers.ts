/**
 * Transaction timer values (RFC 3261 §17, Table 4; RFC 6026 §8 for Timers L and M), derived in
 * one place from the base values T1, T2 and T4 (`TimerValues`, milliseconds).
 *
 * Every function returns milliseconds. `reliable` is the transport's reliability (TCP, TLS,
 * WS, WSS: true; UDP: false): the "wait for retransmissions" timers are zero on reliable
 * transports, and the transaction machines then move on at once instead of arming a
 * 0 ms timer. `n` counts retransmissions already made (0 for the first interval).
 *
 * RFC 3261 Table 4:
 *
 * > Timer    Value            Section               Meaning
 * > T1       500ms default    Section 17.1.1.1     RTT Estimate
 * > T2       4s               Section 17.1.2.2     The maximum retransmit interval for non-INVITE
 * >                                                 requests and INVITE responses
 * > T4       5s               Section 17.1.2.2     Maximum duration a message will remain in the network
 * > Timer A  initially T1     Section 17.1.1.2     INVITE request retransmit interval, for UDP only
 * > Timer B  64*T1            Section 17.1.1.2     INVITE transaction timeout timer
 * > Timer D  > 32s for UDP    Section 17.1.1.2     Wait time for response retransmits
 * >          0s for TCP/SCTP
 * > Timer E  initially T1     Section 17.1.2.2     non-INVITE request retransmit interval, UDP only
 * > Timer F  64*T1            Section 17.1.2.2     non-INVITE transaction timeout timer
 * > Timer G  initially T1     Section 17.2.1       INVITE response retransmit interval
 * > Timer H  64*T1            Section 17.2.1       Wait time for ACK receipt
 * > Timer I  T4 for UDP       Section 17.2.1       Wait time for ACK retransmits
 * >          0s for TCP/SCTP
 * > Timer J  64*T1 for UDP    Section 17.2.2       Wait time for non-INVITE request retransmits
 * >          0s for TCP/SCTP
 * > Timer K  T4 for UDP       Section 17.1.2.2     Wait time for response retransmits
 * >          0s for TCP/SCTP
 *
 * RFC 6026 adds to the table:
 *
 * > Timer L  64*T1   Wait time for accepted INVITE request retransmits
 * > Timer M  64*T1   Wait time for retransmission of 2xx to INVITE or additional 2xx from
 * >                  other branches of a forked INVITE
 */
import type { TimerValues } from './transaction-user.ts'

/**
 * Timer A, the n-th INVITE retransmission interval over UDP (§17.1.1.2): T1, 2*T1, 4*T1, ...
 *
 * > When timer A fires 2*T1 seconds later, the request MUST be retransmitted again [...] This
 * > process MUST continue so that the request is retransmitted with intervals that double
 * > after each transmission.
 */
export function timerA(t: TimerValues, n: number): number {
  return t.T1 * 2 ** n
}

/** Timer B, the INVITE client transaction timeout (§17.1.1.2): 64*T1. */
export function timerB(t: TimerValues): number {
  return 64 * t.T1
}

/**
 * Timer D, how long an INVITE client transaction stays Completed (§17.1.1.2):
 *
 * > The client transaction SHOULD start timer D when it enters the "Completed" state, with a
 * > value of at least 32 seconds for unreliable transports, and a value of zero seconds for
 * > reliable transports.
 *
 * 32 s, or 64*T1 when T1 is raised above its default (Timer D mirrors the server's Timer H).
 */
export function timerD(t: TimerValues, reliable: boolean): number {
  return reliable ? 0 : Math.max(32_000, 64 * t.T1)
}

/**
 * Timer E, the n-th non-INVITE retransmission interval over UDP in the Trying state
 * (§17.1.2.2): MIN(2^n*T1, T2). In the Proceeding state the interval is T2 (`timerEProceeding`).
 *
 * > If timer E fires while still in this state, the timer is reset, but this time with a value
 * > of MIN(2*T1, T2). When the timer fires again, it is reset to a MIN(4*T1, T2).
 */
export function timerE(t: TimerValues, n: number): number {
  return Math.min(t.T1 * 2 ** n, t.T2)
}

/**
 * Timer E in the Proceeding state (§17.1.2.2):
 *
 * > If Timer E fires while in the "Proceeding" state, the request MUST be passed to the
 * > transport layer for retransmission, and Timer E MUST be reset with a value of T2 seconds.
 */
export function timerEProceeding(t: TimerValues): number {
  return t.T2
}

/** Timer F, the non-INVITE client transaction timeout (§17.1.2.2): 64*T1. */
export function timerF(t: TimerValues): number {
  return 64 * t.T1
}

/**
 * Timer G, the n-th retransmission interval of a non-2xx final response to INVITE over UDP
 * (§17.2.1): MIN(2^n*T1, T2).
 */
export function timerG(t: TimerValues, n: number): number {
  return Math.min(t.T1 * 2 ** n, t.T2)
}

/** Timer H, how long an INVITE server transaction waits for the ACK (§17.2.1): 64*T1. */
export function timerH(t: TimerValues): number {
  return 64 * t.T1
}

/** Timer I, how long an INVITE server transaction stays Confirmed (§17.2.1): T4 over UDP, else 0. */
export function timerI(t: TimerValues, reliable: boolean): number {
  return reliable ? 0 : t.T4
}

/** Timer J, how long a non-INVITE server transaction stays Completed (§17.2.2): 64*T1 over UDP, else 0. */
export function timerJ(t: TimerValues, reliable: boolean): number {
  return reliable ? 0 : 64 * t.T1
}

/** Timer K, how long a non-INVITE client transaction stays Completed (§17.1.2.2): T4 over UDP, else 0. */
export function timerK(t: TimerValues, reliable: boolean): number {
  return reliable ? 0 : t.T4
}

/** Timer L, how long an INVITE server transaction stays Accepted (RFC 6026 §7.1, §8.7): 64*T1. */
export function timerL(t: TimerValues): number {
  return 64 * t.T1
}

/** Timer M, how long an INVITE client transaction stays Accepted (RFC 6026 §8.4): 64*T1. */
export function timerM(t: TimerValues): number {
  return 64 * t.T1
}

/**
 * How long an INVITE server transaction waits for the TU's first provisional response before
 * it sends 100 (Trying) itself (§17.2.1: "unless it knows that the TU will generate a
 * provisional or final response within 200 ms"). Not an RFC-named timer.
 */
export const TRYING_DELAY_MS = 200

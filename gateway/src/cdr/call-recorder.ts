/**
 * Turns the proxy's call events (sip/proxy/call-events.ts) into call detail records: one
 * record per call, answered or not, written when the call ends, and an info-level log line
 * (category `cdr`) when a call starts and when it ends.
 *
 * - In-progress calls live in a Map keyed by Call-ID + the caller's From tag (the proxy keeps
 *   no dialog for every call, RFC 3261 §16). `callEnded` may not know the From tag (null), or
 *   carry one that matches nothing: the call is then found by its Call-ID alone (the answered
 *   call first when several share it).
 * - A call is written when it fails (`callFailed`: status, reason, who ended it) or, once
 *   answered, when it ends (`callEnded`: status 200, the reason given, `BYE` usually).
 *   `callEnded` before any answer is written as a failure: 487, the reason given.
 * - Calls that never end (a phone vanished without BYE and nothing ended the dialog): a sweep
 *   every `sweepIntervalMs` closes those older than `maxCallSeconds` as ended by the gateway,
 *   reason `max duration` (unanswered ones as 408). `shutdown()` writes every call in
 *   progress as ended by the gateway, reason `shutdown` (unanswered ones as 503).
 * - Memory is bounded: past `maxActiveCalls` the oldest call is closed (reason `evicted`) and
 *   counted in `stats.evicted`.
 * - Events arrive synchronously on the signalling path: each handler is a few Map operations
 *   and a queued write (the store batches), and never throws (a failure is logged).
 *   Repeated events are ignored: a second `callStarted` for a call in progress (a spiral back
 *   through the gateway), a second answer (forked 2xx), a failure after the answer; events
 *   for unknown calls are counted in `stats.unmatched`.
 */
import { logger } from '../base/log.ts'
import type { Scheduler, TimerHandle } from '../base/scheduler.ts'
import type {
  CallAnswered, CallDirection, CallEnded, CallEventSink, CallFailed, CallStarted,
} from '../sip/proxy/call-events.ts'
import type { CdrRecord, EndedBy } from '../store/cdr-store.ts'

const log = logger('cdr')

/** Where records go (CdrStore has it); `write` must only queue. */
export interface CdrWriter {
  write(record: CdrRecord): void
}

export interface CallRecorderOptions {
  store: CdrWriter
  /** Sweep timer. */
  scheduler: Scheduler
  /** Wall clock, epoch ms, for calls the gateway closes itself (default Date.now). */
  wallClockMs?: () => number
  /** Calls older than this are closed by the sweep; 0: never (default 14,400 = 4 h). */
  maxCallSeconds?: number
  /** Sweep period (default 60 s). */
  sweepIntervalMs?: number
  /** Cap on calls in progress; the oldest is closed beyond it (default 100,000). */
  maxActiveCalls?: number
}

/** A call in progress, for the admin page's live view (`GET /api/calls`). */
export interface ActiveCall {
  callId: string
  fromTag: string
  /** From URI. */
  caller: string
  callerUser: string | null
  /** Request-URI as received. */
  callee: string
  /** The answering target once answered, else the targets tried, in order. */
  routed: string[]
  direction: CallDirection
  trunk: string | null
  /** Epoch ms of the INVITE. */
  since: number
  answered: boolean
  /** Epoch ms of the answer, or null. */
  answeredAt: number | null
}

/** Counters, for metrics. */
export interface CallRecorderStats {
  /** Calls in progress now. */
  active: number
  started: number
  answered: number
  /** Records written (every call that ended, however). */
  recorded: number
  /** Calls closed by the sweep (max duration). */
  maxDuration: number
  /** Calls closed because the Map was full. */
  evicted: number
  /** Events for no call in progress (or ignored as repeated). */
  unmatched: number
  /** Handler failures (logged; the caller never sees them). */
  errors: number
}

interface Call {
  key: string
  started: CallStarted
  answer: CallAnswered | null
}

function key(callId: string, fromTag: string): string {
  return `${callId}\u0000${fromTag}`
}

/** Implements CallEventSink over a CdrWriter; see the file comment. */
export class CallRecorder implements CallEventSink {
  private readonly store: CdrWriter
  private readonly scheduler: Scheduler
  private readonly wallClockMs: () => number
  private readonly maxCallMs: number
  private readonly sweepIntervalMs: number
  private readonly maxActiveCalls: number
  /** Insertion order = oldest first (eviction). */
  private readonly calls = new Map<string, Call>()
  /** Call-ID -> calls with that Call-ID (usually one), for events without a usable From tag. */
  private readonly byCallId = new Map<string, Call[]>()
  private sweepTimer: TimerHandle | null = null
  private closed = false
  private readonly counters = { started: 0, answered: 0, recorded: 0, maxDuration: 0, evicted: 0, unmatched: 0, errors: 0 }

  constructor(options: CallRecorderOptions) {
    this.store = options.store
    this.scheduler = options.scheduler
    this.wallClockMs = options.wallClockMs ?? Date.now
    this.maxCallMs = (options.maxCallSeconds ?? 14_400) * 1000
    this.sweepIntervalMs = options.sweepIntervalMs ?? 60_000
    this.maxActiveCalls = Math.max(1, options.maxActiveCalls ?? 100_000)
    if (this.maxCallMs > 0) this.sweepTimer = this.scheduler.setTimer(this.sweepIntervalMs, CallRecorder.sweepTick, this)
  }

  /** An initial INVITE was routed: the call is in progress. */
  callStarted(e: CallStarted): void {
    this.guard('callStarted', e.callId, () => {
      if (this.closed) return
      const k = key(e.callId, e.fromTag)
      if (this.calls.has(k)) {
        this.counters.unmatched++
        return
      }
      while (this.calls.size >= this.maxActiveCalls) {
        const oldest = this.calls.values().next().value as Call
        this.counters.evicted++
        this.close(oldest, this.wallClockMs(), 'gateway', 'evicted', 503)
      }
      const call: Call = { key: k, started: e, answer: null }
      this.calls.set(k, call)
      const same = this.byCallId.get(e.callId)
      if (same === undefined) this.byCallId.set(e.callId, [call])
      else same.push(call)
      this.counters.started++
      log.info('call started', {
        callId: e.callId, caller: e.from, callerUser: e.callerUser, dialed: e.dialed, routed: e.routed,
        direction: e.direction, trunk: e.trunk, rule: e.rule,
      })
    })
  }

  /** The first 2xx was forwarded: the call is answered (later answers are ignored). */
  callAnswered(e: CallAnswered): void {
    this.guard('callAnswered', e.callId, () => {
      const call = this.find(e.callId, e.fromTag)
      if (call === undefined || call.answer !== null) {
        this.counters.unmatched++
        return
      }
      call.answer = e
      this.counters.answered++
    })
  }

  /** The INVITE failed: the record is written (ignored once answered). */
  callFailed(e: CallFailed): void {
    this.guard('callFailed', e.callId, () => {
      const call = this.find(e.callId, e.fromTag)
      if (call === undefined || call.answer !== null) {
        this.counters.unmatched++
        return
      }
      this.close(call, e.at, e.endedBy, e.reason, e.status)
    })
  }

  /** The dialog ended: the record is written. */
  callEnded(e: CallEnded): void {
    this.guard('callEnded', e.callId, () => {
      const call = this.find(e.callId, e.fromTag)
      if (call === undefined) {
        this.counters.unmatched++
        return
      }
      this.close(call, e.at, e.endedBy, e.reason, 487)
    })
  }

  /** Calls in progress, oldest first, at most `limit` of them (`stats.active` counts them all). */
  activeCalls(limit = Infinity): ActiveCall[] {
    const out: ActiveCall[] = []
    for (const { started: s, answer: a } of this.calls.values()) {
      if (out.length >= limit) break
      out.push({
        callId: s.callId, fromTag: s.fromTag, caller: s.from, callerUser: s.callerUser, callee: s.dialed,
        routed: a !== null ? [a.answeredBy] : s.routed, direction: s.direction, trunk: a?.trunk ?? s.trunk,
        since: s.at, answered: a !== null, answeredAt: a?.at ?? null,
      })
    }
    return out
  }

  /** Counters for metrics. */
  get stats(): CallRecorderStats {
    return { ...this.counters, active: this.calls.size }
  }

  /**
   * Closes calls in progress for longer than `maxCallSeconds` (the sweep timer calls it).
   * @returns how many were closed
   */
  sweep(nowMs: number = this.wallClockMs()): number {
    if (this.maxCallMs <= 0) return 0
    const old: Call[] = []
    for (const call of this.calls.values()) if (nowMs - call.started.at >= this.maxCallMs) old.push(call)
    for (const call of old) {
      this.counters.maxDuration++
      this.close(call, nowMs, 'gateway', 'max duration', 408)
    }
    return old.length
  }

  /**
   * Shutdown: stops the sweep and writes every call in progress as ended by the gateway
   * (reason `shutdown`; unanswered ones as 503). Later events are ignored. The caller then
   * flushes and closes the store.
   */
  shutdown(): void {
    if (this.closed) return
    this.closed = true
    if (this.sweepTimer !== null) this.scheduler.clearTimer(this.sweepTimer)
    this.sweepTimer = null
    const now = this.wallClockMs()
    for (const call of [...this.calls.values()]) {
      this.guard('shutdown', call.started.callId, () => this.close(call, now, 'gateway', 'shutdown', 503))
    }
  }

  private static sweepTick(recorder: CallRecorder): void {
    recorder.sweepTimer = null
    if (recorder.closed) return
    recorder.guard('sweep', '', () => recorder.sweep())
    recorder.sweepTimer = recorder.scheduler.setTimer(recorder.sweepIntervalMs, CallRecorder.sweepTick, recorder)
  }

  /** By Call-ID + From tag, else by Call-ID alone (the answered call first). */
  private find(callId: string, fromTag: string | null): Call | undefined {
    if (fromTag !== null) {
      const exact = this.calls.get(key(callId, fromTag))
      if (exact !== undefined) return exact
    }
    const same = this.byCallId.get(callId)
    if (same === undefined) return undefined
    return same.find((c) => c.answer !== null) ?? same[0]
  }

  /** Removes the call and writes its record: status 200 when answered, else `failStatus`. */
  private close(call: Call, at: number, endedBy: EndedBy, reason: string, failStatus: number): void {
    this.calls.delete(call.key)
    const s = call.started
    const same = this.byCallId.get(s.callId)
    if (same !== undefined) {
      const rest = same.filter((c) => c !== call)
      if (rest.length === 0) this.byCallId.delete(s.callId)
      else this.byCallId.set(s.callId, rest)
    }
    const a = call.answer
    const end = Math.max(at, s.at)
    const answerAt = a === null ? null : Math.min(Math.max(a.at, s.at), end)
    const record: CdrRecord = {
      callId: s.callId,
      fromTag: s.fromTag,
      start: s.at,
      answer: answerAt,
      end,
      durationS: answerAt === null ? 0 : (end - answerAt) / 1000,
      ringS: ((answerAt ?? end) - s.at) / 1000,
      caller: s.from,
      callerUser: s.callerUser,
      dialed: s.dialed,
      routed: a?.answeredBy ?? s.routed[0] ?? null,
      direction: s.direction,
      trunk: a?.trunk ?? s.trunk,
      rule: s.rule,
      status: a === null ? failStatus : 200,
      reason,
      endedBy,
      mediaPath: a?.mediaPath ?? null,
      codec: a?.codec ?? null,
    }
    this.counters.recorded++
    this.store.write(record)
    log.info('call ended', {
      callId: record.callId, caller: record.caller, dialed: record.dialed, routed: record.routed,
      status: record.status, reason: record.reason, endedBy: record.endedBy, durationS: record.durationS,
      trunk: record.trunk, mediaPath: record.mediaPath, codec: record.codec,
    })
  }

  /** Runs `fn`, logging instead of throwing. */
  private guard(what: string, callId: string, fn: () => void): void {
    try {
      fn()
    } catch (error) {
      this.counters.errors++
      try {
        log.error('call recorder failed', { event: what, callId, error: String(error) })
      } catch {
        // a failing log sink must not reach the signalling path either
      }
    }
  }
}

/**
 * The rising-rate search: run SIPp at increasing rates (calls or registrations per second),
 * each step `stepSeconds` long, and stop at the first step that fails:
 *
 * - more than `maxFailedPercent` of the created calls failed or never finished (< 0.1 %
 *   passes), or
 * - the achieved rate is below `minAchievedRatio` of the target (95 %): the peer (or SIPp)
 *   fell behind. Achieved = N / (seconds from SIPp's start until N calls had succeeded), with
 *   N = the calls that must succeed for the step to pass (99.9 %); so a few calls that wait
 *   out SIPp's -recv_timeout count as failures, not as a 10 s longer step.
 *
 * A failing step is run once more after a pause (`retries`), since the machine is shared and
 * one burst from someone else's test can sink one step. The result is the highest passing rate.
 */
import type { ResourceMonitor, ResourceUsage } from './resource-monitor.ts'
import { secondsUntilSuccessful, type SippClientResult } from './sipp.ts'

/** One step: what SIPp saw and what the peer used. */
export interface StepResult {
  rate: number
  calls: number
  attempt: number
  pass: boolean
  /** Why it failed ('' when it passed). */
  reason: string
  created: number
  successful: number
  failed: number
  unfinished: number
  failedPercent: number
  achievedRate: number
  retransmissions: number
  responseTimeMs: number
  sippSeconds: number
  sippExit: number | null
  failures: Record<string, number>
  usage: ResourceUsage
  /** Start of SIPp's error log when the step failed. */
  errorsHead?: string
}

export interface SearchOptions {
  label: string
  rates: number[]
  stepSeconds: number
  /** Runs SIPp for one step (rate, total calls) and resolves when it is done. */
  runStep(rate: number, calls: number): Promise<SippClientResult>
  monitor: ResourceMonitor
  /** Failed or unfinished calls above this percentage fail the step (default 0.1). */
  maxFailedPercent?: number
  /** Achieved / target below this fails the step (default 0.95). */
  minAchievedRatio?: number
  /** Re-runs of a failing step before giving up (default 1). */
  retries?: number
  /** Pause between steps, ms (lets retransmissions and transaction timers settle). */
  pauseMs?: number
  /** Called after each step (progress output). */
  onStep?(step: StepResult): void
}

export interface SearchResult {
  /** The highest passing step, or null when even the first failed. */
  best: StepResult | null
  steps: StepResult[]
  /** Why the search stopped. */
  stoppedBecause: string
}

/** Judges one SIPp run against the target rate. */
export function judgeStep(rate: number, calls: number, attempt: number, r: SippClientResult, usage: ResourceUsage,
  maxFailedPercent = 0.1, minAchievedRatio = 0.95): StepResult {
  const s = r.stats
  const created = s?.created ?? 0
  const successful = s?.successful ?? 0
  const failed = s?.failed ?? 0
  const unfinished = Math.max(s?.unfinished ?? 0, calls - created)
  const bad = failed + unfinished
  const failedPercent = calls > 0 ? (bad / calls) * 100 : 100
  const needed = Math.ceil(calls * (1 - maxFailedPercent / 100))
  const until = s ? secondsUntilSuccessful(s, needed) : null
  const achievedRate = s === null ? 0 : until !== null && until > 0 ? needed / until : s.seconds > 0 ? successful / s.seconds : 0
  const reasons: string[] = []
  if (s === null) reasons.push('no SIPp statistics')
  if (failedPercent >= maxFailedPercent) reasons.push(`${failedPercent.toFixed(2)} % failed/unfinished (${failed} failed, ${unfinished} unfinished)`)
  if (achievedRate < rate * minAchievedRatio) reasons.push(`achieved ${Math.round(achievedRate)}/s < ${Math.round(minAchievedRatio * 100)} % of ${rate}/s`)
  if (r.killed) reasons.push('SIPp killed after its time limit')
  const pass = reasons.length === 0
  return {
    rate, calls, attempt, pass, reason: reasons.join('; '),
    created, successful, failed, unfinished,
    failedPercent: Math.round(failedPercent * 1000) / 1000,
    achievedRate: Math.round(achievedRate),
    retransmissions: s?.retransmissions ?? 0,
    responseTimeMs: s?.responseTimeMs ?? 0,
    sippSeconds: Math.round((s?.seconds ?? 0) * 100) / 100,
    sippExit: r.exitCode,
    failures: s?.failures ?? {},
    usage,
    ...(pass ? {} : { errorsHead: r.errorsHead.slice(0, 600) }),
  }
}

/** Runs the search (see the module comment). */
export async function risingRateSearch(o: SearchOptions): Promise<SearchResult> {
  const steps: StepResult[] = []
  let best: StepResult | null = null
  const retries = o.retries ?? 1
  for (const rate of o.rates) {
    const calls = Math.max(1, Math.round(rate * o.stepSeconds))
    let passed: StepResult | null = null
    let last: StepResult | null = null
    for (let attempt = 1; attempt <= 1 + retries && passed === null; attempt++) {
      if (steps.length > 0) await Bun.sleep(o.pauseMs ?? 1500)
      const mark = o.monitor.begin()
      const r = await o.runStep(rate, calls)
      const usage = o.monitor.end(mark)
      last = judgeStep(rate, calls, attempt, r, usage, o.maxFailedPercent, o.minAchievedRatio)
      steps.push(last)
      o.onStep?.(last)
      if (last.pass) passed = last
    }
    if (passed === null) {
      return { best, steps, stoppedBecause: `${rate}/s failed ${1 + retries}x: ${last?.reason ?? ''}` }
    }
    best = passed
  }
  return { best, steps, stoppedBecause: `all rates up to ${o.rates[o.rates.length - 1]}/s passed` }
}

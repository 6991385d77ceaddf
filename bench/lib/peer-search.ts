/**
 * The part of a SIPp benchmark that is the same for every peer and both benchmarks: start
 * the peer, prepare it (register SIPp's UAS, write a CSV...), warm it up (JIT, caches; not
 * recorded), run the rising-rate search while measuring the peer's CPU and memory, and stop
 * everything. Progress goes to stdout, one line per step.
 */
import type { BenchPeer } from './bench-peer.ts'
import { risingRateSearch, type SearchResult, type StepResult } from './rate-search.ts'
import { loadAverage } from './report.ts'
import { ResourceMonitor, type MemorySample } from './resource-monitor.ts'
import type { SippClientResult } from './sipp.ts'

export interface PeerSpec {
  name: string
  start(): Promise<BenchPeer>
}

/** What a benchmark does with a started peer. */
export interface PeerWorkload {
  /** One SIPp run at `rate` per second, `calls` in total. */
  step(rate: number, calls: number): Promise<SippClientResult>
  /** Stops what prepare started (SIPp's UAS...). */
  cleanup(): Promise<void>
}

export interface PeerSearchOptions {
  /** Called once the peer is up: registers SIPp's UAS etc. */
  prepare(peer: BenchPeer): Promise<PeerWorkload>
  rates: number[]
  stepSeconds: number
  retries: number
  pauseMs: number
  /** Warm-up run (not recorded): rate and seconds. */
  warmup: { rate: number; seconds: number }
  /** "calls" or "registrations", for progress lines. */
  unit: string
}

/** One peer's outcome. */
export interface PeerResult {
  name: string
  description: string
  /** Highest passing rate, or 0. */
  maxRate: number
  best: StepResult | null
  steps: StepResult[]
  stoppedBecause: string
  /** Memory after the warm-up, before the search, MB. */
  idleMemoryMB: { rss: number; pss: number }
  loadAverageBefore: number[]
  loadAverageAfter: number[]
  warmup: { rate: number; seconds: number; successful: number; failed: number }
  /** Set when the peer could not be benchmarked at all. */
  error?: string
}

const mb = (m: MemorySample) => ({ rss: Math.round(m.rss / 1e5) / 10, pss: Math.round(m.pss / 1e5) / 10 })

/** One progress line for a step. */
export function formatStep(name: string, s: StepResult, unit: string): string {
  const u = s.usage
  return `  ${name.padEnd(12)} ${String(s.rate).padStart(6)}/s ${s.pass ? 'ok  ' : 'FAIL'} ` +
    `achieved ${String(s.achievedRate).padStart(6)}/s  ${unit} ${s.successful}/${s.calls}  failed ${s.failedPercent.toFixed(3)} %  ` +
    `retrans ${s.retransmissions}  rt ${s.responseTimeMs} ms  CPU ${u.cpuPercent} % (machine ${u.machineCpuPercent} %)  RSS ${u.rssMB} MB  PSS ${u.pssMB} MB` +
    `  load ${u.loadAverage1m}${u.machineUdpDrops > 0 ? `  UDP drops: ${u.peerUdpDrops} at the peer, ${u.machineUdpDrops} machine-wide` : ''}` +
    `${s.attempt > 1 ? `  (attempt ${s.attempt})` : ''}${s.pass ? '' : `\n      ${s.reason}`}`
}

/** Runs the whole sequence for one peer (see the module comment). Never throws: errors land in `error`. */
export async function searchPeer(spec: PeerSpec, o: PeerSearchOptions): Promise<PeerResult> {
  const loadBefore = loadAverage()
  const result: PeerResult = {
    name: spec.name, description: '', maxRate: 0, best: null, steps: [], stoppedBecause: '',
    idleMemoryMB: { rss: 0, pss: 0 }, loadAverageBefore: loadBefore, loadAverageAfter: loadBefore,
    warmup: { ...o.warmup, successful: 0, failed: 0 },
  }
  let peer: BenchPeer | null = null
  let workload: PeerWorkload | null = null
  let monitor: ResourceMonitor | null = null
  try {
    console.log(`\n== ${spec.name}: starting (load average ${loadBefore.join(' ')})`)
    peer = await spec.start()
    result.description = peer.description
    console.log(`   ${peer.description}\n   udp 127.0.0.1:${(peer.ports ?? [peer.port]).join(', ')}, pid ${(peer.pids ?? [peer.pid]).join(', ')}`)
    workload = await o.prepare(peer)
    monitor = new ResourceMonitor(peer.pids ?? peer.pid, peer.ports ?? peer.port)
    const w = await workload.step(o.warmup.rate, Math.round(o.warmup.rate * o.warmup.seconds))
    result.warmup.successful = w.stats?.successful ?? 0
    result.warmup.failed = w.stats?.failed ?? 0
    console.log(`   warm-up ${o.warmup.rate}/s for ${o.warmup.seconds} s: ${result.warmup.successful} ok, ${result.warmup.failed} failed`)
    if (result.warmup.successful === 0) {
      throw new Error(`warm-up: no ${o.unit} succeeded (sipp exit ${w.exitCode}); SIPp errors:\n${w.errorsHead.slice(0, 1200)}`)
    }
    result.idleMemoryMB = mb(monitor.memoryNow())
    const search: SearchResult = await risingRateSearch({
      label: spec.name,
      rates: o.rates,
      stepSeconds: o.stepSeconds,
      retries: o.retries,
      pauseMs: o.pauseMs,
      monitor,
      runStep: (rate, calls) => workload!.step(rate, calls),
      onStep: (s) => console.log(formatStep(spec.name, s, o.unit)),
    })
    result.best = search.best
    result.maxRate = search.best?.rate ?? 0
    result.steps = search.steps
    result.stoppedBecause = search.stoppedBecause
    console.log(`   ${spec.name}: max ${result.maxRate.toLocaleString('en-US')} ${o.unit}/s; stopped: ${search.stoppedBecause}`)
  } catch (e) {
    result.error = (e as Error).message
    console.log(`   ${spec.name}: ERROR ${result.error}${peer ? `\n   peer output:\n${peer.tail(15)}` : ''}`)
  } finally {
    monitor?.close()
    await workload?.cleanup().catch(() => {})
    await peer?.stop().catch(() => {})
    result.loadAverageAfter = loadAverage()
  }
  return result
}

/**
 * Where the gateway spends its time under a fixed SIPp load: the gateway runs alone under
 * `bun --cpu-prof` (JS functions by self time, bench/lib/cpu-profile.ts) and, when `perf`
 * is installed, `perf record` samples every thread and the kernel at the same time
 * (bench/lib/perf-record.ts). Used by `bench/proxy.ts --profile` and
 * `bench/register.ts --profile`.
 *
 * Writes bench/results/<name>.json, <name>.cpuprofile (open it in Chrome DevTools or
 * speedscope) and <name>.md (Bun's own summary).
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchPeer } from './bench-peer.ts'
import { summarizeCpuProfile } from './cpu-profile.ts'
import { REPO_ROOT, startPatchbay, type PatchbayOptions } from './patchbay.ts'
import type { PeerWorkload } from './peer-search.ts'
import { perfAvailable, startPerfRecord, summarizePerf, type PerfSummary } from './perf-record.ts'
import { loadAverage, machineInfo, printTable, RESULTS_DIR, writeResult } from './report.ts'
import { ResourceMonitor } from './resource-monitor.ts'
import { raiseUdpReceiveBuffers } from './udp-buffers.ts'

export interface ProfileOptions {
  /** Result name: bench/results/<name>.json etc. */
  name: string
  /** What is measured, for the output ("calls", "registrations"). */
  unit: string
  gateway: Omit<PatchbayOptions, 'cpuProfile'>
  prepare(peer: BenchPeer): Promise<PeerWorkload>
  rate: number
  seconds: number
  /** Skip perf even when installed. */
  noPerf?: boolean
  /** Top functions listed (default 15). */
  top?: number
}

/** Runs the profile (see the module comment) and prints the tables. */
export async function profileGateway(o: ProfileOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-prof-'))
  const buffers = raiseUdpReceiveBuffers()
  console.log(`${o.name}: patchbay under bun --cpu-prof, ${o.rate} ${o.unit}/s for ${o.seconds} s\n${buffers.message}\nload average: ${loadAverage().join(' ')}`)
  let peer: BenchPeer | null = null
  let workload: PeerWorkload | null = null
  try {
    peer = await startPatchbay({ ...o.gateway, cpuProfile: { dir, name: 'gateway' } })
    workload = await o.prepare(peer)
    await workload.step(Math.min(o.rate, 1000), Math.min(o.rate, 1000) * 2) // warm-up, outside the window
    const monitor = new ResourceMonitor(peer.pid, peer.port)
    const from = Date.now() * 1000
    const mark = monitor.begin()
    const stepDone = workload.step(o.rate, o.rate * o.seconds)
    // perf samples the middle of the load (after SIPp's start, before its tail).
    const perfFile = join(dir, 'perf.data')
    const perf = perfAvailable() && !o.noPerf ? startPerfRecord(peer.pid, Math.max(1, o.seconds - 2), perfFile) : null
    const r = await stepDone
    const usage = monitor.end(mark)
    const to = Date.now() * 1000
    await perf?.waitForExit(15_000)
    const s = r.stats
    console.log(`load: ${s?.successful ?? 0}/${o.rate * o.seconds} ${o.unit} ok, ${s?.failed ?? 0} failed, ${s?.retransmissions ?? 0} retransmissions, ` +
      `response time ${s?.responseTimeMs ?? '?'} ms; gateway CPU ${usage.cpuPercent} % of one core (${usage.cpuSeconds} s CPU in ${usage.wallSeconds} s), RSS ${usage.rssMB} MB`)
    await workload.cleanup()
    workload = null
    await peer.stop() // SIGTERM: the gateway exits and Bun writes the profile
    peer = null
    const prof = join(dir, 'gateway.cpuprofile')
    const md = join(dir, 'gateway.md')
    if (!existsSync(prof)) throw new Error(`no profile written in ${dir}`)
    const summary = summarizeCpuProfile(prof, o.top ?? 15, REPO_ROOT, from, to)
    console.log(`\nTop ${o.top ?? 15} functions by self time during the load, bun --cpu-prof (${summary.samples} samples, ${summary.sampledMs} ms ` +
      `sampled; the process used ${Math.round(usage.cpuSeconds * 1000)} ms CPU in all threads. The profiler samples the JS ` +
      `thread's wall time: a native call that is descheduled, e.g. a UDP send waking SIPp, counts in full):`)
    printTable(summary.top.map((f, i) => ({ '#': i + 1, 'self %': f.selfPercent, 'self ms': f.selfMs, 'total %': f.totalPercent, function: f.function })))
    console.log('\nSelf time by file:')
    printTable(summary.files.map((f) => ({ 'self %': f.selfPercent, 'self ms': f.selfMs, file: f.file })))
    let perfSummary: PerfSummary | null = null
    if (perf !== null && existsSync(perfFile)) {
      perfSummary = summarizePerf(perfFile)
      console.log(`\nperf: on-CPU samples of every gateway thread and the kernel (${perfSummary.samples ?? '?'} samples at 499 Hz; bun.exe is stripped):`)
      printTable(perfSummary.byThread.map((t) => ({ thread: t.name, '% of samples': t.percent })))
      printTable(perfSummary.byBinary.map((t) => ({ code: t.name, '% of samples': t.percent })))
      printTable(perfSummary.paths.map((t) => ({ 'inclusive path': t.name, '% of samples': t.percent })))
    } else {
      console.log(perf === null ? '\n(no perf: not installed (apt-get install -y linux-perf) or --no-perf)' : '\n(perf wrote no data)')
    }
    const file = writeResult(o.name, {
      benchmark: o.name, date: new Date().toISOString(), rate: o.rate, seconds: o.seconds, unit: o.unit,
      loadAverage: loadAverage(), machine: machineInfo(),
      sipp: s ? { ...s, timeline: undefined } : null, usage, profile: summary, perf: perfSummary,
      files: { cpuprofile: `bench/results/${o.name}.cpuprofile`, markdown: `bench/results/${o.name}.md` },
    })
    copyFileSync(prof, join(RESULTS_DIR, `${o.name}.cpuprofile`))
    if (existsSync(md)) copyFileSync(md, join(RESULTS_DIR, `${o.name}.md`))
    console.log(`wrote ${file} (+ ${o.name}.cpuprofile, ${o.name}.md)`)
  } finally {
    await workload?.cleanup().catch(() => {})
    await peer?.stop().catch(() => {})
    buffers.restore()
    rmSync(dir, { recursive: true, force: true })
  }
}

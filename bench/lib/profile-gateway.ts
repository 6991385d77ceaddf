/**
 * Where the gateway spends its time under a fixed SIPp load: the gateway runs alone under
 * `bun --cpu-prof` (JS functions by self time, bench/lib/cpu-profile.ts) and, when `perf`
 * is installed, `perf record` samples every thread and the kernel at the same time
 * (bench/lib/perf-record.ts). Used by `bench/proxy.ts --profile` and
 * `bench/register.ts --profile`.
 *
 * Per unit of load (µs per registration, per call) it reports the CPU the kernel charged to each
 * of the gateway's threads during the load (user and system time from /proc/PID/task/TID/stat:
 * exact, unlike the samplers), and the JS profile's self time per unit. The JS profile samples
 * the JS thread's *wall* time, so its µs per unit overstate CPU (by the share of the thread's
 * sampled time it spent descheduled; most of it lands on the UDP send, whose loopback delivery
 * wakes the load generator): the column is for ranking; the thread table is the CPU.
 *
 * Writes bench/results/<name>.json, <name>.cpuprofile (open it in Chrome DevTools or
 * speedscope) and <name>.md (Bun's own summary).
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
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

/** CPU time of one thread name (threads of the same name summed), seconds. */
export interface ThreadCpu {
  /** The kernel's name of the thread (`bun.exe` is the JS thread; JITWorker, HeapHelper, ...). */
  name: string
  user: number
  system: number
}

/** Clock ticks per second of /proc's utime/stime (USER_HZ: 100 on every Linux ABI Bun runs on). */
const USER_HZ = 100

/**
 * User and system CPU seconds of every thread of `pid` so far, summed by thread name (digits at
 * the end of a name are dropped: `HeapHelper3` counts as `HeapHelper`). Empty when /proc is not
 * readable (not Linux). Threads that ended before the call are not counted.
 */
export function threadCpu(pid: number): Map<string, ThreadCpu> {
  const out = new Map<string, ThreadCpu>()
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    let stat: string
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    } catch {
      continue // the thread ended meanwhile
    }
    // pid (comm) state ... : comm may hold spaces and parentheses, so split after the last ')'.
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/\d+$/, '')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const t = out.get(name) ?? { name, user: 0, system: 0 }
    t.user += Number(fields[11]) / USER_HZ // utime, field 14 of stat(5)
    t.system += Number(fields[12]) / USER_HZ // stime, field 15
    out.set(name, t)
  }
  return out
}

/** CPU used by each thread name between two `threadCpu` snapshots, largest first. */
export function threadCpuDelta(before: Map<string, ThreadCpu>, after: Map<string, ThreadCpu>): ThreadCpu[] {
  const rows: ThreadCpu[] = []
  for (const [name, b] of after) {
    const a = before.get(name)
    const user = b.user - (a?.user ?? 0)
    const system = b.system - (a?.system ?? 0)
    if (user + system > 0) rows.push({ name, user: Math.round(user * 100) / 100, system: Math.round(system * 100) / 100 })
  }
  return rows.sort((x, y) => y.user + y.system - (x.user + x.system))
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
    const threadsBefore = threadCpu(peer.pid)
    const stepDone = workload.step(o.rate, o.rate * o.seconds)
    // perf samples the middle of the load (after SIPp's start, before its tail).
    const perfFile = join(dir, 'perf.data')
    const perf = perfAvailable() && !o.noPerf ? startPerfRecord(peer.pid, Math.max(1, o.seconds - 2), perfFile) : null
    const r = await stepDone
    const usage = monitor.end(mark)
    const threads = threadCpuDelta(threadsBefore, threadCpu(peer.pid))
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
    const units = s?.successful ?? 0
    /** µs per unit of load (null without any). */
    const perUnit = (seconds: number): number | null => (units > 0 ? Math.round((seconds / units) * 1e7) / 10 : null)
    console.log(`\nCPU per ${o.unit.replace(/s$/, '')} by thread (user and system time from /proc; all threads: ` +
      `${perUnit(usage.cpuSeconds) ?? '?'} µs per ${o.unit.replace(/s$/, '')}):`)
    printTable(threads.map((t) => ({
      thread: t.name, 'user µs': perUnit(t.user), 'system µs': perUnit(t.system), 'total µs': perUnit(t.user + t.system),
    })))
    console.log(`\nTop ${o.top ?? 15} functions by self time during the load, bun --cpu-prof (${summary.samples} samples, ${summary.sampledMs} ms ` +
      `sampled; the process used ${Math.round(usage.cpuSeconds * 1000)} ms CPU in all threads. The profiler samples the JS ` +
      `thread's wall time: a native call that is descheduled, e.g. a UDP send waking SIPp, counts in full):`)
    printTable(summary.top.map((f, i) => ({
      '#': i + 1, 'self %': f.selfPercent, 'self ms': f.selfMs, [`self µs/${o.unit.replace(/s$/, '')}`]: perUnit(f.selfMs / 1000),
      'total %': f.totalPercent, function: f.function,
    })))
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
      sipp: s ? { ...s, timeline: undefined } : null, usage, threads, profile: summary, perf: perfSummary,
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

/**
 * On-CPU sampling of a process with Linux `perf` (Debian package `linux-perf`), to complement
 * Bun's `--cpu-prof`: the JS profiler samples wall time on the JS thread only (time spent
 * descheduled inside a syscall counts as that call), while perf samples what actually ran on
 * a CPU, in every thread (JIT compiler, GC helpers) and in the kernel (sendmmsg delivering
 * to the receivers on loopback, page faults).
 *
 * Bun's binary is stripped, so its native frames have no names; the split by thread, by
 * binary (bun.exe native / [JIT] JS code / kernel / libc) and the inclusive share of a few
 * kernel paths are what is reported.
 */
import { PeerProcess } from './peer-process.ts'

/** True when `perf` is on PATH. */
export function perfAvailable(): boolean {
  return Bun.which('perf') !== null
}

/** Starts `perf record -F 499 -g -p PID -o FILE -- sleep SECONDS`. */
export function startPerfRecord(pid: number, seconds: number, file: string): PeerProcess {
  return new PeerProcess('perf record', ['perf', 'record', '-F', '499', '-g', '-p', String(pid), '-o', file, '--', 'sleep', String(seconds)])
}

export interface PerfShare {
  name: string
  percent: number
}

export interface PerfSummary {
  /** perf's own count, e.g. `2K`. */
  samples: string | null
  /** Share of samples by thread name (bun.exe = the JS thread; JITWorker; HeapHelper = GC). */
  byThread: PerfShare[]
  /** Share by binary: bun.exe (native runtime, stripped), [JIT] (compiled JS), [kernel.kallsyms], libc. */
  byBinary: PerfShare[]
  /** Inclusive share of selected paths (syscalls, page faults, scheduling). */
  paths: PerfShare[]
}

/** `  12.34%  name` lines of `perf report --stdio` (comment and call-graph lines skipped). */
function shares(text: string, limit: number): PerfShare[] {
  const out: PerfShare[] = []
  for (const line of text.split('\n')) {
    const m = /^\s+([\d.]+)%\s+(.+?)\s*$/.exec(line)
    if (!m) continue
    out.push({ name: m[2]!.replace(/\s+tid \d+/, ''), percent: Number(m[1]) })
    if (out.length >= limit) break
  }
  return out
}

const PATHS: Array<[string, RegExp]> = [
  ['sendmmsg (UDP send + wake-up of the receiver)', /\]\s+__sendmmsg$/],
  ['recvmmsg (UDP receive)', /\]\s+__recvmmsg$/],
  ['epoll wait', /\]\s+do_epoll_pwait/],
  ['page faults (fresh memory)', /\]\s+asm_exc_page_fault$/],
  ['scheduler (context switches)', /\]\s+__schedule$/],
  ['futex (thread wake/wait)', /\]\s+__x64_sys_futex$/],
]

function report(file: string, args: string[]): string {
  const r = Bun.spawnSync(['perf', 'report', '-i', file, '--stdio', ...args], { stderr: 'ignore' })
  return r.stdout.toString()
}

/** Summarizes a perf.data file (see {@link PerfSummary}). */
export function summarizePerf(file: string): PerfSummary {
  const byThread = shares(report(file, ['--no-children', '-g', 'none', '--sort', 'comm']), 10)
  const dsoText = report(file, ['--no-children', '-g', 'none', '--sort', 'dso'])
  const samplesMatch = /# Samples: (\S+)/.exec(dsoText)
  const byBinary = shares(dsoText, 8)
  const children = report(file, ['--children', '-g', 'none', '--sort', 'sym'])
  const paths: PerfShare[] = []
  for (const [name, re] of PATHS) {
    const line = children.split('\n').find((l) => re.test(l))
    const m = line ? /^\s+([\d.]+)%/.exec(line) : null
    paths.push({ name, percent: m ? Number(m[1]) : 0 })
  }
  return { samples: samplesMatch ? samplesMatch[1]! : null, byThread, byBinary, paths }
}

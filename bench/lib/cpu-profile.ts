/**
 * Reads a `.cpuprofile` written by `bun --cpu-prof` (the Chrome DevTools format: `nodes`
 * with `callFrame` and `children`, `samples` = node id per sample, `timeDeltas` in µs,
 * `startTime` in epoch µs) and ranks functions by self time inside a time window (the load
 * phase, leaving out start-up and shutdown).
 *
 * Bun's sampler only samples while JavaScript (or native code it called) runs, so the
 * gaps between samples during idle time are not CPU: each sample is counted as at most
 * 4 sampling intervals.
 */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

/** One function's share of the samples in the window. */
export interface FunctionTime {
  /** `name (file:line)`; `(anonymous)` for unnamed functions. */
  function: string
  selfMs: number
  selfPercent: number
  /** Time with this function anywhere on the stack (recursion counted once). */
  totalMs: number
  totalPercent: number
  samples: number
}

export interface ProfileSummary {
  /** Sampled milliseconds in the window (an estimate of JS + native-call CPU time). */
  sampledMs: number
  samples: number
  intervalMicros: number
  top: FunctionTime[]
  /** Self time by file (repo-relative), largest first. */
  files: Array<{ file: string; selfMs: number; selfPercent: number }>
}

function label(node: ProfileNode, root: string): { fn: string; file: string } {
  const f = node.callFrame
  const url = f.url.replace(/^file:\/\//, '')
  const file = url === '' ? '[native]' : url.startsWith(root) ? url.slice(root.length + 1) : url.replace(/^.*\/node_modules\//, 'node_modules/')
  const name = f.functionName || '(anonymous)'
  return { fn: url === '' ? name : `${name} (${file}:${f.lineNumber + 1})`, file }
}

/**
 * Top `n` functions by self time among the samples taken between `fromMicros` and
 * `toMicros` (epoch µs; the whole profile when omitted).
 * @param root paths under it are shown relative to it
 */
export function summarizeCpuProfile(path: string, n: number, root: string, fromMicros = -Infinity, toMicros = Infinity): ProfileSummary {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile
  const byId = new Map<number, ProfileNode>()
  const parent = new Map<number, number>()
  for (const node of p.nodes) {
    byId.set(node.id, node)
    for (const c of node.children ?? []) parent.set(c, node.id)
  }
  const sorted = [...p.timeDeltas].filter((d) => d > 0).sort((a, b) => a - b)
  const interval = sorted[Math.floor(sorted.length / 2)] ?? 1000
  const cap = interval * 4
  const self = new Map<string, { ms: number; samples: number }>()
  const total = new Map<string, number>()
  const files = new Map<string, number>()
  let t = p.startTime
  let sampledMs = 0
  let count = 0
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0
    if (t < fromMicros || t > toMicros) continue
    // The delta after sample i is the time it stood for (the next delta; the last uses the interval).
    const next = p.timeDeltas[i + 1]
    const ms = Math.min(next !== undefined && next > 0 ? next : interval, cap) / 1000
    const node = byId.get(p.samples[i]!)
    if (!node) continue
    const { fn, file } = label(node, root)
    if (fn === '(root)' || fn === '(idle)') continue
    sampledMs += ms
    count++
    const s = self.get(fn) ?? { ms: 0, samples: 0 }
    s.ms += ms
    s.samples++
    self.set(fn, s)
    files.set(file, (files.get(file) ?? 0) + ms)
    const seen = new Set<string>()
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const name = label(byId.get(id)!, root).fn
      if (seen.has(name)) continue
      seen.add(name)
      total.set(name, (total.get(name) ?? 0) + ms)
    }
  }
  const pct = (x: number) => (sampledMs > 0 ? Math.round((x / sampledMs) * 1000) / 10 : 0)
  const r2 = (x: number) => Math.round(x * 10) / 10
  const top = [...self.entries()]
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, n)
    .map(([fn, s]) => ({
      function: fn, selfMs: r2(s.ms), selfPercent: pct(s.ms),
      totalMs: r2(total.get(fn) ?? 0), totalPercent: pct(total.get(fn) ?? 0), samples: s.samples,
    }))
  return {
    sampledMs: Math.round(sampledMs),
    samples: count,
    intervalMicros: interval,
    top,
    files: [...files.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([file, ms]) => ({ file, selfMs: r2(ms), selfPercent: pct(ms) })),
  }
}

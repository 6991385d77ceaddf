/**
 * Reads the Prometheus text exposition format (version 0.0.4, what `GET /metrics` answers)
 * into samples, for the admin page's live figures. Only what the page needs: sample lines
 * `name{label="value",...} number [timestamp]`; `# HELP` / `# TYPE` comments are skipped.
 * Pure; never throws (an unreadable line is skipped).
 */

export interface MetricSample {
  name: string
  labels: Record<string, string>
  value: number
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g

function unescapeLabel(v: string): string {
  return v.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c))
}

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity
  if (s === '-Inf') return -Infinity
  return Number(s)
}

/** Every sample line of `text`, in order. */
export function parsePrometheusText(text: string): MetricSample[] {
  const out: MetricSample[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const m = LINE.exec(line)
    if (m === null) continue
    const labels: Record<string, string> = {}
    if (m[2] !== undefined) for (const l of m[2].matchAll(LABEL)) labels[l[1]!] = unescapeLabel(l[2]!)
    const value = parseValue(m[3]!)
    if (Number.isNaN(value)) continue
    out.push({ name: m[1]!, labels, value })
  }
  return out
}

/**
 * The sum of the samples named `name` whose labels include `match` (all of them when no
 * `match`); undefined when there is none.
 */
export function metricValue(samples: readonly MetricSample[], name: string, match: Record<string, string> = {}): number | undefined {
  let sum: number | undefined
  for (const s of samples) {
    if (s.name !== name) continue
    if (Object.entries(match).some(([k, v]) => s.labels[k] !== v)) continue
    sum = (sum ?? 0) + s.value
  }
  return sum
}

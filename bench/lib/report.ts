/**
 * Output of the SIPp benchmarks: aligned text tables, the machine's state (load average:
 * the machine is shared, so every result carries it), and the JSON file under
 * bench/results/ (git-ignored).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join, relative, resolve } from 'node:path'

/** bench/results/ */
export const RESULTS_DIR = resolve(import.meta.dir, '..', 'results')

type Cell = string | number | null | undefined

/** Prints rows as a table with a header, numbers right-aligned. */
export function printTable(rows: Array<Record<string, Cell>>): void {
  if (rows.length === 0) return
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))]
  const text = (v: Cell) => (v === null || v === undefined ? '-' : typeof v === 'number' ? v.toLocaleString('en-US') : v)
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => text(r[c]).length)))
  const line = (cells: string[], numeric: boolean[]) =>
    cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')
  console.log(line(cols, cols.map(() => false)))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const r of rows) console.log(line(cols.map((c) => text(r[c])), cols.map((c) => typeof r[c] === 'number')))
}

/** The 1, 5 and 15 minute load averages, rounded to 2 decimals. */
export function loadAverage(): number[] {
  return loadavg().map((x) => Math.round(x * 100) / 100)
}

/** Machine facts for the JSON result. */
export function machineInfo(): { cpus: number; cpuModel: string; memoryGB: number; bun: string } {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGB: Math.round(totalmem() / 1e8) / 10,
    bun: Bun.version,
  }
}

/** Writes `bench/results/<name>.json` (mkdir -p) and returns its path relative to the cwd. */
export function writeResult(name: string, data: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const file = join(RESULTS_DIR, `${name}.json`)
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n')
  return relative(process.cwd(), file) || file
}

/** `a / b` rounded to 2 decimals, or null when either is missing or b is 0. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null
  return Math.round((a / b) * 100) / 100
}

/** Parses `--name value`, `--name=value` and bare `--flag` arguments. */
export function parseFlags(argv: string[], known: Record<string, 'flag' | 'value'>): Map<string, string> {
  const out = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const eq = a.indexOf('=')
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2)
    const kind = a.startsWith('--') ? known[name] : undefined
    if (kind === undefined) throw new Error(`unknown argument ${a}; known: ${Object.keys(known).map((k) => `--${k}`).join(' ')}`)
    if (kind === 'flag') out.set(name, 'true')
    else if (eq > 0) out.set(name, a.slice(eq + 1))
    else {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      out.set(name, v)
    }
  }
  return out
}

/**
 * The peers `--only` names (comma-separated; `kamailio` means every Kamailio peer), or all of
 * them without `--only`. Exits 2 naming the known peers when none matches.
 */
export function selectPeers<T extends { name: string }>(peers: T[], only: string | undefined): T[] {
  if (only === undefined) return peers
  const wanted = only.split(',').map((s) => s.trim()).filter(Boolean)
  const picked = peers.filter((p) => wanted.some((w) => p.name === w || (w === 'kamailio' && p.name.startsWith('kamailio'))))
  if (picked.length === 0) {
    console.error(`--only ${only}: no such peer (${peers.map((p) => p.name).join(', ')}, kamailio)`)
    process.exit(2)
  }
  return picked
}

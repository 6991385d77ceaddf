/**
 * Markdown output of bench:signaling: tables in GitHub's pipe syntax, written next to the
 * JSON result under bench/results/ (git-ignored).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { RESULTS_DIR } from './report.ts'

type Cell = string | number | null | undefined

/** Rows as a Markdown table (columns from the first row's keys and later ones), numbers right-aligned. */
export function markdownTable(rows: Array<Record<string, Cell>>): string {
  if (rows.length === 0) return ''
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))]
  const text = (v: Cell) => (v === null || v === undefined ? '-' : typeof v === 'number' ? v.toLocaleString('en-US') : v.replaceAll('|', '\\|'))
  const numeric = cols.map((c) => rows.some((r) => typeof r[c] === 'number'))
  return [
    `| ${cols.join(' | ')} |`,
    `|${numeric.map((n) => (n ? '---:' : '---')).join('|')}|`,
    ...rows.map((r) => `| ${cols.map((c) => text(r[c])).join(' | ')} |`),
  ].join('\n') + '\n'
}

/** Writes `bench/results/<name>.md` and returns its path relative to the cwd. */
export function writeMarkdown(name: string, text: string): string {
  mkdirSync(RESULTS_DIR, { recursive: true })
  const file = join(RESULTS_DIR, `${name}.md`)
  writeFileSync(file, text)
  return relative(process.cwd(), file) || file
}

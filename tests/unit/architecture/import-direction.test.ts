/**
 * The layering rule of docs/architecture.md, as a test: imports in gateway/src point down.
 *
 * Each file belongs to a layer (its folder, see LAYERS); a file may import its own layer
 * and layers of a lower rank, never a higher or equal-rank other one. On top of that:
 * no import cycle between files, elysia only in http/, nothing outside gateway/src (tests,
 * softphone) imported by the gateway, and in the softphone only signaling/ imports sip.js.
 */
import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

const REPO = resolve(import.meta.dir, '..', '..', '..')
const GATEWAY = join(REPO, 'gateway', 'src')
const SOFTPHONE = join(REPO, 'softphone', 'src')

/**
 * Layers of gateway/src, lowest first: folder (relative to gateway/src; '' = top-level
 * files, the composition root) -> rank. The longest matching folder wins.
 */
const LAYERS: ReadonlyArray<readonly [string, number]> = [
  ['base', 0],
  ['sip/syntax', 10],
  ['sip/message', 11],
  ['sip/parser', 12],
  ['sip/transport', 13],
  ['sip/transaction', 14],
  ['sip/auth', 15],
  ['sip/registrar', 15],
  ['sip/security', 15],
  ['sip/dns', 15],
  ['sip/dialplan', 15],
  ['sip/proxy', 16],
  ['sip/trunks', 16.5],
  ['sip/routing', 17],
  ['config', 20],
  ['store', 30],
  ['ice', 30],
  ['media', 30],
  ['cdr', 35],
  ['signaling-json', 40],
  ['cluster', 45],
  ['http', 50],
  ['', 60],
]

function layerOf(file: string): readonly [string, number] {
  const rel = relative(GATEWAY, file).split('\\').join('/')
  let best: readonly [string, number] | null = null
  for (const l of LAYERS) {
    const [folder] = l
    if (folder === '' ? !rel.includes('/') : rel.startsWith(folder + '/')) {
      if (best === null || folder.length > best[0].length) best = l
    }
  }
  if (best === null) throw new Error(`${rel}: in no layer of LAYERS (add its folder to the table in ${relative(REPO, import.meta.path)})`)
  return best
}

function tsFiles(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...tsFiles(p))
    else if (e.name.endsWith('.ts')) out.push(p)
  }
  return out
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
export function importSpecifiers(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  const specs: string[] = []
  const re = /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm
  let m: RegExpExecArray | null
  while ((m = re.exec(code)) !== null) specs.push(m[1] ?? m[2] ?? m[3]!)
  return specs
}

interface Violation { from: string; to: string; why: string }

/** Checks one import edge against the layering rule; null when allowed. */
export function checkEdge(from: string, to: string): Violation | null {
  const rel = (p: string) => relative(REPO, p)
  if (!to.startsWith(GATEWAY + '/')) return { from: rel(from), to: rel(to), why: 'the gateway imports nothing outside gateway/src (test doubles live in tests/support)' }
  const [fromLayer, fromRank] = layerOf(from)
  const [toLayer, toRank] = layerOf(to)
  if (fromLayer === toLayer || toRank < fromRank) return null
  return { from: rel(from), to: rel(to), why: `layer ${fromLayer || '(root)'} (rank ${fromRank}) may not import ${toLayer || '(root)'} (rank ${toRank})` }
}

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>()
  for (const f of tsFiles(GATEWAY)) {
    const deps: string[] = []
    for (const s of importSpecifiers(readFileSync(f, 'utf8'))) if (s.startsWith('.')) deps.push(resolve(dirname(f), s))
    g.set(f, deps)
  }
  return g
}

describe('imports point down (docs/architecture.md, "Layers")', () => {
  const g = graph()

  test('the import scanner sees the imports it must see (guards against a rule that checks nothing)', () => {
    expect(g.size).toBeGreaterThan(60)
    expect(g.get(join(GATEWAY, 'gateway.ts'))).toContain(join(GATEWAY, 'sip/transport/transport-layer.ts'))
    expect(importSpecifiers("import type { A } from './a.ts'\nexport { b } from \"../b.ts\"\nconst c = await import('./c.ts')\n// import x from './commented.ts'"))
      .toEqual(['./a.ts', '../b.ts', './c.ts'])
  })

  test('the rule refuses an upward import and one that leaves gateway/src', () => {
    expect(checkEdge(join(GATEWAY, 'sip/transport/transport-layer.ts'), join(GATEWAY, 'sip/transaction/transaction-user.ts'))).not.toBeNull()
    expect(checkEdge(join(GATEWAY, 'sip/auth/digest-authenticator.ts'), join(GATEWAY, 'config/schema.ts'))).not.toBeNull()
    expect(checkEdge(join(GATEWAY, 'sip/registrar/registrar.ts'), join(GATEWAY, 'sip/auth/digest.ts'))).not.toBeNull()
    expect(checkEdge(join(GATEWAY, 'media/embedded/embedded-driver.ts'), join(REPO, 'tests/support/fake-scheduler.ts'))).not.toBeNull()
    expect(checkEdge(join(GATEWAY, 'sip/proxy/stateful-proxy.ts'), join(GATEWAY, 'base/scheduler.ts'))).toBeNull()
  })

  test('every import in gateway/src points to its own layer or a lower one', () => {
    const violations: Violation[] = []
    for (const [from, deps] of g) for (const to of deps) {
      const v = checkEdge(from, to)
      if (v) violations.push(v)
    }
    expect(violations).toEqual([])
  })

  test('no import cycle between files', () => {
    const state = new Map<string, 'visiting' | 'done'>()
    const cycles: string[] = []
    const visit = (f: string, path: string[]): void => {
      const s = state.get(f)
      if (s === 'done') return
      if (s === 'visiting') {
        cycles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(GATEWAY, p)).join(' -> '))
        return
      }
      state.set(f, 'visiting')
      for (const d of g.get(f) ?? []) visit(d, [...path, f])
      state.set(f, 'done')
    }
    for (const f of g.keys()) visit(f, [])
    expect(cycles).toEqual([])
  })

  test('only http/ imports elysia', () => {
    const offenders = [...g.keys()].filter((f) => !relative(GATEWAY, f).startsWith('http/') &&
      importSpecifiers(readFileSync(f, 'utf8')).some((s) => s === 'elysia' || s.startsWith('elysia/')))
    expect(offenders.map((f) => relative(REPO, f))).toEqual([])
  })

  test('in the softphone, only signaling/ imports sip.js (components -> controllers -> SignalingClient)', () => {
    const offenders = tsFiles(SOFTPHONE).filter((f) => !relative(SOFTPHONE, f).startsWith('signaling/') &&
      importSpecifiers(readFileSync(f, 'utf8')).some((s) => s === 'sip.js' || s.startsWith('sip.js/')))
    expect(offenders.map((f) => relative(REPO, f))).toEqual([])
  })
})

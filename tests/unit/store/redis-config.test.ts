/**
 * `store.redis` in gateway.yaml (config/schema.ts): optional; url and nodeId are checked with
 * file:line errors; absent keeps the single-node bun:sqlite store.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatConfigError, loadConfig } from '../../../gateway/src/config/loader.ts'

const root = mkdtempSync(join(tmpdir(), 'patchbay-redis-config-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let n = 0

function load(gatewayYaml: string) {
  const dir = join(root, `c${n++}`)
  mkdirSync(dir)
  writeFileSync(join(dir, 'gateway.yaml'), gatewayYaml)
  return loadConfig(dir)
}

describe('store.redis', () => {
  test('absent by default: bindings stay in bun:sqlite', () => {
    const r = load('domain: patchbay.test\n')
    if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'))
    expect(r.config.store.redis).toBeUndefined()
    expect(r.config.store.path).toBe('.data/patchbay.sqlite')
  })

  test('url and nodeId are read', () => {
    const r = load('domain: patchbay.test\nstore:\n  redis:\n    url: redis://10.0.0.5:6379/2\n    nodeId: node-a\n')
    if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'))
    expect(r.config.store.redis).toEqual({ url: 'redis://10.0.0.5:6379/2', nodeId: 'node-a' })
  })

  test('a URL that is not redis:// and a node id with a slash are refused with file:line', () => {
    const r = load('domain: patchbay.test\nstore:\n  redis:\n    url: http://10.0.0.5:6379\n    nodeId: a/b\n')
    if (r.ok) throw new Error('expected the configuration to be refused')
    const text = r.errors.map(formatConfigError).join('\n')
    expect(text).toMatch(/gateway\.yaml:4 store\.redis\.url/)
    expect(text).toMatch(/gateway\.yaml:5 store\.redis\.nodeId/)
  })

  test('unknown keys are refused', () => {
    const r = load('domain: patchbay.test\nstore:\n  redis:\n    url: redis://127.0.0.1:6379\n    password: x\n')
    expect(r.ok).toBe(false)
  })
})

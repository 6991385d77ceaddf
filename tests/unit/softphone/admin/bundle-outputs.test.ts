/**
 * The admin page is a second entry of the softphone build (softphone/build.ts): its page and
 * bundle are outputs the staleness check requires, and the in-memory build yields both pages
 * with their scripts.
 */
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BUNDLE_OUTPUTS, buildSoftphone, softphoneBundleState } from '../../../../softphone/build.ts'

const dir = mkdtempSync(join(tmpdir(), 'patchbay-admin-bundle-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('admin.html and admin.js are outputs: missing without them, stale when older than the sources', () => {
  expect([...BUNDLE_OUTPUTS].sort()).toEqual(['admin.html', 'admin.js', 'app.js', 'index.html'])
  writeFileSync(join(dir, 'index.html'), 'x')
  writeFileSync(join(dir, 'app.js'), 'x')
  expect(softphoneBundleState(dir), 'the admin page is missing').toBe('missing')
  writeFileSync(join(dir, 'admin.html'), 'x')
  writeFileSync(join(dir, 'admin.js'), 'x')
  expect(softphoneBundleState(dir)).toBe('fresh')
  utimesSync(join(dir, 'admin.js'), new Date(0), new Date(0))
  expect(softphoneBundleState(dir)).toBe('stale')
})

test('the build yields both pages, each loading its own bundle', async () => {
  const assets = await buildSoftphone()
  expect([...assets.keys()].sort()).toEqual(['/', '/admin.html', '/admin.js', '/app.js', '/index.html'])
  const text = (p: string) => new TextDecoder().decode(assets.get(p)!.body)
  expect(text('/admin.html')).toContain('src="/admin.js"')
  expect(text('/index.html')).toContain('src="/app.js"')
  expect(text('/admin.js')).toContain('pb-admin-app')
  expect(text('/app.js')).not.toContain('pb-admin-app')
})

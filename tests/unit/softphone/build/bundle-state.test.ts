/**
 * `softphoneBundleState` decides whether `npm start` and the test preload rebuild the softphone:
 * missing outputs, outputs older than a source, or fresh.
 */
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { softphoneBundleState } from '../../../../softphone/build.ts'

const dir = mkdtempSync(join(tmpdir(), 'patchbay-bundle-state-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('missing, then fresh, then stale when the outputs are older than the sources', () => {
  expect(softphoneBundleState(dir)).toBe('missing')
  writeFileSync(join(dir, 'index.html'), 'x')
  expect(softphoneBundleState(dir), 'app.js is missing').toBe('missing')
  writeFileSync(join(dir, 'app.js'), 'x')
  expect(softphoneBundleState(dir)).toBe('missing') // the admin page's outputs too
  writeFileSync(join(dir, 'admin.html'), 'x')
  writeFileSync(join(dir, 'admin.js'), 'x')
  expect(softphoneBundleState(dir)).toBe('fresh')
  utimesSync(join(dir, 'app.js'), new Date(0), new Date(0))
  expect(softphoneBundleState(dir)).toBe('stale')
})

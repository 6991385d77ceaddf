/**
 * The softphone's files as the gateway serves them: read from the build output folder, and a
 * clear 503 naming the build command when nothing was built.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadStaticAssets, softphonePlugin } from '../../../gateway/src/http/softphone-plugin.ts'

const dirs: string[] = []
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'patchbay-softphone-assets-'))
  dirs.push(d)
  return d
}

describe('softphone files', () => {
  test('no build (folder without index.html): loadStaticAssets is null and / answers 503 naming `bun run build`', async () => {
    expect(loadStaticAssets(join(tempDir(), 'missing'))).toBeNull()
    const res = await softphonePlugin(null).handle(new Request('http://localhost/'))
    expect(res.status).toBe(503)
    expect(await res.text()).toContain('bun run build')
  })

  test('a built folder is served from memory: / is index.html, app.js with its content type', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'index.html'), '<!doctype html><pb-app></pb-app>')
    writeFileSync(join(dir, 'app.js'), 'console.log(1)')
    const assets = loadStaticAssets(dir)
    expect([...assets!.keys()].sort()).toEqual(['/app.js', '/index.html'])
    const app = softphonePlugin(assets)
    const page = await app.handle(new Request('http://localhost/'))
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<pb-app>')
    const js = await app.handle(new Request('http://localhost/app.js'))
    expect(js.headers.get('content-type')).toContain('text/javascript')
  })
})

/**
 * The softphone's build step (`bun run build`): bundles softphone/src for the browser into
 * softphone/dist/ — two entries, each a page and its bundle (Bun.build, minified, no source
 * map):
 *   - the softphone: `index.html` (softphone/src/index.html) and `app.js` (softphone/src/main.ts);
 *   - the operator's admin page: `admin.html` (softphone/src/admin/admin.html) and `admin.js`
 *     (softphone/src/admin/main.ts).
 * The gateway serves that folder at `/` (and admin.html at `/admin`); it never builds on start.
 *
 *   bun softphone/build.ts              build
 *   bun softphone/build.ts --if-stale   build only when dist/ is missing or older than a
 *                                       source file (what `npm start` and the tests run)
 *
 * `buildSoftphone()` builds in memory (Map of URL path -> { contentType, body }).
 * Errors: rejects with the bundler's messages when the build fails; the script exits 1.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'

export interface BuiltAsset {
  readonly contentType: string
  readonly body: Uint8Array
}

const SRC = join(import.meta.dir, 'src')
/** Where the build writes and the gateway serves from. */
export const SOFTPHONE_DIST = join(import.meta.dir, 'dist')
/** The bundles: entry module (under src/), page (under src/), and their names in dist/. */
const ENTRIES = [
  { entry: 'main.ts', page: 'index.html', script: 'app' },
  { entry: 'admin/main.ts', page: 'admin/admin.html', script: 'admin' },
] as const

/** Every file the build writes into dist/ (what `softphoneBundleState` checks). */
export const BUNDLE_OUTPUTS: readonly string[] = ENTRIES.flatMap((e) => [e.page.split('/').pop()!, `${e.script}.js`])

/** Files whose change makes the bundle stale, besides softphone/src/**. */
const INPUTS = [join(import.meta.dir, 'build.ts'), join(import.meta.dir, '..', 'package-lock.json')]

function newestMtime(dir: string): number {
  let newest = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs)
  }
  return newest
}

/**
 * 'missing' when dist/ lacks one of BUNDLE_OUTPUTS (index.html, app.js, admin.html,
 * admin.js), 'stale' when a source is newer than the oldest of them, else 'fresh'.
 */
export function softphoneBundleState(dist = SOFTPHONE_DIST): 'missing' | 'stale' | 'fresh' {
  const outputs = BUNDLE_OUTPUTS.map((f) => join(dist, f))
  if (!outputs.every((f) => existsSync(f))) return 'missing'
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs))
  let newest = newestMtime(SRC)
  for (const f of INPUTS) if (existsSync(f)) newest = Math.max(newest, statSync(f).mtimeMs)
  return newest > built ? 'stale' : 'fresh'
}

/** Builds and writes dist/; returns the files written with their sizes in bytes. */
export async function writeSoftphoneBundle(dist = SOFTPHONE_DIST): Promise<Array<{ file: string; bytes: number }>> {
  const assets = await buildSoftphone()
  const written: Array<{ file: string; bytes: number }> = []
  for (const [path, asset] of assets) {
    if (path === '/') continue
    const file = join(dist, path)
    await mkdir(dirname(file), { recursive: true })
    await writeFile(file, asset.body)
    written.push({ file, bytes: asset.body.byteLength })
  }
  return written
}

/**
 * Builds every entry in memory: URL path -> asset (`/`, `/index.html`, `/app.js`,
 * `/admin.html`, `/admin.js`). Each entry is a bundle of its own (no shared chunks), so the
 * phone's page never loads the admin code.
 *
 * @throws Error "softphone build failed:" with the bundler's messages
 */
export async function buildSoftphone(): Promise<Map<string, BuiltAsset>> {
  const assets = new Map<string, BuiltAsset>()
  for (const e of ENTRIES) {
    const result = await Bun.build({
      entrypoints: [join(SRC, e.entry)],
      target: 'browser',
      format: 'esm',
      minify: true,
      sourcemap: 'none',
      naming: `${e.script}.[ext]`,
      define: { 'process.env.NODE_ENV': '"production"' },
    })
    if (!result.success) {
      const messages = result.logs.map((log) => String(log)).join('\n')
      throw new Error(`softphone build failed (${e.entry}):\n${messages}`)
    }
    for (const output of result.outputs) {
      const name = output.path.replace(/^\.\//, '').split('/').pop() ?? `${e.script}.js`
      assets.set(`/${name}`, {
        contentType: name.endsWith('.js') ? 'text/javascript; charset=utf-8' : output.type || 'application/octet-stream',
        body: new Uint8Array(await output.arrayBuffer()),
      })
    }
    const html = new Uint8Array(await Bun.file(join(SRC, e.page)).arrayBuffer())
    const page = { contentType: 'text/html; charset=utf-8', body: html }
    assets.set(`/${e.page.split('/').pop()}`, page)
  }
  assets.set('/', assets.get('/index.html')!)
  return assets
}

if (import.meta.main) {
  const ifStale = process.argv.includes('--if-stale')
  const state = softphoneBundleState()
  if (ifStale && state === 'fresh') process.exit(0)
  const started = performance.now()
  try {
    for (const { file, bytes } of await writeSoftphoneBundle()) console.log(`${file}  ${(bytes / 1024).toFixed(1)} kB`)
  } catch (e) {
    console.error((e as Error).message)
    process.exit(1)
  }
  console.log(`softphone built in ${Math.round(performance.now() - started)} ms${ifStale ? ` (bundle was ${state})` : ''}`)
}

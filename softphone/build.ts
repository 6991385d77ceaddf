/**
 * The softphone's build step (`bun run build`): bundles softphone/src for the browser into
 * softphone/dist/ — `index.html` (softphone/src/index.html) and `app.js` (Bun.build of
 * softphone/src/main.ts, minified, no source map). The gateway serves that folder at `/`;
 * it never builds on start.
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
 * 'missing' when dist/ lacks index.html or app.js, 'stale' when a source is newer than the
 * oldest of them, else 'fresh'.
 */
export function softphoneBundleState(dist = SOFTPHONE_DIST): 'missing' | 'stale' | 'fresh' {
  const outputs = ['index.html', 'app.js'].map((f) => join(dist, f))
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

export async function buildSoftphone(): Promise<Map<string, BuiltAsset>> {
  const result = await Bun.build({
    entrypoints: [join(SRC, 'main.ts')],
    target: 'browser',
    format: 'esm',
    minify: true,
    sourcemap: 'none',
    naming: 'app.[ext]',
    define: { 'process.env.NODE_ENV': '"production"' },
  })
  if (!result.success) {
    const messages = result.logs.map((log) => String(log)).join('\n')
    throw new Error(`softphone build failed:\n${messages}`)
  }
  const assets = new Map<string, BuiltAsset>()
  for (const output of result.outputs) {
    const name = output.path.replace(/^\.\//, '').split('/').pop() ?? 'app.js'
    assets.set(`/${name}`, {
      contentType: name.endsWith('.js') ? 'text/javascript; charset=utf-8' : output.type || 'application/octet-stream',
      body: new Uint8Array(await output.arrayBuffer()),
    })
  }
  const html = new Uint8Array(await Bun.file(join(SRC, 'index.html')).arrayBuffer())
  const page = { contentType: 'text/html; charset=utf-8', body: html }
  assets.set('/', page)
  assets.set('/index.html', page)
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

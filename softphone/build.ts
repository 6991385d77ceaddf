/**
 * Builds the softphone in memory for the gateway to serve at `/`:
 * `buildSoftphone()` -> Map of URL path -> { contentType, body }, with
 * `/` and `/index.html` (softphone/src/index.html) and `/app.js` (Bun.build of
 * softphone/src/main.ts for the browser, minified, no source map).
 *
 * Run as a script (`bun softphone/build.ts`) it writes the same files into softphone/dist/.
 * Errors: rejects with the bundler's messages when the build fails.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

export interface BuiltAsset {
  readonly contentType: string
  readonly body: Uint8Array
}

const SRC = join(import.meta.dir, 'src')

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
  const started = performance.now()
  const assets = await buildSoftphone()
  const dist = join(import.meta.dir, 'dist')
  for (const [path, asset] of assets) {
    if (path === '/') continue
    const file = join(dist, path)
    await mkdir(dirname(file), { recursive: true })
    await writeFile(file, asset.body)
    console.log(`${file}  ${(asset.body.byteLength / 1024).toFixed(1)} kB`)
  }
  console.log(`built in ${Math.round(performance.now() - started)} ms`)
}

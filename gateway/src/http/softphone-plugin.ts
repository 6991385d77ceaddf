/**
 * Serves the softphone's built files (index page, bundle) from memory at `/`. The files come
 * from the build step's output folder (`bun run build` -> softphone/dist/), read once when
 * the HTTP app is assembled. Without a build, `/` answers 503 with the command to run.
 */
import { Elysia } from 'elysia'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { extname, join } from 'node:path'

export interface StaticAsset {
  contentType: string
  body: Uint8Array
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
}

/**
 * Reads every file of a built folder: URL path (`/app.js`) -> asset. Returns null when the
 * folder or its `index.html` is missing (nothing was built).
 */
export function loadStaticAssets(dir: string): Map<string, StaticAsset> | null {
  if (!existsSync(join(dir, 'index.html'))) return null
  const assets = new Map<string, StaticAsset>()
  const walk = (sub: string): void => {
    for (const e of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? e.name : `${sub}/${e.name}`
      if (e.isDirectory()) walk(rel)
      else assets.set(`/${rel}`, { contentType: CONTENT_TYPES[extname(e.name)] ?? 'application/octet-stream', body: readFileSync(join(dir, rel)) })
    }
  }
  walk('')
  return assets
}

/**
 * Elysia plugin serving `assets` (URL path -> file). `/` serves `/index.html`. With `null`
 * (no build), `/` answers 503 and names the build command.
 */
export function softphonePlugin(assets: Map<string, StaticAsset> | null) {
  const app = new Elysia({ name: 'softphone' })
  if (assets === null) {
    return app.get('/', ({ set }) => {
      set.status = 503
      return 'The softphone is not built: run `bun run build` (or start the gateway with `npm start`).\n'
    })
  }
  const serve = (a: StaticAsset, path: string) =>
    new Response(a.body as Uint8Array<ArrayBuffer>, {
      headers: {
        'content-type': a.contentType,
        'cache-control': path === '/' || path.endsWith('.html') ? 'no-cache' : 'public, max-age=300',
        'x-content-type-options': 'nosniff',
      },
    })
  for (const [path, asset] of assets) {
    app.get(path, () => serve(asset, path))
  }
  const index = assets.get('/index.html')
  if (index && !assets.has('/')) app.get('/', () => serve(index, '/'))
  return app
}

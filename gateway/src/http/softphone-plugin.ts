/**
 * Serves the softphone's built files (index page, bundle, styles) from memory at `/`.
 */
import { Elysia } from 'elysia'

export interface StaticAsset {
  contentType: string
  body: Uint8Array
}

/** Elysia plugin serving `assets` (URL path -> file). `/` serves `/index.html`. */
export function softphonePlugin(assets: Map<string, StaticAsset>) {
  const app = new Elysia({ name: 'softphone' })
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

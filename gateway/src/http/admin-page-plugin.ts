/**
 * The operator's admin page (issue 13 item 6): `/admin` and `/admin/` serve `admin.html` of
 * the softphone build (softphone/src/admin/, bundled into softphone/dist as `admin.html` +
 * `admin.js`, which softphone-plugin.ts serves like the phone's own files). The page signs in
 * with the admin token and then calls the admin API with `Authorization: Bearer`.
 *
 *   GET /admin, /admin/       200 admin.html | 503 when the bundle was not built
 *   GET /api/admin/status     200 { adminApi: 'enabled' | 'disabled' } (no token needed: the
 *                             page says how to set `adminToken` in gateway.yaml when disabled)
 */
import { Elysia } from 'elysia'
import type { StaticAsset } from './softphone-plugin.ts'

export interface AdminPagePluginDeps {
  /** The softphone build's files (loadStaticAssets), or null when nothing was built. */
  assets: Map<string, StaticAsset> | null
  /** Whether `adminToken` is configured (gateway.yaml). */
  adminTokenConfigured: boolean
}

/** Serves the admin page and its status endpoint. */
export function adminPagePlugin(deps: AdminPagePluginDeps) {
  const page = deps.assets?.get('/admin.html')
  const serve = () => {
    if (page === undefined) {
      return new Response('The admin page is not built: run `bun run build` (or start the gateway with `npm start`).\n', {
        status: 503,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
      })
    }
    return new Response(page.body as Uint8Array<ArrayBuffer>, {
      headers: {
        'content-type': page.contentType,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        // The page holds an admin token: never inside someone else's frame.
        'x-frame-options': 'DENY',
        'referrer-policy': 'no-referrer',
      },
    })
  }
  return new Elysia({ name: 'admin-page' })
    .get('/admin', serve)
    .get('/admin/', serve)
    .get('/api/admin/status', ({ set }) => {
      set.headers['cache-control'] = 'no-store'
      return { adminApi: deps.adminTokenConfigured ? 'enabled' : 'disabled' }
    })
}

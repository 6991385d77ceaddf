/**
 * The admin API's Bearer token check (RFC 6750 §2.1), shared by every admin endpoint
 * (`/api/registrations` in api-plugin.ts, `/api/security/bans` in security-plugin.ts).
 */
import type { Context } from 'elysia'

/** Constant-time comparison of two strings (admin token check). */
export function safeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a)
  const eb = new TextEncoder().encode(b)
  if (ea.length !== eb.length) return false
  let d = 0
  for (let i = 0; i < ea.length; i++) d |= ea[i]! ^ eb[i]!
  return d === 0
}

/**
 * Checks `Authorization: Bearer <adminToken>`. Returns null when the request may go on;
 * otherwise sets 401 with `WWW-Authenticate: Bearer realm="patchbay-admin"` on `set` and
 * returns the JSON body to answer with.
 *
 * @param adminToken the configured token; undefined: the admin API is disabled (always 401)
 */
export function adminRefusal(request: Request, set: Context['set'], adminToken: string | undefined): { error: string } | null {
  const auth = request.headers.get('authorization') ?? ''
  const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : ''
  if (adminToken !== undefined && token !== '' && safeEqual(token, adminToken)) return null
  set.status = 401
  set.headers['www-authenticate'] = 'Bearer realm="patchbay-admin"'
  return { error: adminToken === undefined ? 'admin API disabled: set adminToken in gateway.yaml' : 'admin token required' }
}

/**
 * Admin API for the SIP security defences (sip/security/): list the banned sources and lift
 * a ban. Bearer `adminToken`, as /api/registrations (admin-auth.ts).
 *
 *   GET    /api/security/bans           200 { bans: [...], stats: {...} }
 *   DELETE /api/security/bans/:source   200 { source, lifted: true } | 404 | 400
 *
 * A listed ban: `{ source, reason: 'brute-force' | 'flood', username?, bannedAt, expiresAt
 * (ISO 8601), expiresIn (seconds), refused (requests refused since the ban) }`. `stats` are
 * the counters of SipSecurity.stats. Lifting a ban also forgets the source's counts, so it
 * starts afresh.
 */
import { Elysia } from 'elysia'
import { isIP } from 'node:net'
import type { BanInfo } from '../sip/security/ban-list.ts'
import type { SecurityStats } from '../sip/security/sip-security.ts'
import { adminRefusal } from './admin-auth.ts'

/** What the plugin needs of the security service (SipSecurity has it). */
export interface SecurityAdmin {
  listBans(): BanInfo[]
  lift(source: string): boolean
  readonly stats: SecurityStats
}

export interface SecurityPluginDeps {
  /** Bearer token for admin endpoints; undefined: they always answer 401. */
  adminToken: string | undefined
  security: SecurityAdmin
}

function iso(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString()
}

export function securityPlugin(deps: SecurityPluginDeps) {
  return new Elysia({ name: 'security' })
    .get('/api/security/bans', ({ request, set }) => {
      const refusal = adminRefusal(request, set, deps.adminToken)
      if (refusal !== null) return refusal
      return {
        bans: deps.security.listBans().map((b) => ({
          source: b.source,
          reason: b.reason,
          ...(b.username !== undefined ? { username: b.username } : {}),
          bannedAt: iso(b.bannedAt),
          expiresAt: iso(b.expiresAt),
          expiresIn: b.expiresIn,
          refused: b.refused,
        })),
        stats: deps.security.stats,
      }
    })
    .delete('/api/security/bans/:source', ({ request, set, params }) => {
      const refusal = adminRefusal(request, set, deps.adminToken)
      if (refusal !== null) return refusal
      let source = params.source
      if (source.includes('%')) {
        try {
          source = decodeURIComponent(source)
        } catch {
          // keep it as sent: isIP refuses it below
        }
      }
      if (isIP(source) === 0) {
        set.status = 400
        return { error: 'not an IP address', source }
      }
      if (!deps.security.lift(source)) {
        set.status = 404
        return { error: 'no active ban for this source', source }
      }
      return { source, lifted: true }
    })
}

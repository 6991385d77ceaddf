/**
 * `GET /api/trunks` (admin): every trunk of trunks.yaml with its live state — registration
 * (registered, failed with the last status, next attempt) or qualify (up with the round trip,
 * down) — and its calls now, like Asterisk's `pjsip show registrations` / Kamailio's
 * `dispatcher.list`. Thin controller over the composition root's call routing.
 */
import { Elysia } from 'elysia'
import type { TrunkStatus } from '../sip/trunks/trunk-status.ts'
import { adminRefusal } from './admin-auth.ts'

export interface TrunksPluginDeps {
  /** Bearer token for admin endpoints; undefined: they always answer 401. */
  adminToken: string | undefined
  trunkStatuses(): Array<TrunkStatus & { activeCalls: number; type: 'registration' | 'peer' }>
}

export function trunksPlugin(deps: TrunksPluginDeps) {
  return new Elysia({ name: 'trunks' })
    .get('/api/trunks', ({ request, set }) => {
      const refusal = adminRefusal(request, set, deps.adminToken)
      if (refusal !== null) return refusal
      return { trunks: deps.trunkStatuses() }
    })
}

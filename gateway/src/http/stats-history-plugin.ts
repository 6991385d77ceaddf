/**
 * `GET /api/stats/history` (admin, Bearer `adminToken` as admin-auth.ts): the in-memory
 * history of the gateway's load that the admin page charts (stats-history.ts).
 *
 *   GET /api/stats/history            200 StatsHistorySnapshot (every sample, oldest first)
 *   GET /api/stats/history?since=MS   200 only the samples taken after MS (epoch ms)
 *                                     400 { error } for a malformed `since`   401 without the token
 *
 * A snapshot: `{ intervalMs, capacity, gauges: [names], counters: [names], samples: [{ t
 * (epoch ms), values: { name: number } }] }`; a counter's value is its growth over the
 * interval (calls started in those 10 s).
 */
import { Elysia } from 'elysia'
import type { StatsHistorySnapshot } from './stats-history.ts'
import { adminRefusal } from './admin-auth.ts'

export interface StatsHistoryPluginDeps {
  /** Bearer token for admin endpoints; undefined: they always answer 401. */
  adminToken: string | undefined
  /** The history (StatsHistory has it). */
  history: { snapshot(sinceMs?: number): StatsHistorySnapshot }
}

/** The `/api/stats/history` endpoint over `deps.history`. */
export function statsHistoryPlugin(deps: StatsHistoryPluginDeps) {
  return new Elysia({ name: 'stats-history' })
    .get('/api/stats/history', ({ request, set }) => {
      const refusal = adminRefusal(request, set, deps.adminToken)
      if (refusal !== null) return refusal
      const since = new URL(request.url).searchParams.get('since')
      if (since !== null && !/^[0-9]{1,16}$/.test(since)) {
        set.status = 400
        return { error: 'invalid query parameter since: expected epoch milliseconds' }
      }
      set.headers['cache-control'] = 'no-store'
      return deps.history.snapshot(since === null ? undefined : Number(since))
    })
}

/**
 * Admin API for the dial plan's explanation (issue 13 "explain"): how a call from `from` to
 * `to` would be routed, without placing it. Bearer `adminToken` (admin-auth.ts).
 *
 *   GET /api/route/explain?from=alice&to=00442079460000
 *     200 RouteExplanation (sip/dialplan/explain.ts: { from, to, decision, targets, notes })
 *     400 { error } when from or to is missing    401 without the admin token
 *
 * `from`: username, AOR, `trunk:NAME` or `anonymous`; `to`: number, username or URI. The
 * `route` CLI (route-cli.ts --url) and the admin page render the answer with
 * formatExplanation.
 */
import { Elysia } from 'elysia'
import type { RouteExplanation } from '../sip/dialplan/explain.ts'
import { adminRefusal } from './admin-auth.ts'

export interface RoutePluginDeps {
  /** Bearer token for admin endpoints; undefined: they always answer 401. */
  adminToken: string | undefined
  /**
   * Explains with the running dial plan and live trunk states, e.g.
   * `(from, to) => explainRoute(currentDialPlan(), from, to, trunkRuntime)`.
   */
  explain(from: string, to: string): RouteExplanation
}

/**
 * The `/api/route/explain` endpoint over `deps` (mount it with `.use(routePlugin(...))`).
 * Answers 200 with `deps.explain(from, to)` as JSON, 400 `{ error }` for a missing or blank
 * parameter, 401 (WWW-Authenticate: Bearer) without the admin token.
 */
export function routePlugin(deps: RoutePluginDeps) {
  return new Elysia({ name: 'route' })
    .get('/api/route/explain', ({ request, set, query }) => {
      const refusal = adminRefusal(request, set, deps.adminToken)
      if (refusal !== null) return refusal
      const from = typeof query.from === 'string' ? query.from.trim() : ''
      const to = typeof query.to === 'string' ? query.to.trim() : ''
      if (from === '' || to === '') {
        set.status = 400
        return { error: 'give from (username, AOR, trunk:NAME or anonymous) and to (number or URI)' }
      }
      return deps.explain(from, to)
    })
}

/**
 * The gateway's REST API: health, registrations (admin), the softphone's client config, and
 * Prometheus metrics. Thin controllers over values the composition root passes in.
 */
import { Elysia } from 'elysia'
import type { Binding } from '../sip/registrar/binding.ts'
import { adminRefusal } from './admin-auth.ts'

export interface ApiDeps {
  domain: string
  /** Bearer token for admin endpoints; undefined: admin endpoints always answer 401. */
  adminToken: string | undefined
  startedAt: number
  bindings(): Binding[]
  /** The /metrics exposition (Prometheus text format) and its content type. */
  metrics: { text(): Promise<string>; readonly contentType: string }
  /** `/json` when JSON signaling is served, else null (client config). */
  jsonWebSocketPath: string | null
}

export function apiPlugin(deps: ApiDeps) {
  return new Elysia({ name: 'api' })
    .get('/api/health', () => ({
      status: 'ok',
      domain: deps.domain,
      uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
    }))
    .get('/api/client-config', () => ({
      domain: deps.domain,
      sipWebSocketPath: '/sip',
      /** JSON signaling (docs/json-signaling.md); null when jsonSignaling.enabled is false. */
      jsonWebSocketPath: deps.jsonWebSocketPath,
      iceServersPath: '/api/ice-servers',
    }))
    .get('/api/registrations', ({ request, set }) => {
      const refusal = adminRefusal(request, set, deps.adminToken)
      if (refusal !== null) return refusal
      const now = Math.floor(Date.now() / 1000)
      return {
        registrations: deps.bindings().map((b) => ({
          aor: b.aor,
          contact: b.contact,
          expiresIn: Math.max(0, b.expiresAt - now),
          q: b.q,
          transport: b.transport,
          source: `${b.sourceAddress}:${b.sourcePort}`,
          instanceId: b.instanceId,
          regId: b.regId,
          userAgent: b.userAgent,
          registeredAt: new Date(b.registeredAt * 1000).toISOString(),
        })),
      }
    })
    .get('/metrics', async ({ set }) => {
      set.headers['content-type'] = deps.metrics.contentType
      return await deps.metrics.text()
    })
}

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
  /**
   * This process's node id when the location service is shared (a worker's `w0`, a Redis
   * node's id), reported as the `node` of its own registrations; null: a single gateway.
   */
  nodeId?: string | null
  /** The /metrics exposition (Prometheus text format) and its content type. */
  metrics: { text(): Promise<string>; json(): Promise<unknown[]>; readonly contentType: string }
  /** `/json` when JSON signaling is served, else null (client config). */
  jsonWebSocketPath: string | null
  /**
   * `http.webSocketUrls`: every node's SIP-over-WebSocket URL in the order softphones try them
   * (issue 14 failover); absent: only this node's own `/sip`.
   */
  webSocketUrls?: readonly string[]
}

/**
 * The node lists of `GET /api/client-config`: `sipWebSocketUrls` as configured
 * (http.webSocketUrls) and `jsonWebSocketUrls`, the same URLs with the JSON path (absent when
 * JSON is off). Nothing when not configured: the softphone then uses `sipWebSocketPath` on
 * the origin it loaded the config from (right behind a TLS-terminating proxy too, where this
 * node would not know its public wss: URL).
 */
export function clientWebSocketUrls(
  configured: readonly string[] | undefined, jsonPath: string | null,
): { sipWebSocketUrls?: string[]; jsonWebSocketUrls?: string[] } {
  if (!configured || configured.length === 0) return {}
  const sip = [...configured]
  if (jsonPath === null) return { sipWebSocketUrls: sip }
  return {
    sipWebSocketUrls: sip,
    jsonWebSocketUrls: sip.map((u) => {
      const url = new URL(u)
      url.pathname = jsonPath
      url.search = ''
      return url.toString()
    }),
  }
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
      /** Every node's WebSocket URLs, in failover order (http.webSocketUrls); absent when not configured. */
      ...clientWebSocketUrls(deps.webSocketUrls, deps.jsonWebSocketPath),
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
          /** The worker or node holding the registration's connection (null: a single gateway). */
          node: b.node ?? deps.nodeId ?? null,
        })),
      }
    })
    .get('/metrics', async ({ set, query }) => {
      // prom-client's JSON, which the workers of one gateway are aggregated from (cluster/admin-fan-out.ts).
      if (query.format === 'json') return await deps.metrics.json()
      set.headers['content-type'] = deps.metrics.contentType
      return await deps.metrics.text()
    })
}

/**
 * The gateway's HTTP application, assembled from its plugins (the only folder that imports
 * elysia): the SIP WebSocket endpoint (RFC 7118), JSON signaling (`/json`), the REST API and /metrics, the ICE server
 * list, the softphone's files and the operator's admin page (`/admin`, with its load history). Assembling it binds nothing: the composition root
 * (main.ts) listens.
 */
import { Elysia } from 'elysia'
import type { GatewayConfig } from '../config/schema.ts'
import type { UserDirectory } from '../base/user-directory.ts'
import type { Binding } from '../sip/registrar/binding.ts'
import type { TransportLayer } from '../sip/transport/transport-layer.ts'
import { verifyPassword } from '../sip/auth/verify-password.ts'
import { apiPlugin } from './api-plugin.ts'
import { securityPlugin, type SecurityAdmin } from './security-plugin.ts'
import { iceServersPlugin } from './ice-servers-plugin.ts'
import { sipWebSocketPlugin } from './sip-websocket-plugin.ts'
import { jsonWebSocketPlugin } from './json-websocket-plugin.ts'
import type { JsonSignalingService } from '../signaling-json/json-signaling-service.ts'
import { softphonePlugin, type StaticAsset } from './softphone-plugin.ts'
import { cdrPlugin, type CdrPluginDeps } from './cdr-plugin.ts'
import { routePlugin, type RoutePluginDeps } from './route-plugin.ts'
import { trunksPlugin, type TrunksPluginDeps } from './trunks-plugin.ts'
import { statsHistoryPlugin, type StatsHistoryPluginDeps } from './stats-history-plugin.ts'
import { adminPagePlugin } from './admin-page-plugin.ts'

export interface HttpAppDeps {
  config: GatewayConfig
  users: UserDirectory
  transport: TransportLayer
  /** JSON signaling at /json; null: not served. */
  jsonSignaling: JsonSignalingService | null
  /** Current bindings, for GET /api/registrations. */
  bindings(): Binding[]
  /** This process's node id in a shared location service (worker or Redis node), else null. */
  nodeId?: string | null
  /** Bans and security counters, for /api/security/bans. */
  security: SecurityAdmin
  /** The /metrics exposition (gateway-metrics.ts). */
  metrics: { text(): Promise<string>; json(): Promise<unknown[]>; readonly contentType: string }
  /** The STUN service's bound port, once it listens. */
  stunPort(): number | undefined
  /** The HTTP server's bound port, once it listens (our WS sent-by). */
  httpPort(): number
  /** The softphone's built files, or null when nothing was built. */
  softphone: Map<string, StaticAsset> | null
  /** Milliseconds since the UNIX epoch, for uptime. */
  startedAt: number
  /** Call records and active calls (GET /api/cdrs, /api/calls); null when cdr.enabled is false. */
  cdr: { reader: CdrPluginDeps['cdrs']; calls: CdrPluginDeps['calls']; hangUp: CdrPluginDeps['hangUp'] } | null
  /** Dial plan explain and trunk states (GET /api/route/explain, /api/trunks). */
  routing: Pick<RoutePluginDeps, 'explain'> & Pick<TrunksPluginDeps, 'trunkStatuses'>
  /**
   * A worker's admin fan-out (cluster/admin-fan-out.ts): null for a request answered here, else
   * the merged answer of every worker. Absent in a single process.
   */
  fanOut?: (request: Request) => Promise<Response> | null
  /** The load history the admin page charts (stats-history.ts, GET /api/stats/history); absent: not served. */
  statsHistory?: StatsHistoryPluginDeps['history']
}

/** The HTTP app with every endpoint of the gateway; call `.listen()` on it to serve. */
export function createHttpApp(deps: HttpAppDeps) {
  const { config, users } = deps
  const secure = config.http.tls !== undefined
  const fanOut = deps.fanOut
  const app = new Elysia()
  // A worker, before any route: endpoints whose state is each worker's own are answered by all
  // of them. A single process registers no hook (every request and WebSocket upgrade passes it).
  return (fanOut === undefined ? app : app.onRequest(({ request }) => fanOut(request) ?? undefined))
    .use(apiPlugin({
      domain: config.domain,
      adminToken: config.adminToken,
      startedAt: deps.startedAt,
      bindings: deps.bindings,
      nodeId: deps.nodeId ?? null,
      metrics: deps.metrics,
      jsonWebSocketPath: deps.jsonSignaling ? '/json' : null,
      webSocketUrls: config.http.webSocketUrls,
    }))
    .use(securityPlugin({ adminToken: config.adminToken, security: deps.security }))
    .use(sipWebSocketPlugin({ transport: deps.transport, secure, localAddress: config.http.host, localPort: deps.httpPort }))
    .use(deps.jsonSignaling ? jsonWebSocketPlugin({ service: deps.jsonSignaling, secure }) : new Elysia({ name: 'json-websocket-off' }))
    .use(iceServersPlugin({
      config,
      authenticate: (username, password) => verifyPassword(users.get(username), config.realm, password),
      stunPort: deps.stunPort,
    }))
    .use(deps.cdr ? cdrPlugin({ adminToken: config.adminToken, cdrs: deps.cdr.reader, calls: deps.cdr.calls, hangUp: deps.cdr.hangUp }) : new Elysia({ name: 'cdr-off' }))
    .use(routePlugin({ adminToken: config.adminToken, explain: (from, to) => deps.routing.explain(from, to) }))
    .use(trunksPlugin({ adminToken: config.adminToken, trunkStatuses: () => deps.routing.trunkStatuses() }))
    .use(deps.statsHistory ? statsHistoryPlugin({ adminToken: config.adminToken, history: deps.statsHistory }) : new Elysia({ name: 'stats-history-off' }))
    .use(adminPagePlugin({ assets: deps.softphone, adminTokenConfigured: config.adminToken !== undefined }))
    .use(softphonePlugin(deps.softphone))
}

/**
 * What `/metrics` exposes, in the Prometheus text format (prom-client renders it: `# HELP`
 * and `# TYPE` lines, counters, gauges and histograms). One registry per gateway, so that
 * several gateways in one process (tests) keep their own numbers.
 *
 * Counters and gauges are read from the live layers at scrape time (`collect`); the two
 * histograms are fed as things happen, through `observeCallSetup` and
 * `observeTransaction`, which createGateway hands to the layers.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { TransportLayer } from './sip/transport/transport-layer.ts'
import type { TransactionLayer } from './sip/transaction/transaction-layer.ts'
import type { StatefulProxy } from './sip/proxy/stateful-proxy.ts'
import type { AnchoredCalls } from './sip/proxy/anchored-calls.ts'
import type { LocationService } from './sip/registrar/location-service.ts'
import type { MediaDriver } from './media/media-driver.ts'
import type { StunBindingService } from './ice/stun-binding-service.ts'
import type { SipSecurity } from './sip/security/sip-security.ts'
import type { JsonSignalingService } from './signaling-json/json-signaling-service.ts'

/** The layers the metrics are read from (a Gateway has them all). */
export interface MetricSources {
  transport: TransportLayer
  transactions: TransactionLayer
  proxy: StatefulProxy
  anchoredCalls: AnchoredCalls | null
  location: LocationService
  media: MediaDriver | null
  stun: StunBindingService | null
  security: SipSecurity
  /** JSON signaling (`/json`); null when it is off. */
  jsonSignaling: JsonSignalingService | null
}

/** The gateway's metrics: render with `text()`, feed the histograms with the observe methods. */
export interface GatewayMetrics {
  /** The exposition text (`text/plain; version=0.0.4`). */
  text(): Promise<string>
  /** prom-client's JSON form (`getMetricsAsJSON`), which workers' metrics are aggregated from. */
  json(): Promise<unknown[]>
  readonly contentType: string
  /** An INVITE's setup time, seconds from its arrival to the first final response sent upstream. */
  observeCallSetup(seconds: number): void
  /** A transaction's lifetime, seconds from its creation to Terminated (one in 16 is reported). */
  observeTransaction(seconds: number): void
}


const PREFIX = 'patchbay_'

/**
 * A counter whose value lives in a layer (a plain number): set at scrape time. Counters only
 * grow there, so the exposition stays monotonic.
 */
function counterFrom(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name: PREFIX + name, help, registers: [registry],
    collect() {
      this.reset()
      this.inc(read())
    },
  })
}

/**
 * A gauge read from a layer at scrape time. `aggregator`: how the workers of one gateway are
 * combined (cluster/admin-fan-out.ts): `sum` for each worker's own state, `max` for state
 * every worker holds a copy of (the shared location service).
 */
function gaugeFrom(registry: Registry, name: string, help: string, read: () => number, aggregator: 'sum' | 'max' = 'sum'): void {
  new Gauge({ name: PREFIX + name, help, registers: [registry], aggregator, collect() { this.set(read()) } })
}

/** Builds the registry over `g`'s layers. */
export function createGatewayMetrics(g: MetricSources): GatewayMetrics {
  const r = new Registry()
  const t = g.transport.stats
  counterFrom(r, 'sip_messages_received_total', 'SIP messages received on every transport (parsed or not).', () => t.received)
  counterFrom(r, 'sip_messages_sent_total', 'SIP messages sent.', () => t.sent)
  counterFrom(r, 'sip_parse_errors_total', 'Received messages that failed to parse (RFC 3261 §7).', () => t.parseErrors)
  counterFrom(r, 'sip_stateless_400_total', 'Malformed requests answered statelessly (400 or the parser\'s status).', () => t.stateless400)
  new Counter({
    name: PREFIX + 'sip_send_errors_total',
    help: 'Messages that could not be sent, by cause (econnrefused: an ICMP port-unreachable; no-flow; closed-connection; unreachable; other).',
    labelNames: ['cause'], registers: [r],
    collect() {
      this.reset()
      for (const [cause, n] of Object.entries(t.sendErrorsByCause)) this.inc({ cause }, n)
    },
  })
  counterFrom(r, 'sip_udp_send_retries_total', 'UDP datagrams sent again after another peer\'s pending ICMP error stopped their batch (not lost).', () => t.sendRetries)
  counterFrom(r, 'stun_requests_received_total', 'STUN binding requests received (RFC 8489).', () => g.stun?.stats.received ?? 0)

  new Gauge({
    name: PREFIX + 'sip_transactions', help: 'Live SIP transactions by kind (RFC 3261 §17).', labelNames: ['kind'], registers: [r],
    collect() {
      const c = g.transactions.transactionCounts
      this.set({ kind: 'invite_client' }, c.inviteClient)
      this.set({ kind: 'non_invite_client' }, c.nonInviteClient)
      this.set({ kind: 'invite_server' }, c.inviteServer)
      this.set({ kind: 'non_invite_server' }, c.nonInviteServer)
    },
  })
  counterFrom(r, 'sip_auth_failures_total', 'Failed digest attempts: wrong response or unknown user (RFC 3261 §22).', () => g.security.stats.authFailures)
  new Counter({
    name: PREFIX + 'sip_bans_total', help: 'Source addresses banned since start, by reason (brute force: failed digests; flood: request rate).',
    labelNames: ['reason'], registers: [r],
    collect() {
      const s = g.security.stats
      this.reset()
      this.inc({ reason: 'brute_force' }, s.bruteForceBans)
      this.inc({ reason: 'flood' }, s.floodBans)
    },
  })
  new Counter({
    name: PREFIX + 'sip_requests_refused_total', help: 'Requests refused by the defences: from a banned source (dropped or 403), or 503 at the transaction cap.',
    labelNames: ['reason'], registers: [r],
    collect() {
      const s = g.security.stats
      this.reset()
      this.inc({ reason: 'banned' }, s.refusedWhileBanned)
      this.inc({ reason: 'overload' }, s.overloadRejected)
    },
  })
  gaugeFrom(r, 'sip_bans_active', 'Source addresses banned now.', () => g.security.stats.bansActive)
  gaugeFrom(r, 'sip_proxy_pending_invites', 'Calls being set up: INVITEs forwarded and not answered yet.', () => g.proxy.pendingInvites)
  gaugeFrom(r, 'sip_registrar_bindings', 'Registered contacts (bindings) in the location service.', () => g.location.size, 'max')
  gaugeFrom(r, 'media_sessions', 'Relay sessions open in the media driver.', () => g.media?.activeSessions ?? 0)
  gaugeFrom(r, 'media_anchored_dialogs', 'Established calls whose media the gateway anchors (dialogs it tracks).', () => g.anchoredCalls?.size ?? 0)
  gaugeFrom(r, 'json_sessions', 'JSON signaling sessions alive (attached, or waiting for an attach after their WebSocket closed).', () => g.jsonSignaling?.sessionCount ?? 0)
  counterFrom(r, 'json_logins_total', 'JSON signaling logins that succeeded.', () => g.jsonSignaling?.stats.logins ?? 0)
  counterFrom(r, 'json_login_failures_total', 'JSON signaling logins refused (wrong username or proof).', () => g.jsonSignaling?.stats.loginFailures ?? 0)
  counterFrom(r, 'json_attaches_total', 'JSON sessions taken over by a new WebSocket (page reloads).', () => g.jsonSignaling?.stats.attaches ?? 0)
  counterFrom(r, 'json_refused_frames_total', 'JSON frames refused: malformed, unknown, invalid field, too large or over the frame rate.', () => g.jsonSignaling?.stats.refusedFrames ?? 0)

  const callSetup = new Histogram({
    name: PREFIX + 'sip_call_setup_seconds',
    help: 'INVITE setup time: from the INVITE\'s arrival to its first final response forwarded upstream (any status).',
    registers: [r],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  })
  const txDuration = new Histogram({
    name: PREFIX + 'sip_transaction_duration_seconds',
    help: 'SIP transaction lifetime from creation to Terminated (RFC 3261 §17), every kind; one transaction in 16 is sampled.',
    registers: [r],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 32, 64],
  })
  return {
    text: () => r.metrics(),
    json: () => r.getMetricsAsJSON() as Promise<unknown[]>,
    contentType: r.contentType,
    observeCallSetup: (seconds) => callSetup.observe(seconds),
    observeTransaction: (seconds) => txDuration.observe(seconds),
  }
}

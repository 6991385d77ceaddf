/**
 * The numbers `/metrics` exposes (Prometheus text format, prefixed `patchbay_` by the API
 * plugin), read from the live layers of one gateway: name (with labels) -> value.
 */
import type { TransportLayer } from './sip/transport/transport-layer.ts'
import type { TransactionLayer } from './sip/transaction/transaction-layer.ts'
import type { StatefulProxy } from './sip/proxy/stateful-proxy.ts'
import type { AnchoredCalls } from './sip/proxy/anchored-calls.ts'
import type { LocationService } from './sip/registrar/location-service.ts'
import type { MediaDriver } from './media/media-driver.ts'
import type { StunBindingService } from './ice/stun-binding-service.ts'

/** The layers the metrics are read from (a Gateway has them all). */
export interface MetricSources {
  transport: TransportLayer
  transactions: TransactionLayer
  proxy: StatefulProxy
  anchoredCalls: AnchoredCalls | null
  location: LocationService
  media: MediaDriver | null
  stun: StunBindingService | null
}

export function gatewayMetrics(g: MetricSources): Record<string, number> {
  const c = g.transactions.transactionCounts
  const t = g.transport.stats
  return {
    sip_messages_received_total: t.received,
    sip_messages_sent_total: t.sent,
    sip_parse_errors_total: t.parseErrors,
    sip_stateless_400_total: t.stateless400,
    sip_send_errors_total: t.sendErrors,
    'sip_transactions{kind="invite_client"}': c.inviteClient,
    'sip_transactions{kind="non_invite_client"}': c.nonInviteClient,
    'sip_transactions{kind="invite_server"}': c.inviteServer,
    'sip_transactions{kind="non_invite_server"}': c.nonInviteServer,
    sip_proxy_pending_invites: g.proxy.pendingInvites,
    sip_registrar_bindings: g.location.size,
    media_sessions: g.media?.activeSessions ?? 0,
    media_anchored_dialogs: g.anchoredCalls?.size ?? 0,
    stun_requests_received_total: g.stun?.stats.received ?? 0,
  }
}

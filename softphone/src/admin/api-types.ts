/**
 * The admin API's JSON shapes as the admin page reads them (the gateway's http/ plugins
 * answer them: api-plugin.ts, cdr-plugin.ts, trunks-plugin.ts, route-plugin.ts,
 * security-plugin.ts, stats-history-plugin.ts). Declared here because the softphone bundle
 * never imports gateway code; times are ISO 8601 strings unless named `…At` in Unix seconds.
 */

/** `GET /api/admin/status` */
export interface AdminStatus {
  adminApi: 'enabled' | 'disabled'
}

/** `GET /api/health` */
export interface Health {
  status: string
  domain: string
  uptimeSeconds: number
}

/** One contact of `GET /api/registrations`. */
export interface Registration {
  aor: string
  contact: string
  /** Seconds left. */
  expiresIn: number
  q: number | null
  transport: string
  /** `address:port` the REGISTER came from. */
  source: string
  instanceId: string | null
  regId: number | null
  userAgent: string | null
  registeredAt: string
}

/** One call of `GET /api/calls`. */
export interface ActiveCall {
  /** An id for `DELETE /api/calls/:callId` if the gateway gives one; else the Call-ID is used. */
  id?: string
  callId: string
  fromTag: string
  caller: string
  callerUser: string | null
  callee: string
  routed: string[]
  direction: CallDirection
  trunk: string | null
  since: string
  answered: boolean
  answeredAt: string | null
}

export type CallDirection = 'internal' | 'outbound' | 'inbound' | 'transit'

/** One record of `GET /api/cdrs`. */
export interface CallRecord {
  id: number
  callId: string
  start: string
  answer: string | null
  end: string
  durationS: number
  ringS: number
  caller: string
  callerUser: string | null
  dialed: string
  routed: string | null
  direction: CallDirection
  trunk: string | null
  rule: string | null
  status: number
  reason: string
  endedBy: string
  mediaPath: string | null
  codec: string | null
}

export interface CallRecordPage {
  total: number
  limit: number
  offset: number
  nextCursor: string | null
  cdrs: CallRecord[]
}

export type TrunkState = 'unknown' | 'up' | 'down' | 'unregistered' | 'registering' | 'registered' | 'failed'

/** One trunk of `GET /api/trunks`. */
export interface TrunkStatus {
  name: string
  type: 'registration' | 'peer'
  state: TrunkState
  detail: string
  /** Unix seconds. */
  since: number
  lastStatus?: number
  rttMs?: number
  /** Unix seconds. */
  nextAttemptAt?: number
  /** Unix seconds. */
  expiresAt?: number
  activeCalls: number
}

/** `GET /api/route/explain` (gateway sip/dialplan/explain.ts, route-decision.ts). */
export interface RouteExplanation {
  from: string
  to: string
  decision: RouteDecision
  targets: Array<{ kind: 'user' | 'trunk'; name: string; state?: string; detail?: string }>
  notes: string[]
}

export type Caller = { kind: 'user'; username: string } | { kind: 'trunk'; trunk: string } | { kind: 'anonymous' }

export interface TraceStep {
  kind: 'outbound' | 'inbound' | 'local-user'
  name: string
  index: number
  matched: boolean
  reasons: string[]
}

export interface RouteDecision {
  outcome: 'route' | 'forbidden' | 'not-found'
  status: 403 | 404 | null
  reason: string
  caller: Caller
  dialed: string
  number: string
  rewritten: string | null
  rewriteSteps: Array<{ step: string; from: string; to: string; detail: string }>
  rule: { kind: TraceStep['kind']; name: string; index: number; reasons: string[] } | null
  target:
    | { kind: 'user'; user: string }
    | { kind: 'ring-group'; group: string; strategy: 'parallel' | 'sequential'; members: string[]; ringSeconds: number }
    | { kind: 'trunks'; trunks: string[] }
    | null
  permission: { callerClass: string | null; requiredClass: string | null; allowed: boolean; reason: string } | null
  trace: TraceStep[]
}

/** One ban of `GET /api/security/bans`. */
export interface Ban {
  source: string
  reason: 'brute-force' | 'flood'
  username?: string
  bannedAt: string
  expiresAt: string
  expiresIn: number
  refused: number
}

/** `GET /api/stats/history` */
export interface StatsHistory {
  intervalMs: number
  capacity: number
  gauges: string[]
  counters: string[]
  samples: Array<{ t: number; values: Record<string, number> }>
}

/**
 * "Explain" a route without placing a call (`bun run route -- explain <from> <to>`,
 * `GET /api/route/explain`): the dial plan's decision plus the current state of each target
 * trunk, from a TrunkStatusSource the trunk runtime implements.
 */
import { parseUri, unescapeUriComponent } from '../syntax/uri.ts'
import type { DialPlan } from './dial-plan.ts'
import type { Caller, RouteDecision } from './route-decision.ts'

/** State of a trunk as the runtime sees it (registration and qualify). */
export type TrunkState = 'registered' | 'unregistered' | 'failed' | 'up' | 'down' | 'unknown'

export interface TrunkStatus {
  state: TrunkState
  /** Free text: `expires in 512 s`, `401 after 3 attempts, next in 60 s`, `OPTIONS 200 in 12 ms`. */
  detail: string
}

/** What explain asks of the trunk runtime (sip/trunks implements it). */
export interface TrunkStatusSource {
  /** Current state of the trunk `name`; `unknown` when the runtime does not know it. */
  status(name: string): TrunkStatus
}

/** The status source used offline (no running gateway asked). */
export const OFFLINE_TRUNK_STATUS: TrunkStatusSource = {
  status: () => ({ state: 'unknown', detail: 'no gateway asked' }),
}

/** One target in failover / hunt order, with its state when it is a trunk. */
export interface ExplainedTarget {
  kind: 'user' | 'trunk'
  name: string
  /** Trunks only. */
  state?: TrunkState
  detail?: string
}

export interface RouteExplanation {
  /** As given. */
  from: string
  to: string
  decision: RouteDecision
  /** Users (user target, ring group members) or trunks, in order. */
  targets: ExplainedTarget[]
  /** Remarks: how `from` was read, every trunk down, ... */
  notes: string[]
}

/**
 * Reads `from`: `trunk:NAME` -> the trunk; `anonymous` -> anonymous; a username, `user@host`
 * or a SIP AOR (`sip:alice@patchbay.test`) -> that user when local (assumed authenticated),
 * else anonymous (with a note).
 */
export function parseCaller(from: string, plan: DialPlan): { caller: Caller; note: string | null } {
  const f = from.trim()
  if (f.startsWith('trunk:')) return { caller: { kind: 'trunk', trunk: f.slice(6) }, note: null }
  if (f === 'anonymous' || f === '') return { caller: { kind: 'anonymous' }, note: null }
  const user = userPart(f)
  if (user !== null && plan.isUser(user)) return { caller: { kind: 'user', username: user }, note: null }
  return { caller: { kind: 'anonymous' }, note: `${f} is not a local user: explained as an anonymous (unauthenticated) caller` }
}

/**
 * Reads `to`: a number or username as dialed, `user@host`, or a sip:/sips:/tel: URI (its
 * user part). Spaces typed in a number (`030 1234 567`) are removed (a URI has none).
 */
export function parseDialed(to: string): string {
  const t = to.trim()
  const user = userPart(t) ?? t
  return /^[+0-9*#().\- ]+$/.test(user) ? user.replace(/ +/g, '') : user
}

function userPart(s: string): string | null {
  if (/^(sips?|tel):/i.test(s)) {
    const u = parseUri(s)
    if (u === null || u.user === null) return null
    return unescapeUriComponent(u.user)
  }
  const at = s.lastIndexOf('@')
  return at > 0 ? s.slice(0, at) : s
}

/**
 * Explains the route from `from` to `to` (see parseCaller, parseDialed).
 * @param status current trunk states; OFFLINE_TRUNK_STATUS when no gateway is running.
 */
export function explainRoute(plan: DialPlan, from: string, to: string, status: TrunkStatusSource = OFFLINE_TRUNK_STATUS): RouteExplanation {
  const { caller, note } = parseCaller(from, plan)
  const decision = plan.route({ caller, dialed: parseDialed(to) })
  const notes: string[] = note === null ? [] : [note]
  if (caller.kind === 'trunk') {
    const trunk = plan.trunk(caller.trunk)
    if (trunk?.trusted === true && decision.rule?.kind !== 'inbound') {
      notes.push(`trunk ${trunk.name} is trusted: no DID rule matched, so the call transits with class ${trunk.class ?? plan.def.defaultClass}`)
    }
  }
  const targets: ExplainedTarget[] = []
  const t = decision.target
  if (t?.kind === 'user') targets.push({ kind: 'user', name: t.user })
  else if (t?.kind === 'ring-group') for (const m of t.members) targets.push({ kind: 'user', name: m })
  else if (t?.kind === 'trunks') {
    for (const name of t.trunks) {
      const s = status.status(name)
      targets.push({ kind: 'trunk', name, state: s.state, detail: s.detail })
    }
    if (targets.every((x) => x.state === 'down' || x.state === 'failed' || x.state === 'unregistered')) {
      notes.push('every target trunk is down: the call would fail (503)')
    }
  }
  return { from, to, decision, targets, notes }
}

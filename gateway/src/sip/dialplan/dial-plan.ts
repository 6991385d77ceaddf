/**
 * The routing decision: `new DialPlan(def).route({ caller, dialed })` -> RouteDecision.
 * Pure: no SIP sending, no state, no clock; the same input gives the same decision.
 *
 * Order (first match decides; the trace lists every rule tried):
 * - caller `trunk` (inbound): the trunk's DID rules in order (a DID reaches a user or a
 *   ring group; no class check). No DID matches: an untrusted trunk gets 404; a trusted
 *   trunk transits through the steps below with the trunk's class.
 * - caller `user`, `anonymous`, or a trusted trunk in transit: a local username dialed
 *   exactly reaches that user (no rule, like the location service today); else the
 *   outbound rules in order. A matching rule whose class is above the caller's gives 403
 *   (later rules are not tried: a premium-rate rule protects its numbers). No rule: 404.
 * - Permissions: classes are ordered lowest first; a user's class is `userClasses[user]`
 *   or `defaultClass`. Only an authenticated user whose class reaches the rule's class, or
 *   a trusted trunk, ever gets a trunk target; anonymous callers never do, and reach local
 *   targets (users, ring groups) only through rules of the lowest class.
 */
import type { DialPlanDefinition, InboundRuleDefinition, OutboundRuleDefinition, RingGroupDefinition, TargetDefinition, TrunkPolicy } from './dialplan-definition.ts'
import { NumberMatcher, anchoredRegExp } from './number-match.ts'
import { cleanDialed, rewriteNumber } from './number-rewrite.ts'
import type { Caller, MatchedRule, PermissionCheck, RouteDecision, RouteRequest, RouteTarget, TraceStep } from './route-decision.ts'

interface CompiledOutbound {
  def: OutboundRuleDefinition
  index: number
  matcher: NumberMatcher
  rank: number
}

interface CompiledInbound {
  def: InboundRuleDefinition
  index: number
  /** The DIDs as matched (visual separators removed, like the dialed number). */
  dids: Set<string>
  regex: RegExp | null
}

/** A compiled dial plan. Build one per configuration (cheap); `route` never throws. */
export class DialPlan {
  private readonly classRank = new Map<string, number>()
  private readonly outbound: CompiledOutbound[]
  private readonly inboundByTrunk = new Map<string, CompiledInbound[]>()
  private readonly groups = new Map<string, RingGroupDefinition>()
  private readonly trunks = new Map<string, TrunkPolicy>()
  private readonly users: Set<string>

  /**
   * @throws SyntaxError for a bad pattern, TypeError for a class, ring group or numbering plan
   *   the definition names but lacks (config/ validates all of these first, with file:line).
   */
  constructor(readonly def: DialPlanDefinition) {
    if (def.classes.length === 0) throw new TypeError('the dial plan needs at least one calling class')
    def.classes.forEach((c, i) => this.classRank.set(c, i))
    this.rankOf(def.defaultClass)
    for (const g of def.ringGroups) this.groups.set(g.name, g)
    for (const t of def.trunks) this.trunks.set(t.name, t)
    this.users = new Set(def.users)
    this.outbound = def.outbound.map((r, index) => {
      if (r.rewrite.e164 && def.numbering === undefined) throw new TypeError(`rule ${r.name}: E.164 needs a numbering plan`)
      if (r.target.kind === 'ring-group') this.group(r.target.group)
      return { def: r, index, matcher: new NumberMatcher(r.match), rank: this.rankOf(r.class) }
    })
    def.inbound.forEach((r, index) => {
      if (r.target.kind === 'ring-group') this.group(r.target.group)
      const list = this.inboundByTrunk.get(r.trunk) ?? []
      list.push({ def: r, index, dids: new Set(r.dids.map(cleanDialed)), regex: r.pattern === undefined ? null : anchoredRegExp(r.pattern) })
      this.inboundByTrunk.set(r.trunk, list)
    })
  }

  /** The class of a local user (`userClasses` or `defaultClass`). */
  classOf(username: string): string {
    return this.def.userClasses[username] ?? this.def.defaultClass
  }

  /** True when `name` is a local user of the definition. */
  isUser(name: string): boolean {
    return this.users.has(name)
  }

  /** The trunk policy by name, or undefined. */
  trunk(name: string): TrunkPolicy | undefined {
    return this.trunks.get(name)
  }

  /** Decides where a call goes. See the module comment for the order. Never throws. */
  route(req: RouteRequest): RouteDecision {
    const number = cleanDialed(req.dialed)
    const trace: TraceStep[] = []
    const base = { caller: req.caller, dialed: req.dialed, number, trace }
    const caller = req.caller

    let callerClass: string | null = null
    if (caller.kind === 'trunk') {
      const trunk = this.trunks.get(caller.trunk)
      if (trunk === undefined) {
        return { ...base, ...refusal('not-found', `unknown trunk ${caller.trunk}`) }
      }
      for (const r of this.inboundByTrunk.get(trunk.name) ?? []) {
        const why = inboundTest(r, number)
        const step: TraceStep = { kind: 'inbound', name: r.def.name, index: r.index, matched: why.matched, reasons: why.reasons }
        trace.push(step)
        if (!why.matched) continue
        const permission: PermissionCheck = { callerClass: null, requiredClass: null, allowed: true, reason: `DID rule of trunk ${trunk.name}` }
        return {
          ...base, outcome: 'route', status: null,
          reason: `DID ${number} on trunk ${trunk.name} -> ${describeTarget(r.def.target)}`,
          rewritten: number, rewriteSteps: [], rule: ruleOf(step), target: this.target(r.def.target), permission,
        }
      }
      if (!trunk.trusted) {
        return { ...base, ...refusal('not-found', `no DID rule of trunk ${trunk.name} matches ${number} (an untrusted trunk reaches DIDs only)`) }
      }
      callerClass = trunk.class ?? this.def.defaultClass
    } else if (caller.kind === 'user') {
      callerClass = this.classOf(caller.username)
    }

    if (this.users.has(number)) {
      const step: TraceStep = { kind: 'local-user', name: number, index: -1, matched: true, reasons: ['a local username, dialed directly'] }
      trace.push(step)
      return {
        ...base, outcome: 'route', status: null, reason: `local user ${number}`,
        rewritten: number, rewriteSteps: [], rule: ruleOf(step), target: { kind: 'user', user: number },
        permission: { callerClass, requiredClass: null, allowed: true, reason: 'local users are reachable by everyone' },
      }
    }

    for (const r of this.outbound) {
      const m = r.matcher.test(number)
      const step: TraceStep = { kind: 'outbound', name: r.def.name, index: r.index, matched: m.matched, reasons: m.reasons }
      trace.push(step)
      if (!m.matched) continue
      const permission = this.permission(caller, callerClass, r)
      const rw = rewriteNumber(number, r.def.rewrite, this.def.numbering)
      const common = { ...base, rewritten: rw.number, rewriteSteps: rw.steps, rule: ruleOf(step), permission }
      if (!permission.allowed) {
        return { ...common, outcome: 'forbidden', status: 403, reason: `rule ${r.def.name}: ${permission.reason}`, target: null }
      }
      return { ...common, outcome: 'route', status: null, reason: `rule ${r.def.name} -> ${describeTarget(r.def.target)}`, target: this.target(r.def.target) }
    }
    const reason = this.outbound.length === 0 ? `no rule for ${number} (the dial plan has no outbound rules)` : `no rule matches ${number}`
    return { ...base, ...refusal('not-found', reason) }
  }

  private permission(caller: Caller, callerClass: string | null, r: CompiledOutbound): PermissionCheck {
    const requiredClass = r.def.class
    const toTrunk = r.def.target.kind === 'trunks'
    if (caller.kind === 'anonymous') {
      if (toTrunk) return { callerClass, requiredClass, allowed: false, reason: 'anonymous (unauthenticated) callers never reach a trunk' }
      if (r.rank > 0) return { callerClass, requiredClass, allowed: false, reason: `anonymous callers may use rules of class ${this.def.classes[0]} only` }
      return { callerClass, requiredClass, allowed: true, reason: `a local target, rule of the lowest class ${requiredClass}` }
    }
    const have = this.rankOf(callerClass ?? this.def.defaultClass)
    const who = caller.kind === 'trunk' ? `trusted trunk ${caller.trunk}` : `user ${caller.username}`
    if (have < r.rank) return { callerClass, requiredClass, allowed: false, reason: `${who} has class ${callerClass} < ${requiredClass}` }
    return { callerClass, requiredClass, allowed: true, reason: `${who} has class ${callerClass} >= ${requiredClass}` }
  }

  private target(t: TargetDefinition): RouteTarget {
    if (t.kind === 'user') return { kind: 'user', user: t.user }
    if (t.kind === 'trunks') return { kind: 'trunks', trunks: [...t.trunks] }
    const g = this.group(t.group)
    return { kind: 'ring-group', group: g.name, strategy: g.strategy, members: [...g.members], ringSeconds: g.ringSeconds }
  }

  private group(name: string): RingGroupDefinition {
    const g = this.groups.get(name)
    if (g === undefined) throw new TypeError(`unknown ring group ${name}`)
    return g
  }

  private rankOf(cls: string): number {
    const r = this.classRank.get(cls)
    if (r === undefined) throw new TypeError(`unknown calling class ${cls} (classes: ${this.def.classes.join(', ')})`)
    return r
  }
}

function inboundTest(r: CompiledInbound, number: string): { matched: boolean; reasons: string[] } {
  if (r.dids.has(number)) return { matched: true, reasons: [`DID ${number}`] }
  if (r.regex !== null && r.regex.test(number)) return { matched: true, reasons: [`matches /${r.def.pattern}/`] }
  const why: string[] = []
  if (r.def.dids.length > 0) why.push(`not ${r.def.dids.join(' or ')}`)
  if (r.regex !== null) why.push(`does not match /${r.def.pattern}/`)
  return { matched: false, reasons: why }
}

function ruleOf(step: TraceStep): MatchedRule {
  return { kind: step.kind, name: step.name, index: step.index, reasons: step.reasons }
}

function refusal(outcome: 'not-found', reason: string): Pick<RouteDecision, 'outcome' | 'status' | 'reason' | 'rewritten' | 'rewriteSteps' | 'rule' | 'target' | 'permission'> {
  return { outcome, status: 404, reason, rewritten: null, rewriteSteps: [], rule: null, target: null, permission: null }
}

function describeTarget(t: TargetDefinition): string {
  if (t.kind === 'user') return `user ${t.user}`
  if (t.kind === 'ring-group') return `ring group ${t.group}`
  return `trunk${t.trunks.length === 1 ? '' : 's'} ${t.trunks.join(', ')}`
}

/**
 * The dial plan as plain data (`sip-config/dialplan.yaml` converted by `config/`): calling
 * classes, ring groups, ordered outbound rules and inbound DID rules. `DialPlan`
 * (dial-plan.ts) compiles it and makes routing decisions.
 *
 * Ideas from Kamailio `dialplan` (match + rewrite), Asterisk extensions/contexts (ordered
 * patterns, strip/prepend) and FreeSWITCH XML dial plan (conditions -> actions).
 */

/** How a rule recognises the dialed number; every condition given must hold (AND). */
export interface NumberMatch {
  /** The number starts with one of these (any). Empty: no prefix condition. */
  prefixes: string[]
  /** A regular expression the whole number must match (anchored: `^(?:pattern)$`). */
  pattern?: string
  /** Fewest digits/characters, inclusive. */
  minLength?: number
  /** Most digits/characters, inclusive. */
  maxLength?: number
}

/** Numbering plan used for E.164 conversion (ITU-T E.164, E.123). */
export interface NumberingPlan {
  /** Country calling code without "+", e.g. "49", "1", "44". */
  countryCode: string
  /** National (trunk) prefix, e.g. "0" ("" where there is none, as in NANP "1" handled by countryCode). */
  nationalPrefix: string
  /** International call prefix, e.g. "00", "011". */
  internationalPrefix: string
}

/** Rewriting applied to the matched number, in this order: strip, prepend, E.164. */
export interface NumberRewrite {
  /** Leading characters removed. 0: none. */
  strip: number
  /** Text put in front after stripping. "" : none. */
  prepend: string
  /** Convert to +E.164 with the dial plan's numbering plan. */
  e164: boolean
}

/** Where a matched call goes. */
export type TargetDefinition =
  | { kind: 'user'; user: string }
  | { kind: 'ring-group'; group: string }
  | { kind: 'trunks'; trunks: string[] }

/** One outbound rule (calls from local users and transit from trusted trunks). */
export interface OutboundRuleDefinition {
  name: string
  match: NumberMatch
  /** Lowest calling class allowed to use the rule. */
  class: string
  rewrite: NumberRewrite
  target: TargetDefinition
}

/** One inbound rule: a DID (or DID pattern) on one trunk -> a user or ring group. */
export interface InboundRuleDefinition {
  name: string
  trunk: string
  /** Exact DIDs (any). */
  dids: string[]
  /** A regular expression the whole DID must match (anchored). */
  pattern?: string
  target: { kind: 'user'; user: string } | { kind: 'ring-group'; group: string }
}

/** A ring group (Asterisk queue-less hunt group, FreeSWITCH group). */
export interface RingGroupDefinition {
  name: string
  /** `parallel`: all members at once; `sequential`: one after another, in order. */
  strategy: 'parallel' | 'sequential'
  /** Members (local usernames), in hunt order. */
  members: string[]
  /** Seconds each member rings (sequential), or the whole group rings (parallel). */
  ringSeconds: number
}

/** What the dial plan needs to know of a trunk. */
export interface TrunkPolicy {
  name: string
  trusted: boolean
  /** Class for transit calls; undefined: the default class. */
  class?: string
}

/** The whole dial plan. */
export interface DialPlanDefinition {
  /** Calling classes, lowest first (e.g. internal, national, international). Not empty. */
  classes: string[]
  /** Class of a user not listed in `userClasses`; one of `classes`. */
  defaultClass: string
  /** Username -> class. */
  userClasses: Record<string, string>
  /** Needed when a rule converts to E.164. */
  numbering?: NumberingPlan
  ringGroups: RingGroupDefinition[]
  outbound: OutboundRuleDefinition[]
  inbound: InboundRuleDefinition[]
  trunks: TrunkPolicy[]
  /** Local usernames (users.yaml): dialed directly, they reach the user without a rule. */
  users: string[]
}

/** The calling classes used when dialplan.yaml does not list any. */
export const DEFAULT_CLASSES: readonly string[] = ['internal', 'national', 'international']

/** A dial plan with no rules: only local users by name (today's behaviour). */
export function emptyDialPlan(users: readonly string[] = [], trunks: readonly TrunkPolicy[] = []): DialPlanDefinition {
  return {
    classes: [...DEFAULT_CLASSES],
    defaultClass: DEFAULT_CLASSES[0]!,
    userClasses: {},
    ringGroups: [],
    outbound: [],
    inbound: [],
    trunks: trunks.map((t) => ({ ...t })),
    users: [...users],
  }
}

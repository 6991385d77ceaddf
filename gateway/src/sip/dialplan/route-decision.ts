/**
 * What the dial plan decides for one call (DialPlan.route): the outcome, the rule, the
 * rewritten number, the target, the permission check and the trace of the rules tried.
 * Plain JSON-safe data: the admin API returns it as is.
 */

/** Who is calling. */
export type Caller =
  /** An authenticated local user (digest, or a flow bound to the user). */
  | { kind: 'user'; username: string }
  /** A request matched to a trunk (source address / header). */
  | { kind: 'trunk'; trunk: string }
  /** Neither: an unauthenticated request. */
  | { kind: 'anonymous' }

/** A route request: who calls which number (the Request-URI user part, RFC 3261 §19.1.1). */
export interface RouteRequest {
  caller: Caller
  dialed: string
}

/** Where the call goes. */
export type RouteTarget =
  | { kind: 'user'; user: string }
  | { kind: 'ring-group'; group: string; strategy: 'parallel' | 'sequential'; members: string[]; ringSeconds: number }
  /** Trunks in failover order: the next one on timeout, 408, 5xx or when it is down. */
  | { kind: 'trunks'; trunks: string[] }

/**
 * `route`: go to `target`; `forbidden`: 403, the caller may not use the matched rule;
 * `not-found`: 404, no rule (or DID) matches.
 */
export type RouteOutcome = 'route' | 'forbidden' | 'not-found'

/** The rule that decided: an outbound rule, an inbound DID rule, or a local username dialed directly. */
export interface MatchedRule {
  kind: 'outbound' | 'inbound' | 'local-user'
  /** Rule name; the username for `local-user`. */
  name: string
  /** 0-based position in its list; -1 for `local-user`. */
  index: number
  /** What held (`prefix "00"`, `length 13 in 8..17`). */
  reasons: string[]
}

/** The calling-class check of the matched rule. */
export interface PermissionCheck {
  /** The caller's class; null for anonymous callers and untrusted trunks. */
  callerClass: string | null
  /** The rule's class; null when the rule needs none (inbound DIDs, local users). */
  requiredClass: string | null
  allowed: boolean
  /** One sentence: `class national < international`, `anonymous callers never reach a trunk`. */
  reason: string
}

/** One rule tried before the decision. */
export interface TraceStep {
  kind: 'outbound' | 'inbound' | 'local-user'
  name: string
  index: number
  matched: boolean
  /** Why it did not match (every failing condition), or what held. */
  reasons: string[]
}

/** A step of the number rewrite (see number-rewrite.ts). */
export interface RewriteTraceStep {
  step: 'strip' | 'prepend' | 'e164'
  from: string
  to: string
  detail: string
}

export interface RouteDecision {
  outcome: RouteOutcome
  /** SIP status for a refusal (403, 404); null for `route`. */
  status: 403 | 404 | null
  /** One sentence for logs and the explanation. */
  reason: string
  caller: Caller
  /** As given. */
  dialed: string
  /** As matched (visual separators removed). */
  number: string
  /** After the rule's rewrite; equals `number` when it rewrites nothing; null when no rule matched. */
  rewritten: string | null
  rewriteSteps: RewriteTraceStep[]
  rule: MatchedRule | null
  /** Set when outcome is `route`. */
  target: RouteTarget | null
  /** Null when no rule matched. */
  permission: PermissionCheck | null
  /** Every rule tried, in order, the deciding one last. */
  trace: TraceStep[]
}

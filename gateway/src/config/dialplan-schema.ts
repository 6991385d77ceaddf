/**
 * TypeBox schema of `sip-config/dialplan.yaml`: calling classes, numbering plan, ring
 * groups, outbound rules, inbound DIDs. Semantics and the conversion to the plain
 * DialPlanDefinition (sip/dialplan/): dialplan-loader.ts.
 */
import { Type, type Static } from '@sinclair/typebox'

const Name = Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._-]+$' })
const Digits = Type.String({ minLength: 1, pattern: '^[0-9]+$' })

export const RingGroupSchema = Type.Object({
  name: Name,
  strategy: Type.Union([Type.Literal('parallel'), Type.Literal('sequential')], { default: 'parallel' }),
  /** Local usernames in hunt order. */
  members: Type.Array(Type.String({ minLength: 1 }), { minItems: 1 }),
  /** Seconds each member rings (sequential) or the group rings (parallel). */
  ringSeconds: Type.Integer({ minimum: 1, maximum: 600, default: 20 }),
}, { additionalProperties: false })

export const OutboundRuleSchema = Type.Object({
  name: Name,
  /** The dialed number starts with one of these. */
  prefix: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  /** Regular expression for the whole number (anchored). */
  pattern: Type.Optional(Type.String({ minLength: 1 })),
  minLength: Type.Optional(Type.Integer({ minimum: 1 })),
  maxLength: Type.Optional(Type.Integer({ minimum: 1 })),
  /** Lowest calling class allowed; default: the first (lowest) class. */
  class: Type.Optional(Type.String({ minLength: 1 })),
  /** Leading characters removed. */
  strip: Type.Integer({ minimum: 0, default: 0 }),
  /** Put in front after strip. */
  prepend: Type.String({ default: '' }),
  /** Convert to +E.164 with `numbering`, after strip and prepend. */
  e164: Type.Boolean({ default: false }),
  /** Target: exactly one of user, ringGroup, trunks. */
  user: Type.Optional(Type.String({ minLength: 1 })),
  ringGroup: Type.Optional(Type.String({ minLength: 1 })),
  /** Trunks in failover order. */
  trunks: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })),
}, { additionalProperties: false })

export const InboundRuleSchema = Type.Object({
  /** Default `<trunk>#<n>`. */
  name: Type.Optional(Name),
  trunk: Type.String({ minLength: 1 }),
  /** Exact DIDs as the trunk sends them in the Request-URI (quote them). */
  did: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
  /** Regular expression for the whole DID (anchored). */
  pattern: Type.Optional(Type.String({ minLength: 1 })),
  user: Type.Optional(Type.String({ minLength: 1 })),
  ringGroup: Type.Optional(Type.String({ minLength: 1 })),
}, { additionalProperties: false })

/** `sip-config/dialplan.yaml` */
export const DialPlanFileSchema = Type.Object({
  /** Calling classes, lowest first. */
  classes: Type.Array(Name, { minItems: 1, default: ['internal', 'national', 'international'] }),
  /** Class of users not in userClasses; default: the first class. */
  defaultClass: Type.Optional(Name),
  /** username: class */
  userClasses: Type.Record(Type.String(), Type.String({ minLength: 1 }), { default: {} }),
  numbering: Type.Optional(Type.Object({
    countryCode: Type.String({ pattern: '^[1-9][0-9]{0,2}$' }),
    nationalPrefix: Type.String({ pattern: '^[0-9]*$', default: '0' }),
    internationalPrefix: Digits,
  }, { additionalProperties: false })),
  ringGroups: Type.Array(RingGroupSchema, { default: [] }),
  outbound: Type.Array(OutboundRuleSchema, { default: [] }),
  inbound: Type.Array(InboundRuleSchema, { default: [] }),
}, { additionalProperties: false })

export type DialPlanFile = Static<typeof DialPlanFileSchema>
export type OutboundRuleEntry = Static<typeof OutboundRuleSchema>
export type InboundRuleEntry = Static<typeof InboundRuleSchema>

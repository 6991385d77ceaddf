/**
 * TypeBox schema of `sip-config/trunks.yaml`: the trunks to PBXs and carriers. Field names
 * follow Asterisk pjsip (registration `expires`, `outbound_proxy`, `from_user`,
 * `from_domain`, `qualify_frequency`, `identify` match) and FreeSWITCH gateways, in this
 * project's camelCase. Semantics and the YAML -> TrunkDefinition conversion: trunks-loader.ts.
 */
import { Type, type Static } from '@sinclair/typebox'

const Port = Type.Integer({ minimum: 1, maximum: 65535 })
const Token = Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._~!%*+`\'-]+$' })

export const TrunkSchema = Type.Object({
  /** Unique name, used by dialplan.yaml (`trunks:`, `inbound[].trunk`) and in logs. */
  name: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9._-]+$' }),
  /** `registration`: the gateway REGISTERs to `host` with the credentials; `peer`: a static peer by address. */
  type: Type.Union([Type.Literal('registration'), Type.Literal('peer')]),
  /** IP address or DNS name (NAPTR/SRV/A per RFC 3263 when a name and no port). */
  host: Type.String({ minLength: 1 }),
  port: Type.Optional(Port),
  transport: Type.Union([Type.Literal('udp'), Type.Literal('tcp'), Type.Literal('tls')], { default: 'udp' }),
  /** `sip:proxy.example;lr`: every request to the trunk goes through it. */
  outboundProxy: Type.Optional(Type.String({ minLength: 1 })),
  /** AOR user to register (`sip:username@host`); also the digest username unless authUsername. */
  username: Type.Optional(Type.String({ minLength: 1 })),
  /** Digest username when it differs from `username`. */
  authUsername: Type.Optional(Type.String({ minLength: 1 })),
  /** Clear-text password. Prefer `passwordEnv`, or `ha1`/`ha1Sha256` with `realm`. */
  password: Type.Optional(Type.String({ minLength: 1 })),
  /** Name of an environment variable holding the password. */
  passwordEnv: Type.Optional(Type.String({ minLength: 1 })),
  /** hex MD5(authUsername:realm:password). */
  ha1: Type.Optional(Type.String({ pattern: '^[0-9a-f]{32}$' })),
  /** hex SHA-256(authUsername:realm:password). */
  ha1Sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
  /** The realm the upstream challenges with (needed with ha1/ha1Sha256). */
  realm: Type.Optional(Type.String({ minLength: 1 })),
  /** Registration trunks: REGISTER or not (default true). Peers: must be absent or false. */
  register: Type.Optional(Type.Boolean()),
  /** Registration lifetime asked for, seconds. */
  expires: Type.Integer({ minimum: 60, maximum: 86400, default: 600 }),
  fromUser: Type.Optional(Type.String({ minLength: 1 })),
  fromDomain: Type.Optional(Type.String({ minLength: 1 })),
  /** P-Asserted-Identity on calls out (RFC 3325). */
  callerId: Type.Optional(Type.Object({
    number: Type.Optional(Type.String({ minLength: 1, pattern: '^\\+?[0-9*#]+$' })),
    name: Type.Optional(Type.String({ minLength: 1 })),
  }, { additionalProperties: false })),
  /** Allowed codecs (SDP rtpmap encoding names), in preference order; absent: any. */
  codecs: Type.Array(Token, { default: [] }),
  /** Concurrent call cap; 0: none. */
  maxCalls: Type.Integer({ minimum: 0, default: 0 }),
  /** OPTIONS keepalive interval, seconds; 0: off. */
  qualifySeconds: Type.Integer({ minimum: 0, default: 30 }),
  inbound: Type.Object({
    /** Source IP addresses / CIDR prefixes of the trunk's requests; empty: what host (and outboundProxy) resolve to. */
    addresses: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    /** Also require this header (e.g. X-Trunk: pbx-a) to tell trunks sharing an address apart. */
    header: Type.Optional(Type.Object({
      name: Token,
      value: Type.String({ minLength: 1 }),
    }, { additionalProperties: false })),
  }, { additionalProperties: false, default: {} }),
  /** Calls arriving on a trusted trunk may go out through other trunks (transit). */
  trusted: Type.Boolean({ default: false }),
  /** Calling class of transit calls from this trunk (dialplan.yaml `classes`); default: defaultClass. */
  class: Type.Optional(Type.String({ minLength: 1 })),
}, { additionalProperties: false })

/** `sip-config/trunks.yaml` */
export const TrunksFileSchema = Type.Object({
  trunks: Type.Array(TrunkSchema, { default: [] }),
}, { additionalProperties: false })

export type TrunkEntry = Static<typeof TrunkSchema>
export type TrunksFile = Static<typeof TrunksFileSchema>

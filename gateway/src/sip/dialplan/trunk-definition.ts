/**
 * A trunk as the operator defined it in `sip-config/trunks.yaml`, as plain data: what the
 * dial plan needs (name, trust, calling class) and what the trunk runtime (`sip/trunks/`:
 * registration UAC, qualify, inbound matching, failover) needs. `config/` converts the YAML
 * to this shape; both layers above read it.
 *
 * Terms follow Asterisk pjsip (endpoint / registration / identify), FreeSWITCH gateways and
 * Kamailio dispatcher / uac.
 */

/** Transport to the trunk (RFC 3261 §18; TLS §26.2). */
export type TrunkTransport = 'udp' | 'tcp' | 'tls'

/**
 * Digest credentials for the trunk (RFC 7616 / RFC 8760): used to REGISTER and to answer
 * the upstream's 401/407 challenges on INVITE and other requests sent through the trunk.
 * At least one of `password`, `ha1`, `ha1Sha256` is set; `ha1`/`ha1Sha256` are
 * H(authUsername ":" realm ":" password) for `realm`, which is then set.
 */
export interface TrunkCredentials {
  /** Digest username (Asterisk `auth.username`); defaults to the trunk's `username`. */
  authUsername: string
  /** Clear-text password (resolved from `passwordEnv` by the loader when given so). */
  password?: string
  /** Hex MD5 HA1 for `realm`. */
  ha1?: string
  /** Hex SHA-256 HA1 for `realm`. */
  ha1Sha256?: string
  /** Realm the HA1s were computed for; a challenge for another realm cannot be answered with them. */
  realm?: string
}

/** How inbound requests are recognised as coming from this trunk (Asterisk `identify`). */
export interface TrunkInboundMatch {
  /**
   * Source IP addresses or CIDR prefixes (`192.0.2.10`, `198.51.100.0/24`, `2001:db8::/32`).
   * Empty: the addresses `host` (and `outboundProxy`) resolve to.
   */
  addresses: string[]
  /** A header that must also be present with this value (case-insensitive name, exact value). */
  header?: { name: string; value: string }
}

/** One trunk of trunks.yaml, defaults applied. */
export interface TrunkDefinition {
  /** Unique name; dial plan rules and DIDs refer to it. */
  name: string
  /** `registration`: the gateway REGISTERs upstream as a UAC; `peer`: a static peer by address. */
  type: 'registration' | 'peer'
  /** IP address or DNS name of the registrar / peer (RFC 3263 when a name). */
  host: string
  /** Port; undefined: DNS SRV for a name, else 5060 (5061 for TLS). */
  port?: number
  transport: TrunkTransport
  /** SIP URI every request to the trunk is sent through (a Route, RFC 3261 §8.1.2). */
  outboundProxy?: string
  /** AOR user of the registration (`sip:username@host`); set for registration trunks. */
  username?: string
  /** Set when the trunk has credentials (always for registration trunks). */
  credentials?: TrunkCredentials
  /** Whether to REGISTER (false: a registration trunk kept defined but silent). */
  register: boolean
  /** Requested registration lifetime, seconds (Expires, RFC 3261 §10.2.1). */
  expires: number
  /** User part of From on requests sent through the trunk (default: the caller's). */
  fromUser?: string
  /** Host part of From on requests sent through the trunk (default: the trunk's host). */
  fromDomain?: string
  /** Identity asserted on calls out through the trunk (P-Asserted-Identity, RFC 3325). */
  callerId?: { number?: string; name?: string }
  /** Allowed codec names (`PCMA`, `opus`, ...), in preference order; empty: any. */
  codecs: string[]
  /** Most concurrent calls through the trunk; 0: no cap. */
  maxCalls: number
  /** OPTIONS keepalive interval, seconds (Asterisk `qualify_frequency`); 0: off. */
  qualifySeconds: number
  inbound: TrunkInboundMatch
  /** A trusted trunk's calls may transit to other trunks (with `class`). */
  trusted: boolean
  /** Calling class of calls arriving on this trunk when they transit; undefined: the dial plan's default class. */
  class?: string
}

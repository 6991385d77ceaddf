/**
 * Value types shared by the SIP message model and its parsers (RFC 3261 §25 grammar).
 *
 * Conventions used everywhere in `sip/`:
 * - Parameter names are lower-cased; values are kept as on the wire (not unescaped).
 *   A parameter without a value (`;lr`) maps to `null`.
 * - Hosts are lower-cased; IPv6 references keep their brackets (`[2001:db8::1]`).
 * - Ports are numbers, or `null` when absent (the default port depends on the transport).
 */

/** Header or URI parameters: lower-case name -> value as on the wire, or `null` for a flag. */
export type Params = Record<string, string | null>

/**
 * A SIP, SIPS or tel URI (RFC 3261 §19.1, RFC 3966), or any other absoluteURI.
 *
 * For `sip`/`sips`, `user`, `password`, `host`, `port`, `params` and `headers` are filled.
 * For `tel`, `user` holds the telephone-subscriber (without parameters), `host` is "",
 * and `params` the tel parameters. For other schemes only `opaque` is meaningful.
 */
export interface SipUri {
  /** Lower-case scheme: 'sip' | 'sips' | 'tel' | anything else (absoluteURI). */
  scheme: string
  /** userinfo user part as on the wire (escapes kept, e.g. "sips%3Auser%40example.com"). */
  user: string | null
  password: string | null
  /** Lower-case host; IPv6 with brackets. "" for tel and opaque URIs. */
  host: string
  port: number | null
  /** uri-parameters (`;transport=tcp;lr`). */
  params: Params
  /** headers after `?` (`?subject=x&priority=urgent`): name as on the wire -> value as on the wire. */
  headers: Record<string, string>
  /** For schemes other than sip/sips/tel: everything after "scheme:". Otherwise null. */
  opaque: string | null
}

/**
 * name-addr / addr-spec with header parameters (RFC 3261 §20.10, §25.1):
 * the value of From, To, Contact, Route, Record-Route, Refer-To, Reply-To, P-Asserted-Identity.
 */
export interface NameAddr {
  /** Display name without quotes and with quoted-pair escapes resolved; null if absent. */
  displayName: string | null
  uri: SipUri
  /** Header parameters (`;tag=`, `;expires=`, `;q=`, `;+sip.instance=`, `;reg-id=`). */
  params: Params
}

/** One Via value (RFC 3261 §20.42): `SIP/2.0/UDP host:port;branch=...;received=...;rport`. */
export interface Via {
  /** Upper-case transport token: 'UDP' | 'TCP' | 'TLS' | 'SCTP' | 'WS' | 'WSS' | other. */
  transport: string
  /** sent-by host, lower-case; IPv6 with brackets; may end in ".invalid" for browser clients. */
  host: string
  /** sent-by port, or null when absent. */
  port: number | null
  params: Params
  /** The branch parameter (same as params.branch), or null for RFC 2543 senders. */
  branch: string | null
}

/** CSeq header (RFC 3261 §20.16). `seq` is 0..2^32-1; `method` case-sensitive. */
export interface CSeq {
  seq: number
  method: string
}

/** One raw header field in wire order. `name` is the canonical lower-case long form. */
export interface HeaderField {
  name: string
  value: string
}

/**
 * The DNS look-ups RFC 3263 needs, as an interface: NAPTR (RFC 3403), SRV (RFC 2782), A and
 * AAAA. The server locator (`server-locator.ts`) asks a `DnsClient`; the real one is
 * `NodeDnsClient` (node:dns), wrapped by `CachingDnsClient` (TTLs); unit tests use a fake.
 *
 * A client never throws: every outcome is a `DnsAnswer` value.
 */

/** A NAPTR record (RFC 3403 §4.1), field names as in node:dns. */
export interface NaptrRecord {
  order: number
  preference: number
  /** e.g. "s" (the replacement is an SRV name), "a", "u", "". */
  flags: string
  /** e.g. "SIP+D2U", "SIP+D2T", "SIPS+D2T" (RFC 3263 §4.1). */
  service: string
  regexp: string
  /** The next name to look up ("_sip._udp.example.com"). */
  replacement: string
}

/** An SRV record (RFC 2782). `name` is the target host; "" or "." means "no service here". */
export interface SrvRecord {
  priority: number
  weight: number
  port: number
  name: string
}

/** The record type of each look-up, by query type. */
export interface DnsRecordTypes {
  NAPTR: NaptrRecord
  SRV: SrvRecord
  /** Dotted IPv4 address. */
  A: string
  /** IPv6 address without brackets. */
  AAAA: string
}

export type DnsQueryType = keyof DnsRecordTypes

/**
 * What one look-up gave:
 * - `records`: at least one record; `ttl` in seconds (the smallest TTL of the set), or null
 *   when the DNS API does not report it (node:dns gives TTLs for A/AAAA only);
 * - `negative`: the name does not exist or has no record of that type (NXDOMAIN / NODATA,
 *   RFC 2308) — an answer, cacheable;
 * - `failure`: no answer (timeout, SERVFAIL, REFUSED, unreachable server); `reason` says which.
 */
export type DnsAnswer<T> =
  | { kind: 'records'; records: T[]; ttl: number | null }
  | { kind: 'negative' }
  | { kind: 'failure'; reason: string }

/** One DNS look-up of `type` for `name` (absolute or relative, without a trailing dot). Never rejects. */
export interface DnsClient {
  query<K extends DnsQueryType>(type: K, name: string): Promise<DnsAnswer<DnsRecordTypes[K]>>
}

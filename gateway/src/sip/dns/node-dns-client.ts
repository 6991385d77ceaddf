/**
 * The real `DnsClient`: Bun's node:dns `Resolver` (c-ares), pointed at the configured servers
 * or the system's (/etc/resolv.conf).
 *
 * What Bun 1.4.5's Resolver gives (checked against dnsmasq 2.90): `setServers` accepts
 * `host:port`; resolveNaptr, resolveSrv, resolve4/resolve6 work; TTLs come only from
 * resolve4/resolve6 with `{ ttl: true }` — NAPTR and SRV answers carry none, so their TTL is
 * null here and the cache applies its default. NXDOMAIN and NODATA both surface as ENOTFOUND
 * (Node would say ENODATA for NODATA); both are negative answers. An unreachable server gives
 * ETIMEOUT after `timeoutMs` per try.
 */
import { Resolver } from 'node:dns/promises'
import type { DnsAnswer, DnsClient, DnsQueryType, DnsRecordTypes } from './dns-client.ts'

export interface NodeDnsClientOptions {
  /**
   * DNS servers as `address` or `address:port` (IPv6: `[addr]:port`); empty or absent: the
   * system resolver's servers.
   */
  servers?: readonly string[]
  /** Per try, in milliseconds (c-ares doubles it on each retry). Default 2000. */
  timeoutMs?: number
  /** Tries per server before giving up. Default 2. */
  tries?: number
}

/** Error codes that mean "no such record" (RFC 2308 negative answers), not a failed look-up. */
const NEGATIVE_CODES = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA'])

/** A `DnsClient` over node:dns/promises `Resolver`; see the file comment. Never throws from `query`. */
export class NodeDnsClient implements DnsClient {
  private readonly resolver: Resolver

  /** @throws Error when a server address is malformed (from `Resolver.setServers`). */
  constructor(options: NodeDnsClientOptions = {}) {
    this.resolver = new Resolver({ timeout: options.timeoutMs ?? 2_000, tries: options.tries ?? 2 })
    if (options.servers && options.servers.length > 0) this.resolver.setServers([...options.servers])
  }

  /** The servers in use (`host:port` when not 53). */
  servers(): string[] {
    return this.resolver.getServers()
  }

  async query<K extends DnsQueryType>(type: K, name: string): Promise<DnsAnswer<DnsRecordTypes[K]>> {
    try {
      const answer = await this.lookup(type, name)
      if (answer.records.length === 0) return { kind: 'negative' }
      return { kind: 'records', records: answer.records as DnsRecordTypes[K][], ttl: answer.ttl }
    } catch (error) {
      const code = (error as { code?: unknown }).code
      if (typeof code === 'string' && NEGATIVE_CODES.has(code)) return { kind: 'negative' }
      return { kind: 'failure', reason: `${type} ${name}: ${typeof code === 'string' ? code : String(error)}` }
    }
  }

  private async lookup(type: DnsQueryType, name: string): Promise<{ records: unknown[]; ttl: number | null }> {
    switch (type) {
      case 'NAPTR':
        return { records: await this.resolver.resolveNaptr(name), ttl: null }
      case 'SRV':
        return { records: await this.resolver.resolveSrv(name), ttl: null }
      case 'A':
      case 'AAAA': {
        const rows = type === 'A'
          ? await this.resolver.resolve4(name, { ttl: true })
          : await this.resolver.resolve6(name, { ttl: true })
        let ttl: number | null = null
        for (const row of rows) if (typeof row.ttl === 'number' && (ttl === null || row.ttl < ttl)) ttl = row.ttl
        return { records: rows.map((row) => row.address), ttl }
      }
    }
  }
}

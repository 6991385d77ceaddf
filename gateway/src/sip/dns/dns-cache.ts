/**
 * TTL cache in front of a `DnsClient` (RFC 1035 §3.2.1 TTL, RFC 2308 negative caching):
 *
 * - record sets are kept for their TTL, clamped to [minTtlSeconds, maxTtlSeconds]; a set
 *   whose TTL the DNS API does not report (node:dns NAPTR/SRV) is kept `defaultTtlSeconds`;
 * - negative answers (NXDOMAIN / NODATA) are kept `negativeTtlSeconds` (RFC 2308 §5);
 * - failures (timeout, SERVFAIL) are kept `failureTtlSeconds` (RFC 2308 §7.1 allows up to
 *   5 minutes) so that an unreachable server does not cost a timeout on every request;
 * - identical look-ups in flight are coalesced into one query.
 *
 * Time is the injected `Scheduler.now()` (milliseconds), so tests move a fake clock. Expired
 * entries are replaced on the next look-up; the oldest entries are dropped past `maxEntries`.
 */
import type { Scheduler } from '../../base/scheduler.ts'
import type { DnsAnswer, DnsClient, DnsQueryType, DnsRecordTypes } from './dns-client.ts'

export interface DnsCacheOptions {
  /** Floor for record TTLs, seconds. Default 1. */
  minTtlSeconds?: number
  /** Ceiling for record TTLs, seconds. Default 3600. */
  maxTtlSeconds?: number
  /** TTL for record sets that come without one (node:dns NAPTR and SRV), seconds. Default 60. */
  defaultTtlSeconds?: number
  /** How long NXDOMAIN / NODATA is remembered, seconds. Default 30. */
  negativeTtlSeconds?: number
  /** How long a failed look-up (timeout, SERVFAIL) is remembered, seconds. Default 5; 0: never. */
  failureTtlSeconds?: number
  /** Most entries kept (oldest dropped first). Default 10000. */
  maxEntries?: number
}

interface Entry {
  answer: DnsAnswer<unknown>
  /** Scheduler.now() milliseconds after which the entry is stale. */
  expiresAt: number
}

/** Counters for tests and metrics. */
export interface DnsCacheStats {
  hits: number
  misses: number
  /** Look-ups that joined one already in flight. */
  coalesced: number
}

/** A caching `DnsClient` over another one; see the file comment. */
export class CachingDnsClient implements DnsClient {
  private readonly entries = new Map<string, Entry>()
  private readonly inFlight = new Map<string, Promise<DnsAnswer<unknown>>>()
  private readonly o: Required<DnsCacheOptions>
  readonly stats: DnsCacheStats = { hits: 0, misses: 0, coalesced: 0 }

  constructor(
    private readonly inner: DnsClient,
    private readonly scheduler: Pick<Scheduler, 'now'>,
    options: DnsCacheOptions = {},
  ) {
    this.o = {
      minTtlSeconds: options.minTtlSeconds ?? 1,
      maxTtlSeconds: options.maxTtlSeconds ?? 3600,
      defaultTtlSeconds: options.defaultTtlSeconds ?? 60,
      negativeTtlSeconds: options.negativeTtlSeconds ?? 30,
      failureTtlSeconds: options.failureTtlSeconds ?? 5,
      maxEntries: options.maxEntries ?? 10_000,
    }
  }

  query<K extends DnsQueryType>(type: K, name: string): Promise<DnsAnswer<DnsRecordTypes[K]>> {
    const key = `${type} ${name.toLowerCase()}`
    const entry = this.entries.get(key)
    if (entry !== undefined) {
      if (this.scheduler.now() < entry.expiresAt) {
        this.stats.hits++
        return Promise.resolve(entry.answer as DnsAnswer<DnsRecordTypes[K]>)
      }
      this.entries.delete(key)
    }
    const pending = this.inFlight.get(key)
    if (pending !== undefined) {
      this.stats.coalesced++
      return pending as Promise<DnsAnswer<DnsRecordTypes[K]>>
    }
    this.stats.misses++
    const lookup = this.inner.query(type, name).then(
      (answer) => this.store(key, answer),
      (error: unknown) => this.store(key, { kind: 'failure', reason: `${type} ${name}: ${String(error)}` }),
    )
    this.inFlight.set(key, lookup)
    return lookup as Promise<DnsAnswer<DnsRecordTypes[K]>>
  }

  /** Forgets every cached answer (configuration reload). */
  clear(): void {
    this.entries.clear()
  }

  /** Number of cached answers (fresh or stale). */
  get size(): number {
    return this.entries.size
  }

  /** Seconds an answer is kept (see the file comment). */
  ttlOf(answer: DnsAnswer<unknown>): number {
    switch (answer.kind) {
      case 'records': {
        const ttl = answer.ttl ?? this.o.defaultTtlSeconds
        return Math.min(this.o.maxTtlSeconds, Math.max(this.o.minTtlSeconds, ttl))
      }
      case 'negative':
        return this.o.negativeTtlSeconds
      case 'failure':
        return this.o.failureTtlSeconds
    }
  }

  private store(key: string, answer: DnsAnswer<unknown>): DnsAnswer<unknown> {
    this.inFlight.delete(key)
    const ttl = this.ttlOf(answer)
    if (ttl > 0) {
      this.entries.delete(key)
      this.entries.set(key, { answer, expiresAt: this.scheduler.now() + ttl * 1000 })
      while (this.entries.size > this.o.maxEntries) {
        const oldest = this.entries.keys().next().value as string
        this.entries.delete(oldest)
      }
    }
    return answer
  }
}

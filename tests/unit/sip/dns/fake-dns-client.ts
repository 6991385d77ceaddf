/**
 * A scripted `DnsClient` for unit tests: answers from a table keyed by "TYPE name", counts
 * the queries it received, and can hold answers back until `release()` (coalescing tests).
 */
import type { DnsAnswer, DnsClient, DnsQueryType, DnsRecordTypes } from '../../../../gateway/src/sip/dns/dns-client.ts'

export class FakeDnsClient implements DnsClient {
  readonly answers = new Map<string, DnsAnswer<unknown>>()
  readonly queries: string[] = []
  private held: Array<() => void> | null = null

  /** Sets the answer for `type name`; absent names are negative (NXDOMAIN). */
  set<K extends DnsQueryType>(type: K, name: string, answer: DnsAnswer<DnsRecordTypes[K]> | DnsRecordTypes[K][], ttl: number | null = null): this {
    this.answers.set(`${type} ${name}`, Array.isArray(answer) ? { kind: 'records', records: answer, ttl } : answer)
    return this
  }

  /** From now on, answers wait until `release()`. */
  hold(): void {
    this.held ??= []
  }

  /** Lets held answers through and stops holding. */
  release(): void {
    const held = this.held ?? []
    this.held = null
    for (const go of held) go()
  }

  /** How many times `type name` was asked. */
  count(type: DnsQueryType, name: string): number {
    return this.queries.filter((q) => q === `${type} ${name}`).length
  }

  query<K extends DnsQueryType>(type: K, name: string): Promise<DnsAnswer<DnsRecordTypes[K]>> {
    const key = `${type} ${name}`
    this.queries.push(key)
    const answer = (this.answers.get(key) ?? { kind: 'negative' }) as DnsAnswer<DnsRecordTypes[K]>
    if (this.held === null) return Promise.resolve(answer)
    return new Promise((resolve) => this.held!.push(() => resolve(answer)))
  }
}

/** A deterministic RandomSource cycling through `values`. */
export function sequence(...values: number[]): () => number {
  let i = 0
  return () => values[i++ % values.length]!
}

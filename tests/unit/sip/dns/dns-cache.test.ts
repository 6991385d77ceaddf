/**
 * CachingDnsClient: TTLs with floor/ceiling, a default TTL for record sets without one,
 * negative (RFC 2308) and failure caching, coalescing of identical look-ups — time moved by a
 * FakeScheduler, never slept.
 */
import { describe, expect, test } from 'bun:test'
import { CachingDnsClient } from '../../../../gateway/src/sip/dns/dns-cache.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import { FakeDnsClient } from './fake-dns-client.ts'

function setup(options: ConstructorParameters<typeof CachingDnsClient>[2] = {}) {
  const clock = new FakeScheduler()
  const dns = new FakeDnsClient()
  const cache = new CachingDnsClient(dns, clock, options)
  return { clock, dns, cache }
}

describe('CachingDnsClient', () => {
  test('an answer is served from the cache for its TTL, then asked again', async () => {
    const { clock, dns, cache } = setup({ minTtlSeconds: 0 })
    dns.set('A', 'pbx.test', ['192.0.2.1'], 30)
    expect(await cache.query('A', 'pbx.test')).toEqual({ kind: 'records', records: ['192.0.2.1'], ttl: 30 })
    clock.advance(29_999)
    await cache.query('A', 'PBX.test')
    expect(dns.count('A', 'pbx.test')).toBe(1)
    expect(cache.stats.hits).toBe(1)
    dns.set('A', 'pbx.test', ['192.0.2.2'], 30)
    clock.advance(1)
    expect(await cache.query('A', 'pbx.test')).toMatchObject({ records: ['192.0.2.2'] })
    expect(dns.count('A', 'pbx.test')).toBe(2)
  })

  test('TTLs are clamped to the floor and the ceiling', async () => {
    const { cache } = setup({ minTtlSeconds: 10, maxTtlSeconds: 600 })
    expect(cache.ttlOf({ kind: 'records', records: [], ttl: 0 })).toBe(10)
    expect(cache.ttlOf({ kind: 'records', records: [], ttl: 86_400 })).toBe(600)
    expect(cache.ttlOf({ kind: 'records', records: [], ttl: 120 })).toBe(120)
  })

  test('a record set without a TTL (node:dns SRV, NAPTR) is kept the default TTL', async () => {
    const { clock, dns, cache } = setup({ defaultTtlSeconds: 45 })
    dns.set('SRV', '_sip._udp.pbx.test', [{ priority: 1, weight: 1, port: 5060, name: 'a.pbx.test' }])
    await cache.query('SRV', '_sip._udp.pbx.test')
    clock.advance(44_999)
    await cache.query('SRV', '_sip._udp.pbx.test')
    expect(dns.count('SRV', '_sip._udp.pbx.test')).toBe(1)
    clock.advance(1)
    await cache.query('SRV', '_sip._udp.pbx.test')
    expect(dns.count('SRV', '_sip._udp.pbx.test')).toBe(2)
  })

  test('negative answers are kept negativeTtlSeconds (RFC 2308)', async () => {
    const { clock, dns, cache } = setup({ negativeTtlSeconds: 5 })
    expect(await cache.query('NAPTR', 'pbx.test')).toEqual({ kind: 'negative' })
    clock.advance(4_999)
    await cache.query('NAPTR', 'pbx.test')
    expect(dns.count('NAPTR', 'pbx.test')).toBe(1)
    clock.advance(1)
    await cache.query('NAPTR', 'pbx.test')
    expect(dns.count('NAPTR', 'pbx.test')).toBe(2)
  })

  test('failures are kept failureTtlSeconds, or not at all with 0', async () => {
    const a = setup({ failureTtlSeconds: 2 })
    a.dns.set('A', 'down.test', { kind: 'failure', reason: 'ETIMEOUT' })
    await a.cache.query('A', 'down.test')
    await a.cache.query('A', 'down.test')
    expect(a.dns.count('A', 'down.test')).toBe(1)
    a.clock.advance(2_000)
    await a.cache.query('A', 'down.test')
    expect(a.dns.count('A', 'down.test')).toBe(2)

    const b = setup({ failureTtlSeconds: 0 })
    b.dns.set('A', 'down.test', { kind: 'failure', reason: 'ESERVFAIL' })
    await b.cache.query('A', 'down.test')
    await b.cache.query('A', 'down.test')
    expect(b.dns.count('A', 'down.test')).toBe(2)
  })

  test('identical look-ups in flight are coalesced into one query', async () => {
    const { dns, cache } = setup()
    dns.set('A', 'pbx.test', ['192.0.2.1'], 60)
    dns.hold()
    const first = cache.query('A', 'pbx.test')
    const second = cache.query('A', 'pbx.test')
    const other = cache.query('AAAA', 'pbx.test')
    expect(dns.queries).toEqual(['A pbx.test', 'AAAA pbx.test'])
    dns.release()
    expect(await first).toEqual(await second)
    expect(await other).toEqual({ kind: 'negative' })
    expect(cache.stats).toEqual({ hits: 0, misses: 2, coalesced: 1 })
  })

  test('a client that rejects becomes a failure answer', async () => {
    const clock = new FakeScheduler()
    const cache = new CachingDnsClient({ query: () => Promise.reject(new Error('boom')) }, clock)
    expect(await cache.query('A', 'x.test')).toEqual({ kind: 'failure', reason: 'A x.test: Error: boom' })
  })

  test('past maxEntries the oldest answers are dropped', async () => {
    const { dns, cache } = setup({ maxEntries: 2 })
    for (const name of ['a.test', 'b.test', 'c.test']) await cache.query('A', name)
    expect(cache.size).toBe(2)
    await cache.query('A', 'a.test')
    expect(dns.count('A', 'a.test')).toBe(2)
    await cache.query('A', 'c.test')
    expect(dns.count('A', 'c.test')).toBe(1)
  })
})

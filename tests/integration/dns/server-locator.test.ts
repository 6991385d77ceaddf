/**
 * The RFC 3263 locator (createServerLocator: node:dns behind the TTL cache) against a real
 * DNS server, dnsmasq on 127.0.0.1 (tests/support/dnsmasq.ts), holding NAPTR, SRV and A
 * records: the NAPTR -> SRV -> A chain, SRV priorities and weights, the A-only fallback with
 * the default port, TTL expiry and re-query, negative answers, and servers that fail or do
 * not answer.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { setLogSink } from '../../../gateway/src/base/log.ts'
import { RealScheduler } from '../../../gateway/src/base/scheduler.ts'
import { createServerLocator, type CreateServerLocatorOptions } from '../../../gateway/src/sip/dns/server-locator.ts'
import { NodeDnsClient } from '../../../gateway/src/sip/dns/node-dns-client.ts'
import { parseUri } from '../../../gateway/src/sip/syntax/uri.ts'
import type { SipUri } from '../../../gateway/src/sip/syntax/types.ts'
import { startDnsmasq, type Dnsmasq } from '../../support/dnsmasq.ts'
import { freeUdpPort } from '../../support/ports.ts'

const logs: string[] = []
let prevSink: ((line: string) => void) | null = null
let dns: Dnsmasq

function uri(text: string): SipUri {
  const parsed = parseUri(text)
  if (parsed === null) throw new Error(`bad URI ${text}`)
  return parsed
}

function locator(options: Partial<CreateServerLocatorOptions> = {}) {
  return createServerLocator({ servers: [dns.server], timeoutMs: 1_000, tries: 1, scheduler: new RealScheduler(), ...options })
}

/** mulberry32: reproducible weighted picks. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

beforeAll(async () => {
  prevSink = setLogSink((line) => logs.push(line))
  dns = await startDnsmasq({
    localTtl: 60,
    naptr: [
      // Listed out of order: the locator sorts by order, then preference.
      { name: 'carrier.test', order: 20, preference: 10, service: 'SIPS+D2T', replacement: '_sips._tcp.carrier.test' },
      { name: 'carrier.test', order: 10, preference: 20, service: 'SIP+D2T', replacement: '_sip._tcp.carrier.test' },
      { name: 'carrier.test', order: 10, preference: 10, service: 'SIP+D2U', replacement: '_sip._udp.carrier.test' },
      { name: 'carrier.test', order: 5, preference: 10, service: 'E2U+sip', flags: 'u', regexp: '!^.*$!sip:x@y!', replacement: '.' },
    ],
    srv: [
      { name: '_sip._udp.carrier.test', target: 'edge1.carrier.test', port: 5070, priority: 10, weight: 10 },
      { name: '_sip._udp.carrier.test', target: 'edge2.carrier.test', port: 5072, priority: 20, weight: 10 },
      { name: '_sip._tcp.carrier.test', target: 'edge1.carrier.test', port: 5071, priority: 10, weight: 10 },
      { name: '_sips._tcp.carrier.test', target: 'edge1.carrier.test', port: 5061, priority: 10, weight: 10 },
      // SRV only (no NAPTR): two weighted targets in priority 10, a backup in 20.
      { name: '_sip._udp.weighted.test', target: 'heavy.weighted.test', port: 5080, priority: 10, weight: 75 },
      { name: '_sip._udp.weighted.test', target: 'light.weighted.test', port: 5081, priority: 10, weight: 25 },
      { name: '_sip._udp.weighted.test', target: 'backup.weighted.test', port: 5082, priority: 20, weight: 0 },
      { name: '_sip._udp.closed.test', target: '.', port: 0 },
    ],
    hosts: [
      { name: 'edge1.carrier.test', addresses: ['127.0.0.11', '127.0.0.12'] },
      { name: 'edge2.carrier.test', addresses: ['127.0.0.13'] },
      { name: 'heavy.weighted.test', addresses: ['127.0.0.21'] },
      { name: 'light.weighted.test', addresses: ['127.0.0.22'] },
      { name: 'backup.weighted.test', addresses: ['127.0.0.23'] },
      { name: 'plain.test', addresses: ['127.0.0.31'] },
      { name: 'closed.test', addresses: ['127.0.0.41'] },
    ],
    dynamicHosts: { 'moving.test': ['127.0.0.51'] },
  })
})

afterAll(async () => {
  await dns?.stop()
  if (prevSink) setLogSink(prevSink)
})

describe('RFC 3263 against dnsmasq', () => {
  test('NAPTR -> SRV -> A: every hop, in NAPTR then SRV order, from real answers', async () => {
    const servers = await locator().locate(uri('sip:+15551234@carrier.test'))
    // A target's addresses come in the order the server gave them (dnsmasq rotates them).
    expect(servers.map((s) => `${s.transport} ${s.port} ${s.target} p${s.priority}`)).toEqual([
      'UDP 5070 edge1.carrier.test p10',
      'UDP 5070 edge1.carrier.test p10',
      'UDP 5072 edge2.carrier.test p20',
      'TCP 5071 edge1.carrier.test p10',
      'TCP 5071 edge1.carrier.test p10',
      'TLS 5061 edge1.carrier.test p10',
      'TLS 5061 edge1.carrier.test p10',
    ])
    const addresses = (transport: string, port: number) =>
      servers.filter((s) => s.transport === transport && s.port === port).map((s) => s.address).sort()
    expect(addresses('UDP', 5070)).toEqual(['127.0.0.11', '127.0.0.12'])
    expect(addresses('UDP', 5072)).toEqual(['127.0.0.13'])
    expect(addresses('TCP', 5071)).toEqual(['127.0.0.11', '127.0.0.12'])
    expect(addresses('TLS', 5061)).toEqual(['127.0.0.11', '127.0.0.12'])
    expect(dns.count('NAPTR', 'carrier.test')).toBe(1)
    expect(dns.count('SRV', '_sip._udp.carrier.test')).toBe(1)
  })

  test('a sips URI follows only the SIPS+D2T record', async () => {
    const servers = await locator().locate(uri('sips:+15551234@carrier.test'))
    expect(servers.map((s) => `${s.transport} ${s.address}:${s.port}`).sort()).toEqual(['TLS 127.0.0.11:5061', 'TLS 127.0.0.12:5061'])
  })

  test('SRV priorities order the list; weights share first place 75/25 within a priority', async () => {
    const l = locator({ random: seeded(7) })
    const first: Record<string, number> = {}
    const runs = 400
    for (let i = 0; i < runs; i++) {
      const servers = await l.locate(uri('sip:bob@weighted.test'))
      expect(servers).toHaveLength(3)
      expect(servers[2]).toEqual({ transport: 'UDP', address: '127.0.0.23', port: 5082, target: 'backup.weighted.test', priority: 20, weight: 0 })
      first[servers[0]!.target] = (first[servers[0]!.target] ?? 0) + 1
    }
    expect(first['heavy.weighted.test']! / runs).toBeGreaterThan(0.65)
    expect(first['heavy.weighted.test']! / runs).toBeLessThan(0.85)
    expect(first['light.weighted.test']! + first['heavy.weighted.test']!).toBe(runs)
    // The SRV set came from DNS once; the order was drawn again for each request.
    expect(dns.count('SRV', '_sip._udp.weighted.test')).toBe(1)
  })

  test('no NAPTR, no SRV: A record with port 5060 over UDP, 5061 over TLS for sips', async () => {
    const l = locator()
    expect(await l.locate(uri('sip:bob@plain.test'))).toEqual([{ transport: 'UDP', address: '127.0.0.31', port: 5060, target: 'plain.test' }])
    expect(await l.locate(uri('sips:bob@plain.test'))).toEqual([{ transport: 'TLS', address: '127.0.0.31', port: 5061, target: 'plain.test' }])
    for (const name of ['_sip._udp.plain.test', '_sip._tcp.plain.test', '_sips._tcp.plain.test']) expect(dns.count('SRV', name)).toBe(1)
  })

  test('an SRV target "." means no SIP service there: no A fallback', async () => {
    const result = await locator({ transports: ['UDP'] }).resolve(uri('sip:bob@closed.test'))
    expect(result.servers).toEqual([])
    expect(dns.count('A', 'closed.test')).toBe(0)
  })

  test('a name that does not exist: empty list with a reason; the NXDOMAIN is cached', async () => {
    const l = locator({ cache: { negativeTtlSeconds: 30 } })
    const result = await l.resolve(uri('sip:bob@nowhere.test'))
    expect(result).toMatchObject({ servers: [], reason: 'no address for nowhere.test' })
    await l.resolve(uri('sip:bob@nowhere.test'))
    expect(dns.count('NAPTR', 'nowhere.test')).toBe(1)
    expect(dns.count('A', 'nowhere.test')).toBe(1)
  })

  test('answers are re-queried after their TTL (A: 1 s from dnsmasq; SRV: the default TTL)', async () => {
    const client = new NodeDnsClient({ servers: [dns.server], timeoutMs: 1_000, tries: 1 })
    expect(await client.query('A', 'moving.test')).toEqual({ kind: 'records', records: ['127.0.0.51'], ttl: 60 })
    const short = await startDnsmasq({ localTtl: 1, dynamicHosts: { 'moving.test': ['127.0.0.51'] }, srv: [{ name: '_sip._tcp.moving.test', target: 'moving.test', port: 5090, priority: 1, weight: 1 }] })
    try {
      const l = createServerLocator({ servers: [short.server], timeoutMs: 1_000, tries: 1, scheduler: new RealScheduler(), cache: { minTtlSeconds: 0, defaultTtlSeconds: 1 } })
      const target = uri('sip:bob@moving.test;transport=tcp')
      expect((await l.locate(target)).map((s) => s.address)).toEqual(['127.0.0.51'])
      await short.setDynamicHosts({ 'moving.test': ['127.0.0.52'] })
      // Within the TTL: the cached answer, no new query.
      expect((await l.locate(target)).map((s) => s.address)).toEqual(['127.0.0.51'])
      expect(short.count('A', 'moving.test')).toBe(1)
      expect(short.count('SRV', '_sip._tcp.moving.test')).toBe(1)
      await Bun.sleep(1_200)
      expect((await l.locate(target)).map((s) => `${s.address}:${s.port}`)).toEqual(['127.0.0.52:5090'])
      expect(short.count('A', 'moving.test')).toBe(2)
      expect(short.count('SRV', '_sip._tcp.moving.test')).toBe(2)
    } finally {
      await short.stop()
    }
  })

  test('a name outside the served zone (REFUSED) gives an empty list and a logged reason', async () => {
    logs.length = 0
    const result = await locator().resolve(uri('sip:bob@example.org'))
    expect(result.servers).toEqual([])
    expect(result.reason).toContain('EREFUSED')
    expect(logs.some((line) => line.includes('no next hop for URI') && line.includes('EREFUSED'))).toBe(true)
  })

  test('an unreachable DNS server: empty list within the timeout, no exception', async () => {
    const silent = await freeUdpPort() // nothing listens there
    const l = createServerLocator({ servers: [`127.0.0.1:${silent}`], timeoutMs: 1_000, tries: 1, scheduler: new RealScheduler() })
    const started = performance.now()
    const result = await l.resolve(uri('sip:bob@carrier.test'))
    const elapsed = performance.now() - started
    expect(result.servers).toEqual([])
    expect(result.reason).toMatch(/^NAPTR carrier\.test: .*(ETIMEOUT|ECONNREFUSED)/)
    expect(elapsed).toBeGreaterThan(900) // it did wait for the server
    expect(elapsed).toBeLessThan(3_000)
    // The failure is cached briefly: the next request does not wait again.
    const again = performance.now()
    expect(await l.locate(uri('sip:bob@carrier.test'))).toEqual([])
    expect(performance.now() - again).toBeLessThan(500)
  })
})

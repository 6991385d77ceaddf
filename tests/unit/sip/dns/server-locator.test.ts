/**
 * ServerLocator over a scripted DnsClient: the RFC 3263 §4.1 decision table (which look-ups
 * happen for which URI), NAPTR filtering and order, SRV expansion in RFC 2782 order, A/AAAA
 * fallback with default ports, and failures that end in an empty list with a reason.
 */
import { describe, expect, test } from 'bun:test'
import type { Logger } from '../../../../gateway/src/base/log.ts'
import type { NaptrRecord, SrvRecord } from '../../../../gateway/src/sip/dns/dns-client.ts'
import { toDestination } from '../../../../gateway/src/sip/dns/dns-locator.ts'
import { ServerLocator, type ServerLocatorOptions } from '../../../../gateway/src/sip/dns/server-locator.ts'
import { parseUri } from '../../../../gateway/src/sip/syntax/uri.ts'
import type { SipUri } from '../../../../gateway/src/sip/syntax/types.ts'
import { FakeDnsClient, sequence } from './fake-dns-client.ts'

const warnings: Array<Record<string, unknown>> = []
const quiet: Logger = {
  category: 'test',
  debug() {},
  info() {},
  warn: (msg, fields) => warnings.push({ msg, ...fields }),
  error() {},
  debugEnabled: false,
}

function uri(text: string): SipUri {
  const parsed = parseUri(text)
  if (parsed === null) throw new Error(`bad URI ${text}`)
  return parsed
}

const naptr = (order: number, preference: number, service: string, replacement: string, flags = 's'): NaptrRecord => ({ order, preference, flags, service, regexp: '', replacement })
const srv = (name: string, port: number, priority = 10, weight = 0): SrvRecord => ({ name, port, priority, weight })

function setup(options: Partial<ServerLocatorOptions> = {}) {
  const dns = new FakeDnsClient()
  const locator = new ServerLocator({ client: dns, random: sequence(0), log: quiet, ...options })
  const hops = async (text: string) => (await locator.locate(uri(text))).map((s) => `${s.transport} ${s.address}:${s.port}`)
  return { dns, locator, hops }
}

describe('RFC 3263 §4.1 without DNS', () => {
  test.each([
    ['sip:alice@192.0.2.10', 'UDP 192.0.2.10:5060'],
    ['sips:alice@192.0.2.10', 'TLS 192.0.2.10:5061'],
    ['sip:192.0.2.10:5070;transport=tcp', 'TCP 192.0.2.10:5070'],
    ['sips:192.0.2.10;transport=tcp', 'TLS 192.0.2.10:5061'],
    ['sip:[2001:db8::1]:5080', 'UDP 2001:db8::1:5080'],
    ['sip:bob@localhost', 'UDP 127.0.0.1:5060'],
    ['sip:bob@pbx.test;maddr=192.0.2.20', 'UDP 192.0.2.20:5060'],
  ])('%s -> %s, no look-up', async (text, expected) => {
    const { dns, hops } = setup()
    expect(await hops(text)).toEqual([expected])
    expect(dns.queries).toEqual([])
  })

  test('a name with an explicit port: A only, UDP (TLS for sips) at that port', async () => {
    const { dns, hops } = setup()
    dns.set('A', 'pbx.test', ['192.0.2.1', '192.0.2.2'])
    expect(await hops('sip:bob@pbx.test:5080')).toEqual(['UDP 192.0.2.1:5080', 'UDP 192.0.2.2:5080'])
    expect(await hops('sips:bob@pbx.test:5081')).toEqual(['TLS 192.0.2.1:5081', 'TLS 192.0.2.2:5081'])
    expect(dns.queries).toEqual(['A pbx.test', 'A pbx.test'])
  })

  test('an explicit transport without port: SRV for that transport, no NAPTR', async () => {
    const { dns, hops } = setup()
    dns.set('SRV', '_sip._tcp.pbx.test', [srv('sip1.pbx.test', 5070)])
    dns.set('A', 'sip1.pbx.test', ['192.0.2.7'])
    expect(await hops('sip:bob@pbx.test;transport=tcp')).toEqual(['TCP 192.0.2.7:5070'])
    expect(dns.queries).toEqual(['SRV _sip._tcp.pbx.test', 'A sip1.pbx.test'])
  })

  test('an explicit transport without SRV: A with the default port', async () => {
    const { dns, hops } = setup()
    dns.set('A', 'pbx.test', ['192.0.2.1'])
    expect(await hops('sip:bob@pbx.test;transport=tcp')).toEqual(['TCP 192.0.2.1:5060'])
    expect(await hops('sips:bob@pbx.test;transport=tcp')).toEqual(['TLS 192.0.2.1:5061'])
    expect(dns.count('SRV', '_sips._tcp.pbx.test')).toBe(1)
  })

  test.each([
    ['sips:bob@pbx.test;transport=udp', /transport=udp/],
    ['sip:bob@pbx.test;transport=ws', /transport=ws is not supported/],
    ['tel:+15551234', /not a SIP URI/],
  ])('%s is refused with a reason', async (text, reason) => {
    const { dns, locator } = setup()
    const result = await locator.resolve(uri(text))
    expect(result.servers).toEqual([])
    expect(result.reason).toMatch(reason)
    expect(dns.queries).toEqual([])
  })

  test('a transport that is not enabled is refused', async () => {
    const { locator } = setup({ transports: ['UDP'] })
    const result = await locator.resolve(uri('sip:192.0.2.1;transport=tcp'))
    expect(result).toMatchObject({ servers: [], reason: 'transport TCP is not enabled' })
  })
})

describe('RFC 3263 NAPTR -> SRV -> A', () => {
  test('NAPTR records by order then preference, each expanded through SRV and A', async () => {
    const { dns, locator } = setup()
    dns.set('NAPTR', 'pbx.test', [
      naptr(20, 10, 'SIPS+D2T', '_sips._tcp.pbx.test'),
      naptr(10, 20, 'SIP+D2T', '_sip._tcp.pbx.test'),
      naptr(10, 10, 'SIP+D2U', '_sip._udp.pbx.test'),
    ])
    dns.set('SRV', '_sip._udp.pbx.test', [srv('u.pbx.test', 5060)])
    dns.set('SRV', '_sip._tcp.pbx.test', [srv('t.pbx.test', 5070)])
    dns.set('SRV', '_sips._tcp.pbx.test', [srv('t.pbx.test', 5071)])
    dns.set('A', 'u.pbx.test', ['192.0.2.1'])
    dns.set('A', 't.pbx.test', ['192.0.2.2'])
    const servers = await locator.locate(uri('sip:bob@pbx.test'))
    expect(servers).toEqual([
      { transport: 'UDP', address: '192.0.2.1', port: 5060, target: 'u.pbx.test', priority: 10, weight: 0 },
      { transport: 'TCP', address: '192.0.2.2', port: 5070, target: 't.pbx.test', priority: 10, weight: 0 },
      { transport: 'TLS', address: '192.0.2.2', port: 5071, target: 't.pbx.test', priority: 10, weight: 0 },
    ])
    expect(toDestination(servers[1]!)).toEqual({ transport: 'TCP', address: '192.0.2.2', port: 5070 })
  })

  test('unsupported services, other flags and disabled transports are discarded', async () => {
    const { dns, hops } = setup({ transports: ['UDP', 'TCP'] })
    dns.set('NAPTR', 'pbx.test', [
      naptr(1, 1, 'SIPS+D2T', '_sips._tcp.pbx.test'),
      naptr(2, 1, 'SIP+D2S', '_sip._sctp.pbx.test'),
      naptr(3, 1, 'SIP+D2U', 'u.pbx.test', 'a'),
      naptr(4, 1, 'SIP+D2T', '_sip._tcp.pbx.test'),
    ])
    dns.set('SRV', '_sip._tcp.pbx.test', [srv('192.0.2.9', 5090)])
    expect(await hops('sip:bob@pbx.test')).toEqual(['TCP 192.0.2.9:5090'])
    expect(dns.queries.filter((q) => q.startsWith('SRV'))).toEqual(['SRV _sip._tcp.pbx.test'])
  })

  test('a sips URI uses SIPS+D2T records only', async () => {
    const { dns, hops } = setup()
    dns.set('NAPTR', 'pbx.test', [naptr(1, 1, 'SIP+D2U', '_sip._udp.pbx.test'), naptr(2, 1, 'SIPS+D2T', '_sips._tcp.pbx.test')])
    dns.set('SRV', '_sip._udp.pbx.test', [srv('u.pbx.test', 5060)])
    dns.set('SRV', '_sips._tcp.pbx.test', [srv('t.pbx.test', 5061)])
    dns.set('A', 'u.pbx.test', ['192.0.2.1'])
    dns.set('A', 't.pbx.test', ['192.0.2.2'])
    expect(await hops('sips:bob@pbx.test')).toEqual(['TLS 192.0.2.2:5061'])
  })

  test('no NAPTR: SRV for each enabled transport, in transport order', async () => {
    const { dns, hops } = setup()
    dns.set('SRV', '_sip._tcp.pbx.test', [srv('t.pbx.test', 5070)])
    dns.set('SRV', '_sip._udp.pbx.test', [srv('u.pbx.test', 5060)])
    dns.set('A', 'u.pbx.test', ['192.0.2.1'])
    dns.set('A', 't.pbx.test', ['192.0.2.2'])
    expect(await hops('sip:bob@pbx.test')).toEqual(['UDP 192.0.2.1:5060', 'TCP 192.0.2.2:5070'])
    expect(dns.queries.slice(0, 4)).toEqual(['NAPTR pbx.test', 'SRV _sip._udp.pbx.test', 'SRV _sip._tcp.pbx.test', 'SRV _sips._tcp.pbx.test'])
  })

  test('no NAPTR, no SRV: A with port 5060 over UDP (5061 over TLS for sips)', async () => {
    const { dns, hops } = setup()
    dns.set('A', 'pbx.test', ['192.0.2.1'])
    expect(await hops('sip:bob@pbx.test')).toEqual(['UDP 192.0.2.1:5060'])
    expect(await hops('sips:bob@pbx.test')).toEqual(['TLS 192.0.2.1:5061'])
    expect(dns.count('SRV', '_sip._udp.pbx.test')).toBe(1)
    expect(dns.count('SRV', '_sips._tcp.pbx.test')).toBe(2)
  })

  test('NAPTR whose SRV names do not exist falls back to A', async () => {
    const { dns, hops } = setup()
    dns.set('NAPTR', 'pbx.test', [naptr(1, 1, 'SIP+D2T', '_sip._tcp.pbx.test')])
    dns.set('A', 'pbx.test', ['192.0.2.1'])
    expect(await hops('sip:bob@pbx.test')).toEqual(['TCP 192.0.2.1:5060'])
  })

  test('SRV priorities then weights; every address of each target, in order', async () => {
    const { dns, locator } = setup({ random: sequence(0.99) })
    dns.set('SRV', '_sip._udp.pbx.test', [srv('backup.pbx.test', 5062, 20, 0), srv('b.pbx.test', 5061, 10, 40), srv('a.pbx.test', 5060, 10, 60)])
    dns.set('A', 'a.pbx.test', ['192.0.2.1', '192.0.2.11'])
    dns.set('A', 'b.pbx.test', ['192.0.2.2'])
    dns.set('A', 'backup.pbx.test', ['192.0.2.3'])
    const servers = await locator.locate(uri('sip:bob@pbx.test'))
    // random 0.99 -> threshold 99 of 100: the record whose running sum reaches it comes first.
    expect(servers.map((s) => `${s.target} ${s.address}:${s.port} p${s.priority} w${s.weight}`)).toEqual([
      'a.pbx.test 192.0.2.1:5060 p10 w60',
      'a.pbx.test 192.0.2.11:5060 p10 w60',
      'b.pbx.test 192.0.2.2:5061 p10 w40',
      'backup.pbx.test 192.0.2.3:5062 p20 w0',
    ])
  })

  test('an SRV target "." means no service: no A fallback', async () => {
    const { dns, locator } = setup({ transports: ['UDP'] })
    dns.set('SRV', '_sip._udp.pbx.test', [srv('', 0, 0, 0)])
    dns.set('A', 'pbx.test', ['192.0.2.1'])
    const result = await locator.resolve(uri('sip:bob@pbx.test'))
    expect(result.servers).toEqual([])
    expect(dns.count('A', 'pbx.test')).toBe(0)
  })

  test('IPv6 addresses follow a target\'s IPv4 ones when enabled', async () => {
    const { dns, hops } = setup({ ipv6: true })
    dns.set('A', 'pbx.test', ['192.0.2.1'])
    dns.set('AAAA', 'pbx.test', ['2001:db8::1'])
    expect(await hops('sip:bob@pbx.test:5060')).toEqual(['UDP 192.0.2.1:5060', 'UDP 2001:db8::1:5060'])
    const v4only = setup()
    v4only.dns.set('AAAA', 'pbx.test', ['2001:db8::1'])
    expect(await v4only.hops('sip:bob@pbx.test:5060')).toEqual([])
    expect(v4only.dns.count('AAAA', 'pbx.test')).toBe(0)
  })

  test('duplicates (same transport, address, port) are listed once', async () => {
    const { dns, hops } = setup()
    dns.set('SRV', '_sip._udp.pbx.test', [srv('a.pbx.test', 5060, 10), srv('b.pbx.test', 5060, 20)])
    dns.set('A', 'a.pbx.test', ['192.0.2.1'])
    dns.set('A', 'b.pbx.test', ['192.0.2.1'])
    expect(await hops('sip:bob@pbx.test')).toEqual(['UDP 192.0.2.1:5060'])
  })
})

describe('failures give an empty list with a reason, never an exception', () => {
  test('a NAPTR timeout ends the location without further look-ups', async () => {
    warnings.length = 0
    const { dns, locator } = setup()
    dns.set('NAPTR', 'pbx.test', { kind: 'failure', reason: 'NAPTR pbx.test: ETIMEOUT' })
    const result = await locator.resolve(uri('sip:bob@pbx.test'))
    expect(result).toMatchObject({ servers: [], reason: 'NAPTR pbx.test: NAPTR pbx.test: ETIMEOUT' })
    expect(dns.queries).toEqual(['NAPTR pbx.test'])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatchObject({ msg: 'no next hop for URI', host: 'pbx.test' })
  })

  test('an SRV SERVFAIL gives no A fallback; other transports still count', async () => {
    const { dns, locator } = setup()
    dns.set('SRV', '_sip._udp.pbx.test', { kind: 'failure', reason: 'ESERVFAIL' })
    dns.set('SRV', '_sip._tcp.pbx.test', [srv('t.pbx.test', 5070)])
    dns.set('A', 't.pbx.test', ['192.0.2.2'])
    dns.set('A', 'pbx.test', ['192.0.2.1'])
    expect((await locator.locate(uri('sip:bob@pbx.test'))).map((s) => s.address)).toEqual(['192.0.2.2'])
    dns.set('SRV', '_sip._tcp.pbx.test', { kind: 'failure', reason: 'ESERVFAIL' })
    const only = await setupWith(dns).resolve(uri('sip:bob@pbx.test'))
    expect(only.servers).toEqual([])
    expect(only.reason).toBe('SRV _sip._udp.pbx.test: ESERVFAIL')
  })

  test('a failed A look-up drops only that SRV target', async () => {
    const { dns, hops } = setup()
    dns.set('SRV', '_sip._udp.pbx.test', [srv('a.pbx.test', 5060, 10), srv('b.pbx.test', 5062, 20)])
    dns.set('A', 'a.pbx.test', { kind: 'failure', reason: 'ETIMEOUT' })
    dns.set('A', 'b.pbx.test', ['192.0.2.2'])
    expect(await hops('sip:bob@pbx.test')).toEqual(['UDP 192.0.2.2:5062'])
  })

  test('a name without any record: empty, the reason names it', async () => {
    const { locator } = setup()
    const result = await locator.resolve(uri('sip:bob@nowhere.test'))
    expect(result).toMatchObject({ servers: [], reason: 'no address for nowhere.test' })
    expect(result.steps).toContain('NAPTR nowhere.test: none')
  })
})

function setupWith(dns: FakeDnsClient): ServerLocator {
  return new ServerLocator({ client: dns, random: sequence(0), log: quiet })
}

import { describe, expect, test } from 'bun:test'
import { SourceAllowList, parseAllowListEntry } from '../../../../gateway/src/sip/security/source-allow-list.ts'

describe('SourceAllowList', () => {
  test('exact IPv4 and IPv6 addresses, and IPv4-mapped IPv6 forms of IPv4 entries', () => {
    const l = new SourceAllowList(['192.0.2.10', '2001:db8::10'])
    expect(l.has('192.0.2.10')).toBe(true)
    expect(l.has('::ffff:192.0.2.10')).toBe(true)
    expect(l.has('2001:db8::10')).toBe(true)
    expect(l.has('192.0.2.11')).toBe(false)
    expect(l.has('2001:db8::11')).toBe(false)
  })

  test('CIDR prefixes', () => {
    const l = new SourceAllowList(['10.0.0.0/8', '2001:db8:1::/48'])
    expect(l.has('10.200.3.4')).toBe(true)
    expect(l.has('::ffff:10.1.1.1')).toBe(true)
    expect(l.has('11.0.0.1')).toBe(false)
    expect(l.has('2001:db8:1:ffff::1')).toBe(true)
    expect(l.has('2001:db8:2::1')).toBe(false)
    expect(l.has('not-an-address')).toBe(false)
  })

  test('an empty list allows nothing', () => {
    expect(new SourceAllowList([]).has('127.0.0.1')).toBe(false)
  })

  test('entries: addresses and prefixes parse, anything else is null (and throws in the constructor)', () => {
    expect(parseAllowListEntry('192.0.2.1')).toEqual({ kind: 'address', address: '192.0.2.1' })
    expect(parseAllowListEntry('192.0.2.0/24')).toEqual({ kind: 'subnet', network: '192.0.2.0', prefix: 24, family: 'ipv4' })
    expect(parseAllowListEntry('::/0')).toEqual({ kind: 'subnet', network: '::', prefix: 0, family: 'ipv6' })
    for (const bad of ['pbx.example.org', '192.0.2.0/33', '2001:db8::/129', '192.0.2.0/', '192.0.2.0/x', '/24', '300.1.1.1']) {
      expect(parseAllowListEntry(bad)).toBeNull()
    }
    expect(() => new SourceAllowList(['pbx.example.org'])).toThrow(TypeError)
  })
})

/**
 * Source addresses the security guards leave alone (never banned, never rate-limited, never
 * refused at the transaction cap): exact IPv4/IPv6 addresses and CIDR prefixes, like
 * Kamailio's `permissions` address table or Asterisk's ACL `permit=`.
 *
 * Exact addresses are a Set lookup; prefixes use node:net's BlockList (about 0.2 µs a check
 * here), consulted only when some prefix is configured. IPv4-mapped IPv6 addresses
 * (`::ffff:192.0.2.1`, what a dual-stack socket reports) match their IPv4 entries.
 */
import { BlockList, isIP } from 'node:net'

/** One allow-list entry, parsed. */
export type AllowListEntry =
  | { kind: 'address'; address: string }
  | { kind: 'subnet'; network: string; prefix: number; family: 'ipv4' | 'ipv6' }

/**
 * Reads `192.0.2.10`, `2001:db8::1`, `192.0.2.0/24` or `2001:db8::/32`. Returns null for
 * anything else (host names, bad prefixes): the loader reports it with file:line.
 */
export function parseAllowListEntry(text: string): AllowListEntry | null {
  const slash = text.indexOf('/')
  if (slash < 0) return isIP(text) === 0 ? null : { kind: 'address', address: text }
  const network = text.slice(0, slash)
  const prefixText = text.slice(slash + 1)
  const family = isIP(network)
  if (family === 0 || !/^\d{1,3}$/.test(prefixText)) return null
  const prefix = Number(prefixText)
  if (prefix > (family === 4 ? 32 : 128)) return null
  return { kind: 'subnet', network, prefix, family: family === 4 ? 'ipv4' : 'ipv6' }
}

/** The allow-list: exact addresses and CIDR prefixes. */
export class SourceAllowList {
  private readonly exact = new Set<string>()
  private readonly subnets = new BlockList()
  private hasSubnets = false

  /**
   * @param entries addresses and prefixes (see parseAllowListEntry)
   * @throws TypeError for an entry that is neither (the loader checks them first)
   */
  constructor(entries: Iterable<string>) {
    for (const text of entries) {
      const e = parseAllowListEntry(text)
      if (e === null) throw new TypeError(`not an IP address or CIDR prefix: ${text}`)
      if (e.kind === 'address') this.exact.add(e.address)
      else {
        this.subnets.addSubnet(e.network, e.prefix, e.family)
        this.hasSubnets = true
      }
    }
  }

  /** Whether `address` (as a socket reports it) is on the list. */
  has(address: string): boolean {
    if (this.exact.has(address)) return true
    const mapped = address.startsWith('::ffff:') && address.indexOf('.') > 0 ? address.slice(7) : null
    if (mapped !== null && this.exact.has(mapped)) return true
    if (!this.hasSubnets) return false
    const a = mapped ?? address
    const family = isIP(a)
    return family !== 0 && this.subnets.check(a, family === 4 ? 'ipv4' : 'ipv6')
  }
}

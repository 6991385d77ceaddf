/**
 * Which trunk an inbound request comes from (Asterisk's `identify` section, Kamailio's
 * `permissions` address table): by the source IP address of the request, and optionally a
 * header with a given value (for several trunks behind one SBC address). The first trunk in
 * trunks.yaml order whose conditions all hold wins.
 *
 * A trunk that lists no addresses is matched by the addresses its host (and outbound proxy)
 * resolve to: `setResolvedAddresses`, filled by the TrunkRegistry from DNS (RFC 3263).
 */
import { BlockList, isIP } from 'node:net'
import type { SipRequest } from '../message/sip-message.ts'
import { parseAllowListEntry } from '../security/source-allow-list.ts'
import type { TrunkDefinition } from '../dialplan/trunk-definition.ts'

interface Matcher {
  trunk: TrunkDefinition
  exact: Set<string>
  subnets: BlockList | null
  header: { name: string; value: string } | null
}

/** Source-address (and header) matching of inbound requests to trunks; see the file comment. */
export class InboundTrunkMatcher {
  private readonly matchers: Matcher[]

  /** @param trunks in trunks.yaml order (first match wins); entries were validated by the loader */
  constructor(trunks: readonly TrunkDefinition[]) {
    this.matchers = trunks.map((trunk) => {
      const exact = new Set<string>()
      let subnets: BlockList | null = null
      for (const text of trunk.inbound.addresses) {
        const e = parseAllowListEntry(text)
        if (e === null) continue
        if (e.kind === 'address') exact.add(normalize(e.address))
        else {
          subnets ??= new BlockList()
          subnets.addSubnet(e.network, e.prefix, e.family)
        }
      }
      if (trunk.inbound.addresses.length === 0 && isIP(trunk.host) !== 0) exact.add(normalize(trunk.host))
      const h = trunk.inbound.header
      return { trunk, exact, subnets, header: h ? { name: h.name.toLowerCase(), value: h.value } : null }
    })
  }

  /**
   * A trunk without configured addresses whose host is a DNS name: the addresses it resolved
   * to (replacing the previous set).
   */
  setResolvedAddresses(trunkName: string, addresses: readonly string[]): void {
    const m = this.matchers.find((x) => x.trunk.name === trunkName)
    if (m === undefined || m.trunk.inbound.addresses.length > 0) return
    m.exact.clear()
    if (isIP(m.trunk.host) !== 0) m.exact.add(normalize(m.trunk.host))
    for (const a of addresses) m.exact.add(normalize(a))
  }

  /** The trunk `request` from `source` (an IP address) belongs to, or null. */
  match(source: string, request: SipRequest): TrunkDefinition | null {
    if (this.matchers.length === 0) return null
    const address = normalize(source)
    for (const m of this.matchers) {
      if (!m.exact.has(address) && !(m.subnets !== null && m.subnets.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4'))) continue
      if (m.header !== null && !request.getAll(m.header.name).some((v) => v.trim() === m.header!.value)) continue
      return m.trunk
    }
    return null
  }
}

/** `::ffff:192.0.2.1` (a dual-stack socket's view of an IPv4 peer) -> `192.0.2.1`; IPv6 lower case. */
function normalize(address: string): string {
  const a = address.toLowerCase()
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a
}

/**
 * The proxy targets of one call leaving through one trunk (RFC 3261 §16.5 target, RFC 3263
 * next hops): the Request-URI `sip:<number>@<host>[:port][;transport=..]`, sent to the
 * trunk's outbound proxy (with a loose Route, §8.1.2) when it has one, else to the servers the
 * host resolves to, in RFC 3263 order — one target per server, tried one after another on
 * 503, timeout or transport error (§4.3), before the dial plan moves to the next trunk.
 *
 * The offer keeps only the trunk's allowed codecs (codec-filter.ts).
 *
 * The caller identity the trunk should show goes in P-Asserted-Identity (RFC 3325 §9.1),
 * replacing the user's own asserted identity: the trunk's `callerId`, else the `fromUser` /
 * `fromDomain` the trunk expects. (A proxy may not rewrite From, RFC 3261 §16.6; a carrier
 * that requires its account in From needs a B2BUA, like Kamailio's uac_replace_from.)
 */
import type { HeaderField } from '../syntax/types.ts'
import { parseUri } from '../syntax/uri.ts'
import type { Target } from '../proxy/target.ts'
import type { DnsLocator } from '../dns/dns-locator.ts'
import { toDestination } from '../dns/dns-locator.ts'
import type { TrunkDefinition } from '../dialplan/trunk-definition.ts'
import { filterOfferCodecs } from './codec-filter.ts'

/** Targets for a trunk, or why there are none. */
export interface TrunkTargets {
  targets: Target[]
  /** Null when targets were found; else e.g. "SRV _sip._udp.carrier.example: no record". */
  reason: string | null
}

/** The Request-URI for `number` at `trunk` (RFC 3261 §19.1; the user part escaped, §25.1). */
export function trunkRequestUri(trunk: TrunkDefinition, number: string): string {
  const user = encodeURIComponent(number).replace(/%2B/gi, '+').replace(/%23/g, '%23')
  const host = trunk.host.includes(':') && !trunk.host.startsWith('[') ? `[${trunk.host}]` : trunk.host
  const scheme = trunk.transport === 'tls' ? 'sips' : 'sip'
  let uri = `${scheme}:${user}@${host}`
  if (trunk.port !== undefined) uri += `:${trunk.port}`
  if (trunk.transport === 'tcp') uri += ';transport=tcp'
  return uri
}

/** The trunk's own URI without a user (`sip:pbx.example.com:5070;transport=tcp`): REGISTER and OPTIONS go there. */
export function trunkHostUri(trunk: TrunkDefinition): string {
  return trunkRequestUri(trunk, '').replace('@', '')
}

/** The P-Asserted-Identity a trunk shows for a call, or null (keep the caller's). */
export function trunkAssertedIdentity(trunk: TrunkDefinition): string | null {
  const number = trunk.callerId?.number ?? trunk.fromUser
  if (number === undefined) return null
  const domain = trunk.fromDomain ?? trunk.host
  const name = trunk.callerId?.name
  const uri = `<sip:${number}@${domain}>`
  return name !== undefined ? `"${name.replace(/["\\]/g, '')}" ${uri}` : uri
}

/**
 * Resolves the next hops of `trunk` for a call to `number`. Never rejects: a DNS failure gives
 * no targets and the reason.
 */
export async function trunkTargets(trunk: TrunkDefinition, number: string, locator: DnsLocator): Promise<TrunkTargets> {
  const requestUri = trunkRequestUri(trunk, number)
  const hopText = trunk.outboundProxy ?? requestUri
  const hop = parseUri(hopText)
  if (hop === null) return { targets: [], reason: `unreadable URI ${hopText}` }
  const location = await locator.resolve(hop)
  if (location.servers.length === 0) return { targets: [], reason: location.reason ?? `no server for ${hopText}` }
  const headers: HeaderField[] = []
  if (trunk.outboundProxy !== undefined) headers.push({ name: 'route', value: `<${trunk.outboundProxy.replace(/;lr\b/, '')};lr>` })
  const pai = trunkAssertedIdentity(trunk)
  if (pai !== null) headers.push({ name: 'p-asserted-identity', value: pai })
  return {
    targets: location.servers.map((s) => ({
      requestUri, destination: toDestination(s), trunk: trunk.name, ...(headers.length > 0 ? { headers } : {}),
      ...(trunk.codecs.length > 0 ? { offerFilter: (sdp: string) => filterOfferCodecs(sdp, trunk.codecs) } : {}),
    })),
    reason: null,
  }
}

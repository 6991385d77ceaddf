/**
 * The address-of-record key: the index into the location service (RFC 3261 §10.3 step 5).
 *
 * The registrar builds it from the To URI of a REGISTER; the proxy builds it from the
 * Request-URI of a request for a local user. Both must land on the same string.
 */
import type { SipUri } from '../syntax/types.ts'
import { unescapeUriComponent } from '../syntax/uri.ts'

/**
 * Normalized AOR key `"sip:" user "@" domain` for a SIP or SIPS URI.
 *
 * RFC 3261 §10.3 step 5:
 * > The URI MUST then be converted to a canonical form.  To do that, all URI parameters MUST be
 * > removed (including the user-param), and any escaped characters MUST be converted to their
 * > unescaped form.  The result serves as an index into the list of bindings.
 *
 * and §19.1.4: "Comparison of the userinfo of SIP and SIPS URIs is case-sensitive. [...]
 * Comparison of all other components of the URI is case-insensitive". So the user part is kept
 * as is (after unescaping), the host is lower-cased, the scheme folds to `sip` (one binding list
 * serves sip: and sips: lookups of the same user), password and headers are dropped, and a host
 * that names this gateway (`isLocalHost`, or the domain itself) becomes `domain`, port dropped.
 * A foreign host keeps its port (`sip:bob@example.org:5070`). A URI without user part gives
 * `sip:host`.
 *
 * @param uri a parsed URI (To of a REGISTER, Request-URI of a request)
 * @param domain the configured SIP domain (lower-case)
 * @param isLocalHost true for host names/addresses that mean this gateway (aliases, listen
 *   addresses, localhost); receives the lower-case host (IPv6 with brackets)
 * @returns the key, or null when the URI is not a sip:/sips: URI
 */
export function aorKey(uri: SipUri, domain: string, isLocalHost: (host: string) => boolean): string | null {
  if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return null
  const host = uri.host.toLowerCase()
  let hostPart: string
  if (host === domain || isLocalHost(host)) hostPart = domain
  else hostPart = uri.port === null ? host : `${host}:${uri.port}`
  if (uri.user === null || uri.user === '') return `sip:${hostPart}`
  return `sip:${unescapeUriComponent(uri.user)}@${hostPart}`
}

/**
 * Network-asserted identity (RFC 3325): the gateway is the trust domain's edge for its users.
 * Once it has authenticated a request, it tells the other side who sent it, with the display
 * name from users.yaml, in P-Asserted-Identity (§9.1: "a proxy [...] that authenticates the
 * originator [...] MAY insert a P-Asserted-Identity header field"), so that phones and the
 * softphone show the name the operator configured rather than whatever the caller put in From.
 * A P-Asserted-Identity that arrives from outside the trust domain (any source that is not a
 * trusted one) is removed first (§5: "proxies [...] MUST remove it" when received from an
 * untrusted entity), so nobody can claim to be someone else.
 */
import type { SipRequest } from '../message/sip-message.ts'

export const P_ASSERTED_IDENTITY = 'p-asserted-identity'

/** Removes every P-Asserted-Identity a request from an untrusted source carries (RFC 3325 §5). */
export function stripAssertedIdentity(request: SipRequest): void {
  if (request.has(P_ASSERTED_IDENTITY)) request.remove(P_ASSERTED_IDENTITY)
}

/**
 * Adds the asserted identity of authenticated `username` (`"Display Name" <sip:user@domain>`,
 * RFC 3325 §9.1). Quotes and backslashes are escaped in the display name (RFC 3261 §25.1
 * quoted-string).
 */
export function assertIdentity(request: SipRequest, username: string, domain: string, displayName: string | undefined): void {
  const uri = `<sip:${username}@${domain}>`
  const name = displayName?.trim()
  request.append(P_ASSERTED_IDENTITY, name ? `"${name.replace(/(["\\])/g, '\\$1')}" ${uri}` : uri)
}

/**
 * Small readers of SIP header values that the JSON leg needs (RFC 3261 §20.10 name-addr,
 * RFC 3325 P-Asserted-Identity).
 */
import type { SipRequest } from '../../sip/message/sip-message.ts'
import { parseNameAddr } from '../../sip/syntax/name-addr.ts'

/** The URI inside a name-addr header value (`"Bob" <sip:bob@x>;tag=1` -> `sip:bob@x`). */
export function uriText(nameAddr: string): string {
  const lt = nameAddr.indexOf('<')
  if (lt >= 0) {
    const gt = nameAddr.indexOf('>', lt)
    if (gt > lt) return nameAddr.slice(lt + 1, gt)
  }
  const semi = nameAddr.indexOf(';')
  return (semi >= 0 ? nameAddr.slice(0, semi) : nameAddr).trim()
}

/**
 * The display name of the request's P-Asserted-Identity (RFC 3325), which the gateway sets
 * from users.yaml for its authenticated users; undefined without one.
 */
export function assertedDisplayName(request: SipRequest): string | undefined {
  const pai = request.get('p-asserted-identity')
  const name = pai === undefined ? undefined : parseNameAddr(pai)?.displayName
  return name ?? undefined
}

/** Whether a comma-separated header (Supported, Recv-Info, ...; every instance) lists `token`, case-insensitively. */
export function hasToken(values: readonly string[], token: string): boolean {
  const t = token.toLowerCase()
  return values.some((v) => v.split(',').some((x) => x.split(';')[0]!.trim().toLowerCase() === t))
}

/**
 * Via branch values for requests the proxy forwards (RFC 3261 §8.1.1.7, §16.6 item 8).
 *
 * > The branch parameter value MUST be unique across space and time for all requests sent
 * > by the UA. [...] The branch ID inserted by an element compliant with this specification
 * > MUST always begin with the characters "z9hG4bK".
 * §16.6 item 8: "If a proxy chooses to employ loop detection, [...] the value [...] MUST be
 * computed to be different for requests that differ in any of the fields used for loop
 * detection" — so our branches are `z9hG4bK-pb<loop hash>.<unique>`, and §16.3 item 4 compares
 * the loop hash of an incoming request with the one in any Via of ours it carries.
 */
import type { SipRequest } from '../message/sip-message.ts'

const PREFIX = 'z9hG4bK-pb'
const instance = (Math.random() * 0xffffffff >>> 0).toString(36)
let counter = 0

/**
 * Hash of the fields RFC 3261 §16.3 item 4 lists for loop detection: Request-URI, To tag,
 * From tag, Call-ID, CSeq number, Proxy-Require, Proxy-Authorization (+ Route).
 */
export function loopHash(req: SipRequest, requestUri: string): string {
  const key = requestUri + '\u0000' + (req.get('to') ?? '') + '\u0000' + (req.get('from') ?? '') + '\u0000' +
    (req.get('call-id') ?? '') + '\u0000' + req.cseq.seq + '\u0000' + (req.get('proxy-require') ?? '') + '\u0000' +
    (req.get('route') ?? '')
  return (Bun.hash.wyhash(key) & 0xffffffffffffn).toString(36)
}

/** A fresh branch carrying the loop hash: `z9hG4bK-pb<hash>.<instance><counter>`. */
export function proxyBranch(hash: string): string {
  counter = (counter + 1) >>> 0
  return `${PREFIX}${hash}.${instance}${counter.toString(36)}`
}

/** The loop hash inside one of our branches, or null when the branch is not ours. */
export function branchLoopHash(branch: string | null): string | null {
  if (branch === null || !branch.startsWith(PREFIX)) return null
  const dot = branch.indexOf('.', PREFIX.length)
  return dot < 0 ? null : branch.slice(PREFIX.length, dot)
}

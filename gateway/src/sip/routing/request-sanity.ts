/**
 * Request sanity: the application-level checks that a proxy (RFC 3261 §16.3) and a UAS
 * (§8.2.2, §8.2.3) make after the parser accepted a request's syntax, i.e. the first stage
 * of the routing pipeline. Covers RFC 4475 §3.3: unkscm, novelsc (416), bext01 (420),
 * zeromf (483 / process), unksm2 (400), invut (415), sdp01 (406).
 *
 * RFC 3261 §16.3 Request Validation:
 *
 * > Before an element can proxy a request, it MUST verify the message's validity.  A valid
 * > message must pass the following checks:
 * >    1. Reasonable Syntax  2. URI scheme  3. Max-Forwards  4. (Optional) Loop Detection
 * >    5. Proxy-Require  6. Proxy-Authorization
 * > If any of these checks fail, the element MUST behave as a user agent server (see
 * > Section 8.2) and respond with an error code.
 *
 * Reasonable syntax is the parser's job (parseMessage); loop detection and
 * Proxy-Authorization are later pipeline stages.
 */
import type { HeaderField } from '../syntax/types.ts'
import type { SipRequest } from '../message/sip-message.ts'
import { REASON_PHRASES } from '../message/create-response.ts'
import { parseNameAddr } from '../syntax/name-addr.ts'

export type SanityVerdict = { ok: true } | { ok: false; status: number; reason: string; headers?: HeaderField[] }

export interface SanityContext {
  /**
   * The gateway itself is the UAS for this request (its own URI / domain with no proxying:
   * REGISTER to the registrar, OPTIONS to the gateway). Checks Require instead of
   * Proxy-Require (§8.2.2.3), enables the body checks of §8.2.3, the Accept check and the
   * REGISTER URI schemes, and exempts the request from the Max-Forwards 0 rule (§16.3).
   */
  isForMe: boolean
  /** Option tags the gateway understands (Require / Proxy-Require), lower-case. */
  supportedOptions: ReadonlySet<string>
  /** Body media types (`type/subtype`, lower-case) the gateway understands, e.g. application/sdp. */
  acceptedContentTypes: ReadonlySet<string>
  /**
   * Media types the gateway would put in a response body (for the Accept check, 406).
   * Defaults to `acceptedContentTypes`.
   */
  answerContentTypes?: ReadonlySet<string>
}

const OK: SanityVerdict = Object.freeze({ ok: true }) as SanityVerdict
const SUPPORTED_SCHEMES: ReadonlySet<string> = new Set(['sip', 'sips', 'tel'])

function reject(status: number, headers?: HeaderField[]): SanityVerdict {
  const v: { ok: false; status: number; reason: string; headers?: HeaderField[] } = {
    ok: false,
    status,
    reason: REASON_PHRASES[status] ?? 'Error',
  }
  if (headers !== undefined) v.headers = headers
  return v
}

/** Lower-case scheme of a URI text (before the first ':'), or '' when there is none. */
function schemeOf(uri: string): string {
  const colon = uri.indexOf(':')
  return colon > 0 ? uri.slice(0, colon).toLowerCase() : ''
}

/** Comma-separated tokens of every field of `name`, trimmed, empty ones dropped. */
function listValues(req: SipRequest, name: string): string[] {
  const out: string[] = []
  for (const v of req.getAll(name)) {
    for (const part of v.split(',')) {
      const t = part.trim()
      if (t.length > 0) out.push(t)
    }
  }
  return out
}

function unsupportedTags(req: SipRequest, name: string, supported: ReadonlySet<string>): string[] {
  const out: string[] = []
  for (const tag of listValues(req, name)) {
    // option-tag = token; "Tokens are always case-insensitive" (§7.3.1).
    if (!supported.has(tag) && !supported.has(tag.toLowerCase())) out.push(tag)
  }
  return out
}

/** `type/subtype` of a Content-Type / media-range, lower-case, without parameters. */
function mediaType(v: string): string {
  const semi = v.indexOf(';')
  return (semi >= 0 ? v.slice(0, semi) : v).trim().toLowerCase()
}

/** True when the media-range (`*\/*`, `type/*`, `type/subtype`) covers `type`. */
function rangeCovers(range: string, type: string): boolean {
  if (range === '*/*' || range === type) return true
  if (range.endsWith('/*')) return type.startsWith(range.slice(0, -1))
  return false
}

/** q=0 in a media-range means "not acceptable" (RFC 2616 §14.1, which §20.1 follows). */
function hasQZero(range: string): boolean {
  const params = range.split(';')
  for (let k = 1; k < params.length; k++) {
    const p = params[k]!.trim().toLowerCase()
    if (p.startsWith('q') && /^q\s*=\s*0(\.0{0,3})?$/.test(p)) return true
  }
  return false
}

/**
 * Runs the request validation steps after parsing, in the order of §16.3 then §8.2:
 *
 * 1. URI scheme (§16.3 step 2, §8.2.2.1): "If the Request-URI has a URI whose scheme is not
 *    understood by the proxy, the proxy SHOULD reject the request with a 416 (Unsupported URI
 *    Scheme) response." The gateway understands sip, sips and tel.
 * 2. Max-Forwards (§16.3 step 3): "If the request contains a Max-Forwards header field with
 *    a field value of zero (0), the element MUST NOT forward the request.  If the request
 *    was for OPTIONS, the element MAY act as the final recipient and respond per Section 11.
 *    Otherwise, the element MUST return a 483 (Too many hops) response." -> 483 unless
 *    `ctx.isForMe` (the caller sets isForMe for an OPTIONS it answers itself).
 * 3. Proxy-Require, when the gateway proxies the request (§16.3 step 5): "If the request
 *    contains a Proxy-Require header field (Section 20.29) with one or more option-tags
 *    this element does not understand, the element MUST return a 420 (Bad Extension)
 *    response.  The response MUST include an Unsupported (Section 20.40) header field
 *    listing those option-tags the element did not understand."
 * 4. Require, instead of Proxy-Require, when `ctx.isForMe` (§8.2.2.3; a UAS ignores
 *    Proxy-Require, which names "proxy-sensitive features", §20.29): "If a UAS does not
 *    understand an option-tag listed in a Require header field, it MUST respond by
 *    generating a response with status code 420 (Bad Extension).  The UAS MUST add an
 *    Unsupported header field, and list in it those options it does not understand amongst
 *    those in the Require header field of the request." Steps 3-4 are skipped for CANCEL
 *    and ACK: "Require and Proxy-Require MUST NOT be used in a SIP CANCEL request, or in an
 *    ACK request sent for a non-2xx response.  These header fields MUST be ignored if they
 *    are present in these requests."
 * 5. REGISTER to the gateway: To and every Contact must be sip, sips or tel URIs (or `*`),
 *    else 400 (RFC 4475 §3.3.4 unksm2; an AOR must be a SIP or SIPS URI, §10.2).
 * 6. Bodies, only when `ctx.isForMe` (§8.2.3): "If there are any bodies whose type
 *    (indicated by the Content-Type), language (indicated by the Content-Language) or
 *    encoding (indicated by the Content-Encoding) are not understood, and that body part is
 *    not optional (as indicated by the Content-Disposition header field), the UAS MUST
 *    reject the request with a 415 (Unsupported Media Type) response.  The response MUST
 *    contain an Accept header field listing the types of all bodies it understands".
 *    An unknown Content-Encoding gets 415 with `Accept-Encoding: identity`.
 * 7. Accept, only when `ctx.isForMe`, for INVITE (and UPDATE carrying an offer), whose
 *    answer carries a session description: an Accept that covers none of the types the
 *    gateway answers with -> 406 (Not Acceptable, §21.4.7; RFC 4475 §3.3.15 sdp01). No
 *    Accept means application/sdp (§20.1); "An empty Accept header field means that no
 *    formats are acceptable."
 *
 * For an ACK the caller never answers: a failed verdict means "drop".
 * @returns `{ ok: true }`, or the status, reason phrase and extra header fields to answer with.
 */
export function checkRequestSanity(req: SipRequest, ctx: SanityContext): SanityVerdict {
  // 1. URI scheme
  if (!SUPPORTED_SCHEMES.has(schemeOf(req.uri))) return reject(416)

  // 2. Max-Forwards
  if (!ctx.isForMe) {
    const mf = req.get('max-forwards')
    if (mf !== undefined && Number.parseInt(mf, 10) === 0) return reject(483)
  }

  // 3-4. Proxy-Require (as a proxy) or Require (as the UAS): RFC 4475 §3.3.5 answers with
  // the tags "from either the Require or Proxy-Require header field depending on the role".
  const method = req.method
  if (method !== 'ACK' && method !== 'CANCEL') {
    const unsupported = unsupportedTags(req, ctx.isForMe ? 'require' : 'proxy-require', ctx.supportedOptions)
    if (unsupported.length > 0) return reject(420, [{ name: 'unsupported', value: unsupported.join(', ') }])
  }
  if (!ctx.isForMe) return OK

  // 5. REGISTER: To and Contact schemes
  if (method === 'REGISTER') {
    const to = req.get('to')
    const toAddr = to === undefined ? null : parseNameAddr(to)
    if (toAddr === null || !SUPPORTED_SCHEMES.has(toAddr.uri.scheme)) {
      return { ok: false, status: 400, reason: 'To is not a SIP, SIPS or tel URI' }
    }
    for (const c of req.getAll('contact')) {
      if (c === '*') continue
      const na = parseNameAddr(c)
      if (na === null || !SUPPORTED_SCHEMES.has(na.uri.scheme)) {
        return { ok: false, status: 400, reason: 'Contact is not a SIP, SIPS or tel URI' }
      }
    }
  }

  // 6. Bodies
  if (req.body.length > 0) {
    const disposition = req.get('content-disposition')
    const optional = disposition !== undefined && /;\s*handling\s*=\s*optional\b/i.test(disposition)
    if (!optional) {
      const ct = req.get('content-type')
      if (ct === undefined || !ctx.acceptedContentTypes.has(mediaType(ct))) {
        return reject(415, [{ name: 'accept', value: [...ctx.acceptedContentTypes].join(', ') }])
      }
      const ce = req.get('content-encoding')
      if (ce !== undefined) {
        for (const enc of ce.split(',')) {
          const e = enc.trim().toLowerCase()
          if (e.length > 0 && e !== 'identity') {
            return reject(415, [{ name: 'accept-encoding', value: 'identity' }])
          }
        }
      }
    }
  }

  // 7. Accept
  if (method === 'INVITE' || (method === 'UPDATE' && req.body.length > 0)) {
    const accepts = req.getAll('accept')
    if (accepts.length > 0) {
      const answerTypes = ctx.answerContentTypes ?? ctx.acceptedContentTypes
      let acceptable = false
      outer: for (const v of accepts) {
        for (const part of v.split(',')) {
          const range = part.trim()
          if (range.length === 0 || hasQZero(range)) continue
          const r = mediaType(range)
          for (const t of answerTypes) {
            if (rangeCovers(r, t)) {
              acceptable = true
              break outer
            }
          }
        }
      }
      if (!acceptable) return reject(406)
    }
  }
  return OK
}

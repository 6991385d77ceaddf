/**
 * Every way a REGISTER can end, and the response each one gets: one table, like Kamailio's
 * registrar `rerrno.h` + `reply.c` (outcome -> status code, reason phrase, extra headers).
 * The Registrar returns an outcome; `registrarErrorResponse` turns it into the SipResponse.
 */
import { createResponse } from '../message/create-response.ts'
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { HeaderField } from '../syntax/types.ts'

/** Failure outcomes of RFC 3261 §10.3 steps 1–7, RFC 3327 and RFC 5626 §6. */
export type RegistrarError =
  | 'request-uri-unreadable'
  | 'request-uri-not-local'
  | 'bad-extension'
  | 'to-unreadable'
  | 'to-not-sip'
  | 'to-no-user'
  | 'to-not-local'
  | 'forbidden'
  | 'call-id-missing'
  | 'cseq-unreadable'
  | 'contact-unreadable'
  | 'contact-not-sip'
  | 'star-with-other-contacts'
  | 'star-without-expires-zero'
  | 'invalid-q'
  | 'invalid-reg-id'
  | 'reg-id-multiple-contacts'
  | 'first-hop-lacks-outbound'
  | 'interval-too-brief'
  | 'out-of-order'
  | 'too-many-bindings'

/** Values some responses carry in extra headers. */
export interface RegistrarErrorContext {
  /** Min-Expires of a 423 (seconds). */
  minExpires?: number
  /** Option tags for Unsupported in a 420. */
  unsupported?: string[]
}

export interface RegistrarErrorEntry {
  status: number
  reason: string
  /** Extra header fields (canonical lower-case names) for this outcome. */
  headers?: (ctx: RegistrarErrorContext) => HeaderField[]
}

/** Outcome -> response. Reason phrases name the cause so that a trace explains itself. */
export const REGISTRAR_ERRORS: Readonly<Record<RegistrarError, RegistrarErrorEntry>> = {
  // §10.3 step 1: the Request-URI names a domain this registrar does not serve.
  'request-uri-unreadable': { status: 400, reason: 'Bad Request (unreadable Request-URI)' },
  'request-uri-not-local': { status: 404, reason: 'Not Found (domain not served here)' },
  // §10.3 step 2 / §8.2.2.3: "the UAS MUST reject the request by sending a 420 (Bad Extension)
  // response [...] listing those option tags it does NOT support" in an Unsupported header.
  'bad-extension': {
    status: 420,
    reason: 'Bad Extension',
    headers: (ctx) => [{ name: 'unsupported', value: (ctx.unsupported ?? []).join(', ') }],
  },
  // §10.2: "This address-of-record MUST be a SIP URI or SIPS URI." (RFC 4475 §3.3.4 unksm2)
  'to-unreadable': { status: 400, reason: 'Bad Request (unreadable To)' },
  'to-not-sip': { status: 400, reason: 'Bad Request (To is not a SIP or SIPS URI)' },
  // §10.3 step 5: "If the address-of-record is not valid for the domain in the Request-URI,
  // the registrar MUST send a 404 (Not Found) response".
  'to-no-user': { status: 404, reason: 'Not Found (AOR has no user part)' },
  'to-not-local': { status: 404, reason: 'Not Found (AOR domain not served here)' },
  // §10.3 step 4: "If the authenticated user is not authorized to modify bindings, the
  // registrar MUST return a 403 (Forbidden)".
  forbidden: { status: 403, reason: 'Forbidden (not authorized for this AOR)' },
  'call-id-missing': { status: 400, reason: 'Bad Request (missing Call-ID)' },
  'cseq-unreadable': { status: 400, reason: 'Bad Request (unreadable CSeq)' },
  'contact-unreadable': { status: 400, reason: 'Bad Request (unreadable Contact)' },
  // RFC 4475 §3.3.4: a registrar rejects a Contact it cannot route to (name:John_Smith).
  'contact-not-sip': { status: 400, reason: 'Bad Request (Contact is not a SIP or SIPS URI)' },
  // §10.3 step 6: "If the request has additional Contact fields or an expiration time other
  // than zero, the request is invalid, and the server MUST return a 400 (Invalid Request)".
  'star-with-other-contacts': { status: 400, reason: 'Bad Request (Contact * with other contacts)' },
  'star-without-expires-zero': { status: 400, reason: 'Bad Request (Contact * needs Expires: 0)' },
  'invalid-q': { status: 400, reason: 'Bad Request (invalid q parameter)' },
  'invalid-reg-id': { status: 400, reason: 'Bad Request (invalid reg-id parameter)' },
  // RFC 5626 §6: "the entire registration SHOULD be rejected with a 400 (Bad Request)".
  'reg-id-multiple-contacts': { status: 400, reason: 'Bad Request (reg-id with several contacts)' },
  // RFC 5626 §6: "the registrar MUST respond to the REGISTER request with a 439".
  'first-hop-lacks-outbound': { status: 439, reason: 'First Hop Lacks Outbound Support' },
  // §10.3 step 7: "This response MUST contain a Min-Expires header field that states the
  // minimum expiration interval the registrar is willing to honor."
  'interval-too-brief': {
    status: 423,
    reason: 'Interval Too Brief',
    headers: (ctx) => [{ name: 'min-expires', value: String(ctx.minExpires ?? 0) }],
  },
  // §10.3 steps 6–7: "Otherwise, the update MUST be aborted and the request fails." The RFC
  // names no code; like Kamailio (R_INV_CSEQ) we answer 400 and say why.
  'out-of-order': { status: 400, reason: 'Bad Request (CSeq not higher than the binding\'s: out of order)' },
  // Local policy bound on bindings per AOR (Kamailio R_TOO_MANY answers 503 too).
  'too-many-bindings': { status: 503, reason: 'Service Unavailable (too many bindings for this AOR)' },
}

/**
 * Builds the response for a failed REGISTER (§8.2.6.2 headers via createResponse).
 * @param toTag tag added to To (the registrar's UAS tag)
 */
export function registrarErrorResponse(
  request: SipRequest,
  error: RegistrarError,
  toTag: string,
  ctx: RegistrarErrorContext = {},
): SipResponse {
  const entry = REGISTRAR_ERRORS[error]
  return createResponse(request, entry.status, {
    reason: entry.reason,
    toTag,
    headers: entry.headers ? entry.headers(ctx) : undefined,
  })
}

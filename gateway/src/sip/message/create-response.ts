/**
 * Building a response to a request (RFC 3261 §8.2.6.2):
 *
 * > The From field of the response MUST equal the From header field of the request. The
 * > Call-ID header field of the response MUST equal the Call-ID header field of the request.
 * > The CSeq header field of the response MUST equal the CSeq field of the request. The Via
 * > header field values in the response MUST equal the Via header field values in the
 * > request and MUST maintain the same ordering.
 * > If a request contained a To tag in the request, the To header field in the response MUST
 * > equal that of the request. However, if the To header field in the request did not contain
 * > a tag, the URI in the To header field in the response MUST equal the URI in the To header
 * > field; additionally, the UAS MUST add a tag to the To header field in the response (with
 * > the exception of the 100 (Trying) response, in which a tag MAY be present).
 *
 * Record-Route is copied into 2xx/1xx responses to dialog-creating requests only by a UAS
 * (§12.1.1); pass `copyRecordRoute` for that.
 */
import { SipRequest, SipResponse } from './sip-message.ts'
import type { HeaderField } from '../syntax/types.ts'

/** Reason phrases of RFC 3261 §21 and the extensions the gateway uses. */
export const REASON_PHRASES: Readonly<Record<number, string>> = {
  100: 'Trying', 180: 'Ringing', 181: 'Call Is Being Forwarded', 182: 'Queued',
  183: 'Session Progress', 200: 'OK', 202: 'Accepted', 300: 'Multiple Choices',
  301: 'Moved Permanently', 302: 'Moved Temporarily', 305: 'Use Proxy', 380: 'Alternative Service',
  400: 'Bad Request', 401: 'Unauthorized', 402: 'Payment Required', 403: 'Forbidden',
  404: 'Not Found', 405: 'Method Not Allowed', 406: 'Not Acceptable',
  407: 'Proxy Authentication Required', 408: 'Request Timeout', 410: 'Gone',
  413: 'Request Entity Too Large', 414: 'Request-URI Too Long', 415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme', 420: 'Bad Extension', 421: 'Extension Required',
  423: 'Interval Too Brief', 430: 'Flow Failed', 439: 'First Hop Lacks Outbound Support',
  480: 'Temporarily Unavailable', 481: 'Call/Transaction Does Not Exist', 482: 'Loop Detected',
  483: 'Too Many Hops', 484: 'Address Incomplete', 485: 'Ambiguous', 486: 'Busy Here',
  487: 'Request Terminated', 488: 'Not Acceptable Here', 491: 'Request Pending',
  493: 'Undecipherable', 500: 'Server Internal Error', 501: 'Not Implemented',
  502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Server Time-out',
  505: 'Version Not Supported', 513: 'Message Too Large', 600: 'Busy Everywhere',
  603: 'Decline', 604: 'Does Not Exist Anywhere', 606: 'Not Acceptable',
}

export interface CreateResponseOptions {
  /** Reason phrase; defaults to REASON_PHRASES[status]. */
  reason?: string
  /** To tag added when the request's To has none (not for 100 Trying). */
  toTag?: string
  /** Extra header fields appended in order (canonical lower-case names). */
  headers?: HeaderField[]
  body?: Uint8Array
  /** Copy Record-Route from the request (a UAS answering a dialog-creating request, §12.1.1). */
  copyRecordRoute?: boolean
}

/**
 * Builds the response to `request` with `status` per §8.2.6.2. The request's headers must
 * include Via, From, To, Call-ID and CSeq; missing ones are simply not copied (a stateless
 * 400 for a malformed request copies what it can read).
 * @param request the request being answered
 * @param status 100..699
 */
export function createResponse(request: SipRequest, status: number, options: CreateResponseOptions = {}): SipResponse {
  const headers: HeaderField[] = []
  const rr = options.copyRecordRoute === true
  for (const h of request.headers) {
    switch (h.name) {
      case 'via':
      case 'from':
      case 'call-id':
      case 'cseq':
        headers.push(h)
        break
      case 'to':
        if (options.toTag !== undefined && status !== 100 && !hasTag(h.value)) {
          headers.push({ name: 'to', value: `${h.value};tag=${options.toTag}` })
        } else {
          headers.push(h)
        }
        break
      case 'record-route':
        if (rr) headers.push(h)
        break
    }
  }
  if (options.headers) for (const h of options.headers) headers.push(h)
  return new SipResponse(status, options.reason ?? REASON_PHRASES[status] ?? 'Unknown', headers, options.body)
}

/** True when a To/From value carries a `tag` header parameter (outside the <> and quotes). */
export function hasTag(nameAddrValue: string): boolean {
  // The tag lives after the URI: after '>' when angle-bracketed, else anywhere in the params.
  const gt = nameAddrValue.lastIndexOf('>')
  const params = gt >= 0 ? nameAddrValue.slice(gt + 1) : nameAddrValue
  return /;\s*tag\s*=/i.test(params)
}

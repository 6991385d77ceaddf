/**
 * The two requests a client builds from an INVITE it sent, hop by hop: the ACK for a non-2xx
 * final response (RFC 3261 §17.1.1.3) and the CANCEL (§9.1). The INVITE client transaction,
 * the proxy's branch cancelling and the JSON users' SIP leg all build them here.
 */
import { SipRequest, type SipResponse } from './sip-message.ts'
import type { HeaderField } from '../syntax/types.ts'

/**
 * The ACK for a non-2xx final response (§17.1.1.3):
 *
 * > The ACK request constructed by the client transaction MUST contain values for the
 * > Call-ID, From, and Request-URI that are equal to the values of those header fields in
 * > the request passed to the transport by the client transaction (call this the "original
 * > request"). The To header field in the ACK MUST equal the To header field in the
 * > response being acknowledged [...]. The ACK MUST contain a single Via header field, and
 * > this MUST be equal to the top Via header field of the original request. The CSeq header
 * > field in the ACK MUST contain the same value for the sequence number as was present in
 * > the original request, but the method parameter MUST be equal to "ACK".
 * >
 * > If the INVITE request whose response is being acknowledged had Route header fields,
 * > those header fields MUST appear in the ACK.
 *
 * Max-Forwards is copied too (every request carries one, §8.1.1.6; the RFC's example ACK
 * does). The ACK has no body.
 */
export function ackForNon2xx(invite: SipRequest, response: SipResponse): SipRequest {
  const headers: HeaderField[] = []
  const toValue = response.get('to')
  let viaDone = false
  for (const h of invite.headers) {
    switch (h.name) {
      case 'via':
        if (!viaDone) headers.push(h)
        viaDone = true
        break
      case 'route':
      case 'max-forwards':
      case 'from':
      case 'call-id':
        headers.push(h)
        break
      case 'to':
        headers.push(toValue === undefined ? h : { name: 'to', value: toValue })
        break
      case 'cseq':
        headers.push({ name: 'cseq', value: `${invite.cseq.seq} ACK` })
        break
    }
  }
  return new SipRequest('ACK', invite.uri, headers)
}

/**
 * The CANCEL of `invite` (§9.1): "The Request-URI, Call-ID, To, the numeric part of CSeq, and
 * From header fields in the CANCEL request MUST be identical to those in the request being
 * cancelled, including tags. [...] A CANCEL constructed by a client MUST have only a single
 * Via header field value matching the top Via value in the request being cancelled." Route is
 * copied too; Max-Forwards is 70.
 */
export function cancelFor(invite: SipRequest): SipRequest {
  const headers: HeaderField[] = []
  let viaDone = false
  for (const h of invite.headers) {
    switch (h.name) {
      case 'via':
        if (!viaDone) headers.push(h)
        viaDone = true
        break
      case 'from': case 'to': case 'call-id': case 'route':
        headers.push(h)
        break
      case 'cseq':
        headers.push({ name: 'cseq', value: `${invite.cseq.seq} CANCEL` })
        break
    }
  }
  headers.push({ name: 'max-forwards', value: '70' })
  return new SipRequest('CANCEL', invite.uri, headers)
}

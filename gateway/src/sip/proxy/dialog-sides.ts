/**
 * The two sides of a dialog as a Record-Routing proxy sees them (RFC 3261 §12.1.1, §12.1.2):
 * how to reach each side, its remote target, its tagged identity and the route set towards
 * it, taken from the INVITE as received and the 2xx as the callee sent it. With them the
 * proxy can end a call itself (a BYE to each side, §15.1.1), like Kamailio's dialog module
 * (`dlg_end_dlg`): anchored calls (anchored-dialogs.ts) and the other proxied calls
 * (proxied-dialogs.ts) both keep them.
 */
import { SipRequest, type SipResponse } from '../message/sip-message.ts'
import type { HeaderField } from '../syntax/types.ts'
import type { Destination, Flow, TransportProtocol } from '../transport/flow.ts'
import type { SentBy } from '../transport/transport-layer.ts'
import { proxyBranch } from './branch.ts'

/** How to reach one side of a dialog and what it last said. */
export interface DialogSide {
  /** Next hop towards this side (its flow when connection-oriented). */
  destination: Destination
  /** The side's remote target (Contact URI), used as Request-URI of our BYE. */
  contact: string
  /** This side's From/To header value including its tag, as it appears when it sends. */
  identity: string
  tag: string
  /** Route set for requests we send towards this side (proxies beyond us on that side). */
  routeSet: string[]
  /** Highest CSeq number seen in requests from this side. */
  cseq: number
  /** The flow whose closing ends the call (WS/TCP/TLS legs). */
  flow: Flow | null
}

export interface DialogSidesInput {
  invite: SipRequest
  ok: SipResponse
  callerDestination: Destination
  callerFlow: Flow | null
  calleeDestination: Destination
  calleeFlow: Flow | null
  /** True for a Record-Route value naming this gateway. */
  isOurRecordRoute: (value: string) => boolean
}

/** Both sides of the dialog an INVITE and its 2xx created; see the file comment. */
export function dialogSides(a: DialogSidesInput): { caller: DialogSide; callee: DialogSide } {
  const { invite, ok } = a
  const rr = ok.getAll('record-route')
  let first = rr.findIndex(a.isOurRecordRoute)
  let last = first
  while (last + 1 < rr.length && a.isOurRecordRoute(rr[last + 1]!)) last++
  if (first < 0) {
    first = rr.length
    last = rr.length - 1
  }
  return {
    caller: {
      destination: a.callerDestination,
      contact: contactUri(invite.get('contact')) ?? invite.from.uri.host,
      identity: invite.get('from') ?? '',
      tag: invite.from.params.tag ?? '',
      // §12.1.1: the callee's route set is the Record-Route list in order; the part after
      // our entries leads to the caller.
      routeSet: rr.slice(last + 1),
      cseq: invite.cseq.seq,
      flow: a.callerFlow,
    },
    callee: {
      destination: a.calleeDestination,
      contact: contactUri(ok.get('contact')) ?? invite.uri,
      identity: ok.get('to') ?? '',
      tag: ok.to.params.tag ?? '',
      // §12.1.2: the caller's route set is the Record-Route list reversed; the part before
      // our entries, reversed, leads to the callee.
      routeSet: rr.slice(0, first).reverse(),
      cseq: 0,
      flow: a.calleeFlow,
    },
  }
}

/**
 * A BYE on behalf of `from` towards `to` (RFC 3261 §15.1.1: Request-URI the remote target,
 * To/From with the dialog's tags, CSeq above any `from` used, Route the route set), with a
 * Reason header (RFC 3326). Increments `from.cseq`.
 */
export function byeRequest(callId: string, from: DialogSide, to: DialogSide, sentBy: (t: TransportProtocol) => SentBy, reason: string): SipRequest {
  const transport: TransportProtocol = to.destination.flow?.transport ?? to.destination.transport
  const sb = sentBy(transport)
  from.cseq++
  const headers: HeaderField[] = [
    { name: 'via', value: `SIP/2.0/${transport} ${sb.host}:${sb.port};branch=${proxyBranch('bye')};rport` },
    { name: 'max-forwards', value: '70' },
    { name: 'from', value: from.identity },
    { name: 'to', value: to.identity },
    { name: 'call-id', value: callId },
    { name: 'cseq', value: `${from.cseq} BYE` },
    { name: 'reason', value: reason },
  ]
  for (const r of to.routeSet) headers.push({ name: 'route', value: r })
  return new SipRequest('BYE', to.contact, headers)
}

/**
 * True for a Record-Route / Route value that names this gateway (`isLocal`: host and port are
 * one of our listeners, LocalAddresses.isLocal).
 */
export function namesThisGateway(value: string, isLocal: (host: string, port: number | null) => boolean): boolean {
  const lt = value.indexOf('<')
  const uri = lt >= 0 ? value.slice(lt + 1, value.indexOf('>', lt)) : value
  const m = /^sips?:([^;:>]+|\[[^\]]+\])(?::(\d+))?/i.exec(uri)
  return m !== null && isLocal(m[1]!.toLowerCase(), m[2] ? Number(m[2]) : null)
}

/** The URI of a Contact value (`"Bob" <sip:b@h>;expires=5` -> `sip:b@h`), or null. */
export function contactUri(value: string | undefined): string | null {
  if (value === undefined) return null
  const lt = value.indexOf('<')
  if (lt >= 0) {
    const gt = value.indexOf('>', lt)
    return gt > lt ? value.slice(lt + 1, gt) : null
  }
  const semi = value.indexOf(';')
  return (semi >= 0 ? value.slice(0, semi) : value).trim()
}

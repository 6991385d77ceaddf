/**
 * Dialog state the proxy keeps for calls whose media it anchors (and only for those: a
 * plain proxied call stays dialog-stateless, RFC 3261 §16). With it the proxy can route
 * re-offers (hold/resume re-INVITEs, UPDATE) through the media driver, release the relay on
 * BYE, and end the call on both sides when a leg's connection drops (issue: "a WebSocket
 * that drops mid-call: the gateway sends BYE to the other leg").
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { Destination, Flow } from '../transport/flow.ts'
import type { CallSide, MediaSessionKey } from './media-hooks.ts'
import type { TimerHandle } from '../../base/scheduler.ts'

/** How to reach one side of an anchored dialog and what it last said. */
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

export interface AnchoredDialog {
  callId: string
  /** Session timeout timer (see StatefulProxyOptions.sessionTimeout). */
  timer: TimerHandle | null
  plan: object
  key: MediaSessionKey & { calleeTag: string }
  caller: DialogSide
  callee: DialogSide
}

/** The anchored dialogs, by Call-ID. */
export class AnchoredDialogs {
  private readonly byCallId = new Map<string, AnchoredDialog>()

  get size(): number {
    return this.byCallId.size
  }

  get(callId: string): AnchoredDialog | undefined {
    return this.byCallId.get(callId)
  }

  /**
   * Records the dialog an anchored INVITE created, from the INVITE as the proxy received it
   * and the 2xx as the callee sent it (before our Via was removed).
   * @param ourRecordRoute index of our first (outbound-facing) Record-Route entry in the 2xx
   */
  create(args: {
    invite: SipRequest
    ok: SipResponse
    plan: object
    key: MediaSessionKey
    callerDestination: Destination
    callerFlow: Flow | null
    calleeDestination: Destination
    calleeFlow: Flow | null
    isOurRecordRoute: (value: string) => boolean
  }): AnchoredDialog {
    const { invite, ok } = args
    const rr = ok.getAll('record-route')
    let first = rr.findIndex(args.isOurRecordRoute)
    let last = first
    while (last + 1 < rr.length && args.isOurRecordRoute(rr[last + 1]!)) last++
    if (first < 0) {
      first = rr.length
      last = rr.length - 1
    }
    const calleeTag = ok.to.params.tag ?? ''
    const d: AnchoredDialog = {
      callId: invite.callId,
      timer: null,
      plan: args.plan,
      key: { ...args.key, calleeTag },
      caller: {
        destination: args.callerDestination,
        contact: contactUri(invite.get('contact')) ?? invite.from.uri.host,
        identity: invite.get('from') ?? '',
        tag: invite.from.params.tag ?? '',
        // §12.1.1: the callee's route set is the Record-Route list in order; the part after
        // our entries leads to the caller.
        routeSet: rr.slice(last + 1),
        cseq: invite.cseq.seq,
        flow: args.callerFlow,
      },
      callee: {
        destination: args.calleeDestination,
        contact: contactUri(ok.get('contact')) ?? invite.uri,
        identity: ok.get('to') ?? '',
        tag: calleeTag,
        // §12.1.2: the caller's route set is the Record-Route list reversed; the part before
        // our entries, reversed, leads to the callee.
        routeSet: rr.slice(0, first).reverse(),
        cseq: 0,
        flow: args.calleeFlow,
      },
    }
    this.byCallId.set(d.callId, d)
    return d
  }

  /** Which side sent an in-dialog request (by its From tag). */
  sideOf(d: AnchoredDialog, request: SipRequest): CallSide {
    return request.from.params.tag === d.callee.tag ? 'callee' : 'caller'
  }

  /** Notes the CSeq of an in-dialog request, so that our own BYE can go above it. */
  noteRequest(d: AnchoredDialog, request: SipRequest): void {
    const side = this.sideOf(d, request)
    const s = side === 'caller' ? d.caller : d.callee
    if (request.cseq.seq > s.cseq) s.cseq = request.cseq.seq
  }

  delete(callId: string): void {
    this.byCallId.delete(callId)
  }

  /** Dialogs one of whose legs used `flow`. */
  usingFlow(flow: Flow): AnchoredDialog[] {
    const out: AnchoredDialog[] = []
    for (const d of this.byCallId.values()) if (d.caller.flow === flow || d.callee.flow === flow) out.push(d)
    return out
  }

  all(): IterableIterator<AnchoredDialog> {
    return this.byCallId.values()
  }
}

function contactUri(value: string | undefined): string | null {
  if (value === undefined) return null
  const lt = value.indexOf('<')
  if (lt >= 0) {
    const gt = value.indexOf('>', lt)
    return gt > lt ? value.slice(lt + 1, gt) : null
  }
  const semi = value.indexOf(';')
  return (semi >= 0 ? value.slice(0, semi) : value).trim()
}

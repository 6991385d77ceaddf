/**
 * Dialog state the proxy keeps for calls whose media it anchors (and only for those: a
 * plain proxied call stays dialog-stateless, RFC 3261 §16). With it the proxy can route
 * re-offers (hold/resume re-INVITEs, UPDATE) through the media driver, release the relay on
 * BYE, and end the call on both sides when a leg's connection drops (issue: "a WebSocket
 * that drops mid-call: the gateway sends BYE to the other leg").
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { Destination, Flow } from '../transport/flow.ts'
import { dialogSides, type DialogSide } from './dialog-sides.ts'

export type { DialogSide } from './dialog-sides.ts'
import type { CallSide, MediaSessionKey } from './media-hooks.ts'
import type { TimerHandle } from '../../base/scheduler.ts'

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
    const sides = dialogSides(args)
    const d: AnchoredDialog = {
      callId: invite.callId,
      timer: null,
      plan: args.plan,
      key: { ...args.key, calleeTag: sides.callee.tag },
      caller: sides.caller,
      callee: sides.callee,
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

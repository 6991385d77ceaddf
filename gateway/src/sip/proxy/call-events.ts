/**
 * What the proxy tells the outside world about calls, for call detail records (CDRs) and the
 * admin page's active calls: one event when an initial INVITE is routed, one when it is
 * answered or fails, one when the dialog ends. The proxy is not dialog-stateful for every call
 * (§16: a Record-Routing proxy sees the BYE but keeps no dialog), so calls are keyed by the
 * Call-ID and the caller's From tag, which an in-dialog BYE from either side carries.
 *
 * Implemented by `cdr/call-recorder.ts`; the proxy and the pipeline call it synchronously on
 * the signalling path, so an implementation must be cheap (queue, batch its writes) and must
 * never throw.
 */

/** How the call's media flows, as far as the gateway knows from the SDP. */
export type MediaPath = 'peer-to-peer' | 'anchored' | 'relayed' | 'unknown'

/** Where the call came from and goes to, relative to the gateway. */
export type CallDirection = 'internal' | 'outbound' | 'inbound' | 'transit'

/** An initial INVITE was routed (after authentication and the dial plan). */
export interface CallStarted {
  /** Call-ID of the caller's INVITE. */
  callId: string
  /** The caller's From tag. */
  fromTag: string
  /** Epoch ms. */
  at: number
  /** From URI as received (`sip:alice@patchbay.test`). */
  from: string
  /** The authenticated local user, or null (trunk or trusted source). */
  callerUser: string | null
  /** Request-URI as received (the dialed number or AOR). */
  dialed: string
  /** Request-URIs of the targets the call was routed to, in order. */
  routed: string[]
  direction: CallDirection
  /** The trunk the call arrived from (inbound, transit) or leaves through (outbound); null otherwise. */
  trunk: string | null
  /** The dial-plan rule that routed the call, or null (a user dialed directly, no dial plan). */
  rule: string | null
}

/** The call was answered (first 2xx forwarded upstream). */
export interface CallAnswered {
  callId: string
  fromTag: string
  at: number
  /** Request-URI of the branch that answered. */
  answeredBy: string
  /** Trunk of the answering branch, when it left through one (failover may change it). */
  trunk: string | null
  mediaPath: MediaPath
  /** First codec of the answer's audio m-line (`PCMU`, `opus`, ...), or null. */
  codec: string | null
}

/** The INVITE ended without a 2xx (the final status sent upstream; 487 when cancelled). */
export interface CallFailed {
  callId: string
  fromTag: string
  at: number
  status: number
  reason: string
  /** `caller` when the caller cancelled. */
  endedBy: 'caller' | 'callee' | 'gateway'
}

/** An answered call ended (BYE forwarded, or the gateway ended it: a connection dropped, media timeout). */
export interface CallEnded {
  callId: string
  /** The caller's From tag when known (a BYE from the callee carries it as the To tag). */
  fromTag: string | null
  at: number
  endedBy: 'caller' | 'callee' | 'gateway'
  /** `BYE`, or why the gateway ended it. */
  reason: string
}

/** Receives call events; see the file comment. */
export interface CallEventSink {
  callStarted(e: CallStarted): void
  callAnswered(e: CallAnswered): void
  callFailed(e: CallFailed): void
  callEnded(e: CallEnded): void
}

/** A sink that drops everything (no CDRs configured). */
export const NO_CALL_EVENTS: CallEventSink = {
  callStarted() {},
  callAnswered() {},
  callFailed() {},
  callEnded() {},
}

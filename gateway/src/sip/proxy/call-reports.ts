/**
 * The call events the stateful proxy reports (call-events.ts) built from the INVITE and its
 * final response: who answered, through which trunk, the media path and codec of the answer;
 * or the failure, and who ended it.
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { CallAnswered, CallFailed, MediaPath } from './call-events.ts'
import type { Target } from './target.ts'

const bodyDecoder = new TextDecoder()

/** The `callAnswered` event of a 2xx to `invite` on the branch to `target` (`anchored`: its media is relayed). */
export function answeredEvent(invite: SipRequest, target: Target | null, anchored: boolean, ok: SipResponse): CallAnswered {
  const body = ok.body.length === 0 ? '' : bodyDecoder.decode(ok.body)
  return {
    callId: invite.get('call-id') ?? '', fromTag: invite.from.params.tag ?? '', at: Date.now(),
    answeredBy: target?.requestUri ?? '', trunk: target?.trunk ?? null,
    mediaPath: mediaPathOf(anchored, body), codec: audioCodecOf(body),
  }
}

/** The `callFailed` event of the final response `best` sent upstream for `invite`. */
export function failedEvent(invite: SipRequest, best: SipResponse, cancelledByCaller: boolean): CallFailed {
  // The proxy's own answers (timeout, transport error, media refusal) carry a `pb-` To tag.
  const ours = (best.get('to') ?? '').includes(';tag=pb-')
  return {
    callId: invite.get('call-id') ?? '', fromTag: invite.from.params.tag ?? '', at: Date.now(),
    status: best.status, reason: best.reason,
    endedBy: cancelledByCaller ? 'caller' : ours ? 'gateway' : 'callee',
  }
}

/** How the answered call's media flows, from the answer (call records). */
export function mediaPathOf(anchored: boolean, sdp: string): MediaPath {
  if (anchored) return 'anchored'
  if (sdp === '') return 'unknown'
  const candidates = sdp.match(/^a=candidate:.*$/gm)
  if (candidates !== null && candidates.length > 0 && candidates.every((c) => c.includes(' typ relay'))) return 'relayed'
  return 'peer-to-peer'
}

/** The first codec of the answer's audio m-line (`PCMU`, `opus`), or null. */
export function audioCodecOf(sdp: string): string | null {
  const m = /^m=audio \d+ \S+ (\d+)/m.exec(sdp)
  if (m === null) return null
  const pt = m[1]!
  const map = new RegExp(`^a=rtpmap:${pt} ([^/\\s]+)`, 'm').exec(sdp)
  if (map !== null) return map[1]!
  return pt === '0' ? 'PCMU' : pt === '8' ? 'PCMA' : pt === '9' ? 'G722' : null
}

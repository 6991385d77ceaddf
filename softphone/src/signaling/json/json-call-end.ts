/**
 * What a JSON `ended` message (docs/json-signaling.md: `status`, `cause`, `by`) means for the
 * user, as the `CallEnd` the UI shows. The sentences come from the same table as SIP mode
 * (`describeCallFailure`) where the SIP status says the same thing as the cause.
 */
import type { CallDirection, CallEnd, CallEndReason } from '../signaling-client.ts'
import { describeCallFailure } from '../failure-text.ts'
import type { ServerMessageOf } from './json-protocol.ts'

/** The call as it was when the `ended` came. */
export interface EndedCallContext {
  /** The other party's name for sentences ("Bob is busy."). */
  readonly who: string
  readonly direction: CallDirection
  /** The call had been answered. */
  readonly wasConnected: boolean
}

/** Generic sentence per reason, when the SIP status's own sentence names another reason. */
function sentence(reason: CallEndReason, who: string, statusCode: number): string {
  switch (reason) {
    case 'busy': return `${who} is busy.`
    case 'declined': return `${who} declined the call.`
    case 'not-found': return `${who} was not found. Check the name or number.`
    case 'unavailable': return `${who} is not available right now.`
    case 'no-answer': return `${who} did not answer.`
    case 'cancelled': return 'Call cancelled.'
    case 'incompatible': return `${who}'s phone cannot handle this call's audio.`
    case 'network': return `${who} could not be reached.`
    default: return `The call failed (${statusCode}).`
  }
}

/**
 * Maps an `ended` message to a CallEnd: `hangup` -> local-hangup / remote-hangup by `by`;
 * `cancelled` -> cancelled (a call ringing here that the caller gave up on: missed, as in SIP
 * mode); busy, declined, unavailable, not-found, no-answer as they are; incompatible-media ->
 * incompatible; unreachable -> network; failed and unknown causes -> failed. `statusCode` is
 * the message's `status`.
 */
export function describeJsonCallEnd(ended: ServerMessageOf<'ended'>, call: EndedCallContext): CallEnd {
  const status = ended.status
  const who = call.who || 'The other party'
  const end = (reason: CallEndReason, message: string): CallEnd => ({ reason, statusCode: status, message })
  switch (ended.cause) {
    case 'hangup':
      return ended.by === 'local' ? end('local-hangup', 'Call ended.') : end('remote-hangup', `${who} hung up.`)
    case 'cancelled':
      if (call.direction === 'incoming' && !call.wasConnected && ended.by !== 'local') return end('missed', `Missed call from ${who}.`)
      return end('cancelled', 'Call cancelled.')
    case 'declined':
      if (ended.by === 'local') return end('declined', 'You declined the call.')
      break
    case 'transferred':
      return end('transferred', `${who} was transferred.`)
    default:
      break
  }
  const reason: CallEndReason = ({
    busy: 'busy', declined: 'declined', unavailable: 'unavailable', 'not-found': 'not-found', 'no-answer': 'no-answer',
    'incompatible-media': 'incompatible', unreachable: 'network', failed: 'failed',
  } as Record<string, CallEndReason>)[ended.cause] ?? 'failed'
  const bySip = describeCallFailure(status, who)
  return end(reason, bySip.reason === reason ? bySip.message : sentence(reason, who, status))
}

/**
 * The sentence for an `error` that failed our `transfer` (docs/json-signaling.md,
 * `transfer-failed` with the `status` of the refused REFER or of the target's call; or a
 * `transfer` refused as `wrong-state` / `invalid-field`), as SIP mode words a failed NOTIFY.
 */
export function transferErrorText(error: ServerMessageOf<'error'>, target: string): string {
  if (error.code === 'invalid-field') return `Transfer failed: “${target}” is not a valid address.`
  if (error.code === 'wrong-state') return 'Transfer failed: the call cannot be transferred now.'
  if (error.status === undefined) return 'Transfer failed.'
  return `Transfer failed: ${describeCallFailure(error.status, target).message}`
}

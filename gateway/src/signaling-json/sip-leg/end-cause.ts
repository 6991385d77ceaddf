/**
 * What a SIP final status means to the person who placed or received the call (the `cause`
 * of the JSON `ended` message), and the status a JSON `reject` sends. RFC 3261 §21 gives the
 * statuses; the grouping is the one phones show ("busy", "declined", "not found", ...).
 */
import type { CallEndCause } from '../protocol.ts'

export type { CallEndCause }

/** The cause shown for a final status that ended a call attempt (or 200 for a hang-up). */
export function endCauseOf(status: number): CallEndCause {
  switch (status) {
    case 200: return 'hangup'
    case 486: case 600: return 'busy'
    case 603: case 403: return 'declined'
    case 404: case 484: case 604: case 410: return 'not-found'
    case 480: return 'unavailable'
    case 408: return 'no-answer'
    case 487: return 'cancelled'
    case 488: case 606: case 415: return 'incompatible-media'
    case 502: case 503: case 504: case 500: return 'unreachable'
    default: return status >= 200 && status < 300 ? 'hangup' : 'failed'
  }
}

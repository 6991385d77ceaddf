/**
 * One table from SIP final responses to what the softphone tells the user. Every failure
 * the UI can show maps to exactly one reason and one sentence here.
 */
import type { CallEnd, CallEndReason, RegistrationFailure } from './signaling-client.ts'

/**
 * The outcome of an INVITE we sent that ended with a non-2xx final response
 * (RFC 3261 §21.4–§21.6).
 */
export function describeCallFailure(statusCode: number, who: string): CallEnd {
  const name = who || 'The other party'
  const end = (reason: CallEndReason, message: string): CallEnd => ({ reason, statusCode, message })
  switch (statusCode) {
    // §21.4.24 486 Busy Here / §21.6.1 600 Busy Everywhere
    case 486:
    case 600:
      return end('busy', `${name} is busy.`)
    // §21.6.2 603 Decline: "the callee's machine was successfully contacted but the user
    // explicitly does not wish to or cannot participate."
    case 603:
      return end('declined', `${name} declined the call.`)
    // §21.4.5 404 Not Found, §21.6.3 604 Does Not Exist Anywhere, §21.4.22 484 Address Incomplete
    case 404:
    case 604:
      return end('not-found', `${name} was not found. Check the name or number.`)
    case 484:
      return end('not-found', 'The number is incomplete.')
    case 410:
      return end('not-found', `${name} is no longer at this address.`)
    // §21.4.18 480 Temporarily Unavailable: callee not registered or not reachable now
    case 480:
      return end('unavailable', `${name} is not available right now.`)
    // §21.4.9 408 Request Timeout: no final response in time (nobody answered / unreachable)
    case 408:
      return end('no-answer', `${name} did not answer.`)
    // §21.4.25 487 Request Terminated: our own CANCEL
    case 487:
      return end('cancelled', 'Call cancelled.')
    case 488:
    case 606:
    case 415:
      return end('incompatible', `${name}'s phone cannot handle this call's audio.`)
    case 401:
    case 407:
    case 403:
      return end('forbidden', 'You are not allowed to make this call.')
    case 503:
      return end('network', 'The phone service is unavailable. Try again in a moment.')
    // §21.5.3 502 Bad Gateway / §21.5.5 504 Server Time-out: the way to the callee failed.
    case 502:
    case 504:
      return end('network', `${name} could not be reached.`)
    default:
      if (statusCode >= 500) return end('network', `The phone service failed (${statusCode}).`)
      return end('failed', `The call failed (${statusCode}).`)
  }
}

export interface RegistrationFailureText {
  readonly reason: RegistrationFailure
  readonly message: string
  /** True when retrying with the same credentials cannot help. */
  readonly permanent: boolean
}

/** Final non-2xx responses to REGISTER (RFC 3261 §10.3). */
export function describeRegistrationFailure(statusCode: number): RegistrationFailureText {
  switch (statusCode) {
    // We already answered the challenge (SIP.js retries once with credentials): a second
    // 401/407, or 403 Forbidden, means the credentials are wrong.
    case 401:
    case 407:
    case 403:
      return { reason: 'wrong-password', message: 'Wrong password.', permanent: true }
    // §10.3 step 3: "If the address-of-record is not valid for the domain in the Request-URI,
    // the registrar MUST send a 404 (Not Found) response".
    case 404:
      return { reason: 'unknown-user', message: 'Unknown user.', permanent: true }
    case 408:
      return { reason: 'server-error', message: 'The server did not answer.', permanent: false }
    default:
      if (statusCode >= 500) {
        return { reason: 'server-error', message: `The server is not available (${statusCode}).`, permanent: false }
      }
      return { reason: 'rejected', message: `Registration refused (${statusCode}).`, permanent: statusCode < 500 && statusCode !== 423 }
  }
}

export const UNREACHABLE_TEXT = 'Server unreachable.'

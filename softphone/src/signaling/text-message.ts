/**
 * Text messages (SIP MESSAGE, RFC 3428), protocol-neutral parts shared by the SIP and JSON
 * clients: checking what the user wants to send, reading the sender of an incoming message,
 * and one table from final responses to what the softphone tells the user.
 */
import { parseDialTarget } from './dial-target.ts'
import type { IncomingTextMessage, MessageFailure, MessageSendResult } from './signaling-client.ts'

/** The longest text we send (the JSON protocol's limit; a MESSAGE over UDP must stay small, RFC 3428 §7). */
export const MAX_MESSAGE_LENGTH = 4096

/** How long a message may wait for its final response before it counts as failed (Timer F is 32 s). */
export const MESSAGE_TIMEOUT_MS = 40_000

/** Shown when a message is sent while not registered. */
export const MESSAGE_NOT_REGISTERED_TEXT = 'You are offline. Wait until the status shows “Registered”.'

/** A message ready to send: the request-URI and the user part, or why it cannot be sent. */
export type MessageTarget =
  | { readonly ok: true; readonly uri: string; readonly user: string }
  | { readonly ok: false; readonly result: MessageSendResult }

/** Checks a target and a text before anything is sent (empty or too long text, bad address). */
export function prepareMessage(target: string, text: string, domain: string): MessageTarget {
  const refuse = (message: string): MessageTarget => ({ ok: false, result: { ok: false, reason: 'invalid-target', message } })
  if (text.trim() === '') return refuse('Type a message first.')
  if (text.length > MAX_MESSAGE_LENGTH) return refuse(`A message can have at most ${MAX_MESSAGE_LENGTH} characters.`)
  const parsed = parseDialTarget(target, domain)
  if (!parsed.ok) return refuse(parsed.message)
  return { ok: true, uri: parsed.uri, user: parsed.user }
}

/** The refusal of a MESSAGE (its non-2xx final response) in words for the user. */
export function describeMessageFailure(statusCode: number, who: string): MessageSendResult {
  const name = who || 'The other party'
  const fail = (reason: MessageFailure, message: string): MessageSendResult => ({ ok: false, reason, statusCode, message })
  switch (statusCode) {
    // RFC 3261 §21.4.18 480 Temporarily Unavailable: known user, no registered device.
    case 480:
      return fail('offline', `${name} is offline.`)
    // §21.4.5 404, §21.6.3 604, §21.4.22 484, §21.4.11 410
    case 404:
    case 604:
    case 484:
    case 410:
      return fail('not-found', `No such user: ${name}.`)
    case 408:
      return fail('failed', `${name} did not answer in time.`)
    case 415:
    case 488:
      return fail('failed', `${name} cannot receive text messages.`)
    case 403:
    case 603:
      return fail('failed', `${name} refused the message.`)
    default:
      return statusCode >= 500
        ? fail('failed', `The message could not be delivered (server error ${statusCode}).`)
        : fail('failed', `The message was refused (${statusCode}).`)
  }
}

/** An incoming message from a sender URI (`sip:bob@host`, or a name-addr), display name and text. */
export function incomingTextMessage(from: string, displayName: string, text: string, at = Date.now()): IncomingTextMessage {
  const uri = (/<([^>]*)>/.exec(from)?.[1] ?? from.trim()).replace(/[;?].*$/, '')
  const user = /^sips?:([^@;?]+)@/i.exec(uri)?.[1] ?? uri.replace(/^sips?:/i, '')
  let decoded = user
  try {
    decoded = decodeURIComponent(user)
  } catch {
    // a malformed %-escape: keep it as it came
  }
  return { from: uri, user: decoded, displayName: displayName.trim(), text, at }
}

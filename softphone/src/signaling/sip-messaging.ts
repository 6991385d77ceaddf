/**
 * Text messages over SIP (RFC 3428): an outgoing MESSAGE with a text/plain body through
 * SIP.js's `Messager` (SIP.js answers a digest challenge itself), and incoming MESSAGE
 * requests from the UserAgent's `onMessage` delegate, answered 200 OK (or 415 for a body
 * that is not text/plain, RFC 3428 §7).
 */
import { Messager, UserAgent, type Core, type Message } from 'sip.js'
import { assertedDisplayName } from './asserted-identity.ts'
import type { IncomingTextMessage, MessageSendResult } from './signaling-client.ts'
import type { SipCallRegistration } from './sip-call-control.ts'
import {
  describeMessageFailure,
  incomingTextMessage,
  MESSAGE_NOT_REGISTERED_TEXT,
  MESSAGE_TIMEOUT_MS,
  prepareMessage,
} from './text-message.ts'

export interface SipMessagingOptions {
  readonly registration: SipCallRegistration
  /** From display name of outgoing messages; read for every message. */
  readonly displayName: () => string | undefined
  /** Every incoming message, after it was answered 200. */
  readonly onMessage: (message: IncomingTextMessage) => void
}

/** Sends and receives SIP MESSAGE requests for the current UserAgent; nothing here throws. */
export class SipMessaging {
  constructor(private readonly options: SipMessagingOptions) {}

  /** Sends `text` to `target` (user, number or SIP URI); resolves with the final response's meaning. */
  async send(target: string, text: string): Promise<MessageSendResult> {
    const { userAgent: ua, isRegistered, domain } = this.options.registration
    if (!ua || !isRegistered || domain === undefined) return { ok: false, reason: 'not-registered', message: MESSAGE_NOT_REGISTERED_TEXT }
    const prepared = prepareMessage(target, text, domain)
    if (!prepared.ok) return prepared.result
    const uri = UserAgent.makeURI(prepared.uri)
    if (!uri) return { ok: false, reason: 'invalid-target', message: `“${target}” is not a valid address.` }
    const displayName = this.options.displayName()
    const messager = new Messager(ua, uri, text, 'text/plain;charset=utf-8', displayName ? { params: { fromDisplayName: displayName } } : {})
    return new Promise<MessageSendResult>((resolve) => {
      let done = false
      const finish = (result: MessageSendResult): void => {
        if (done) return
        done = true
        clearTimeout(timer)
        resolve(result)
      }
      const timer = setTimeout(() => finish(describeMessageFailure(408, prepared.user)), MESSAGE_TIMEOUT_MS)
      messager.message({
        requestDelegate: {
          onAccept: () => finish({ ok: true }),
          onReject: (response: Core.IncomingResponse) => {
            const code = response.message.statusCode ?? 0
            // SIP.js turns a transport error into an internal 503.
            if (code === 503 && !ua.isConnected()) finish({ ok: false, reason: 'failed', statusCode: code, message: 'The connection to the server was lost; the message was not sent.' })
            else finish(describeMessageFailure(code, prepared.user))
          },
        },
      }).catch(() => finish({ ok: false, reason: 'failed', message: 'The message could not be sent.' }))
    })
  }

  /** An out-of-dialog MESSAGE for us: 200 OK and a `message` event, or 415 for other bodies. */
  onIncoming(message: Message): void {
    const request = message.request
    const type = (request.getHeader('Content-Type') ?? '').toLowerCase()
    if (!type.startsWith('text/plain')) {
      void message.reject({ statusCode: 415, extraHeaders: ['Accept: text/plain'] }).catch(() => undefined)
      return
    }
    void message.accept().catch(() => undefined)
    const from = request.from
    // RFC 3325: the gateway's asserted name (users.yaml) before the sender's own From name.
    const name = assertedDisplayName(request.getHeader('P-Asserted-Identity')) || from.displayName || ''
    this.options.onMessage(incomingTextMessage(from.uri.toString(), name, request.body ?? ''))
  }
}

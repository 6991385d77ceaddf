/**
 * Text messages over JSON signaling (docs/json-signaling.md): `message {id, to, text}` out,
 * answered by `delivered {id}` or `error {code: 'not-delivered', id, status}`; incoming
 * `message {from, displayName?, text}` in. The gateway turns them into SIP MESSAGE requests
 * (RFC 3428), so they reach SIP users, JSON users and desk phones alike.
 */
import type { IncomingTextMessage, MessageSendResult } from '../signaling-client.ts'
import {
  describeMessageFailure,
  incomingTextMessage,
  MESSAGE_NOT_REGISTERED_TEXT,
  MESSAGE_TIMEOUT_MS,
  prepareMessage,
} from '../text-message.ts'
import type { ClientMessage, ServerMessage } from './json-protocol.ts'

export interface JsonMessagingOptions {
  /** Sends on the current connection; false when signed out or reconnecting. */
  readonly send: (message: ClientMessage) => boolean
  readonly isRegistered: () => boolean
  /** Our SIP domain, for targets typed without one. */
  readonly domain: () => string | undefined
  readonly onMessage: (message: IncomingTextMessage) => void
  /** Time allowed for `delivered` or `error` (ms); MESSAGE_TIMEOUT_MS by default. */
  readonly timeoutMs?: number
}

interface Pending {
  readonly user: string
  readonly resolve: (result: MessageSendResult) => void
  readonly timer: ReturnType<typeof setTimeout>
}

/** The messages of one JSON client: sends, matches answers by `id`, hands incoming ones up. */
export class JsonMessaging {
  private readonly pending = new Map<string, Pending>()
  private seq = 0

  constructor(private readonly options: JsonMessagingOptions) {}

  /** Sends `text` to `target`; resolves on `delivered`, a refusal, a lost connection or the time limit. */
  send(target: string, text: string): Promise<MessageSendResult> {
    const domain = this.options.domain()
    if (!this.options.isRegistered() || domain === undefined) {
      return Promise.resolve({ ok: false, reason: 'not-registered', message: MESSAGE_NOT_REGISTERED_TEXT })
    }
    const prepared = prepareMessage(target, text, domain)
    if (!prepared.ok) return Promise.resolve(prepared.result)
    const id = `m${++this.seq}-${Date.now().toString(36)}`
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.settle(id, describeMessageFailure(408, prepared.user)), this.options.timeoutMs ?? MESSAGE_TIMEOUT_MS)
      this.pending.set(id, { user: prepared.user, resolve, timer })
      if (!this.options.send({ type: 'message', id, to: prepared.uri, text })) {
        this.settle(id, { ok: false, reason: 'failed', message: 'Not connected to the server; the message was not sent.' })
      }
    })
  }

  /** Handles `message`, `delivered` and the `error` of a pending message; false for anything else. */
  onServerMessage(m: ServerMessage): boolean {
    switch (m.type) {
      case 'message':
        this.options.onMessage(incomingTextMessage(m.from, m.displayName ?? '', m.text))
        return true
      case 'delivered':
        this.settle(m.id, { ok: true })
        return true
      case 'error': {
        if (m.id === undefined) return false
        const pending = this.pending.get(m.id)
        if (!pending) return false
        this.settle(m.id, m.status !== undefined
          ? describeMessageFailure(m.status, pending.user)
          : { ok: false, reason: m.code === 'invalid-field' ? 'invalid-target' : 'failed', message: m.message })
        return true
      }
      default:
        return false
    }
  }

  /** The session is gone: messages still waiting fail (their answer will not come on a new session). */
  failAll(message = 'The connection to the server was lost; the message may not have been delivered.'): void {
    for (const id of [...this.pending.keys()]) this.settle(id, { ok: false, reason: 'failed', message })
  }

  private settle(id: string, result: MessageSendResult): void {
    const pending = this.pending.get(id)
    if (!pending) return
    this.pending.delete(id)
    clearTimeout(pending.timer)
    pending.resolve(result)
  }
}

/**
 * Text messages for a Lit host: keeps the conversations (ConversationStore) in step with the
 * SignalingClient — incoming `message` events are appended (unread unless the user is looking
 * at that conversation), outgoing ones are shown at once as `sending` and then marked `sent`
 * or `failed` with the reason ("bob is offline.") when the other side answers.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { parseDialTarget } from '../signaling/dial-target.ts'
import type { IncomingTextMessage, SignalingClient } from '../signaling/signaling-client.ts'
import { conversationKey, type ChatParty, type Conversation, type ConversationStore } from '../storage/conversation-store.ts'

let localSeq = 0

/** Conversations, the open one, unread counts and sending (see the file comment). */
export class MessagesController implements ReactiveController {
  /** The open conversation's key, if any. */
  activeKey: string | undefined
  /** A new conversation opened from a typed address, until its first message. */
  private draft: Conversation | undefined
  /** The messages view is on screen (the open conversation's messages count as seen). */
  private visible = false
  private domain: string | undefined
  private unsubscribe: Array<() => void> = []

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly client: SignalingClient,
    private readonly store: ConversationStore,
    private readonly now: () => number = Date.now,
  ) {
    const reg = client.registration
    if (reg.status === 'registered') this.domain = domainOf(reg.aor)
    host.addController(this)
  }

  hostConnected(): void {
    this.unsubscribe = [
      this.client.on('message', (m) => this.onIncoming(m)),
      this.client.on('registration', (state) => {
        if (state.status === 'registered') this.domain = domainOf(state.aor)
      }),
    ]
  }

  hostDisconnected(): void {
    for (const off of this.unsubscribe) off()
    this.unsubscribe = []
  }

  /** Every conversation, the most recent first. */
  get conversations(): readonly Conversation[] {
    return this.store.list()
  }

  /** The open conversation (a new, empty one for a typed address). */
  get active(): Conversation | undefined {
    if (this.activeKey === undefined) return undefined
    return this.store.get(this.activeKey) ?? (this.draft?.key === this.activeKey ? this.draft : undefined)
  }

  /** Received messages not yet seen, over all conversations. */
  get unreadTotal(): number {
    return this.store.unreadTotal
  }

  /** The messages view is shown (true) or hidden; showing it marks the open conversation read. */
  setVisible(visible: boolean): void {
    this.visible = visible
    if (visible && this.activeKey !== undefined) this.store.markRead(this.activeKey)
    this.host.requestUpdate()
  }

  /** Opens a stored conversation and marks it read. */
  open(key: string): void {
    this.activeKey = key
    this.draft = undefined
    if (this.visible) this.store.markRead(key)
    this.host.requestUpdate()
  }

  /**
   * Opens the conversation with what the user typed (`bob`, `bob@host`, `sip:...`), a new
   * one when there is none yet. Returns a sentence for the user when it is not an address.
   */
  openTarget(target: string): { ok: true } | { ok: false; message: string } {
    const party = this.partyOf(target)
    if (!party.ok) return party
    const key = conversationKey(party.uri)
    if (this.store.get(key)) {
      this.open(key)
      return { ok: true }
    }
    this.activeKey = key
    this.draft = { key, ...party.party, messages: [], unread: 0, updatedAt: this.now() }
    this.host.requestUpdate()
    return { ok: true }
  }

  /** Back to the list of conversations. */
  close(): void {
    this.activeKey = undefined
    this.draft = undefined
    this.host.requestUpdate()
  }

  /** Deletes a conversation (and closes it if it is open). */
  remove(key: string): void {
    this.store.remove(key)
    if (this.activeKey === key) this.close()
    this.host.requestUpdate()
  }

  /** Sends `text` in the open conversation; resolves true once delivered. */
  async send(text: string): Promise<boolean> {
    const conversation = this.active
    if (!conversation || text.trim() === '') return false
    return this.sendTo(conversation, text)
  }

  private async sendTo(party: ChatParty, text: string): Promise<boolean> {
    const key = conversationKey(party.uri)
    const id = `local-${(++localSeq).toString(36)}-${this.now().toString(36)}`
    this.store.add(party, { id, direction: 'out', text, at: this.now(), status: 'sending' })
    if (this.draft?.key === key) this.draft = undefined
    this.host.requestUpdate()
    // The URI, not what was typed: a reply goes back to the address the message came from.
    const result = await this.client.sendMessage(party.uri, text)
    this.store.update(key, id, result.ok ? { status: 'sent' } : { status: 'failed', error: result.message })
    this.host.requestUpdate()
    return result.ok
  }

  private onIncoming(m: IncomingTextMessage): void {
    const party: ChatParty = { uri: m.from, user: m.user, displayName: m.displayName }
    const key = conversationKey(m.from)
    const seen = this.visible && this.activeKey === key
    this.store.add(party, { id: `in-${(++localSeq).toString(36)}-${m.at.toString(36)}`, direction: 'in', text: m.text, at: m.at, status: 'received' }, { unread: !seen })
    if (this.draft?.key === key) this.draft = undefined
    this.host.requestUpdate()
  }

  private partyOf(target: string): { ok: true; uri: string; party: ChatParty } | { ok: false; message: string } {
    const domain = this.domain ?? (this.client.registration.status === 'registered' ? domainOf(this.client.registration.aor) : undefined)
    if (domain === undefined) return { ok: false, message: 'You are offline. Wait until the status shows “Registered”.' }
    const parsed = parseDialTarget(target, domain)
    if (!parsed.ok) return { ok: false, message: parsed.message }
    return { ok: true, uri: parsed.uri, party: { uri: parsed.uri, user: parsed.user, displayName: '' } }
  }
}

/** `sip:alice@patchbay.test` -> `patchbay.test`. */
function domainOf(aor: string): string | undefined {
  return /@([^;?>]+)/.exec(aor)?.[1]
}

/**
 * Text conversations in localStorage (`pb.conversations`), one per contact, newest first.
 * Bounded: at most `maxConversations` conversations (the oldest go) and `maxMessages`
 * messages in each (the oldest go). The store keeps its own copy in memory and writes it
 * through; unreadable storage yields no conversations, a full one keeps working in memory.
 *
 * A message still `sending` when the page went away never got its answer: on load it shows
 * as failed, so that the user knows to send it again.
 */

/** `sending`: waiting for the other side's answer; `sent`: it accepted (2xx); `failed`: see `error`. */
export type ChatMessageStatus = 'sending' | 'sent' | 'failed' | 'received'

export interface ChatMessage {
  readonly id: string
  readonly direction: 'in' | 'out'
  readonly text: string
  /** Epoch ms. */
  readonly at: number
  readonly status: ChatMessageStatus
  /** Why an outgoing message failed, for the user ("Bob is offline."). */
  readonly error?: string
}

/** Who a conversation is with. */
export interface ChatParty {
  /** `sip:bob@patchbay.local`. */
  readonly uri: string
  /** `bob`. */
  readonly user: string
  /** Last display name seen, or empty. */
  readonly displayName: string
}

export interface Conversation extends ChatParty {
  /** `conversationKey(uri)`. */
  readonly key: string
  /** Oldest first. */
  readonly messages: readonly ChatMessage[]
  /** Messages received and not yet seen. */
  readonly unread: number
  /** Epoch ms of the last message. */
  readonly updatedAt: number
}

const KEY = 'pb.conversations'
const NOT_SENT_TEXT = 'Not sent: the page closed before the answer came.'

/** The key of a contact's conversation: `user@host`, lower case, no scheme or parameters. */
export function conversationKey(uri: string): string {
  return uri.trim().replace(/^sips?:/i, '').replace(/[;?>].*$/, '').toLowerCase()
}

function isMessage(v: unknown): v is ChatMessage {
  if (typeof v !== 'object' || v === null) return false
  const m = v as Record<string, unknown>
  return typeof m.id === 'string' && (m.direction === 'in' || m.direction === 'out') && typeof m.text === 'string'
    && typeof m.at === 'number' && (m.status === 'sending' || m.status === 'sent' || m.status === 'failed' || m.status === 'received')
}

function readConversation(v: unknown): Conversation | undefined {
  if (typeof v !== 'object' || v === null) return undefined
  const c = v as Record<string, unknown>
  if (typeof c.uri !== 'string' || typeof c.user !== 'string' || !Array.isArray(c.messages)) return undefined
  const messages = c.messages.filter(isMessage).map((m): ChatMessage => m.status === 'sending' ? { ...m, status: 'failed', error: NOT_SENT_TEXT } : m)
  return {
    key: conversationKey(c.uri),
    uri: c.uri,
    user: c.user,
    displayName: typeof c.displayName === 'string' ? c.displayName : '',
    messages,
    unread: typeof c.unread === 'number' && c.unread > 0 ? Math.floor(c.unread) : 0,
    updatedAt: typeof c.updatedAt === 'number' ? c.updatedAt : messages.at(-1)?.at ?? 0,
  }
}

export interface ConversationStoreLimits {
  readonly maxConversations?: number
  readonly maxMessages?: number
}

/** Conversations per contact, persisted in a Storage (see the file comment). */
export class ConversationStore {
  private items: Conversation[]
  private readonly maxConversations: number
  private readonly maxMessages: number

  constructor(private readonly storage: Storage, limits: ConversationStoreLimits = {}) {
    this.maxConversations = limits.maxConversations ?? 50
    this.maxMessages = limits.maxMessages ?? 200
    this.items = this.load()
  }

  /** Every conversation, the most recent first. */
  list(): readonly Conversation[] {
    return this.items
  }

  get(key: string): Conversation | undefined {
    return this.items.find((c) => c.key === key)
  }

  /** Messages received and not yet seen, over all conversations. */
  get unreadTotal(): number {
    return this.items.reduce((n, c) => n + c.unread, 0)
  }

  /** Appends a message to the conversation with `party` (created when new), which moves to the top. */
  add(party: ChatParty, message: ChatMessage, options: { unread?: boolean } = {}): Conversation {
    const key = conversationKey(party.uri)
    const old = this.get(key)
    const messages = [...(old?.messages ?? []), message].slice(-this.maxMessages)
    const next: Conversation = {
      key,
      uri: old?.uri ?? party.uri,
      user: party.user || old?.user || key,
      displayName: party.displayName || old?.displayName || '',
      messages,
      unread: (old?.unread ?? 0) + (options.unread ? 1 : 0),
      updatedAt: Math.max(old?.updatedAt ?? 0, message.at),
    }
    this.items = [next, ...this.items.filter((c) => c.key !== key)].slice(0, this.maxConversations)
    this.write()
    return next
  }

  /** Changes an outgoing message's status (the answer came); false when it is gone. */
  update(key: string, id: string, patch: { status: ChatMessageStatus; error?: string }): boolean {
    const old = this.get(key)
    if (!old?.messages.some((m) => m.id === id)) return false
    const messages = old.messages.map((m) => {
      if (m.id !== id) return m
      const { error: _dropped, ...rest } = m
      return { ...rest, status: patch.status, ...(patch.error !== undefined ? { error: patch.error } : {}) }
    })
    this.replace({ ...old, messages })
    return true
  }

  /** The user saw the conversation. */
  markRead(key: string): void {
    const old = this.get(key)
    if (old && old.unread > 0) this.replace({ ...old, unread: 0 })
  }

  remove(key: string): void {
    this.items = this.items.filter((c) => c.key !== key)
    this.write()
  }

  clear(): void {
    this.items = []
    this.write()
  }

  private replace(next: Conversation): void {
    this.items = this.items.map((c) => (c.key === next.key ? next : c))
    this.write()
  }

  private load(): Conversation[] {
    try {
      const raw = this.storage.getItem(KEY)
      if (!raw) return []
      const value: unknown = JSON.parse(raw)
      if (!Array.isArray(value)) return []
      const seen = new Set<string>()
      const out: Conversation[] = []
      for (const v of value) {
        const c = readConversation(v)
        if (!c || seen.has(c.key)) continue
        seen.add(c.key)
        out.push({ ...c, messages: c.messages.slice(-this.maxMessages) })
      }
      return out.sort((a, b) => b.updatedAt - a.updatedAt).slice(0, this.maxConversations)
    } catch {
      return []
    }
  }

  private write(): void {
    try {
      this.storage.setItem(KEY, JSON.stringify(this.items))
    } catch {
      // quota exceeded / private mode: the conversations live on in memory
    }
  }
}

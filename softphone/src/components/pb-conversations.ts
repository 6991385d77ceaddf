import { LitElement, css, html, nothing, type PropertyValues } from 'lit'
import { customElement, property, query, state } from 'lit/decorators.js'
import type { ChatMessage, Conversation } from '../storage/conversation-store.ts'
import { formatWhen, initials, partyName } from './format.ts'
import { icon } from './icons.ts'
import { sharedStyles } from './shared-styles.ts'

/** The name shown for a conversation's contact. */
export function conversationName(c: Pick<Conversation, 'displayName' | 'user'>): string {
  return partyName(c.displayName, c.user)
}

/** The status line under an outgoing message ("Sending…", "Delivered", "Not delivered"). */
function statusText(m: ChatMessage): string {
  switch (m.status) {
    case 'sending': return 'Sending…'
    case 'sent': return 'Delivered'
    case 'failed': return 'Not delivered'
    default: return ''
  }
}

/**
 * Text conversations: the list (newest first, unread badges, a field to start a new one)
 * or one thread with its composer. Failed messages show why inline ("bob is offline.").
 * Renders only; the owner (pb-app with a MessagesController) acts on the events.
 *
 * @fires pb-open-conversation - `{ detail: { key } }`: open a listed conversation
 * @fires pb-new-conversation - `{ detail: { target } }`: open one with a typed address
 * @fires pb-close-conversation - back to the list
 * @fires pb-send-message - `{ detail: { text } }`: send in the open conversation
 * @fires pb-call - `{ detail: { target } }`: call the open conversation's contact
 * @fires pb-delete-conversation - `{ detail: { key } }`
 * @csspart thread - the list of messages of the open conversation
 */
@customElement('pb-conversations')
export class PbConversations extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: block; }
    header { display: flex; align-items: center; gap: 10px; padding: 18px 20px 8px; }
    h2 { margin: 0; font-size: 16px; font-weight: 700; flex: 1; }
    .new { display: flex; gap: 8px; padding: 4px 20px 10px; }
    .new .field { flex: 1; min-width: 0; min-height: 40px; padding: 8px 12px; font-size: 14px; }
    .new .btn { flex: none; white-space: nowrap; }
    .problem { display: flex; align-items: center; gap: 8px; margin: 0 20px 10px; padding: 8px 12px; border-radius: var(--pb-radius-sm); background: var(--pb-red-soft); color: var(--pb-red-text); font-size: 13px; font-weight: 500; }
    ul { list-style: none; margin: 0; padding: 4px 8px 10px; }
    .row { display: flex; align-items: center; gap: 12px; width: 100%; padding: 10px 12px; border: none; border-radius: var(--pb-radius-sm); background: transparent; text-align: left; }
    .row:hover { background: var(--pb-surface-2); }
    .avatar { width: 38px; height: 38px; border-radius: 50%; flex: none; display: grid; place-items: center; background: var(--pb-surface-2); color: var(--pb-text-2); font-weight: 700; font-size: 14px; }
    .row:hover .avatar { background: var(--pb-surface); }
    .main { flex: 1; min-width: 0; }
    .name { font-weight: 600; font-size: 15px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
    .snippet { font-size: 13px; color: var(--pb-text-2); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
    .row .name, .row .snippet { display: block; }
    .unread .name, .unread .snippet { color: var(--pb-text); font-weight: 700; }
    .side { display: grid; justify-items: end; gap: 4px; }
    .when { font-size: 12px; color: var(--pb-text-3); white-space: nowrap; }
    .badge { min-width: 20px; height: 20px; padding: 0 6px; border-radius: 10px; background: var(--pb-accent); color: #fff; font-size: 12px; font-weight: 700; display: grid; place-items: center; }
    .empty { padding: 28px 20px 36px; text-align: center; color: var(--pb-text-3); font-size: 14px; }
    .empty .icon { margin: 0 auto 10px; color: var(--pb-border-strong); }
    .thread-head { padding: 12px 12px 12px 8px; border-bottom: 1px solid var(--pb-border); }
    .thread-head .who { flex: 1; min-width: 0; display: flex; align-items: center; gap: 10px; }
    .thread-head .addr { font-size: 12px; color: var(--pb-text-3); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
    .call { color: var(--pb-green); }
    .call:hover:not(:disabled) { background: var(--pb-green-soft); color: var(--pb-green-text); }
    .thread { list-style: none; margin: 0; padding: 16px 16px 8px; display: flex; flex-direction: column; gap: 10px; max-height: 420px; min-height: 160px; overflow-y: auto; }
    .msg { display: flex; flex-direction: column; max-width: 80%; }
    .msg.out { align-self: flex-end; align-items: flex-end; }
    .msg.in { align-self: flex-start; align-items: flex-start; }
    .bubble { padding: 9px 13px; border-radius: 16px; font-size: 15px; line-height: 1.4; white-space: pre-wrap; overflow-wrap: anywhere; }
    .in .bubble { background: var(--pb-surface-2); border-bottom-left-radius: 6px; }
    .out .bubble { background: var(--pb-accent); color: #fff; border-bottom-right-radius: 6px; }
    .out.sending .bubble { opacity: .7; }
    .out.failed .bubble { background: var(--pb-red-soft); color: var(--pb-red-text); border: 1px solid color-mix(in srgb, var(--pb-red) 25%, transparent); }
    .meta { margin-top: 3px; font-size: 12px; color: var(--pb-text-3); }
    .msg-error { display: flex; align-items: center; gap: 6px; margin-top: 4px; font-size: 13px; font-weight: 500; color: var(--pb-red-text); }
    .composer { display: flex; align-items: flex-end; gap: 8px; padding: 10px 12px 12px; border-top: 1px solid var(--pb-border); }
    .composer textarea { resize: none; min-height: 44px; max-height: 120px; line-height: 1.4; }
    .offline { margin: 0 12px 12px; font-size: 13px; color: var(--pb-amber-text); }
  `]

  @property({ attribute: false }) conversations: readonly Conversation[] = []
  /** The open conversation, or undefined for the list. */
  @property({ attribute: false }) active: Conversation | undefined
  /** Sending is not possible now (not registered). */
  @property({ type: Boolean }) disabled = false
  /** Calling is not possible now. */
  @property({ type: Boolean, attribute: 'call-disabled' }) callDisabled = false
  /** A problem with the typed address of a new conversation. */
  @property() error = ''
  @state() private text = ''
  @query('.thread') private thread?: HTMLElement
  @query('textarea') private composer?: HTMLTextAreaElement

  private fire(type: string, detail: Record<string, unknown> = {}): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }))
  }

  /** Moves the keyboard focus to the composer (or the new-conversation field). */
  override focus(): void {
    const target = this.composer ?? this.renderRoot.querySelector<HTMLInputElement>('#new-to')
    target?.focus()
  }

  protected override updated(changed: PropertyValues<this>): void {
    const before = changed.get('active') as Conversation | undefined
    if (changed.has('active') && this.thread) {
      // New messages, or another conversation: show the latest.
      if (before?.key !== this.active?.key || (before?.messages.length ?? 0) !== (this.active?.messages.length ?? 0)) {
        this.thread.scrollTop = this.thread.scrollHeight
      }
    }
    if (changed.has('active') && before?.key !== this.active?.key) this.text = ''
  }

  private send(event?: Event): void {
    event?.preventDefault()
    const text = this.composer?.value ?? this.text
    if (this.disabled || text.trim() === '') return
    this.fire('pb-send-message', { text })
    this.text = ''
    if (this.composer) this.composer.value = ''
  }

  private onComposerKey(event: KeyboardEvent): void {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) this.send(event)
  }

  private startNew(event: Event): void {
    event.preventDefault()
    const input = this.renderRoot.querySelector<HTMLInputElement>('#new-to')
    const target = input?.value.trim() ?? ''
    if (target === '') return
    this.fire('pb-new-conversation', { target })
    if (input) input.value = ''
  }

  private renderList() {
    const now = Date.now()
    const list = this.conversations
    return html`
      <header><h2 id="messages-title">Messages</h2></header>
      <form class="new" @submit=${this.startNew}>
        <input id="new-to" class="field" autocomplete="off" spellcheck="false" placeholder="Name, number or SIP address"
          aria-label="New message to">
        <button class="btn primary" type="submit">${icon('message', 16)}New message</button>
      </form>
      ${this.error ? html`<div class="problem" role="alert">${icon('alert', 16)}<span>${this.error}</span></div>` : nothing}
      ${list.length === 0
        ? html`<div class="empty">${icon('message', 32)}No messages yet. Messages you send and receive appear here.</div>`
        : html`<ul aria-labelledby="messages-title">
          ${list.map((c) => {
            const name = conversationName(c)
            const last = c.messages.at(-1)
            const snippet = last ? `${last.direction === 'out' ? 'You: ' : ''}${last.text}` : ''
            const label = `Conversation with ${name}${c.unread ? `, ${c.unread} unread` : ''}`
            return html`<li><button class="row ${c.unread ? 'unread' : ''}" aria-label=${label}
                @click=${() => this.fire('pb-open-conversation', { key: c.key })}>
              <span class="avatar" aria-hidden="true">${initials(name)}</span>
              <span class="main"><span class="name">${name}</span><span class="snippet">${snippet}</span></span>
              <span class="side">
                ${last ? html`<span class="when">${formatWhen(last.at, now)}</span>` : nothing}
                ${c.unread ? html`<span class="badge" aria-hidden="true">${c.unread}</span>` : nothing}
              </span>
            </button></li>`
          })}
        </ul>`}`
  }

  private renderMessage(m: ChatMessage, name: string, isLast: boolean, now: number) {
    const status = m.direction === 'out' ? statusText(m) : ''
    return html`<li class="msg ${m.direction} ${m.status}">
      <span class="sr-only">${m.direction === 'out' ? 'You' : name}:</span>
      <div class="bubble">${m.text}</div>
      <div class="meta"><time datetime=${new Date(m.at).toISOString()}>${formatWhen(m.at, now)}</time>${status && m.status !== 'failed' ? html` · ${status}` : nothing}</div>
      ${m.status === 'failed' ? html`<div class="msg-error" role=${isLast ? 'alert' : nothing}>${icon('alert', 14)}<span>Not delivered: ${m.error ?? 'the message was not sent.'}</span></div>` : nothing}
    </li>`
  }

  private renderThread(c: Conversation) {
    const name = conversationName(c)
    const now = Date.now()
    const address = c.uri.replace(/^sips?:/, '')
    return html`
      <header class="thread-head">
        <button class="icon-btn" aria-label="Back to conversations" @click=${() => this.fire('pb-close-conversation')}>${icon('chevron-left')}</button>
        <div class="who">
          <span class="avatar" aria-hidden="true">${initials(name)}</span>
          <div class="main"><h2 id="thread-title" class="name">${name}</h2><div class="addr">${address}</div></div>
        </div>
        <button class="icon-btn call" aria-label=${`Call ${name}`} ?disabled=${this.callDisabled}
          @click=${() => this.fire('pb-call', { target: address })}>${icon('phone', 18)}</button>
        ${c.messages.length ? html`<button class="icon-btn" aria-label=${`Delete conversation with ${name}`}
          @click=${() => this.fire('pb-delete-conversation', { key: c.key })}>${icon('trash', 18)}</button>` : nothing}
      </header>
      ${c.messages.length === 0
        ? html`<div class="empty">${icon('message', 32)}No messages with ${name} yet.</div>`
        : html`<ol class="thread" part="thread" role="log" aria-label=${`Messages with ${name}`}>
          ${c.messages.map((m, i) => this.renderMessage(m, name, i === c.messages.length - 1, now))}
        </ol>`}
      <form class="composer" @submit=${(e: Event) => this.send(e)}>
        <textarea class="field" rows="1" maxlength="4096" aria-label=${`Message to ${name}`} placeholder=${`Message ${name}`}
          .value=${this.text} @input=${(e: Event) => { this.text = (e.target as HTMLTextAreaElement).value }}
          @keydown=${this.onComposerKey}></textarea>
        <button class="btn primary" type="submit" aria-label="Send message" ?disabled=${this.disabled}>${icon('send', 16)}Send</button>
      </form>
      ${this.disabled ? html`<div class="offline" role="status">You are offline: messages can be sent once the connection is back.</div>` : nothing}`
  }

  override render() {
    return this.active ? this.renderThread(this.active) : this.renderList()
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-conversations': PbConversations
  }
}

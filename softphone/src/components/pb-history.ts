import { LitElement, css, html, nothing } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import type { CallHistoryEntry } from '../storage/call-history-store.ts'
import { formatDuration, formatWhen, initials, partyName } from './format.ts'
import { icon, type IconName } from './icons.ts'
import { sharedStyles } from './shared-styles.ts'

const OUTCOME_TEXT: Record<CallHistoryEntry['outcome'], string> = {
  answered: '',
  missed: 'Missed',
  declined: 'Declined',
  busy: 'Busy',
  'no-answer': 'No answer',
  cancelled: 'Cancelled',
  failed: 'Failed',
}

function entryIcon(entry: CallHistoryEntry): IconName {
  if (entry.outcome === 'missed') return 'phone-missed'
  return entry.direction === 'incoming' ? 'phone-incoming' : 'phone-outgoing'
}

/** "Outgoing · 2:31", "Missed", "Incoming · Declined". Pure. */
export function historyDetail(entry: CallHistoryEntry): string {
  const dir = entry.direction === 'incoming' ? 'Incoming' : 'Outgoing'
  if (entry.outcome === 'answered') return `${dir} · ${formatDuration(entry.durationSeconds)}`
  if (entry.outcome === 'missed') return 'Missed'
  return `${dir} · ${OUTCOME_TEXT[entry.outcome]}`
}

/** What redial (or a message) goes to for a history entry. */
function targetOf(e: CallHistoryEntry): string {
  return e.user.includes('@') || e.uri === '' ? e.user : e.uri.replace(/^sips?:/, '')
}

/**
 * Recent calls, newest first, each with a message and a redial button.
 *
 * @fires pb-redial - `{ detail: { target } }`
 * @fires pb-message - `{ detail: { target } }`: open the conversation with the entry's party
 * @fires pb-clear-history - the user cleared the list
 * @csspart list - the list element
 * @csspart item - each entry
 */
@customElement('pb-history')
export class PbHistory extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: block; }
    header { display: flex; align-items: center; justify-content: space-between; padding: 18px 20px 8px; }
    h2 { margin: 0; font-size: 16px; font-weight: 700; }
    ul { list-style: none; margin: 0; padding: 4px 8px 10px; }
    li { display: flex; align-items: center; gap: 12px; padding: 10px 12px; border-radius: var(--pb-radius-sm); }
    li:hover { background: var(--pb-surface-2); }
    .avatar { width: 38px; height: 38px; border-radius: 50%; flex: none; display: grid; place-items: center; background: var(--pb-surface-2); color: var(--pb-text-2); font-weight: 700; font-size: 14px; }
    li:hover .avatar { background: var(--pb-surface); }
    .main { flex: 1; min-width: 0; }
    .name { font-weight: 600; font-size: 15px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
    .missed .name { color: var(--pb-red-text); }
    .detail { display: flex; align-items: center; gap: 5px; font-size: 13px; color: var(--pb-text-2); white-space: nowrap; overflow: hidden; }
    .detail .icon { color: var(--pb-text-3); }
    .missed .detail .icon { color: var(--pb-red); }
    .when { font-size: 12px; color: var(--pb-text-3); white-space: nowrap; }
    .redial { color: var(--pb-green); }
    .redial:hover:not(:disabled) { background: var(--pb-green-soft); color: var(--pb-green-text); }
    .message:hover:not(:disabled) { background: var(--pb-accent-soft); color: var(--pb-accent-text); }
    .empty { padding: 28px 20px 36px; text-align: center; color: var(--pb-text-3); font-size: 14px; }
    .empty .icon { margin: 0 auto 10px; color: var(--pb-border-strong); }
  `]

  @property({ attribute: false }) entries: readonly CallHistoryEntry[] = []
  /** Redial buttons are disabled (not registered / in a call). */
  @property({ type: Boolean, attribute: 'redial-disabled' }) redialDisabled = false
  /** How many entries to show. */
  @property({ type: Number }) limit = 50

  private fire(type: string, detail: Record<string, unknown> = {}): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }))
  }

  override render() {
    const now = Date.now()
    const shown = this.entries.slice(0, this.limit)
    return html`
      <header>
        <h2 id="recent-title">Recent calls</h2>
        ${shown.length ? html`<button class="btn ghost" @click=${() => this.fire('pb-clear-history')} aria-label="Clear call history">${icon('trash', 16)}Clear</button>` : nothing}
      </header>
      ${shown.length === 0
        ? html`<div class="empty">${icon('clock', 32)}No calls yet. Calls you make and receive appear here.</div>`
        : html`<ul part="list" aria-labelledby="recent-title">
          ${shown.map((e) => {
            const name = partyName(e.displayName, e.user)
            return html`<li part="item" class=${e.outcome === 'missed' ? 'missed' : ''} title=${e.message}>
              <span class="avatar" aria-hidden="true">${initials(name)}</span>
              <div class="main">
                <div class="name">${name}</div>
                <div class="detail">${icon(entryIcon(e), 13)}<span>${historyDetail(e)}${name.toLowerCase() !== e.user.toLowerCase() ? html` · ${e.user}` : nothing}</span></div>
              </div>
              <span class="when">${formatWhen(e.startedAt, now)}</span>
              <button class="icon-btn message" aria-label=${`Message ${name}`}
                @click=${() => this.fire('pb-message', { target: targetOf(e) })}>${icon('message', 18)}</button>
              <button class="icon-btn redial" aria-label=${`Call ${name}`} ?disabled=${this.redialDisabled}
                @click=${() => this.fire('pb-redial', { target: targetOf(e) })}>${icon('phone', 18)}</button>
            </li>`
          })}
        </ul>`}`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-history': PbHistory
  }
}

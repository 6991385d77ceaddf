import { LitElement, css, html, nothing } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import type { CallSnapshot } from '../signaling/signaling-client.ts'
import { initials, partyName, partySubtitle } from './format.ts'
import { icon } from './icons.ts'
import { sharedStyles } from './shared-styles.ts'

/**
 * A ringing incoming call: caller's display name and number, Answer and Decline. While
 * another call is up (call waiting) the card is compact and Answer becomes "Hold & answer".
 * Decline sends 603 Decline.
 *
 * @fires pb-answer - `{ detail: { callId } }`
 * @fires pb-decline - `{ detail: { callId } }`
 * @csspart card - the card container
 * @csspart name - the caller's name
 * @csspart answer - the answer button
 * @csspart decline - the decline button
 */
@customElement('pb-incoming-call')
export class PbIncomingCall extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: block; }
    .card { padding: 28px 24px 24px; text-align: center; border-color: color-mix(in srgb, var(--pb-accent) 35%, var(--pb-border)); }
    .kicker { display: inline-flex; align-items: center; gap: 6px; margin: 0 0 18px; font-size: 13px; font-weight: 700; color: var(--pb-accent); text-transform: uppercase; letter-spacing: .06em; }
    .avatar {
      width: 84px; height: 84px; margin: 0 auto 14px; border-radius: 50%; display: grid; place-items: center;
      background: var(--pb-accent-soft); color: var(--pb-accent); font-size: 30px; font-weight: 700; position: relative;
    }
    .avatar::after {
      content: ''; position: absolute; inset: -6px; border-radius: 50%; border: 2px solid var(--pb-green);
      animation: ring 1.4s ease-out infinite; opacity: 0;
    }
    @keyframes ring { 0% { transform: scale(.9); opacity: .7; } 100% { transform: scale(1.3); opacity: 0; } }
    @media (prefers-reduced-motion: reduce) { .avatar::after { animation: none; } }
    h2 { margin: 0; font-size: 28px; line-height: 1.2; font-weight: 700; overflow-wrap: anywhere; }
    .number { margin: 4px 0 0; color: var(--pb-text-2); font-size: 15px; overflow-wrap: anywhere; }
    .actions { display: flex; justify-content: center; gap: 40px; margin-top: 28px; }
    .action { display: flex; flex-direction: column; align-items: center; gap: 8px; font-size: 13px; font-weight: 600; color: var(--pb-text-2); }
    .action button {
      width: 64px; height: 64px; border-radius: 50%; border: none; color: #fff; display: grid; place-items: center;
      transition: background-color .15s, transform .06s;
    }
    .action button:active { transform: scale(.97); }
    .answer button { background: var(--pb-green); box-shadow: 0 6px 16px color-mix(in srgb, var(--pb-green) 30%, transparent); }
    .answer button:hover { background: var(--pb-green-strong); }
    .decline button { background: var(--pb-red); box-shadow: 0 6px 16px color-mix(in srgb, var(--pb-red) 30%, transparent); }
    .decline button:hover { background: var(--pb-red-strong); }
    .error { margin: 16px 0 0; padding: 10px 12px; border-radius: var(--pb-radius-sm); background: var(--pb-red-soft); color: var(--pb-red-text); font-size: 14px; font-weight: 500; }

    /* Call waiting: a compact card above the current call: who on top, actions below. */
    :host([waiting]) .card { display: flex; flex-wrap: wrap; align-items: center; gap: 12px 14px; padding: 16px; text-align: left; }
    :host([waiting]) .avatar { width: 44px; height: 44px; margin: 0; font-size: 16px; flex: none; }
    :host([waiting]) .avatar::after { inset: -4px; }
    :host([waiting]) .text { flex: 1; min-width: 0; }
    :host([waiting]) .kicker { margin: 0 0 2px; font-size: 11px; }
    :host([waiting]) h2 { font-size: 18px; }
    :host([waiting]) .number { font-size: 13px; margin: 0; }
    :host([waiting]) .actions { flex-basis: 100%; margin: 0; gap: 10px; }
    :host([waiting]) .action { flex: 1; flex-direction: row; }
    :host([waiting]) .action button {
      flex: 1; width: auto; height: 42px; padding: 0 14px; border-radius: 999px; gap: 8px;
      display: inline-flex; align-items: center; justify-content: center; font-weight: 700; font-size: 14px; box-shadow: none;
    }
    :host([waiting]) .error { flex-basis: 100%; margin: 0; }
    :host([waiting]) .action button span { white-space: nowrap; }
    @media (max-width: 420px) {
      :host([waiting]) .action button { padding: 0 10px; gap: 6px; font-size: 13px; }
    }
  `]

  @property({ attribute: false }) call!: CallSnapshot
  @property() name = ''
  /** Another call is in progress: show the call-waiting layout. */
  @property({ type: Boolean, reflect: true }) waiting = false
  /** Why answering failed (e.g. microphone blocked). */
  @property() error = ''
  @state() private answering = false

  override firstUpdated(): void {
    if (!this.waiting) this.renderRoot.querySelector<HTMLButtonElement>('.answer button')?.focus()
  }

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('call') || changed.has('error')) this.answering = false
  }

  private fire(type: 'pb-answer' | 'pb-decline'): void {
    if (type === 'pb-answer') this.answering = true
    this.dispatchEvent(new CustomEvent(type, { detail: { callId: this.call.id }, bubbles: true, composed: true }))
  }

  override render() {
    const call = this.call
    if (!call) return nothing
    const name = this.name || partyName(call.remote.displayName, call.remote.user)
    const number = partySubtitle(call.remote)
    const answerLabel = this.waiting ? 'Hold & answer' : 'Answer'
    return html`<section class="card" part="card" role="alertdialog" aria-labelledby="caller" aria-describedby="kicker number">
      <div class="avatar" aria-hidden="true">${initials(name)}</div>
      <div class="text">
        <p class="kicker" id="kicker">${this.waiting ? 'Call waiting' : html`${icon('phone-incoming', 14)} Incoming call`}</p>
        <h2 id="caller" part="name">${name}</h2>
        <p class="number" id="number">${number}</p>
      </div>
      <div class="actions">
        <div class="action decline">
          <button part="decline" aria-label=${`Decline call from ${name}`} @click=${() => this.fire('pb-decline')}>${icon('phone-off', this.waiting ? 18 : 26)}${this.waiting ? html`<span>Decline</span>` : nothing}</button>
          ${this.waiting ? nothing : html`<span aria-hidden="true">Decline</span>`}
        </div>
        <div class="action answer">
          <button part="answer" aria-label=${`${answerLabel} call from ${name}`} ?disabled=${this.answering} @click=${() => this.fire('pb-answer')}>${icon('phone', this.waiting ? 18 : 26)}${this.waiting ? html`<span>${answerLabel}</span>` : nothing}</button>
          ${this.waiting ? nothing : html`<span aria-hidden="true">${answerLabel}</span>`}
        </div>
      </div>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
    </section>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-incoming-call': PbIncomingCall
  }
}

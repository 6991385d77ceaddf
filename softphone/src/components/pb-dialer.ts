import { LitElement, css, html, nothing } from 'lit'
import { customElement, property, query } from 'lit/decorators.js'
import { icon } from './icons.ts'
import { sharedStyles } from './shared-styles.ts'
import './pb-dialpad.ts'

export interface DialSuggestion {
  readonly user: string
  readonly displayName: string
}

/**
 * The dial field (name, number or SIP address) with a keypad and a Call button. Enter in the
 * field dials; keypad presses append to the field. Suggestions come from the call history.
 *
 * @fires pb-dial - `{ detail: { target } }` when the user asks to call
 * @csspart field - the text input
 * @csspart call-button - the green Call button
 */
@customElement('pb-dialer')
export class PbDialer extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: block; }
    .entry { position: relative; margin-bottom: 20px; }
    input.target {
      width: 100%; height: 56px; padding: 0 52px 0 16px; border-radius: var(--pb-radius-sm);
      border: 1px solid var(--pb-border-strong); background: var(--pb-surface);
      font: inherit; font-size: 22px; font-weight: 500; letter-spacing: .01em; color: var(--pb-text);
      transition: border-color .15s, box-shadow .15s;
    }
    input.target::placeholder { color: var(--pb-text-3); font-weight: 400; font-size: 17px; letter-spacing: 0; }
    input.target:hover { border-color: var(--pb-text-3); }
    input.target:focus { outline: none; border-color: var(--pb-accent); box-shadow: var(--pb-focus); }
    .erase { position: absolute; right: 8px; top: 8px; }
    .actions { display: flex; justify-content: center; margin-top: 22px; }
    button.call {
      display: inline-flex; align-items: center; justify-content: center; gap: 10px;
      min-width: 180px; height: 56px; padding: 0 28px; border-radius: 999px; border: none;
      background: var(--pb-green); color: #fff; font-size: 16px; font-weight: 700;
      box-shadow: 0 6px 16px color-mix(in srgb, var(--pb-green) 30%, transparent);
      transition: background-color .15s, transform .06s;
    }
    button.call:hover:not(:disabled) { background: var(--pb-green-strong); }
    button.call:active:not(:disabled) { transform: scale(.98); }
    .hint { margin: 12px 0 0; text-align: center; font-size: 13px; color: var(--pb-text-3); }
    .hint:empty { display: none; }
    .spinner {
      width: 18px; height: 18px; border-radius: 50%; border: 2.5px solid rgba(255,255,255,.45);
      border-top-color: #fff; animation: spin .8s linear infinite;
    }
    @keyframes spin { to { transform: rotate(360deg); } }
  `]

  /** Calls cannot be made now (not registered); the button explains why. */
  @property({ type: Boolean }) disabled = false
  /** A call is being set up (ICE servers, microphone). */
  @property({ type: Boolean }) busy = false
  @property({ attribute: false }) suggestions: readonly DialSuggestion[] = []
  @property() value = ''
  @query('input.target') private input!: HTMLInputElement

  override focus(): void {
    this.input?.focus()
  }

  private dial(): void {
    const target = this.value.trim()
    if (!target || this.disabled || this.busy) return
    this.dispatchEvent(new CustomEvent('pb-dial', { detail: { target }, bubbles: true, composed: true }))
  }

  private onDigit(event: CustomEvent<{ digit: string }>): void {
    this.value += event.detail.digit
  }

  private erase(): void {
    this.value = this.value.slice(0, -1)
    this.input.focus()
  }

  override render() {
    const canDial = this.value.trim() !== '' && !this.disabled && !this.busy
    return html`
      <div class="entry">
        <label class="sr-only" for="target">Name or number to call</label>
        <input id="target" class="target" part="field" type="text" inputmode="text" autocomplete="off"
          spellcheck="false" autocapitalize="off" list="recent" placeholder="Name or number"
          .value=${this.value}
          @input=${(e: Event) => { this.value = (e.target as HTMLInputElement).value }}
          @keydown=${(e: KeyboardEvent) => { if (e.key === 'Enter') { e.preventDefault(); this.dial() } }}>
        <datalist id="recent">
          ${this.suggestions.map((s) => html`<option value=${s.user}>${s.displayName || s.user}</option>`)}
        </datalist>
        ${this.value
          ? html`<button class="icon-btn erase" aria-label="Delete last character" @click=${this.erase}>${icon('backspace')}</button>`
          : nothing}
      </div>
      <pb-dialpad @pb-digit=${this.onDigit}></pb-dialpad>
      <div class="actions">
        <button class="call" part="call-button" ?disabled=${!canDial} @click=${this.dial}
          aria-label=${this.value.trim() ? `Call ${this.value.trim()}` : 'Call'}>
          ${this.busy ? html`<span class="spinner" aria-hidden="true"></span>` : icon('phone', 22)}
          <span>${this.busy ? 'Calling…' : 'Call'}</span>
        </button>
      </div>
      <p class="hint" aria-live="polite">${this.disabled ? 'Calls are possible once you are registered.' : nothing}</p>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-dialer': PbDialer
  }
}

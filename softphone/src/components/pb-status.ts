import { LitElement, css, html, nothing } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import type { RegistrationState } from '../signaling/signaling-client.ts'
import { sharedStyles } from './shared-styles.ts'

export type StatusTone = 'ok' | 'busy' | 'error' | 'idle'

/** Short label, tone and detail for a registration state. Pure (used by tests too). */
export function describeRegistration(state: RegistrationState, now: number): { tone: StatusTone; label: string; detail: string } {
  switch (state.status) {
    case 'signed-out':
      return { tone: 'idle', label: 'Signed out', detail: '' }
    case 'connecting':
      return { tone: 'busy', label: state.attempt > 0 ? 'Reconnecting…' : 'Connecting…', detail: '' }
    case 'registered':
      return { tone: 'ok', label: 'Registered', detail: state.aor.replace(/^sip:/, '') }
    case 'reconnecting': {
      const seconds = Math.max(0, Math.ceil((state.retryAt - now) / 1000))
      return { tone: 'error', label: state.message.replace(/\.$/, ''), detail: seconds > 0 ? `Retrying in ${seconds} s` : 'Retrying…' }
    }
    case 'failed':
      return { tone: 'error', label: state.message.replace(/\.$/, ''), detail: 'Not registered' }
  }
}

/**
 * The registration pill: a coloured dot and words (Registered / Connecting… / Wrong password…),
 * with a countdown to the next retry while reconnecting. Announced politely to screen readers.
 *
 * @csspart pill - the rounded status container
 * @csspart dot - the coloured state dot
 * @fires pb-retry - the user asked to retry now (button shown while reconnecting)
 */
@customElement('pb-status')
export class PbStatus extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: inline-flex; min-width: 0; }
    .pill {
      display: inline-flex; align-items: center; gap: 8px; min-width: 0; max-width: 100%;
      height: 32px; padding: 0 12px 0 10px; border-radius: 999px; font-size: 13px; font-weight: 600;
      background: var(--pb-surface-2); color: var(--pb-text-2); white-space: nowrap;
    }
    .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--pb-text-3); flex: none; }
    .ok { background: var(--pb-green-soft); color: var(--pb-green-text); }
    .ok .dot { background: var(--pb-green); box-shadow: 0 0 0 3px color-mix(in srgb, var(--pb-green) 22%, transparent); }
    .busy { background: var(--pb-amber-soft); color: var(--pb-amber-text); }
    .busy .dot { background: var(--pb-amber); animation: pulse 1.2s ease-in-out infinite; }
    .error { background: var(--pb-red-soft); color: var(--pb-red-text); }
    .error .dot { background: var(--pb-red); }
    .label { overflow: hidden; text-overflow: ellipsis; }
    .detail { font-weight: 500; opacity: .8; overflow: hidden; text-overflow: ellipsis; }
    .sep { opacity: .5; }
    button.retry {
      border: none; background: none; padding: 0 2px; font-weight: 700; color: inherit;
      text-decoration: underline; text-underline-offset: 2px; border-radius: 4px;
    }
    @keyframes pulse { 50% { opacity: .35; } }
    @media (prefers-reduced-motion: reduce) { .busy .dot { animation: none; } }
    @media (max-width: 520px) { .detail, .sep { display: none; } }
  `]

  @property({ attribute: false }) state: RegistrationState = { status: 'signed-out' }
  /** Hide the AOR detail (e.g. when shown elsewhere). */
  @property({ type: Boolean, attribute: 'compact' }) compact = false
  @state() private now = Date.now()
  private tick: ReturnType<typeof setInterval> | undefined

  override updated(): void {
    const counting = this.state.status === 'reconnecting'
    if (counting && this.tick === undefined) {
      this.tick = setInterval(() => { this.now = Date.now() }, 1000)
    } else if (!counting && this.tick !== undefined) {
      clearInterval(this.tick)
      this.tick = undefined
    }
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    if (this.tick !== undefined) clearInterval(this.tick)
    this.tick = undefined
  }

  override render() {
    const { tone, label, detail } = describeRegistration(this.state, Math.max(this.now, Date.now()))
    const showDetail = detail !== '' && !(this.compact && tone === 'ok')
    return html`<div class="pill ${tone}" part="pill" role="status" aria-live="polite"
        title=${[label, detail].filter(Boolean).join(' — ')}>
      <span class="dot" part="dot"></span>
      <span class="label">${label}</span>
      ${showDetail ? html`<span class="sep" aria-hidden="true">·</span><span class="detail">${detail}</span>` : nothing}
      ${this.state.status === 'reconnecting'
        ? html`<button class="retry" @click=${() => this.dispatchEvent(new CustomEvent('pb-retry', { bubbles: true, composed: true }))}>Retry now</button>`
        : nothing}
    </div>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-status': PbStatus
  }
}

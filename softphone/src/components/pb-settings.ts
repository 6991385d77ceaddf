import { LitElement, css, html, nothing } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import type { DeviceOption } from '../controllers/media-devices-controller.ts'
import type { SignalingMode } from '../storage/settings-store.ts'
import { icon } from './icons.ts'
import { sharedStyles } from './shared-styles.ts'

export interface SettingsChange {
  readonly inputDeviceId?: string
  readonly outputDeviceId?: string
  readonly forceRelay?: boolean
  readonly displayName?: string
  /** Signaling for the next page load (main.ts stores it; pb-app ignores it). */
  readonly signaling?: SignalingMode
}

/** What the sheet shows about signaling; main.ts sets it (the mode of this page load, the stored choice). */
export interface SignalingInfo {
  readonly active: SignalingMode
  stored(): SignalingMode
}

const MODE_NAMES: Record<SignalingMode, string> = { sip: 'SIP over WebSocket', json: 'JSON signaling' }

/**
 * Settings sheet (modal): microphone, speaker, display name, "Force relay (TURN only)",
 * signaling (SIP / JSON, for the next sign-in or reload) and sign out. Escape or the close button dismisses it; focus returns to the opener.
 *
 * @fires pb-settings-change - `{ detail: SettingsChange }` (one field per event)
 * @fires pb-sign-out - the user signs out
 * @fires pb-close - the sheet should close
 * @csspart sheet - the dialog panel
 */
@customElement('pb-settings')
export class PbSettings extends LitElement {
  static override styles = [sharedStyles, css`
    :host { position: fixed; inset: 0; z-index: 20; display: grid; place-items: center; padding: 16px; }
    .backdrop { position: absolute; inset: 0; background: rgba(15, 23, 42, .32); animation: fade .15s ease-out; }
    .sheet {
      position: relative; width: 100%; max-width: 460px; max-height: calc(100vh - 32px); overflow: auto;
      background: var(--pb-surface); border-radius: var(--pb-radius); box-shadow: 0 20px 50px rgba(15,23,42,.25);
      animation: rise .18s ease-out;
    }
    header { display: flex; align-items: center; justify-content: space-between; padding: 18px 16px 6px 24px; }
    h2 { margin: 0; font-size: 19px; }
    section { padding: 14px 24px; }
    section + section { border-top: 1px solid var(--pb-border); }
    h3 { margin: 0 0 12px; font-size: 12px; font-weight: 700; color: var(--pb-text-3); text-transform: uppercase; letter-spacing: .07em; }
    .row + .row { margin-top: 14px; }
    select.field { appearance: none; padding-right: 36px; background-image: linear-gradient(45deg, transparent 50%, var(--pb-text-2) 50%), linear-gradient(135deg, var(--pb-text-2) 50%, transparent 50%); background-position: calc(100% - 18px) 50%, calc(100% - 13px) 50%; background-size: 5px 5px; background-repeat: no-repeat; }
    .help { margin: 6px 0 0; font-size: 12px; color: var(--pb-text-3); }
    .toggle { display: flex; gap: 12px; align-items: flex-start; cursor: pointer; }
    .toggle input { width: 18px; height: 18px; margin: 2px 0 0; accent-color: var(--pb-accent); flex: none; }
    .toggle strong { display: block; font-size: 14px; }
    .account { display: flex; align-items: center; justify-content: space-between; gap: 12px; }
    .account .who { min-width: 0; }
    .account .who div { font-weight: 600; overflow: hidden; text-overflow: ellipsis; }
    .account .who small { color: var(--pb-text-3); }
    .btn.danger { color: var(--pb-red-text); }
    .btn.danger:hover { background: var(--pb-red-soft); }
    footer { padding: 6px 24px 20px; display: flex; justify-content: flex-end; }
    @keyframes fade { from { opacity: 0; } }
    @keyframes rise { from { transform: translateY(8px); opacity: 0; } }
    @media (prefers-reduced-motion: reduce) { .backdrop, .sheet { animation: none; } }
    @media (max-width: 480px) {
      :host { padding: 0; align-items: end; }
      .sheet { max-width: none; border-radius: var(--pb-radius) var(--pb-radius) 0 0; max-height: 92vh; }
    }
  `]

  @property({ attribute: false }) inputs: readonly DeviceOption[] = []
  @property({ attribute: false }) outputs: readonly DeviceOption[] = []
  @property() inputId = ''
  @property() outputId = ''
  @property({ type: Boolean }) canSelectOutput = false
  @property({ type: Boolean }) forceRelay = false
  @property() displayName = ''
  /** `alice@patchbay.test` */
  @property() account = ''
  /** Set once by main.ts before the app mounts. */
  static signalingInfo: SignalingInfo = { active: 'sip', stored: () => 'sip' }
  /** The stored signaling choice (what the next sign-in or reload uses). */
  @property() signaling: SignalingMode = PbSettings.signalingInfo.stored()
  /** The signaling this page speaks now. */
  @property() activeSignaling: SignalingMode = PbSettings.signalingInfo.active
  private opener: Element | null = null
  private readonly onKey = (event: KeyboardEvent): void => {
    if (event.key === 'Escape') {
      event.preventDefault()
      this.close()
    } else if (event.key === 'Tab') {
      this.trapFocus(event)
    }
  }

  override connectedCallback(): void {
    super.connectedCallback()
    this.opener = (document.activeElement as Element | null) ?? null
    document.addEventListener('keydown', this.onKey)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    document.removeEventListener('keydown', this.onKey)
    const opener = this.opener as (Element & { focus?: () => void }) | null
    opener?.focus?.()
  }

  override firstUpdated(): void {
    this.renderRoot.querySelector<HTMLElement>('select, input, button')?.focus()
  }

  private focusables(): HTMLElement[] {
    return [...this.renderRoot.querySelectorAll<HTMLElement>('button, select, input')].filter((el) => !el.hasAttribute('disabled'))
  }

  private trapFocus(event: KeyboardEvent): void {
    const items = this.focusables()
    if (items.length === 0) return
    const active = this.shadowRoot?.activeElement
    const first = items[0]!
    const last = items[items.length - 1]!
    if (event.shiftKey && active === first) {
      event.preventDefault()
      last.focus()
    } else if (!event.shiftKey && active === last) {
      event.preventDefault()
      first.focus()
    }
  }

  private change(detail: SettingsChange): void {
    this.dispatchEvent(new CustomEvent<SettingsChange>('pb-settings-change', { detail, bubbles: true, composed: true }))
  }

  private close(): void {
    this.dispatchEvent(new CustomEvent('pb-close', { bubbles: true, composed: true }))
  }

  override render() {
    return html`<div class="backdrop" @click=${this.close}></div>
    <div class="sheet" part="sheet" role="dialog" aria-modal="true" aria-labelledby="settings-title">
      <header>
        <h2 id="settings-title">Settings</h2>
        <button class="icon-btn" aria-label="Close settings" @click=${this.close}>${icon('x')}</button>
      </header>
      <section>
        <h3>Audio</h3>
        <div class="row">
          <label class="label" for="mic">Microphone</label>
          <select class="field" id="mic" @change=${(e: Event) => this.change({ inputDeviceId: (e.target as HTMLSelectElement).value })}>
            <option value="" ?selected=${!this.inputId}>System default</option>
            ${this.inputs.map((d) => html`<option value=${d.deviceId} ?selected=${d.deviceId === this.inputId}>${d.label}</option>`)}
          </select>
          ${this.inputs.length === 0 ? html`<p class="help">Device names appear after your first call (when the browser allows the microphone).</p>` : nothing}
        </div>
        <div class="row">
          <label class="label" for="speaker">Speaker</label>
          ${this.canSelectOutput
            ? html`<select class="field" id="speaker" @change=${(e: Event) => this.change({ outputDeviceId: (e.target as HTMLSelectElement).value })}>
                <option value="" ?selected=${!this.outputId}>System default</option>
                ${this.outputs.map((d) => html`<option value=${d.deviceId} ?selected=${d.deviceId === this.outputId}>${d.label}</option>`)}
              </select>`
            : html`<select class="field" id="speaker" disabled><option>System default</option></select>
              <p class="help">This browser always plays calls on the system's default speaker.</p>`}
        </div>
      </section>
      <section>
        <h3>Identity</h3>
        <div class="row">
          <label class="label" for="display-name">Your name</label>
          <input class="field" id="display-name" placeholder="Shown to the people you call" autocomplete="name"
            .value=${this.displayName}
            @change=${(e: Event) => this.change({ displayName: (e.target as HTMLInputElement).value.trim() })}>
        </div>
      </section>
      <section>
        <h3>Network</h3>
        <label class="toggle">
          <input type="checkbox" .checked=${this.forceRelay}
            @change=${(e: Event) => this.change({ forceRelay: (e.target as HTMLInputElement).checked })}>
          <span><strong>Force relay (TURN only)</strong>
            <span class="help">Send all audio through the relay server. Use it when calls connect but stay silent on a strict network.</span></span>
        </label>
      </section>
      <section>
        <h3>Signaling</h3>
        <label class="label" for="signaling">Protocol</label>
        <select class="field" id="signaling" @change=${(e: Event) => {
          const mode = (e.target as HTMLSelectElement).value === 'json' ? 'json' : 'sip'
          this.signaling = mode
          this.change({ signaling: mode })
        }}>
          <option value="sip" ?selected=${this.signaling === 'sip'}>SIP (SIP over WebSocket)</option>
          <option value="json" ?selected=${this.signaling === 'json'}>JSON (Patchbay JSON signaling)</option>
        </select>
        <p class="help">In use now: ${MODE_NAMES[this.activeSignaling]}. A change takes effect at the next sign-in (after you sign out) or when you reload the page.</p>
      </section>
      <section>
        <div class="account">
          <div class="who"><small>Signed in as</small><div>${this.account}</div></div>
          <button class="btn danger" @click=${() => this.dispatchEvent(new CustomEvent('pb-sign-out', { bubbles: true, composed: true }))}>${icon('log-out', 16)}Sign out</button>
        </div>
      </section>
      <footer><button class="btn primary" @click=${this.close}>Done</button></footer>
    </div>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-settings': PbSettings
  }
}

import { LitElement, css, html, nothing } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import { icon, logo } from '../../components/icons.ts'
import { sharedStyles } from '../../components/shared-styles.ts'
import { adminIcon } from './admin-icons.ts'

/**
 * The admin sign-in: one field, the admin token of gateway.yaml (not a SIP account). Shows
 * why the last attempt failed; with `disabled` (no adminToken configured) it explains how to
 * set one instead of asking for it.
 *
 * @fires pb-admin-sign-in - `{ detail: { token } }`
 */
@customElement('pb-admin-login')
export class PbAdminLogin extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: block; }
    .card { width: 100%; max-width: 440px; margin: 0 auto; padding: 32px 28px 28px; }
    .brand { display: flex; align-items: center; gap: 10px; margin-bottom: 22px; }
    .brand strong { font-size: 18px; letter-spacing: -.01em; }
    .pill { font-size: 12px; font-weight: 700; padding: 2px 8px; border-radius: 999px; background: var(--pb-accent-soft); color: var(--pb-accent-text); }
    h1 { margin: 0 0 4px; font-size: 24px; line-height: 1.25; letter-spacing: -.01em; }
    .lead { margin: 0 0 24px; color: var(--pb-text-2); font-size: 15px; }
    .row { margin-bottom: 20px; }
    .help { margin: 6px 0 0; color: var(--pb-text-3); font-size: 12px; }
    .submit { width: 100%; min-height: 48px; font-size: 15px; }
    .error {
      display: flex; gap: 10px; align-items: flex-start; margin: 0 0 18px; padding: 12px 14px; border-radius: var(--pb-radius-sm);
      background: var(--pb-red-soft); color: var(--pb-red-text); font-size: 14px; font-weight: 500;
    }
    .setup { font-size: 14px; color: var(--pb-text-2); }
    .setup ol { margin: 0 0 18px; padding-left: 20px; display: grid; gap: 10px; }
    pre {
      margin: 6px 0 0; padding: 10px 12px; border-radius: var(--pb-radius-sm); background: var(--pb-text); color: #e7ecf5;
      font: 13px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-x: auto;
    }
    code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; background: var(--pb-surface-2); padding: 1px 6px; border-radius: 6px; }
    .spinner { width: 16px; height: 16px; border-radius: 50%; border: 2px solid rgba(255,255,255,.45); border-top-color: #fff; animation: spin .8s linear infinite; }
    @keyframes spin { to { transform: rotate(360deg); } }
  `]

  /** Shown above the form (e.g. "That admin token was not accepted."). */
  @property() error = ''
  @property({ type: Boolean }) busy = false
  /** The gateway has no adminToken: show how to set one. */
  @property({ type: Boolean }) disabled = false

  override firstUpdated(): void {
    this.renderRoot.querySelector<HTMLInputElement>('input[name="token"]')?.focus()
  }

  private submit(event: Event): void {
    event.preventDefault()
    if (this.busy) return
    const token = String(new FormData(event.target as HTMLFormElement).get('token') ?? '').trim()
    if (token === '') {
      this.error = 'Enter the admin token.'
      return
    }
    this.dispatchEvent(new CustomEvent('pb-admin-sign-in', { detail: { token }, bubbles: true, composed: true }))
  }

  private brand() {
    return html`<div class="brand">${logo(30)}<strong>Patchbay</strong><span class="pill">Admin</span></div>`
  }

  override render() {
    if (this.disabled) {
      return html`<section class="card" aria-labelledby="title">
        ${this.brand()}
        <h1 id="title">The admin page is switched off</h1>
        <p class="lead">This gateway has no admin token, so its admin API refuses every request.</p>
        <div class="setup">
          <ol>
            <li>Make a long random token, for example:<pre>openssl rand -hex 24</pre></li>
            <li>Set it in <code>gateway.yaml</code> (at least 16 characters):<pre>adminToken: "paste-the-token-here"</pre></li>
            <li>Reload the gateway (<code>kill -HUP</code> or a restart), then reload this page.</li>
          </ol>
        </div>
      </section>`
    }
    return html`<form class="card" @submit=${this.submit} aria-labelledby="title" novalidate>
      ${this.brand()}
      <h1 id="title">Sign in to the admin page</h1>
      <p class="lead">Use the gateway's admin token (<code>adminToken</code> in gateway.yaml), not a phone account.</p>
      ${this.error ? html`<div class="error" role="alert">${icon('alert', 18)}<span>${this.error}</span></div>` : nothing}
      <div class="row">
        <label class="label" for="token">Admin token</label>
        <input class="field" id="token" name="token" type="password" autocomplete="current-password" spellcheck="false" required>
        <p class="help">Kept in this tab only: closing it signs you out.</p>
      </div>
      <button class="btn primary submit" type="submit" aria-disabled=${this.busy ? 'true' : 'false'}>
        ${this.busy ? html`<span class="spinner" aria-hidden="true"></span>Checking…` : html`${adminIcon('key', 18)}Sign in`}
      </button>
    </form>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-admin-login': PbAdminLogin
  }
}

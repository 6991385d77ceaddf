import { LitElement, css, html, nothing } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { icon, logo } from './icons.ts'
import { sharedStyles } from './shared-styles.ts'

export interface SignInDetail {
  readonly server: string
  readonly user: string
  readonly password: string
  readonly remember: boolean
}

/**
 * The sign-in form: user, password, "remember me" and, under "Server", the gateway address
 * (empty means this page's own server). Shows why the last attempt failed.
 *
 * @fires pb-sign-in - `{ detail: { server, user, password, remember } }`
 * @csspart card - the form card
 * @csspart submit - the sign-in button
 * @csspart error - the failure message
 */
@customElement('pb-login')
export class PbLogin extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: block; }
    .card { width: 100%; max-width: 400px; margin: 0 auto; padding: 32px 28px 28px; }
    .brand { display: flex; align-items: center; gap: 10px; margin-bottom: 22px; }
    .brand strong { font-size: 18px; letter-spacing: -.01em; }
    h1 { margin: 0 0 4px; font-size: 24px; line-height: 1.25; letter-spacing: -.01em; }
    .sub { margin: 0 0 24px; color: var(--pb-text-2); font-size: 15px; }
    .row { margin-bottom: 16px; }
    .check { display: flex; align-items: center; gap: 10px; margin: 4px 0 20px; font-size: 14px; color: var(--pb-text); }
    .check input { width: 18px; height: 18px; margin: 0; accent-color: var(--pb-accent); }
    .check small { display: block; color: var(--pb-text-3); font-size: 12px; }
    details { margin: 0 0 18px; font-size: 14px; }
    summary { cursor: pointer; color: var(--pb-text-2); font-weight: 600; border-radius: 6px; width: fit-content; list-style: none; display: inline-flex; align-items: center; gap: 4px; }
    summary::-webkit-details-marker { display: none; }
    summary .icon { transition: transform .15s; }
    details[open] summary .icon { transform: rotate(180deg); }
    summary:focus-visible { outline: none; box-shadow: var(--pb-focus); }
    details .row { margin: 12px 0 0; }
    .help { margin: 6px 0 0; color: var(--pb-text-3); font-size: 12px; }
    .submit { width: 100%; min-height: 48px; font-size: 15px; }
    .submit[aria-disabled="true"] { opacity: .8; cursor: progress; }
    .error {
      display: flex; gap: 10px; align-items: flex-start; margin: 0 0 18px; padding: 12px 14px; border-radius: var(--pb-radius-sm);
      background: var(--pb-red-soft); color: var(--pb-red-text); font-size: 14px; font-weight: 500;
    }
    .error .icon { margin-top: 1px; }
    .spinner { width: 16px; height: 16px; border-radius: 50%; border: 2px solid rgba(255,255,255,.45); border-top-color: #fff; animation: spin .8s linear infinite; }
    @keyframes spin { to { transform: rotate(360deg); } }
    @media (max-width: 420px) { .card { padding: 26px 20px 22px; } }
  `]

  @property() server = ''
  @property() user = ''
  @property() password = ''
  @property({ type: Boolean }) remember = false
  /** Shown above the form (e.g. "Wrong password."). */
  @property() error = ''
  /** A sign-in is in progress. */
  @property({ type: Boolean }) busy = false
  /** Shown as the server placeholder: this page's origin. */
  @property() defaultServer = ''
  @state() private showServer = false

  override firstUpdated(): void {
    const target = this.user ? 'input[name="password"]' : 'input[name="user"]'
    this.renderRoot.querySelector<HTMLInputElement>(target)?.focus()
    this.showServer = this.server !== '' && this.server !== this.defaultServer
  }

  private submit(event: Event): void {
    event.preventDefault()
    // Busy: the button stays enabled (a focused button that becomes disabled loses focus and,
    // in Chromium, the page stops getting keyboard input) but a second submit is ignored.
    if (this.busy) return
    const form = event.target as HTMLFormElement
    const data = new FormData(form)
    const detail: SignInDetail = {
      server: String(data.get('server') ?? '').trim(),
      user: String(data.get('user') ?? '').trim(),
      password: String(data.get('password') ?? ''),
      remember: data.get('remember') === 'on',
    }
    if (!detail.user || !detail.password) return
    this.dispatchEvent(new CustomEvent<SignInDetail>('pb-sign-in', { detail, bubbles: true, composed: true }))
  }

  override render() {
    return html`<form class="card" part="card" @submit=${this.submit} aria-labelledby="title" novalidate>
      <div class="brand">${logo(30)}<strong>Patchbay</strong></div>
      <h1 id="title">Sign in to your phone</h1>
      <p class="sub">Use the phone account your administrator gave you.</p>
      ${this.error ? html`<div class="error" part="error" role="alert">${icon('alert', 18)}<span>${this.error}</span></div>` : nothing}
      <div class="row">
        <label class="label" for="user">User name</label>
        <input class="field" id="user" name="user" autocomplete="username" autocapitalize="off" spellcheck="false" required
          .value=${this.user}>
      </div>
      <div class="row">
        <label class="label" for="password">Password</label>
        <input class="field" id="password" name="password" type="password" autocomplete="current-password" required
          .value=${this.password}>
      </div>
      <label class="check">
        <input type="checkbox" name="remember" .checked=${this.remember}>
        <span>Keep me signed in<small>Stores the password in this browser</small></span>
      </label>
      <details ?open=${this.showServer}>
        <summary>Server ${icon('chevron-down', 16)}</summary>
        <div class="row">
          <label class="label" for="server">Server address</label>
          <input class="field" id="server" name="server" inputmode="url" autocapitalize="off" spellcheck="false"
            placeholder=${this.defaultServer} .value=${this.server === this.defaultServer ? '' : this.server}>
          <p class="help">Leave empty to use this site (${this.defaultServer.replace(/^https?:\/\//, '')}).</p>
        </div>
      </details>
      <button class="btn primary submit" part="submit" type="submit" aria-disabled=${this.busy ? 'true' : 'false'}>
        ${this.busy ? html`<span class="spinner" aria-hidden="true"></span>Signing in…` : 'Sign in'}
      </button>
    </form>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-login': PbLogin
  }
}

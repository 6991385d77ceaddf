import { LitElement, css, html, nothing, type TemplateResult } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { icon, logo } from '../../components/icons.ts'
import { sharedStyles } from '../../components/shared-styles.ts'
import { AdminApi, AdminApiError, type FetchFunction } from '../admin-api.ts'
import { clearAdminToken, loadAdminToken, saveAdminToken } from '../admin-session.ts'
import { formatSpan } from '../admin-format.ts'
import { adminIcon } from './admin-icons.ts'
import './pb-admin-bans.ts'
import './pb-admin-calls.ts'
import './pb-admin-explain.ts'
import './pb-admin-login.ts'
import './pb-admin-overview.ts'
import './pb-admin-records.ts'
import './pb-admin-registrations.ts'
import './pb-admin-trunks.ts'

/** What the admin page needs from the outside (main.ts passes the browser's). */
export interface AdminServices {
  fetch: FetchFunction
  /** Where the token is kept (sessionStorage). */
  storage: Storage
}

export type SectionId = 'overview' | 'registrations' | 'calls' | 'trunks' | 'records' | 'explain' | 'security'

const SECTIONS: ReadonlyArray<{ id: SectionId; label: string; icon: () => TemplateResult }> = [
  { id: 'overview', label: 'Overview', icon: () => adminIcon('grid', 18) },
  { id: 'registrations', label: 'Registrations', icon: () => adminIcon('users', 18) },
  { id: 'calls', label: 'Active calls', icon: () => icon('phone', 18) },
  { id: 'trunks', label: 'Trunks', icon: () => adminIcon('server', 18) },
  { id: 'records', label: 'Call records', icon: () => adminIcon('list', 18) },
  { id: 'explain', label: 'Explain', icon: () => adminIcon('route', 18) },
  { id: 'security', label: 'Security', icon: () => icon('shield', 18) },
]

/** The section named by the URL fragment (`/admin#trunks`), else the overview. */
export function sectionFromHash(hash: string): SectionId {
  const id = hash.replace(/^#/, '')
  return SECTIONS.some((s) => s.id === id) ? id as SectionId : 'overview'
}

/**
 * The operator's admin page: sign-in with the admin token (kept in sessionStorage), then a
 * top bar (gateway domain, uptime, Sign out) and a sidebar of sections (a tab list, one
 * section shown at a time; the URL fragment names it, so a reload or a link keeps it).
 * A 401 after sign-in (the token was changed) signs out with a message.
 */
@customElement('pb-admin-app')
export class PbAdminApp extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: block; min-height: 100vh; min-height: 100dvh; background: var(--pb-bg); }
    .topbar {
      position: sticky; top: 0; z-index: 5; display: flex; align-items: center; gap: 16px;
      height: 64px; padding: 0 24px; background: color-mix(in srgb, var(--pb-surface) 88%, transparent);
      backdrop-filter: saturate(1.4) blur(10px); border-bottom: 1px solid var(--pb-border);
    }
    .brand { display: flex; align-items: center; gap: 10px; font-weight: 700; font-size: 17px; letter-spacing: -.01em; }
    .pill { font-size: 12px; font-weight: 700; padding: 2px 8px; border-radius: 999px; background: var(--pb-accent-soft); color: var(--pb-accent-text); }
    .gateway { display: flex; align-items: center; gap: 8px; font-size: 13px; color: var(--pb-text-2); padding-left: 16px; border-left: 1px solid var(--pb-border); }
    .dot { width: 8px; height: 8px; border-radius: 50%; background: var(--pb-green); box-shadow: 0 0 0 3px var(--pb-green-soft); }
    .dot.off { background: var(--pb-red); box-shadow: 0 0 0 3px var(--pb-red-soft); }
    .spacer { flex: 1; }
    a.btn { text-decoration: none; }
    .shell { display: grid; grid-template-columns: 228px minmax(0, 1fr); min-height: calc(100vh - 65px); }
    nav { padding: 20px 12px; border-right: 1px solid var(--pb-border); background: var(--pb-surface); }
    [role="tablist"] { display: grid; gap: 2px; position: sticky; top: 84px; }
    [role="tab"] {
      display: flex; align-items: center; gap: 10px; width: 100%; min-height: 40px; padding: 0 12px; border: none; border-radius: var(--pb-radius-sm);
      background: transparent; color: var(--pb-text-2); font-weight: 600; font-size: 14px; text-align: left;
    }
    [role="tab"]:hover { background: var(--pb-surface-2); color: var(--pb-text); }
    [role="tab"][aria-selected="true"] { background: var(--pb-accent-soft); color: var(--pb-accent-text); }
    main { padding: 28px 32px 48px; min-width: 0; }
    .content { max-width: 1240px; margin: 0 auto; }
    .login-wrap { min-height: 100vh; display: grid; place-items: center; padding: 24px; }
    .notice { max-width: 440px; margin: 0 auto 16px; display: flex; gap: 10px; padding: 12px 14px; border-radius: var(--pb-radius-sm); background: var(--pb-amber-soft); color: var(--pb-amber-text); font-size: 14px; font-weight: 500; }
    @media (max-width: 860px) {
      .shell { grid-template-columns: minmax(0, 1fr); }
      nav { padding: 8px 12px; border-right: none; border-bottom: 1px solid var(--pb-border); overflow-x: auto; }
      [role="tablist"] { display: flex; position: static; }
      [role="tab"] { width: auto; white-space: nowrap; }
      main { padding: 16px 14px 32px; }
      .gateway { display: none; }
    }
  `]

  @property({ attribute: false }) services!: AdminServices
  @state() private phase: 'loading' | 'disabled' | 'signed-out' | 'signed-in' = 'loading'
  @state() private section: SectionId = sectionFromHash(location.hash)
  @state() private loginError = ''
  @state() private busy = false
  @state() private domain = ''
  @state() private uptime: number | null = null
  @state() private reachable = true
  @state() private notice = ''
  private api!: AdminApi
  private healthTimer: ReturnType<typeof setInterval> | undefined
  private readonly onHash = (): void => { this.section = sectionFromHash(location.hash) }

  override connectedCallback(): void {
    super.connectedCallback()
    this.api ??= new AdminApi({
      fetch: (url, init) => this.services.fetch(url, init),
      token: () => loadAdminToken(this.services.storage),
      onUnauthorized: () => this.signOut('The gateway no longer accepts this admin token: sign in again.'),
    })
    window.addEventListener('hashchange', this.onHash)
    void this.start()
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    window.removeEventListener('hashchange', this.onHash)
    clearInterval(this.healthTimer)
  }

  private async start(): Promise<void> {
    try {
      const status = await this.api.status()
      if (status.adminApi === 'disabled') {
        this.phase = 'disabled'
        return
      }
    } catch {
      // an older gateway without /api/admin/status: try the token anyway
    }
    const token = loadAdminToken(this.services.storage)
    if (token === null) {
      this.phase = 'signed-out'
      return
    }
    try {
      await this.api.checkToken(token)
      this.enter()
    } catch {
      clearAdminToken(this.services.storage)
      this.phase = 'signed-out'
    }
  }

  private enter(): void {
    this.phase = 'signed-in'
    this.notice = ''
    void this.readHealth()
    clearInterval(this.healthTimer)
    this.healthTimer = setInterval(() => void this.readHealth(), 10_000)
  }

  private async readHealth(): Promise<void> {
    try {
      const h = await this.api.health()
      this.domain = h.domain
      this.uptime = h.uptimeSeconds
      this.reachable = true
    } catch {
      this.reachable = false
    }
  }

  private async signIn(event: CustomEvent<{ token: string }>): Promise<void> {
    this.busy = true
    this.loginError = ''
    try {
      await this.api.checkToken(event.detail.token)
      saveAdminToken(this.services.storage, event.detail.token)
      this.enter()
    } catch (e) {
      this.loginError = e instanceof AdminApiError && e.unauthorized
        ? 'That admin token was not accepted. Check adminToken in gateway.yaml.'
        : (e as Error).message
    } finally {
      this.busy = false
    }
  }

  /** Forgets the token and shows the sign-in form (with `notice` above it). */
  signOut(notice = ''): void {
    clearAdminToken(this.services.storage)
    clearInterval(this.healthTimer)
    this.phase = 'signed-out'
    this.notice = notice
  }

  private select(id: SectionId): void {
    this.section = id
    history.replaceState(null, '', `#${id}`)
  }

  private onTabKey(event: KeyboardEvent): void {
    const i = SECTIONS.findIndex((s) => s.id === this.section)
    const next = event.key === 'ArrowDown' || event.key === 'ArrowRight' ? i + 1 : event.key === 'ArrowUp' || event.key === 'ArrowLeft' ? i - 1 : null
    if (next === null) return
    event.preventDefault()
    const s = SECTIONS[(next + SECTIONS.length) % SECTIONS.length]!
    this.select(s.id)
    void this.updateComplete.then(() => this.renderRoot.querySelector<HTMLElement>(`#tab-${s.id}`)?.focus())
  }

  private renderSection(): TemplateResult {
    switch (this.section) {
      case 'overview': return html`<pb-admin-overview .api=${this.api}></pb-admin-overview>`
      case 'registrations': return html`<pb-admin-registrations .api=${this.api}></pb-admin-registrations>`
      case 'calls': return html`<pb-admin-calls .api=${this.api}></pb-admin-calls>`
      case 'trunks': return html`<pb-admin-trunks .api=${this.api}></pb-admin-trunks>`
      case 'records': return html`<pb-admin-records .api=${this.api}></pb-admin-records>`
      case 'explain': return html`<pb-admin-explain .api=${this.api}></pb-admin-explain>`
      case 'security': return html`<pb-admin-bans .api=${this.api}></pb-admin-bans>`
    }
  }

  override updated(): void {
    const label = SECTIONS.find((s) => s.id === this.section)?.label
    document.title = this.phase === 'signed-in' ? `${label} — Patchbay admin` : 'Patchbay admin'
  }

  override render() {
    if (this.phase === 'loading') return html`<div class="login-wrap"><span class="muted-text">Loading…</span></div>`
    if (this.phase !== 'signed-in') {
      return html`<div class="login-wrap"><div style="width:100%">
        ${this.notice ? html`<div class="notice" role="status">${icon('info', 18)}<span>${this.notice}</span></div>` : nothing}
        <pb-admin-login ?disabled=${this.phase === 'disabled'} .error=${this.loginError} ?busy=${this.busy}
          @pb-admin-sign-in=${this.signIn}></pb-admin-login></div></div>`
    }
    return html`
      <header class="topbar">
        <div class="brand">${logo(28)}<span>Patchbay</span><span class="pill">Admin</span></div>
        <div class="gateway" aria-label="Gateway">
          <span class="dot ${this.reachable ? '' : 'off'}" aria-hidden="true"></span>
          <span>${this.reachable ? this.domain || 'gateway' : 'Gateway unreachable'}</span>
          ${this.reachable && this.uptime !== null ? html`<span class="muted-text">· up ${formatSpan(this.uptime)}</span>` : nothing}
        </div>
        <div class="spacer"></div>
        <a class="btn ghost" href="/" target="_blank" rel="noopener">${adminIcon('external-link', 16)}Softphone</a>
        <button class="btn" type="button" @click=${() => this.signOut()}>${icon('log-out', 18)}Sign out</button>
      </header>
      <div class="shell">
        <nav aria-label="Sections">
          <div role="tablist" aria-orientation="vertical" aria-label="Sections" @keydown=${this.onTabKey}>
            ${SECTIONS.map((s) => html`<button role="tab" id=${`tab-${s.id}`} aria-controls="panel" type="button"
              aria-selected=${this.section === s.id ? 'true' : 'false'} tabindex=${this.section === s.id ? '0' : '-1'}
              @click=${() => this.select(s.id)}>${s.icon()}${s.label}</button>`)}
          </div>
        </nav>
        <main id="panel" role="tabpanel" aria-labelledby=${`tab-${this.section}`}>
          <div class="content">${this.renderSection()}</div>
        </main>
      </div>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-admin-app': PbAdminApp
  }
}

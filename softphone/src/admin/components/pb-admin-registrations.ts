import { LitElement, html, nothing } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { icon } from '../../components/icons.ts'
import { sharedStyles } from '../../components/shared-styles.ts'
import type { AdminApi } from '../admin-api.ts'
import type { Registration } from '../api-types.ts'
import { formatDateTime, formatSpan, shortUri } from '../admin-format.ts'
import { adminIcon } from './admin-icons.ts'
import { adminStyles } from './admin-styles.ts'
import { PollController } from './poll-controller.ts'

/** Registered contacts (`GET /api/registrations`), refreshed every 5 s, filterable by text. */
@customElement('pb-admin-registrations')
export class PbAdminRegistrations extends LitElement {
  static override styles = [sharedStyles, adminStyles]

  @property({ attribute: false }) api!: AdminApi
  @state() private rows: Registration[] | null = null
  @state() private error = ''
  @state() private filter = ''
  private readonly poll = new PollController(this, () => this.load(), 5_000)

  private async load(): Promise<void> {
    try {
      this.rows = await this.api.registrations()
      this.error = ''
    } catch (e) {
      this.error = (e as Error).message
    }
  }

  override render() {
    const f = this.filter.trim().toLowerCase()
    const rows = (this.rows ?? []).filter((r) => f === '' || [r.aor, r.contact, r.source, r.userAgent ?? ''].some((v) => v.toLowerCase().includes(f)))
    const users = new Set((this.rows ?? []).map((r) => r.aor)).size
    return html`
      <div class="section-head">
        <div>
          <h2>Registrations</h2>
          <p>${this.rows === null ? 'Loading…' : `${this.rows.length} contact${this.rows.length === 1 ? '' : 's'} of ${users} user${users === 1 ? '' : 's'}`}</p>
        </div>
        <div class="head-actions">
          <input class="field compact" type="search" aria-label="Filter registrations" placeholder="Filter by user, address, agent…"
            .value=${this.filter} @input=${(e: Event) => { this.filter = (e.target as HTMLInputElement).value }}>
          <button class="btn small ghost" type="button" @click=${() => this.poll.refresh()}>${adminIcon('refresh', 16)}Refresh</button>
        </div>
      </div>
      ${this.error ? html`<div class="notice error" role="alert">${icon('alert', 18)}<span>${this.error}</span></div>` : nothing}
      <div class="card panel">
        ${rows.length === 0
          ? html`<div class="empty">${adminIcon('users', 28)}<strong>${this.rows === null ? 'Loading registrations…' : f ? 'No contact matches the filter' : 'Nobody is registered'}</strong>
              ${this.rows !== null && !f ? 'Phones and browsers appear here once they REGISTER.' : ''}</div>`
          : html`<div class="table-wrap"><table aria-label="Registered contacts">
            <thead><tr><th>User (AOR)</th><th>Contact</th><th>Transport</th><th>Source</th><th>User agent</th><th class="num">Expires in</th></tr></thead>
            <tbody>${rows.map((r) => html`<tr>
              <td class="primary-cell">${shortUri(r.aor)}<span class="sub">since ${formatDateTime(r.registeredAt)}</span></td>
              <td class="mono ellipsis" title=${r.contact}>${shortUri(r.contact)}</td>
              <td><span class="badge plain info">${r.transport.toUpperCase()}</span></td>
              <td class="mono">${r.source}</td>
              <td class="ellipsis" title=${r.userAgent ?? ''}>${r.userAgent ?? html`<span class="muted-text">—</span>`}</td>
              <td class="num">${formatSpan(r.expiresIn)}</td>
            </tr>`)}</tbody>
          </table></div>`}
      </div>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-admin-registrations': PbAdminRegistrations
  }
}

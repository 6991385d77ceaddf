import { LitElement, html, nothing } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { icon } from '../../components/icons.ts'
import { sharedStyles } from '../../components/shared-styles.ts'
import type { AdminApi } from '../admin-api.ts'
import type { Ban } from '../api-types.ts'
import { formatDateTime, formatSpan } from '../admin-format.ts'
import { adminStyles } from './admin-styles.ts'
import { PollController } from './poll-controller.ts'

/**
 * Sources banned by the SIP defences (`GET /api/security/bans`, every 5 s) — brute force
 * (failed digests) or flood (request rate) — with a Lift button (`DELETE
 * /api/security/bans/:source`).
 */
@customElement('pb-admin-bans')
export class PbAdminBans extends LitElement {
  static override styles = [sharedStyles, adminStyles]

  @property({ attribute: false }) api!: AdminApi
  @state() private bans: Ban[] | null = null
  @state() private error = ''
  private readonly poll = new PollController(this, () => this.load(), 5_000)

  private async load(): Promise<void> {
    try {
      this.bans = await this.api.bans()
      this.error = ''
    } catch (e) {
      this.error = (e as Error).message
    }
  }

  private async lift(source: string): Promise<void> {
    try {
      await this.api.liftBan(source)
    } catch (e) {
      this.error = `Could not lift the ban: ${(e as Error).message}`
    }
    await this.poll.refresh()
  }

  override render() {
    const bans = this.bans ?? []
    return html`
      <div class="section-head">
        <div>
          <h2>Security</h2>
          <p>Sources banned for failed digests (brute force) or for their request rate (flood).</p>
        </div>
      </div>
      ${this.error ? html`<div class="notice error" role="alert">${icon('alert', 18)}<span>${this.error}</span></div>` : nothing}
      <div class="card panel">
        ${bans.length === 0
          ? html`<div class="empty">${icon('shield', 28)}<strong>${this.bans === null ? 'Loading bans…' : 'No source is banned'}</strong></div>`
          : html`<div class="table-wrap"><table aria-label="Banned sources">
            <thead><tr><th>Source</th><th>Reason</th><th>User</th><th>Banned</th><th class="num">Expires in</th><th class="num">Refused</th><th><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>${bans.map((b) => html`<tr>
              <td class="mono primary-cell">${b.source}</td>
              <td><span class="badge bad">${b.reason === 'brute-force' ? 'Brute force' : 'Flood'}</span></td>
              <td>${b.username ?? html`<span class="muted-text">—</span>`}</td>
              <td class="tabular">${formatDateTime(b.bannedAt)}</td>
              <td class="num">${formatSpan(b.expiresIn)}</td>
              <td class="num">${b.refused}</td>
              <td class="actions"><button class="btn small" type="button" aria-label=${`Lift the ban on ${b.source}`} @click=${() => this.lift(b.source)}>Lift</button></td>
            </tr>`)}</tbody>
          </table></div>`}
      </div>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-admin-bans': PbAdminBans
  }
}

import { LitElement, html, nothing } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { icon } from '../../components/icons.ts'
import { sharedStyles } from '../../components/shared-styles.ts'
import type { AdminApi } from '../admin-api.ts'
import type { TrunkStatus } from '../api-types.ts'
import { relativeTime, trunkTone } from '../admin-format.ts'
import { adminIcon } from './admin-icons.ts'
import { adminStyles } from './admin-styles.ts'
import { PollController } from './poll-controller.ts'

const STATE_TEXT: Record<string, string> = {
  up: 'Up', down: 'Down', unknown: 'Unknown', unregistered: 'Unregistered', registering: 'Registering', registered: 'Registered', failed: 'Failed',
}

/**
 * Trunks of trunks.yaml with their live state (`GET /api/trunks`, every 5 s): a state badge,
 * the detail sentence, calls now, OPTIONS round trip, next attempt and registration expiry.
 */
@customElement('pb-admin-trunks')
export class PbAdminTrunks extends LitElement {
  static override styles = [sharedStyles, adminStyles]

  @property({ attribute: false }) api!: AdminApi
  @state() private trunks: TrunkStatus[] | null = null
  @state() private error = ''
  private readonly poll = new PollController(this, () => this.load(), 5_000)

  private async load(): Promise<void> {
    try {
      this.trunks = await this.api.trunks()
      this.error = ''
    } catch (e) {
      this.error = (e as Error).message
    }
  }

  override render() {
    const now = Date.now()
    const trunks = this.trunks ?? []
    const up = trunks.filter((t) => trunkTone(t.state) === 'good').length
    return html`
      <div class="section-head">
        <div>
          <h2>Trunks</h2>
          <p>${this.trunks === null ? 'Loading…' : trunks.length === 0 ? 'No trunk in trunks.yaml' : `${up} of ${trunks.length} up`}</p>
        </div>
        <button class="btn small ghost" type="button" @click=${() => this.poll.refresh()}>${adminIcon('refresh', 16)}Refresh</button>
      </div>
      ${this.error ? html`<div class="notice error" role="alert">${icon('alert', 18)}<span>${this.error}</span></div>` : nothing}
      <div class="card panel">
        ${trunks.length === 0
          ? html`<div class="empty">${adminIcon('server', 28)}<strong>${this.trunks === null ? 'Loading trunks…' : 'No trunk configured'}</strong>
              ${this.trunks === null ? '' : html`Add PBXs and carriers in <code>sip-config/trunks.yaml</code>, then reload the gateway.`}</div>`
          : html`<div class="table-wrap"><table aria-label="Trunks">
            <thead><tr><th>Trunk</th><th>State</th><th>Detail</th><th class="num">Calls</th><th class="num">RTT</th><th>Next attempt</th></tr></thead>
            <tbody>${trunks.map((t) => html`<tr>
              <td class="primary-cell">${t.name}<span class="sub">${t.type === 'registration' ? 'Registration' : 'Static peer'}</span></td>
              <td><span class="badge ${trunkTone(t.state)}">${STATE_TEXT[t.state] ?? t.state}</span>
                <span class="sub">${relativeTime(t.since * 1000, now).replace(/^in /, '')}</span></td>
              <td class="wrap">${t.detail}${t.lastStatus !== undefined ? html`<span class="sub">last status ${t.lastStatus}</span>` : nothing}
                ${t.expiresAt !== undefined ? html`<span class="sub">registration expires ${relativeTime(t.expiresAt * 1000, now)}</span>` : nothing}</td>
              <td class="num">${t.activeCalls}</td>
              <td class="num">${t.rttMs !== undefined ? `${Math.round(t.rttMs)} ms` : '—'}</td>
              <td class="tabular">${t.nextAttemptAt !== undefined ? relativeTime(t.nextAttemptAt * 1000, now) : '—'}</td>
            </tr>`)}</tbody>
          </table></div>`}
      </div>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-admin-trunks': PbAdminTrunks
  }
}

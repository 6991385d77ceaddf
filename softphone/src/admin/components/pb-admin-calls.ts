import { LitElement, html, nothing } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { icon } from '../../components/icons.ts'
import { sharedStyles } from '../../components/shared-styles.ts'
import { AdminApiError, type AdminApi } from '../admin-api.ts'
import type { ActiveCall } from '../api-types.ts'
import { formatClock, formatDateTime, shortUri } from '../admin-format.ts'
import { adminStyles } from './admin-styles.ts'
import { PollController } from './poll-controller.ts'

/** How long "Confirm hang-up" waits for the second click, ms. */
const CONFIRM_MS = 5_000

/** The id `DELETE /api/calls/:callId` takes: the Call-ID (an `id` when the gateway gives one). */
export function callIdOf(call: ActiveCall): string {
  return call.id ?? call.callId
}

/**
 * Calls in progress (`GET /api/calls`, every 2 s): caller, callee, direction, trunk, since
 * and for how long, answered or ringing, and a Hang up button for answered calls (a second
 * click confirms; `DELETE /api/calls/:callId` makes the gateway send BYE both ways).
 */
@customElement('pb-admin-calls')
export class PbAdminCalls extends LitElement {
  static override styles = [sharedStyles, adminStyles]

  @property({ attribute: false }) api!: AdminApi
  @state() private calls: ActiveCall[] | null = null
  @state() private total = 0
  @state() private error = ''
  @state() private message = ''
  /** Call armed for hang-up (first click), and calls being hung up. */
  @state() private armed: string | null = null
  @state() private ending = new Set<string>()
  private armTimer: ReturnType<typeof setTimeout> | undefined
  private readonly poll = new PollController(this, () => this.load(), 2_000)

  private async load(): Promise<void> {
    try {
      const r = await this.api.calls()
      this.calls = r.calls
      this.total = r.total
      this.error = ''
    } catch (e) {
      this.error = (e as AdminApiError).status === 404
        ? 'Call records are switched off (cdr.enabled: false in gateway.yaml), so calls in progress are not tracked.'
        : (e as Error).message
    }
  }

  private async hangUp(call: ActiveCall): Promise<void> {
    const id = callIdOf(call)
    if (this.armed !== id) {
      this.armed = id
      clearTimeout(this.armTimer)
      this.armTimer = setTimeout(() => { this.armed = null }, CONFIRM_MS)
      return
    }
    this.armed = null
    this.ending = new Set([...this.ending, id])
    try {
      await this.api.hangUp(id)
      this.message = `Hung up the call from ${shortUri(call.caller)} to ${shortUri(call.callee)}.`
      this.error = ''
    } catch (e) {
      this.error = e instanceof AdminApiError && e.status === 404
        ? `The gateway found no answered call to hang up (${e.message}): it may have just ended.`
        : `Could not hang up: ${(e as Error).message}`
    } finally {
      this.ending.delete(id)
      this.ending = new Set(this.ending)
      await this.poll.refresh()
    }
  }

  override render() {
    const now = Date.now()
    const calls = this.calls ?? []
    return html`
      <div class="section-head">
        <div>
          <h2>Active calls</h2>
          <p>${this.calls === null ? 'Loading…' : `${this.total} call${this.total === 1 ? '' : 's'} in progress${this.total > calls.length ? `, the oldest ${calls.length} shown` : ''}`}</p>
        </div>
      </div>
      ${this.error ? html`<div class="notice error" role="alert">${icon('alert', 18)}<span>${this.error}</span></div>` : nothing}
      ${this.message ? html`<div class="notice ok" role="status">${icon('check', 18)}<span>${this.message}</span></div>` : nothing}
      <div class="card panel">
        ${calls.length === 0
          ? html`<div class="empty">${icon('phone', 28)}<strong>${this.calls === null ? 'Loading calls…' : 'No call in progress'}</strong>
              ${this.calls === null ? '' : 'Calls appear here from the INVITE until the BYE.'}</div>`
          : html`<div class="table-wrap"><table aria-label="Calls in progress">
            <thead><tr><th>Caller</th><th>Callee</th><th>Direction</th><th>Trunk</th><th>Since</th><th>State</th><th class="num">Duration</th><th><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>${calls.map((c) => {
              const id = callIdOf(c)
              const since = Date.parse(c.since)
              const answeredAt = c.answeredAt === null ? null : Date.parse(c.answeredAt)
              return html`<tr>
                <td class="primary-cell">${c.callerUser ?? shortUri(c.caller)}<span class="sub">${shortUri(c.caller)}</span></td>
                <td>${shortUri(c.callee)}${c.routed.length ? html`<span class="sub">→ ${c.routed.map(shortUri).join(', ')}</span>` : nothing}</td>
                <td>${c.direction}</td>
                <td>${c.trunk ?? html`<span class="muted-text">—</span>`}</td>
                <td class="tabular">${formatDateTime(c.since)}</td>
                <td>${c.answered ? html`<span class="badge good">Answered</span>` : html`<span class="badge warn">Ringing</span>`}</td>
                <td class="num">${formatClock((now - (answeredAt ?? since)) / 1000)}</td>
                <td class="actions">
                  <button type="button" class="btn small danger ${this.armed === id ? 'confirm' : ''}" ?disabled=${this.ending.has(id) || !c.answered}
                    title=${c.answered ? '' : 'Only answered calls can be hung up from here'}
                    aria-label=${this.armed === id ? `Confirm hang-up of the call from ${shortUri(c.caller)}` : `Hang up the call from ${shortUri(c.caller)} to ${shortUri(c.callee)}`}
                    @click=${() => this.hangUp(c)}>${icon('phone-off', 16)}${this.armed === id ? 'Confirm' : 'Hang up'}</button>
                </td>
              </tr>`
            })}</tbody>
          </table></div>`}
      </div>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-admin-calls': PbAdminCalls
  }
}

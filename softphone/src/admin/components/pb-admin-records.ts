import { LitElement, css, html, nothing } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { icon } from '../../components/icons.ts'
import { sharedStyles } from '../../components/shared-styles.ts'
import type { AdminApi } from '../admin-api.ts'
import type { CallRecord, CallRecordPage } from '../api-types.ts'
import { formatClock, formatDay, formatTimeOfDay, shortUri, statusTone } from '../admin-format.ts'
import { NO_FILTERS, cdrQueryString, hasFilters, type CdrFilters } from '../cdr-filters.ts'
import { adminIcon } from './admin-icons.ts'
import { adminStyles } from './admin-styles.ts'

const PAGE_SIZE = 25

const MEDIA_TEXT: Record<string, string> = { 'peer-to-peer': 'Peer to peer', anchored: 'Anchored', relayed: 'Relayed' }

/**
 * Call detail records (`GET /api/cdrs`): filters (time range, caller, callee, direction,
 * trunk, status), pages of 25 newest first, and "Download CSV" of everything the filters
 * match — fetched with the Bearer header and saved from a Blob (a plain link could not carry
 * the token, and a token in a URL would end up in logs and history).
 */
@customElement('pb-admin-records')
export class PbAdminRecords extends LitElement {
  static override styles = [sharedStyles, adminStyles, css`
    form.filters { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px 14px; padding: 18px 20px; align-items: end; }
    form.filters .label { font-size: 12px; margin-bottom: 4px; }
    .filter-actions { display: flex; gap: 8px; }
    .pager { display: flex; align-items: center; justify-content: space-between; gap: 12px; padding: 12px 20px; border-top: 1px solid var(--pb-border); font-size: 14px; color: var(--pb-text-2); }
    .pager .buttons { display: flex; gap: 8px; }
    .records { margin-top: 16px; }
  `]

  @property({ attribute: false }) api!: AdminApi
  @state() private filters: CdrFilters = { ...NO_FILTERS }
  @state() private page: CallRecordPage | null = null
  @state() private offset = 0
  @state() private loading = false
  @state() private downloading = false
  @state() private error = ''
  @state() private message = ''

  override connectedCallback(): void {
    super.connectedCallback()
    void this.load()
  }

  private async load(): Promise<void> {
    this.loading = true
    try {
      this.page = await this.api.cdrs(cdrQueryString(this.filters, { limit: PAGE_SIZE, offset: this.offset }))
      this.error = ''
    } catch (e) {
      this.error = (e as Error).message
    } finally {
      this.loading = false
    }
  }

  private readForm(form: HTMLFormElement): CdrFilters {
    const d = new FormData(form)
    const get = (k: keyof CdrFilters) => String(d.get(k) ?? '')
    return { from: get('from'), to: get('to'), caller: get('caller'), callee: get('callee'), direction: get('direction'), trunk: get('trunk'), status: get('status') }
  }

  private apply(event: Event): void {
    event.preventDefault()
    this.filters = this.readForm(event.target as HTMLFormElement)
    this.offset = 0
    void this.load()
  }

  private reset(): void {
    this.filters = { ...NO_FILTERS }
    this.offset = 0
    this.renderRoot.querySelector<HTMLFormElement>('form.filters')?.reset()
    void this.load()
  }

  private go(offset: number): void {
    this.offset = Math.max(0, offset)
    void this.load()
  }

  private async download(): Promise<void> {
    this.downloading = true
    try {
      const { blob, fileName } = await this.api.cdrsCsv(cdrQueryString(this.filters))
      const url = URL.createObjectURL(blob)
      const a = document.createElement('a')
      a.href = url
      a.download = fileName
      a.style.display = 'none'
      this.renderRoot.appendChild(a)
      a.click()
      a.remove()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
      this.message = `Downloaded ${fileName}.`
      this.error = ''
    } catch (e) {
      this.error = `The CSV export failed: ${(e as Error).message}`
    } finally {
      this.downloading = false
    }
  }

  private row(r: CallRecord) {
    return html`<tr>
      <td class="tabular">${formatTimeOfDay(Date.parse(r.start), undefined, true)}<span class="sub">${formatDay(r.start)}</span></td>
      <td class="primary-cell">${r.callerUser ?? shortUri(r.caller)}${r.callerUser === null || shortUri(r.caller).startsWith(`${r.callerUser}@`) ? nothing : html`<span class="sub">${shortUri(r.caller)}</span>`}</td>
      <td>${shortUri(r.dialed)}${r.routed && shortUri(r.routed) !== shortUri(r.dialed) ? html`<span class="sub">→ ${shortUri(r.routed)}</span>` : nothing}</td>
      <td>${r.direction}${r.rule ? html`<span class="sub">rule ${r.rule}</span>` : nothing}</td>
      <td>${r.trunk ?? html`<span class="muted-text">—</span>`}</td>
      <td><span class="badge ${statusTone(r.status)}">${r.status}</span><span class="sub">${r.reason}</span></td>
      <td class="num">${r.answer === null ? html`<span class="muted-text">—</span>` : formatClock(r.durationS)}<span class="sub">ended by ${r.endedBy}</span></td>
      <td>${r.mediaPath ? MEDIA_TEXT[r.mediaPath] ?? r.mediaPath : html`<span class="muted-text">—</span>`}${r.codec ? html`<span class="sub">${r.codec}</span>` : nothing}</td>
    </tr>`
  }

  override render() {
    const f = this.filters
    const p = this.page
    const first = p && p.total > 0 ? this.offset + 1 : 0
    const last = p ? this.offset + p.cdrs.length : 0
    return html`
      <div class="section-head">
        <div>
          <h2>Call records</h2>
          <p>Every call, answered or not, newest first.</p>
        </div>
        <div class="head-actions">
          <button class="btn" type="button" @click=${() => this.download()} aria-disabled=${this.downloading ? 'true' : 'false'}>
            ${adminIcon('download', 18)}${this.downloading ? 'Preparing…' : 'Download CSV'}</button>
        </div>
      </div>
      ${this.error ? html`<div class="notice error" role="alert">${icon('alert', 18)}<span>${this.error}</span></div>` : nothing}
      ${this.message ? html`<div class="notice ok" role="status">${icon('check', 18)}<span>${this.message}</span></div>` : nothing}
      <div class="card">
        <form class="filters" @submit=${this.apply} aria-label="Filter call records">
          <div><label class="label" for="from">From</label><input class="field compact" id="from" name="from" type="datetime-local" step="1" .value=${f.from}></div>
          <div><label class="label" for="to">To</label><input class="field compact" id="to" name="to" type="datetime-local" step="1" .value=${f.to}></div>
          <div><label class="label" for="caller">Caller</label><input class="field compact" id="caller" name="caller" placeholder="alice" .value=${f.caller}></div>
          <div><label class="label" for="callee">Callee</label><input class="field compact" id="callee" name="callee" placeholder="number or user" .value=${f.callee}></div>
          <div><label class="label" for="direction">Direction</label>
            <select class="field compact" id="direction" name="direction" .value=${f.direction}>
              <option value="">Any</option><option value="internal">Internal</option><option value="outbound">Outbound</option>
              <option value="inbound">Inbound</option><option value="transit">Transit</option>
            </select></div>
          <div><label class="label" for="trunk">Trunk</label><input class="field compact" id="trunk" name="trunk" placeholder="name" .value=${f.trunk}></div>
          <div><label class="label" for="status">Status</label>
            <select class="field compact" id="status" name="status" .value=${f.status}>
              <option value="">Any</option><option value="answered">Answered</option><option value="failed">Failed</option>
              <option value="4xx">4xx</option><option value="5xx">5xx</option><option value="6xx">6xx</option>
              <option value="486">486 Busy</option><option value="487">487 Cancelled</option>
            </select></div>
          <div class="filter-actions">
            <button class="btn primary" type="submit">Apply filters</button>
            ${hasFilters(f) ? html`<button class="btn ghost" type="button" @click=${() => this.reset()}>Clear</button>` : nothing}
          </div>
        </form>
      </div>
      <div class="card panel records">
        ${p === null || p.cdrs.length === 0
          ? html`<div class="empty">${adminIcon('list', 28)}<strong>${p === null ? 'Loading call records…' : hasFilters(f) ? 'No call matches the filters' : 'No call recorded yet'}</strong></div>`
          : html`<div class="table-wrap"><table aria-label="Call records">
            <thead><tr><th>Start</th><th>Caller</th><th>Callee</th><th>Direction</th><th>Trunk</th><th>Status</th><th class="num">Duration</th><th>Media</th></tr></thead>
            <tbody>${p.cdrs.map((r) => this.row(r))}</tbody>
          </table></div>`}
        <div class="pager">
          <span role="status">${p === null ? '' : p.total === 0 ? 'No records' : `${first}–${last} of ${p.total}`}${this.loading ? ' · loading…' : ''}</span>
          <div class="buttons">
            <button class="btn small" type="button" ?disabled=${this.offset === 0} @click=${() => this.go(this.offset - PAGE_SIZE)}>Previous</button>
            <button class="btn small" type="button" ?disabled=${p === null || last >= p.total} @click=${() => this.go(this.offset + PAGE_SIZE)}>Next</button>
            <button class="btn small ghost" type="button" @click=${() => this.load()}>${adminIcon('refresh', 16)}Refresh</button>
          </div>
        </div>
      </div>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-admin-records': PbAdminRecords
  }
}

import { LitElement, css, html, nothing } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { icon } from '../../components/icons.ts'
import { sharedStyles } from '../../components/shared-styles.ts'
import type { AdminApi } from '../admin-api.ts'
import type { StatsHistory, TrunkStatus } from '../api-types.ts'
import { formatCount, formatTimeOfDay } from '../admin-format.ts'
import type { Point } from '../chart-geometry.ts'
import { metricValue, parsePrometheusText } from '../prometheus-text.ts'
import { adminStyles } from './admin-styles.ts'
import { PollController } from './poll-controller.ts'
import './pb-admin-chart.ts'

/** Live figures read from `/metrics` (and `/api/calls` for calls in progress). */
interface LiveSample {
  t: number
  activeCalls: number
  registrations: number
  settingUp: number
  bansActive: number
  /** Total SIP messages received and sent (a counter: the rate is its growth). */
  sipMessages: number
}

const RANGES = [
  { label: '15 min', ms: 15 * 60_000 },
  { label: '1 h', ms: 60 * 60_000 },
  { label: '6 h', ms: 6 * 60 * 60_000 },
] as const

/** Client-side samples kept (5 s apart: 6 h). */
const LIVE_CAPACITY = 4_320

/**
 * The overview: live figures (sampled from `/metrics` every 5 s while the page is open) and
 * charts of calls and registrations over the last 15 min, 1 h or 6 h, from the gateway's own
 * history (`/api/stats/history`, a sample every 10 s) extended by the live samples.
 */
@customElement('pb-admin-overview')
export class PbAdminOverview extends LitElement {
  static override styles = [sharedStyles, adminStyles, css`
    .tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 14px; margin-bottom: 18px; }
    .tile { padding: 16px 18px; }
    .tile .name { font-size: 13px; font-weight: 600; color: var(--pb-text-2); display: flex; align-items: center; gap: 6px; }
    .tile .value { font-size: 30px; font-weight: 750; letter-spacing: -.02em; margin-top: 6px; font-variant-numeric: tabular-nums; }
    .tile .hint { font-size: 12px; color: var(--pb-text-3); margin-top: 2px; }
    .tile .value.bad { color: var(--pb-red-text); }
    .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
    .chart-card { padding: 16px 20px 14px; }
    .chart-card h3 { margin: 0 0 10px; font-size: 15px; font-weight: 700; }
    .segmented { display: inline-flex; padding: 3px; border-radius: var(--pb-radius-sm); background: var(--pb-surface-3); gap: 2px; }
    .segmented button { border: none; background: transparent; min-height: 30px; padding: 0 12px; border-radius: 8px; font-size: 13px; font-weight: 600; color: var(--pb-text-2); }
    .segmented button[aria-pressed="true"] { background: var(--pb-surface); color: var(--pb-text); box-shadow: 0 1px 2px rgba(16,24,40,.08); }
  `]

  @property({ attribute: false }) api!: AdminApi
  @state() private history: StatsHistory | null = null
  @state() private live: LiveSample[] = []
  @state() private trunks: TrunkStatus[] = []
  @state() private rangeMs: number = RANGES[1].ms
  @state() private error = ''
  private lastHistoryT: number | undefined

  constructor() {
    super()
    new PollController(this, () => this.pollLive(), 5_000)
    new PollController(this, () => this.pollHistory(), 10_000)
  }

  private async pollLive(): Promise<void> {
    try {
      const [text, calls, trunks] = await Promise.all([this.api.metrics(), this.api.calls(1).catch(() => null), this.api.trunks().catch(() => [])])
      const m = parsePrometheusText(text)
      const sample: LiveSample = {
        t: Date.now(),
        activeCalls: calls?.total ?? metricValue(m, 'patchbay_media_anchored_dialogs') ?? 0,
        registrations: metricValue(m, 'patchbay_sip_registrar_bindings') ?? 0,
        settingUp: metricValue(m, 'patchbay_sip_proxy_pending_invites') ?? 0,
        bansActive: metricValue(m, 'patchbay_sip_bans_active') ?? 0,
        sipMessages: (metricValue(m, 'patchbay_sip_messages_received_total') ?? 0) + (metricValue(m, 'patchbay_sip_messages_sent_total') ?? 0),
      }
      this.live = [...this.live.slice(-(LIVE_CAPACITY - 1)), sample]
      this.trunks = trunks
      this.error = ''
    } catch (e) {
      this.error = (e as Error).message
    }
  }

  private async pollHistory(): Promise<void> {
    const next = await this.api.statsHistory(this.lastHistoryT)
    const kept = this.history?.samples ?? []
    const samples = [...kept, ...next.samples].slice(-next.capacity)
    this.history = { ...next, samples }
    this.lastHistoryT = samples.at(-1)?.t ?? this.lastHistoryT
  }

  /** History samples of `name`, then the live samples newer than the history. */
  private points(name: string, liveKey?: keyof LiveSample): Point[] {
    const server = (this.history?.samples ?? []).map((s) => ({ t: s.t, v: s.values[name] ?? 0 }))
    if (liveKey === undefined) return server
    const after = server.at(-1)?.t ?? -Infinity
    return [...server, ...this.live.filter((l) => l.t > after).map((l) => ({ t: l.t, v: l[liveKey] }))]
  }

  private startedIn(ms: number): number {
    const since = Date.now() - ms
    return (this.history?.samples ?? []).filter((s) => s.t > since).reduce((sum, s) => sum + (s.values.callsStarted ?? 0), 0)
  }

  private messageRate(): number | undefined {
    const [a, b] = this.live.slice(-2)
    if (a === undefined || b === undefined || b.t <= a.t) return undefined
    return Math.max(0, (b.sipMessages - a.sipMessages) / ((b.t - a.t) / 1000))
  }

  private tile(name: string, value: string, hint: string, bad = false) {
    return html`<div class="card tile" role="group" aria-label=${name}>
      <div class="name">${name}</div>
      <div class="value ${bad ? 'bad' : ''}">${value}</div>
      <div class="hint">${hint}</div>
    </div>`
  }

  override render() {
    const now = Date.now()
    const from = now - this.rangeMs
    const last = this.live.at(-1)
    const rate = this.messageRate()
    const up = this.trunks.filter((t) => t.state === 'up' || t.state === 'registered').length
    const rangeLabel = RANGES.find((r) => r.ms === this.rangeMs)?.label ?? ''
    const interval = this.history?.intervalMs ?? 10_000
    return html`
      <div class="section-head">
        <div>
          <h2>Overview</h2>
          <p>Live figures every 5 s; charts from the gateway's history (a sample every ${interval / 1000} s, kept 6 h).</p>
        </div>
        <div class="segmented" role="group" aria-label="Chart range">
          ${RANGES.map((r) => html`<button type="button" aria-pressed=${this.rangeMs === r.ms ? 'true' : 'false'}
            @click=${() => { this.rangeMs = r.ms }}>${r.label}</button>`)}
        </div>
      </div>
      ${this.error ? html`<div class="notice error" role="alert">${icon('alert', 18)}<span>${this.error}</span></div>` : nothing}
      <div class="tiles">
        ${this.tile('Calls in progress', last ? formatCount(last.activeCalls) : '—', last ? `${last.settingUp} being set up` : 'Reading…')}
        ${this.tile('Registered contacts', last ? formatCount(last.registrations) : '—', 'Bindings in the location service')}
        ${this.tile('Calls started', this.history ? formatCount(this.startedIn(this.rangeMs)) : '—', `In the last ${rangeLabel}`)}
        ${this.tile('Trunks up', this.trunks.length ? `${up} / ${this.trunks.length}` : '—', this.trunks.length ? 'Registered or answering OPTIONS' : 'No trunk configured', this.trunks.some((t) => t.state === 'down' || t.state === 'failed'))}
        ${this.tile('SIP messages', rate === undefined ? '—' : `${formatCount(rate)}/s`, 'Received and sent')}
        ${this.tile('Banned sources', last ? formatCount(last.bansActive) : '—', 'Brute force and flood defences', (last?.bansActive ?? 0) > 0)}
      </div>
      <div class="charts">
        <section class="card chart-card" aria-labelledby="calls-title">
          <h3 id="calls-title">Calls</h3>
          <pb-admin-chart label=${`Calls over the last ${rangeLabel}`} .from=${from} .to=${now} .maxGapMs=${interval * 3}
            .series=${[
              { name: 'In progress', color: 'var(--pb-accent)', points: this.points('activeCalls', 'activeCalls'), area: true },
              { name: `Started per ${interval / 1000} s`, color: 'var(--pb-green)', points: this.points('callsStarted') },
            ]}></pb-admin-chart>
        </section>
        <section class="card chart-card" aria-labelledby="reg-title">
          <h3 id="reg-title">Registrations</h3>
          <pb-admin-chart label=${`Registrations over the last ${rangeLabel}`} .from=${from} .to=${now} .maxGapMs=${interval * 3}
            .series=${[
              { name: 'Registered contacts', color: 'var(--pb-accent)', points: this.points('registrations', 'registrations'), area: true },
              { name: 'JSON sessions', color: 'var(--pb-amber)', points: this.points('jsonSessions') },
            ]}></pb-admin-chart>
        </section>
      </div>
      ${last ? html`<p class="updated" style="margin-top:12px">Updated ${formatTimeOfDay(last.t)}</p>` : nothing}`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-admin-overview': PbAdminOverview
  }
}

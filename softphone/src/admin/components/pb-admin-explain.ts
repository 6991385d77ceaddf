import { LitElement, css, html, nothing } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { icon } from '../../components/icons.ts'
import { sharedStyles } from '../../components/shared-styles.ts'
import type { AdminApi } from '../admin-api.ts'
import type { Caller, RouteDecision, RouteExplanation } from '../api-types.ts'
import { trunkTone } from '../admin-format.ts'
import { adminIcon } from './admin-icons.ts'
import { adminStyles } from './admin-styles.ts'

function callerText(c: Caller, d: RouteDecision): string {
  if (c.kind === 'user') return `User ${c.username}${d.permission?.callerClass ? ` (class ${d.permission.callerClass})` : ''}`
  if (c.kind === 'trunk') return `Trunk ${c.trunk}`
  return 'Anonymous (not authenticated)'
}

function ruleLabel(s: { kind: string; index: number }): string {
  if (s.kind === 'local-user') return 'User'
  return s.kind === 'inbound' ? `DID ${s.index + 1}` : `${s.index + 1}`
}

const OUTCOME = {
  route: { tone: 'good', title: 'Routed' },
  forbidden: { tone: 'bad', title: 'Refused' },
  'not-found': { tone: 'warn', title: 'Not found' },
} as const

/**
 * "Explain" (`GET /api/route/explain`): how a call from `from` to `to` would be routed,
 * without placing it — the outcome, the caller and the number as matched, the rules tried in
 * order (why each one above did not match, what held for the one that did), the permission
 * check, the rewrite and the targets with their current state. The same content as the
 * `route explain` CLI's text (formatExplanation), laid out.
 */
@customElement('pb-admin-explain')
export class PbAdminExplain extends LitElement {
  static override styles = [sharedStyles, adminStyles, css`
    form { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr) auto; gap: 14px; align-items: end; padding: 18px 20px; }
    form .help { grid-column: 1 / -1; margin: -6px 0 0; font-size: 12px; color: var(--pb-text-3); }
    .result { margin-top: 16px; display: grid; gap: 16px; }
    .outcome { display: flex; align-items: center; gap: 14px; padding: 18px 20px; }
    .outcome .mark { width: 44px; height: 44px; border-radius: 50%; display: grid; place-items: center; flex: none; }
    .outcome.good .mark { background: var(--pb-green-soft); color: var(--pb-green-text); }
    .outcome.bad .mark { background: var(--pb-red-soft); color: var(--pb-red-text); }
    .outcome.warn .mark { background: var(--pb-amber-soft); color: var(--pb-amber-text); }
    .outcome h3 { margin: 0; font-size: 18px; }
    .outcome p { margin: 2px 0 0; color: var(--pb-text-2); }
    dl { display: grid; grid-template-columns: 160px minmax(0, 1fr); gap: 10px 16px; margin: 0; padding: 18px 20px; font-size: 14px; }
    dt { color: var(--pb-text-2); font-weight: 600; }
    dd { margin: 0; }
    .cols { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px; align-items: start; }
    ol.trace, ol.targets { list-style: none; margin: 0; padding: 0 8px 10px; }
    ol.trace li, ol.targets li { display: grid; grid-template-columns: 54px minmax(0, 1fr) auto; gap: 10px; align-items: start; padding: 10px 12px; border-radius: var(--pb-radius-sm); }
    ol.trace li.matched { background: var(--pb-green-soft); }
    .n { font-size: 12px; font-weight: 700; color: var(--pb-text-3); padding-top: 3px; }
    .rule-name { font-weight: 600; }
    .reasons { font-size: 13px; color: var(--pb-text-2); margin-top: 2px; }
    .notes { margin: 0; padding: 0 20px 16px 38px; color: var(--pb-text-2); font-size: 14px; }
    @media (max-width: 800px) { .cols, form { grid-template-columns: minmax(0, 1fr); } dl { grid-template-columns: minmax(0, 1fr); } }
  `]

  @property({ attribute: false }) api!: AdminApi
  @state() private result: RouteExplanation | null = null
  @state() private error = ''
  @state() private busy = false

  private async submit(event: Event): Promise<void> {
    event.preventDefault()
    const d = new FormData(event.target as HTMLFormElement)
    const from = String(d.get('from') ?? '').trim()
    const to = String(d.get('to') ?? '').trim()
    if (from === '' || to === '') {
      this.error = 'Give both who calls (From) and what is dialed (To).'
      return
    }
    this.busy = true
    try {
      this.result = await this.api.explain(from, to)
      this.error = ''
    } catch (e) {
      this.error = (e as Error).message
      this.result = null
    } finally {
      this.busy = false
    }
  }

  private renderResult(e: RouteExplanation) {
    const d = e.decision
    const o = OUTCOME[d.outcome]
    const t = d.target
    return html`<div class="result" aria-label="Explanation" role="region">
      <div class="card outcome ${o.tone}" role="status">
        <div class="mark">${d.outcome === 'route' ? adminIcon('check-circle', 24) : adminIcon('x-circle', 24)}</div>
        <div><h3>${o.title}${d.status !== null ? ` (${d.status})` : ''}${d.rule ? html` by rule “${d.rule.name}”` : nothing}</h3><p>${d.reason}</p></div>
      </div>
      <div class="card panel">
        <dl>
          <dt>Caller</dt><dd>${callerText(d.caller, d)}</dd>
          <dt>Dialed</dt><dd class="mono">${d.dialed}${d.number !== d.dialed ? html` <span class="muted-text">(matched as ${d.number})</span>` : nothing}</dd>
          ${d.rewritten !== null ? html`<dt>Rewritten</dt><dd>${d.rewriteSteps.length === 0
            ? html`<span class="mono">${d.rewritten}</span> <span class="muted-text">(unchanged)</span>`
            : html`<span class="mono">${d.number} → ${d.rewritten}</span><div class="reasons">${d.rewriteSteps.map((s) => s.detail).join('; ')}</div>`}</dd>` : nothing}
          ${d.permission !== null ? html`<dt>Permission</dt><dd><span class="badge ${d.permission.allowed ? 'good' : 'bad'}">${d.permission.allowed ? 'Allowed' : 'Denied'}</span>
            <span class="reasons">${d.permission.reason}</span></dd>` : nothing}
        </dl>
      </div>
      <div class="cols">
        <section class="card panel" aria-labelledby="trace-title">
          <div class="panel-head"><h3 id="trace-title">Rules tried</h3><span class="updated">in order; the deciding one last</span></div>
          ${d.trace.length === 0 ? html`<div class="empty">No rule was tried.</div>` : html`<ol class="trace">
            ${d.trace.map((s) => html`<li class=${s.matched ? 'matched' : ''}>
              <span class="n">${ruleLabel(s)}</span>
              <div><div class="rule-name">${s.name}</div><div class="reasons">${s.reasons.join(s.matched ? ', ' : '; ')}</div></div>
              <span class="badge ${s.matched ? 'good' : 'plain'}">${s.matched ? 'Match' : 'No match'}</span>
            </li>`)}
          </ol>`}
        </section>
        <section class="card panel" aria-labelledby="targets-title">
          <div class="panel-head"><h3 id="targets-title">Targets</h3>
            <span class="updated">${t === null ? '' : t.kind === 'ring-group' ? `ring group ${t.group}, ${t.strategy}, ${t.ringSeconds} s${t.strategy === 'sequential' ? ' each' : ''}` : t.kind === 'trunks' ? 'trunks in failover order' : 'user'}</span></div>
          ${e.targets.length === 0 ? html`<div class="empty">No target: the call would not be placed.</div>` : html`<ol class="targets">
            ${e.targets.map((x, i) => html`<li>
              <span class="n">${i + 1}</span>
              <div><div class="rule-name">${x.name}</div>${x.detail ? html`<div class="reasons">${x.detail}</div>` : nothing}</div>
              ${x.kind === 'trunk' ? html`<span class="badge ${trunkTone(x.state ?? 'unknown')}">${x.state ?? 'unknown'}</span>` : html`<span class="badge plain info">user</span>`}
            </li>`)}
          </ol>`}
        </section>
      </div>
      ${e.notes.length ? html`<section class="card panel" aria-labelledby="notes-title"><div class="panel-head"><h3 id="notes-title">Notes</h3></div>
        <ul class="notes">${e.notes.map((n) => html`<li>${n}</li>`)}</ul></section>` : nothing}
    </div>`
  }

  override render() {
    return html`
      <div class="section-head">
        <div>
          <h2>Explain a route</h2>
          <p>How the dial plan would route a call, and why, without placing it.</p>
        </div>
      </div>
      ${this.error ? html`<div class="notice error" role="alert">${icon('alert', 18)}<span>${this.error}</span></div>` : nothing}
      <div class="card">
        <form @submit=${this.submit} aria-label="Explain a route">
          <div><label class="label" for="from">From</label><input class="field" id="from" name="from" placeholder="alice" autocapitalize="off" spellcheck="false"></div>
          <div><label class="label" for="to">To</label><input class="field" id="to" name="to" placeholder="00442079460000" autocapitalize="off" spellcheck="false"></div>
          <button class="btn primary" type="submit" style="min-height:44px" aria-disabled=${this.busy ? 'true' : 'false'}>${adminIcon('route', 18)}Explain</button>
          <p class="help">From: a user name, <code>trunk:NAME</code> or <code>anonymous</code>. To: a number, user name or SIP URI.</p>
        </form>
      </div>
      ${this.result ? this.renderResult(this.result) : nothing}`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-admin-explain': PbAdminExplain
  }
}

import { LitElement, css, html, nothing, svg } from 'lit'
import { customElement, property } from 'lit/decorators.js'
import { CallQualityController, type QualitySample } from '../controllers/call-quality-controller.ts'
import { BrowserTimers, type Timers } from '../util/timers.ts'
import { sharedStyles } from './shared-styles.ts'

interface Series {
  readonly key: 'rttMs' | 'jitterMs' | 'lossPct'
  readonly title: string
  readonly unit: string
  /** The y axis goes at least this high, so small wiggles stay small. */
  readonly floor: number
  readonly warn: number
}

const SERIES: readonly Series[] = [
  { key: 'rttMs', title: 'Round trip', unit: 'ms', floor: 100, warn: 300 },
  { key: 'jitterMs', title: 'Jitter', unit: 'ms', floor: 20, warn: 30 },
  { key: 'lossPct', title: 'Loss', unit: '%', floor: 2, warn: 1 },
]

const W = 120
const H = 32

/** SVG polyline points for one series over the last samples (pure; exported for tests). */
export function sparklinePoints(samples: readonly QualitySample[], key: Series['key'], floor: number, capacity = 60): string {
  const values = samples.map((s) => s[key])
  const max = Math.max(floor, ...values.filter((v): v is number => v !== undefined))
  const step = W / Math.max(1, capacity - 1)
  const offset = capacity - samples.length
  return values
    .map((v, i) => (v === undefined ? undefined : `${((offset + i) * step).toFixed(1)},${(H - 2 - (v / max) * (H - 4)).toFixed(1)}`))
    .filter((p): p is string => p !== undefined)
    .join(' ')
}

function format(value: number | undefined, unit: string): string {
  if (value === undefined) return '—'
  return unit === '%' ? `${value.toFixed(value < 10 ? 1 : 0)} %` : `${Math.round(value)} ${unit}`
}

/**
 * Live call quality from getStats(): round-trip time, jitter and packet loss as three small
 * SVG sparklines over the last minute, with the current value and an overall rating.
 *
 * @csspart chart - each sparkline's SVG
 * @csspart rating - the overall rating badge
 */
@customElement('pb-quality-chart')
export class PbQualityChart extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: block; }
    header { display: flex; align-items: center; justify-content: space-between; margin-bottom: 10px; }
    h3 { margin: 0; font-size: 13px; font-weight: 700; color: var(--pb-text-2); text-transform: uppercase; letter-spacing: .06em; }
    .rating { font-size: 12px; font-weight: 700; padding: 3px 10px; border-radius: 999px; background: var(--pb-surface-2); color: var(--pb-text-2); }
    .rating.good { background: var(--pb-green-soft); color: var(--pb-green-text); }
    .rating.fair { background: var(--pb-amber-soft); color: var(--pb-amber-text); }
    .rating.poor { background: var(--pb-red-soft); color: var(--pb-red-text); }
    .grid { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 10px; }
    .metric { background: var(--pb-surface-2); border-radius: var(--pb-radius-sm); padding: 8px 10px 6px; min-width: 0; }
    .name { font-size: 11px; font-weight: 600; color: var(--pb-text-3); }
    .value { font-size: 15px; font-weight: 700; margin: 1px 0 4px; white-space: nowrap; }
    .value.warn { color: var(--pb-red-text); }
    svg { display: block; width: 100%; height: 32px; overflow: visible; }
    polyline { fill: none; stroke: var(--pb-accent); stroke-width: 1.6; stroke-linejoin: round; stroke-linecap: round; vector-effect: non-scaling-stroke; }
    line.base { stroke: var(--pb-border-strong); stroke-width: 1; vector-effect: non-scaling-stroke; }
    .path { margin-top: 8px; font-size: 12px; color: var(--pb-text-3); }
  `]

  @property({ attribute: false }) peerConnection: RTCPeerConnection | undefined
  /** Timer source for sampling (tests pass a fake); defaults to setTimeout. */
  @property({ attribute: false }) timers: Timers | undefined
  private quality: CallQualityController | undefined

  override connectedCallback(): void {
    this.quality ??= new CallQualityController(this, this.timers ?? new BrowserTimers())
    super.connectedCallback()
  }

  /** The controller (tests read its samples). */
  get controller(): CallQualityController | undefined {
    return this.quality
  }

  override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('peerConnection')) this.quality?.setPeerConnection(this.peerConnection)
  }

  override render() {
    const q = this.quality
    const samples = q?.samples ?? []
    const latest = q?.latest
    const rating = q?.rating ?? 'unknown'
    const ratingText = { good: 'Good', fair: 'Fair', poor: 'Poor', unknown: 'Measuring…' }[rating]
    const path = q?.candidateType
    return html`
      <header>
        <h3 id="q-title">Call quality</h3>
        <span class="rating ${rating}" part="rating" role="status">${ratingText}</span>
      </header>
      <div class="grid" role="group" aria-labelledby="q-title">
        ${SERIES.map((s) => {
          const value = latest?.[s.key]
          return html`<div class="metric">
            <div class="name">${s.title}</div>
            <div class="value tabular ${value !== undefined && value > s.warn ? 'warn' : ''}">${format(value, s.unit)}</div>
            <svg part="chart" viewBox="0 0 ${W} ${H}" preserveAspectRatio="none" role="img"
              aria-label=${`${s.title} over the last minute, now ${format(value, s.unit)}`}>
              ${svg`<line class="base" x1="0" y1=${H - 2} x2=${W} y2=${H - 2}></line>
              <polyline points=${sparklinePoints(samples, s.key, s.floor)}></polyline>`}
            </svg>
          </div>`
        })}
      </div>
      ${path ? html`<div class="path">Media path: ${path === 'relay' ? 'relayed (TURN)' : path === 'host' ? 'direct (local network)' : 'direct (through NAT)'}</div>` : nothing}`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-quality-chart': PbQualityChart
  }
}

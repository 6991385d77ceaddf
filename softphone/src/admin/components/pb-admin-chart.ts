import { LitElement, css, html, nothing, svg } from 'lit'
import { customElement, property, state } from 'lit/decorators.js'
import { sharedStyles } from '../../components/shared-styles.ts'
import { formatCount, formatTimeOfDay } from '../admin-format.ts'
import { areaPath, linePath, niceTicks, scale, timeTicks, type Point } from '../chart-geometry.ts'

/** One line of a chart. */
export interface ChartSeries {
  /** Legend and tooltip name ("In progress"). */
  name: string
  /** A CSS colour (`var(--pb-accent)`). */
  color: string
  /** Oldest first. */
  points: Point[]
  /** Fill the area under the line. */
  area?: boolean
}

const HEIGHT = 200
const PAD = { top: 12, right: 16, bottom: 26, left: 40 }

/**
 * A time chart drawn by hand in SVG: one or two series over `[from, to]` (epoch ms), round
 * y ticks from 0, time ticks, a legend, and a crosshair with the values under the pointer.
 * The SVG is an image whose accessible name says what it shows and the latest values.
 */
@customElement('pb-admin-chart')
export class PbAdminChart extends LitElement {
  static override styles = [sharedStyles, css`
    :host { display: block; }
    .legend { display: flex; gap: 14px; flex-wrap: wrap; font-size: 13px; color: var(--pb-text-2); margin: 0 0 6px; }
    .key { display: inline-flex; align-items: center; gap: 6px; }
    .swatch { width: 10px; height: 10px; border-radius: 3px; }
    .key strong { color: var(--pb-text); font-variant-numeric: tabular-nums; }
    .plot { position: relative; }
    svg { display: block; width: 100%; height: ${HEIGHT}px; overflow: visible; touch-action: none; }
    .grid line { stroke: var(--pb-border); stroke-width: 1; }
    .axis text { fill: var(--pb-text-3); font-size: 11px; font-family: var(--pb-font); font-variant-numeric: tabular-nums; }
    .line { fill: none; stroke-width: 2; stroke-linejoin: round; stroke-linecap: round; }
    .area { opacity: .12; }
    .cross { stroke: var(--pb-text-3); stroke-dasharray: 3 3; }
    .tip {
      position: absolute; top: 4px; pointer-events: none; background: var(--pb-text); color: #fff; border-radius: 8px;
      padding: 6px 10px; font-size: 12px; line-height: 1.45; white-space: nowrap; box-shadow: var(--pb-shadow); transform: translateX(-50%);
    }
    .tip .t { color: #c9d2e3; }
    .nodata { position: absolute; inset: 0 0 ${PAD.bottom}px ${PAD.left}px; display: grid; place-items: center; color: var(--pb-text-3); font-size: 13px; }
  `]

  /** Accessible name of the chart ("Calls over the last hour"). */
  @property() label = ''
  @property({ attribute: false }) series: ChartSeries[] = []
  /** Time range shown, epoch ms. */
  @property({ type: Number }) from = 0
  @property({ type: Number }) to = 0
  /** A gap between samples longer than this breaks the line (ms). */
  @property({ type: Number }) maxGapMs = 60_000
  @state() private width = 600
  @state() private hoverT: number | null = null
  private observer: ResizeObserver | undefined

  override connectedCallback(): void {
    super.connectedCallback()
    this.observer ??= new ResizeObserver((entries) => {
      const w = Math.round(entries[0]?.contentRect.width ?? 0)
      if (w > 0 && w !== this.width) this.width = w
    })
    this.observer.observe(this)
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback()
    this.observer?.disconnect()
  }

  private visible(s: ChartSeries): Point[] {
    return s.points.filter((p) => p.t >= this.from && p.t <= this.to)
  }

  private onMove(event: PointerEvent, x: (t: number) => number): void {
    const box = (event.currentTarget as SVGElement).getBoundingClientRect()
    const px = event.clientX - box.left
    const inv = scale(x(this.from), x(this.to), this.from, this.to)
    this.hoverT = Math.min(this.to, Math.max(this.from, inv(px)))
  }

  private nearest(points: Point[], t: number): Point | undefined {
    let best: Point | undefined
    for (const p of points) if (best === undefined || Math.abs(p.t - t) < Math.abs(best.t - t)) best = p
    return best
  }

  override render() {
    const w = this.width
    const visible = this.series.map((s) => this.visible(s))
    const max = Math.max(0, ...visible.flat().map((p) => p.v))
    const yTicks = niceTicks(max, 4)
    const yTop = yTicks[yTicks.length - 1] ?? 1
    const x = scale(this.from, this.to, PAD.left, w - PAD.right)
    const y = scale(0, yTop, HEIGHT - PAD.bottom, PAD.top)
    const base = HEIGHT - PAD.bottom
    const latest = this.series.map((s, i) => `${s.name} ${visible[i]!.at(-1)?.v ?? 0}`).join(', ')
    const hover = this.hoverT
    const hoverPoints = hover === null ? [] : visible.map((pts) => this.nearest(pts, hover))
    const hoverAt = hoverPoints.find((p) => p !== undefined)?.t
    const empty = visible.every((p) => p.length === 0)
    return html`
      <div class="legend">
        ${this.series.map((s, i) => html`<span class="key"><span class="swatch" style="background:${s.color}"></span>${s.name}
          <strong>${formatCount(visible[i]!.at(-1)?.v ?? 0)}</strong></span>`)}
      </div>
      <div class="plot">
        <svg role="img" aria-label=${`${this.label}; latest: ${latest}`} viewBox="0 0 ${w} ${HEIGHT}"
          @pointermove=${(e: PointerEvent) => this.onMove(e, x)} @pointerleave=${() => { this.hoverT = null }}>
          ${svg`
            <g class="grid">${yTicks.map((v) => svg`<line x1=${PAD.left} x2=${w - PAD.right} y1=${y(v)} y2=${y(v)}></line>`)}</g>
            <g class="axis">
              ${yTicks.map((v) => svg`<text x=${PAD.left - 8} y=${y(v) + 4} text-anchor="end">${formatCount(v)}</text>`)}
              ${timeTicks(this.from, this.to, Math.max(2, Math.floor(w / 110))).map((t) =>
                svg`<text x=${x(t)} y=${HEIGHT - 6} text-anchor="middle">${formatTimeOfDay(t)}</text>`)}
            </g>
            ${this.series.map((s, i) => svg`
              ${s.area ? svg`<path class="area" fill=${s.color} d=${areaPath(visible[i]!, x, y, base, this.maxGapMs)}></path>` : nothing}
              <path class="line" stroke=${s.color} d=${linePath(visible[i]!, x, y, this.maxGapMs)}></path>
              ${visible[i]!.length <= 3 ? visible[i]!.map((p) => svg`<circle cx=${x(p.t)} cy=${y(p.v)} r="3" fill=${s.color}></circle>`) : nothing}`)}
            ${hoverAt !== undefined ? svg`<line class="cross" x1=${x(hoverAt)} x2=${x(hoverAt)} y1=${PAD.top} y2=${base}></line>
              ${hoverPoints.map((p, i) => p === undefined ? nothing : svg`<circle cx=${x(p.t)} cy=${y(p.v)} r="3.5" fill=${this.series[i]!.color} stroke="#fff" stroke-width="1.5"></circle>`)}` : nothing}
          `}
        </svg>
        ${empty ? html`<div class="nodata">Collecting samples…</div>` : nothing}
        ${hoverAt !== undefined ? html`<div class="tip" style="left:${x(hoverAt)}px">
          <div class="t">${formatTimeOfDay(hoverAt)}</div>
          ${this.series.map((s, i) => html`<div>${s.name}: <strong>${hoverPoints[i]?.v ?? '—'}</strong></div>`)}
        </div>` : nothing}
      </div>`
  }
}

declare global {
  interface HTMLElementTagNameMap {
    'pb-admin-chart': PbAdminChart
  }
}

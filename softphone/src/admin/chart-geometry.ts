/**
 * The arithmetic of the admin page's time charts (pb-admin-chart.ts): "nice" axis ticks, a
 * linear scale and the SVG path of a series. Pure; exported for tests.
 */

export interface Point {
  /** Epoch ms. */
  t: number
  v: number
}

/**
 * Up to about `count` round tick values from 0 to at least `max` (steps of 1, 2 or 5 times a
 * power of ten; whole numbers for small counts): `niceTicks(7)` -> [0, 2, 4, 6, 8].
 */
export function niceTicks(max: number, count = 4): number[] {
  const top = Math.max(1, max)
  const raw = top / Math.max(1, count)
  const power = 10 ** Math.floor(Math.log10(raw))
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power)
  const ticks: number[] = []
  for (let v = 0; v < top + step; v += step) {
    ticks.push(v)
    if (v >= top) break
  }
  return ticks
}

/** Round times for the x axis between `from` and `to` (epoch ms), about `count` of them. */
export function timeTicks(from: number, to: number, count = 6): number[] {
  const span = Math.max(1, to - from)
  const steps = [60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000]
  const step = steps.find((s) => span / s <= count) ?? 21_600_000
  const ticks: number[] = []
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t)
  return ticks
}

/** Maps `[d0, d1]` onto `[r0, r1]` linearly. */
export function scale(d0: number, d1: number, r0: number, r1: number): (x: number) => number {
  const span = d1 - d0 || 1
  return (x) => r0 + ((x - d0) / span) * (r1 - r0)
}

/**
 * The SVG path (`M x,y L x,y ...`) of `points` through `x` and `y`; a gap longer than
 * `maxGapMs` (the gateway was down, the page was closed) starts a new segment instead of
 * drawing a line across it.
 */
export function linePath(points: readonly Point[], x: (t: number) => number, y: (v: number) => number, maxGapMs = Infinity): string {
  let d = ''
  let prev: Point | undefined
  for (const p of points) {
    const cmd = prev === undefined || p.t - prev.t > maxGapMs ? 'M' : 'L'
    d += `${d === '' ? '' : ' '}${cmd}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`
    prev = p
  }
  return d
}

/** The closed area under `linePath` down to `baseY` (one polygon per segment). */
export function areaPath(points: readonly Point[], x: (t: number) => number, y: (v: number) => number, baseY: number, maxGapMs = Infinity): string {
  const segments: Point[][] = []
  let prev: Point | undefined
  for (const p of points) {
    if (prev === undefined || p.t - prev.t > maxGapMs) segments.push([])
    segments[segments.length - 1]!.push(p)
    prev = p
  }
  return segments
    .map((seg) => {
      const first = seg[0]!
      const last = seg[seg.length - 1]!
      const top = seg.map((p) => `L${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ')
      return `M${x(first.t).toFixed(1)},${baseY.toFixed(1)} ${top} L${x(last.t).toFixed(1)},${baseY.toFixed(1)} Z`
    })
    .join(' ')
}

/** Display helpers of the admin page. Pure. */

/** `42` -> `42 s`, `125` -> `2 min 5 s`, `7380` -> `2 h 3 min`, `200000` -> `2 d 7 h`. */
export function formatSpan(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`
  if (s < 86_400) return `${Math.floor(s / 3600)} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`
  return `${Math.floor(s / 86_400)} d${Math.floor((s % 86_400) / 3600) ? ` ${Math.floor((s % 86_400) / 3600)} h` : ''}`
}

/** `75.4` -> `1:15`, `3725` -> `1:02:05` (a call's length). */
export function formatClock(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`
}

/** "in 12 s", "now", "3 min ago" for a time `atMs` seen from `nowMs`. */
export function relativeTime(atMs: number, nowMs: number): string {
  const d = Math.round((atMs - nowMs) / 1000)
  if (Math.abs(d) < 1) return 'now'
  return d > 0 ? `in ${formatSpan(d)}` : `${formatSpan(-d)} ago`
}

/** A SIP URI without its scheme and parameters: `sip:alice@patchbay.test;transport=ws` -> `alice@patchbay.test`. */
export function shortUri(uri: string | null | undefined): string {
  if (!uri) return ''
  return uri.replace(/^<|>$/g, '').replace(/^(sips?|tel):/i, '').replace(/[;?].*$/, '')
}

/** Date and time in the browser's locale, seconds included: "4 Dec, 21:05:09". */
export function formatDateTime(iso: string | number, locale?: string): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  return d.toLocaleString(locale, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' })
}

/** Hours and minutes for chart axes ("21:05"), with seconds when asked ("21:05:09"). */
export function formatTimeOfDay(epochMs: number, locale?: string, seconds = false): string {
  return new Date(epochMs).toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}) })
}

/** The day of a time, in the browser's locale: "Fri 4 Dec" (the year too when it is not this year's). */
export function formatDay(iso: string | number, locale?: string, nowMs = Date.now()): string {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  const otherYear = d.getFullYear() !== new Date(nowMs).getFullYear()
  return d.toLocaleDateString(locale, { weekday: 'short', day: 'numeric', month: 'short', ...(otherYear ? { year: 'numeric' } : {}) })
}

/** A compact number for tiles and axes: 950, 1.2k, 34k, 1.5M. */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return '—'
  const a = Math.abs(n)
  if (a < 1000) return String(Math.round(n * 10) / 10)
  if (a < 10_000) return `${(n / 1000).toFixed(1)}k`
  if (a < 1_000_000) return `${Math.round(n / 1000)}k`
  return `${(n / 1_000_000).toFixed(1)}M`
}

/** Tone of a SIP status for a badge: 2xx good, 486/487/603 neutral, else bad. */
export function statusTone(status: number): 'good' | 'neutral' | 'bad' {
  if (status >= 200 && status < 300) return 'good'
  if (status === 486 || status === 487 || status === 603 || status === 480) return 'neutral'
  return 'bad'
}

/** Tone of a trunk state for a badge. */
export function trunkTone(state: string): 'good' | 'warn' | 'bad' | 'neutral' {
  if (state === 'up' || state === 'registered') return 'good'
  if (state === 'down' || state === 'failed') return 'bad'
  if (state === 'registering' || state === 'unknown') return 'warn'
  return 'neutral'
}

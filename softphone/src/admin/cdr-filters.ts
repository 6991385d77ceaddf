/**
 * The call-record filters of the admin page and their query string for `GET /api/cdrs` and
 * `GET /api/cdrs.csv` (gateway http/cdr-plugin.ts). Pure.
 */

export interface CdrFilters {
  /** `datetime-local` input values (the browser's local time), '' for none. */
  from: string
  to: string
  caller: string
  callee: string
  /** '' | internal | outbound | inbound | transit */
  direction: string
  trunk: string
  /** '' | answered | failed | 4xx | 5xx | 6xx | a status such as 486 */
  status: string
}

export const NO_FILTERS: CdrFilters = { from: '', to: '', caller: '', callee: '', direction: '', trunk: '', status: '' }

/**
 * The query parameters of `filters` (blank ones left out; local times turned into UTC ISO
 * 8601) plus `extra` (limit, offset). A time the browser cannot read is left out.
 */
export function cdrQueryString(filters: CdrFilters, extra: Record<string, string | number> = {}): string {
  const q = new URLSearchParams()
  for (const name of ['from', 'to'] as const) {
    const v = filters[name].trim()
    if (v === '') continue
    const ms = new Date(v).getTime()
    if (Number.isFinite(ms)) q.set(name, new Date(ms).toISOString())
  }
  for (const name of ['caller', 'callee', 'direction', 'trunk', 'status'] as const) {
    const v = filters[name].trim()
    if (v !== '') q.set(name, v)
  }
  for (const [k, v] of Object.entries(extra)) q.set(k, String(v))
  return q.toString()
}

/** True when some filter is set. */
export function hasFilters(filters: CdrFilters): boolean {
  return Object.values(filters).some((v) => v.trim() !== '')
}

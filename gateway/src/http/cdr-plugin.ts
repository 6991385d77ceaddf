/**
 * Admin API for call detail records and calls in progress (issue 13 item 5). Bearer
 * `adminToken`, as /api/registrations (admin-auth.ts); the token is checked before the query.
 *
 *   GET /api/cdrs          200 { total, limit, offset, nextCursor, cdrs: [...] } | 400 | 401 | 500
 *   GET /api/cdrs.csv      200 text/csv attachment (also `GET /api/cdrs?format=csv`) | 400 | 401
 *   GET /api/calls         200 { total, calls: [{ callId, fromTag, caller, callerUser, callee, routed,
 *                          direction, trunk, since, answered, answeredAt }] } | 400 | 401
 *                          oldest first; `limit` 1..10000, default 1000 (total counts them all)
 *
 * Reads go through a CdrReader (cdr/cdr-reader.ts: a worker for a database file), so a filter
 * that scans the table never holds up SIP processing; a failed read answers 500.
 *
 * Query parameters (all optional; an unknown, repeated or malformed one is a 400 whose
 * `error` names it):
 *   from, to       start time range, ISO 8601 (`2026-12-04`, `2026-12-04T20:00:00Z`; UTC when
 *                  no offset is given) or epoch ms; from inclusive, to exclusive
 *   caller         substring of the From URI or the caller's user name
 *   callee         substring of the dialed or the routed URI
 *   direction      internal | outbound | inbound | transit
 *   trunk          trunk name (exact)
 *   status         answered | failed | 4xx (a class) | 486 (one status)
 *   minDuration    minimum answered seconds
 *   limit          1..1000, default 100 (JSON); CSV: every matching row unless given
 *   offset         rows to skip; cursor: `nextCursor` of the previous page (keyset paging)
 *   format         json | csv
 *
 * A record: `{ id, callId, fromTag, start, answer, end (ISO 8601 UTC; answer null when not
 * answered), durationS, ringS, caller, callerUser, dialed, routed, direction, trunk, rule,
 * status, reason, endedBy, mediaPath, codec }`. The CSV export (cdr/cdr-csv.ts) streams the
 * same fields as snake_case columns; its file name carries the export date
 * (`cdrs-2026-12-04.csv`).
 */
import { Elysia } from 'elysia'
import { Type, type Static } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import type { CdrQuery, CdrStatusFilter, StoredCdr } from '../store/cdr-store.ts'
import { parseCursor } from '../store/cdr-store.ts'
import type { ActiveCall } from '../cdr/call-recorder.ts'
import { cdrCsvStream } from '../cdr/cdr-csv.ts'
import type { CdrReader } from '../cdr/cdr-reader.ts'
import { logger } from '../base/log.ts'
import { adminRefusal } from './admin-auth.ts'

const log = logger('http.cdrs')

/** What the plugin reads (CdrStore and CallRecorder have it). */
export interface CdrPluginDeps {
  /** Bearer token for admin endpoints; undefined: they always answer 401. */
  adminToken: string | undefined
  /** Reads (cdr/cdr-reader.ts `createCdrReader`: a worker for a database file). */
  cdrs: Pick<CdrReader, 'query' | 'count' | 'pages'>
  calls: { activeCalls(limit?: number): ActiveCall[]; readonly stats: { active: number } }
  /** Wall clock, epoch ms, for the CSV file name (default Date.now). */
  now?: () => number
  /** Ends an answered call by its Call-ID (BYE to both sides); false when none is answered with it. */
  hangUp?: (callId: string) => boolean
}

/** `GET /api/calls` lists the oldest calls first, this many unless `limit` says otherwise (at most the max). */
const ACTIVE_CALLS_LIMIT = 1000
const MAX_ACTIVE_CALLS_LIMIT = 10_000

/** Query schema: each property's `description` is the 400 message for it. */
const CdrQueryParams = Type.Object({
  from: Type.Optional(Type.String({ maxLength: 40, description: 'an ISO 8601 time or epoch milliseconds' })),
  to: Type.Optional(Type.String({ maxLength: 40, description: 'an ISO 8601 time or epoch milliseconds' })),
  caller: Type.Optional(Type.String({ maxLength: 256, description: 'a string of at most 256 characters' })),
  callee: Type.Optional(Type.String({ maxLength: 256, description: 'a string of at most 256 characters' })),
  direction: Type.Optional(Type.Union(['internal', 'outbound', 'inbound', 'transit'].map((d) => Type.Literal(d)),
    { description: 'internal, outbound, inbound or transit' })),
  trunk: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'a trunk name' })),
  status: Type.Optional(Type.String({ pattern: '^(answered|failed|[1-6]xx|[1-6][0-9][0-9])$',
    description: 'answered, failed, a class such as 4xx, or a status such as 486' })),
  minDuration: Type.Optional(Type.Number({ minimum: 0, description: 'a number of seconds >= 0' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: 'an integer from 1 to 1000' })),
  offset: Type.Optional(Type.Integer({ minimum: 0, description: 'an integer >= 0' })),
  cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,16}\\.[0-9]{1,16}$', description: 'the nextCursor of a previous page' })),
  format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')], { description: 'json or csv' })),
}, { additionalProperties: false })

type CdrQueryParams = Static<typeof CdrQueryParams>

/** The query, or the 400 message naming the bad parameter. */
export type ParsedCdrQuery = { ok: true; query: CdrQuery; format: 'json' | 'csv' } | { ok: false; error: string }

/** Epoch ms, or ISO 8601 (a date, or a date and time; UTC unless it carries an offset). */
function parseTime(name: string, s: string): number | string {
  let ms = NaN
  if (/^[0-9]{1,16}$/.test(s)) ms = Number(s)
  else if (/^\d{4}-\d{2}-\d{2}$/.test(s)) ms = Date.parse(s)
  else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?$/.test(s)) {
    ms = Date.parse(/(Z|[+-]\d{2}:\d{2})$/.test(s) ? s : `${s}Z`)
  }
  return Number.isFinite(ms) ? ms : `invalid query parameter ${name}: expected an ISO 8601 time or epoch milliseconds`
}

/**
 * Validates the URL's query parameters against the schema above and turns them into a
 * CdrQuery. Never throws.
 */
export function parseCdrQuery(params: URLSearchParams): ParsedCdrQuery {
  const raw: Record<string, string> = {}
  for (const [name, value] of params) {
    if (Object.hasOwn(raw, name)) return { ok: false, error: `query parameter ${name} given more than once` }
    raw[name] = value
  }
  for (const name of Object.keys(raw)) {
    if (!Object.hasOwn(CdrQueryParams.properties, name)) return { ok: false, error: `unknown query parameter ${name}` }
  }
  const properties = CdrQueryParams.properties as Record<string, { type?: string; description?: string }>
  const invalid = (name: string) => ({ ok: false as const, error: `invalid query parameter ${name}: expected ${properties[name]?.description}` })
  // Value.Convert would truncate `2.5` to an integer and read `1e3` or ` 7` as numbers: only plain decimals pass.
  for (const [name, value] of Object.entries(raw)) {
    const type = properties[name]?.type
    if (type === 'integer' && !/^-?[0-9]{1,15}$/.test(value)) return invalid(name)
    if (type === 'number' && !/^-?[0-9]{1,15}(\.[0-9]{1,9})?$/.test(value)) return invalid(name)
  }
  const converted = Value.Convert(CdrQueryParams, raw) as Record<string, unknown>
  const first = Value.Errors(CdrQueryParams, converted).First()
  if (first !== undefined) return invalid(first.path.split('/')[1] ?? '')
  const p = converted as CdrQueryParams
  const query: CdrQuery = {}
  for (const name of ['from', 'to'] as const) {
    const v = p[name]
    if (v === undefined) continue
    const t = parseTime(name, v)
    if (typeof t === 'string') return { ok: false, error: t }
    query[name] = t
  }
  if (p.caller !== undefined) query.caller = p.caller
  if (p.callee !== undefined) query.callee = p.callee
  if (p.direction !== undefined) query.direction = p.direction as CdrQuery['direction']
  if (p.trunk !== undefined) query.trunk = p.trunk
  if (p.status !== undefined) {
    query.status = /^[0-9]+$/.test(p.status) ? Number(p.status) : p.status as CdrStatusFilter
  }
  if (p.minDuration !== undefined) query.minDurationS = p.minDuration
  if (p.limit !== undefined) query.limit = p.limit
  if (p.offset !== undefined) query.offset = p.offset
  if (p.cursor !== undefined) {
    if (parseCursor(p.cursor) === null) return { ok: false, error: 'invalid query parameter cursor: expected the nextCursor of a previous page' }
    query.cursor = p.cursor
  }
  return { ok: true, query, format: p.format ?? 'json' }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

function cdrJson(c: StoredCdr) {
  return { ...c, start: iso(c.start), answer: iso(c.answer), end: iso(c.end) }
}

/** Elysia plugin serving `/api/cdrs`, `/api/cdrs.csv`, `/api/calls` and `DELETE /api/calls/:callId` (hang up). */
export function cdrPlugin(deps: CdrPluginDeps) {
  const now = deps.now ?? Date.now

  const csv = (query: CdrQuery): Response => new Response(cdrCsvStream(deps.cdrs, query), {
    headers: {
      'content-type': 'text/csv; charset=utf-8; header=present',
      'content-disposition': `attachment; filename="cdrs-${new Date(now()).toISOString().slice(0, 10)}.csv"`,
      'cache-control': 'no-store',
    },
  })

  const list = async (request: Request, set: Parameters<typeof adminRefusal>[1], forceCsv: boolean) => {
    const refusal = adminRefusal(request, set, deps.adminToken)
    if (refusal !== null) return refusal
    const parsed = parseCdrQuery(new URL(request.url).searchParams)
    if (!parsed.ok) {
      set.status = 400
      return { error: parsed.error }
    }
    if (forceCsv || parsed.format === 'csv') return csv(parsed.query)
    let page: Awaited<ReturnType<CdrReader['query']>>
    let total: number
    try {
      [page, total] = await Promise.all([deps.cdrs.query(parsed.query), deps.cdrs.count(parsed.query)])
    } catch (error) {
      log.error('CDR query failed', { error: String(error) })
      set.status = 500
      return { error: 'CDR query failed' }
    }
    set.headers['cache-control'] = 'no-store'
    return {
      total,
      limit: parsed.query.limit ?? 100,
      offset: parsed.query.cursor === undefined ? parsed.query.offset ?? 0 : 0,
      nextCursor: page.nextCursor,
      cdrs: page.cdrs.map(cdrJson),
    }
  }

  return new Elysia({ name: 'cdrs' })
    .get('/api/cdrs', ({ request, set }) => list(request, set, false))
    .get('/api/cdrs.csv', ({ request, set }) => list(request, set, true))
    .delete('/api/calls/:callId', ({ request, set, params }) => {
      const refusal = adminRefusal(request, set, deps.adminToken)
      if (refusal !== null) return refusal
      if (deps.hangUp === undefined || !deps.hangUp(params.callId)) {
        set.status = 404
        return { error: 'no answered call with that Call-ID' }
      }
      set.status = 204
      return null
    })
    .get('/api/calls', ({ request, set }) => {
      const refusal = adminRefusal(request, set, deps.adminToken)
      if (refusal !== null) return refusal
      const params = new URL(request.url).searchParams
      for (const name of params.keys()) {
        if (name !== 'limit') {
          set.status = 400
          return { error: `unknown query parameter ${name}` }
        }
      }
      const limitParam = params.get('limit')
      const limit = limitParam === null ? ACTIVE_CALLS_LIMIT : Number(limitParam)
      if (limitParam !== null && (!/^[0-9]{1,6}$/.test(limitParam) || limit < 1 || limit > MAX_ACTIVE_CALLS_LIMIT)) {
        set.status = 400
        return { error: `invalid query parameter limit: expected an integer from 1 to ${MAX_ACTIVE_CALLS_LIMIT}` }
      }
      set.headers['cache-control'] = 'no-store'
      return {
        total: deps.calls.stats.active,
        calls: deps.calls.activeCalls(limit).map((c) => ({ ...c, since: iso(c.since), answeredAt: iso(c.answeredAt) })),
      }
    })
}

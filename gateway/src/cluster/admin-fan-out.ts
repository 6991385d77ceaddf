/**
 * The admin API of a gateway running on several workers (docs/architecture.md §4b). The
 * kernel hands an HTTP connection to any worker, but calls in progress, trunk states, bans,
 * the charts' history and the metrics are each worker's own. So a worker answering one of
 * those endpoints asks every worker (itself included) on its private loopback HTTP port,
 * with the caller's Authorization, and merges the answers into the one a single process would
 * give. Registrations and call records are shared already and are answered locally.
 *
 * | endpoint                          | merge                                                     |
 * |-----------------------------------|-----------------------------------------------------------|
 * | GET /api/calls                    | calls concatenated (newest first, `limit`), totals summed  |
 * | DELETE /api/calls/:callId         | 204 when any worker held the call, else its 404           |
 * | GET /api/trunks                   | worker 0's state (it REGISTERs the trunks), calls summed  |
 * | GET /api/security/bans            | bans by source (latest expiry), counters summed           |
 * | DELETE /api/security/bans/:source | lifted everywhere; 404 only when no worker had it         |
 * | GET /api/stats/history            | each series summed over the workers, sample by sample     |
 * | GET /metrics                      | prom-client's AggregatorRegistry: every series summed     |
 *
 * A worker that does not answer within 2 s is left out (the answer is still useful).
 */
import { AggregatorRegistry } from 'prom-client'
import { logger } from '../base/log.ts'

const log = logger('cluster.admin')

/** Marks a request a worker sent to its siblings: answered locally, never fanned out again. */
export const LOCAL_HEADER = 'x-patchbay-worker-local'
const TIMEOUT_MS = 2000

interface Part {
  worker: number
  status: number
  body: unknown
  text: string
}

type Merged = { status: number; body: unknown } | { status: number; text: string; contentType: string }
type Merge = (parts: Part[], url: URL) => Merged | Promise<Merged>

/** Which requests are merged, and how (method + path pattern). */
const ROUTES: Array<{ method: string; path: RegExp; merge: Merge; query?: string }> = [
  { method: 'GET', path: /^\/api\/calls$/, merge: mergeCalls },
  { method: 'DELETE', path: /^\/api\/calls\/[^/]+$/, merge: mergeAny },
  { method: 'GET', path: /^\/api\/trunks$/, merge: mergeTrunks },
  { method: 'GET', path: /^\/api\/security\/bans$/, merge: mergeBans },
  { method: 'DELETE', path: /^\/api\/security\/bans\/[^/]+$/, merge: mergeAny },
  { method: 'GET', path: /^\/api\/stats\/history$/, merge: mergeHistory },
  { method: 'GET', path: /^\/metrics$/, merge: mergeMetrics, query: 'format=json' },
]

/**
 * A request hook for the public HTTP app of a worker: null for requests answered locally
 * (most of them, WebSocket upgrades included; decided without awaiting anything), else the
 * merged answer of every worker. `ports[i]`: worker i's private HTTP port on 127.0.0.1.
 */
export function adminFanOut(ports: readonly number[]): (request: Request) => Promise<Response> | null {
  return (request) => {
    if (request.headers.has(LOCAL_HEADER)) return null
    const url = new URL(request.url)
    const route = ROUTES.find((r) => r.method === request.method && r.path.test(url.pathname))
    if (route === undefined) return null
    return gather(request, url, ports, route.query).then(async (parts) => {
      // An answer every worker refused (401, 400) is passed on as it is.
      const ok = parts.filter((p) => p.status < 400 || (p.status === 404 && request.method === 'DELETE'))
      if (ok.length === 0 && parts.length > 0) return respond(parts[0]!.status, parts[0]!.body)
      const merged = await route.merge(ok, url)
      if ('text' in merged) return new Response(merged.text, { status: merged.status, headers: { 'content-type': merged.contentType, 'cache-control': 'no-store' } })
      return respond(merged.status, merged.body)
    })
  }
}

function respond(status: number, body: unknown): Response {
  if (status === 204) return new Response(null, { status })
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } })
}

async function gather(request: Request, url: URL, ports: readonly number[], query?: string): Promise<Part[]> {
  const headers: Record<string, string> = { [LOCAL_HEADER]: '1' }
  const auth = request.headers.get('authorization')
  if (auth !== null) headers.authorization = auth
  const parts = await Promise.all(ports.map(async (port, worker): Promise<Part | null> => {
    try {
      const search = query === undefined ? url.search : url.search === '' ? `?${query}` : `${url.search}&${query}`
      const res = await fetch(`http://127.0.0.1:${port}${url.pathname}${search}`, {
        method: request.method, headers, signal: AbortSignal.timeout(TIMEOUT_MS),
      })
      const text = await res.text()
      let body: unknown = null
      if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') body = JSON.parse(text)
      return { worker, status: res.status, body, text }
    } catch (error) {
      log.warn('a worker did not answer an admin request', { worker, path: url.pathname, error: String(error) })
      return null
    }
  }))
  return parts.filter((p): p is Part => p !== null)
}

interface CallsBody { total: number; calls: Array<{ since: string | null }> }

function mergeCalls(parts: Part[], url: URL) {
  const bodies = parts.map((p) => p.body as CallsBody)
  const limit = Number(url.searchParams.get('limit') ?? Infinity)
  const calls = bodies.flatMap((b) => b.calls).sort((a, b) => (b.since ?? '').localeCompare(a.since ?? '')).slice(0, limit)
  return { status: 200, body: { total: bodies.reduce((n, b) => n + b.total, 0), calls } }
}

/** DELETE: done when any worker did it. */
function mergeAny(parts: Part[]) {
  const done = parts.find((p) => p.status < 300)
  if (done !== undefined) return { status: done.status, body: done.body }
  const first = parts[0]
  return { status: first?.status ?? 503, body: first?.body ?? { error: 'no worker answered' } }
}

interface TrunksBody { trunks: Array<{ name: string; activeCalls: number }> }

function mergeTrunks(parts: Part[]) {
  const byWorker = [...parts].sort((a, b) => a.worker - b.worker)
  const first = byWorker[0]
  if (first === undefined) return { status: 503, body: { error: 'no worker answered' } }
  const calls = new Map<string, number>()
  for (const p of byWorker) for (const t of (p.body as TrunksBody).trunks) calls.set(t.name, (calls.get(t.name) ?? 0) + t.activeCalls)
  const trunks = (first.body as TrunksBody).trunks.map((t) => ({ ...t, activeCalls: calls.get(t.name) ?? t.activeCalls }))
  return { status: 200, body: { trunks } }
}

interface BansBody { bans: Array<{ source: string; expiresAt: string | null; refused: number }>; stats: Record<string, unknown> }

function mergeBans(parts: Part[]) {
  const bans = new Map<string, BansBody['bans'][number]>()
  const stats: Record<string, unknown> = {}
  for (const p of parts) {
    const b = p.body as BansBody
    for (const ban of b.bans) {
      const had = bans.get(ban.source)
      if (had === undefined) bans.set(ban.source, { ...ban })
      else {
        had.refused += ban.refused
        if ((ban.expiresAt ?? '') > (had.expiresAt ?? '')) had.expiresAt = ban.expiresAt
      }
    }
    sumInto(stats, b.stats)
  }
  return { status: 200, body: { bans: [...bans.values()], stats } }
}

/** Adds every number of `from` into `into`, recursively (counters of several workers). */
function sumInto(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(from)) {
    if (typeof v === 'number') into[k] = (typeof into[k] === 'number' ? into[k] : 0) + v
    else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const sub = (typeof into[k] === 'object' && into[k] !== null ? into[k] : (into[k] = {})) as Record<string, unknown>
      sumInto(sub, v as Record<string, unknown>)
    } else if (!(k in into)) into[k] = v
  }
}

interface HistoryBody { intervalMs: number; samples: Array<{ t: number; values: Record<string, number> }> }

/** Series every worker holds a copy of (the shared location service): the largest, not the sum. */
const REPLICATED_SERIES = new Set(['registrations'])

/** Worker 0's samples, each with the other workers' nearest sample (within one period) added. */
function mergeHistory(parts: Part[]) {
  const byWorker = [...parts].sort((a, b) => a.worker - b.worker)
  const base = byWorker[0]?.body as HistoryBody | undefined
  if (base === undefined) return { status: 503, body: { error: 'no worker answered' } }
  const samples = base.samples.map((s) => ({ t: s.t, values: { ...s.values } }))
  for (const p of byWorker.slice(1)) {
    const other = (p.body as HistoryBody).samples
    let j = 0
    for (const s of samples) {
      while (j + 1 < other.length && Math.abs(other[j + 1]!.t - s.t) <= Math.abs(other[j]!.t - s.t)) j++
      const o = other[j]
      if (o === undefined || Math.abs(o.t - s.t) > base.intervalMs) continue
      for (const [k, v] of Object.entries(o.values)) {
        s.values[k] = REPLICATED_SERIES.has(k) ? Math.max(s.values[k] ?? 0, v) : (s.values[k] ?? 0) + v
      }
    }
  }
  return { status: 200, body: { ...base, samples } }
}

/** prom-client's aggregation of the workers' metrics (counters, gauges and histograms summed). */
function mergeMetrics(parts: Part[]) {
  const registry = AggregatorRegistry.aggregate(parts.map((p) => p.body as Parameters<typeof AggregatorRegistry.aggregate>[0][number]))
  return registry.metrics().then((text) => ({ status: 200, text, contentType: registry.contentType }))
}

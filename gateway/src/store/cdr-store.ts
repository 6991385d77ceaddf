/**
 * Call detail records (CDRs) in bun:sqlite: table `cdrs`, one row per call, answered or not
 * (docs/architecture.md, Layers: store/ 30). Written by `cdr/call-recorder.ts`, read by
 * `GET /api/cdrs` (http/cdr-plugin.ts) and its CSV export (cdr/cdr-csv.ts).
 *
 * - Database: its own file (`openCdrDatabase`, default `cdrs.sqlite` next to the bindings
 *   database, see `cdrDatabasePath`) with its own numbered migrations (`CDR_MIGRATIONS`, run by
 *   store/database.ts `migrate`): CDRs grow by the million and are pruned in bulk, registrations
 *   are small and hot; separate WAL files keep one's checkpoints and deletes out of the other's
 *   way, and an operator can copy or archive the CDR file alone. `CDR_SCHEMA` is the same DDL
 *   should the two ever share a file (append it to MIGRATIONS as a new version).
 * - Writes are batched (write-behind, as store/binding-store.ts): `write()` only queues; one
 *   transaction commits the queue every `flushIntervalMs` (200 ms), or on the next turn once
 *   `maxBatchRows` (500) are queued. The signalling path never waits on disk. A batch that fails
 *   to commit is retried once with the next flush, then dropped (`stats.dropped`, logged).
 * - Times are epoch milliseconds (UTC) in the table; durations are seconds with millisecond
 *   precision. `duration_s` is the answered time (Asterisk's billsec), 0 when not answered;
 *   `ring_s` the time from the INVITE to the answer or the final failure.
 * - Retention: rows whose start is older than `maxAgeDays` are deleted on a timer
 *   (`retentionIntervalMs`), at most `deleteChunkRows` per turn so a large purge never blocks
 *   the event loop for long.
 * - Reads: `selectCdrs` (filters, newest first, limit 1..1000, offset or keyset cursor),
 *   `countCdrs`, and `cdrPages` for streaming exports; as methods on CdrStore, and usable on a
 *   second, read-only connection (cdr/cdr-reader.ts runs them in a worker).
 */
import { Database, type Statement } from 'bun:sqlite'
import { dirname, join } from 'node:path'
import { logger } from '../base/log.ts'
import { RealScheduler, type Scheduler, type TimerHandle } from '../base/scheduler.ts'
import type { CallDirection, MediaPath } from '../sip/proxy/call-events.ts'
import { migrate, openDatabase, type Migration } from './database.ts'

const log = logger('store.cdrs')

/** Who ended the call: the caller (BYE, CANCEL), the callee (BYE, a failure response) or the gateway. */
export type EndedBy = 'caller' | 'callee' | 'gateway'

/** One call detail record, as written. */
export interface CdrRecord {
  /** Call-ID of the caller's INVITE. */
  callId: string
  /** The caller's From tag. */
  fromTag: string
  /** Epoch ms: the initial INVITE was routed. */
  start: number
  /** Epoch ms of the answer (first 2xx), or null. */
  answer: number | null
  /** Epoch ms: the call failed or ended. */
  end: number
  /** Answered seconds (end - answer), ms precision; 0 when not answered. */
  durationS: number
  /** Seconds from start to the answer or to the failure, ms precision. */
  ringS: number
  /** From URI as received. */
  caller: string
  /** The authenticated local user, or null. */
  callerUser: string | null
  /** Request-URI as received. */
  dialed: string
  /** The answering target's Request-URI, else the first target's; null when none was tried. */
  routed: string | null
  direction: CallDirection
  trunk: string | null
  /** Dial-plan rule, or null. */
  rule: string | null
  /** Final status of the INVITE sent upstream (200 when answered). */
  status: number
  /** Reason phrase of a failure, or how an answered call ended (`BYE`, `max duration`, ...). */
  reason: string
  endedBy: EndedBy
  /** Null when not answered. */
  mediaPath: MediaPath | null
  /** First codec of the answer's audio m-line, or null. */
  codec: string | null
}

/** A stored record: its row id added. */
export interface StoredCdr extends CdrRecord {
  id: number
}

/** Status filter: answered calls, failed ones, a class (`4xx`) or one status (`486`). */
export type CdrStatusFilter = 'answered' | 'failed' | `${1 | 2 | 3 | 4 | 5 | 6}xx` | number

/** Filters of `query` / `count`; every field optional, combined with AND. */
export interface CdrQuery {
  /** Epoch ms, inclusive: calls that started at or after. */
  from?: number
  /** Epoch ms, exclusive: calls that started before. */
  to?: number
  /** Substring (case-insensitive for ASCII) of the caller URI or the caller's user name. */
  caller?: string
  /** Substring of the dialed or the routed URI. */
  callee?: string
  direction?: CallDirection
  /** Exact trunk name. */
  trunk?: string
  status?: CdrStatusFilter
  /** Minimum answered seconds. */
  minDurationS?: number
  /** 1..1000, default 100 (clamped). */
  limit?: number
  /** Rows to skip (ignored with `cursor`). */
  offset?: number
  /** Keyset cursor from a previous page's `nextCursor`: rows after that one. */
  cursor?: string
}

/** A page of `query`. */
export interface CdrPage {
  cdrs: StoredCdr[]
  /** Pass as `cursor` to get the next page; null when this page was the last. */
  nextCursor: string | null
}

export interface CdrStoreOptions {
  /** Timers for batching and retention (default RealScheduler). */
  scheduler?: Scheduler
  /** Wall clock, epoch ms (retention); default Date.now. */
  wallClockMs?: () => number
  /** Commit the queue this long after its first write (default 200 ms). */
  flushIntervalMs?: number
  /** Commit on the next turn once this many rows are queued (default 500). */
  maxBatchRows?: number
  /** Rows queued beyond this (the disk is stuck) drop the oldest (default 100,000). */
  maxPendingRows?: number
  /** Delete rows that started more than this many days ago; 0 keeps everything (default 90). */
  maxAgeDays?: number
  /** How often retention runs (default 1 h; the first run 1 s after construction). */
  retentionIntervalMs?: number
  /** Rows deleted per retention turn (default 10,000). */
  deleteChunkRows?: number
}

/** Counters, for metrics. */
export interface CdrStoreStats {
  /** Rows committed. */
  written: number
  /** Rows queued, not yet committed. */
  pending: number
  /** Rows lost: a batch failed twice, or the queue overflowed. */
  dropped: number
  /** Batches that failed to commit. */
  failedCommits: number
  /** Rows deleted by retention. */
  expired: number
}

export const DEFAULT_LIMIT = 100
export const MAX_LIMIT = 1000
const DAY_MS = 86_400_000

/** The `cdrs` table and its indexes (one statement each). */
export const CDR_SCHEMA: readonly string[] = [
  `CREATE TABLE cdrs (
    id          INTEGER PRIMARY KEY,
    call_id     TEXT    NOT NULL,
    from_tag    TEXT    NOT NULL,
    start_ms    INTEGER NOT NULL,
    answer_ms   INTEGER,
    end_ms      INTEGER NOT NULL,
    duration_s  REAL    NOT NULL,
    ring_s      REAL    NOT NULL,
    caller      TEXT    NOT NULL,
    caller_user TEXT,
    dialed      TEXT    NOT NULL,
    routed      TEXT,
    direction   TEXT    NOT NULL,
    trunk       TEXT,
    rule        TEXT,
    status      INTEGER NOT NULL,
    reason      TEXT    NOT NULL,
    ended_by    TEXT    NOT NULL,
    media_path  TEXT,
    codec       TEXT
  )`,
  // Newest-first listing, time ranges and retention; the other filters narrow by a column then time.
  'CREATE INDEX cdrs_start ON cdrs (start_ms)',
  'CREATE INDEX cdrs_call_id ON cdrs (call_id)',
  'CREATE INDEX cdrs_caller_user ON cdrs (caller_user, start_ms)',
  'CREATE INDEX cdrs_trunk ON cdrs (trunk, start_ms)',
  'CREATE INDEX cdrs_status ON cdrs (status, start_ms)',
]

/** Schema history of the CDR database (see the file comment). */
export const CDR_MIGRATIONS: readonly Migration[] = [{ version: 1, name: 'cdrs', up: [...CDR_SCHEMA] }]

/** `cdrs.sqlite` in the directory of the bindings database; ":memory:" stays in memory. */
export function cdrDatabasePath(storePath: string): string {
  if (storePath === ':memory:' || storePath === '') return ':memory:'
  return join(dirname(storePath), 'cdrs.sqlite')
}

/**
 * Opens the CDR database at `path` (":memory:" for none): WAL, pragmas and CDR_MIGRATIONS,
 * as `openDatabase`. @throws Error when it cannot be opened or migrated
 */
export function openCdrDatabase(path: string): Database {
  return openDatabase(path, { migrations: CDR_MIGRATIONS })
}

/**
 * A second, read-only connection to the CDR database file at `path` (cdr/cdr-reader-worker.ts
 * reads through it while the gateway writes; WAL lets both go on).
 * @throws Error when the file does not exist or cannot be opened
 */
export function openCdrDatabaseReadOnly(path: string): Database {
  const db = new Database(path, { readonly: true, strict: true })
  db.run('PRAGMA busy_timeout = 5000')
  return db
}

/** Creates the `cdrs` table in a database opened elsewhere (tests). */
export function migrateCdrs(db: Database): number[] {
  return migrate(db, CDR_MIGRATIONS)
}

type Param = string | number

interface Pending {
  record: CdrRecord
  /** Already failed one commit. */
  retried: boolean
}

/** The table's columns, aliased to StoredCdr's fields. */
const COLUMNS = `id, call_id AS callId, from_tag AS fromTag, start_ms AS start, answer_ms AS answer, end_ms AS "end",
  duration_s AS durationS, ring_s AS ringS, caller, caller_user AS callerUser, dialed, routed, direction, trunk, rule,
  status, reason, ended_by AS endedBy, media_path AS mediaPath, codec`

/** Write-behind CDR store over a database holding the `cdrs` table. Never throws from `write`. */
export class CdrStore {
  private readonly db: Database
  private readonly scheduler: Scheduler
  private readonly wallClockMs: () => number
  private readonly flushIntervalMs: number
  private readonly maxBatchRows: number
  private readonly maxPendingRows: number
  private readonly maxAgeMs: number
  private readonly retentionIntervalMs: number
  private readonly deleteChunkRows: number
  private queue: Pending[] = []
  private flushTimer: TimerHandle | null = null
  private flushSoon = false
  private retentionTimer: TimerHandle | null = null
  private closed = false
  private readonly insertStmt: Statement
  private readonly purgeStmt: Statement
  private readonly commit: (rows: Pending[]) => void
  private readonly counters = { written: 0, dropped: 0, failedCommits: 0, expired: 0 }

  constructor(db: Database, options: CdrStoreOptions = {}) {
    this.db = db
    this.scheduler = options.scheduler ?? new RealScheduler()
    this.wallClockMs = options.wallClockMs ?? Date.now
    this.flushIntervalMs = options.flushIntervalMs ?? 200
    this.maxBatchRows = options.maxBatchRows ?? 500
    this.maxPendingRows = options.maxPendingRows ?? 100_000
    this.maxAgeMs = (options.maxAgeDays ?? 90) * DAY_MS
    this.retentionIntervalMs = options.retentionIntervalMs ?? 3_600_000
    this.deleteChunkRows = options.deleteChunkRows ?? 10_000
    this.insertStmt = db.prepare(`INSERT INTO cdrs (call_id, from_tag, start_ms, answer_ms, end_ms, duration_s, ring_s,
        caller, caller_user, dialed, routed, direction, trunk, rule, status, reason, ended_by, media_path, codec)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    this.purgeStmt = db.prepare('DELETE FROM cdrs WHERE id IN (SELECT id FROM cdrs WHERE start_ms < ? LIMIT ?)')
    this.commit = db.transaction((rows: Pending[]) => {
      for (const { record: r } of rows) {
        this.insertStmt.run(r.callId, r.fromTag, r.start, r.answer, r.end, r.durationS, r.ringS, r.caller,
          r.callerUser, r.dialed, r.routed, r.direction, r.trunk, r.rule, r.status, r.reason, r.endedBy,
          r.mediaPath, r.codec)
      }
    })
    if (this.maxAgeMs > 0) this.retentionTimer = this.scheduler.setTimer(1000, CdrStore.retentionTick, this)
  }

  /** Queues one record; it is committed with the next batch. After `close`, writes go straight to disk. */
  write(record: CdrRecord): void {
    this.queue.push({ record, retried: false })
    if (this.queue.length > this.maxPendingRows) {
      const over = this.queue.length - this.maxPendingRows
      this.queue.splice(0, over)
      this.counters.dropped += over
    }
    if (this.closed) {
      this.flush()
      return
    }
    if (this.queue.length >= this.maxBatchRows && !this.flushSoon) {
      if (this.flushTimer !== null) this.scheduler.clearTimer(this.flushTimer)
      this.flushSoon = true
      this.flushTimer = this.scheduler.setTimer(0, CdrStore.flushTick, this)
    } else if (this.flushTimer === null) {
      this.flushTimer = this.scheduler.setTimer(this.flushIntervalMs, CdrStore.flushTick, this)
    }
  }

  /** Commits every queued record now, in one transaction (shutdown, tests). Never throws. */
  flush(): void {
    if (this.flushTimer !== null) this.scheduler.clearTimer(this.flushTimer)
    this.flushTimer = null
    this.flushSoon = false
    if (this.queue.length === 0) return
    const rows = this.queue
    this.queue = []
    try {
      this.commit(rows)
      this.counters.written += rows.length
    } catch (error) {
      this.counters.failedCommits++
      const retry = rows.filter((p) => !p.retried)
      const dropped = rows.length - retry.length
      this.counters.dropped += dropped
      log.error('CDR batch commit failed', { rows: rows.length, dropped, retrying: retry.length, error: String(error) })
      if (retry.length > 0 && !this.closed) {
        for (const p of retry) p.retried = true
        this.queue = retry.concat(this.queue)
        this.flushTimer = this.scheduler.setTimer(this.flushIntervalMs, CdrStore.flushTick, this)
      } else {
        this.counters.dropped += retry.length
      }
    }
  }

  /**
   * Deletes up to `deleteChunkRows` rows that started before `now - maxAgeDays` (one statement).
   * @returns rows deleted; 0 when retention is off
   */
  purge(nowMs: number = this.wallClockMs()): number {
    if (this.maxAgeMs <= 0) return 0
    const n = this.purgeStmt.run(nowMs - this.maxAgeMs, this.deleteChunkRows).changes
    this.counters.expired += n
    return n
  }

  /** Matching rows, newest first: `selectCdrs` on this store's database. */
  query(q: CdrQuery = {}): CdrPage {
    return selectCdrs(this.db, q)
  }

  /** Number of rows matching the filters: `countCdrs` on this store's database. */
  count(q: CdrQuery = {}): number {
    return countCdrs(this.db, q)
  }

  /** Every matching row in pages: `cdrPages` over `query`. */
  pages(q: CdrQuery = {}, pageRows = MAX_LIMIT): Generator<StoredCdr[]> {
    return cdrPages((p) => this.query(p), q, pageRows)
  }

  /** Counters for metrics. */
  get stats(): CdrStoreStats {
    return { ...this.counters, pending: this.queue.length }
  }

  /**
   * Stops the timers and commits the queue; later writes are committed at once. The database
   * belongs to whoever opened it.
   */
  close(): void {
    if (this.retentionTimer !== null) this.scheduler.clearTimer(this.retentionTimer)
    this.retentionTimer = null
    this.closed = true
    this.flush()
  }

  private static flushTick(store: CdrStore): void {
    store.flushTimer = null
    store.flush()
  }

  private static retentionTick(store: CdrStore): void {
    store.retentionTimer = null
    if (store.closed) return
    let n = 0
    try {
      n = store.purge()
      if (n > 0) log.info('CDRs past retention deleted', { rows: n, maxAgeDays: store.maxAgeMs / DAY_MS })
    } catch (error) {
      log.error('CDR retention failed', { error: String(error) })
    }
    // A full chunk: more may be left, continue on the next turn.
    const next = n >= store.deleteChunkRows ? 0 : store.retentionIntervalMs
    store.retentionTimer = store.scheduler.setTimer(next, CdrStore.retentionTick, store)
  }
}

/**
 * Rows of `cdrs` matching `q`, newest first (start, then id, descending); `limit` clamped to
 * 1..1000 (default 100). Synchronous: a filter no index serves (caller / callee substrings
 * without a time range) scans the table, about 0.5 s per million rows, so the HTTP layer
 * reads through cdr/cdr-reader.ts (a worker) when the database is a file.
 * @throws Error on a malformed `cursor` (the HTTP layer validates it first)
 */
export function selectCdrs(db: Database, q: CdrQuery): CdrPage {
  const limit = clampLimit(q.limit)
  const { where, params } = buildWhere(q, true)
  const offset = q.cursor === undefined ? Math.max(0, Math.floor(q.offset ?? 0)) : 0
  const cdrs = db.query(`SELECT ${COLUMNS} FROM cdrs ${where} ORDER BY start_ms DESC, id DESC LIMIT ? OFFSET ?`)
    .all(...params, limit, offset) as StoredCdr[]
  const last = cdrs[cdrs.length - 1]
  return { cdrs, nextCursor: cdrs.length === limit && last !== undefined ? cursorOf(last) : null }
}

/** Number of rows of `cdrs` matching the filters of `q` (limit, offset and cursor ignored). */
export function countCdrs(db: Database, q: CdrQuery): number {
  const { where, params } = buildWhere(q, false)
  return (db.query(`SELECT COUNT(*) AS n FROM cdrs ${where}`).get(...params) as { n: number }).n
}

/**
 * Every row matching `q`, newest first, in pages of `pageRows` read through `query` (keyset
 * pagination: each page is one short query, so a consumer may pause between pages).
 * `q.limit` caps the total when set (not clamped to 1000 here); `q.offset` skips rows before
 * the first page.
 */
export function* cdrPages(query: (q: CdrQuery) => CdrPage, q: CdrQuery, pageRows = MAX_LIMIT): Generator<StoredCdr[]> {
  let remaining = q.limit ?? Infinity
  let page = query({ ...q, limit: Math.min(pageRows, remaining) })
  while (page.cdrs.length > 0) {
    yield page.cdrs
    remaining -= page.cdrs.length
    if (page.nextCursor === null || remaining <= 0) return
    page = query({ ...q, offset: undefined, cursor: page.nextCursor, limit: Math.min(pageRows, remaining) })
  }
}

/** The keyset cursor of a row: `<start_ms>.<id>`. */
export function cursorOf(cdr: StoredCdr): string {
  return `${cdr.start}.${cdr.id}`
}

/** Parses a cursor; null when malformed. */
export function parseCursor(cursor: string): { start: number; id: number } | null {
  const m = /^(\d{1,16})\.(\d{1,16})$/.exec(cursor)
  if (m === null) return null
  return { start: Number(m[1]), id: Number(m[2]) }
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIMIT
  return Math.min(MAX_LIMIT, Math.max(1, Math.floor(limit)))
}

/** `%x%` for LIKE with `\` as the escape character. */
function contains(s: string): string {
  return `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`
}

function buildWhere(q: CdrQuery, withCursor: boolean): { where: string; params: Param[] } {
  const clauses: string[] = []
  const params: Param[] = []
  if (q.from !== undefined) {
    clauses.push('start_ms >= ?')
    params.push(q.from)
  }
  if (q.to !== undefined) {
    clauses.push('start_ms < ?')
    params.push(q.to)
  }
  if (q.caller !== undefined && q.caller !== '') {
    clauses.push(`(caller LIKE ? ESCAPE '\\' OR caller_user LIKE ? ESCAPE '\\')`)
    params.push(contains(q.caller), contains(q.caller))
  }
  if (q.callee !== undefined && q.callee !== '') {
    clauses.push(`(dialed LIKE ? ESCAPE '\\' OR routed LIKE ? ESCAPE '\\')`)
    params.push(contains(q.callee), contains(q.callee))
  }
  if (q.direction !== undefined) {
    clauses.push('direction = ?')
    params.push(q.direction)
  }
  if (q.trunk !== undefined) {
    clauses.push('trunk = ?')
    params.push(q.trunk)
  }
  if (q.status !== undefined) {
    if (q.status === 'answered') clauses.push('answer_ms IS NOT NULL')
    else if (q.status === 'failed') clauses.push('answer_ms IS NULL')
    else if (typeof q.status === 'number') {
      clauses.push('status = ?')
      params.push(q.status)
    } else {
      const base = Number(q.status[0]) * 100
      clauses.push('status BETWEEN ? AND ?')
      params.push(base, base + 99)
    }
  }
  if (q.minDurationS !== undefined) {
    clauses.push('duration_s >= ?')
    params.push(q.minDurationS)
  }
  if (withCursor && q.cursor !== undefined) {
    const c = parseCursor(q.cursor)
    if (c === null) throw new Error(`malformed CDR cursor: ${q.cursor}`)
    clauses.push('(start_ms < ? OR (start_ms = ? AND id < ?))')
    params.push(c.start, c.start, c.id)
  }
  return { where: clauses.length === 0 ? '' : `WHERE ${clauses.join(' AND ')}`, params }
}

/**
 * Asynchronous reads of call detail records for the admin API (http/cdr-plugin.ts): a page,
 * a count, and every matching row page by page (the CSV export).
 *
 * `WorkerCdrReader` runs the queries in a worker (cdr-reader-worker.ts) on a read-only
 * connection of its own: a filter no index serves scans the table (measured: ~0.6 s for a
 * caller/callee substring over 1,000,000 records, and as much again for its count), and on the
 * gateway's thread that would hold up every SIP message and timer meanwhile. Queries queue in
 * the worker and run one at a time. An in-memory database cannot be shared with a worker:
 * `createCdrReader` reads it on the calling thread (`inlineCdrReader`), as tests do.
 */
import { cdrPages, type CdrPage, type CdrQuery, type StoredCdr } from '../store/cdr-store.ts'

/** What the admin API reads. */
export interface CdrReader {
  /** Matching rows, newest first (store/cdr-store.ts `selectCdrs`). Rejects on a malformed cursor. */
  query(q: CdrQuery): Promise<CdrPage>
  /** Number of matching rows (`countCdrs`). */
  count(q: CdrQuery): Promise<number>
  /** Every matching row in pages of `pageRows` (`cdrPages`; `q.limit` caps the total when set). */
  pages(q: CdrQuery, pageRows?: number): AsyncGenerator<StoredCdr[]>
  /** Stops the worker, if any; pending reads reject. */
  close(): void
}

/** Synchronous reads (CdrStore has them). */
export interface SyncCdrSource {
  query(q: CdrQuery): CdrPage
  count(q: CdrQuery): number
}

async function* asyncPages(query: (q: CdrQuery) => Promise<CdrPage>, q: CdrQuery, pageRows: number): AsyncGenerator<StoredCdr[]> {
  let remaining = q.limit ?? Infinity
  let page = await query({ ...q, limit: Math.min(pageRows, remaining) })
  while (page.cdrs.length > 0) {
    yield page.cdrs
    remaining -= page.cdrs.length
    if (page.nextCursor === null || remaining <= 0) return
    page = await query({ ...q, offset: undefined, cursor: page.nextCursor, limit: Math.min(pageRows, remaining) })
  }
}

/** Reads on the calling thread, through `source` (in-memory databases, tests). */
export function inlineCdrReader(source: SyncCdrSource): CdrReader {
  return {
    query: async (q) => source.query(q),
    count: async (q) => source.count(q),
    async *pages(q, pageRows = 1000) {
      yield* cdrPages((p) => source.query(p), q, pageRows)
    },
    close() {},
  }
}

interface Reply {
  id: number
  result?: CdrPage | number
  error?: string
}

/** Reads in a worker on a read-only connection to the CDR database file at `path`. */
export class WorkerCdrReader implements CdrReader {
  private readonly worker: Worker
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (v: CdrPage | number) => void; reject: (e: Error) => void }>()
  private closed = false

  /** Starts the worker; it does not keep the process alive. */
  constructor(path: string) {
    this.worker = new Worker(new URL('./cdr-reader-worker.ts', import.meta.url).href)
    this.worker.onmessage = (ev: MessageEvent) => {
      const reply = ev.data as Reply
      const w = this.waiting.get(reply.id)
      if (w === undefined) return
      this.waiting.delete(reply.id)
      if (reply.error !== undefined) w.reject(new Error(reply.error))
      else w.resolve(reply.result!)
    }
    this.worker.onerror = (ev: ErrorEvent) => this.failAll(`CDR reader worker failed: ${ev.message}`)
    // Bun's Worker has unref() (the DOM typing lacks it): an idle reader keeps no process alive.
    const bunWorker = this.worker as Worker & { unref?: () => void }
    bunWorker.unref?.()
    this.worker.postMessage({ op: 'open', path })
  }

  query(q: CdrQuery): Promise<CdrPage> {
    return this.ask('query', q) as Promise<CdrPage>
  }

  count(q: CdrQuery): Promise<number> {
    return this.ask('count', q) as Promise<number>
  }

  pages(q: CdrQuery, pageRows = 1000): AsyncGenerator<StoredCdr[]> {
    return asyncPages((p) => this.query(p), q, pageRows)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.worker.terminate()
    this.failAll('CDR reader closed')
  }

  private ask(op: 'query' | 'count', q: CdrQuery): Promise<CdrPage | number> {
    if (this.closed) return Promise.reject(new Error('CDR reader closed'))
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      this.worker.postMessage({ id, op, q })
    })
  }

  private failAll(message: string): void {
    for (const w of this.waiting.values()) w.reject(new Error(message))
    this.waiting.clear()
  }
}

/**
 * The reader for the CDR database at `path`: a worker for a file, the store itself on the
 * calling thread for ":memory:".
 */
export function createCdrReader(path: string, store: SyncCdrSource): CdrReader {
  return path === ':memory:' || path === '' ? inlineCdrReader(store) : new WorkerCdrReader(path)
}

/**
 * The worker behind cdr/cdr-reader.ts `WorkerCdrReader`: answers CDR queries on its own
 * read-only connection to the CDR database file, so a query that scans the table (a
 * substring filter over months of records) never stalls the gateway's event loop, where
 * SIP retransmission timers run. WAL mode lets it read while the gateway writes.
 *
 * Protocol (structured-clone messages, handled in order):
 *   in:  { op: 'open', path }                      first; opens the database read-only
 *        { id, op: 'query' | 'count', q: CdrQuery }
 *   out: { id, result: CdrPage | number } | { id, error: string }
 */
import { countCdrs, openCdrDatabaseReadOnly, selectCdrs, type CdrQuery } from '../store/cdr-store.ts'

declare const self: { onmessage: ((ev: MessageEvent) => void) | null; postMessage(message: unknown): void }

type Request = { op: 'open'; path: string } | { id: number; op: 'query' | 'count'; q: CdrQuery }

let db: ReturnType<typeof openCdrDatabaseReadOnly> | null = null
let openError = 'CDR database not opened'

self.onmessage = (ev: MessageEvent) => {
  const m = ev.data as Request
  if (m.op === 'open') {
    try {
      db = openCdrDatabaseReadOnly(m.path)
    } catch (error) {
      openError = `cannot open the CDR database ${m.path}: ${String(error)}`
    }
    return
  }
  try {
    if (db === null) throw new Error(openError)
    const result = m.op === 'query' ? selectCdrs(db, m.q) : countCdrs(db, m.q)
    self.postMessage({ id: m.id, result })
  } catch (error) {
    self.postMessage({ id: m.id, error: error instanceof Error ? error.message : String(error) })
  }
}

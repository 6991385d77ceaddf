/**
 * Persistence of location-service bindings in bun:sqlite (table `bindings`, migration 1 in
 * database.ts), written behind the in-memory LocationService.
 *
 * Writes are queued and committed together, once per event-loop turn, in one transaction
 * (`setImmediate` by default): at 10,000 REGISTER/s that is a few hundred small transactions a
 * second instead of 10,000, and with WAL + `synchronous = NORMAL` none of them waits for an
 * fsync. Within one batch, later writes to the same row replace earlier ones (a binding
 * refreshed twice in a turn is written once). Order between rows is kept: a `deleteByAor`
 * queued after an upsert of that AOR runs after it, an upsert queued after it runs after it.
 *
 * Durability: a REGISTER is answered before its batch commits (the in-memory location
 * service is what the proxy reads, and it is updated at once); a crash may lose the writes of
 * the last turn, which costs those UAs one re-registration. A failed commit is reported
 * through `onError` and its writes are dropped (the memory state stays authoritative).
 */
import type { Database, Statement } from 'bun:sqlite'
import { logger } from '../base/log.ts'
import { bindingKey, type Binding } from '../sip/registrar/binding.ts'

const log = logger('store.bindings')

type Op =
  | { kind: 'upsert'; binding: Binding; key: string }
  | { kind: 'delete'; aor: string; key: string }
  | { kind: 'deleteByAor'; aor: string }

export interface BindingStoreOptions {
  /** Schedules the flush of queued writes; default `setImmediate` (once per event-loop turn). */
  defer?: (fn: () => void) => void
  /** A batch failed to commit (its writes are dropped). Default: logs at error level. */
  onError?: (error: unknown, droppedWrites: number) => void
  /** Wall clock in unix seconds for `updated_at`; default Date.now()/1000. */
  unixSeconds?: () => number
}

interface Row {
  aor: string
  contact: string
  q: number
  expires_at: number
  call_id: string
  cseq: number
  instance_id: string | null
  reg_id: number | null
  flow_id: string | null
  transport: string
  source_address: string
  source_port: number
  user_agent: string | null
  path: string
  registered_at: number
}

const EMPTY_PATH = '[]'

/** Write-behind sqlite store of bindings, keyed by (aor, bindingKey(binding)). */
export class BindingStore {
  private readonly db: Database
  private readonly pending = new Map<string, Op>()
  private scheduled = false
  private readonly defer: (fn: () => void) => void
  private readonly onError: (error: unknown, droppedWrites: number) => void
  private readonly unixSeconds: () => number
  private readonly upsertStmt: Statement
  private readonly deleteStmt: Statement
  private readonly deleteAorStmt: Statement
  private readonly runBatch: (ops: Op[]) => void
  private readonly flushFn = (): void => this.flush()

  constructor(db: Database, options: BindingStoreOptions = {}) {
    this.db = db
    this.defer = options.defer ?? ((fn) => void setImmediate(fn))
    this.onError = options.onError ?? ((error, dropped) => {
      log.error('binding batch commit failed; writes dropped', { dropped, error: String(error) })
    })
    this.unixSeconds = options.unixSeconds ?? (() => Math.floor(Date.now() / 1000))
    this.upsertStmt = db.prepare(`INSERT INTO bindings (aor, binding_key, contact, q, expires_at, call_id, cseq,
        instance_id, reg_id, flow_id, transport, source_address, source_port, user_agent, path, registered_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (aor, binding_key) DO UPDATE SET contact = excluded.contact, q = excluded.q,
        expires_at = excluded.expires_at, call_id = excluded.call_id, cseq = excluded.cseq,
        instance_id = excluded.instance_id, reg_id = excluded.reg_id, flow_id = excluded.flow_id,
        transport = excluded.transport, source_address = excluded.source_address,
        source_port = excluded.source_port, user_agent = excluded.user_agent, path = excluded.path,
        registered_at = excluded.registered_at, updated_at = excluded.updated_at`)
    this.deleteStmt = db.prepare('DELETE FROM bindings WHERE aor = ? AND binding_key = ?')
    this.deleteAorStmt = db.prepare('DELETE FROM bindings WHERE aor = ?')
    this.runBatch = db.transaction((ops: Op[]) => {
      const now = this.unixSeconds()
      for (const op of ops) {
        if (op.kind === 'upsert') {
          const b = op.binding
          this.upsertStmt.run(b.aor, op.key, b.contact, b.q, b.expiresAt, b.callId, b.cseq,
            b.instanceId, b.regId, b.flowId, b.transport, b.sourceAddress, b.sourcePort, b.userAgent,
            b.path.length === 0 ? EMPTY_PATH : JSON.stringify(b.path), b.registeredAt, now)
        } else if (op.kind === 'delete') {
          this.deleteStmt.run(op.aor, op.key)
        } else {
          this.deleteAorStmt.run(op.aor)
        }
      }
    })
  }

  /** Queues an insert-or-replace of the binding's row (the object is read at flush time). */
  upsert(binding: Binding): void {
    const key = bindingKey(binding)
    this.queue(`${binding.aor}\u0000${key}`, { kind: 'upsert', binding, key })
  }

  /** Queues the removal of the binding's row. */
  delete(binding: Binding): void {
    const key = bindingKey(binding)
    this.queue(`${binding.aor}\u0000${key}`, { kind: 'delete', aor: binding.aor, key })
  }

  /** Queues the removal of every row of an AOR. */
  deleteByAor(aor: string): void {
    this.queue(`\u0001${aor}`, { kind: 'deleteByAor', aor })
  }

  /** Writes queued but not yet committed. */
  get pendingCount(): number {
    return this.pending.size
  }

  /**
   * Commits every queued write now, in one transaction. Called by the deferred flush; call it
   * directly before shutdown or in tests.
   */
  flush(): void {
    this.scheduled = false
    if (this.pending.size === 0) return
    const ops = [...this.pending.values()]
    this.pending.clear()
    try {
      this.runBatch(ops)
    } catch (error) {
      this.onError(error, ops.length)
    }
  }

  /** Every stored binding, expired ones included (LocationService.restore filters). */
  loadAll(): Binding[] {
    const rows = this.db.query(`SELECT aor, contact, q, expires_at, call_id, cseq, instance_id, reg_id, flow_id,
        transport, source_address, source_port, user_agent, path, registered_at FROM bindings`).all() as Row[]
    return rows.map(rowToBinding)
  }

  /** Flushes pending writes. The database itself belongs to whoever opened it. */
  close(): void {
    this.flush()
  }

  private queue(key: string, op: Op): void {
    // Delete-then-set moves the key to the end, so the batch keeps the order of last writes.
    this.pending.delete(key)
    this.pending.set(key, op)
    if (!this.scheduled) {
      this.scheduled = true
      this.defer(this.flushFn)
    }
  }
}

function rowToBinding(r: Row): Binding {
  let path: string[] = []
  if (r.path !== EMPTY_PATH) {
    try {
      const p = JSON.parse(r.path) as unknown
      if (Array.isArray(p)) path = p.filter((x): x is string => typeof x === 'string')
    } catch {
      path = []
    }
  }
  return {
    aor: r.aor,
    contact: r.contact,
    q: r.q,
    expiresAt: r.expires_at,
    callId: r.call_id,
    cseq: r.cseq,
    instanceId: r.instance_id,
    regId: r.reg_id,
    flowId: r.flow_id,
    transport: r.transport,
    sourceAddress: r.source_address,
    sourcePort: r.source_port,
    userAgent: r.user_agent,
    path,
    registeredAt: r.registered_at,
  }
}

/**
 * The master process's half of the bindings shared by workers (store/relayed-binding-store.ts
 * is the workers' half; docs/architecture.md §4b). The master holds the one table of rows
 * (the bindings as the workers wrote them, BindingRow objects, by AOR and binding key), applies each change
 * a worker sends with the same rules as the Redis store's scripts, relays what changed to the
 * other workers in arrival order, and is the single writer of the bun:sqlite bindings table,
 * so that bindings survive a restart of the whole gateway as they do in one process.
 *
 * - `u`: the row is written; `d`: removed only if it still holds the sender's row
 *   (compare-and-delete); `x`: removed only if it still lapses by the sender's expiry (a
 *   refresh through another worker wins); `a`: every row of the AOR.
 * - A worker that exits takes its connections with it: its rows over WS, WSS, TCP and TLS are
 *   removed (relayed as `d`); its UDP rows stay (the phones are still there, reached directly).
 * - Rows loaded from sqlite at start are offered to the workers as node `store`: their UDP
 *   contacts are reached directly, rows over connections of the previous run are dropped.
 */
import type { Database } from 'bun:sqlite'
import { logger } from '../base/log.ts'
import { bindingKey, type Binding } from '../sip/registrar/binding.ts'
import { BindingStore } from '../store/binding-store.ts'
import { bindingRow, decodeBindingRow, sameBindingRow, type BindingRow } from '../store/redis-binding-codec.ts'
import type { BindingOp, BindingsMessage, SnapshotMessage } from '../store/relayed-binding-store.ts'

const log = logger('cluster.bindings')

/** The node id rows restored from sqlite carry (no worker holds their flow). */
export const STORE_NODE = 'store'
/** The master's own view of rows: every binding is another node's. */
const MASTER_NODE = '\u0000master'
const CONNECTION_TRANSPORTS = new Set(['WS', 'WSS', 'TCP', 'TLS'])

interface Row {
  raw: BindingRow
  binding: Binding
}

/** Counters (plain numbers) for tests and logs. */
export interface BindingRelayStats {
  applied: number
  ignored: number
  relayed: number
}

export interface BindingRelayOptions {
  /** The bindings database (store/database.ts openDatabase), or null to keep rows in memory only. */
  db: Database | null
  /** Sends a message to worker `index` (false / throw: that worker is gone). */
  send(index: number, message: BindingsMessage | SnapshotMessage): void
}

/** The master's table of the workers' bindings; see the file comment. */
export class BindingRelay {
  readonly stats: BindingRelayStats = { applied: 0, ignored: 0, relayed: 0 }
  /** aor -> key -> row */
  private readonly rows = new Map<string, Map<string, Row>>()
  private readonly store: BindingStore | null
  /** Workers that receive relayed changes (started, not exited). */
  private readonly live = new Set<number>()

  constructor(private readonly options: BindingRelayOptions) {
    this.store = options.db === null ? null : new BindingStore(options.db)
    if (this.store === null) return
    let restored = 0
    let dropped = 0
    for (const b of this.store.loadAll()) {
      if (CONNECTION_TRANSPORTS.has(b.transport.toUpperCase())) {
        this.store.delete(b)
        dropped++
        continue
      }
      this.put(bindingRow(stripNode(b), STORE_NODE), false)
      restored++
    }
    this.store.flush()
    if (restored + dropped > 0) log.info('bindings restored', { restored, droppedWithTheirConnections: dropped })
  }

  /** Rows held. */
  get size(): number {
    let n = 0
    for (const m of this.rows.values()) n += m.size
    return n
  }

  /** Every row, for a starting worker's snapshot. */
  snapshot(): BindingRow[] {
    const out: BindingRow[] = []
    for (const m of this.rows.values()) for (const r of m.values()) out.push(r.raw)
    return out
  }

  /** Worker `index` started: it gets the snapshot, then every change relayed from now on. */
  attach(index: number): void {
    this.live.add(index)
    this.options.send(index, { t: 'snapshot', rows: this.snapshot() })
  }

  /**
   * Worker `index` (node id `nodeId`) exited: its rows over connections go (relayed to the
   * others as `d`); its UDP rows stay.
   */
  detach(index: number, nodeId: string): void {
    this.live.delete(index)
    const gone: BindingOp[] = []
    for (const [aor, m] of this.rows) {
      for (const [key, r] of m) {
        if (r.binding.node !== nodeId || !CONNECTION_TRANSPORTS.has(r.binding.transport.toUpperCase())) continue
        m.delete(key)
        this.store?.delete(r.binding)
        gone.push({ op: 'd', aor, key, b: r.raw })
      }
      if (m.size === 0) this.rows.delete(aor)
    }
    if (gone.length > 0) {
      log.info('bindings of an exited worker dropped with its connections', { worker: nodeId, count: gone.length })
      this.relay(-1, gone)
    }
  }

  /** A batch of changes from worker `from`: applied, and what changed relayed to the others. */
  receive(from: number, message: unknown): void {
    const ops = (message as { ops?: unknown } | null)?.ops
    if (!Array.isArray(ops)) return
    const applied: BindingOp[] = []
    for (const op of ops as BindingOp[]) {
      if (this.apply(op)) {
        applied.push(op)
        this.stats.applied++
      } else {
        this.stats.ignored++
      }
    }
    if (applied.length > 0) this.relay(from, applied)
  }

  /** Writes the pending sqlite batch. */
  close(): void {
    this.store?.flush()
  }

  private apply(op: BindingOp): boolean {
    if (typeof op !== 'object' || op === null || typeof op.aor !== 'string') return false
    switch (op.op) {
      case 'u':
        return typeof op.b === 'object' && op.b !== null && this.put(op.b, true)
      case 'd': {
        const r = this.rows.get(op.aor)?.get(op.key)
        if (r === undefined || typeof op.b !== 'object' || op.b === null || !sameBindingRow(r.raw, op.b)) return false
        this.remove(op.aor, op.key, r)
        return true
      }
      case 'x': {
        const r = this.rows.get(op.aor)?.get(op.key)
        if (r === undefined || r.binding.expiresAt > op.at) return false
        this.remove(op.aor, op.key, r)
        return true
      }
      case 'a': {
        const m = this.rows.get(op.aor)
        if (m === undefined) return false
        this.rows.delete(op.aor)
        this.store?.deleteByAor(op.aor)
        return true
      }
      default:
        return false
    }
  }

  private put(raw: BindingRow, persist: boolean): boolean {
    const binding = decodeBindingRow(raw, MASTER_NODE)
    if (binding === null) return false
    let m = this.rows.get(binding.aor)
    if (m === undefined) {
      m = new Map()
      this.rows.set(binding.aor, m)
    }
    // The key depends on the instance id / reg-id or the contact, never on the node.
    const key = bindingKey(binding)
    m.set(key, { raw, binding })
    if (persist) this.store?.upsert(stripNode(binding))
    return true
  }

  private remove(aor: string, key: string, r: Row): void {
    const m = this.rows.get(aor)!
    m.delete(key)
    if (m.size === 0) this.rows.delete(aor)
    this.store?.delete(stripNode(r.binding))
  }

  private relay(from: number, ops: BindingOp[]): void {
    const message: BindingsMessage = { t: 'bindings', ops }
    for (const index of this.live) {
      if (index === from) continue
      try {
        this.options.send(index, message)
        this.stats.relayed++
      } catch {
        // That worker is exiting; it gets a snapshot when it starts again.
      }
    }
  }
}

/** The binding as the sqlite table keeps it: the holding worker's flow id, no node fields. */
function stripNode(b: Binding): Binding {
  if (b.node === undefined) return b
  const flowId = b.flowId !== null && b.flowId.startsWith(`${b.node}/`) ? b.flowId.slice(b.node.length + 1) : b.flowId
  const copy: Binding = { ...b, flowId }
  delete copy.node
  delete copy.nodeRoute
  return copy
}

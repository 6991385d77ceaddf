/**
 * The location service shared by the worker processes of one machine through their master
 * process (issue 14, "workers on one machine"; docs/architecture.md §4b). It is the Redis
 * store's design with the master in Redis's place: a worker is a node whose peers are on
 * loopback, and the messages are those of the `pb:bindings` channel.
 *
 * - Every worker keeps the whole location service in memory (LocationService: lookups stay
 *   synchronous). Its own changes are sent to the master in batches, at most every
 *   BATCH_MS (`{ t: 'bindings', ops }` over the IPC channel Bun.spawn opens: one message per
 *   REGISTER cost the master and the other workers a wake-up each, 60 µs and more per
 *   registration at 2,000/s, measured here); the master keeps the one
 *   table (and the one bun:sqlite writer), applies them and relays what changed to the other
 *   workers, which apply them with putShared / dropShared.
 * - A row is the binding as the Redis store writes it, as an object (redis-binding-codec.ts
 *   BindingRow: `node` is the worker's id, `nodeRoute` the Route through the worker's private
 *   UDP port to the binding's connection; objects, not JSON text, so that the IPC channel's
 *   JSON encodes each row once), so a call arriving at any worker reaches a WebSocket or TCP user
 *   through the worker that holds the connection (RFC 3327 Path semantics); UDP users are
 *   reached directly.
 * - Removal is compare-and-delete (`d` carries the row as this worker knew it) and expiry is
 *   conditional (`x`: only if the row still lapses by then), so a binding expires once,
 *   whichever worker sweeps first, and a late removal never deletes a newer registration made
 *   through another worker.
 * - Start: the master sends `{ t: 'snapshot', rows }` (every binding it holds); `ready`
 *   resolves once they are in the location service (LocationService.restore: this worker's own
 *   rows of a previous life go through the restart rules, i.e. its connections are gone).
 */
import { logger } from '../base/log.ts'
import { bindingKey, type Binding } from '../sip/registrar/binding.ts'
import type { BindingPersistence } from '../sip/registrar/location-service.ts'
import { bindingRow, decodeBindingRow, type BindingRow } from './redis-binding-codec.ts'
import type { SharedLocation } from './redis-binding-store.ts'

const log = logger('store.relayed')

/**
 * How long a worker gathers binding changes before sending them to the master, ms: the other
 * workers see a registration this much later at most (a call to a user in that window finds
 * it only on the worker it registered through).
 */
export const BATCH_MS = 10

/**
 * One change of the shared table. `b`: the row (the new row for `u`; the row as the sender
 * knew it for `d`, compared with sameBindingRow); `at`: the binding's expiry as the sweeping
 * worker knew it, for `x` (unix seconds).
 */
export type BindingOp =
  | { op: 'u'; aor: string; key: string; b: BindingRow }
  | { op: 'd'; aor: string; key: string; b: BindingRow }
  | { op: 'x'; aor: string; key: string; at: number }
  | { op: 'a'; aor: string }

/** Worker -> master and master -> worker: a batch of changes (from the master: applied ones). */
export interface BindingsMessage {
  t: 'bindings'
  ops: BindingOp[]
}

/** Master -> a starting worker: every row of the table. */
export interface SnapshotMessage {
  t: 'snapshot'
  rows: BindingRow[]
}

export interface RelayedBindingStoreOptions {
  /** This worker's node id (`w0`, ...; `<nodeId>-w0` when nodes share Redis). */
  nodeId: string
  /** Sends one message to the master (process.send). */
  send(message: BindingsMessage): void
  /** Defers the batch's send; default: BATCH_MS later. */
  defer?: (fn: () => void) => void
}

/** Counters (plain numbers) for tests and metrics. */
export interface RelayedBindingStoreStats {
  /** Changes sent to the master. */
  sent: number
  /** Changes of other workers applied to the cache. */
  received: number
}

/**
 * BindingPersistence through the master process; see the file comment. Build it, hand it to
 * the LocationService as its store, `start(location)`, then feed every message from the
 * master to `receive`.
 */
export class RelayedBindingStore implements BindingPersistence {
  readonly nodeId: string
  readonly stats: RelayedBindingStoreStats = { sent: 0, received: 0 }
  /** Resolves once the master's snapshot is in the location service. */
  readonly ready: Promise<void>
  private resolveReady!: () => void
  private location: SharedLocation | null = null
  private batch: BindingOp[] = []
  private scheduled = false
  private closed = false
  /** The row each binding object was written (or received) as: the compare-and-delete value. */
  private readonly raw = new WeakMap<Binding, BindingRow>()
  private readonly defer: (fn: () => void) => void
  private readonly flushNow = (): void => this.flush()
  /** Messages from the master that arrived before `start`. */
  private early: unknown[] = []
  private selfUri: () => string | null = () => null

  constructor(private readonly options: RelayedBindingStoreOptions) {
    this.nodeId = options.nodeId
    this.defer = options.defer ?? ((fn) => { setTimeout(fn, BATCH_MS) })
    this.ready = new Promise((resolve) => { this.resolveReady = resolve })
  }

  /**
   * Attaches the location service that snapshots and relayed changes are applied to (messages
   * received before are applied now, in order). `selfUri`: this worker's SIP URI for the other
   * workers (`sip:127.0.0.1:5070`), null before it listens.
   */
  start(location: SharedLocation, selfUri?: () => string | null): void {
    if (this.location !== null) throw new Error('RelayedBindingStore.start called twice')
    this.location = location
    if (selfUri !== undefined) this.selfUri = selfUri
    const early = this.early
    this.early = []
    for (const m of early) this.receive(m)
  }

  /** A message from the master (snapshot or relayed changes); anything else is ignored. */
  receive(message: unknown): void {
    const location = this.location
    if (location === null) {
      this.early.push(message)
      return
    }
    if (typeof message !== 'object' || message === null) return
    const m = message as { t?: unknown; rows?: unknown; ops?: unknown }
    if (m.t === 'snapshot' && Array.isArray(m.rows)) {
      const bindings: Binding[] = []
      for (const row of m.rows) {
        const b = this.decodeRaw(row)
        if (b !== null) bindings.push(b)
      }
      const r = location.restore(bindings)
      log.info('bindings loaded from the master', { rows: m.rows.length, ...r })
      this.resolveReady()
    } else if (m.t === 'bindings' && Array.isArray(m.ops)) {
      for (const op of m.ops as BindingOp[]) this.apply(location, op)
    }
  }

  private apply(location: SharedLocation, op: BindingOp): void {
    if (op.op === 'u') {
      const b = this.decodeRaw(op.b)
      if (b === null) return
      location.putShared(b)
    } else if (op.op === 'd' || op.op === 'x') {
      location.dropShared(op.aor, op.key)
    } else if (op.op === 'a') {
      location.dropSharedAor(op.aor)
    } else {
      return
    }
    this.stats.received++
  }

  // --- BindingPersistence (called by the LocationService) ---

  upsert(binding: Binding): void {
    const raw = bindingRow(binding, this.nodeId, this.selfUri())
    this.raw.set(binding, raw)
    this.queue({ op: 'u', aor: binding.aor, key: bindingKey(binding), b: raw })
  }

  delete(binding: Binding): void {
    const raw = this.raw.get(binding) ?? bindingRow(binding, this.nodeId, this.selfUri())
    this.queue({ op: 'd', aor: binding.aor, key: bindingKey(binding), b: raw })
  }

  expire(binding: Binding): void {
    this.queue({ op: 'x', aor: binding.aor, key: bindingKey(binding), at: binding.expiresAt })
  }

  deleteByAor(aor: string): void {
    this.queue({ op: 'a', aor })
  }

  /** Nothing synchronous to load: the snapshot comes from the master (`receive`). */
  loadAll(): Binding[] {
    return []
  }

  /** Sends the batch of this turn now. */
  flush(): void {
    this.scheduled = false
    if (this.batch.length === 0 || this.closed) return
    const ops = this.batch
    this.batch = []
    this.stats.sent += ops.length
    try {
      this.options.send({ t: 'bindings', ops })
    } catch (error) {
      // The master is gone (it is stopping us): the changes die with this process.
      log.warn('bindings not sent to the master', { changes: ops.length, error: String(error) })
    }
  }

  /** Sends what is queued and stops sending. */
  close(): void {
    this.flush()
    this.closed = true
    this.resolveReady()
  }

  private queue(op: BindingOp): void {
    if (this.closed) return
    this.batch.push(op)
    if (!this.scheduled) {
      this.scheduled = true
      this.defer(this.flushNow)
    }
  }

  /** decodeBindingRow, remembering the row as the binding's compare-and-delete value. */
  private decodeRaw(row: unknown): Binding | null {
    const b = decodeBindingRow(row, this.nodeId)
    if (b !== null) this.raw.set(b, row as BindingRow)
    return b
  }
}

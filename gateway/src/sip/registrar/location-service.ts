/**
 * The location service (RFC 3261 §10.1): AOR -> bindings, read by the proxy, written by the
 * registrar, with expiry and flow-failure removal.
 *
 * > SIP does not mandate a particular mechanism for implementing the location service.  The
 * > only requirement is that a registrar for some domain MUST be able to read and write data
 * > to the location service, and a proxy or a redirect server for that domain MUST be capable
 * > of reading that same data.
 *
 * Shape: an in-memory `Map<aor, Binding[]>` (each list kept sorted by q, highest first) that
 * answers `lookup` without I/O, plus write-through to a `BindingPersistence` (the sqlite
 * BindingStore) so that bindings survive a restart. Bindings are immutable values: an update
 * replaces the object, so a list the proxy got from `lookup` never changes under it, and a
 * queued store write always sees the state it was queued with.
 *
 * Expiry: bindings are grouped by the unix second they lapse; a min-heap of those seconds arms
 * ONE scheduler timer for the earliest group. `lookup` also filters lapsed bindings, so a late
 * sweep never returns stale contacts.
 *
 * Sharing between nodes (store.redis, store/redis-binding-store.ts): every node keeps this
 * cache of all bindings; its own changes go to the shared store as above, those of other nodes
 * come back through `putShared` / `dropShared` / `syncShared` (no write-back). A binding of
 * another node carries its `node`, and its flow id is prefixed with it, so it never matches a
 * flow of this node. Lapsed bindings go through `BindingPersistence.expire`, which removes
 * them from the shared store once, whichever node sweeps first.
 *
 * Sharing between worker processes (not done yet; how the design allows it): the sqlite file
 * is the shared truth — WAL mode lets every worker read while one writes, and `busy_timeout`
 * serializes writers. Each worker keeps this class as a cache of the rows: (1) REGISTER for an
 * AOR is routed to one worker (hash of the AOR, so §10.3's "processed in the order received"
 * and the Call-ID/CSeq checks stay single-threaded per AOR), which writes through as today;
 * (2) before a lookup, a worker compares `PRAGMA data_version` (changes whenever another
 * connection commits) with the last value it saw and, if it moved, reloads rows with
 * `updated_at` newer than its high-water mark, plus a tombstone table for deletes; (3) a binding
 * with a `flowId` names a connection that only its owning worker can write to, so flow ids get a
 * worker prefix ("w2:ws-17") and the proxy hands such targets to that worker. Nothing in this
 * class assumes it is the only writer except the per-AOR ordering of (1).
 */
import type { Scheduler, TimerHandle } from '../../base/scheduler.ts'
import { bindingKey, type Binding } from './binding.ts'
import { parseUri } from '../syntax/uri.ts'

/**
 * What the location service needs from persistent storage (BindingStore implements it; the
 * shared store/redis-binding-store.ts too).
 */
export interface BindingPersistence {
  upsert(binding: Binding): void
  delete(binding: Binding): void
  deleteByAor(aor: string): void
  loadAll(): Binding[]
  flush(): void
  /**
   * The binding lapsed (sweep or restore). A store shared by several nodes removes it only if
   * nobody refreshed it meanwhile, so a binding expires once whichever node sees it; absent:
   * `delete` is called instead.
   */
  expire?(binding: Binding): void
}

export interface LocationServiceOptions {
  scheduler: Scheduler
  /** Write-through storage; null/absent keeps bindings in memory only. */
  store?: BindingPersistence | null
}

/** Result of LocationService.restore(). */
export interface RestoreResult {
  restored: number
  /** Dropped because lapsed. */
  expired: number
  /** Dropped because their connection-oriented flow (WS/WSS/TCP/TLS) did not survive the restart. */
  flowGone: number
}

/** AOR -> bindings with one expiry timer; see the file comment. */
export class LocationService {
  private readonly scheduler: Scheduler
  private readonly store: BindingPersistence | null
  private readonly byAor = new Map<string, Binding[]>()
  private readonly byFlow = new Map<string, Set<Binding>>()
  /** unix second -> bindings lapsing then */
  private readonly buckets = new Map<number, Set<Binding>>()
  /** min-heap of bucket seconds (each present at most once) */
  private readonly heap: number[] = []
  private timer: TimerHandle | null = null
  private armedFor = Infinity
  private count = 0

  constructor(options: LocationServiceOptions) {
    this.scheduler = options.scheduler
    this.store = options.store ?? null
  }

  /** Number of bindings held (lapsed ones count until the sweep removes them). */
  get size(): number {
    return this.count
  }

  /**
   * Loads the stored bindings after a start. Drops (and deletes from the store) lapsed ones and
   * those tied to a connection that did not survive the restart: RFC 5626 §7 says "If a proxy
   * or registrar receives information from the network that indicates that no future messages
   * will be delivered on a specific flow, then the proxy MUST invalidate all the bindings in
   * the target set that use that flow". That is every WS/WSS binding (a browser cannot be
   * dialled) and every TCP/TLS binding registered with RFC 5626 outbound (reg-id) or with a
   * Contact that names no IP address (`.invalid`). UDP bindings are kept, and so are plain
   * TCP/TLS bindings whose Contact is an IP address (RFC 3261 §18.1.1: the gateway opens a
   * new connection to it); their flow id is cleared.
   * Call once, before serving; bindings already in memory are kept (a loaded binding with the
   * row of one in memory is skipped).
   *
   * `from`: the bindings to restore instead of `store.loadAll()` (a shared store loads
   * asynchronously and passes them here). Bindings held by another node (`node` set) are
   * inserted as they are: their flow lives on that node, which did not restart.
   */
  restore(from?: readonly Binding[]): RestoreResult {
    const result: RestoreResult = { restored: 0, expired: 0, flowGone: 0 }
    if (this.store === null) return result
    const now = this.scheduler.unixSeconds()
    for (const b of from ?? this.store.loadAll()) {
      if (this.current(b.aor).some((x) => sameRow(x, b))) continue
      if (b.expiresAt <= now) {
        result.expired++
        this.expireInStore(b)
      } else if (b.node !== undefined) {
        this.insert(b)
        result.restored++
      } else if (!survivesRestart(b)) {
        result.flowGone++
        this.store.delete(b)
      } else {
        if (b.flowId !== null) {
          b.flowId = null
          this.store.upsert(b)
        }
        this.insert(b)
        result.restored++
      }
    }
    this.arm()
    return result
  }

  /**
   * The unexpired bindings of an AOR (key from aorKey), highest q first; among equal q the most
   * recently written first. A fresh array each call (empty when none).
   */
  lookup(aor: string): Binding[] {
    const list = this.byAor.get(aor)
    if (list === undefined) return []
    const now = this.scheduler.unixSeconds()
    const out: Binding[] = []
    for (let i = 0; i < list.length; i++) if (list[i]!.expiresAt > now) out.push(list[i]!)
    return out
  }

  /**
   * The AOR's binding list as stored (sorted like lookup; may still hold lapsed bindings until
   * the sweep). Read-only view for the registrar's matching; do not mutate.
   */
  current(aor: string): readonly Binding[] {
    return this.byAor.get(aor) ?? EMPTY
  }

  /** Every unexpired binding of every AOR (for the admin API and metrics). */
  all(): Binding[] {
    const now = this.scheduler.unixSeconds()
    const out: Binding[] = []
    for (const list of this.byAor.values()) for (const b of list) if (b.expiresAt > now) out.push(b)
    return out
  }

  /**
   * Applies one REGISTER's changes to one AOR atomically (RFC 3261 §10.3 step 7: "The binding
   * updates MUST be committed [...] if and only if all binding updates and additions succeed"):
   * `removals` are binding objects taken from `current(aor)` (removed, or replaced by an
   * addition), `additions` are new binding objects. Writes through to the store.
   */
  apply(aor: string, removals: readonly Binding[], additions: readonly Binding[]): void {
    for (const b of removals) {
      // A replaced binding keeps its store row when the addition has the same row key: the
      // upsert below overwrites it, so the delete would be wasted work.
      if (this.remove(b) && this.store !== null && !additions.some((a) => sameRow(a, b))) this.store.delete(b)
    }
    for (const b of additions) {
      if (b.aor !== aor) throw new Error(`binding for ${b.aor} applied to ${aor}`)
      this.insert(b)
      if (this.store !== null) this.store.upsert(b)
    }
    if (additions.length > 0) this.arm()
  }

  /**
   * A connection-oriented flow closed (RFC 5626 §7, quoted at restore): removes every binding
   * that routes over it, whatever its AOR.
   * @returns the removed bindings
   */
  removeFlow(flowId: string): Binding[] {
    const set = this.byFlow.get(flowId)
    if (set === undefined) return []
    const removed = [...set]
    for (const b of removed) {
      this.remove(b)
      if (this.store !== null) this.store.delete(b)
    }
    return removed
  }

  /**
   * Removes every binding lapsed at `now` (unix seconds; default the scheduler's clock) and
   * re-arms the timer for the next group. The timer calls this; tests may too.
   * @returns the removed bindings
   */
  expire(now: number = this.scheduler.unixSeconds()): Binding[] {
    const removed: Binding[] = []
    while (this.heap.length > 0 && this.heap[0]! <= now) {
      const second = heapPop(this.heap)
      const bucket = this.buckets.get(second)
      if (bucket === undefined) continue
      this.buckets.delete(second)
      for (const b of bucket) {
        // Bucket already detached: remove() below must not touch it again.
        this.detach(b, false)
        removed.push(b)
        this.expireInStore(b)
      }
    }
    this.arm()
    return removed
  }

  // --- Shared store (several nodes on one store, store.redis): changes another node made,
  // --- applied to this cache without writing them back.

  /**
   * A binding another node wrote (its `node` set): replaces the binding of the same row
   * (bindingKey) of its AOR, local or not; a lapsed one only removes that row.
   */
  putShared(b: Binding): void {
    const old = this.current(b.aor).find((x) => sameRow(x, b))
    if (old !== undefined) this.remove(old)
    if (b.expiresAt > this.scheduler.unixSeconds()) {
      this.insert(b)
      this.arm()
    }
  }

  /**
   * Another node removed (unregistered, expired, flow closed) the row `key` (bindingKey) of
   * `aor`. @returns the binding dropped here, or null when none had that row
   */
  dropShared(aor: string, key: string): Binding | null {
    const old = this.current(aor).find((x) => bindingKey(x) === key)
    if (old === undefined) return null
    this.remove(old)
    return old
  }

  /** Another node removed every binding of `aor` (REGISTER with `Contact: *`). @returns how many were dropped here */
  dropSharedAor(aor: string): number {
    const all = this.current(aor).slice()
    for (const b of all) this.remove(b)
    return all.length
  }

  /**
   * Resynchronization with the shared store (after it was unreachable): `remote` is every
   * binding of other nodes it holds now. Each is put (putShared); bindings of other nodes held
   * here but absent from `remote` are dropped. Bindings of this node are left alone.
   * @returns how many were put and dropped
   */
  syncShared(remote: readonly Binding[]): { put: number; dropped: number } {
    const keep = new Set<string>()
    for (const b of remote) {
      keep.add(`${b.aor}\u0000${bindingKey(b)}`)
      this.putShared(b)
    }
    let dropped = 0
    for (const list of [...this.byAor.values()]) {
      for (const b of list.slice()) {
        if (b.node !== undefined && !keep.has(`${b.aor}\u0000${bindingKey(b)}`)) {
          this.remove(b)
          dropped++
        }
      }
    }
    return { put: remote.length, dropped }
  }

  /** Cancels the expiry timer and commits pending store writes. */
  close(): void {
    if (this.timer !== null) this.scheduler.clearTimer(this.timer)
    this.timer = null
    this.armedFor = Infinity
    this.store?.flush()
  }

  private expireInStore(b: Binding): void {
    if (this.store === null) return
    if (this.store.expire !== undefined) this.store.expire(b)
    else this.store.delete(b)
  }

  private insert(b: Binding): void {
    let list = this.byAor.get(b.aor)
    if (list === undefined) {
      list = []
      this.byAor.set(b.aor, list)
    }
    // Keep the list sorted by q descending; a new binding goes before others of equal q.
    let i = 0
    while (i < list.length && list[i]!.q > b.q) i++
    list.splice(i, 0, b)
    this.count++
    if (b.flowId !== null) {
      let set = this.byFlow.get(b.flowId)
      if (set === undefined) {
        set = new Set()
        this.byFlow.set(b.flowId, set)
      }
      set.add(b)
    }
    let bucket = this.buckets.get(b.expiresAt)
    if (bucket === undefined) {
      bucket = new Set()
      this.buckets.set(b.expiresAt, bucket)
      heapPush(this.heap, b.expiresAt)
    }
    bucket.add(b)
  }

  /** Removes a binding object if present. */
  private remove(b: Binding): boolean {
    return this.detach(b, true)
  }

  private detach(b: Binding, fromBucket: boolean): boolean {
    const list = this.byAor.get(b.aor)
    if (list === undefined) return false
    const i = list.indexOf(b)
    if (i < 0) return false
    list.splice(i, 1)
    if (list.length === 0) this.byAor.delete(b.aor)
    this.count--
    if (b.flowId !== null) {
      const set = this.byFlow.get(b.flowId)
      if (set !== undefined) {
        set.delete(b)
        if (set.size === 0) this.byFlow.delete(b.flowId)
      }
    }
    if (fromBucket) {
      const bucket = this.buckets.get(b.expiresAt)
      if (bucket !== undefined) {
        bucket.delete(b)
        // An empty bucket stays in the heap; expire() skips it when its second comes.
        if (bucket.size === 0) this.buckets.delete(b.expiresAt)
      }
    }
    return true
  }

  /** Arms the single expiry timer for the earliest non-empty bucket. */
  private arm(): void {
    // Drop heap entries whose bucket emptied (refreshed or removed bindings).
    while (this.heap.length > 0 && !this.buckets.has(this.heap[0]!)) heapPop(this.heap)
    const next = this.heap.length > 0 ? this.heap[0]! : Infinity
    if (next === this.armedFor && this.timer !== null) return
    if (this.timer !== null) {
      this.scheduler.clearTimer(this.timer)
      this.timer = null
    }
    this.armedFor = next
    if (next === Infinity) return
    const delayMs = Math.max(0, (next - this.scheduler.unixSeconds()) * 1000)
    this.timer = this.scheduler.setTimer(delayMs, this.onTimer)
  }

  private readonly onTimer = (): void => {
    this.timer = null
    this.armedFor = Infinity
    const now = this.scheduler.unixSeconds()
    if (this.heap.length > 0 && this.heap[0]! > now) {
      // Woke a little early (wall clock vs timer clock): look again shortly.
      this.armedFor = this.heap[0]!
      this.timer = this.scheduler.setTimer(100, this.onTimer)
      return
    }
    this.expire(now)
  }
}

const EMPTY: readonly Binding[] = Object.freeze([])

/** True when two bindings of one AOR have the same bindingKey (same store row). */
function sameRow(a: Binding, b: Binding): boolean {
  if (a.aor !== b.aor || a.instanceId !== b.instanceId) return false
  return a.instanceId !== null ? a.regId === b.regId : a.contact === b.contact
}

function heapPush(h: number[], v: number): void {
  h.push(v)
  let i = h.length - 1
  while (i > 0) {
    const p = (i - 1) >> 1
    if (h[p]! <= v) break
    h[i] = h[p]!
    i = p
  }
  h[i] = v
}

function heapPop(h: number[]): number {
  const top = h[0]!
  const last = h.pop()!
  if (h.length > 0) {
    let i = 0
    const n = h.length
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && h[r]! < h[l]! ? r : l
      if (h[c]! >= last) break
      h[i] = h[c]!
      i = c
    }
    h[i] = last
  }
  return top
}

/** See LocationService.restore: can this stored binding be reached after a restart? */
function survivesRestart(b: Binding): boolean {
  const t = b.transport.toUpperCase()
  if (t === 'UDP') return b.flowId === null
  if (t !== 'TCP' && t !== 'TLS') return false
  if (b.regId !== null) return false
  const host = parseUri(b.contact)?.host ?? ''
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith('[')
}

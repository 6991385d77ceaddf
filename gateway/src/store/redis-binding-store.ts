/**
 * The location service shared by several gateway nodes on one Redis (issue 14, "nodes on many
 * machines"; RFC 3261 §10.1: "a registrar [...] MUST be able to read and write data to the
 * location service, and a proxy [...] MUST be capable of reading that same data").
 *
 * Every node keeps the whole location service in memory (LocationService: lookups stay
 * synchronous, no I/O on the request path) and this store keeps the nodes' caches equal:
 *
 * - Data: a hash per AOR `<prefix>aor:<aor>`, one field per binding (bindingKey) holding the
 *   binding as JSON with the id of the node that holds its flow (`node`); a sorted set
 *   `<prefix>exp` of `<aor>\n<key>` scored by expiresAt (unix seconds). Debian 12's Redis 7.0
 *   has no per-field TTL (HPEXPIRE is 7.4), hence the sorted set.
 * - Every change is one Lua script (atomic) that writes the hash and the sorted set and
 *   PUBLISHes it on `<prefix>bindings`; the other nodes apply it to their cache at once
 *   (LocationService.putShared / dropShared). A node ignores its own messages.
 * - Removal is compare-and-delete: the row goes only if it still holds the JSON this node
 *   knows, so an unregister or a closed flow never removes a newer registration another node
 *   wrote. Expiry removes the row only if its score is still due (`ZSCORE <= now`): the first
 *   node whose sweep gets there wins (one `x` message), a refreshed binding is never expired.
 * - Start: connect, subscribe, sweep lapsed rows, load every hash (SCAN + HGETALL) and hand
 *   them to LocationService.restore: this node's own rows of a previous run go through the
 *   usual restart rules (its WebSocket bindings are gone), other nodes' rows are kept.
 * - Degraded: when Redis goes away, registrations keep working on the local cache; the outage
 *   is logged once, removals are journaled (by row), and the connection is retried with
 *   backoff (200 ms doubling to 5 s). On reconnection the node resynchronizes: journaled
 *   removals, then every local binding (written unless Redis holds a row that lapses later),
 *   a sweep, and a full reload of the other nodes' bindings (LocationService.syncShared).
 *
 * A binding of another node keeps its flow id prefixed with that node (`nodeB/ws-3`), so it
 * never matches a flow here; reaching it through its node (RFC 3327 Path) is the pipeline's job.
 * Scripts touch keys they compute (the sweep): single Redis, not Redis Cluster.
 *
 * Bun 1.4.5's RedisClient is used with `autoReconnect: false` and `enableOfflineQueue: false`:
 * its own reconnection does not subscribe again (a subscriber silently stops hearing the
 * channel), and an offline queue would grow without bound during an outage; so a lost
 * connection makes commands fail at once and this class reconnects and resubscribes itself.
 * Two connections: commands, and the subscriber.
 */
import { RedisClient } from 'bun'
import { logger } from '../base/log.ts'
import { bindingKey, type Binding } from '../sip/registrar/binding.ts'
import type { BindingPersistence, RestoreResult } from '../sip/registrar/location-service.ts'
import { decodeBinding, encodeBinding } from './redis-binding-codec.ts'
import { DELETE, DELETE_AOR, EXPIRE, SCRIPTS, SWEEP, SWEEP_BATCH, UPSERT } from './redis-binding-scripts.ts'

const log = logger('store.redis')

/** Connecting, subscribing and the resynchronization must finish within this, ms. */
const SYNC_TIMEOUT_MS = 30_000

/** What this store needs from the location service (LocationService implements it). */
export interface SharedLocation {
  restore(from: readonly Binding[]): RestoreResult
  putShared(b: Binding): void
  dropShared(aor: string, key: string): Binding | null
  dropSharedAor(aor: string): number
  syncShared(remote: readonly Binding[]): { put: number; dropped: number }
  current(aor: string): readonly Binding[]
  all(): Binding[]
}

export interface RedisBindingStoreOptions {
  /** redis:// URL (Bun's RedisClient syntax). */
  url: string
  /** This node's id: unique among the nodes, stable across restarts. */
  nodeId: string
  /** Key and channel prefix; default `pb:`. */
  prefix?: string
  /** Wall clock in unix seconds (must match the location service's); default Date.now()/1000. */
  unixSeconds?: () => number
  /** This node's SIP URI for other nodes (`sip:192.0.2.5:5060`), read when a binding is written; null: none yet. */
  selfUri?: () => string | null
  /** Reconnection backoff, ms: first delay, doubling up to max. Defaults 200 and 5000. */
  retryMinMs?: number
  retryMaxMs?: number
}

/** Counters (plain numbers) for tests and metrics. */
export interface RedisBindingStoreStats {
  /** Changes this node wrote to Redis (scripts that changed something). */
  written: number
  /** Bindings whose expiry this node carried out in Redis (won the race). */
  expired: number
  /** Changes of other nodes applied to the cache. */
  received: number
  /** Completed (re)synchronizations, the first load included. */
  syncs: number
  /** Times the connection was lost or could not be made. */
  outages: number
}

export type RedisStoreState = 'idle' | 'connecting' | 'syncing' | 'up' | 'down' | 'closed'

/** A change published on the channel. `b` is the binding's JSON exactly as stored. */
interface Message {
  op: 'u' | 'd' | 'x' | 'a'
  n: string
  aor: string
  key?: string
  b?: string
}

type Journaled =
  | { kind: 'delete'; binding: Binding; raw: string }
  | { kind: 'expire'; binding: Binding }
  | { kind: 'deleteByAor'; aor: string }

/**
 * BindingPersistence over Redis, shared by several nodes; see the file comment. Build it, hand
 * it to the LocationService as its store, then `start(location)` (asynchronous: `ready`
 * resolves after the first load). `loadAll()` returns nothing: the load is asynchronous.
 */
export class RedisBindingStore implements BindingPersistence {
  readonly nodeId: string
  readonly stats: RedisBindingStoreStats = { written: 0, expired: 0, received: 0, syncs: 0, outages: 0 }
  /** Resolves after the first successful load from Redis (never rejects). */
  readonly ready: Promise<void>
  private resolveReady!: () => void
  private readonly url: string
  private readonly prefix: string
  private readonly channel: string
  private readonly expKey: string
  private readonly unixSeconds: () => number
  private readonly retryMinMs: number
  private readonly retryMaxMs: number
  private location: SharedLocation | null = null
  private cmd: RedisClient | null = null
  private sub: RedisClient | null = null
  private stateValue: RedisStoreState = 'idle'
  /** Bumped per connection attempt: callbacks of older clients are ignored. */
  private generation = 0
  private attempt = 0
  private retryTimer: ReturnType<typeof setTimeout> | null = null
  private firstSyncDone = false
  /** The JSON each binding object was stored (or received) as: the compare-and-delete value. */
  private readonly raw = new WeakMap<Binding, string>()
  /** Removals made while Redis was unreachable, by row; replayed on reconnection. */
  private readonly journal = new Map<string, Journaled>()
  private readonly selfUri: () => string | null
  private readonly inFlight = new Set<Promise<unknown>>()
  /**
   * Messages heard while a (re)synchronization loads its snapshot: replayed in order after it,
   * so a change published during the load is neither lost nor undone by the snapshot.
   */
  private buffered: string[] | null = null
  /** Script text -> SHA1 once loaded on the current connection (EVALSHA sends 40 bytes). */
  private readonly shas = new Map<string, string>()

  constructor(options: RedisBindingStoreOptions) {
    this.url = options.url
    this.nodeId = options.nodeId
    this.prefix = options.prefix ?? 'pb:'
    this.channel = `${this.prefix}bindings`
    this.expKey = `${this.prefix}exp`
    this.unixSeconds = options.unixSeconds ?? (() => Math.floor(Date.now() / 1000))
    this.selfUri = options.selfUri ?? (() => null)
    this.retryMinMs = options.retryMinMs ?? 200
    this.retryMaxMs = options.retryMaxMs ?? 5000
    this.ready = new Promise((resolve) => { this.resolveReady = resolve })
  }

  /** Connection state: `up` once synchronized; `down` while retrying. */
  get state(): RedisStoreState {
    return this.stateValue
  }

  /** Removals waiting for Redis to come back. */
  get journaled(): number {
    return this.journal.size
  }

  /**
   * Connects and loads the shared bindings into `location` (restore), then keeps it in step.
   * Returns at once; a failure is logged and retried. Call once.
   */
  start(location: SharedLocation): void {
    if (this.location !== null) throw new Error('RedisBindingStore.start called twice')
    this.location = location
    void this.connect()
  }

  // --- BindingPersistence (called by the LocationService) ---

  /** Writes the binding's row and tells the other nodes (unless Redis is unreachable: resync). */
  upsert(binding: Binding): void {
    const raw = this.encodeRaw(binding)
    this.raw.set(binding, raw)
    if (!this.connected()) return
    this.run(this.upsertArgs(binding, raw, 'force'), () => this.stats.written++)
  }

  /** Removes the binding's row if it still holds this binding (compare-and-delete). */
  delete(binding: Binding): void {
    const raw = this.raw.get(binding) ?? this.encodeRaw(binding)
    const op: Journaled = { kind: 'delete', binding, raw }
    if (!this.connected()) return this.keep(op)
    this.run(this.journaledArgs(op), () => this.stats.written++, op)
  }

  /** Removes the binding's row if it is still due (nobody refreshed it): once across nodes. */
  expire(binding: Binding): void {
    const op: Journaled = { kind: 'expire', binding }
    if (!this.connected()) return this.keep(op)
    this.run(this.journaledArgs(op), () => { this.stats.written++; this.stats.expired++ }, op)
  }

  /** Removes every row of an AOR. */
  deleteByAor(aor: string): void {
    const op: Journaled = { kind: 'deleteByAor', aor }
    if (!this.connected()) return this.keep(op)
    this.run(this.journaledArgs(op), () => this.stats.written++, op)
  }

  /** Nothing synchronous to load: `start` loads asynchronously. */
  loadAll(): Binding[] {
    return []
  }

  /** Writes are sent as they come (Bun pipelines the commands of one turn): nothing queued. */
  flush(): void {}

  /** Waits (at most `graceMs`) for writes in flight, then disconnects. */
  async close(graceMs = 1000): Promise<void> {
    if (this.stateValue === 'closed') return
    if (this.inFlight.size > 0) await Promise.race([Promise.allSettled([...this.inFlight]), Bun.sleep(graceMs)])
    this.stateValue = 'closed'
    this.generation++
    if (this.retryTimer !== null) clearTimeout(this.retryTimer)
    this.retryTimer = null
    this.dropClients()
    this.resolveReady()
  }

  // --- connection, synchronization ---

  private connected(): boolean {
    return (this.stateValue === 'up' || this.stateValue === 'syncing') && this.cmd !== null
  }

  private async connect(): Promise<void> {
    if (this.stateValue === 'closed') return
    const generation = ++this.generation
    this.stateValue = 'connecting'
    this.dropClients()
    const options = { autoReconnect: false, enableOfflineQueue: false, connectionTimeout: 2000 }
    const cmd = new RedisClient(this.url, options)
    const sub = new RedisClient(this.url, options)
    this.cmd = cmd
    this.sub = sub
    const lost = (error: unknown) => {
      if (generation === this.generation) this.lost(error)
    }
    cmd.onclose = lost
    sub.onclose = lost
    // A server that accepts but never answers (paused, stuck) must not leave us 'syncing'.
    const watchdog = setTimeout(() => lost(new Error(`no synchronization within ${SYNC_TIMEOUT_MS} ms`)), SYNC_TIMEOUT_MS)
    watchdog.unref?.()
    try {
      await cmd.connect()
      await sub.connect()
      this.buffered = []
      await sub.subscribe(this.channel, (message: string) => {
        if (generation !== this.generation) return
        if (this.buffered !== null) this.buffered.push(message)
        else this.onMessage(message)
      })
      this.shas.clear()
      for (const script of SCRIPTS) {
        this.shas.set(script, String(await cmd.send('SCRIPT', ['LOAD', script])))
      }
      if (generation !== this.generation) return
      this.stateValue = 'syncing'
      await this.resync()
      if (generation !== this.generation) return
      if (this.attempt > 0) log.info('redis reachable again; bindings resynchronized', { url: redactUrl(this.url), node: this.nodeId })
      this.attempt = 0
      this.stateValue = 'up'
      this.stats.syncs++
      this.resolveReady()
    } catch (error) {
      if (generation === this.generation) this.lost(error)
    } finally {
      clearTimeout(watchdog)
    }
  }

  /** The connection failed or was lost: log (once per outage) and retry with backoff. */
  private lost(error: unknown): void {
    if (this.stateValue === 'closed' || this.stateValue === 'down') return
    this.generation++
    this.stateValue = 'down'
    this.stats.outages++
    this.dropClients()
    if (this.attempt === 0) {
      log.warn('redis unreachable: bindings kept on this node only, retrying', {
        url: redactUrl(this.url), node: this.nodeId, error: String(error),
      })
    }
    const delay = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** Math.min(this.attempt, 16))
    this.attempt++
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null
      void this.connect()
    }, delay)
    // Retrying alone does not keep a process alive (the gateway's listeners do).
    this.retryTimer.unref?.()
  }

  private dropClients(): void {
    for (const c of [this.cmd, this.sub]) {
      if (c === null) continue
      c.onclose = null
      try {
        c.close()
      } catch {
        // already closed
      }
    }
    this.cmd = null
    this.sub = null
  }

  /**
   * After (re)connecting: journaled removals, this node's bindings (unless Redis holds a row
   * lapsing later), a sweep of lapsed rows, then the load of every row.
   */
  private async resync(): Promise<void> {
    const cmd = this.cmd!
    const location = this.location!
    // Journaled removals leave the journal only once Redis took them (a failure retries them).
    const journal = [...this.journal]
    await Promise.all(journal.map(([, op]) => this.eval(cmd, this.journaledArgs(op))))
    for (const [id, op] of journal) if (this.journal.get(id) === op) this.journal.delete(id)
    const mine = location.all().filter((b) => b.node === undefined)
    await Promise.all(mine.map((b) => {
      const raw = this.encodeRaw(b)
      this.raw.set(b, raw)
      return this.eval(cmd, this.upsertArgs(b, raw, 'newer'))
    }))
    while (Number(await this.eval(cmd, [SWEEP, '1', this.expKey, String(this.unixSeconds()), `${this.prefix}aor:`, this.channel, this.nodeId])) >= SWEEP_BATCH) {
      // more lapsed rows: sweep again
    }
    const loaded = await this.loadFrom(cmd)
    if (!this.firstSyncDone) {
      const result = location.restore(loaded)
      this.firstSyncDone = true
      log.info('bindings loaded from redis', { node: this.nodeId, ...result })
    } else {
      const r = location.syncShared(loaded.filter((b) => b.node !== undefined))
      log.info('bindings resynchronized from redis', { node: this.nodeId, ...r })
    }
    const heard = this.buffered ?? []
    this.buffered = null
    for (const message of heard) this.onMessage(message)
  }

  /** Every row of every AOR hash (SCAN + HGETALL), decoded. */
  private async loadFrom(cmd: RedisClient): Promise<Binding[]> {
    const out: Binding[] = []
    let cursor = '0'
    do {
      const [next, keys] = await cmd.send('SCAN', [cursor, 'MATCH', `${this.prefix}aor:*`, 'COUNT', '1000']) as [string, string[]]
      cursor = next
      const hashes = await Promise.all(keys.map((k) => cmd.hgetall(k) as Promise<Record<string, string> | null>))
      for (const h of hashes) {
        if (h === null) continue
        for (const field in h) {
          const b = this.decodeRaw(h[field]!)
          if (b !== null) out.push(b)
        }
      }
    } while (cursor !== '0')
    return out
  }

  private onMessage(text: string): void {
    const location = this.location
    if (location === null) return
    let m: Message
    try {
      m = JSON.parse(text) as Message
    } catch {
      return
    }
    if (m.n === this.nodeId || typeof m.aor !== 'string') return
    if (m.op === 'u' && typeof m.b === 'string') {
      const b = this.decodeRaw(m.b)
      if (b === null) return
      location.putShared(b)
    } else if ((m.op === 'd' || m.op === 'x') && typeof m.key === 'string') {
      location.dropShared(m.aor, m.key)
    } else if (m.op === 'a') {
      location.dropSharedAor(m.aor)
    } else {
      return
    }
    this.stats.received++
  }

  // --- commands ---

  private run(args: string[], applied: () => void, journalOnFailure?: Journaled): void {
    const cmd = this.cmd
    if (cmd === null) {
      if (journalOnFailure !== undefined) this.keep(journalOnFailure)
      return
    }
    const p = this.eval(cmd, args).then(
      (r) => { if (Number(r) > 0) applied() },
      (error: unknown) => {
        // Lost with the connection: removals wait for the resync; upserts are rewritten by it.
        if (journalOnFailure !== undefined) this.keep(journalOnFailure)
        if (this.stateValue === 'up') log.warn('redis write failed', { error: String(error) })
      },
    )
    this.inFlight.add(p)
    void p.finally(() => this.inFlight.delete(p))
  }

  /** EVALSHA of a loaded script (`args[0]` its text), EVAL when Redis lost it (SCRIPT FLUSH). */
  private eval(cmd: RedisClient, args: string[]): Promise<unknown> {
    const sha = this.shas.get(args[0]!)
    if (sha === undefined) return cmd.send('EVAL', args)
    return cmd.send('EVALSHA', [sha, ...args.slice(1)]).catch((error: unknown) => {
      if (!String(error).includes('NOSCRIPT')) throw error
      return cmd.send('EVAL', args)
    })
  }

  private keep(op: Journaled): void {
    const id = op.kind === 'deleteByAor' ? `\u0001${op.aor}` : this.member(op.binding)
    this.journal.set(`${op.kind}\u0000${id}`, op)
  }

  private upsertArgs(b: Binding, raw: string, mode: 'force' | 'newer'): string[] {
    const key = bindingKey(b)
    const message = JSON.stringify({ op: 'u', n: this.nodeId, aor: b.aor, key, b: raw } satisfies Message)
    return [UPSERT, '2', this.hashKey(b.aor), this.expKey, key, raw, String(b.expiresAt), this.member(b), this.channel, message, mode]
  }

  private journaledArgs(op: Journaled): string[] {
    if (op.kind === 'deleteByAor') {
      const message = JSON.stringify({ op: 'a', n: this.nodeId, aor: op.aor } satisfies Message)
      return [DELETE_AOR, '2', this.hashKey(op.aor), this.expKey, op.aor, this.channel, message]
    }
    const b = op.binding
    const key = bindingKey(b)
    if (op.kind === 'delete') {
      const message = JSON.stringify({ op: 'd', n: this.nodeId, aor: b.aor, key } satisfies Message)
      return [DELETE, '2', this.hashKey(b.aor), this.expKey, key, op.raw, this.member(b), this.channel, message]
    }
    const message = JSON.stringify({ op: 'x', n: this.nodeId, aor: b.aor, key } satisfies Message)
    return [EXPIRE, '2', this.hashKey(b.aor), this.expKey, key, this.member(b), String(this.unixSeconds()), this.channel, message]
  }

  private hashKey(aor: string): string {
    return `${this.prefix}aor:${aor}`
  }

  private member(b: Binding): string {
    return `${b.aor}\n${bindingKey(b)}`
  }

  private encodeRaw(b: Binding): string {
    return encodeBinding(b, this.nodeId, this.selfUri())
  }

  /** decodeBinding, remembering the stored text as the binding's compare-and-delete value. */
  private decodeRaw(raw: string): Binding | null {
    const b = decodeBinding(raw, this.nodeId)
    if (b !== null) this.raw.set(b, raw)
    return b
  }
}

/** The URL without its password, for logs. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')
}

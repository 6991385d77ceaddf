/**
 * The master process of a gateway running on every core (docs/architecture.md §4b): it binds
 * no SIP socket itself. It resolves the ports (a port of 0 becomes a free one, so that every
 * worker binds the same), starts `count` worker processes (gateway/src/worker.ts) with an IPC
 * channel, relays the bindings between them (cluster/binding-relay.ts, the single bun:sqlite
 * writer) unless store.redis shares them, asks every worker to reload on SIGHUP, and restarts a worker that dies
 * (after 0.5 s, doubling up to 30 s while it keeps dying within 10 s of its start). The other
 * workers keep their calls meanwhile; the dead worker's connections are gone, and with them
 * its bindings over connections; its UDP bindings stay.
 */
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { logger } from '../base/log.ts'
import type { GatewayConfig } from '../config/schema.ts'
import { openDatabase } from '../store/database.ts'
import { BindingRelay } from './binding-relay.ts'
import type { ReadyMessage, WorkerAssignment } from './worker-assignment.ts'

const log = logger('cluster')

const WORKER_SCRIPT = join(import.meta.dir, '..', 'worker.ts')
const RESTART_MIN_MS = 500
const RESTART_MAX_MS = 30_000
/** A worker that lived this long before dying is restarted after the minimum delay again. */
const STABLE_MS = 10_000

/** The ports every worker binds (concrete). */
export interface ClusterPorts {
  udp: number
  tcp: number
  tls: number | null
  http: number
  stun: number | null
  /** Worker i's private UDP port is privateUdp[i]. */
  privateUdp: number[]
  /** Worker i's private HTTP port on 127.0.0.1 (admin fan-out) is privateHttp[i]. */
  privateHttp: number[]
}

/** Counters for tests and logs. */
export interface WorkerPoolStats {
  /** Worker processes started, restarts included. */
  started: number
  /** Workers that exited without being asked to and were restarted. */
  restarted: number
}

export interface WorkerPoolOptions {
  config: GatewayConfig
  /** The configuration folder (workers load it), null for the embedded defaults. */
  configDir: string | null
  /** Worker processes (>= 2). */
  count: number
}

interface Slot {
  index: number
  proc: Subprocess | null
  startedAt: number
  delayMs: number
  ready: boolean
  restartTimer: ReturnType<typeof setTimeout> | null
}

/** `workers.count` resolved: `auto` is the number of cores. */
export function workerCount(config: GatewayConfig): number {
  const c = config.workers.count
  return c === 'auto' ? Math.max(1, navigator.hardwareConcurrency) : c
}

/** Worker processes sharing the gateway's listeners; see the file comment. */
export class WorkerPool {
  readonly stats: WorkerPoolStats = { started: 0, restarted: 0 }
  private readonly slots: Slot[] = []
  private relay: BindingRelay | null = null
  private ports: ClusterPorts | null = null
  private stopping = false
  private readyWaiters: Array<() => void> = []

  constructor(private readonly options: WorkerPoolOptions) {}

  /** The worker processes' pids (null while one restarts), by index. */
  get pids(): Array<number | null> {
    return this.slots.map((s) => s.proc?.pid ?? null)
  }

  /**
   * Resolves the ports, opens the bindings table and starts every worker; resolves once all
   * listen. @throws Error when a worker exits before it is ready the first time (a port in use,
   * a bad configuration), after stopping the others.
   */
  async start(): Promise<ClusterPorts> {
    const { config, count } = this.options
    const ports = await resolvePorts(config, count)
    this.ports = ports
    if (config.store.redis === undefined) {
      this.relay = new BindingRelay({
        db: openDatabase(config.store.path),
        send: (index, message) => { this.slots[index]?.proc?.send(message) },
      })
    }
    for (let i = 0; i < count; i++) {
      this.slots.push({ index: i, proc: null, startedAt: 0, delayMs: RESTART_MIN_MS, ready: false, restartTimer: null })
      this.spawn(this.slots[i]!)
    }
    const failed = new Promise<never>((_, reject) => { this.failFirstStart = reject })
    await Promise.race([this.allReady(), failed])
    this.failFirstStart = null
    return ports
  }

  /**
   * Asks every worker to reload the configuration folder (`{ t: 'reload', id }` over IPC, as a
   * SIGHUP to a single process); resolves once every running worker answered this request (at
   * most 5 s), with whether all applied it and the settings that need a restart. Reloads
   * overlapping in time are told apart by their id.
   */
  reload(): Promise<{ ok: boolean; needsRestart: string[] }> {
    const id = ++this.reloadId
    const running = this.slots.filter((s) => s.proc !== null)
    const answers: Array<{ ok: boolean; needsRestart: string[] }> = []
    return new Promise((resolve) => {
      const done = () => {
        this.reloadWaiters.delete(id)
        clearTimeout(timer)
        resolve({ ok: answers.length === running.length && answers.every((a) => a.ok), needsRestart: [...new Set(answers.flatMap((a) => a.needsRestart))] })
      }
      const timer = setTimeout(done, 5000)
      this.reloadWaiters.set(id, (a) => {
        answers.push(a)
        if (answers.length >= running.length) done()
      })
      for (const s of running) s.proc!.send({ t: 'reload', id })
    })
  }

  private reloadId = 0
  private readonly reloadWaiters = new Map<number, (answer: { ok: boolean; needsRestart: string[] }) => void>()

  /**
   * SIGTERM to every worker (each drains its calls being set up, as a single process does),
   * then waits for them; one still running after `graceMs` + 5 s is killed.
   */
  async shutdown(graceMs: number): Promise<void> {
    this.stopping = true
    for (const s of this.slots) {
      if (s.restartTimer !== null) clearTimeout(s.restartTimer)
      s.proc?.kill('SIGTERM')
    }
    const exited = Promise.all(this.slots.map((s) => s.proc?.exited ?? Promise.resolve(0)))
    const timeout = Bun.sleep(graceMs + 5000).then(() => 'timeout' as const)
    if (await Promise.race([exited, timeout]) === 'timeout') {
      for (const s of this.slots) s.proc?.kill('SIGKILL')
      await exited
    }
    this.relay?.close()
  }

  private failFirstStart: ((e: Error) => void) | null = null

  private allReady(): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.slots.every((s) => s.ready)) resolve()
        else this.readyWaiters.push(check)
      }
      check()
    })
  }

  private spawn(slot: Slot): void {
    const ports = this.ports!
    const assignment: WorkerAssignment = {
      index: slot.index, count: this.options.count, configDir: this.options.configDir,
      ports: { udp: ports.udp, tcp: ports.tcp, tls: ports.tls, http: ports.http, stun: ports.stun },
      privateUdpPort: ports.privateUdp[slot.index]!,
      peerPorts: [ports.udp, ...ports.privateUdp],
      httpPorts: ports.privateHttp,
    }
    slot.ready = false
    slot.startedAt = Date.now()
    const proc = Bun.spawn([process.execPath, WORKER_SCRIPT], {
      env: { ...process.env, PATCHBAY_WORKER: JSON.stringify(assignment) },
      stdin: 'ignore', stdout: 'inherit', stderr: 'inherit',
      serialization: 'json',
      ipc: (message: unknown) => this.onMessage(slot, message),
    })
    slot.proc = proc
    this.stats.started++
    void proc.exited.then((code) => this.onExit(slot, proc, code))
  }

  private onMessage(slot: Slot, message: unknown): void {
    const t = (message as { t?: unknown; relay?: unknown } | null)?.t
    if ((message as { relay?: unknown }).relay === true) {
      // For every other worker (WorkerChannel.relay: bans).
      for (const other of this.slots) if (other !== slot && other.ready) other.proc?.send(message)
    } else if (t === 'bindings') this.relay?.receive(slot.index, message)
    else if (t === 'hello') this.relay?.attach(slot.index)
    else if (t === 'reloaded') {
      const m = message as { id?: unknown; ok?: unknown; needsRestart?: unknown }
      this.reloadWaiters.get(Number(m.id))?.({ ok: m.ok === true, needsRestart: Array.isArray(m.needsRestart) ? m.needsRestart.map(String) : [] })
    }
    else if (t === 'ready') {
      slot.ready = true
      log.info('worker listening', { worker: slot.index, pid: slot.proc?.pid, privateUdpPort: (message as ReadyMessage).privateUdpPort })
      const waiters = this.readyWaiters
      this.readyWaiters = []
      for (const w of waiters) w()
    }
  }

  private onExit(slot: Slot, proc: Subprocess, code: number | null): void {
    if (slot.proc !== proc) return
    slot.proc = null
    this.relay?.detach(slot.index, `w${slot.index}`)
    if (this.stopping) return
    const signal = proc.signalCode
    if (!slot.ready && this.failFirstStart !== null) {
      this.failFirstStart(new Error(`worker ${slot.index} exited before listening (code ${code}${signal ? `, ${signal}` : ''})`))
      void this.shutdown(0)
      return
    }
    const lived = Date.now() - slot.startedAt
    slot.delayMs = lived >= STABLE_MS ? RESTART_MIN_MS : Math.min(RESTART_MAX_MS, slot.delayMs * 2)
    const delay = lived >= STABLE_MS ? RESTART_MIN_MS : slot.delayMs
    log.warn('worker exited; restarting it', { worker: slot.index, code, signal, restartInMs: delay })
    this.stats.restarted++
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null
      if (!this.stopping) this.spawn(slot)
    }, delay)
  }
}

/**
 * Free ports, each held bound until `release`, so that no two picks are the same port (a
 * released port may be handed out again at once).
 */
class PortPicker {
  private readonly held: Array<() => void> = []

  async pick(host: string, kind: 'udp' | 'tcp'): Promise<number> {
    if (kind === 'udp') {
      const s = await Bun.udpSocket({ hostname: host, port: 0 })
      this.held.push(() => s.close())
      return s.port
    }
    const l = Bun.listen({ hostname: host, port: 0, socket: { data() {} } })
    this.held.push(() => l.stop(true))
    return l.port
  }

  release(): void {
    for (const r of this.held.splice(0)) r()
  }
}

/**
 * Every listener's port: as configured, a free one for 0. Private UDP ports: udpPortBase + i,
 * else sip.udpPort + 10 + i, else (sip.udpPort 0) free ones. Private HTTP ports: free ones.
 */
export async function resolvePorts(config: GatewayConfig, count: number): Promise<ClusterPorts> {
  const sipHost = config.sip.host
  const picker = new PortPicker()
  try {
    const udp = config.sip.udpPort || await picker.pick(sipHost, 'udp')
    const tcp = config.sip.tcpPort || await picker.pick(sipHost, 'tcp')
    const tls = config.sip.tlsPort === undefined || !config.sip.tls ? null : config.sip.tlsPort || await picker.pick(sipHost, 'tcp')
    const http = config.http.port || await picker.pick(config.http.host, 'tcp')
    const stun = config.ice.stun.enabled ? config.ice.stun.port || await picker.pick(config.ice.stun.host ?? sipHost, 'udp') : null
    const base = config.workers.udpPortBase ?? (config.sip.udpPort === 0 ? null : config.sip.udpPort + 10)
    const privateUdp: number[] = []
    const privateHttp: number[] = []
    for (let i = 0; i < count; i++) {
      privateUdp.push(base !== null ? base + i : await picker.pick(sipHost, 'udp'))
      privateHttp.push(await picker.pick('127.0.0.1', 'tcp'))
    }
    return { udp, tcp, tls, http, stun, privateUdp, privateHttp }
  } finally {
    picker.release()
  }
}

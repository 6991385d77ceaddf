/**
 * One worker process of a gateway running on every core (docs/architecture.md §4b), started by
 * the master (cluster/worker-pool.ts) as `bun gateway/src/cluster/worker.ts` with its
 * assignment in the environment (PATCHBAY_WORKER, JSON: WorkerAssignment).
 *
 * It loads the configuration itself (the same folder; SIGHUP reloads it as a single process
 * does), takes the ports the master resolved, its slice of the RTP port range and its private
 * UDP port, and runs a whole gateway whose listeners are shared with its siblings. Bindings go
 * through the master over the IPC channel (store/relayed-binding-store.ts) unless store.redis
 * shares them. It tells the master `{ t: 'ready', ... }` once it listens; SIGTERM shuts it down
 * gracefully like the single process.
 */
import { loadConfig, formatConfigError } from '../config/loader.ts'
import type { GatewayConfig } from '../config/schema.ts'
import { logger, setLogFields } from '../base/log.ts'
import { startGateway, type RunningGateway } from '../main.ts'
import type { WorkerChannel } from '../gateway.ts'
import { RelayedBindingStore, type BindingsMessage } from '../store/relayed-binding-store.ts'

const log = logger('cluster.worker')

/** What the master hands a worker (PATCHBAY_WORKER). Ports are concrete (never 0). */
export interface WorkerAssignment {
  index: number
  count: number
  /** The configuration folder, or null for the embedded defaults. */
  configDir: string | null
  ports: { udp: number; tcp: number; tls: number | null; http: number; stun: number | null }
  /** This worker's private UDP port. */
  privateUdpPort: number
  /** The shared UDP port and every worker's private port. */
  peerPorts: number[]
  /** Every worker's private HTTP port on 127.0.0.1 (admin fan-out). */
  httpPorts: number[]
}

/** Worker -> master once listening. */
export interface ReadyMessage {
  t: 'ready'
  index: number
  privateUdpPort: number
}

/**
 * The configuration a worker runs: the loaded one with the master's concrete ports and the
 * worker's share of media.rtpPortMin..rtpPortMax (count equal slices; a relay port is
 * allocated by one process only).
 */
export function workerConfig(config: GatewayConfig, a: WorkerAssignment): GatewayConfig {
  const span = config.media.rtpPortMax - config.media.rtpPortMin + 1
  const slice = Math.floor(span / a.count)
  const rtpPortMin = config.media.rtpPortMin + a.index * slice
  return {
    ...config,
    sip: { ...config.sip, udpPort: a.ports.udp, tcpPort: a.ports.tcp, ...(a.ports.tls !== null ? { tlsPort: a.ports.tls } : {}) },
    http: { ...config.http, port: a.ports.http },
    ice: { ...config.ice, stun: { ...config.ice.stun, ...(a.ports.stun !== null ? { port: a.ports.stun } : {}) } },
    media: { ...config.media, rtpPortMin, rtpPortMax: rtpPortMin + slice - 1 },
  }
}

function load(a: WorkerAssignment): GatewayConfig | null {
  const loaded = loadConfig(a.configDir)
  if (loaded.ok) return workerConfig(loaded.config, a)
  for (const e of loaded.errors) log.error('configuration refused', { error: formatConfigError(e) })
  return null
}

async function runWorker(): Promise<void> {
  const a = JSON.parse(process.env.PATCHBAY_WORKER ?? 'null') as WorkerAssignment | null
  if (a === null || typeof process.send !== 'function') {
    console.error('cluster/worker.ts is started by the gateway (gateway.workers > 1), not by hand')
    process.exit(2)
  }
  const send = process.send.bind(process)
  setLogFields({ worker: a.index })
  const config = load(a)
  if (config === null) process.exit(1)
  const nodeId = `w${a.index}`
  const bindings = config.store.redis === undefined
    ? new RelayedBindingStore({ nodeId, send: (m: BindingsMessage) => { send(m) } })
    : null
  // Messages from the master: the bindings snapshot and changes (buffered by the store until
  // the location service is attached), and what siblings relay (bans).
  const handlers = new Map<string, (m: Record<string, unknown>) => void>()
  const channel: WorkerChannel = {
    relay: (m) => { send({ ...m, relay: true }) },
    on: (t, handler) => { handlers.set(t, handler) },
  }
  process.on('message', (m: unknown) => {
    const t = (m as { t?: unknown } | null)?.t
    if (t === 'snapshot' || t === 'bindings') bindings?.receive(m)
    else if (typeof t === 'string') handlers.get(t)?.(m as Record<string, unknown>)
  })
  send({ t: 'hello', index: a.index })

  let gateway: RunningGateway
  try {
    gateway = await startGateway(config, {
      worker: { index: a.index, nodeId, bindings, peerPorts: new Set(a.peerPorts), httpPorts: a.httpPorts, channel, privateUdpPort: a.privateUdpPort },
    })
  } catch (e) {
    log.error('worker failed to start', { worker: a.index, error: (e as Error).message })
    process.exit(1)
  }

  process.on('SIGHUP', () => {
    if (a.configDir === null) return
    const next = load(a)
    if (next === null) {
      void gateway.reloadCertificates()
      send({ t: 'reloaded', ok: false, needsRestart: [] })
      return
    }
    const restart = gateway.reload(next)
    void gateway.reloadCertificates(next)
    send({ t: 'reloaded', ok: true, needsRestart: restart })
  })
  let stopping = false
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return
      stopping = true
      void gateway.shutdown().then(() => process.exit(0), () => process.exit(1))
    })
  }
  // The master going away (killed) must not leave workers holding the ports.
  process.on('disconnect', () => {
    if (stopping) return
    stopping = true
    void gateway.stop().then(() => process.exit(0), () => process.exit(1))
  })
  send({ t: 'ready', index: a.index, privateUdpPort: a.privateUdpPort } satisfies ReadyMessage)
}

if (import.meta.main) await runWorker()

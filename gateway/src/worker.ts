/**
 * One worker process of a gateway running on every core (docs/architecture.md §4b), started by
 * the master (cluster/worker-pool.ts) as `bun gateway/src/worker.ts` with its assignment in
 * the environment (PATCHBAY_WORKER, JSON: cluster/worker-assignment.ts WorkerAssignment).
 *
 * It loads the configuration itself (the same folder; SIGHUP reloads it as a single process
 * does), takes the ports the master resolved, its slice of the RTP port range and its private
 * UDP port, and runs a whole gateway whose listeners are shared with its siblings. Bindings go
 * through the master over the IPC channel (store/relayed-binding-store.ts) unless store.redis
 * shares them. It tells the master `{ t: 'ready', ... }` once it listens; SIGTERM shuts it down
 * gracefully like the single process.
 */
import { loadConfig, formatConfigError } from './config/loader.ts'
import type { GatewayConfig } from './config/schema.ts'
import { logger, setLogFields } from './base/log.ts'
import { startGateway, type RunningGateway } from './main.ts'
import type { WorkerChannel } from './gateway.ts'
import { workerConfig, type ReadyMessage, type WorkerAssignment } from './cluster/worker-assignment.ts'
import { RelayedBindingStore, type BindingsMessage } from './store/relayed-binding-store.ts'

const log = logger('cluster.worker')

function load(a: WorkerAssignment): GatewayConfig | null {
  const loaded = loadConfig(a.configDir)
  if (loaded.ok) return workerConfig(loaded.config, a)
  for (const e of loaded.errors) log.error('configuration refused', { error: formatConfigError(e) })
  return null
}

async function runWorker(): Promise<void> {
  const a = JSON.parse(process.env.PATCHBAY_WORKER ?? 'null') as WorkerAssignment | null
  if (a === null || typeof process.send !== 'function') {
    console.error('gateway/src/worker.ts is started by the gateway (gateway.workers > 1), not by hand')
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

  // The master asks for a reload over IPC (so that it can tell its requests' answers apart);
  // a SIGHUP sent to the worker itself reloads as well.
  // It answers once its certificates are re-read too, so that the master's `configuration
  // reloaded` means every worker serves the new ones.
  const reload = async (id: number | null) => {
    if (a.configDir === null) {
      send({ t: 'reloaded', id, ok: true, needsRestart: [] })
      return
    }
    const next = load(a)
    if (next === null) {
      await gateway.reloadCertificates()
      send({ t: 'reloaded', id, ok: false, needsRestart: [] })
      return
    }
    const restart = gateway.reload(next)
    await gateway.reloadCertificates(next)
    send({ t: 'reloaded', id, ok: true, needsRestart: restart })
  }
  handlers.set('reload', (m) => { void reload(typeof m.id === 'number' ? m.id : null) })
  process.on('SIGHUP', () => { void reload(null) })
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

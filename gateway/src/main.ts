/**
 * The composition root, and the only place that starts listeners.
 *
 * - `startGateway(config)` builds the object graph (`createGateway`, gateway.ts: binds
 *   nothing) and then starts the listeners it needs: SIP over UDP, TCP and TLS, the STUN
 *   binding service, and the HTTP server (softphone, REST API, SIP over WebSocket).
 *   Tests call it; ports of 0 pick free ones (reported in the result).
 * - Run as a program, it is the gateway CLI: `bun gateway/src/main.ts [--config DIR]`
 *   (`npm start` runs `bun run build --if-stale` first, so the softphone bundle exists).
 *   Without --config it runs the embedded defaults (loopback only, demo users). With a
 *   config folder (see sip-config/README.md), SIGHUP reloads it; a bad file is reported
 *   with file, line and field and the gateway keeps running the configuration it had.
 *   SIGHUP also re-reads the TLS certificates (`reloadCertificates`: renewed files are served
 *   to new connections, existing ones are kept).
 */
import { join } from 'node:path'
import { loadConfig, formatConfigError } from './config/loader.ts'
import type { GatewayConfig } from './config/schema.ts'
import { checkListenPolicy } from './config/listen-policy.ts'
import { logger } from './base/log.ts'
import type { Scheduler } from './base/scheduler.ts'
import { createGateway, type Gateway, type WorkerRole } from './gateway.ts'
import { UdpTransport, type UdpFlow } from './sip/transport/udp-transport.ts'
import { TcpTransport, type TcpFlow } from './sip/transport/tcp-transport.ts'
import type { TransactionLayer } from './sip/transaction/transaction-layer.ts'
import type { TransportLayer } from './sip/transport/transport-layer.ts'
import type { SipMessage } from './sip/message/sip-message.ts'
import type { StatefulProxy } from './sip/proxy/stateful-proxy.ts'
import type { AnchoredCalls } from './sip/proxy/anchored-calls.ts'
import type { LocationService } from './sip/registrar/location-service.ts'
import type { MediaDriver } from './media/media-driver.ts'
import { loadStaticAssets, type StaticAsset } from './http/softphone-plugin.ts'
import { CertificateReloader } from './certificate-reloader.ts'
import { WorkerPool, workerCount, type ClusterPorts } from './cluster/worker-pool.ts'
import type { CallRouting } from './call-routing.ts'

const log = logger('gateway.main')

/** Where `bun run build` writes the softphone (softphone/build.ts SOFTPHONE_DIST). */
const SOFTPHONE_DIST = join(import.meta.dir, '..', '..', 'softphone', 'dist')

export interface RunningGateway {
  config: GatewayConfig
  /** 'http://127.0.0.1:PORT' (https with TLS). */
  httpUrl: string
  /** 'ws://127.0.0.1:PORT/sip' (wss with TLS). */
  wsUrl: string
  httpPort: number
  udpPort: number
  /** A worker's private UDP port (in its Via and Record-Route); null in a single process. */
  privateUdpPort: number | null
  tcpPort: number
  tlsPort: number | null
  stunPort: number | null
  /** Live objects, for tests and metrics. */
  readonly internals: {
    transport: TransportLayer
    transactions: TransactionLayer
    proxy: StatefulProxy
    /** Anchored calls, or null with media.driver none. */
    anchoredCalls: AnchoredCalls | null
    location: LocationService
    /** The media driver anchoring WebRTC <-> RTP calls, or null with media.driver none. */
    media: MediaDriver | null
    /** Dial plan, trunks and DNS next hops. */
    routing: CallRouting
  }
  /**
   * Applies a newly loaded configuration where that can be done live (users, log level).
   * Returns the names of settings that need a restart to take effect.
   */
  reload(config: GatewayConfig): string[]
  /**
   * Re-reads the certificate and key files of `sip.tls` and `http.tls` (of `config` when
   * given: new paths; else the paths in use, e.g. renewed Let's Encrypt files) and serves them
   * to new TLS / WSS connections; existing connections (registered phones, their calls,
   * WebSockets) stay open on the old certificate. A missing or bad file keeps the running
   * certificate of that listener and is logged with its name. Resolves with which listeners
   * now serve the newly read certificate (false: no such TLS listener, or refused).
   */
  reloadCertificates(config?: GatewayConfig): Promise<{ sip: boolean; http: boolean }>
  /** Stops at once: listeners closed, state released (the bindings store flushed). */
  stop(): Promise<void>
  /**
   * Graceful shutdown (SIGTERM): new out-of-dialog requests get 503 + Retry-After while
   * calls being set up finish (at most `graceMs`, default shutdown.graceSeconds), then stop().
   * Bindings of connections closed by the shutdown stay in the store for the next start.
   * Resolves with the INVITEs still pending when the grace period ended.
   */
  shutdown(graceMs?: number): Promise<number>
}

export interface StartOptions {
  scheduler?: Scheduler
  /** The softphone's files; default: read from softphone/dist (null when not built). */
  softphone?: Map<string, StaticAsset> | null
  /**
   * Run as one of several workers (gateway/src/worker.ts): the listeners are bound with
   * SO_REUSEPORT and the worker's private UDP port (`privateUdpPort`) is bound too and
   * advertised in Via and Record-Route (docs/architecture.md §4b).
   */
  worker?: WorkerRole & { privateUdpPort: number }
}

/**
 * Builds the gateway and starts its listeners.
 * @throws Error when the listen policy refuses the config (demo passwords on a non-loopback
 *   address) or a port cannot be bound.
 */
export async function startGateway(config: GatewayConfig, options: StartOptions = {}): Promise<RunningGateway> {
  const policy = checkListenPolicy(config)
  if (policy !== null) throw new Error(policy)
  const softphone = options.softphone !== undefined ? options.softphone : loadStaticAssets(SOFTPHONE_DIST)
  if (softphone === null) log.warn('the softphone is not built (softphone/dist): run `bun run build`; / answers 503')
  const g = createGateway(config, { scheduler: options.scheduler, softphone, ...(options.worker ? { worker: options.worker } : {}) })
  // A node sharing its location service on Redis loads the other nodes' bindings before it
  // serves (at most 3 s: with Redis down it starts degraded and resynchronizes later).
  await Promise.race([g.locationReady, Bun.sleep(3000)])
  const w = options.worker
  const listeners = await listen(g, w?.privateUdpPort ?? null, w ? new Set([...w.peerPorts].filter((p) => p !== w.privateUdpPort && p !== config.sip.udpPort)) : undefined)
  // Trunk registrations and qualify need the SIP listeners (their Contact and Via).
  g.routing.start()
  const { transport } = g
  const secure = config.http.tls !== undefined
  const scheme = secure ? 'https' : 'http'
  const certificates = new CertificateReloader(g, listeners.tls, config)
  const hostForUrl = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host
  log.info('gateway started', {
    domain: config.domain, http: g.httpPort, udp: listeners.udp.port, tcp: listeners.tcp.port, tls: listeners.tls?.port ?? null,
    stun: g.stun?.port ?? null, users: g.users.size, bindingsRestored: g.bindingsRestored,
  })
  const running: RunningGateway = {
    config,
    httpUrl: `${scheme}://${hostForUrl}:${g.httpPort}`,
    wsUrl: `${secure ? 'wss' : 'ws'}://${hostForUrl}:${g.httpPort}/sip`,
    httpPort: g.httpPort,
    udpPort: listeners.udp.port,
    privateUdpPort: listeners.own?.port ?? null,
    tcpPort: listeners.tcp.port,
    tlsPort: listeners.tls?.port ?? null,
    stunPort: g.stun?.port ?? null,
    internals: { transport, transactions: g.transactions, proxy: g.proxy, anchoredCalls: g.anchoredCalls, location: g.location, media: g.media, routing: g.routing },
    reload: (next) => g.reload(next),
    reloadCertificates: async (next) => certificates.reload(next),
    async shutdown(graceMs = config.shutdown.graceSeconds * 1000) {
      const pending = await g.drain(graceMs)
      await running.stop()
      return pending
    },
    async stop() {
      // Un-REGISTER the trunks while the SIP listeners are still open.
      await g.routing.stop()
      await g.http.stop(true)
      await certificates.stop()
      listeners.udp.stop()
      listeners.own?.stop()
      void listeners.adminHttp?.stop(true)
      listeners.tcp.stop()
      listeners.tls?.stop()
      g.stun?.stop()
      await g.close()
    },
  }
  return running
}

/**
 * Binds UDP, TCP, TLS (when configured), STUN (when enabled) and HTTP for a built gateway.
 * A worker (`privateUdpPort` not null) shares every listener with its siblings (SO_REUSEPORT)
 * and binds its own UDP port besides.
 */
async function listen(g: Gateway, privateUdpPort: number | null, siblingPorts: ReadonlySet<number> = new Set()): Promise<{
  udp: UdpTransport; own: UdpTransport | null; tcp: TcpTransport; tls: TcpTransport | null; adminHttp: ReturnType<typeof Bun.serve> | null
}> {
  const { config, transport } = g
  const reusePort = privateUdpPort !== null
  const onDatagram = (d: Uint8Array, f: UdpFlow) => transport.receiveDatagram(d, f)
  const udp = new UdpTransport()
  await udp.start({ host: config.sip.host, port: config.sip.udpPort, reusePort, onDatagram })
  transport.attachUdp(udp)
  let own: UdpTransport | null = null
  if (privateUdpPort !== null) {
    own = new UdpTransport()
    await own.start({ host: config.sip.host, port: privateUdpPort, onDatagram })
    transport.attachWorkerUdp(own, siblingPorts)
  }
  const tcpHandlers = {
    frame: transport.frame,
    onMessage: (d: Uint8Array, m: SipMessage, f: TcpFlow) => transport.receiveFramed(d, m, f),
    onFramingError: transport.framingError,
    onFlowOpen: transport.tcpOpened,
    onFlowClosed: transport.tcpClosed,
  }
  const tcp = new TcpTransport()
  await tcp.start({ host: config.sip.host, port: config.sip.tcpPort, transport: 'TCP', reusePort, ...tcpHandlers })
  transport.attachTcp(tcp, 'TCP')
  let tls: TcpTransport | null = null
  if (config.sip.tlsPort !== undefined && config.sip.tls) {
    tls = new TcpTransport()
    await tls.start({ host: config.sip.host, port: config.sip.tlsPort, transport: 'TLS', tls: config.sip.tls, reusePort, ...tcpHandlers })
    transport.attachTcp(tls, 'TLS')
  }
  if (g.stun) await g.stun.start({ host: config.ice.stun.host ?? config.sip.host, port: config.ice.stun.port, reusePort })
  g.http.listen({
    hostname: config.http.host,
    port: config.http.port,
    // Only set when sharing: an explicit `reusePort: false` would stop the certificate
    // reloader's second server from binding the port beside the first (Bun's default allows it).
    ...(reusePort ? { reusePort: true } : {}),
    ...(config.http.tls ? { tls: { cert: Bun.file(config.http.tls.cert), key: Bun.file(config.http.tls.key) } } : {}),
  })
  g.httpPort = g.http.server!.port!
  // A worker also answers its siblings' admin fan-out on a private loopback port (plain HTTP,
  // no WebSockets: cluster/admin-fan-out.ts).
  const w = g.worker
  const adminHttp = w === null ? null : Bun.serve({ hostname: '127.0.0.1', port: w.httpPorts[w.index]!, fetch: (req) => g.http.handle(req) })
  transport.setWebSocketPort(config.http.tls ? 'WSS' : 'WS', g.httpPort)
  return { udp, own, tcp, tls, adminHttp }
}


function usage(): never {
  console.error('usage: bun gateway/src/main.ts [--config DIR]\n  DIR holds gateway.yaml and users.yaml (see sip-config/README.md)')
  process.exit(2)
}

function parseArgs(argv: string[]): { configDir: string | null } {
  let configDir: string | null = null
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    if (a === '--config' || a === '-c') {
      const v = argv[++i]
      if (v === undefined) usage()
      configDir = v
    } else if (a.startsWith('--config=')) configDir = a.slice('--config='.length)
    else if (a === '--help' || a === '-h') usage()
    else usage()
  }
  return { configDir }
}

/**
 * SIGHUP: the configuration folder read again, its errors logged (file, line, field);
 * 'embedded' (logged) when the gateway runs the embedded defaults, which never change.
 */
function configForReload(configDir: string | null): ReturnType<typeof loadConfig> | 'embedded' {
  if (configDir === null) {
    log.info('SIGHUP ignored: running the embedded defaults')
    return 'embedded'
  }
  const next = loadConfig(configDir)
  if (!next.ok) {
    for (const e of next.errors) log.error('configuration reload refused; keeping the running one', { error: formatConfigError(e) })
  }
  return next
}

/** The CLI: load the configuration, start, print where everything listens, handle signals. */
async function runCli(): Promise<void> {
  const { configDir } = parseArgs(process.argv.slice(2))
  const loaded = loadConfig(configDir)
  if (!loaded.ok) {
    for (const e of loaded.errors) console.error(formatConfigError(e))
    console.error(`patchbay: configuration refused (${loaded.errors.length} error${loaded.errors.length === 1 ? '' : 's'})`)
    process.exit(1)
  }

  const workers = workerCount(loaded.config)
  if (workers > 1) return runMaster(loaded.config, configDir, workers)

  let gateway: RunningGateway
  try {
    gateway = await startGateway(loaded.config)
  } catch (e) {
    console.error(`patchbay: ${(e as Error).message}`)
    process.exit(1)
  }

  const c = gateway.config
  process.on('SIGHUP', () => {
    const next = configForReload(configDir)
    if (next === 'embedded') return
    if (!next.ok) {
      // Renewed certificates at the running paths are still taken (a certbot deploy hook
      // sends SIGHUP whatever the state of the other files).
      void gateway.reloadCertificates()
      return
    }
    const restart = gateway.reload(next.config)
    log.info('configuration reloaded', { needsRestart: restart })
    void gateway.reloadCertificates(next.config)
  })

  let stopping = false
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return
      stopping = true
      log.info('shutting down', { signal: sig, graceSeconds: c.shutdown.graceSeconds })
      void gateway.shutdown().then((pending) => {
        log.info('stopped', { invitesCutShort: pending })
        process.exit(0)
      }, (e: unknown) => {
        log.error('shutdown failed', { error: String(e) })
        process.exit(1)
      })
    })
  }
  // The banner last, once the handlers are in: a supervisor (or a test) may signal as soon as
  // it sees the banner. Measured with Bun 1.4.5: with process.on right after the banner, 14 of
  // 20 immediate SIGTERMs killed the process (exit 143); registered before it, 0 of 20.
  console.log(`Patchbay gateway for ${c.domain}
  softphone      ${gateway.httpUrl}/
  SIP WebSocket  ${gateway.wsUrl}
  SIP UDP        ${c.sip.host}:${gateway.udpPort}
  SIP TCP        ${c.sip.host}:${gateway.tcpPort}${gateway.tlsPort ? `\n  SIP TLS        ${c.sip.host}:${gateway.tlsPort}` : ''}${gateway.stunPort ? `\n  STUN           ${c.ice.stun.host ?? c.sip.host}:${gateway.stunPort}` : ''}
  config         ${configDir ?? 'embedded defaults (demo users alice, bob, carol)'}
  workers        1`)

}

/**
 * The CLI with `workers.count` > 1: this process is the master (cluster/worker-pool.ts); the
 * workers serve. SIGHUP is checked here first (a bad file is reported once and no worker is
 * disturbed), then passed on; SIGTERM drains every worker.
 */
async function runMaster(config: GatewayConfig, configDir: string | null, count: number): Promise<void> {
  const pool = new WorkerPool({ config, configDir, count })
  let stopping = false
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) return
      stopping = true
      log.info('shutting down', { signal: sig, workers: count, graceSeconds: config.shutdown.graceSeconds })
      void pool.shutdown(config.shutdown.graceSeconds * 1000).then(() => {
        log.info('stopped')
        process.exit(0)
      })
    })
  }
  process.on('SIGHUP', () => {
    const next = configForReload(configDir)
    if (next === 'embedded') return
    // Every worker reloads (or keeps its configuration) and re-reads the certificates, as one
    // process does; the line below comes once all of them did.
    void pool.reload().then((r) => {
      if (next.ok && r.ok) log.info('configuration reloaded', { needsRestart: r.needsRestart, workers: count })
    })
  })
  let ports: ClusterPorts
  try {
    ports = await pool.start()
  } catch (e) {
    console.error(`patchbay: ${(e as Error).message}`)
    process.exit(1)
  }
  const c = config
  const secure = c.http.tls !== undefined
  const host = c.http.host === '0.0.0.0' ? '127.0.0.1' : c.http.host
  console.log(`Patchbay gateway for ${c.domain}
  softphone      ${secure ? 'https' : 'http'}://${host}:${ports.http}/
  SIP WebSocket  ${secure ? 'wss' : 'ws'}://${host}:${ports.http}/sip
  SIP UDP        ${c.sip.host}:${ports.udp}
  SIP TCP        ${c.sip.host}:${ports.tcp}${ports.tls ? `\n  SIP TLS        ${c.sip.host}:${ports.tls}` : ''}${ports.stun ? `\n  STUN           ${c.ice.stun.host ?? c.sip.host}:${ports.stun}` : ''}
  config         ${configDir ?? 'embedded defaults (demo users alice, bob, carol)'}
  workers        ${count} (private UDP ports ${ports.privateUdp.join(', ')})`)
}

if (import.meta.main) await runCli()

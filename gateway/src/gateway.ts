/**
 * Builds the gateway's object graph from a GatewayConfig without binding a port: the SIP
 * stack (transport -> transaction layer -> request pipeline -> auth / registrar / location
 * service / stateful proxy), media anchoring, the STUN service and the HTTP app. Tests and
 * (later) worker processes build a gateway here; `main.ts` starts its listeners.
 *
 *   transport (UDP, TCP, TLS, WS) -> transaction layer -> request pipeline
 *        -> auth / registrar / location service / stateful proxy (+ anchored calls)
 *
 * Every upward call is a callback the lower layer declares (docs/architecture.md, "Layers").
 */
import { hostname } from 'node:os'
import type { GatewayConfig } from './config/schema.ts'
import { setLogLevel, logger } from './base/log.ts'
import { RealScheduler, type Scheduler } from './base/scheduler.ts'
import { LocalAddresses } from './base/local-addresses.ts'
import { UserDirectory } from './base/user-directory.ts'
import type { UserEntry } from './config/schema.ts'
import { TransactionLayer } from './sip/transaction/transaction-layer.ts'
import { TransportLayer } from './sip/transport/transport-layer.ts'
import { StatefulProxy } from './sip/proxy/stateful-proxy.ts'
import { AnchoredCalls } from './sip/proxy/anchored-calls.ts'
import { ProxiedDialogs } from './sip/proxy/proxied-dialogs.ts'
import { RequestPipeline } from './sip/routing/request-pipeline.ts'
import { DigestAuthenticator } from './sip/auth/digest-authenticator.ts'
import { LocationService } from './sip/registrar/location-service.ts'
import { Registrar } from './sip/registrar/registrar.ts'
import { SipSecurity, type SipSecuritySettings } from './sip/security/sip-security.ts'
import { openDatabase } from './store/database.ts'
import { BindingStore } from './store/binding-store.ts'
import { RedisBindingStore } from './store/redis-binding-store.ts'
import type { RelayedBindingStore } from './store/relayed-binding-store.ts'
import { StunBindingService } from './ice/stun-binding-service.ts'
import { mediaEngineTurnServers, resolveTurnSecret } from './ice/ice-servers.ts'
import type { MediaDriver } from './media/media-driver.ts'
import { AnchorPolicy } from './media/anchor-policy.ts'
import { createMediaDriver } from './media/create-media-driver.ts'
import { createHttpApp } from './http/http-app.ts'
import type { StaticAsset } from './http/softphone-plugin.ts'
import { createGatewayMetrics, type GatewayMetrics } from './gateway-metrics.ts'
import { JsonSignalingService } from './signaling-json/json-signaling-service.ts'
import { createCallRouting, type CallRouting } from './call-routing.ts'
import type { DnsLocator } from './sip/dns/dns-locator.ts'
import type { Flow } from './sip/transport/flow.ts'
import { adminFanOut } from './cluster/admin-fan-out.ts'
import type { BanReason } from './sip/security/ban-list.ts'
import type { CallEventSink } from './sip/proxy/call-events.ts'
import { CdrStore, cdrDatabasePath, openCdrDatabase } from './store/cdr-store.ts'
import { CallRecorder } from './cdr/call-recorder.ts'
import { createCdrReader } from './cdr/cdr-reader.ts'
import { StatsHistory } from './http/stats-history.ts'

const log = logger('gateway')

export interface CreateGatewayOptions {
  scheduler?: Scheduler
  /** The softphone's built files (http/softphone-plugin.ts loadStaticAssets); null: none built. */
  softphone?: Map<string, StaticAsset> | null
  /** RFC 3263 DNS (tests); default node:dns with `dns.servers`. */
  locator?: DnsLocator
  /** This process is one of several workers (gateway/src/worker.ts); absent: the whole gateway. */
  worker?: WorkerRole
}

/**
 * A worker process's place among the workers of one machine (docs/architecture.md §4b).
 */
export interface WorkerRole {
  /** 0-based; worker 0 also REGISTERs the registration trunks. */
  index: number
  /** This worker's node id among the nodes / workers sharing the location service (`w0`, ...). */
  nodeId: string
  /** The bindings shared through the master; null when store.redis shares them instead. */
  bindings: RelayedBindingStore | null
  /**
   * The UDP ports of this gateway's processes (the shared public port and every worker's
   * private port): a request from one of them on a local address comes from a sibling worker.
   */
  peerPorts: ReadonlySet<number>
  /** Every worker's private HTTP port on 127.0.0.1 (index = worker), for the admin fan-out. */
  httpPorts: readonly number[]
  /** Messages to and from the siblings through the master (bans; bindings have their store). */
  channel: WorkerChannel
}

/** A worker's IPC channel to the master, which passes `relay`ed messages to every other worker. */
export interface WorkerChannel {
  /** Sends to every other worker (through the master). */
  relay(message: { t: string } & Record<string, unknown>): void
  /** Handles messages of type `t` from other workers. */
  on(t: string, handler: (message: Record<string, unknown>) => void): void
}

/** The object graph of one gateway, before anything listens. */
export interface Gateway {
  readonly config: GatewayConfig
  readonly scheduler: Scheduler
  readonly local: LocalAddresses
  readonly users: UserDirectory<UserEntry>
  readonly transport: TransportLayer
  readonly transactions: TransactionLayer
  readonly proxy: StatefulProxy
  /** Anchored calls (dialogs whose media the gateway relays); null with media.driver none. */
  readonly anchoredCalls: AnchoredCalls | null
  readonly location: LocationService
  /** Bans, brute-force and flood defences; `security.stats` holds their counters (plain numbers). */
  readonly security: SipSecurity
  /** JSON signaling sessions (`/json`); null when jsonSignaling.enabled is false. */
  readonly jsonSignaling: JsonSignalingService | null
  /** The media driver anchoring WebRTC <-> RTP calls, or null with media.driver none. */
  readonly media: MediaDriver | null
  /** The STUN binding service (not bound), or null when ice.stun.enabled is false. */
  readonly stun: StunBindingService | null
  /** Prometheus metrics over these layers (GET /metrics). */
  readonly metrics: GatewayMetrics
  /** The HTTP app (not listening). */
  readonly http: ReturnType<typeof createHttpApp>
  /** Bindings restored from the store when the graph was built. */
  readonly bindingsRestored: number
  /** Dial plan, trunks (registration clients, qualify), DNS next hops (call-routing.ts). */
  readonly routing: CallRouting
  /**
   * Resolves once the location service holds the shared store's bindings (store.redis);
   * resolved at once with bun:sqlite. Never rejects; stays pending while Redis is unreachable.
   */
  readonly locationReady: Promise<void>
  /** The HTTP server's port once main.ts listened (0 before); WS sent-by. */
  httpPort: number
  /** This process's place among the workers, or null in a single process. */
  readonly worker: WorkerRole | null
  /**
   * Applies a newly loaded configuration where that can be done live (users, log level).
   * Returns the names of settings that need a restart to take effect.
   */
  reload(config: GatewayConfig): string[]
  /**
   * Graceful shutdown, first half: new out-of-dialog requests get 503 + Retry-After
   * (shutdown.retryAfterSeconds); resolves once no INVITE is being set up, or after
   * `graceMs`. Resolves with the INVITEs still pending then.
   */
  drain(graceMs: number): Promise<number>
  /** Releases what the graph holds (media, timers, bindings store); listeners are main.ts's. */
  close(): Promise<void>
}

/** Host names and addresses that mean this gateway (Kamailio's `alias`). */
function localAddresses(config: GatewayConfig): LocalAddresses {
  const hosts = ['localhost', config.sip.host, config.http.host, ...config.aliases]
  if (config.sip.publicAddress) hosts.push(config.sip.publicAddress)
  if (config.sip.host === '0.0.0.0' || config.sip.host === '127.0.0.1') hosts.push('127.0.0.1')
  return new LocalAddresses(config.domain, hosts)
}

/** The reloadable security settings of `config` (allow-list = security.allowList + proxy.trustedSources). */
function securitySettings(config: GatewayConfig): SipSecuritySettings {
  const s = config.security
  return {
    allowList: [...s.allowList, ...config.proxy.trustedSources],
    banAction: s.bans.action,
    bruteForce: {
      enabled: s.bruteForce.enabled,
      windowMs: s.bruteForce.windowSeconds * 1000,
      maxFailuresPerSource: s.bruteForce.maxFailuresPerSource,
      maxFailuresPerUser: s.bruteForce.maxFailuresPerUser,
      banSeconds: s.bruteForce.banSeconds,
    },
    flood: {
      enabled: s.flood.enabled,
      windowMs: s.flood.windowSeconds * 1000,
      maxRequests: s.flood.maxRequests,
      banSeconds: s.flood.banSeconds,
      maxServerTransactions: s.overload.maxServerTransactions,
      retryAfterSeconds: s.overload.retryAfterSeconds,
    },
  }
}

/**
 * Builds every layer from `config`. Opens the bindings store (a file, or `:memory:`) and
 * restores its bindings; binds no socket.
 */
export function createGateway(config: GatewayConfig, options: CreateGatewayOptions = {}): Gateway {
  setLogLevel(config.log.level)
  const scheduler = options.scheduler ?? new RealScheduler()
  const users = new UserDirectory<UserEntry>(config.users)
  const local = localAddresses(config)

  // Bindings: bun:sqlite on one node; Redis when several nodes share the location service
  // (loaded asynchronously: redisStore.ready).
  // Workers share them through their master (store/relayed-binding-store.ts), or Redis.
  const worker = options.worker
  // Other nodes (workers) reach this node's WebSocket and TCP users through its UDP listener
  // (a worker's private port).
  const selfUri = (): string | null => {
    const sb = transport.sentBy('UDP')
    return sb.port > 0 ? `sip:${sb.host}:${sb.port}` : null
  }
  const redisStore = config.store.redis === undefined ? null : new RedisBindingStore({
    url: config.store.redis.url,
    nodeId: worker !== undefined ? `${config.store.redis.nodeId ?? hostname()}-${worker.nodeId}` : config.store.redis.nodeId ?? hostname(),
    unixSeconds: () => scheduler.unixSeconds(),
    selfUri,
  })
  const relayed = redisStore === null ? worker?.bindings ?? null : null
  const db = redisStore === null && relayed === null ? openDatabase(config.store.path) : null
  const location = new LocationService({ scheduler, store: redisStore ?? relayed ?? new BindingStore(db!) })
  const restored = location.restore()
  redisStore?.start(location)
  relayed?.start(location, selfUri)
  const transport = new TransportLayer({
    advertisedHost: config.sip.publicAddress ?? (config.sip.host === '0.0.0.0' ? '127.0.0.1' : config.sip.host),
    local,
  })
  const auth = new DigestAuthenticator({
    realm: config.realm,
    lookupUser: (u) => users.get(u),
    scheduler,
    nonceLifetime: config.auth.nonceLifetime,
    algorithms: config.auth.algorithms,
    md5OnlyUserAgents: config.auth.md5OnlyUserAgents.map((p) => new RegExp(p, 'i')),
  })
  const registrar = new Registrar({
    location,
    local,
    minExpires: config.registrar.minExpires,
    maxExpires: config.registrar.maxExpires,
    defaultExpires: config.registrar.defaultExpires,
    scheduler,
  })
  const transactions = new TransactionLayer({
    sender: transport,
    scheduler,
    timers: config.timers,
    onSampledLifetime: (_kind, seconds) => metrics.observeTransaction(seconds),
  })
  const secret = resolveTurnSecret(config, process.env)
  const media = createMediaDriver(config, mediaEngineTurnServers(config, secret, Math.floor(Date.now() / 1000)))
  const anchoredCalls = media === null ? null : new AnchoredCalls({
    hooks: new AnchorPolicy({ driver: media, mode: config.media.anchor, userMode: (u) => users.get(u)?.mediaAnchor }),
    transport, transactions, local, scheduler,
    sessionTimeout: config.media.sessionTimeout * 1000,
    onTimedOut: (callId) => cdr?.recorder.callEnded({ callId, fromTag: null, at: Date.now(), endedBy: 'gateway', reason: 'session timeout' }),
  })
  // Call records (cdr/): a row per call in their own database beside the bindings.
  const cdr = config.cdr.enabled ? openCdrs(config, scheduler) : null
  // Absent when call records are off: the proxy then skips reading answers for them.
  const callEvents: CallEventSink | undefined = cdr?.recorder
  const dialogs = new ProxiedDialogs({ local, transport, transactions, scheduler, maxAgeMs: config.media.sessionTimeout * 1000 })
  const proxy = new StatefulProxy({
    transport, transactions, scheduler,
    timerC: config.proxy.timerC * 1000,
    cancelTimeout: 64 * config.timers.T1,
    media: anchoredCalls ?? undefined,
    onInviteFinal: (seconds) => metrics.observeCallSetup(seconds),
    callEvents,
    dialogs,
  })
  const security = new SipSecurity({
    ...securitySettings(config),
    scheduler,
    maxBans: config.security.bans.maxEntries,
    maxTracked: config.security.maxTrackedSources,
    serverTransactions: () => {
      const c = transactions.transactionCounts
      return c.inviteServer + c.nonInviteServer
    },
  })
  const routing = createCallRouting(config, {
    scheduler, transport, transactions, location, registrations: (worker?.index ?? 0) === 0,
    ...(options.locator ? { locator: options.locator } : {}),
  })
  const pipeline = new RequestPipeline({
    local, transport, proxy, auth, registrar, location,
    userExists: (u) => users.has(u),
    displayNameOf: (u) => users.get(u)?.displayName,
    trustedSources: new Set(config.proxy.trustedSources),
    ...(worker !== undefined ? {
      trustedPeer: (f: Flow) => f.transport === 'UDP' && worker.peerPorts.has(f.remotePort) && local.isLocalHost(f.remoteAddress),
    } : {}),
    security,
    router: routing.router,
    trunks: () => routing.trunks(),
    callEvents,
  })  // The pipeline is the transaction layer's TU (RFC 3261 §17), registered on it as the
  // transport's consumer is registered on the transport: imports and construction point down.
  transactions.setUser(pipeline)

  transport.onMessage((m, f) => transactions.receive(m, f))
  // Set by drain(): connections closed by our own shutdown keep their bindings in the store,
  // so that a restart can reach TCP phones again (LocationService.restore decides which).
  let draining = false
  transport.onFlowClosed((f) => {
    proxy.endDialogsOnFlow(f)
    if (draining) return
    const dropped = location.removeFlow(f.id)
    if (dropped.length > 0) log.info('bindings dropped with their flow', { flowId: f.id, count: dropped.length })
  })

  const jsonSignaling = config.jsonSignaling.enabled ? new JsonSignalingService({
    host: transport, scheduler, users, security, domain: config.domain, realm: config.realm,
    localAddress: config.http.host, localPort: () => gateway.httpPort,
    graceSeconds: config.jsonSignaling.graceSeconds, t1: config.timers.T1, t2: config.timers.T2,
    location,
  }) : null

  const stun = config.ice.stun.enabled ? new StunBindingService() : null
  const metrics = createGatewayMetrics({ transport, transactions, proxy, anchoredCalls, location, media, stun, security, jsonSignaling })
  // The admin page's charts (GET /api/stats/history): a sample every 10 s over the last 6 h.
  const statsHistory = new StatsHistory({
    scheduler,
    gauges: {
      activeCalls: () => cdr?.recorder.stats.active ?? anchoredCalls?.size ?? 0,
      registrations: () => location.size,
      settingUp: () => proxy.pendingInvites,
      anchoredCalls: () => anchoredCalls?.size ?? 0,
      jsonSessions: () => jsonSignaling?.sessionCount ?? 0,
    },
    counters: { callsStarted: () => cdr?.recorder.stats.started ?? 0, callsAnswered: () => cdr?.recorder.stats.answered ?? 0 },
  })
  statsHistory.start()
  if (worker !== undefined) {
    // A source banned by one worker is banned by all: the kernel hands a scanner's other
    // source ports to the other workers.
    security.bans.onBan = (source, seconds, reason, username) => worker.channel.relay({ t: 'ban', source, seconds, reason, username })
    worker.channel.on('ban', (m) => {
      if (typeof m.source !== 'string' || typeof m.seconds !== 'number') return
      security.bans.adopt(m.source, m.seconds, m.reason as BanReason, typeof m.username === 'string' ? m.username : undefined)
    })
  }
  const gateway: Gateway = {
    config, scheduler, local, users, transport, transactions, proxy, anchoredCalls, location, security, jsonSignaling, media, stun, metrics,
    bindingsRestored: restored.restored,
    routing,
    locationReady: redisStore?.ready ?? relayed?.ready ?? Promise.resolve(),
    httpPort: 0,
    worker: worker ?? null,
    http: createHttpApp({
      config, users, transport, jsonSignaling,
      bindings: () => location.all(),
      nodeId: redisStore?.nodeId ?? relayed?.nodeId ?? null,
      security,
      metrics,
      stunPort: () => stun?.port,
      httpPort: () => gateway.httpPort,
      softphone: options.softphone ?? null,
      startedAt: Date.now(),
      cdr: cdr === null ? null : { reader: cdr.reader, calls: cdr.recorder, hangUp: (callId) => proxy.hangUp(callId) },
      routing,
      statsHistory,
      ...(worker !== undefined ? { fanOut: adminFanOut(worker.httpPorts) } : {}),
    }),
    reload(next: GatewayConfig): string[] {
      users.replace(next.users)
      setLogLevel(next.log.level)
      security.reconfigure(securitySettings(next))
      routing.reload(next)
      const restart: string[] = []
      // New certificate paths are applied live by main.ts (reloadCertificates); adding or
      // removing TLS (sip.tlsPort, http.tls) needs a restart.
      const sipOf = (c: GatewayConfig) => JSON.stringify({ ...c.sip, tls: undefined })
      const httpOf = (c: GatewayConfig) => JSON.stringify({ ...c.http, tls: c.http.tls !== undefined })
      if (sipOf(next) !== sipOf(config)) restart.push('sip')
      if (httpOf(next) !== httpOf(config)) restart.push('http')
      if (next.domain !== config.domain) restart.push('domain')
      if (next.security.bans.maxEntries !== config.security.bans.maxEntries || next.security.maxTrackedSources !== config.security.maxTrackedSources) {
        restart.push('security (table sizes)')
      }
      return restart
    },
    async drain(graceMs: number) {
      draining = true
      pipeline.startDraining(config.shutdown.retryAfterSeconds)
      const until = Date.now() + graceMs
      while (proxy.pendingInvites > 0 && Date.now() < until) await Bun.sleep(50)
      // Let the last final responses and ACKs of this turn go out.
      await Bun.sleep(Math.min(100, graceMs))
      return proxy.pendingInvites
    },
    async close() {
      statsHistory.stop()
      await routing.stop()
      dialogs.close()
      if (cdr !== null) {
        cdr.recorder.shutdown()
        cdr.store.close()
        await cdr.reader.close()
        cdr.db.close()
      }
      jsonSignaling?.close()
      await media?.close()
      transactions.close()
      location.close()
      transport.clear()
      relayed?.close()
      await redisStore?.close()
      db?.close()
    },
  }
  return gateway
}

/** The CDR database, writer, recorder and reader (cdr/, store/cdr-store.ts). */
function openCdrs(config: GatewayConfig, scheduler: Scheduler) {
  const path = config.cdr.path ?? cdrDatabasePath(config.store.path)
  const db = openCdrDatabase(path)
  const store = new CdrStore(db, { scheduler, maxAgeDays: config.cdr.maxAgeDays })
  const recorder = new CallRecorder({ store, scheduler, maxCallSeconds: config.cdr.maxCallSeconds })
  const reader = createCdrReader(path, store)
  return { db, store, recorder, reader }
}

/**
 * The composition root's reusable half: builds every layer from a GatewayConfig and starts
 * the listeners. `main.ts` (the CLI) and the tests call `startGateway`.
 *
 *   transport (UDP, TCP, TLS, WS) -> transaction layer -> request pipeline
 *        -> auth / registrar / location service / stateful proxy
 */
import { Elysia } from 'elysia'
import type { GatewayConfig, UserEntry } from './config/schema.ts'
import { checkListenPolicy } from './config/listen-policy.ts'
import { setLogLevel, logger } from './base/log.ts'
import { RealScheduler, type Scheduler } from './base/scheduler.ts'
import { TransactionLayer } from './sip/transaction/transaction-layer.ts'
import { TransportLayer } from './sip/transport/transport-layer.ts'
import { UdpTransport } from './sip/transport/udp-transport.ts'
import { TcpTransport } from './sip/transport/tcp-transport.ts'
import { StatefulProxy } from './sip/proxy/stateful-proxy.ts'
import { RequestPipeline } from './sip/routing/request-pipeline.ts'
import { DigestAuthenticator } from './sip/auth/digest-authenticator.ts'
import { LocationService } from './sip/registrar/location-service.ts'
import { Registrar } from './sip/registrar/registrar.ts'
import { openDatabase } from './store/database.ts'
import { BindingStore } from './store/binding-store.ts'
import { apiPlugin } from './http/api-plugin.ts'
import { sipWebSocketPlugin } from './http/sip-websocket-plugin.ts'
import { softphonePlugin } from './http/softphone-plugin.ts'
import { iceServersPlugin } from './http/ice-servers-plugin.ts'
import { StunBindingService } from './ice/stun-binding-service.ts'
import { ha1 } from './sip/auth/digest.ts'
import { timingSafeEqual } from 'node:crypto'
import type { MediaDriver } from './media/media-driver.ts'
import { AnchorPolicy } from './media/anchor-policy.ts'
import { RtpengineDriver } from './media/rtpengine/rtpengine-driver.ts'
import { EmbeddedDriver } from './media/embedded/embedded-driver.ts'
import { buildIceServers, resolveTurnSecret } from './ice/ice-servers.ts'
import { buildSoftphone } from '../../softphone/build.ts'

const log = logger('gateway')

export interface RunningGateway {
  config: GatewayConfig
  /** 'http://127.0.0.1:PORT' (https with TLS). */
  httpUrl: string
  /** 'ws://127.0.0.1:PORT/sip' (wss with TLS). */
  wsUrl: string
  httpPort: number
  udpPort: number
  tcpPort: number
  tlsPort: number | null
  stunPort: number | null
  /** Live objects, for tests and metrics. */
  readonly internals: {
    transport: TransportLayer
    transactions: TransactionLayer
    proxy: StatefulProxy
    location: LocationService
    /** The media driver anchoring WebRTC <-> RTP calls, or null with media.driver none. */
    media: MediaDriver | null
  }
  /**
   * Applies a newly loaded configuration where that can be done live (users, log level).
   * Returns the names of settings that need a restart to take effect.
   */
  reload(config: GatewayConfig): string[]
  stop(): Promise<void>
}

export interface StartOptions {
  scheduler?: Scheduler
}

/** Host names and addresses that mean this gateway (design: Kamailio's `alias`). */
function localHostSet(config: GatewayConfig): Set<string> {
  const s = new Set<string>([config.domain.toLowerCase(), 'localhost', config.sip.host, config.http.host])
  for (const a of config.aliases) s.add(a.toLowerCase())
  if (config.sip.publicAddress) s.add(config.sip.publicAddress.toLowerCase())
  if (config.sip.host === '0.0.0.0' || config.sip.host === '127.0.0.1') s.add('127.0.0.1')
  return s
}

/**
 * Builds and starts the gateway. Ports of 0 pick free ones (reported in the result).
 * @throws Error when the listen policy refuses the config (demo passwords on a non-loopback
 *   address) or a port cannot be bound.
 */
export async function startGateway(config: GatewayConfig, options: StartOptions = {}): Promise<RunningGateway> {
  const policy = checkListenPolicy(config)
  if (policy !== null) throw new Error(policy)
  setLogLevel(config.log.level)
  const scheduler = options.scheduler ?? new RealScheduler()
  let users = new Map<string, UserEntry>(config.users.map((u) => [u.username, u]))

  const db = openDatabase(config.store.path)
  const location = new LocationService({ scheduler, store: new BindingStore(db) })
  const restored = location.restore()
  const localHosts = localHostSet(config)
  const transport = new TransportLayer({
    advertisedHost: config.sip.publicAddress ?? (config.sip.host === '0.0.0.0' ? '127.0.0.1' : config.sip.host),
    localHosts,
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
    domain: config.domain,
    isLocalHost: (h) => localHosts.has(h),
    minExpires: config.registrar.minExpires,
    maxExpires: config.registrar.maxExpires,
    defaultExpires: config.registrar.defaultExpires,
    scheduler,
  })
  let pipeline: RequestPipeline | null = null
  const transactions = new TransactionLayer({
    sender: transport,
    user: {
      onRequest: (req, tx, flow) => pipeline!.onRequest(req, tx, flow),
      onStrayResponse: (res, flow) => pipeline!.onStrayResponse(res, flow),
    },
    scheduler,
    timers: config.timers,
  })
  const media = createMediaDriver(config)
  const proxy = new StatefulProxy({
    transport, transactions, scheduler,
    timerC: config.proxy.timerC * 1000,
    cancelTimeout: 64 * config.timers.T1,
    sessionTimeout: config.media.sessionTimeout * 1000,
    media: media === null ? undefined : new AnchorPolicy({
      driver: media,
      mode: config.media.anchor,
      userMode: (u) => users.get(u)?.mediaAnchor,
    }),
  })
  pipeline = new RequestPipeline({
    domain: config.domain.toLowerCase(),
    transport, proxy, auth, registrar, location,
    userExists: (u) => users.has(u),
    trustedSources: new Set(config.proxy.trustedSources),
  })
  transport.onMessage((m, f) => transactions.receive(m, f))
  transport.onFlowClosed((f) => {
    proxy.endDialogsOnFlow(f)
    const dropped = location.removeFlow(f.id)
    if (dropped.length > 0) log.info('bindings dropped with their flow', { flowId: f.id, count: dropped.length })
  })

  const udp = new UdpTransport()
  await udp.start({
    host: config.sip.host,
    port: config.sip.udpPort,
    onDatagram: (d, f) => transport.receiveDatagram(d, f),
    onError: (e) => log.debug('udp socket error', { error: (e as Error & { code?: string }).code ?? e.message }),
  })
  transport.attachUdp(udp)
  const tcpHandlers = {
    frame: transport.frame,
    onMessage: (d: Uint8Array, f: import('./sip/transport/tcp-transport.ts').TcpFlow) => transport.receiveFramed(d, f),
    onFramingError: transport.framingError,
    onFlowOpen: transport.tcpOpened,
    onFlowClosed: transport.tcpClosed,
  }
  const tcp = new TcpTransport()
  await tcp.start({ host: config.sip.host, port: config.sip.tcpPort, transport: 'TCP', ...tcpHandlers })
  transport.attachTcp(tcp, 'TCP')
  let tls: TcpTransport | null = null
  if (config.sip.tlsPort !== undefined && config.sip.tls) {
    tls = new TcpTransport()
    await tls.start({ host: config.sip.host, port: config.sip.tlsPort, transport: 'TLS', tls: config.sip.tls, ...tcpHandlers })
    transport.attachTcp(tls, 'TLS')
  }

  let stun: StunBindingService | null = null
  if (config.ice.stun.enabled) {
    stun = new StunBindingService()
    await stun.start({ host: config.ice.stun.host ?? config.sip.host, port: config.ice.stun.port })
  }
  /** HTTP Basic check of a SIP password against the user's stored MD5 HA1 (constant time). */
  const checkPassword = (username: string, password: string): boolean => {
    const u = users.get(username)
    if (!u) return false
    const a = Buffer.from(ha1('MD5', username, config.realm, password))
    const b = Buffer.from(u.ha1)
    return a.length === b.length && timingSafeEqual(a, b)
  }

  const secure = config.http.tls !== undefined
  const startedAt = Date.now()
  const assets = await buildSoftphone()
  let httpPort = 0
  const app = new Elysia()
    .use(apiPlugin({
      domain: config.domain,
      adminToken: config.adminToken,
      startedAt,
      bindings: () => location.all(),
      metrics: () => {
        const c = transactions.transactionCounts
        return {
          sip_messages_received_total: transport.stats.received,
          sip_messages_sent_total: transport.stats.sent,
          sip_parse_errors_total: transport.stats.parseErrors,
          sip_stateless_400_total: transport.stats.stateless400,
          sip_send_errors_total: transport.stats.sendErrors,
          'sip_transactions{kind="invite_client"}': c.inviteClient,
          'sip_transactions{kind="non_invite_client"}': c.nonInviteClient,
          'sip_transactions{kind="invite_server"}': c.inviteServer,
          'sip_transactions{kind="non_invite_server"}': c.nonInviteServer,
          sip_proxy_pending_invites: proxy.pendingInvites,
          sip_registrar_bindings: location.size,
          media_sessions: media?.activeSessions ?? 0,
          media_anchored_dialogs: proxy.anchored.size,
          stun_requests_received_total: stun?.stats.received ?? 0,
        }
      },
    }))
    .use(sipWebSocketPlugin({ transport, secure, localAddress: config.http.host, localPort: () => httpPort }))
    .use(iceServersPlugin({ config, authenticate: checkPassword, stunPort: () => stun?.port }))
    .use(softphonePlugin(assets))
  app.listen({
    hostname: config.http.host,
    port: config.http.port,
    ...(config.http.tls ? { tls: { cert: Bun.file(config.http.tls.cert), key: Bun.file(config.http.tls.key) } } : {}),
  })
  httpPort = app.server!.port!
  transport.setWebSocketPort(secure ? 'WSS' : 'WS', httpPort)

  const scheme = secure ? 'https' : 'http'
  const hostForUrl = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host
  log.info('gateway started', {
    domain: config.domain, http: httpPort, udp: udp.port, tcp: tcp.port, tls: tls?.port ?? null, stun: stun?.port ?? null,
    users: users.size, bindingsRestored: restored.restored,
  })

  return {
    config,
    httpUrl: `${scheme}://${hostForUrl}:${httpPort}`,
    wsUrl: `${secure ? 'wss' : 'ws'}://${hostForUrl}:${httpPort}/sip`,
    httpPort,
    udpPort: udp.port,
    tcpPort: tcp.port,
    tlsPort: tls?.port ?? null,
    stunPort: stun?.port ?? null,
    internals: { transport, transactions, proxy, location, media },
    reload(next: GatewayConfig): string[] {
      users = new Map(next.users.map((u) => [u.username, u]))
      setLogLevel(next.log.level)
      const restart: string[] = []
      if (JSON.stringify(next.sip) !== JSON.stringify(config.sip)) restart.push('sip')
      if (JSON.stringify(next.http) !== JSON.stringify(config.http)) restart.push('http')
      if (next.domain !== config.domain) restart.push('domain')
      return restart
    },
    async stop() {
      await app.stop(true)
      udp.stop()
      tcp.stop()
      tls?.stop()
      stun?.stop()
      await media?.close()
      transactions.close()
      location.close()
      transport.clear()
      db.close()
    },
  }
}

/**
 * The media driver the configuration asks for (media.driver). The embedded driver binds its
 * RTP sockets and ICE candidates to media.bindAddress (default sip.host) and uses the same
 * ICE servers the softphones get (issue: "the embedded media driver uses the same ICE servers").
 */
function createMediaDriver(config: GatewayConfig): MediaDriver | null {
  const m = config.media
  switch (m.driver) {
    case 'none':
      return null
    case 'rtpengine':
      return new RtpengineDriver({ instances: m.rtpengine, publicAddress: config.sip.publicAddress })
    case 'embedded': {
      const bind = m.bindAddress ?? (config.sip.host === '0.0.0.0' ? '127.0.0.1' : config.sip.host)
      // The driver's own TURN credential never leaves this process and lives as long as it,
      // so it is minted once with a lifetime far beyond any uptime (clients get short ones).
      const ownTurn = { ...config.ice, turn: { ...config.ice.turn, ttlSeconds: 20 * 365 * 86400 } }
      const ice = buildIceServers({
        config: { ...config, ice: ownTurn },
        userId: 'patchbay-media',
        nowUnixSeconds: Math.floor(Date.now() / 1000),
        secret: resolveTurnSecret(config, process.env),
      })
      return new EmbeddedDriver({
        bindAddress: bind,
        publicAddress: config.sip.publicAddress,
        iceServers: ice.iceServers.filter((s) => String(s.urls).startsWith('turn')),
        rtpPortMin: m.rtpPortMin,
        rtpPortMax: m.rtpPortMax,
      })
    }
  }
}

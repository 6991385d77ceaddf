/**
 * Builds and runs what routes calls beyond the local users (issue 13): the dial plan
 * (sip/dialplan), the trunks (sip/trunks: inbound matching, registration clients, OPTIONS
 * qualifiers, caps), RFC 3263 DNS (sip/dns) and the CallRouter the request pipeline uses.
 * Part of the composition root: `createGateway` calls `createCallRouting`, `main.ts` starts
 * the trunk clients once the SIP listeners are bound (`start`), SIGHUP `reload`s.
 *
 * On reload the dial plan and trunk definitions are replaced at once for new calls; trunk
 * clients whose definition changed are stopped (un-REGISTER) and started again, the others
 * keep running (their registration is not disturbed).
 */
import type { GatewayConfig } from './config/schema.ts'
import type { Scheduler } from './base/scheduler.ts'
import { logger } from './base/log.ts'
import type { TransportLayer } from './sip/transport/transport-layer.ts'
import type { Destination } from './sip/transport/flow.ts'
import type { TransactionLayer } from './sip/transaction/transaction-layer.ts'
import type { LocationService } from './sip/registrar/location-service.ts'
import { parseUri } from './sip/syntax/uri.ts'
import { DialPlan } from './sip/dialplan/dial-plan.ts'
import type { TrunkDefinition } from './sip/dialplan/trunk-definition.ts'
import { explainRoute, type RouteExplanation, type TrunkStatus as ExplainTrunkStatus } from './sip/dialplan/explain.ts'
import { createServerLocator } from './sip/dns/server-locator.ts'
import type { DnsLocator } from './sip/dns/dns-locator.ts'
import { toDestination } from './sip/dns/dns-locator.ts'
import { TrunkRegistry } from './sip/trunks/trunk-registry.ts'
import { RegistrationClient, trunkContactUri } from './sip/trunks/registration-client.ts'
import { TrunkQualifier } from './sip/trunks/qualify.ts'
import type { TrunkStatus } from './sip/trunks/trunk-status.ts'
import { trunkHostUri } from './sip/trunks/trunk-targets.ts'
import { CallRouter } from './sip/routing/call-router.ts'
import { NextHopResolver } from './sip/routing/next-hop-resolver.ts'

const log = logger('trunks')

export interface CallRoutingDeps {
  scheduler: Scheduler
  transport: TransportLayer
  transactions: TransactionLayer
  location: LocationService
  /** A DNS locator (tests); default: node:dns with `config.dns` servers behind a TTL cache. */
  locator?: DnsLocator
  /**
   * Whether this process REGISTERs the registration trunks (default true). Of several
   * workers only the first does: one registration per trunk, whose Contact names that
   * worker's private port; every worker qualifies and routes.
   */
  registrations?: boolean
}

/** One trunk's running clients. */
interface TrunkClients {
  definition: TrunkDefinition
  registration: RegistrationClient | null
  qualifier: TrunkQualifier | null
}

/** See the file comment. */
export interface CallRouting {
  readonly router: CallRouter
  readonly locator: DnsLocator
  trunks(): TrunkRegistry
  dialPlan(): DialPlan
  /** Every trunk's state (admin page, metrics). */
  trunkStatuses(): Array<TrunkStatus & { activeCalls: number; type: 'registration' | 'peer' }>
  /** `bun run route -- explain` against the running gateway (GET /api/route/explain). */
  explain(from: string, to: string): RouteExplanation
  /** Starts registration clients and qualifiers (after the listeners are bound). */
  start(): void
  reload(config: GatewayConfig): void
  /** Stops every client (un-REGISTER, best effort). */
  stop(): Promise<void>
}

export function createCallRouting(config: GatewayConfig, deps: CallRoutingDeps): CallRouting {
  const dns = config.dns
  const locator = deps.locator ?? createServerLocator({
    scheduler: deps.scheduler, servers: dns.servers, timeoutMs: dns.timeoutMs, tries: dns.tries, ipv6: dns.ipv6,
    cache: { defaultTtlSeconds: dns.defaultTtlSeconds }, log: logger('sip.dns'),
  })
  const nextHop = new NextHopResolver({ flow: (id) => deps.transport.flow(id), location: deps.location })
  const clients = new Map<string, TrunkClients>()
  let started = false
  let dialPlan = new DialPlan(config.dialPlan)
  let domain = config.domain
  const liveStatus = (name: string): TrunkStatus | undefined => {
    const c = clients.get(name)
    if (c === undefined) return undefined
    // A registration that failed wins; else qualify's up/down; else the registration state.
    const r = c.registration?.status
    const q = c.qualifier?.status
    if (r !== undefined && r.state === 'failed') return r
    if (q !== undefined && q.state !== 'unknown') return q
    return r ?? q
  }
  let registry = new TrunkRegistry({ trunks: config.trunks, locator, scheduler: deps.scheduler, liveStatus })

  /** Where a trunk's own requests (REGISTER, OPTIONS) go: its outbound proxy, else its host (RFC 3263). */
  const destinationOf = (t: TrunkDefinition) => async (): Promise<Destination> => {
    const text = t.outboundProxy ?? trunkHostUri(t)
    const uri = parseUri(text)
    if (uri === null) throw new Error(`unreadable trunk URI ${text}`)
    const loc = await locator.resolve(uri)
    const first = loc.servers[0]
    if (first === undefined) throw new Error(loc.reason ?? `no server for ${text}`)
    return toDestination(first)
  }

  const startClients = (t: TrunkDefinition): TrunkClients => {
    const transport = t.transport === 'tls' ? 'TLS' : t.transport === 'tcp' ? 'TCP' : 'UDP'
    const hostPort = `${t.host}${t.port !== undefined ? `:${t.port}` : ''}`
    const route = t.outboundProxy !== undefined ? [`<${t.outboundProxy.replace(/;lr\b/, '')};lr>`] : undefined
    let registration: RegistrationClient | null = null
    if (t.type === 'registration' && t.register && t.username !== undefined && deps.registrations !== false) {
      const c = t.credentials
      registration = new RegistrationClient({
        name: t.name, transactions: deps.transactions, scheduler: deps.scheduler,
        destination: destinationOf(t), sentBy: (tp) => deps.transport.sentBy(tp),
        registrarUri: `${transport === 'TLS' ? 'sips' : 'sip'}:${hostPort}`,
        aor: `sip:${t.username}@${t.host}`,
        // The Contact's user is the account: the registrar's INVITEs to it name the trunk
        // (the pipeline then takes the DID from To).
        contactUri: trunkContactUri(t.username, deps.transport.sentBy(transport), transport),
        expires: t.expires,
        ...(c !== undefined ? {
          credentials: {
            username: c.authUsername,
            ...(c.password !== undefined ? { password: c.password } : {}),
            ...(c.ha1 !== undefined ? { ha1: c.ha1 } : {}),
            ...(c.ha1Sha256 !== undefined ? { ha1Sha256: c.ha1Sha256 } : {}),
            ...(c.realm !== undefined ? { realm: c.realm } : {}),
          },
        } : {}),
        ...(route ? { route } : {}),
        onChange: (s) => log.info('trunk registration', { trunk: t.name, state: s.state, detail: s.detail }),
      })
      registration.start()
    }
    let qualifier: TrunkQualifier | null = null
    if (t.qualifySeconds > 0) {
      qualifier = new TrunkQualifier({
        name: t.name, transactions: deps.transactions, scheduler: deps.scheduler,
        destination: destinationOf(t), sentBy: (tp) => deps.transport.sentBy(tp),
        requestUri: `${transport === 'TLS' ? 'sips' : 'sip'}:${hostPort}`,
        fromUri: `sip:patchbay@${domain}`,
        intervalSeconds: t.qualifySeconds,
        ...(route ? { route } : {}),
        onChange: (s, previous) => log.info('trunk qualify', { trunk: t.name, state: s.state, previous, detail: s.detail }),
      })
      qualifier.start()
    }
    return { definition: t, registration, qualifier }
  }

  const stopClients = async (c: TrunkClients): Promise<void> => {
    c.qualifier?.stop()
    await c.registration?.stop()
  }

  const syncClients = (trunks: readonly TrunkDefinition[]): void => {
    const wanted = new Map(trunks.map((t) => [t.name, t]))
    for (const [name, c] of clients) {
      const next = wanted.get(name)
      if (next !== undefined && JSON.stringify(next) === JSON.stringify(c.definition)) continue
      clients.delete(name)
      void stopClients(c)
    }
    for (const t of trunks) if (!clients.has(t.name)) clients.set(t.name, startClients(t))
  }

  const router = new CallRouter({
    dialPlan: () => dialPlan, trunks: () => registry, location: deps.location, nextHop, locator, domain,
  })

  return {
    router,
    locator,
    trunks: () => registry,
    dialPlan: () => dialPlan,
    trunkStatuses: () => registry.trunks.map((t) => ({ ...registry.status(t.name), activeCalls: registry.activeCalls(t.name), type: t.type })),
    explain: (from, to) => explainRoute(dialPlan, from, to, {
      status: (name): ExplainTrunkStatus => {
        const s = registry.status(name)
        const a = registry.availability(name)
        const state = s.state === 'registering' ? 'unknown' : s.state
        // Not usable: skipped by the failover; say why unless the state already does (a cap).
        const why = a.usable ? '' : a.reason.includes(s.detail) ? '; skipped' : `; skipped: ${a.reason}`
        return { state, detail: `${s.detail}${why}` }
      },
    }),
    start() {
      started = true
      syncClients(config.trunks)
      void registry.resolveInboundAddresses()
    },
    reload(next: GatewayConfig) {
      dialPlan = new DialPlan(next.dialPlan)
      domain = next.domain
      registry = new TrunkRegistry({ trunks: next.trunks, locator, scheduler: deps.scheduler, liveStatus })
      config = next
      if (started) {
        syncClients(next.trunks)
        void registry.resolveInboundAddresses()
      }
      log.info('dial plan and trunks reloaded', { rules: next.dialPlan.outbound.length, dids: next.dialPlan.inbound.length, trunks: next.trunks.length })
    },
    async stop() {
      started = false
      const all = [...clients.values()]
      clients.clear()
      await Promise.all(all.map(stopClients))
    },
  }
}

/**
 * RFC 3263 server location: a SIP/SIPS URI -> the ordered next hops (`LocatedServer`s).
 *
 * §4 the TARGET is the `maddr` parameter, else the host.
 * §4.1 transport:
 *   1. an explicit `transport` parameter wins (sips + tcp = TLS; sips + udp is refused);
 *   2. else a numeric IP TARGET, or an explicit port: UDP for sip, TLS for sips;
 *   3. else NAPTR of the TARGET: records with flag "s" and a service we support (SIP+D2U ->
 *      UDP, SIP+D2T -> TCP, SIPS+D2T -> TLS; sips URIs: SIPS+D2T only), by order then
 *      preference; each replacement is an SRV name;
 *   4. else (no usable NAPTR) SRV for each supported transport: `_sip._udp`, `_sip._tcp`,
 *      `_sips._tcp` (sips URIs: `_sips._tcp` only), in the configured transport order;
 *   5. else UDP for sip, TLS for sips, at the A/AAAA addresses of the TARGET.
 * §4.2 port and address: numeric IP: as is; explicit port: A/AAAA with that port; explicit
 *   transport without a port: SRV for that transport, else A/AAAA with the default port
 *   (5060, 5061 for TLS); SRV: targets in RFC 2782 order (`srv-order.ts`), each target's A
 *   (then AAAA) addresses. An SRV target "." means the service is not offered there.
 * §4.3 the caller fails over down the list.
 *
 * IP literals and `localhost` never touch DNS. A failed look-up (timeout, SERVFAIL) of the
 * NAPTR or SRV step ends the location with an empty list and a reason (logged at warn);
 * a failed A/AAAA look-up of one SRV target only drops that target.
 */
import { isIPv4, isIPv6 } from 'node:net'
import type { Scheduler } from '../../base/scheduler.ts'
import { logger, type Logger } from '../../base/log.ts'
import type { SipUri } from '../syntax/types.ts'
import type { DnsClient, NaptrRecord, SrvRecord } from './dns-client.ts'
import { CachingDnsClient, type DnsCacheOptions } from './dns-cache.ts'
import type { DnsLocator, LocatedServer, LocatedTransport, ServerLocation } from './dns-locator.ts'
import { NodeDnsClient, type NodeDnsClientOptions } from './node-dns-client.ts'
import { orderSrv, type RandomSource } from './srv-order.ts'

export interface ServerLocatorOptions {
  client: DnsClient
  /** Transports the gateway can send over, in the order SRV queries are preferred. Default UDP, TCP, TLS. */
  transports?: readonly LocatedTransport[]
  /** Also look up AAAA (IPv6 addresses follow a target's IPv4 ones). Default false. */
  ipv6?: boolean
  /** For the RFC 2782 weighted order. Default Math.random. */
  random?: RandomSource
  log?: Logger
}

const NAPTR_SERVICES: Record<string, LocatedTransport> = { 'SIP+D2U': 'UDP', 'SIP+D2T': 'TCP', 'SIPS+D2T': 'TLS' }
const SRV_PREFIX: Record<LocatedTransport, string> = { UDP: '_sip._udp', TCP: '_sip._tcp', TLS: '_sips._tcp' }
const DEFAULT_TRANSPORTS: readonly LocatedTransport[] = ['UDP', 'TCP', 'TLS']

/** The default port of a transport (RFC 3261 §19.1.2). */
export function defaultPort(transport: LocatedTransport): number {
  return transport === 'TLS' ? 5061 : 5060
}

/** A locate in progress: the steps taken and the first failure met. */
class Trace {
  readonly steps: string[] = []
  failure: string | null = null
  note(step: string): void {
    this.steps.push(step)
  }
  fail(reason: string): void {
    this.steps.push(reason)
    this.failure ??= reason
  }
}

/** Thrown inside a locate to end it with a reason; never leaves `resolve`. */
class LocateFailed extends Error {}

/** The RFC 3263 locator over a `DnsClient`; see the file comment. */
export class ServerLocator implements DnsLocator {
  private readonly client: DnsClient
  private readonly transports: readonly LocatedTransport[]
  private readonly ipv6: boolean
  private readonly random: RandomSource
  private readonly log: Logger

  constructor(options: ServerLocatorOptions) {
    this.client = options.client
    this.transports = options.transports ?? DEFAULT_TRANSPORTS
    this.ipv6 = options.ipv6 ?? false
    this.random = options.random ?? Math.random
    this.log = options.log ?? logger('sip.dns')
  }

  async locate(uri: SipUri): Promise<LocatedServer[]> {
    return (await this.resolve(uri)).servers
  }

  async resolve(uri: SipUri): Promise<ServerLocation> {
    const trace = new Trace()
    let servers: LocatedServer[] = []
    try {
      servers = dedupe(await this.run(uri, trace))
    } catch (error) {
      if (!(error instanceof LocateFailed)) trace.fail(`internal error: ${String(error)}`)
    }
    const reason = servers.length > 0 ? null : (trace.failure ?? 'no server found')
    if (reason !== null) this.log.warn('no next hop for URI', { host: uri.host, reason, steps: trace.steps })
    else if (this.log.debugEnabled) this.log.debug('located', { host: uri.host, servers, steps: trace.steps })
    return { servers, reason, steps: trace.steps }
  }

  private async run(uri: SipUri, trace: Trace): Promise<LocatedServer[]> {
    if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return stop(trace, `not a SIP URI (${uri.scheme}:)`)
    const sips = uri.scheme === 'sips'
    const target = normalizeHost(uri.params.maddr ?? uri.host)
    if (target === '') return stop(trace, 'the URI has no host')
    const explicit = this.explicitTransport(uri, sips, trace)
    const numeric = target === 'localhost' ? '127.0.0.1' : isIPv4(target) || isIPv6(target) ? target : null
    if (numeric !== null) {
      const transport = explicit ?? (sips ? 'TLS' : 'UDP')
      this.allow(transport, trace)
      trace.note(`${target}: numeric, no DNS`)
      return [{ transport, address: numeric, port: uri.port ?? defaultPort(transport), target }]
    }
    if (uri.port !== null) {
      const transport = explicit ?? (sips ? 'TLS' : 'UDP')
      this.allow(transport, trace)
      return this.addresses(target, transport, uri.port, trace)
    }
    if (explicit !== null) {
      this.allow(explicit, trace)
      const viaSrv = await this.srv(`${SRV_PREFIX[explicit]}.${target}`, explicit, trace)
      if (viaSrv !== null) return viaSrv
      return this.addresses(target, explicit, defaultPort(explicit), trace)
    }
    const viaNaptr = await this.naptr(target, sips, trace)
    if (viaNaptr !== null) return viaNaptr
    const candidates = this.transports.filter((t) => !sips || t === 'TLS')
    const perTransport = await Promise.all(candidates.map((t) => this.srv(`${SRV_PREFIX[t]}.${target}`, t, trace)))
    if (perTransport.some((list) => list !== null)) return perTransport.flatMap((list) => list ?? [])
    const transport: LocatedTransport = sips ? 'TLS' : this.transports.includes('UDP') ? 'UDP' : (this.transports[0] ?? 'UDP')
    this.allow(transport, trace)
    return this.addresses(target, transport, defaultPort(transport), trace)
  }

  /** §4.1: the `transport` parameter, or null when absent. */
  private explicitTransport(uri: SipUri, sips: boolean, trace: Trace): LocatedTransport | null {
    const param = uri.params.transport
    if (param === undefined || param === null) return null
    switch (param.toLowerCase()) {
      case 'udp':
        if (sips) return stop(trace, 'a sips: URI cannot use transport=udp (RFC 3261 §26.2.2)')
        return 'UDP'
      case 'tcp':
        return sips ? 'TLS' : 'TCP'
      case 'tls':
        return 'TLS'
      default:
        return stop(trace, `transport=${param} is not supported for next hops`)
    }
  }

  private allow(transport: LocatedTransport, trace: Trace): void {
    if (!this.transports.includes(transport)) stop(trace, `transport ${transport} is not enabled`)
  }

  /**
   * §4.1 NAPTR step. Null when there is no usable NAPTR record (go on with SRV); the servers
   * of every usable record in order otherwise (may be empty when their SRV names are empty).
   */
  private async naptr(target: string, sips: boolean, trace: Trace): Promise<LocatedServer[] | null> {
    const answer = await this.client.query('NAPTR', target)
    if (answer.kind === 'failure') return stop(trace, `NAPTR ${target}: ${answer.reason}`)
    if (answer.kind === 'negative') {
      trace.note(`NAPTR ${target}: none`)
      return null
    }
    const usable = answer.records.filter((r) => this.usableNaptr(r, sips)).sort((a, b) => a.order - b.order || a.preference - b.preference)
    trace.note(`NAPTR ${target}: ${answer.records.length} record(s), ${usable.length} usable`)
    if (usable.length === 0) return null
    const lists = await Promise.all(usable.map((r) => this.srv(normalizeHost(r.replacement), NAPTR_SERVICES[r.service.toUpperCase()]!, trace)))
    const servers = lists.flatMap((list) => list ?? [])
    if (servers.length > 0 || lists.some((list) => list !== null)) return servers
    // NAPTR pointed at SRV names that do not exist: fall back to A/AAAA (§4.2).
    const first = NAPTR_SERVICES[usable[0]!.service.toUpperCase()]!
    return this.addresses(target, first, defaultPort(first), trace)
  }

  private usableNaptr(r: NaptrRecord, sips: boolean): boolean {
    const transport = NAPTR_SERVICES[r.service.toUpperCase()]
    if (transport === undefined || !this.transports.includes(transport)) return false
    if (sips && transport !== 'TLS') return false
    return r.flags.toLowerCase() === 's' && r.regexp === '' && normalizeHost(r.replacement) !== ''
  }

  /**
   * §4.2 SRV step for one transport. Null when the name has no SRV record (the caller falls
   * back to A/AAAA); [] when the look-up failed (no fallback: it would wait for the same
   * broken server again), the service is declared absent (target ".") or no target has an
   * address.
   */
  private async srv(name: string, transport: LocatedTransport, trace: Trace): Promise<LocatedServer[] | null> {
    const answer = await this.client.query('SRV', name)
    if (answer.kind === 'failure') {
      trace.fail(`SRV ${name}: ${answer.reason}`)
      return []
    }
    if (answer.kind === 'negative') {
      trace.note(`SRV ${name}: none`)
      return null
    }
    const ordered = orderSrv(answer.records, this.random).filter((r) => normalizeHost(r.name) !== '')
    trace.note(`SRV ${name}: ${ordered.map((r) => `${r.priority} ${r.weight} ${r.port} ${r.name}`).join(', ') || '"." (no service)'}`)
    const resolved = await Promise.all(ordered.map((r) => this.srvTarget(r, transport, trace)))
    return resolved.flat()
  }

  private async srvTarget(r: SrvRecord, transport: LocatedTransport, trace: Trace): Promise<LocatedServer[]> {
    const target = normalizeHost(r.name)
    const addresses = await this.addressList(target, trace)
    return addresses.map((address) => ({ transport, address, port: r.port, target, priority: r.priority, weight: r.weight }))
  }

  /** The TARGET's addresses with one transport and port (the §4.2 A/AAAA step). */
  private async addresses(target: string, transport: LocatedTransport, port: number, trace: Trace): Promise<LocatedServer[]> {
    const addresses = await this.addressList(target, trace)
    if (addresses.length === 0) trace.failure ??= `no address for ${target}`
    return addresses.map((address) => ({ transport, address, port, target }))
  }

  /** A (then AAAA when enabled) of a name; an IP literal is itself. Failures are noted, not thrown. */
  private async addressList(name: string, trace: Trace): Promise<string[]> {
    if (name === 'localhost') return ['127.0.0.1']
    if (isIPv4(name) || isIPv6(name)) return [name]
    const types = this.ipv6 ? (['A', 'AAAA'] as const) : (['A'] as const)
    const answers = await Promise.all(types.map((type) => this.client.query(type, name)))
    const out: string[] = []
    answers.forEach((answer, i) => {
      const type = types[i]!
      if (answer.kind === 'records') {
        trace.note(`${type} ${name}: ${answer.records.join(' ')}`)
        out.push(...answer.records)
      } else if (answer.kind === 'negative') {
        trace.note(`${type} ${name}: none`)
      } else {
        trace.fail(`${type} ${name}: ${answer.reason}`)
      }
    })
    return out
  }
}

export interface CreateServerLocatorOptions extends NodeDnsClientOptions {
  /** The clock for TTLs (RealScheduler in the gateway, FakeScheduler in tests). */
  scheduler: Pick<Scheduler, 'now'>
  cache?: DnsCacheOptions
  transports?: readonly LocatedTransport[]
  ipv6?: boolean
  random?: RandomSource
  log?: Logger
}

/**
 * The default locator: node:dns (`servers`, or the system resolver) behind a TTL cache.
 *
 * @throws Error when a server address is malformed
 */
export function createServerLocator(options: CreateServerLocatorOptions): ServerLocator {
  const client = new CachingDnsClient(
    new NodeDnsClient({ servers: options.servers, timeoutMs: options.timeoutMs, tries: options.tries }),
    options.scheduler,
    options.cache,
  )
  return new ServerLocator({ client, transports: options.transports, ipv6: options.ipv6, random: options.random, log: options.log })
}

function stop(trace: Trace, reason: string): never {
  trace.fail(reason)
  throw new LocateFailed(reason)
}

/** Lower case, no brackets around IPv6, no trailing dot; "." becomes "". */
function normalizeHost(host: string): string {
  let h = host.toLowerCase()
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1)
  if (h.endsWith('.')) h = h.slice(0, -1)
  return h
}

function dedupe(servers: LocatedServer[]): LocatedServer[] {
  const seen = new Set<string>()
  return servers.filter((s) => {
    const key = `${s.transport} ${s.address} ${s.port}`
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}

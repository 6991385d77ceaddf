/**
 * dnsmasq (Debian package `dnsmasq-base`, binary /usr/sbin/dnsmasq) as a real DNS server for
 * tests: it listens on 127.0.0.1 at a free port, reads no resolv.conf, /etc/hosts or
 * /etc/dnsmasq.conf, runs no DHCP, and answers only the records the test gives. Names in the
 * test's `domain` that have no record get NXDOMAIN / NODATA (`--local`); other names REFUSED.
 *
 *   const dns = await startDnsmasq({
 *     naptr: [{ name: 'pbx.test', order: 10, preference: 10, service: 'SIP+D2U', replacement: '_sip._udp.pbx.test' }],
 *     srv: [{ name: '_sip._udp.pbx.test', target: 'a.pbx.test', port: 5070, priority: 10, weight: 60 }],
 *     hosts: [{ name: 'a.pbx.test', addresses: ['127.0.0.1'], ttl: 2 }],
 *   })
 *   afterAll(() => dns.stop())
 *   new NodeDnsClient({ servers: [dns.server] })
 *
 * dnsmasq 2.90 facts this accounts for: records given as options (`--srv-host`,
 * `--naptr-record`, `--host-record`) are not re-read on SIGHUP, but `--addn-hosts` files are:
 * {@link Dnsmasq.setDynamicHosts} rewrites that file and sends SIGHUP, for tests that change
 * an address while the server runs. SRV and NAPTR answers carry the `--local-ttl` TTL;
 * `--host-record` takes a TTL of its own; `--addn-hosts` answers use `--local-ttl`.
 * With `--log-queries --log-facility=-` every query is printed as `query[TYPE] name from ...`,
 * which {@link Dnsmasq.queries} reads.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LOOPBACK, freePortRange, waitForPortBound } from './ports.ts'
import { PeerProcess, requireBinary } from './processes.ts'

export interface NaptrRecordSpec {
  name: string
  order: number
  preference: number
  /** Default "s". */
  flags?: string
  service: string
  /** Default "" (RFC 3263 uses none). */
  regexp?: string
  replacement: string
}

export interface SrvRecordSpec {
  /** e.g. `_sip._udp.pbx.test` */
  name: string
  /** The target host; "." for "service not offered here" (RFC 2782). */
  target: string
  port: number
  /** Default 0. */
  priority?: number
  /** Default 0. */
  weight?: number
}

export interface HostRecordSpec {
  name: string
  /** IPv4 and/or IPv6 addresses (A / AAAA). */
  addresses: string[]
  /** Seconds; default `localTtl`. */
  ttl?: number
}

export interface DnsmasqOptions {
  naptr?: NaptrRecordSpec[]
  srv?: SrvRecordSpec[]
  hosts?: HostRecordSpec[]
  /** name -> addresses, served from an --addn-hosts file that setDynamicHosts rewrites. */
  dynamicHosts?: Record<string, string[]>
  /** Answers for names under this domain are authoritative (NXDOMAIN when absent). Default "test". */
  domain?: string
  /** --local-ttl: TTL of SRV, NAPTR, dynamic hosts and host records without one. Default 60. */
  localTtl?: number
  /** --neg-ttl: TTL of negative answers. Default 5. */
  negativeTtl?: number
}

/** A running dnsmasq. */
export interface Dnsmasq {
  port: number
  /** `127.0.0.1:PORT`, for NodeDnsClient / `dns.servers`. */
  server: string
  process: PeerProcess
  /** Every query received so far, as `TYPE name` (e.g. `SRV _sip._udp.pbx.test`), in order. */
  queries(): string[]
  /** How many times `TYPE name` was asked. */
  count(type: string, name: string): number
  /**
   * Replaces the --addn-hosts records and makes dnsmasq re-read them (SIGHUP); resolves
   * once dnsmasq has logged the re-read.
   */
  setDynamicHosts(hosts: Record<string, string[]>): Promise<void>
  /** Ends the process (SIGTERM, then SIGKILL) and removes its temporary directory. */
  stop(): Promise<void>
}

/**
 * Starts dnsmasq with the given records; returns once it listens.
 *
 * @throws Error "install dnsmasq-base (tests/setup/install-peers.sh)" when the binary is
 *   missing; an Error with its output when it exits or does not bind within 5 s
 */
export async function startDnsmasq(options: DnsmasqOptions = {}): Promise<Dnsmasq> {
  let binary: string
  try {
    binary = requireBinary('dnsmasq', 'dnsmasq-base')
  } catch {
    throw new Error('dnsmasq not found: install dnsmasq-base (tests/setup/install-peers.sh)')
  }
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-dnsmasq-'))
  const hostsFile = join(dir, 'hosts')
  writeFileSync(hostsFile, hostsText(options.dynamicHosts ?? {}))
  const port = await freePortRange(1)
  const domain = options.domain ?? 'test'
  const argv = [
    binary, '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--no-poll',
    `--listen-address=${LOOPBACK}`, '--bind-interfaces', `--port=${port}`,
    // Root stays root (dnsmasq drops to `nobody` by default, which could not read the hosts
    // file in our private temp directory; another user is never switched); no pid file.
    ...(process.getuid?.() === 0 ? ['--user=root'] : []), '--pid-file=',
    '--log-queries', '--log-facility=-',
    `--local=/${domain}/`, `--local-ttl=${options.localTtl ?? 60}`, `--neg-ttl=${options.negativeTtl ?? 5}`,
    `--addn-hosts=${hostsFile}`,
  ]
  for (const r of options.naptr ?? []) {
    argv.push(`--naptr-record=${r.name},${r.order},${r.preference},${r.flags ?? 's'},${r.service},${r.regexp ?? ''},${r.replacement}`)
  }
  for (const r of options.srv ?? []) {
    argv.push(r.target === '.' || r.target === ''
      ? `--srv-host=${r.name}`
      : `--srv-host=${r.name},${r.target},${r.port},${r.priority ?? 0},${r.weight ?? 0}`)
  }
  // One --host-record per address: a single one holds at most one IPv4 and one IPv6 address
  // (a second IPv4 replaces the first).
  for (const h of options.hosts ?? []) {
    for (const address of h.addresses) {
      argv.push(`--host-record=${[h.name, address, ...(h.ttl !== undefined ? [String(h.ttl)] : [])].join(',')}`)
    }
  }
  const peer = new PeerProcess('dnsmasq', argv, { cwd: dir })
  try {
    await Promise.race([
      waitForPortBound(port, 'udp', 5_000),
      peer.exited.then((code) => {
        throw new Error(`dnsmasq exited with ${code} at start:\n${peer.tail(20)}`)
      }),
    ])
  } catch (error) {
    await peer.kill()
    throw error
  }
  const queries = (): string[] => [...peer.output().matchAll(/query\[(\w+)\] (\S+) from/g)].map((m) => `${m[1]} ${m[2]}`)
  let reloads = 0
  return {
    port,
    server: `${LOOPBACK}:${port}`,
    process: peer,
    queries,
    count: (type, name) => queries().filter((q) => q === `${type} ${name}`).length,
    async setDynamicHosts(hosts) {
      writeFileSync(hostsFile, hostsText(hosts))
      reloads++
      process.kill(peer.pid, 'SIGHUP')
      // dnsmasq logs "read <file> - N names" at start and on each reload.
      const pattern = new RegExp(`(read ${escapeRegExp(hostsFile)}[^\\n]*\\n[\\s\\S]*){${reloads + 1}}`)
      await peer.waitFor(pattern, 5_000)
    },
    async stop() {
      await peer.kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function hostsText(hosts: Record<string, string[]>): string {
  return Object.entries(hosts).flatMap(([name, addresses]) => addresses.map((a) => `${a} ${name}`)).join('\n') + '\n'
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

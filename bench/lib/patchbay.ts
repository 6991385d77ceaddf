/**
 * The Patchbay gateway as a benchmark peer: a SUBPROCESS running the real CLI,
 *
 *   bun [--cpu-prof ...] gateway/src/main.ts --config TMPDIR
 *
 * with a generated configuration folder: gateway.yaml (free ports: UDP/TCP/HTTP on port 0,
 * the STUN service off, `store.path: ':memory:'`, call records in a file of the temp folder, `log.level: warn`, MD5 offered before
 * SHA-256 because SIPp 3.6.1 aborts when the first challenge is SHA-256, optional
 * `proxy.trustedSources`) and users.yaml (`service` plus bench users `user000000`.. whose
 * HA1s are computed with the gateway's own `ha1()` for realm = domain).
 *
 * The UDP port the gateway bound is read from its startup banner (`SIP UDP  127.0.0.1:PORT`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ha1 } from '../../gateway/src/sip/auth/digest.ts'
import type { BenchPeer } from './bench-peer.ts'
import { PeerProcess } from './peer-process.ts'
import { waitForSipOptions } from './sip-ping.ts'

/** The repository root (bench/lib/../..). */
export const REPO_ROOT = resolve(import.meta.dir, '..', '..')

/** Domain and digest realm of the bench gateway. */
export const BENCH_DOMAIN = 'patchbay.test'

/** Password of every bench user (the same as Kamailio's static AUTH_PASSWORD). */
export const BENCH_PASSWORD = 'secret123'

/** `user000042` for 42: the bench users' names (the CSV of register_auth.xml uses them). */
export function benchUserName(i: number): string {
  return `user${String(i).padStart(6, '0')}`
}

/**
 * users.yaml text: `service` (the AOR SIPp's UAS registers as) and `count` bench users, all
 * with password `password`, as HA1 hashes for `realm` (RFC 7616 §3.4.2).
 */
export function benchUsersYaml(count: number, realm = BENCH_DOMAIN, password = BENCH_PASSWORD): string {
  const lines = ['users:']
  const add = (username: string) => {
    lines.push(`  - username: "${username}"`)
    lines.push(`    ha1: "${ha1('MD5', username, realm, password)}"`)
    lines.push(`    ha1Sha256: "${ha1('SHA-256', username, realm, password)}"`)
  }
  add('service')
  for (let i = 0; i < count; i++) add(benchUserName(i))
  return lines.join('\n') + '\n'
}

export interface PatchbayOptions {
  /** Bench users `user000000`..; default 0 (only `service`). */
  users?: number
  /** `proxy.trustedSources`: requests from these addresses are not challenged (REGISTER included). */
  trustedSources?: string[]
  /** Name in tables; default `patchbay`. */
  name?: string
  /** Run under `bun --cpu-prof`; the profile is written to `dir/name.cpuprofile` (and `.md`) at exit. */
  cpuProfile?: { dir: string; name: string; intervalMicros?: number }
  /** `log.level` (default warn). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error'
  /** CDR database file (cdr.path); absent: call records off. startPatchbay puts it in its temp folder. */
  cdrPath?: string
  /** `workers.count`: worker processes sharing the listeners (docs/architecture.md §4b); default 1. */
  workers?: number
  /** `store.redis`: bindings shared with other nodes on this Redis (nodeId: the name). */
  redis?: { url: string; nodeId: string }
}

/** gateway.yaml for the benchmark (see the module comment). */
export function benchGatewayYaml(options: PatchbayOptions): string {
  const trusted = options.trustedSources ?? []
  return [
    `domain: ${BENCH_DOMAIN}`,
    'http:',
    '  host: 127.0.0.1',
    '  port: 0',
    'sip:',
    '  host: 127.0.0.1',
    '  udpPort: 0',
    '  tcpPort: 0',
    'workers:',
    `  count: ${options.workers ?? 1}`,
    'auth:',
    '  algorithms: [MD5, SHA-256]',
    'proxy:',
    `  trustedSources: [${trusted.map((t) => `'${t}'`).join(', ')}]`,
    // The load generators all send from 127.0.0.1: exempt it from the flood and brute-force
    // bans (issue 11 defences), as an operator would allow-list a PBX.
    'security:',
    "  allowList: ['127.0.0.1']",
    'registrar:',
    '  maxExpires: 3600',
    'ice:',
    '  stun:',
    '    enabled: false',
    'store:',
    "  path: ':memory:'",
    ...(options.redis !== undefined ? ['  redis:', `    url: '${options.redis.url}'`, `    nodeId: '${options.redis.nodeId}'`] : []),
    // Call records go to a file, as deployed (in memory they would grow with every call).
    ...(options.cdrPath !== undefined ? ['cdr:', `  path: '${options.cdrPath}'`] : ['cdr:', '  enabled: false']),
    'log:',
    `  level: ${options.logLevel ?? 'warn'}`,
    '',
  ].join('\n')
}

/**
 * Writes the configuration, starts the gateway CLI and waits until it answers OPTIONS.
 * @throws Error when the gateway refuses the configuration or does not come up in 60 s
 */
export async function startPatchbay(options: PatchbayOptions = {}): Promise<BenchPeer & { configDir: string; httpPort: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-gateway-'))
  writeFileSync(join(dir, 'gateway.yaml'), benchGatewayYaml({ cdrPath: join(dir, 'cdrs.sqlite'), ...options }))
  writeFileSync(join(dir, 'users.yaml'), benchUsersYaml(options.users ?? 0))
  const argv = [process.execPath]
  if (options.cpuProfile) {
    argv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfile.dir}`, `--cpu-prof-name=${options.cpuProfile.name}`, '--cpu-prof-md')
    if (options.cpuProfile.intervalMicros) argv.push(`--cpu-prof-interval=${options.cpuProfile.intervalMicros}`)
  }
  argv.push(join(REPO_ROOT, 'gateway', 'src', 'main.ts'), '--config', dir)
  const name = options.name ?? 'patchbay'
  const proc = new PeerProcess(name, argv, { cwd: REPO_ROOT })
  const cleanup = async () => {
    // main.ts stops the gateway on SIGTERM and exits; --cpu-prof writes the profile then.
    await proc.stop(15_000)
    rmSync(dir, { recursive: true, force: true })
  }
  let port: number
  let httpPort: number
  try {
    // A gateway with workers prints its banner once every worker listens.
    const m = await proc.waitForOutput(/SIP UDP\s+[\d.]+:(\d+)/, 60_000)
    port = Number(m[1])
    httpPort = Number((await proc.waitForOutput(/softphone\s+https?:\/\/[\d.]+:(\d+)/, 5_000))[1])
    await waitForSipOptions(port, 10_000)
  } catch (e) {
    await cleanup()
    throw e
  }
  return {
    name,
    description: `bun ${argv.slice(1).map((a) => a.replace(dir, 'TMP').replace(REPO_ROOT + '/', '')).join(' ')} (users: service + ${options.users ?? 0}; trustedSources: [${(options.trustedSources ?? []).join(', ')}])`,
    port,
    httpPort,
    pid: proc.pid,
    configDir: dir,
    tail: (lines?: number) => proc.tail(lines),
    stop: cleanup,
  }
}

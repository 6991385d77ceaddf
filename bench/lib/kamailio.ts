/**
 * Kamailio 5.6 (Debian package `kamailio`) as the benchmark's reference peer, run with the
 * shared configuration in /work/shared/bench-kamailio/kamailio.cfg: a stateful proxy with
 * Record-Route and an in-memory registrar (usrloc db_mode=0), optionally with digest auth on
 * REGISTER (static password `secret123`).
 *
 * The configuration is copied into a temporary directory with
 * - its `#!substdef "!SIP_PORT!5060!g"` line rewritten to a free port (and WS_PORT likewise),
 * - its control sockets (`ctl` binrpc, `jsonrpcs` FIFO, under /run/kamailio-bench) moved
 *   into that directory, which is also its runtime directory (`-Y DIR`),
 * - with the `websocket` option (`-A WITH_WS`, SIP over WebSocket RFC 7118 on WS_PORT):
 *   `tcp_children` set to the worker count (WebSocket traffic is read by the TCP workers,
 *   not the UDP `children`), and `tcp_max_connections` (default 2048) and
 *   `tcp_connection_lifetime` (default 120 s) raised, by {@link rewriteKamailioWebSocket},
 * and started in the foreground as in the README:
 *   kamailio -f CFG -DD -E -m 2048 -M 32 -Y DIR [-A WORKERS=1] [-A WITH_AUTH] [-A WITH_WS]
 * (`-DD` no daemon but still forks workers, `-E` log to stderr, 2 GB shared memory, 32 MB
 * private memory per process).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { BenchPeer } from './bench-peer.ts'
import { PeerProcess, requireBinary } from './peer-process.ts'
import { freeUdpPorts, LOOPBACK } from './ports.ts'
import { waitForSipOptions } from './sip-ping.ts'

/** Where the shared Kamailio configuration and SIPp scenarios live. */
export const KAMAILIO_BENCH_DIR = process.env.KAMAILIO_BENCH_DIR ?? resolve(import.meta.dir, '../../../shared/bench-kamailio') // shared/ sits beside the repository

/** The static digest password of the shared config (`AUTH_PASSWORD`). */
export const KAMAILIO_AUTH_PASSWORD = 'secret123'

export interface KamailioOptions {
  /** UDP worker processes (`children`); the config's default is 4. */
  workers?: number
  /** `-A WITH_AUTH`: digest authentication on REGISTER (password secret123 for every user). */
  auth?: boolean
  /** Name in tables; default `kamailio-<workers>w`. */
  name?: string
  /** `-A WITH_WS`: SIP over WebSocket on the returned `wsPort` (see {@link rewriteKamailioWebSocket}). */
  websocket?: KamailioWebSocketOptions
}

/** TCP settings of the WebSocket listener (only used with `-A WITH_WS`). */
export interface KamailioWebSocketOptions {
  /** `tcp_max_connections`: most open TCP (WebSocket) connections; Kamailio's default is 2048. */
  maxConnections: number
  /** `tcp_connection_lifetime`, seconds an idle connection is kept; Kamailio's default is 120. */
  connectionLifetimeSeconds: number
}

/**
 * The config's `#!ifdef WITH_WS` block with `tcp_children` = `workers` and
 * `tcp_max_connections` / `tcp_connection_lifetime` set (inserted after `tcp_children`).
 * @throws Error when the config has no `tcp_children=N` line to rewrite
 */
export function rewriteKamailioWebSocket(cfg: string, workers: number, ws: KamailioWebSocketOptions): string {
  const line = /^tcp_children=\d+$/m
  if (!line.test(cfg)) throw new Error('kamailio.cfg: no `tcp_children=N` line (WITH_WS block) to rewrite')
  return cfg.replace(line, [
    `tcp_children=${workers}`,
    `tcp_max_connections=${Math.round(ws.maxConnections)}`,
    `tcp_connection_lifetime=${Math.round(ws.connectionLifetimeSeconds)}`,
  ].join('\n'))
}

/**
 * The shared config with its SIP (and WS) port and its control-socket paths rewritten.
 * @throws Error when a `#!substdef` line the benchmark relies on is missing
 */
export function rewriteKamailioConfig(cfg: string, sipPort: number, wsPort: number, runtimeDir: string): string {
  let out = cfg
  const sip = /^#!substdef "!SIP_PORT!\d+!g"$/m
  if (!sip.test(out)) throw new Error('kamailio.cfg: no `#!substdef "!SIP_PORT!5060!g"` line to rewrite')
  out = out.replace(sip, `#!substdef "!SIP_PORT!${sipPort}!g"`)
  out = out.replace(/^#!substdef "!WS_PORT!\d+!g"$/m, `#!substdef "!WS_PORT!${wsPort}!g"`)
  out = out.replaceAll('/run/kamailio-bench', runtimeDir)
  return out
}

/**
 * A TCP port of 127.0.0.1 free a moment ago, below Linux's default ephemeral range
 * (32768-60999): a kernel pick (port 0) could be the local port of one of the generator's
 * thousands of client connections (or a TIME_WAIT left by them), and Kamailio's bind fails.
 * @throws Error after 200 unlucky tries
 */
async function freeTcpListenPort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000)
    try {
      const l = Bun.listen({ hostname: LOOPBACK, port, socket: { data() {} } })
      l.stop(true)
      return port
    } catch {
      // taken: try another
    }
  }
  throw new Error(`no free TCP port found on ${LOOPBACK} in 20000-31999`)
}

/** `kamailio -v` first line (e.g. `version: kamailio 5.6.3 (x86_64/linux)`), or null. */
export function kamailioVersion(): string | null {
  try {
    const r = Bun.spawnSync([requireBinary('kamailio', 'kamailio'), '-v'])
    return r.stdout.toString().split('\n')[0]?.replace(/^version:\s*/, '').trim() || null
  } catch {
    return null
  }
}

/**
 * Starts Kamailio and waits until it answers OPTIONS on its UDP port.
 * @throws Error when kamailio is not installed (naming the apt-get command) or does not come up
 */
export async function startKamailio(options: KamailioOptions = {}): Promise<BenchPeer & { wsPort: number | null }> {
  const binary = requireBinary('kamailio', 'kamailio')
  const source = join(KAMAILIO_BENCH_DIR, 'kamailio.cfg')
  if (!existsSync(source)) throw new Error(`${source} not found (set KAMAILIO_BENCH_DIR)`)
  const workers = options.workers ?? 4
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-kamailio-'))
  const [sipPort, udpPick] = await freeUdpPorts(2)
  const wsPort = options.websocket ? await freeTcpListenPort() : udpPick
  const cfg = join(dir, 'kamailio.cfg')
  let text = rewriteKamailioConfig(readFileSync(source, 'utf8'), sipPort!, wsPort!, dir)
  if (options.websocket) text = rewriteKamailioWebSocket(text, workers, options.websocket)
  writeFileSync(cfg, text)
  const argv = [binary, '-f', cfg, '-DD', '-E', '-m', '2048', '-M', '32', '-Y', dir]
  if (workers !== 4) argv.push('-A', `WORKERS=${workers}`)
  if (options.auth) argv.push('-A', 'WITH_AUTH')
  if (options.websocket) argv.push('-A', 'WITH_WS')
  const name = options.name ?? `kamailio-${workers}w`
  const proc = new PeerProcess(name, argv, { cwd: dir })
  const cleanup = async () => {
    await proc.stop(5000)
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    await Promise.race([
      waitForSipOptions(sipPort!, 15_000),
      proc.exited.then((code) => {
        throw new Error(`kamailio exited with ${code} at start:\n${proc.tail(30)}`)
      }),
    ])
  } catch (e) {
    await cleanup()
    throw e
  }
  return {
    name,
    description: `kamailio ${argv.slice(1).map((a) => (a.startsWith(dir) ? a.replace(dir, 'TMP') : a)).join(' ')}`,
    port: sipPort!,
    wsPort: options.websocket ? wsPort! : null,
    pid: proc.pid,
    tail: (lines?: number) => proc.tail(lines),
    stop: cleanup,
  }
}

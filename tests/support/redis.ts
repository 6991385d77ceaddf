/**
 * redis-server (Debian package `redis-server`) as a real peer for tests: the shared location
 * store of several gateway nodes (store.redis). It listens on 127.0.0.1 at a free port, keeps
 * nothing on disk (`--save '' --appendonly no`) and is started and stopped by the test.
 *
 *   const redis = await startRedis()
 *   afterAll(() => redis.stop())
 *   testConfig({ store: { redis: { url: redis.url, nodeId: 'a' } } })
 *
 * `stop()` then `restart()` takes Redis away and brings it back on the same port (empty, as a
 * Redis without persistence comes back), for the degraded-mode tests.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LOOPBACK, freeTcpPort, waitForPortBound } from './ports.ts'
import { PeerProcess, requireBinary } from './processes.ts'

export interface RedisPeer {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  /** The running process (null between stop() and restart()). */
  readonly process: PeerProcess | null
  /** Kills the server (no goodbye to the clients) and removes its directory; safe to call twice. */
  stop(): Promise<void>
  /** Starts the server again on the same port, empty. */
  restart(): Promise<void>
}

/**
 * Starts redis-server on a free port of 127.0.0.1 and waits until it accepts connections.
 *
 * @throws Error "redis-server not found: install with apt-get install -y redis-server (or run
 *   tests/setup/install-peers.sh)" when it is not installed; or the server's output when it
 *   does not come up within 5 s
 */
export async function startRedis(): Promise<RedisPeer> {
  const binary = requireBinary('redis-server', 'redis-server')
  const port = await freeTcpPort()
  let proc: PeerProcess | null = null
  let dir = ''
  const start = async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-redis-'))
    proc = new PeerProcess('redis-server', [binary, '--port', String(port), '--bind', LOOPBACK,
      '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no', '--loglevel', 'warning'])
    try {
      await waitForPortBound(port, 'tcp', 5_000)
    } catch (error) {
      throw new Error(`redis-server did not listen on ${port}: ${String(error)}\n--- output ---\n${(proc as PeerProcess | null)?.tail() ?? ""}`)
    }
  }
  await start()
  return {
    url: `redis://${LOOPBACK}:${port}`,
    port,
    get process() {
      return proc
    },
    async stop() {
      const p = proc
      proc = null
      if (p !== null) await p.kill(0)
      rmSync(dir, { recursive: true, force: true })
    },
    async restart() {
      if (proc !== null) throw new Error('redis-server is still running')
      await start()
    },
  }
}

/**
 * Several Patchbay gateway nodes sharing one Redis, as ONE benchmark peer (issue 14's scaling
 * curve: 1 worker, 2 workers, 2 nodes + Redis on one machine):
 *
 *   redis-server 127.0.0.1:FREE (tests/support/redis.ts: no persistence)
 *   bun gateway/src/main.ts --config TMP_A    store.redis { url, nodeId: node-a }, workers: 1
 *   bun gateway/src/main.ts --config TMP_B    store.redis { url, nodeId: node-b }, workers: 1
 *
 * Each node is a whole gateway (bench/lib/patchbay.ts) on its own free SIP UDP port of
 * 127.0.0.1 with the same users; the location service is shared through Redis (every node
 * keeps all bindings in memory and follows the others' changes on Redis pub/sub, design.md
 * "store/"). The peer's `ports` lists every node's SIP port (the benchmark splits its load
 * over them) and `pids` every process tree doing the work: each gateway AND redis-server,
 * since Redis stores and publishes every binding change for them.
 */
import type { BenchPeer } from './bench-peer.ts'
import { startPatchbay, type PatchbayOptions } from './patchbay.ts'
import { startRedis, type RedisPeer } from '../../tests/support/redis.ts'

/** Options of {@link startPatchbayNodes}: those of startPatchbay, less what the nodes set themselves. */
export type PatchbayNodesOptions = Omit<PatchbayOptions, 'redis' | 'workers' | 'cpuProfile'>

/** `node-a`, `node-b`, ... for 0, 1, ... (the `store.redis.nodeId` of each node). */
export function nodeId(index: number): string {
  return `node-${String.fromCharCode(97 + index)}`
}

/** `redis-server v=7.0.15 ...` -> `7.0.15`, or null when it cannot be read. */
function redisVersion(): string | null {
  try {
    const r = Bun.spawnSync(['redis-server', '--version'])
    return /v=([\d.]+)/.exec(r.stdout.toString())?.[1] ?? null
  } catch {
    return null
  }
}

/**
 * Starts redis-server, then `count` gateway nodes (one worker each) using it as their shared
 * location store, one after the other, each waited for until it answers OPTIONS.
 *
 * @param count number of gateway nodes, 1..26
 * @param options the nodes' common options; `name` (default `patchbay-<count>n`) names the
 *   peer, its nodes are `<name>-a`, `<name>-b`, ...
 * @returns the peer: `port`/`pid` of the first node, `ports` of every node (in node order),
 *   `pids` of every node then redis-server's; `stop()` stops the nodes, then Redis
 * @throws Error when redis-server is not installed (naming the apt-get command), or when a
 *   node does not come up (what was started is stopped first)
 */
export async function startPatchbayNodes(count: number, options: PatchbayNodesOptions = {}): Promise<BenchPeer> {
  if (!Number.isInteger(count) || count < 1 || count > 26) throw new Error(`startPatchbayNodes: count ${count} is not 1..26`)
  const name = options.name ?? `patchbay-${count}n`
  const redis: RedisPeer = await startRedis()
  const redisPid = redis.process?.pid
  const nodes: BenchPeer[] = []
  const stop = async () => {
    // Gateways first (they leave Redis cleanly on SIGTERM), then the server they share.
    await Promise.allSettled(nodes.map((n) => n.stop()))
    await redis.stop()
  }
  try {
    if (redisPid === undefined) throw new Error('redis-server exited right after start')
    for (let i = 0; i < count; i++) {
      nodes.push(await startPatchbay({ ...options, name: `${name}-${String.fromCharCode(97 + i)}`, workers: 1, redis: { url: redis.url, nodeId: nodeId(i) } }))
    }
  } catch (e) {
    await stop()
    throw e
  }
  const first = nodes[0]!
  const version = redisVersion()
  return {
    name,
    description: `${count} gateway nodes (1 worker each, store.redis nodeId ${nodes.map((_, i) => nodeId(i)).join('/')}) sharing ` +
      `redis-server${version ? ` ${version}` : ''} ${redis.url.replace('redis://', '')} (pid ${redisPid}); each node: ${first.description}`,
    port: first.port,
    pid: first.pid,
    ports: nodes.map((n) => n.port),
    pids: [...nodes.map((n) => n.pid), redisPid!],
    tail: (lines?: number) => [
      ...nodes.map((n, i) => `--- ${nodeId(i)} (udp ${n.port}) ---\n${n.tail(lines)}`),
      `--- redis-server ---\n${redis.process?.tail(lines) ?? '(stopped)'}`,
    ].join('\n'),
    stop,
  }
}

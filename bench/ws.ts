/**
 * SIP over WebSocket benchmark (`bun run bench:ws`): many WebSocket connections (RFC 7118),
 * each registering one user with digest authentication, for the Patchbay gateway (`/sip` on
 * its HTTP port) and Kamailio 5.6's `websocket` module (`-A WITH_AUTH -A WITH_WS`, 4 workers,
 * then 1 worker: `children` and `tcp_children`), in the same run on the same machine.
 *
 *   bun bench/ws.ts [--quick] [--only patchbay|kamailio-4w|kamailio-1w|kamailio[,..]]
 *                   [--connections 10000] [--seconds 10] [--generators 2]
 *                   [--concurrency 128] [--window 256]
 *
 * Per peer (generator: bench/lib/ws-register-load.ts, `--generators` child processes of this
 * file started with `--child`, users split between them; SIP.js 0.21 headers, MD5 digest):
 * 1. idle PSS of the peer's processes (sum), then `--connections` WebSockets opened and
 *    registered (REGISTER -> 401 -> REGISTER with Authorization -> 200), `--concurrency`
 *    in flight per generator: registrations/s = connections / wall time; then, 2 s later,
 *    PSS again: PSS per registered connection = (PSS loaded - PSS idle) / connections
 *    (kB = 1024 bytes, as the kernel's smaps);
 * 2. re-registration for `--seconds` on the open connections, `--window` REGISTERs in flight
 *    per generator (binding refreshes with credentials for the last nonce: nc + 1 with
 *    qop=auth, the same nonce without qop; a 401 is answered and counted): registrations/s,
 *    and the peer's CPU (utime + stime of all its processes, /proc/PID/stat) per registration.
 * The generators' CPU is measured too (% of one core per process): the machine has 2 cores
 * shared by generator and peer, so a saturated generator caps what is measured.
 *
 * Writes bench/results/ws.json (--quick, 2,000 connections and 3 s: ws-quick.json; --only:
 * ws[-quick]-<peers>.json).
 *
 * Patchbay runs as one process (`patchbay`) and as two workers sharing the HTTP port
 * (`patchbay-2w`, `workers.count: 2`; the kernel spreads the connections over them).
 */
import { cpuSeconds, memory, processTree, ResourceMonitor, type ResourceUsage } from './lib/resource-monitor.ts'
import { GeneratorPool, runGeneratorChild, type ConnectResult, type ReregisterResult } from './lib/ws-register-load.ts'

if (process.argv.includes('--child')) {
  await runGeneratorChild()
  process.exit(0)
}

const { KAMAILIO_AUTH_PASSWORD, kamailioVersion, startKamailio } = await import('./lib/kamailio.ts')
const { BENCH_PASSWORD, startPatchbay } = await import('./lib/patchbay.ts')
const { loadAverage, machineInfo, parseFlags, printTable, ratio, selectPeers, writeResult } = await import('./lib/report.ts')

const flags = (() => {
  try {
    return parseFlags(process.argv.slice(2), {
      quick: 'flag', only: 'value', connections: 'value', seconds: 'value', generators: 'value', concurrency: 'value', window: 'value',
    })
  } catch (e) {
    console.error(`bench/ws.ts: ${(e as Error).message}`)
    process.exit(2)
  }
})()
const quick = flags.has('quick')
const CONNECTIONS = Number(flags.get('connections') ?? (quick ? 2000 : 10_000))
const SECONDS = Number(flags.get('seconds') ?? (quick ? 3 : 10))
const GENERATORS = Number(flags.get('generators') ?? 2)
const CONCURRENCY = Number(flags.get('concurrency') ?? 128)
const WINDOW = Number(flags.get('window') ?? 256)
const TIMEOUT_MS = 30_000
for (const [name, v] of [['connections', CONNECTIONS], ['seconds', SECONDS], ['generators', GENERATORS], ['concurrency', CONCURRENCY], ['window', WINDOW]] as const) {
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`--${name} must be a positive integer`)
    process.exit(2)
  }
}
if (BENCH_PASSWORD !== KAMAILIO_AUTH_PASSWORD) throw new Error('bench users and Kamailio must share one password')

/** A peer as bench:ws starts it: the process tree to measure and its SIP WebSocket URL. */
interface WsPeer {
  name: string
  description: string
  pid: number
  url: string
  tail(lines?: number): string
  stop(): Promise<void>
}

const kamailioWs = { maxConnections: CONNECTIONS + 1024, connectionLifetimeSeconds: 3600 }
const PEERS: Array<{ name: string; start(): Promise<WsPeer> }> = [
  ...[1, 2].map((workers) => ({
    name: workers === 1 ? 'patchbay' : `patchbay-${workers}w`,
    start: async (): Promise<WsPeer> => {
      const p = await startPatchbay({ users: CONNECTIONS, workers, name: workers === 1 ? 'patchbay' : `patchbay-${workers}w` })
      return { ...p, url: `ws://127.0.0.1:${p.httpPort}/sip` }
    },
  })),
  ...[4, 1].map((workers) => ({
    name: `kamailio-${workers}w`,
    start: async (): Promise<WsPeer> => {
      const k = await startKamailio({ workers, auth: true, websocket: kamailioWs })
      return { ...k, url: `ws://127.0.0.1:${k.wsPort}/` }
    },
  })),
]

/** CPU of the generator processes over a phase. */
interface GeneratorCpu {
  /** All generator processes together, % of one core. */
  totalPercent: number
  /** The busiest generator process, % of one core (near 100: that process was the limit). */
  maxProcessPercent: number
}

interface PeerRun {
  name: string
  description?: string
  error?: string
  connect?: ConnectResult & { perSecond: number; peerCpuSeconds: number; peerCpuMicrosPerRegistration: number; generatorCpu: GeneratorCpu; usage: ResourceUsage }
  memory?: { idlePssMB: number; loadedPssMB: number; loadedRssMB: number; pssKBPerConnection: number; processes: number }
  reregister?: ReregisterResult & { perSecond: number; peerCpuSeconds: number; peerCpuMicrosPerRegistration: number; generatorCpu: GeneratorCpu; usage: ResourceUsage; stillRegistered: number }
}

const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits

function generatorCpu(pids: number[], before: number[], wallSeconds: number): GeneratorCpu {
  const used = pids.map((p, i) => cpuSeconds([p]) - before[i]!)
  return {
    totalPercent: round((used.reduce((a, b) => a + b, 0) / wallSeconds) * 100),
    maxProcessPercent: round((Math.max(...used) / wallSeconds) * 100),
  }
}

let activePool: GeneratorPool | null = null
let activePeer: WsPeer | null = null

async function runPeer(spec: (typeof PEERS)[number]): Promise<PeerRun> {
  console.log(`\n== ${spec.name}`)
  const peer = await spec.start()
  activePeer = peer
  const pool = new GeneratorPool(GENERATORS, [process.execPath, import.meta.path, '--child'])
  activePool = pool
  try {
    await pool.registered() // the children are up and listening
    await Bun.sleep(1000)
    const idle = memory(processTree(peer.pid))
    const monitor = new ResourceMonitor(peer.pid)

    let genBefore = pool.pids.map((p) => cpuSeconds([p]))
    let peerBefore = cpuSeconds(processTree(peer.pid))
    let mark = monitor.begin()
    const conn = await pool.connect(peer.url, CONNECTIONS, CONCURRENCY, TIMEOUT_MS)
    let usage = monitor.end(mark)
    let peerCpu = cpuSeconds(processTree(peer.pid)) - peerBefore
    const connect = {
      ...conn,
      perSecond: Math.round(conn.registered / conn.seconds),
      peerCpuSeconds: round(peerCpu, 3),
      peerCpuMicrosPerRegistration: conn.registered > 0 ? Math.round((peerCpu / conn.registered) * 1e6) : 0,
      generatorCpu: generatorCpu(pool.pids, genBefore, usage.wallSeconds),
      usage,
    }
    console.log(`connect+register: ${conn.registered} registered, ${conn.failed} failed in ${round(conn.seconds, 2)} s = ${connect.perSecond}/s; ` +
      `peer CPU ${usage.cpuPercent} %, generators ${connect.generatorCpu.totalPercent} % (busiest ${connect.generatorCpu.maxProcessPercent} %)` +
      `${conn.firstError ? `; first error: ${conn.firstError}` : ''}`)

    await Bun.sleep(2000)
    const pids = processTree(peer.pid)
    const loaded = memory(pids)
    const mem = {
      idlePssMB: round(idle.pss / 1e6),
      loadedPssMB: round(loaded.pss / 1e6),
      loadedRssMB: round(loaded.rss / 1e6),
      pssKBPerConnection: conn.registered > 0 ? round((loaded.pss - idle.pss) / 1024 / conn.registered, 2) : 0,
      processes: pids.length,
    }
    console.log(`PSS idle ${mem.idlePssMB} MB, with ${conn.registered} connections ${mem.loadedPssMB} MB = ${mem.pssKBPerConnection} kB per connection (${mem.processes} processes)`)

    genBefore = pool.pids.map((p) => cpuSeconds([p]))
    peerBefore = cpuSeconds(processTree(peer.pid))
    mark = monitor.begin()
    const rereg = await pool.reregister(SECONDS, WINDOW, TIMEOUT_MS)
    usage = monitor.end(mark)
    peerCpu = cpuSeconds(processTree(peer.pid)) - peerBefore
    const reregister = {
      ...rereg,
      perSecond: Math.round(rereg.completed / rereg.seconds),
      peerCpuSeconds: round(peerCpu, 3),
      peerCpuMicrosPerRegistration: rereg.completed > 0 ? Math.round((peerCpu / rereg.completed) * 1e6) : 0,
      generatorCpu: generatorCpu(pool.pids, genBefore, usage.wallSeconds),
      usage,
      stillRegistered: await pool.registered(),
    }
    monitor.close()
    console.log(`re-register: ${rereg.completed} in ${round(rereg.seconds, 2)} s = ${reregister.perSecond}/s (${rereg.challenged} challenged, ${rereg.failed} failed); ` +
      `peer CPU ${usage.cpuPercent} % = ${reregister.peerCpuMicrosPerRegistration} µs/registration, generators ${reregister.generatorCpu.totalPercent} % ` +
      `(busiest ${reregister.generatorCpu.maxProcessPercent} %), machine ${usage.machineCpuPercent} %; ${reregister.stillRegistered} still registered` +
      `${rereg.firstError ? `; first error: ${rereg.firstError}` : ''}`)
    return { name: spec.name, description: peer.description, connect, memory: mem, reregister }
  } catch (e) {
    console.error(`${spec.name}: ${(e as Error).message}\n${peer.tail(20)}`)
    return { name: spec.name, description: peer.description, error: (e as Error).message }
  } finally {
    await pool.stop()
    activePool = null
    await peer.stop()
    activePeer = null
  }
}

process.on('SIGINT', () => {
  console.log('\ninterrupted')
  void Promise.allSettled([activePool?.stop(), activePeer?.stop()]).then(() => process.exit(130))
})

const only = flags.get('only')
const peers = selectPeers(PEERS, only)
const loadStart = loadAverage()
console.log(`bench:ws${quick ? ' (quick)' : ''}: ${CONNECTIONS.toLocaleString('en-US')} SIP WebSocket connections, each REGISTER -> 401 -> ` +
  `REGISTER with digest (MD5) -> 200, then ${SECONDS} s of re-registration; ${GENERATORS} generator processes, ` +
  `${CONCURRENCY} connects and ${WINDOW} re-REGISTERs in flight each`)
console.log(`load average at start: ${loadStart.join(' ')} (${machineInfo().cpus} CPUs, shared machine)`)
const results: PeerRun[] = []
for (const spec of peers) {
  try {
    results.push(await runPeer(spec))
  } catch (e) {
    console.error(`${spec.name}: ${(e as Error).message}`)
    results.push({ name: spec.name, error: (e as Error).message })
  }
  await Bun.sleep(1000)
}
const loadEnd = loadAverage()

console.log(`\nResults (${CONNECTIONS.toLocaleString('en-US')} connections; re-register ${SECONDS} s; CPU µs per registration = peer utime+stime ` +
  `of all its processes / re-registrations; PSS summed over the peer's processes, kB = 1024 bytes; gen CPU = generators' CPU during ` +
  `re-registration, % of one core; machine CPU = every process (2 cores = 200 %); load average at start ${loadStart.join(' ')}, at end ${loadEnd.join(' ')})`)
printTable(results.map((r) => ({
  peer: r.name,
  connections: r.error ? 'error' : r.connect?.registered ?? null,
  'connect+reg/s': r.connect?.perSecond ?? null,
  're-reg/s': r.reregister?.perSecond ?? null,
  'CPU µs/reg': r.reregister?.peerCpuMicrosPerRegistration ?? null,
  'PSS MB': r.memory?.loadedPssMB ?? null,
  'PSS kB/conn': r.memory?.pssKBPerConnection ?? null,
  'peer CPU %': r.reregister?.usage.cpuPercent ?? null,
  'gen CPU %': r.reregister?.generatorCpu.totalPercent ?? null,
  'machine CPU %': r.reregister?.usage.machineCpuPercent ?? null,
  failed: r.connect && r.reregister ? r.connect.failed + r.reregister.failed : null,
  challenged: r.reregister?.challenged ?? null,
})))

const byName = new Map(results.filter((r) => !r.error).map((r) => [r.name, r]))
const metrics = {
  connectPerSecond: (r?: PeerRun) => r?.connect?.perSecond,
  reregisterPerSecond: (r?: PeerRun) => r?.reregister?.perSecond,
  cpuMicrosPerRegistration: (r?: PeerRun) => r?.reregister?.peerCpuMicrosPerRegistration,
  pssMB: (r?: PeerRun) => r?.memory?.loadedPssMB,
  pssKBPerConnection: (r?: PeerRun) => r?.memory?.pssKBPerConnection,
}
const ratios: Record<string, Record<string, number | null>> = {}
for (const k of ['kamailio-4w', 'kamailio-1w']) {
  ratios[`patchbay/${k}`] = Object.fromEntries(Object.entries(metrics).map(([m, f]) => [m, ratio(f(byName.get('patchbay')), f(byName.get(k)))]))
}
if (byName.has('patchbay') && (byName.has('kamailio-4w') || byName.has('kamailio-1w'))) {
  console.log('\nRatios (patchbay / kamailio; rates: higher is better for patchbay, CPU and memory: lower is)')
  printTable(Object.entries(ratios).map(([k, v]) => ({
    ratio: k, 'connect+reg/s': v.connectPerSecond, 're-reg/s': v.reregisterPerSecond, 'CPU µs/reg': v.cpuMicrosPerRegistration,
    'PSS MB': v.pssMB, 'PSS kB/conn': v.pssKBPerConnection,
  })))
}
const file = writeResult(`ws${quick ? '-quick' : ''}${only === undefined ? '' : `-${only.replace(/[^A-Za-z0-9,-]/g, '').replaceAll(',', '+')}`}`, {
  benchmark: 'ws', date: new Date().toISOString(), quick, only: only ?? null,
  machine: machineInfo(), kamailio: kamailioVersion(),
  loadAverage: { start: loadStart, end: loadEnd },
  settings: {
    connections: CONNECTIONS, reregisterSeconds: SECONDS, generators: GENERATORS, connectConcurrencyPerGenerator: CONCURRENCY,
    reregisterWindowPerGenerator: WINDOW, timeoutMs: TIMEOUT_MS, kamailioWebSocket: kamailioWs,
    registration: 'REGISTER -> 401 -> REGISTER with Authorization (MD5) -> 200; re-register: same Call-ID, CSeq+1, last nonce (nc+1 with qop=auth)',
    pssKB: 'kB = 1024 bytes; per connection = (PSS loaded - PSS idle) / registered connections',
  },
  ratios,
  peers: results,
})
console.log(`wrote ${file}`)

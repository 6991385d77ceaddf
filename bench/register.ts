/**
 * Registrar benchmark (`bun run bench:register`): REGISTER with digest authentication at
 * rising rates, for Kamailio 5.6 (`-A WITH_AUTH`, 4 workers, then 1 worker) and the Patchbay
 * gateway in the same run, on the same machine.
 *
 * Peers (issue 14's scaling curve for the gateway): `patchbay` (1 worker), `patchbay-2w` (2
 * workers), `patchbay-2n` (2 gateway nodes of 1 worker sharing one redis-server, store.redis;
 * bench/lib/patchbay-nodes.ts: each step runs one SIPp client per node in parallel, with half
 * the rate, half the registrations and its own half of the users, node A the first half; the
 * results are summed, response time = mean weighted by successful registrations; CPU and
 * memory = both gateways + redis-server).
 *
 *   bun bench/register.ts [--quick] [--only patchbay|patchbay-2w|patchbay-2n|kamailio-4w|kamailio-1w|kamailio[,..]]
 *                         [--users 10000] [--step-seconds N] [--retries N]
 *   bun bench/register.ts --profile [--rate 4000] [--seconds 10] [--no-perf]
 *
 * One "registration" is the shared register_auth.xml: REGISTER -> 401 (WWW-Authenticate) ->
 * REGISTER with Authorization -> 200, i.e. two SIP transactions. The users come from a CSV
 * (`SEQUENTIAL`, then `user000000;secret123` ...), cycled through; since the gateway lets a
 * user change only its own AOR's bindings (RFC 3261 §10.3 step 3), every REGISTER
 * authenticates as its own AOR user: the scenario is copied with `[authentication]` replaced
 * by `[authentication username="[field0]" password="[field1]"]` (the fields form, which
 * SIPp 3.6 does expand), and Kamailio runs the very same copy (its static password accepts
 * any user name). The gateway offers MD5 first (`auth.algorithms: [MD5, SHA-256]`): SIPp 3.6
 * answers only the first challenge and aborts on SHA-256.
 *
 * The load comes from SIPP_CLIENTS SIPp processes at once (bench/lib/sipp.ts), each with its
 * share of the rate and of the users, spread over the peer's nodes.
 *
 * Steps: 2,000 ... 25,000 registrations/s, `--step-seconds` each (4 s; `--quick`: 3 steps of
 * 2 s), pass = < 0.1 % failed and >= 95 % of the target achieved. Writes
 * bench/results/register.json (--quick: register-quick.json; --only: register[-quick]-<peers>.json).
 *
 * `--profile` runs the gateway alone under `bun --cpu-prof` (and `perf` when installed) at a
 * fixed rate and lists where it spends its time (bench/lib/profile-gateway.ts;
 * bench/results/register-profile.*).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { BenchPeer } from './lib/bench-peer.ts'
import { KAMAILIO_AUTH_PASSWORD, KAMAILIO_BENCH_DIR, kamailioVersion, startKamailio } from './lib/kamailio.ts'
import { BENCH_PASSWORD, benchUserName, startPatchbay } from './lib/patchbay.ts'
import { startPatchbayNodes } from './lib/patchbay-nodes.ts'
import { searchPeer, type PeerResult, type PeerSpec, type PeerWorkload } from './lib/peer-search.ts'
import { profileGateway } from './lib/profile-gateway.ts'
import { loadAverage, machineInfo, parseFlags, printTable, ratio, writeResult, selectPeers } from './lib/report.ts'
import { combineSippClientResults, runSippClient, sippVersion } from './lib/sipp.ts'
import { SIPP_CLIENTS, share } from './lib/sipp.ts'
import { raiseUdpReceiveBuffers } from './lib/udp-buffers.ts'

/** Issue target for the gateway, digest registrations/s. */
const TARGET = 8000

const flags = (() => {
  try {
    return parseFlags(process.argv.slice(2), {
      quick: 'flag', only: 'value', users: 'value', 'step-seconds': 'value', retries: 'value',
      profile: 'flag', rate: 'value', seconds: 'value', 'no-perf': 'flag',
    })
  } catch (e) {
    console.error(`bench/register.ts: ${(e as Error).message}`)
    process.exit(2)
  }
})()
const quick = flags.has('quick')
const USERS = Number(flags.get('users') ?? 10_000)
if (BENCH_PASSWORD !== KAMAILIO_AUTH_PASSWORD) throw new Error('bench users and Kamailio must share one password')

const PEERS: PeerSpec[] = [
  { name: 'kamailio-4w', start: () => startKamailio({ workers: 4, auth: true }) },
  { name: 'kamailio-1w', start: () => startKamailio({ workers: 1, auth: true }) },
  { name: 'patchbay', start: () => startPatchbay({ users: USERS }) },
  { name: 'patchbay-2w', start: () => startPatchbay({ users: USERS, workers: 2, name: 'patchbay-2w' }) },
  { name: 'patchbay-2n', start: () => startPatchbayNodes(2, { users: USERS }) },
]

/** register_auth.xml with per-user digest credentials from CSV fields 0 and 1 (see the module comment). */
function scenarioWithCsvCredentials(dir: string): string {
  const source = readFileSync(join(KAMAILIO_BENCH_DIR, 'register_auth.xml'), 'utf8')
  // The keyword alone on its line (the file's comment mentions it too).
  const keyword = /^(\s*)\[authentication\]\s*$/m
  if (!keyword.test(source)) throw new Error('register_auth.xml: no [authentication] line to rewrite')
  const file = join(dir, 'register_auth_csv.xml')
  writeFileSync(file, source.replace(keyword, '$1[authentication username="[field0]" password="[field1]"]'))
  return file
}

/** The CSV of users `from` .. `to - 1` (SIPp cycles through them). */
function usersCsv(from: number, to: number): string {
  const lines = ['SEQUENTIAL']
  for (let i = from; i < to; i++) lines.push(`${benchUserName(i)};${BENCH_PASSWORD}`)
  return lines.join('\n') + '\n'
}


const only = flags.get('only')
const peers = selectPeers(PEERS, only)
const rates = quick ? [2000, 4000, 8000] : [2000, 4000, 6000, 8000, 10000, 12000, 14000, 16000, 18000, 20000, 22500, 25000]
const stepSeconds = Number(flags.get('step-seconds') ?? (quick ? 2 : 4))
const retries = Number(flags.get('retries') ?? (quick ? 0 : 1))
const warmup = quick ? { rate: 500, seconds: 1 } : { rate: 1000, seconds: 2 }
const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-register-'))
const scenario = scenarioWithCsvCredentials(dir)

/**
 * One SIPp client per node of the peer, in parallel, node i with share i of the rate, the
 * registrations and the users (node A the first half...); one node: one client, all users.
 */
const workload = async (peer: BenchPeer): Promise<PeerWorkload> => {
  // SIPP_CLIENTS SIPp processes in all, spread over the peer's nodes (see SIPP_CLIENTS).
  const ports = peer.ports ?? [peer.port]
  const perPort = Math.max(1, Math.round(SIPP_CLIENTS / ports.length))
  const targets = ports.flatMap((port) => Array.from({ length: perPort }, () => port))
  const n = targets.length
  if (USERS < n) throw new Error(`--users ${USERS}: fewer users than the ${n} SIPp clients`)
  const csvs: string[] = []
  for (let i = 0, from = 0; i < n; from += share(USERS, n, i), i++) csvs.push(usersCsv(from, from + share(USERS, n, i)))
  return {
    step: async (rate, calls) => combineSippClientResults(await Promise.all(targets.map((port, i) => {
      const r = Math.max(1, share(rate, n, i))
      const c = Math.max(1, share(calls, n, i))
      return runSippClient({
        remote: `127.0.0.1:${port}`, scenarioFile: scenario, csv: csvs[i]!, rate: r, calls: c,
        killAfterMs: (c / r) * 1000 + 30_000,
      })
    }))),
    cleanup: async () => {},
  }
}

process.on('SIGINT', () => {
  console.log('\ninterrupted')
  rmSync(dir, { recursive: true, force: true })
  process.exit(130)
})

if (flags.has('profile')) {
  try {
    await profileGateway({
      name: 'register-profile', unit: 'registrations', gateway: { users: USERS }, prepare: workload,
      rate: Number(flags.get('rate') ?? 4000), seconds: Number(flags.get('seconds') ?? 10), noPerf: flags.has('no-perf'),
    })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  process.exit(0)
}

const buffers = raiseUdpReceiveBuffers()
const loadStart = loadAverage()
console.log(`bench:register${quick ? ' (quick)' : ''}: REGISTER -> 401 -> REGISTER with digest (MD5) -> 200 over UDP, ` +
  `${USERS.toLocaleString('en-US')} users, ${stepSeconds} s per step, pass = < 0.1 % failed and >= 95 % of the target rate; ` +
  `${retries} retry per failing step`)
console.log(`${buffers.message}\nload average at start: ${loadStart.join(' ')} (${machineInfo().cpus} CPUs, shared machine)`)
const results: PeerResult[] = []
try {
  for (const spec of peers) {
    results.push(await searchPeer(spec, { prepare: workload, rates, stepSeconds, retries, pauseMs: 1500, warmup, unit: 'registrations' }))
  }
} finally {
  buffers.restore()
  rmSync(dir, { recursive: true, force: true })
}
const loadEnd = loadAverage()

const byName = new Map(results.map((r) => [r.name, r]))
const pb = byName.get('patchbay')
console.log(`\nResults (digest registrations/s with < 0.1 % failed; each = 2 SIP transactions; CPU in % of one core, machine CPU = all processes; ` +
  `load average at start ${loadStart.join(' ')}, at end ${loadEnd.join(' ')})`)
printTable(results.map((r) => {
  const u = r.best?.usage
  return {
    peer: r.name,
    'max reg/s': r.error ? 'error' : r.maxRate,
    'CPU %': u?.cpuPercent ?? null,
    'machine CPU %': u?.machineCpuPercent ?? null,
    'CPU µs/reg': u && r.best ? Math.round((u.cpuSeconds / r.best.successful) * 1e6) : null,
    'RSS MB': u?.rssMB ?? null,
    'PSS MB': u?.pssMB ?? null,
    'resp ms': r.best?.responseTimeMs ?? null,
    retrans: r.best?.retransmissions ?? null,
    'load 1m before': r.loadAverageBefore[0] ?? null,
    'load 1m at max': u?.loadAverage1m ?? null,
    'stopped because': r.error ?? r.stoppedBecause,
  }
}))
const ratios = {
  patchbayVsKamailio1w: ratio(pb?.maxRate, byName.get('kamailio-1w')?.maxRate),
  patchbayVsKamailio4w: ratio(pb?.maxRate, byName.get('kamailio-4w')?.maxRate),
}
if (pb) {
  console.log(`\npatchbay / kamailio-1w: ${ratios.patchbayVsKamailio1w ?? '-'}    patchbay / kamailio-4w: ${ratios.patchbayVsKamailio4w ?? '-'}`)
  console.log(`target >= ${TARGET.toLocaleString('en-US')} registrations/s: ${pb.maxRate >= TARGET ? 'MET' : 'NOT MET'} (${pb.maxRate.toLocaleString('en-US')})` +
    `${quick ? ' (quick run: rates stop at 8,000, so not a verdict)' : ''}`)
}
console.log('(RSS sums every process: Kamailio\'s workers share one 2 GB shm pool, so compare PSS.)')
const file = writeResult(`register${quick ? '-quick' : ''}${only === undefined ? '' : `-${only.replace(/[^A-Za-z0-9,-]/g, '').replaceAll(',', '+')}`}`, {
  benchmark: 'register', date: new Date().toISOString(), quick, only: only ?? null,
  machine: machineInfo(), sipp: sippVersion(), kamailio: kamailioVersion(),
  loadAverage: { start: loadStart, end: loadEnd },
  udpBuffers: { applied: buffers.applied, before: buffers.before, during: buffers.during, message: buffers.message },
  settings: {
    scenario: 'register_auth.xml with [authentication username="[field0]" password="[field1]"], CSV userNNNNNN;secret123 split over the SIPp clients',
    users: USERS, rates, stepSeconds, retries, warmup, maxFailedPercent: 0.1, minAchievedRatio: 0.95,
    sippFlags: '-buff_size 4194304 -ci 127.0.0.1 -default_behaviors all,-abortunexp -nostdin -trace_stat -recv_timeout 10000',
    severalNodes: 'one SIPp client per node in parallel (rate, registrations and users split evenly; counters summed, ' +
      'response time weighted by successful registrations; CPU/memory of every node + redis-server)',
  },
  target: { registrationsPerSecond: TARGET, met: pb ? pb.maxRate >= TARGET : null },
  ratios,
  peers: results,
})
console.log(`wrote ${file}`)

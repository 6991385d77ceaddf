/**
 * Proxy benchmark (`bun run bench:proxy`): SIPp UAC -> peer -> SIPp UAS over UDP at rising
 * call rates, for Kamailio 5.6 (4 workers, then 1 worker) and the Patchbay gateway in the
 * same run, on the same machine.
 *
 *   bun bench/proxy.ts [--quick] [--only patchbay|kamailio-4w|kamailio-1w|kamailio[,..]]
 *                      [--step-seconds N] [--retries N]
 *   bun bench/proxy.ts --profile [--rate 1500] [--seconds 10] [--no-perf]
 *
 * For each peer: SIPp's built-in `uas` is registered as AOR `service` (the shared
 * register_contact.xml), then SIPp's built-in `uac` (SIPP_CLIENTS processes, each with its share
 * of the rate, from as many source ports) runs at 500, 1000, 1500, ...
 * calls/s, each step `--step-seconds` long (6 s; `--quick`: 3 steps of 2 s). A call is
 * INVITE/100/180/200/ACK/BYE/200 through the proxy (stateful, Record-Route). The result is the
 * highest rate with < 0.1 % failed calls and >= 95 % of the target achieved (bench/lib/rate-search.ts),
 * with the peer's CPU (% of one core, all its processes) and memory at that rate.
 *
 * Kamailio runs the shared config (/work/shared/bench-kamailio/kamailio.cfg): no
 * authentication on calls. The gateway runs as a subprocess of the real CLI with
 * `proxy.trustedSources: ['127.0.0.1']`, so it does not challenge SIPp either: the same work.
 *
 * `--profile` runs the gateway alone under `bun --cpu-prof` at a fixed rate and prints the
 * functions with the most self time during the load (bench/results/proxy-profile.json, the
 * raw .cpuprofile and Bun's .md summary next to it). Bun's profiler samples the JS thread's
 * wall time, so a call that gets descheduled (UDP send waking SIPp on a 2-core machine)
 * looks expensive; when `perf` is installed it also samples on-CPU time of every thread and
 * the kernel (bench/lib/perf-record.ts) for the other half of the picture.
 *
 * Writes bench/results/proxy.json (--quick: proxy-quick.json; --only: proxy[-quick]-<peers>.json). Needs root for the UDP buffer sysctl (bench/lib/udp-buffers.ts).
 */
import { join } from 'node:path'
import type { BenchPeer } from './lib/bench-peer.ts'
import { KAMAILIO_BENCH_DIR, kamailioVersion, startKamailio } from './lib/kamailio.ts'
import { startPatchbay } from './lib/patchbay.ts'
import { searchPeer, type PeerResult, type PeerSpec, type PeerWorkload } from './lib/peer-search.ts'
import { profileGateway } from './lib/profile-gateway.ts'
import { loadAverage, machineInfo, parseFlags, printTable, ratio, writeResult, selectPeers } from './lib/report.ts'
import { registerContact, runSippClient, sippVersion, startSippUas } from './lib/sipp.ts'
import { SIPP_CLIENTS, combineSippClientResults, share } from './lib/sipp.ts'
import { raiseUdpReceiveBuffers } from './lib/udp-buffers.ts'

/** Issue target for the gateway, calls/s. */
const TARGET = 2500
const REGISTER_CONTACT = join(KAMAILIO_BENCH_DIR, 'register_contact.xml')

const flags = (() => {
  try {
    return parseFlags(process.argv.slice(2), {
      quick: 'flag', only: 'value', profile: 'flag', rate: 'value', seconds: 'value', 'step-seconds': 'value', retries: 'value', 'no-perf': 'flag',
    })
  } catch (e) {
    console.error(`bench/proxy.ts: ${(e as Error).message}`)
    process.exit(2)
  }
})()
const quick = flags.has('quick')

const PEERS: PeerSpec[] = [
  { name: 'kamailio-4w', start: () => startKamailio({ workers: 4 }) },
  { name: 'kamailio-1w', start: () => startKamailio({ workers: 1 }) },
  { name: 'patchbay', start: () => startPatchbay({ trustedSources: ['127.0.0.1'] }) },
  { name: 'patchbay-2w', start: () => startPatchbay({ trustedSources: ['127.0.0.1'], workers: 2, name: 'patchbay-2w' }) },
]

/**
 * SIPp's UAS registered as `service` at the peer; each step runs SIPP_CLIENTS `sipp -sn uac`
 * processes at once, each with its share of the rate (several source ports: see SIPP_CLIENTS).
 */
async function callWorkload(peer: BenchPeer): Promise<PeerWorkload> {
  const uas = await startSippUas()
  const remote = `127.0.0.1:${peer.port}`
  try {
    await registerContact(remote, REGISTER_CONTACT, 'service', `127.0.0.1:${uas.port}`)
  } catch (e) {
    await uas.stop()
    throw e
  }
  return {
    step: async (rate, calls) => combineSippClientResults(await Promise.all(Array.from({ length: SIPP_CLIENTS }, (_, i) => {
      const r = Math.max(1, share(rate, SIPP_CLIENTS, i))
      const c = Math.max(1, share(calls, SIPP_CLIENTS, i))
      return runSippClient({ remote, builtin: 'uac', service: 'service', rate: r, calls: c, killAfterMs: (c / r) * 1000 + 30_000 })
    }))),
    cleanup: () => uas.stop(),
  }
}

async function runSearch(): Promise<void> {
  const peers = selectPeers(PEERS, flags.get('only'))
  const rates = quick ? [500, 1000, 2000] : [500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500, 5000, 5500, 6000, 7000, 8000]
  const stepSeconds = Number(flags.get('step-seconds') ?? (quick ? 2 : 6))
  const retries = Number(flags.get('retries') ?? (quick ? 0 : 1))
  const warmup = quick ? { rate: 200, seconds: 1 } : { rate: 300, seconds: 2 }
  const buffers = raiseUdpReceiveBuffers()
  const loadStart = loadAverage()
  console.log(`bench:proxy${quick ? ' (quick)' : ''}: SIPp uac -> peer -> SIPp uas over UDP, ${stepSeconds} s per step, ` +
    `pass = < 0.1 % failed calls and >= 95 % of the target rate; ${retries} retry per failing step`)
  console.log(`${buffers.message}\nload average at start: ${loadStart.join(' ')} (${machineInfo().cpus} CPUs, shared machine)`)
  const results: PeerResult[] = []
  try {
    for (const spec of peers) {
      results.push(await searchPeer(spec, {
        prepare: callWorkload, rates, stepSeconds, retries, pauseMs: 1500, warmup, unit: 'calls',
      }))
    }
  } finally {
    buffers.restore()
  }
  const loadEnd = loadAverage()

  const byName = new Map(results.map((r) => [r.name, r]))
  const pb = byName.get('patchbay')
  console.log(`\nResults (calls/s with < 0.1 % failed calls; CPU in % of one core, machine CPU = all processes; load average at start ${loadStart.join(' ')}, at end ${loadEnd.join(' ')})`)
  printTable(results.map((r) => {
    const u = r.best?.usage
    return {
      peer: r.name,
      'max calls/s': r.error ? 'error' : r.maxRate,
      'CPU %': u?.cpuPercent ?? null,
      'machine CPU %': u?.machineCpuPercent ?? null,
      'CPU µs/call': u && r.best ? Math.round((u.cpuSeconds / r.best.successful) * 1e6) : null,
      'RSS MB': u?.rssMB ?? null,
      'PSS MB': u?.pssMB ?? null,
      'resp ms': r.best?.responseTimeMs ?? null,
      retrans: r.best?.retransmissions ?? null,
      'load 1m before': r.loadAverageBefore[0] ?? null,
      'load 1m at max': u?.loadAverage1m ?? null,
      'stopped because': (r.error ?? r.stoppedBecause).slice(0, 80),
    }
  }))
  const ratios = {
    patchbayVsKamailio1w: ratio(pb?.maxRate, byName.get('kamailio-1w')?.maxRate),
    patchbayVsKamailio4w: ratio(pb?.maxRate, byName.get('kamailio-4w')?.maxRate),
  }
  if (pb) {
    console.log(`\npatchbay / kamailio-1w: ${ratios.patchbayVsKamailio1w ?? '-'}    patchbay / kamailio-4w: ${ratios.patchbayVsKamailio4w ?? '-'}`)
    console.log(`target >= ${TARGET.toLocaleString('en-US')} calls/s: ${pb.maxRate >= TARGET ? 'MET' : 'NOT MET'} (${pb.maxRate.toLocaleString('en-US')})` +
      `${quick ? ' (quick run: rates stop at 2,000, so not a verdict)' : ''}`)
  }
  console.log('(RSS sums every process: Kamailio\'s workers share one 2 GB shm pool, so compare PSS.)')
  const only = flags.get('only')
  const file = writeResult(`proxy${quick ? '-quick' : ''}${only === undefined ? '' : `-${only.replace(/[^A-Za-z0-9,-]/g, '').replaceAll(',', '+')}`}`, {
    benchmark: 'proxy', date: new Date().toISOString(), quick, only: only ?? null,
    machine: machineInfo(), sipp: sippVersion(), kamailio: kamailioVersion(),
    loadAverage: { start: loadStart, end: loadEnd },
    udpBuffers: { applied: buffers.applied, before: buffers.before, during: buffers.during, message: buffers.message },
    settings: {
      scenario: `${SIPP_CLIENTS} x sipp -sn uac -s service -d 0 (rate split) -> peer -> sipp -sn uas (registered with register_contact.xml)`,
      rates, stepSeconds, retries, warmup, maxFailedPercent: 0.1, minAchievedRatio: 0.95,
      sippFlags: '-buff_size 4194304 -ci 127.0.0.1 -default_behaviors all,-abortunexp -d 0 -nostdin -trace_stat -recv_timeout 10000',
    },
    target: { callsPerSecond: TARGET, met: pb ? pb.maxRate >= TARGET : null },
    ratios,
    peers: results,
  })
  console.log(`wrote ${file}`)
}

/** --profile: the gateway alone under bun --cpu-prof (and perf) at a fixed rate. */
function runProfile(): Promise<void> {
  return profileGateway({
    name: 'proxy-profile', unit: 'calls',
    gateway: { trustedSources: ['127.0.0.1'] },
    prepare: callWorkload,
    rate: Number(flags.get('rate') ?? 1500),
    seconds: Number(flags.get('seconds') ?? 10),
    noPerf: flags.has('no-perf'),
  })
}

process.on('SIGINT', () => {
  console.log('\ninterrupted')
  process.exit(130)
})

if (flags.has('profile')) await runProfile()
else await runSearch()

/**
 * Soak benchmark (`bun run bench:soak -- --minutes N`): the gateway proxies calls at a steady
 * rate for N minutes — SIPp `uac` -> Patchbay -> SIPp `uas` over UDP, INVITE/100/180/200/
 * ACK/BYE/200, the same workload as bench:proxy — and a table shows, once a minute, the
 * gateway's RSS and PSS, its open transactions, pending INVITEs, anchored dialogs and media
 * sessions (read from its own /metrics), and the calls that minute.
 *
 *   bun bench/soak.ts [--minutes 30] [--rate R] [--idle-seconds 40]
 *
 * `--rate` defaults to half of the gateway's measured peak: the `patchbay` result in
 * bench/results/proxy.json (bench:proxy) when there is one, else half of 2,500 calls/s.
 * After the load it waits `--idle-seconds` (longer than Timer J/L/M's 32 s linger) and
 * samples again. Verdicts, as issue 11 asks:
 *   - failed calls under 0.1 % over the whole run;
 *   - transactions, pending INVITEs, dialogs and media sessions back to their idle values;
 *   - RSS growing less than 5 % between minute 5 (or the first minute of a shorter run) and
 *     the end of the load, as medians of five-minute windows (minutes 5-9 against the last
 *     five): the garbage collector's sawtooth makes single samples swing by several percent.
 *     The single-sample figure and the least-squares trend (MB/min) are printed beside it.
 * Writes bench/results/soak.json; exits 1 when a verdict fails.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { KAMAILIO_BENCH_DIR } from './lib/kamailio.ts'
import { startPatchbay } from './lib/patchbay.ts'
import { memory, processTree } from './lib/resource-monitor.ts'
import { machineInfo, parseFlags, printTable, RESULTS_DIR, writeResult } from './lib/report.ts'
import { registerContact, runSippClient, startSippUas } from './lib/sipp.ts'
import { raiseUdpReceiveBuffers } from './lib/udp-buffers.ts'

const flags = (() => {
  try {
    return parseFlags(process.argv.slice(2), { minutes: 'value', rate: 'value', 'idle-seconds': 'value' })
  } catch (e) {
    console.error(`bench/soak.ts: ${(e as Error).message}`)
    process.exit(2)
  }
})()

/** Half of the gateway's measured peak calls/s (bench:proxy), or of the 2,500 target. */
function defaultRate(): { rate: number; from: string } {
  const file = join(RESULTS_DIR, 'proxy.json')
  if (existsSync(file)) {
    try {
      const peers = (JSON.parse(readFileSync(file, 'utf8')) as { peers?: Array<{ name: string; maxRate?: number | null }> }).peers ?? []
      const peak = peers.find((p) => p.name === 'patchbay')?.maxRate
      if (typeof peak === 'number' && peak > 0) return { rate: Math.round(peak / 2), from: `half of bench:proxy's peak ${peak} calls/s` }
    } catch {
      // fall through
    }
  }
  return { rate: 1250, from: 'half of the 2,500 calls/s target (no bench/results/proxy.json)' }
}

/** The gauges of interest from the gateway's /metrics text. */
async function scrape(httpPort: number): Promise<{ transactions: number; pendingInvites: number; dialogs: number; mediaSessions: number }> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text()
  const sum = (re: RegExp) => {
    let total = 0
    for (const m of text.matchAll(re)) total += Number(m[1])
    return total
  }
  return {
    transactions: sum(/^patchbay_sip_transactions\{[^}]*\} (\S+)$/gm),
    pendingInvites: sum(/^patchbay_sip_proxy_pending_invites (\S+)$/gm),
    dialogs: sum(/^patchbay_media_anchored_dialogs (\S+)$/gm),
    mediaSessions: sum(/^patchbay_media_sessions (\S+)$/gm),
  }
}

const minutes = Number(flags.get('minutes') ?? 30)
const idleSeconds = Number(flags.get('idle-seconds') ?? 40)
const def = defaultRate()
const rate = Number(flags.get('rate') ?? def.rate)
if (!(minutes > 0) || !(rate > 0) || !(idleSeconds >= 0)) {
  console.error('bench/soak.ts: --minutes and --rate must be positive numbers')
  process.exit(2)
}

const buffers = raiseUdpReceiveBuffers()
console.log(`bench:soak: ${minutes} min at ${rate} calls/s (${flags.has('rate') ? 'from --rate' : def.from}); UDP buffers: ${JSON.stringify(buffers)}`)
const gateway = await startPatchbay({ trustedSources: ['127.0.0.1'] })
const uas = await startSippUas()
const remote = `127.0.0.1:${gateway.port}`
const rows: Array<Record<string, string | number>> = []
let created = 0
let failed = 0
try {
  await registerContact(remote, join(KAMAILIO_BENCH_DIR, 'register_contact.xml'), 'service', `127.0.0.1:${uas.port}`)
  const sample = async (label: string, calls: { ok: number; failed: number } | null) => {
    const m = memory(processTree(gateway.pid))
    const g = await scrape(gateway.httpPort)
    const row = {
      minute: label,
      'rss MB': Math.round(m.rss / 1e6),
      'pss MB': Math.round(m.pss / 1e6),
      transactions: g.transactions,
      'pending INVITEs': g.pendingInvites,
      dialogs: g.dialogs,
      'media sessions': g.mediaSessions,
      'calls ok': calls?.ok ?? '',
      'calls failed': calls?.failed ?? '',
    }
    rows.push(row)
    console.log(Object.entries(row).map(([k, v]) => `${k}=${v}`).join('  '))
    return { rss: m.rss, ...g }
  }
  const idleBefore = await sample('idle', null)
  const rss: number[] = []
  for (let minute = 1; minute <= minutes; minute++) {
    const calls = rate * 60
    const r = await runSippClient({ remote, builtin: 'uac', service: 'service', rate, calls, killAfterMs: 60_000 + 30_000 })
    const s = r.stats
    const ok = s?.successful ?? 0
    const bad = calls - ok
    created += calls
    failed += bad
    rss.push((await sample(String(minute), { ok, failed: bad })).rss)
  }
  await Bun.sleep(idleSeconds * 1000)
  const idleAfter = await sample(`idle +${idleSeconds}s`, null)

  // RSS follows the garbage collector's sawtooth (±6 % minute to minute at 2,250 calls/s), so
  // two single samples say more about where each fell in its cycle than about growth: the
  // verdict compares the median of minutes 5-9 with the median of the last five minutes
  // (shorter runs: windows of what there is), and the least-squares slope is printed too.
  const start = Math.min(4, rss.length - 1)
  const w = Math.max(1, Math.min(5, Math.floor((rss.length - start) / 2)))
  const from = median(rss.slice(start, start + w))
  const to = median(rss.slice(rss.length - w))
  const growth = (to - from) / from
  const pointGrowth = (rss[rss.length - 1]! - rss[start]!) / rss[start]!
  const slopeMbPerMinute = slope(rss.slice(start)) / 1e6
  const failedShare = created === 0 ? 1 : failed / created
  const backToIdle = idleAfter.transactions <= idleBefore.transactions && idleAfter.pendingInvites === idleBefore.pendingInvites &&
    idleAfter.dialogs === idleBefore.dialogs && idleAfter.mediaSessions === idleBefore.mediaSessions
  console.log('')
  printTable(rows)
  const verdicts = {
    failedCallsUnder0_1Percent: failedShare < 0.001,
    backToIdleValues: backToIdle,
    rssGrowthUnder5Percent: growth < 0.05,
  }
  console.log(`\ncalls: ${created} created, ${failed} failed (${(failedShare * 100).toFixed(3)} %); ` +
    `RSS median of minutes ${start + 1}-${start + w} -> of the last ${w}: ${(from / 1e6).toFixed(0)} -> ${(to / 1e6).toFixed(0)} MB (${(growth * 100).toFixed(1)} %; ` +
    `single samples minute ${start + 1} -> end ${(pointGrowth * 100).toFixed(1)} %; trend ${slopeMbPerMinute.toFixed(2)} MB/min); ` +
    `after ${idleSeconds} s idle: ${idleAfter.transactions} transactions, ${idleAfter.pendingInvites} pending INVITEs, ${idleAfter.dialogs} dialogs, ${idleAfter.mediaSessions} media sessions`)
  console.log(Object.entries(verdicts).map(([k, v]) => `${v ? 'PASS' : 'FAIL'} ${k}`).join('\n'))
  const file = writeResult('soak', {
    benchmark: 'soak', date: new Date().toISOString(), machine: machineInfo(), minutes, rate, rateFrom: flags.has('rate') ? '--rate' : def.from,
    idleSeconds, rows, created, failed, failedShare, rssGrowthFromMinute5: growth, rssPointGrowthFromMinute5: pointGrowth, rssSlopeMbPerMinute: slopeMbPerMinute, verdicts,
  })
  console.log(`wrote ${file}`)
  if (!Object.values(verdicts).every(Boolean)) process.exitCode = 1
} finally {
  await uas.stop()
  await gateway.stop()
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Least-squares slope of `ys` against their index (per minute). */
function slope(ys: number[]): number {
  const n = ys.length
  if (n < 2) return 0
  const mx = (n - 1) / 2
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (i - mx) * (ys[i]! - my)
    den += (i - mx) ** 2
  }
  return num / den
}

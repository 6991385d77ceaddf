/**
 * Signaling benchmark (`bun run bench:signaling`): SIP over WebSocket (`/sip`, RFC 7118)
 * against the JSON protocol (`/json`, docs/json-signaling.md), both in one run on this
 * machine, against the gateway CLI as a subprocess (bench/lib/signaling-gateway.ts:
 * startPatchbay's configuration, the gateway's default challenge order SHA-256 then MD5).
 *
 *   bun bench/signaling.ts [--quick] [--only sip|json] [--step-seconds N] [--idle-clients N]
 *                          [--recovery-clients N] [--browser-calls N] [--no-browser] [--browser-only]
 *
 * For each mode, with the headless generator (bench/lib/ws-sip-load.ts, bench/lib/json-load.ts:
 * Bun WebSocket clients, no media, the Chrome SDP of bench/fixtures):
 * 1. wire cost: register/login of two clients, then one call between them (call, ring,
 *    answer, hang up), messages and bytes each way on the clients' WebSockets;
 * 2. calls/s and registrations/s at rising rates (`--step-seconds`, 5 s), gateway CPU per
 *    operation and p50/p95/p99 latency, up to < 95 % achieved or > 0.1 % failed;
 * 3. PSS per idle registered client at `--idle-clients` (10,000);
 * 4. recovery: `--recovery-clients` (1,000) registered, gateway SIGTERM + start on the same
 *    ports, time until all are registered again (softphone back-off: 1 s, doubling, ±20 %);
 * then 5. the real softphone in Chromium (bench/lib/chromium-latency.ts): click -> ringing
 * and answer -> first audio over `--browser-calls` (10) calls per mode, with the frames the
 * pages sent and received. `--browser-only` runs step 5 alone (e.g. `--only json --browser-only
 * --browser-calls 20` for the trickle ICE latency), written as signaling-browser[-MODE].*.
 *
 * Writes bench/results/signaling.json and signaling.md (--quick: signaling-quick.*).
 * `--render FILE` prints and writes the tables of a saved signaling.json again (no run).
 */
import { readFileSync } from 'node:fs'
import { measureChromium, type ChromiumResult } from './lib/chromium-latency.ts'
import { writeMarkdown } from './lib/markdown.ts'
import { REPO_ROOT } from './lib/patchbay.ts'
import { loadAverage, machineInfo, parseFlags, printTable, writeResult } from './lib/report.ts'
import { SignalingGateway } from './lib/signaling-gateway.ts'
import { callLadder, idleMemory, recovery, registrationLadder, wireCost, type Mode } from './lib/signaling-load.ts'
import { NAMES, renderSignaling, type ModeResult, type SignalingData } from './lib/signaling-report.ts'

const flags = (() => {
  try {
    return parseFlags(process.argv.slice(2), {
      quick: 'flag', only: 'value', 'step-seconds': 'value', 'idle-clients': 'value', 'recovery-clients': 'value',
      'browser-calls': 'value', 'no-browser': 'flag', 'browser-only': 'flag', render: 'value',
    })
  } catch (e) {
    console.error(`bench/signaling.ts: ${(e as Error).message}`)
    process.exit(2)
  }
})()
if (flags.has('render')) {
  const file = flags.get('render')!
  const saved = JSON.parse(readFileSync(file, 'utf8')) as SignalingData
  const { headline, sections, markdown } = renderSignaling(saved)
  printTable(headline)
  for (const [title, rows] of sections) {
    if (rows.length === 0) continue
    console.log(`\n${title}`)
    printTable(rows)
  }
  console.log(`wrote ${writeMarkdown(file.replace(/^.*\//, '').replace(/\.json$/, ''), markdown)}`)
  process.exit(0)
}
const quick = flags.has('quick')
const only = flags.get('only')
const browserOnly = flags.has('browser-only')
if (browserOnly && flags.has('no-browser')) {
  console.error('--browser-only and --no-browser exclude each other')
  process.exit(2)
}
if (only !== undefined && only !== 'sip' && only !== 'json') {
  console.error('--only sip|json')
  process.exit(2)
}
const MODES: Mode[] = only === undefined ? ['sip', 'json'] : [only]
const stepSeconds = Number(flags.get('step-seconds') ?? (quick ? 2 : 5))
const idleClients = Number(flags.get('idle-clients') ?? (quick ? 1000 : 10_000))
const recoveryClients = Number(flags.get('recovery-clients') ?? (quick ? 200 : 1000))
const browserCalls = flags.has('no-browser') ? 0 : Number(flags.get('browser-calls') ?? (quick ? 3 : 10))
const callRates = quick ? [100, 400] : [100, 200, 400, 800, 1600, 3200]
const registrationRates = quick ? [100, 400] : [100, 200, 400, 800, 1600, 3200]
const PAIRS = 300
const USERS = Math.max(idleClients + 200, recoveryClients, PAIRS * 2, 10_000)
const log = (s: string) => console.log(s)


/** Lines of the gateway's output that look like trouble (warn level and above are printed). */
function warnings(g: SignalingGateway): string[] {
  return g.output().split('\n').filter((l) => /error|warn|exception|fatal/i.test(l)).slice(-10)
}

async function withGateway<T>(fn: (g: SignalingGateway) => Promise<T>, collect: string[]): Promise<T> {
  const g = await SignalingGateway.start(USERS)
  try {
    return await fn(g)
  } finally {
    collect.push(...warnings(g))
    await g.stop()
  }
}

const loadStart = loadAverage()
console.log(`bench:signaling${quick ? ' (quick)' : ''}: SIP over WebSocket vs JSON signaling, ${stepSeconds} s per rate step, ` +
  `${idleClients.toLocaleString('en-US')} idle clients, ${recoveryClients.toLocaleString('en-US')} clients for recovery, ${browserCalls} Chromium calls per mode; ` +
  `pass = < 0.1 % failed and >= 95 % of the target rate`)
console.log(`load average at start: ${loadStart.join(' ')} (${machineInfo().cpus} CPUs, shared machine)`)

const results: ModeResult[] = []
for (const mode of browserOnly ? [] : MODES) {
  console.log(`\n${NAMES[mode]}`)
  const gatewayWarnings: string[] = []
  const { wire, calls, registrations } = await withGateway(async (g) => {
    const wire = await wireCost(mode, g)
    const calls = await callLadder(mode, g, callRates, stepSeconds, PAIRS, log)
    const registrations = await registrationLadder(mode, g, registrationRates, stepSeconds, USERS, log)
    return { wire, calls, registrations }
  }, gatewayWarnings)
  const memory = await withGateway((g) => idleMemory(mode, g, idleClients), gatewayWarnings)
  log(`  ${mode} idle: ${memory.registered} of ${memory.clients} registered, PSS ${memory.pssBeforeMB} -> ${memory.pssAfterMB} MB, ${memory.kbPerClient} KB/client`)
  const rec = await withGateway((g) => recovery(mode, g, recoveryClients), gatewayWarnings)
  log(`  ${mode} recovery: gateway down ${rec.stoppedMs} ms, up again ${rec.readyMs} ms, all ${rec.reRegistered}/${rec.clients} registered at ${rec.allRegisteredMs ?? '-'} ms after SIGTERM`)
  results.push({ mode, wire, calls, registrations, memory, recovery: rec, gatewayWarnings })
}

const browser: ChromiumResult[] = []
if (browserCalls > 0) {
  console.log('\nChromium (the softphone)')
  const build = Bun.spawnSync([process.execPath, 'softphone/build.ts', '--if-stale'], { cwd: REPO_ROOT })
  if (build.exitCode !== 0) throw new Error(`softphone build failed:\n${build.stderr.toString()}`)
  await withGateway(async (g) => {
    for (const mode of MODES) browser.push(await measureChromium(`http://127.0.0.1:${g.ports!.http}`, mode, browserCalls, log))
  }, [])
}
const loadEnd = loadAverage()

const data: SignalingData = {
  date: new Date().toISOString(), quick, machine: machineInfo(), loadAverage: { start: loadStart, end: loadEnd },
  settings: { stepSeconds, idleClients, recoveryClients, browserCalls, callRates, registrationRates, pairs: PAIRS, users: USERS, maxFailedPercent: 0.1, minAchievedRatio: 0.95 } as SignalingData['settings'],
  modes: results, browser,
}
const { headline, sections, markdown } = renderSignaling(data)
console.log(`\nResults (load average at start ${loadStart.join(' ')}, at end ${loadEnd.join(' ')}; CPU in % of one core)`)
printTable(headline)
for (const [title, rows] of sections) {
  if (rows.length === 0) continue
  console.log(`\n${title}`)
  printTable(rows)
}
for (const r of results) if (r.gatewayWarnings.length > 0) console.log(`\ngateway output (${r.mode}), last warnings:\n${r.gatewayWarnings.join('\n')}`)
const name = `signaling${browserOnly ? '-browser' : quick ? '-quick' : ''}${only === undefined ? '' : `-${only}`}`
const mdFile = writeMarkdown(name, markdown)
const file = writeResult(name, {
  benchmark: 'signaling', only: only ?? null, ...data, headline,
})
console.log(`wrote ${file} and ${mdFile}`)

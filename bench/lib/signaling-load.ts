/**
 * The headless phases of bench:signaling, for one signaling mode at a time, against a
 * gateway subprocess (bench/lib/signaling-gateway.ts):
 *
 * - `wireCost`: one register/login of two clients and one call between them, counted on
 *   both clients' WebSockets.
 * - `rateLadder`: calls/s or registrations/s at rising rates, each step a few seconds, with
 *   the gateway's CPU (procfs, bench/lib/resource-monitor.ts), the generator's own CPU and
 *   p50/p95/p99 latency; stops at < 95 % achieved or > 0.1 % failed (a failing step is
 *   retried once: the machine is shared).
 * - `idleMemory`: PSS of the gateway before and after N idle registered clients.
 * - `recovery`: N registered clients, the gateway restarted on the same ports, time until all
 *   N are registered again (the clients reconnect with the softphone's back-off).
 */
import { type LoadClient, registerAll } from './load-client.ts'
import { JsonLoadClient } from './json-load.ts'
import { benchUserName } from './patchbay.ts'
import { memory, processTree, ResourceMonitor, type ResourceUsage } from './resource-monitor.ts'
import type { SignalingGateway } from './signaling-gateway.ts'
import { fixtureSdp, percentile, sumCounts, type DirectionCount } from './wire-counter.ts'
import { SipWsLoadClient } from './ws-sip-load.ts'

/** `sip` (SIP over WebSocket, /sip) or `json` (/json). */
export type Mode = 'sip' | 'json'

const SDP = fixtureSdp()

/** A generator client of `mode` for bench user `index`. */
export function newClient(mode: Mode, index: number, httpPort: number): LoadClient {
  return mode === 'sip' ? new SipWsLoadClient(benchUserName(index), httpPort, SDP) : new JsonLoadClient(benchUserName(index), httpPort, SDP)
}

type Counts = { sent: DirectionCount; received: DirectionCount }

/** Wire cost of register/login (two clients) and of one call + hang-up (caller and callee). */
export async function wireCost(mode: Mode, g: SignalingGateway): Promise<{ register: Counts; call: Counts; setupMs: number }> {
  const a = newClient(mode, 0, g.ports!.http)
  const b = newClient(mode, 1, g.ports!.http)
  try {
    await a.connectAndRegister()
    await b.connectAndRegister()
    const register = sumCounts([a.wire.snapshot(), b.wire.snapshot()])
    a.wire.reset()
    b.wire.reset()
    const setupMs = await a.call(b.username)
    await Bun.sleep(300) // the callee's last frames (BYE's 200 / `ended`)
    return { register, call: sumCounts([a.wire.snapshot(), b.wire.snapshot()]), setupMs: Math.round(setupMs * 10) / 10 }
  } finally {
    a.close(true)
    b.close(true)
  }
}

/** One step of a ladder. */
export interface StepResult {
  rate: number
  attempted: number
  successful: number
  failed: number
  achievedRate: number
  failedPercent: number
  p50: number | null
  p95: number | null
  p99: number | null
  gatewayCpuPercent: number
  /** Gateway CPU per successful operation, µs. */
  cpuMicrosPerOp: number | null
  generatorCpuPercent: number
  usage: ResourceUsage
  firstError: string | null
}

/**
 * Runs `launch` `rate` times a second for `seconds` (10 ms ticks), waits for all to finish,
 * and measures the gateway over the whole step.
 */
async function runStep(gatewayPid: number, rate: number, seconds: number, launch: () => Promise<number>): Promise<StepResult> {
  const monitor = new ResourceMonitor(gatewayPid)
  const mark = monitor.begin()
  const cpu0 = process.cpuUsage()
  const total = Math.round(rate * seconds)
  const latencies: number[] = []
  let failed = 0
  let firstError: string | null = null
  const inflight: Array<Promise<void>> = []
  const start = performance.now()
  let launched = 0
  let lastSuccess = start
  while (launched < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1)
    for (; launched < due; launched++) {
      inflight.push(launch().then((ms) => {
        latencies.push(ms)
        lastSuccess = performance.now()
      }, (e: Error) => {
        failed++
        firstError ??= e.message
      }))
    }
    await Bun.sleep(10)
  }
  await Promise.all(inflight)
  const wall = (performance.now() - start) / 1000
  const usage = monitor.end(mark)
  const cpu = process.cpuUsage(cpu0)
  return {
    rate, attempted: total, successful: latencies.length, failed,
    // Successful operations over the step, up to the last success (a timed-out straggler
    // counts as failed, not as a slower rate).
    achievedRate: Math.round(latencies.length / Math.max((lastSuccess - start) / 1000, seconds)),
    failedPercent: Math.round((failed / total) * 10000) / 100,
    p50: percentile(latencies, 50), p95: percentile(latencies, 95), p99: percentile(latencies, 99),
    gatewayCpuPercent: usage.cpuPercent,
    cpuMicrosPerOp: latencies.length > 0 ? Math.round((usage.cpuSeconds / latencies.length) * 1e6) : null,
    generatorCpuPercent: Math.round(((cpu.user + cpu.system) / 1e6 / wall) * 1000) / 10,
    usage, firstError,
  }
}

/** A ladder's steps and why it stopped. */
export interface LadderResult {
  steps: StepResult[]
  maxRate: number
  stoppedBecause: string
}

/** Pass = >= 95 % of the target achieved and <= 0.1 % failed. */
function passed(s: StepResult): boolean {
  return s.achievedRate >= s.rate * 0.95 && s.failedPercent <= 0.1
}

async function ladder(rates: number[], step: (rate: number) => Promise<StepResult>, log: (s: string) => void, label: string): Promise<LadderResult> {
  const steps: StepResult[] = []
  let maxRate = 0
  let stoppedBecause = 'highest rate passed'
  for (const rate of rates) {
    let s = await step(rate)
    if (!passed(s)) {
      // One retry: the machine is shared (others' browser tests come and go).
      log(`  ${label} ${rate}/s: achieved ${s.achievedRate}/s, failed ${s.failed}${s.firstError ? ` (${s.firstError})` : ''}: retrying once`)
      await Bun.sleep(2000)
      s = await step(rate)
    }
    steps.push(s)
    log(`  ${label} ${rate}/s: achieved ${s.achievedRate}/s, failed ${s.failed}, p50 ${s.p50} ms, p99 ${s.p99} ms, gateway CPU ${s.gatewayCpuPercent} %, generator CPU ${s.generatorCpuPercent} %${s.firstError ? ` (${s.firstError})` : ''}`)
    if (!passed(s)) {
      stoppedBecause = s.failedPercent > 0.1 ? `${s.failedPercent} % failed at ${rate}/s` : `${Math.round((s.achievedRate / rate) * 100)} % of ${rate}/s achieved`
      break
    }
    maxRate = rate
    await Bun.sleep(1000)
  }
  return { steps, maxRate, stoppedBecause }
}

/**
 * Calls/s ladder: `pairs` caller/callee pairs registered first (users 0..2*pairs-1); each
 * call takes the least recently used idle pair (none idle = a failed call), calls, answers
 * and hangs up. Least recently used, not last used: a JSON user that calls again within
 * milliseconds of its previous call's `ended` loses about 1 % of its calls in the gateway
 * (no answer, or no `ended` after `hangup`; SIP does not), which people do not do.
 */
export async function callLadder(mode: Mode, g: SignalingGateway, rates: number[], seconds: number, pairs: number, log: (s: string) => void): Promise<LadderResult> {
  const clients = Array.from({ length: pairs * 2 }, (_, i) => newClient(mode, i, g.ports!.http))
  const reg = await registerAll(clients)
  if (reg.failed > 0) throw new Error(`${mode}: ${reg.failed} of ${clients.length} call clients did not register: ${reg.firstError}`)
  const idle = Array.from({ length: pairs }, (_, i) => i)
  const oneCall = async (): Promise<number> => {
    const p = idle.shift()
    if (p === undefined) throw new Error('no idle caller/callee pair (calls piling up)')
    try {
      return await clients[2 * p]!.call(clients[2 * p + 1]!.username, 10_000)
    } finally {
      idle.push(p)
    }
  }
  try {
    await runStep(g.pid, 50, 1, oneCall) // warm-up (JIT), not reported
    return await ladder(rates, (rate) => runStep(g.pid, rate, seconds, oneCall), log, `${mode} calls`)
  } finally {
    for (const c of clients) c.close(true)
    await Bun.sleep(500)
  }
}

/**
 * Registrations/s ladder: each registration is a new WebSocket + REGISTER/401/REGISTER/200
 * (SIP) or challenge/login/session (JSON), then the client leaves (JSON: `logout` first, else
 * the session would outlive the socket by graceSeconds; SIP: the bindings go with the flow).
 * Users cycle over `users`.
 */
export async function registrationLadder(mode: Mode, g: SignalingGateway, rates: number[], seconds: number, users: number, log: (s: string) => void): Promise<LadderResult> {
  let next = 0
  const oneRegistration = async (): Promise<number> => {
    const c = newClient(mode, next++ % users, g.ports!.http)
    const t0 = performance.now()
    try {
      await c.connectAndRegister(10_000)
      return performance.now() - t0
    } finally {
      c.close(true)
    }
  }
  await runStep(g.pid, 50, 1, oneRegistration)
  return ladder(rates, (rate) => runStep(g.pid, rate, seconds, oneRegistration), log, `${mode} registrations`)
}

/** PSS of the gateway before and after `n` idle registered clients (users 0..n-1; needs n + 200 users). */
export async function idleMemory(mode: Mode, g: SignalingGateway, n: number): Promise<{ clients: number; registered: number; failed: number; firstError: string | null; pssBeforeMB: number; pssAfterMB: number; rssAfterMB: number; kbPerClient: number | null; connectSeconds: number }> {
  // Warm-up: 200 clients come and go first, so that "before" has the code paths loaded.
  const warm = Array.from({ length: 200 }, (_, i) => newClient(mode, n + i, g.ports!.http))
  await registerAll(warm)
  for (const c of warm) c.close(true)
  await Bun.sleep(2000)
  const before = memory(processTree(g.pid))
  const clients = Array.from({ length: n }, (_, i) => newClient(mode, i, g.ports!.http))
  const t0 = performance.now()
  const r = await registerAll(clients, 200, 30_000)
  const connectSeconds = Math.round((performance.now() - t0) / 100) / 10
  await Bun.sleep(3000)
  const after = memory(processTree(g.pid))
  const registered = clients.filter((c) => c.registered).length
  // Stop the gateway before closing the clients: no logout storm, nothing to measure after.
  await g.stopProcess()
  for (const c of clients) c.close(false)
  return {
    clients: n, registered, failed: r.failed, firstError: r.firstError,
    pssBeforeMB: Math.round(before.pss / 1e5) / 10, pssAfterMB: Math.round(after.pss / 1e5) / 10, rssAfterMB: Math.round(after.rss / 1e5) / 10,
    kbPerClient: registered > 0 ? Math.round(((after.pss - before.pss) / registered / 1024) * 10) / 10 : null,
    connectSeconds,
  }
}

/** Recovery after a gateway restart (see the module comment); times in ms from SIGTERM. */
export async function recovery(mode: Mode, g: SignalingGateway, n: number, timeoutMs = 90_000): Promise<{ clients: number; stoppedMs: number; readyMs: number; allRegisteredMs: number | null; reRegistered: number; p50Ms: number | null; p95Ms: number | null }> {
  const clients = Array.from({ length: n }, (_, i) => newClient(mode, i, g.ports!.http))
  const r = await registerAll(clients)
  if (r.failed > 0) throw new Error(`${mode}: ${r.failed} of ${n} clients did not register: ${r.firstError}`)
  let t0 = 0
  const times = new Map<LoadClient, number>()
  for (const c of clients) c.keepRegistered((client) => { if (!times.has(client)) times.set(client, performance.now() - t0) })
  t0 = performance.now()
  await g.stopProcess()
  const stoppedMs = Math.round(performance.now() - t0)
  await g.restart()
  const readyMs = Math.round(performance.now() - t0)
  while (times.size < n && performance.now() - t0 < timeoutMs) await Bun.sleep(50)
  const all = [...times.values()]
  for (const c of clients) c.close(true)
  await Bun.sleep(500)
  return {
    clients: n, stoppedMs, readyMs,
    allRegisteredMs: times.size === n ? Math.round(Math.max(...all)) : null,
    reRegistered: times.size, p50Ms: percentile(all, 50), p95Ms: percentile(all, 95),
  }
}

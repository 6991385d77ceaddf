/**
 * SIPp 3.6 (Debian package `sip-tester`, binary `sipp`) as the load generator, with the flags
 * from the Kamailio bench README:
 *
 * - `-buff_size 4194304`: 4 MB socket buffers (the default drops datagrams at 2,500 calls/s);
 * - `-ci 127.0.0.1 -cp PORT`: the control socket on loopback (it binds every address otherwise);
 * - `-default_behaviors all,-abortunexp`: an unexpected message (a 180 overtaking a 200 when
 *   a multi-worker proxy reorders them) does not abort the call;
 * - `-d 0` (no pause between 200/ACK and BYE), `-nostdin`, `-trace_stat` (statistics CSV,
 *   read back for created / successful / failed calls and the achieved rate).
 *
 * Exit codes (sipp(1)): 0 all calls succeeded, 1 at least one failed, 97 exit on internal
 * command, 99 normal exit without calls processed, 255 fatal error, 254 cannot bind.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PeerProcess, requireBinary } from './peer-process.ts'
import { LOOPBACK, freeUdpPortRange, freeUdpPorts } from './ports.ts'

/** SIPp's socket buffer size, bytes (README: 4 MB). */
export const SIPP_BUFFER = 4194304

/** `SIPp v3.6.1-SCTP-PCAP-RTPSTREAM`, or null. */
export function sippVersion(): string | null {
  try {
    const r = Bun.spawnSync([requireBinary('sipp', 'sip-tester'), '-v'])
    const m = /SIPp v[^\s,]+/.exec(r.stdout.toString() + r.stderr.toString())
    return m ? m[0] : null
  } catch {
    return null
  }
}

/** True when something holds UDP `port` on 127.0.0.1 or 0.0.0.0 (from /proc/net/udp). */
export function udpPortBound(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0')
  try {
    const text = readFileSync('/proc/net/udp', 'utf8')
    return text.split('\n').some((l) => {
      const local = l.trim().split(/\s+/)[1]
      return local === `0100007F:${hex}` || local === `00000000:${hex}`
    })
  } catch {
    return false
  }
}

/** Totals of one SIPp run, from the last line of its -trace_stat CSV. */
export interface SippStats {
  created: number
  successful: number
  failed: number
  /** Calls neither successful nor failed when SIPp stopped (killed, or -timeout). */
  unfinished: number
  retransmissions: number
  outOfCallMessages: number
  deadCallMessages: number
  /** Non-zero `Failed...(C)` counters by name, e.g. { FailedTimeoutOnRecv: 3 }. */
  failures: Record<string, number>
  /** Seconds between SIPp's start and its last statistics line. */
  seconds: number
  /** Average of response-time 1 (the rtd="true" measurement), ms. */
  responseTimeMs: number
  /** Cumulative successful calls over time: [seconds since start, successful], one point per -fd row. */
  timeline: Array<[number, number]>
}

/**
 * Seconds from SIPp's start until `n` calls had succeeded, interpolated linearly between
 * statistics rows (null when fewer succeeded). Unlike the total run time, this ignores the
 * tail of a few calls that wait out -recv_timeout.
 */
export function secondsUntilSuccessful(stats: SippStats, n: number): number | null {
  let prev: [number, number] = [0, 0]
  for (const point of stats.timeline) {
    if (point[1] >= n) {
      const [t0, s0] = prev
      const [t1, s1] = point
      return s1 === s0 ? t1 : t0 + ((n - s0) / (s1 - s0)) * (t1 - t0)
    }
    prev = point
  }
  return null
}

/** hh:mm:ss:micros -> ms. */
function durationMs(v: string | undefined): number {
  const m = /^(\d+):(\d+):(\d+):(\d+)$/.exec(v ?? '')
  if (!m) return 0
  return (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3])) * 1000 + Number(m[4]) / 1000
}

/** The epoch seconds SIPp writes as the third tab-separated part of its time columns. */
function epoch(v: string | undefined): number {
  const parts = (v ?? '').split('\t')
  return Number(parts[2] ?? NaN)
}

/** Parses SIPp's -trace_stat CSV (`;`-separated, header line first); null without data. */
export function parseSippStats(csv: string): SippStats | null {
  const lines = csv.split('\n').filter((l) => l.trim().length > 0)
  if (lines.length < 2) return null
  const header = lines[0]!.split(';')
  const last = lines[lines.length - 1]!.split(';')
  const col = (name: string) => last[header.indexOf(name)]
  const num = (name: string) => Number(col(name)) || 0
  const failures: Record<string, number> = {}
  header.forEach((name, i) => {
    const m = /^(Failed\w+)\(C\)$/.exec(name)
    const n = Number(last[i])
    if (m && m[1] !== 'FailedCall' && n > 0) failures[m[1]!] = n
  })
  const created = num('TotalCallCreated')
  const successful = num('SuccessfulCall(C)')
  const failed = num('FailedCall(C)')
  const start = epoch(col('StartTime'))
  const now = epoch(col('CurrentTime'))
  const iStart = header.indexOf('StartTime')
  const iNow = header.indexOf('CurrentTime')
  const iOk = header.indexOf('SuccessfulCall(C)')
  const timeline: Array<[number, number]> = []
  for (const line of lines.slice(1)) {
    const f = line.split(';')
    const t = epoch(f[iNow]) - epoch(f[iStart])
    const ok = Number(f[iOk])
    if (Number.isFinite(t) && Number.isFinite(ok)) timeline.push([t, ok])
  }
  return {
    created, successful, failed,
    unfinished: Math.max(0, created - successful - failed),
    retransmissions: num('Retransmissions(C)'),
    outOfCallMessages: num('OutOfCallMsgs(C)'),
    deadCallMessages: num('DeadCallMsgs(C)'),
    failures,
    seconds: Number.isFinite(now - start) ? now - start : durationMs(col('ElapsedTime(C)')) / 1000,
    responseTimeMs: Math.round(durationMs(col('ResponseTime1(C)')) * 100) / 100,
    timeline,
  }
}

/** Common arguments: local SIP/control/media ports on loopback, buffers, no stdin. */
async function baseArgs(): Promise<{ args: string[]; sipPort: number }> {
  const [sipPort, controlPort] = await freeUdpPorts(2)
  const mediaPort = await freeUdpPortRange(4)
  return {
    sipPort: sipPort!,
    args: ['-i', LOOPBACK, '-p', String(sipPort), '-ci', LOOPBACK, '-cp', String(controlPort),
      '-mi', LOOPBACK, '-mp', String(mediaPort), '-buff_size', String(SIPP_BUFFER), '-nostdin'],
  }
}

/** A long-running SIPp server scenario (the built-in `uas`). */
export interface SippServer {
  port: number
  pid: number
  tail(lines?: number): string
  stop(): Promise<void>
}

/**
 * Starts `sipp -sn uas` on a free port and waits until its SIP socket is bound.
 * @throws Error when sipp is missing (naming the apt-get command) or exits at start
 */
export async function startSippUas(): Promise<SippServer> {
  const sipp = requireBinary('sipp', 'sip-tester')
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-sipp-uas-'))
  const { args, sipPort } = await baseArgs()
  const proc = new PeerProcess('sipp uas', [sipp, '-sn', 'uas', ...args], { cwd: dir })
  const stop = async () => {
    await proc.stop(3000)
    rmSync(dir, { recursive: true, force: true })
  }
  const deadline = Date.now() + 5000
  while (!udpPortBound(sipPort)) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      await stop()
      throw new Error(`sipp uas did not bind udp ${sipPort} (exit ${proc.exitCode}):\n${proc.tail(20)}`)
    }
    await Bun.sleep(50)
  }
  return { port: sipPort, pid: proc.pid, tail: (n?: number) => proc.tail(n), stop }
}

/**
 * SIPp client processes per benchmark step, each with one UDP socket (SIPp's default `-t u1`)
 * and its share of the rate and users: the load comes from several source ports, as from
 * several phones. With a single socket every request has the same 4-tuple and SO_REUSEPORT
 * hands them all to one gateway worker (Linux hashes the 4-tuple); Kamailio's workers read
 * one shared socket and do not care. Used for every peer. (`-t un`, one socket per call,
 * was tried: SIPp 3.6 itself then capped every peer, Kamailio included, at 6,000
 * registrations/s, and writes port 0 in the Via of a call on a reused socket.)
 */
export const SIPP_CLIENTS = 4

/** Part `i` of `total` split into `n` integer parts that add up to it (the first ones larger). */
export function share(total: number, n: number, i: number): number {
  return Math.floor(total / n) + (i < total % n ? 1 : 0)
}

export interface SippClientOptions {
  /** `host:port` of the peer under test. */
  remote: string
  /** A built-in scenario (`uac`) or a scenario file. */
  builtin?: string
  scenarioFile?: string
  /** -r: calls per second. */
  rate: number
  /** -m: total calls. */
  calls: number
  /** -s: Request-URI user ([service]). */
  service?: string
  /** -inf CSV text (first line SEQUENTIAL / RANDOM). */
  csv?: string
  /** -recv_timeout, ms (a call waiting longer than this for a response fails). Default 10 s. */
  recvTimeoutMs?: number
  /** The process is killed after this long (its unfinished calls count as failed). */
  killAfterMs: number
  extraArgs?: string[]
}

/** Outcome of one SIPp client run. */
export interface SippClientResult {
  exitCode: number | null
  killed: boolean
  stats: SippStats | null
  /** Start of SIPp's error log (-trace_err), at most 1,500 characters. */
  errorsHead: string
  argv: string[]
  outputTail: string
}

/**
 * Runs a SIPp client scenario to completion (or `killAfterMs`) and reads its statistics.
 * The temporary directory with its logs is removed afterwards.
 * @throws Error when sipp is missing or ends with a fatal error (255) / cannot bind (254)
 */
export async function runSippClient(o: SippClientOptions): Promise<SippClientResult> {
  const sipp = requireBinary('sipp', 'sip-tester')
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-sipp-'))
  try {
    const { args } = await baseArgs()
    const argv = [sipp, o.remote]
    if (o.builtin) argv.push('-sn', o.builtin)
    else if (o.scenarioFile) argv.push('-sf', o.scenarioFile)
    else throw new Error('runSippClient: give builtin or scenarioFile')
    argv.push(...args,
      '-r', String(o.rate), '-m', String(o.calls), '-l', String(Math.min(15000, Math.max(1000, o.rate * 5))),
      '-d', '0', '-default_behaviors', 'all,-abortunexp',
      '-recv_timeout', String(o.recvTimeoutMs ?? 10_000),
      '-trace_stat', '-stf', join(dir, 'stat.csv'), '-fd', '1',
      '-trace_err', '-error_file', join(dir, 'errors.log'))
    if (o.service) argv.push('-s', o.service)
    if (o.csv !== undefined) {
      writeFileSync(join(dir, 'users.csv'), o.csv)
      argv.push('-inf', join(dir, 'users.csv'))
    }
    argv.push(...(o.extraArgs ?? []))
    // BENCH_SIPP_TRACE=DIR keeps every SIP message of every run in DIR (debugging only: slow).
    const traceDir = process.env.BENCH_SIPP_TRACE
    if (traceDir) argv.push('-trace_msg', '-message_file', join(traceDir, `sipp-${Date.now()}-${o.rate}.log`))
    const proc = new PeerProcess('sipp', argv, { cwd: dir })
    let exitCode = await proc.waitForExit(o.killAfterMs)
    const killed = exitCode === null
    if (killed) {
      // SIGUSR1 would make SIPp write its final statistics, but the -fd 1 CSV is at most 1 s old.
      exitCode = await proc.stop(3000)
    }
    if (exitCode === 255 || exitCode === 254) {
      throw new Error(`sipp failed (exit ${exitCode}): ${argv.join(' ')}\n${proc.tail(20)}`)
    }
    const files = existsSync(dir) ? readdirSync(dir) : []
    const read = (prefix: string) => files.filter((f) => f.startsWith(prefix)).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n')
    return {
      exitCode, killed,
      stats: parseSippStats(read('stat')),
      errorsHead: read('errors').slice(0, 1500),
      argv: argv.map((a) => a.replace(dir, 'TMP')),
      outputTail: proc.tail(10),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * Binds AOR `user` to `contact` (host:port) at the peer with the shared
 * `register_contact.xml` (one REGISTER, expects 200).
 * @throws Error when the registration does not succeed
 */
export async function registerContact(remote: string, scenarioFile: string, user: string, contact: string): Promise<void> {
  const r = await runSippClient({
    remote, scenarioFile, rate: 1, calls: 1, csv: `SEQUENTIAL\n${user};${contact}\n`, killAfterMs: 15_000, recvTimeoutMs: 5000,
  })
  if (r.exitCode !== 0 || (r.stats?.successful ?? 0) !== 1) {
    throw new Error(`REGISTER ${user} -> ${contact} at ${remote} failed (sipp exit ${r.exitCode}):\n${r.errorsHead}\n${r.outputTail}`)
  }
}

/** `timeline`'s successful count at `t` seconds: linear between rows, 0 before, the last after. */
function successfulAt(timeline: ReadonlyArray<[number, number]>, t: number): number {
  let prev: [number, number] = [0, 0]
  for (const point of timeline) {
    if (point[0] >= t) {
      const [t0, s0] = prev
      const [t1, s1] = point
      return t1 === t0 ? s1 : s0 + ((t - t0) / (t1 - t0)) * (s1 - s0)
    }
    prev = point
  }
  return prev[1]
}

/**
 * One result for several SIPp clients run IN PARALLEL as one benchmark step (one client per
 * node of a multi-node peer, each with its share of the rate and the calls), shaped as if one
 * client had made all the calls, so rate-search.ts judges it unchanged:
 *
 * - created, successful, failed, unfinished, retransmissions, out-of-call and dead-call
 *   messages, and each `Failed...` counter: SUMS;
 * - seconds: the MAX (the step lasts until its slowest client ends);
 * - responseTimeMs: the MEAN WEIGHTED by each client's successful calls (each client's
 *   ResponseTime1(C) is the mean over its own completed calls, so this is the mean over all
 *   of them); the plain max when no call succeeded;
 * - timeline: at every time any client reported, the sum of each client's cumulative
 *   successful calls there (linear between its rows), seconds counted from each client's own
 *   start: the clients are spawned together, a few ms apart;
 * - stats: null only when no client has statistics (a client without them still shows up as
 *   calls never created, which judgeStep counts as unfinished);
 * - exitCode: null when any client's is null, else the first non-zero one, else 0; killed:
 *   any; errorsHead / outputTail: each client's, labelled `[client N]`; argv: the first's.
 *
 * @throws Error when `results` is empty
 */
export function combineSippClientResults(results: readonly SippClientResult[]): SippClientResult {
  if (results.length === 0) throw new Error('combineSippClientResults: no results')
  if (results.length === 1) return results[0]!
  const all = results.map((r) => r.stats).filter((s): s is SippStats => s !== null)
  let stats: SippStats | null = null
  if (all.length > 0) {
    const sum = (f: (s: SippStats) => number) => all.reduce((acc, s) => acc + f(s), 0)
    const failures: Record<string, number> = {}
    for (const s of all) for (const [name, n] of Object.entries(s.failures)) failures[name] = (failures[name] ?? 0) + n
    const successful = sum((s) => s.successful)
    const times = [...new Set(all.flatMap((s) => s.timeline.map((p) => p[0])))].sort((a, b) => a - b)
    stats = {
      created: sum((s) => s.created),
      successful,
      failed: sum((s) => s.failed),
      unfinished: sum((s) => s.unfinished),
      retransmissions: sum((s) => s.retransmissions),
      outOfCallMessages: sum((s) => s.outOfCallMessages),
      deadCallMessages: sum((s) => s.deadCallMessages),
      failures,
      seconds: Math.max(...all.map((s) => s.seconds)),
      responseTimeMs: successful > 0
        ? Math.round((sum((s) => s.responseTimeMs * s.successful) / successful) * 100) / 100
        : Math.max(...all.map((s) => s.responseTimeMs)),
      timeline: times.map((t) => [t, Math.round(all.reduce((acc, s) => acc + successfulAt(s.timeline, t), 0))]),
    }
  }
  const labelled = (f: (r: SippClientResult) => string) =>
    results.map((r, i) => (f(r).length > 0 ? `[client ${i + 1}] ${f(r)}` : '')).filter(Boolean).join('\n')
  return {
    exitCode: results.some((r) => r.exitCode === null) ? null : results.find((r) => r.exitCode !== 0)?.exitCode ?? 0,
    killed: results.some((r) => r.killed),
    stats,
    errorsHead: labelled((r) => r.errorsHead).slice(0, 1500),
    argv: results[0]!.argv,
    outputTail: labelled((r) => r.outputTail),
  }
}

/**
 * SIPp (Debian package `sip-tester`, binary `sipp`) as a test peer: run a scenario file from
 * tests/fixtures/sipp/ or a built-in one on 127.0.0.1, with its statistics, error log, screen
 * and message trace written into a temporary directory, and read back the outcome.
 *
 *   const result = await runSipp({ name: 'register', scenarioFile: SIPP_SCENARIOS.register,
 *     remote: `127.0.0.1:${gw.udpPort}`, calls: 50, injection: usersCsv(users) })
 *   expect(result.stats?.failed, result.summary()).toBe(0)
 *
 * SIPp 3.6 facts the options below account for (seen with 3.6.1 on Debian 12):
 * - the digest-uri it writes is `sip:<remote_ip>:<remote_port>` unless `-auth_uri` is given;
 *   pass {@link SippOptions.authUri} equal to the Request-URI's host part (and user).
 * - it answers MD5 challenges only, and only the first WWW-/Proxy-Authenticate it reads:
 *   with SHA-256 listed first it aborts ("createAuthHeader: authentication must use MD5 or
 *   AKAv1-MD5"); gateways under SIPp test offer MD5 first.
 * - `[authentication username=[field0]]` does not expand the field (the keyword ends at the
 *   first `]`); write `[authentication username="[field0]" password="[field1]"]`.
 * - without `-ci` / `-cp` its control socket binds port 8888 (or the next free one).
 *
 * Exit codes (sipp(1)): 0 all calls succeeded, 1 at least one failed, 97 exit on internal
 * command, 99 normal exit without calls processed, 255 fatal error, 254 cannot bind.
 */
import { expect } from 'bun:test'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LOOPBACK, freePortRange, freeUdpPort, waitForPortBound } from './ports.ts'
import { PeerProcess, requireBinary } from './processes.ts'
import { SipText } from './sip-text.ts'

const FIXTURES = join(import.meta.dir, '..', 'fixtures', 'sipp')

/** The scenario files in tests/fixtures/sipp/ (see the comment at the top of each). */
export const SIPP_SCENARIOS = {
  /** REGISTER with digest; CSV field0 = user, field1 = password; 200 must carry Contact;expires. */
  register: join(FIXTURES, 'register.xml'),
  /** UAS: answers one INVITE (180, 200 with SDP, copying Record-Route), waits for ACK and BYE. */
  uas: join(FIXTURES, 'uas.xml'),
  /** UAS that rings (180) until CANCEL: 200 to CANCEL, 487 to INVITE, waits for ACK. */
  uasRingCancel: join(FIXTURES, 'uas-ring-cancel.xml'),
  /** UAC: INVITE, 407 + ACK, INVITE with credentials, 180?, 200 (Record-Route required), ACK, BYE via the route set. */
  uacAuth: join(FIXTURES, 'uac-auth.xml'),
  /** UAC like uacAuth, but the callee hangs up: waits for BYE and answers 200. */
  uacAuthCalleeBye: join(FIXTURES, 'uac-auth-callee-bye.xml'),
  /** UAC: INVITE with credentials, 180, CANCEL, 200 (CANCEL), 487 (INVITE), ACK. */
  uacCancel: join(FIXTURES, 'uac-cancel.xml'),
  /** UAC on a trunk (no authentication): INVITE, 180?, 200 (Record-Route required), ACK and BYE via the route set. */
  uacTrunk: join(FIXTURES, 'uac-trunk.xml'),
  /** UAC: INVITE to [service] (challenge answered when one comes) expecting 404, ACK. */
  uacExpect404: join(FIXTURES, 'uac-expect-404.xml'),
} as const

/**
 * A UAS scenario refusing one INVITE with `status` and `reason` (a carrier out of service, a
 * busy line), then absorbing the ACK: tests/fixtures/sipp/uas-reject.xml with the status
 * written in (SIPp checks a response's status code when it loads the scenario, so it cannot
 * come from -key). Returns the path of the file, written once per status in a temp folder.
 */
export function uasRejectScenario(status: number, reason: string): string {
  const file = join(rejectDir(), `uas-${status}.xml`)
  if (!existsSync(file)) {
    const template = readFileSync(join(FIXTURES, 'uas-reject.xml'), 'utf8')
    writeFileSync(file, template.replace('SIP/2.0 [status] [reason]', `SIP/2.0 ${status} ${reason}`))
  }
  return file
}

let rejectScenarios: string | null = null
function rejectDir(): string {
  rejectScenarios ??= mkdtempSync(join(tmpdir(), 'patchbay-sipp-reject-'))
  return rejectScenarios
}

export interface SippOptions {
  /** Label used in the temp directory name and in messages. */
  name: string
  /** A scenario file (-sf); exclusive with builtin. */
  scenarioFile?: string
  /** A built-in scenario (-sn uac, uas, ...). */
  builtin?: string
  /** Remote `host:port` (client scenarios); omitted for a UAS. */
  remote?: string
  /** Local SIP port (-p); a free one when absent. */
  localPort?: number
  /** -t: u1 (default, one UDP socket), un, t1, tn. */
  transport?: 'u1' | 'un' | 't1' | 'tn'
  /** -m: stop after this many calls. */
  calls?: number
  /** -r calls per second (default 10 per -rp). */
  rate?: number
  /** -rp in ms (default 1000). */
  ratePeriodMs?: number
  /** -l: maximum simultaneous calls. */
  limit?: number
  /** -d: pause duration in ms for scenarios with a default pause. */
  pauseMs?: number
  /** -s: the user part of the Request-URI ([service]). */
  service?: string
  /** -au / -ap */
  authUser?: string
  authPassword?: string
  /** -auth_uri: the digest-uri without `sip:` (e.g. `bob@patchbay.test`). */
  authUri?: string
  /** -inf: CSV content (first line SEQUENTIAL / RANDOM / USER); written to the temp dir. */
  injection?: string
  /** -key NAME VALUE: [NAME] in the scenario. */
  keys?: Record<string, string>
  /** -set NAME VALUE: scenario variables. */
  vars?: Record<string, string>
  /** -timeout (seconds): SIPp gives up (and fails, -timeout_error) after this long. */
  timeoutSec?: number
  /** -recv_timeout in ms for every recv (default 5000 here). */
  recvTimeoutMs?: number
  /** Write -trace_msg (every SIP message) too; default true. */
  traceMessages?: boolean
  /** Extra raw arguments, appended last. */
  extraArgs?: string[]
}

export interface SippStats {
  created: number
  successful: number
  failed: number
  retransmissions: number
  outOfCallMessages: number
  /** Non-zero cumulative `Failed...(C)` counters by name, e.g. { FailedUnexpectedMessage: 1 }. */
  failures: Record<string, number>
}

export interface SippResult {
  name: string
  argv: string[]
  dir: string
  localPort: number
  exitCode: number | null
  timedOut: boolean
  stats: SippStats | null
  /** Content of the -trace_err file (unexpected messages and errors). */
  errors: string
  /** The last statistics screen (-trace_screen). */
  screen: string
  /** stdout + stderr. */
  output: string
  /** Tail of the -trace_msg file. */
  messages: string
  /** Everything above in a few lines, for `expect(x, result.summary())`. */
  summary(): string
}

/** A started SIPp (typically a UAS) that a test stops or lets finish later. */
export interface SippPeer {
  name: string
  localPort: number
  process: PeerProcess
  dir: string
  /** Waits for exit (killing it after `timeoutMs`) and reads the results. */
  finish(timeoutMs?: number): Promise<SippResult>
}

/** The CSV text for -inf: a mode line, then one `a;b;c` line per row. */
export function sippCsv(rows: string[][], mode: 'SEQUENTIAL' | 'RANDOM' | 'USER' = 'SEQUENTIAL'): string {
  return [mode, ...rows.map((r) => r.join(';'))].join('\n') + '\n'
}

/**
 * Starts SIPp and returns at once (the process runs until its -m count, -timeout or kill).
 * Waits until SIPp has bound its SIP port before returning.
 *
 * @throws Error when `sipp` is not installed (with the apt-get command), or when SIPp exits
 *   or prints nothing within 5 s of starting
 */
export async function startSipp(options: SippOptions): Promise<SippPeer> {
  const sipp = requireBinary('sipp', 'sip-tester')
  if ((options.scenarioFile === undefined) === (options.builtin === undefined)) {
    throw new Error('startSipp: give exactly one of scenarioFile and builtin')
  }
  if (options.scenarioFile !== undefined && !existsSync(options.scenarioFile)) {
    throw new Error(`startSipp: scenario file not found: ${options.scenarioFile}`)
  }
  const dir = mkdtempSync(join(tmpdir(), `patchbay-sipp-${options.name.replace(/[^A-Za-z0-9_-]/g, '_')}-`))
  const localPort = options.localPort ?? (await freePortRange(1))
  const mediaPort = await freePortRange(4)
  const controlPort = await freeUdpPort()
  const argv = [sipp]
  if (options.remote) argv.push(options.remote)
  if (options.scenarioFile) argv.push('-sf', options.scenarioFile)
  else argv.push('-sn', options.builtin!)
  argv.push('-i', LOOPBACK, '-p', String(localPort), '-mi', LOOPBACK, '-mp', String(mediaPort),
    '-ci', LOOPBACK, '-cp', String(controlPort), '-t', options.transport ?? 'u1', '-nostdin',
    '-trace_stat', '-stf', join(dir, 'stat.csv'), '-fd', '1',
    '-trace_err', '-error_file', join(dir, 'errors.log'),
    '-trace_screen', '-screen_file', join(dir, 'screen.log'),
    '-recv_timeout', String(options.recvTimeoutMs ?? 5_000))
  if (options.traceMessages ?? true) argv.push('-trace_msg', '-message_file', join(dir, 'messages.log'))
  if (options.calls !== undefined) argv.push('-m', String(options.calls))
  if (options.rate !== undefined) argv.push('-r', String(options.rate))
  if (options.ratePeriodMs !== undefined) argv.push('-rp', String(options.ratePeriodMs))
  if (options.limit !== undefined) argv.push('-l', String(options.limit))
  if (options.pauseMs !== undefined) argv.push('-d', String(options.pauseMs))
  if (options.service !== undefined) argv.push('-s', options.service)
  if (options.authUser !== undefined) argv.push('-au', options.authUser)
  if (options.authPassword !== undefined) argv.push('-ap', options.authPassword)
  if (options.authUri !== undefined) argv.push('-auth_uri', options.authUri)
  if (options.injection !== undefined) {
    const csv = join(dir, 'injection.csv')
    writeFileSync(csv, options.injection)
    argv.push('-inf', csv)
  }
  for (const [key, value] of Object.entries(options.keys ?? {})) argv.push('-key', key, value)
  for (const [key, value] of Object.entries(options.vars ?? {})) argv.push('-set', key, value)
  if (options.timeoutSec !== undefined) argv.push('-timeout', `${options.timeoutSec}s`, '-timeout_error')
  argv.push(...(options.extraArgs ?? []))

  const peer = new PeerProcess(`sipp ${options.name}`, argv, { cwd: dir })
  // Ready once its SIP socket is bound (a fatal error ends it instead; a short scenario
  // may also finish before the first check).
  const transport = options.transport ?? 'u1'
  try {
    await Promise.race([
      waitForPortBound(localPort, transport.startsWith('t') ? 'tcp' : 'udp', 5_000),
      peer.exited.then((code) => {
        if (code !== 0) throw new Error(`sipp ${options.name} exited with ${code} at start:\n${peer.tail(20)}`)
      }),
    ])
  } catch (error) {
    await peer.kill()
    throw error
  }
  let finished: Promise<SippResult> | null = null
  return {
    name: options.name,
    localPort,
    process: peer,
    dir,
    finish(timeoutMs = 30_000) {
      finished ??= (async () => {
        const code = await peer.waitForExit(timeoutMs)
        return readResult(options.name, argv, dir, localPort, code, code === null, peer.output())
      })()
      return finished
    },
  }
}

/**
 * Runs SIPp to completion (see {@link startSipp}) and returns its results.
 *
 * @param timeoutMs the process is killed after this long (then `timedOut` is true)
 */
export async function runSipp(options: SippOptions, timeoutMs = 30_000): Promise<SippResult> {
  const peer = await startSipp(options)
  return peer.finish(timeoutMs)
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/** The last statistics row of SIPp's -trace_stat CSV (columns by header name). */
export function parseSippStatCsv(csv: string): SippStats | null {
  const lines = csv.split('\n').filter((l) => l.trim().length > 0)
  if (lines.length < 2) return null
  const header = lines[0]!.split(';')
  const last = lines[lines.length - 1]!.split(';')
  const value = (name: string): number => {
    const i = header.indexOf(name)
    return i >= 0 ? Number(last[i]) || 0 : 0
  }
  const failures: Record<string, number> = {}
  header.forEach((name, i) => {
    const m = /^(Failed\w+)\(C\)$/.exec(name)
    const n = Number(last[i])
    if (m && m[1] !== 'FailedCall' && n > 0) failures[m[1]!] = n
  })
  return {
    created: value('TotalCallCreated'),
    successful: value('SuccessfulCall(C)'),
    failed: value('FailedCall(C)'),
    retransmissions: value('Retransmissions(C)'),
    outOfCallMessages: value('OutOfCallMsgs(C)'),
    failures,
  }
}

/** Last `lines` lines of `text`. */
function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n')
}

function readResult(name: string, argv: string[], dir: string, localPort: number, exitCode: number | null,
  timedOut: boolean, output: string): SippResult {
  const stats = parseSippStatCsv(readText(join(dir, 'stat.csv')))
  // SIPp may add its pid to file names when a name is reused; read whatever it wrote.
  const files = existsSync(dir) ? readdirSync(dir) : []
  const pick = (prefix: string) => files.filter((f) => f.startsWith(prefix)).map((f) => readText(join(dir, f))).join('\n')
  const errors = pick('errors')
  const screenAll = pick('screen')
  const screen = screenAll.slice(screenAll.lastIndexOf('------------------------------ Scenario Screen'))
  const messages = tail(pick('messages'), 120)
  const result: SippResult = {
    name, argv, dir, localPort, exitCode, timedOut, stats, errors, screen, output, messages,
    summary() {
      const s = stats
      return [
        `sipp ${name}: exit ${exitCode}${timedOut ? ' (killed after timeout)' : ''}; ` +
          (s ? `calls created ${s.created}, successful ${s.successful}, failed ${s.failed}, retransmissions ${s.retransmissions}` +
            `${Object.keys(s.failures).length ? `, ${JSON.stringify(s.failures)}` : ''}` : 'no statistics'),
        `files in ${dir}`,
        errors.trim() ? `--- errors (tail) ---\n${tail(errors.trim(), 30)}` : '',
        (exitCode !== 0 || timedOut) && screen ? `--- screen ---\n${tail(screen, 40)}` : '',
        (exitCode !== 0 || timedOut) && messages.trim() ? `--- messages (tail) ---\n${tail(messages, 60)}` : '',
        (exitCode !== 0 || timedOut) && !stats ? `--- output (tail) ---\n${tail(output, 30)}` : '',
      ].filter((l) => l.length > 0).join('\n')
    },
  }
  return result
}

/** One message of SIPp's -trace_msg log. */
export interface SippTracedMessage {
  direction: 'sent' | 'received'
  message: SipText
}

/**
 * Every SIP message SIPp logged with -trace_msg (on by default in {@link startSipp}), in
 * order, parsed. Read it after the run ended (SIPp writes the file as it goes).
 */
export function readSippTrace(result: Pick<SippResult, 'dir'>): SippTracedMessage[] {
  const files = existsSync(result.dir) ? readdirSync(result.dir).filter((f) => f.startsWith('messages')) : []
  const out: SippTracedMessage[] = []
  for (const file of files) {
    const text = readText(join(result.dir, file))
    // Entries: "----...---- <date>\n<UDP|TCP> message <sent|received> ... :\n\n<message>"
    for (const entry of text.split(/^-{20,}[^\n]*\n/m)) {
      const header = /^\S+ message (sent|received)[^\n]*\n\n/.exec(entry)
      if (!header) continue
      // The log adds newlines after each message; Content-Length tells where it ends.
      const body = entry.slice(header[0].length)
      const message = SipText.parse(body)
      if (message) out.push({ direction: header[1] as 'sent' | 'received', message })
    }
  }
  return out
}

/** Asserts that a SIPp run exited 0 with exactly `calls` successful calls and none failed. */
export function expectAllSucceeded(result: SippResult, calls: number): void {
  expect(result.exitCode, result.summary()).toBe(0)
  expect(result.stats?.successful, result.summary()).toBe(calls)
  expect(result.stats?.failed, result.summary()).toBe(0)
}

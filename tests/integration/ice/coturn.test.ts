/**
 * Real peers for the ICE part of the gateway:
 * - coturn (`turnserver`) with `use-auth-secret` accepts the TURN REST credentials that
 *   turnRestCredentials computes (an allocation through `turnutils_uclient` relays a packet
 *   to `turnutils_peer` and back), and refuses expired ones and ones made with another secret;
 * - coturn's STUN client (`turnutils_stunclient`) gets its own address from StunBindingService.
 *
 * Needs the Debian package `coturn` (apt-get install -y coturn). Everything listens on
 * 127.0.0.1 on free ports; every process started here is killed in afterAll.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { StunBindingService } from '../../../gateway/src/ice/stun-binding-service.ts'
import { StunClass, StunMethod, decodeStunMessage, encodeStunMessage, newTransactionId } from '../../../gateway/src/ice/stun-message.ts'
import { turnRestCredentials } from '../../../gateway/src/ice/turn-rest-credentials.ts'

const SECRET = 'coturn-integration-secret'
const REALM = 'example.test'
const COTURN_TOOLS = ['turnserver', 'turnutils_uclient', 'turnutils_peer', 'turnutils_stunclient']

function requireCoturn(): void {
  const missing = COTURN_TOOLS.filter((t) => Bun.which(t) === null)
  if (missing.length > 0) {
    throw new Error(`${missing.join(', ')} not found: install coturn with \`apt-get update && apt-get install -y coturn\``)
  }
}

/** A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both). */
async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = await Bun.udpSocket({ hostname: '127.0.0.1', port: 0 })
    const port = udp.port
    udp.close()
    try {
      const tcp = Bun.listen({ hostname: '127.0.0.1', port, socket: { data() {} } })
      tcp.stop(true)
      return port
    } catch {
      // taken on TCP; try another
    }
  }
  throw new Error('no free port found')
}

const started: Bun.Subprocess[] = []
let workDir = ''

interface RunResult {
  exitCode: number | null
  output: string
  timedOut: boolean
}

/** Runs a client to completion (killed after `timeoutMs`), collecting stdout + stderr. */
async function run(cmd: string[], timeoutMs: number): Promise<RunResult> {
  const proc = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe' })
  started.push(proc)
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    proc.kill('SIGKILL')
  }, timeoutMs)
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()])
  await proc.exited
  clearTimeout(timer)
  return { exitCode: proc.exitCode, output: out + err, timedOut }
}

/** Sends STUN Binding requests to 127.0.0.1:port until one is answered (or throws after timeoutMs). */
async function waitForStun(port: number, timeoutMs: number): Promise<void> {
  let answered = false
  const sock = await Bun.udpSocket({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      data(_s, data) {
        const r = decodeStunMessage(new Uint8Array(data))
        if (r.ok && r.message.cls === StunClass.SuccessResponse) answered = true
      },
      // ICMP port unreachable while coturn is still starting: expected, keep polling.
      error() {},
    },
  })
  try {
    const deadline = Date.now() + timeoutMs
    while (!answered && Date.now() < deadline) {
      const req = encodeStunMessage({ method: StunMethod.Binding, cls: StunClass.Request, transactionId: newTransactionId(), attributes: [] }, { fingerprint: true })
      sock.send(req, port, '127.0.0.1')
      await Bun.sleep(100)
    }
  } finally {
    sock.close()
  }
  if (!answered) throw new Error(`nothing answered STUN on 127.0.0.1:${port} within ${timeoutMs} ms`)
}

let turnPort = 0
let turnLog = ''

beforeAll(async () => {
  requireCoturn()
  workDir = mkdtempSync(join(tmpdir(), 'patchbay-coturn-'))
  turnPort = await freePort()
  const relayBase = 49152 + Math.floor(Math.random() * 15000)
  // As in testing-with-real-peers.md, plus: no CLI (its fixed port 5766 would clash between
  // parallel runs), pid file / SQLite file / relay port range private to this run.
  const proc = Bun.spawn(
    [
      'turnserver', '-n',
      '--listening-ip=127.0.0.1', '--relay-ip=127.0.0.1', `--listening-port=${turnPort}`,
      '--use-auth-secret', `--static-auth-secret=${SECRET}`, `--realm=${REALM}`,
      '--no-tls', '--no-dtls', '--allow-loopback-peers', '--no-cli',
      `--min-port=${relayBase}`, `--max-port=${relayBase + 50}`,
      `--pidfile=${join(workDir, 'turnserver.pid')}`, `--userdb=${join(workDir, 'turndb')}`,
      '--log-file=stdout', '--simple-log',
    ],
    { stdout: 'pipe', stderr: 'pipe' },
  )
  started.push(proc)
  void new Response(proc.stdout).text().then((t) => (turnLog += t))
  void new Response(proc.stderr).text().then((t) => (turnLog += t))
  await waitForStun(turnPort, 8000)
}, 15000)

afterAll(async () => {
  for (const p of started) {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
  }
  await Promise.all(started.map((p) => p.exited))
  if (workDir !== '') rmSync(workDir, { recursive: true, force: true })
})

describe('coturn with use-auth-secret', () => {
  test('accepts credentials from turnRestCredentials: allocation relays a packet to a peer and back', async () => {
    requireCoturn()
    const peerPort = await freePort()
    const peer = Bun.spawn(['turnutils_peer', '-L', '127.0.0.1', '-p', String(peerPort)], { stdout: 'ignore', stderr: 'ignore' })
    started.push(peer)
    await Bun.sleep(200)
    const { username, credential } = turnRestCredentials({ secret: SECRET, userId: 'alice', ttlSeconds: 600, nowUnixSeconds: Date.now() / 1000 })
    // -n 1 -m 1 -l 100: one 100-byte message from one client; -c: no RTCP channel; -z 5: 5 ms interval.
    const r = await run(
      ['turnutils_uclient', '-c', '-n', '1', '-m', '1', '-l', '100', '-z', '5', '-u', username, '-w', credential,
        '-p', String(turnPort), '-e', '127.0.0.1', '-r', String(peerPort), '127.0.0.1'],
      30000,
    )
    peer.kill('SIGKILL')
    expect(r.timedOut).toBe(false)
    expect(r.output).not.toContain('Cannot complete Allocation')
    expect(r.exitCode).toBe(0)
    expect(r.output).toContain('tot_recv_msgs=1')
    expect(r.output).toContain('Total lost packets 0')
  }, 40000) // uclient runs its send loop for a few seconds

  test('refuses expired credentials (expiry in the past)', async () => {
    requireCoturn()
    const { username, credential, expiresAt } = turnRestCredentials({
      secret: SECRET,
      userId: 'alice',
      ttlSeconds: 3600,
      nowUnixSeconds: Date.now() / 1000 - 7200,
    })
    expect(expiresAt).toBeLessThan(Date.now() / 1000)
    const r = await run(['turnutils_uclient', '-c', '-n', '1', '-m', '1', '-l', '100', '-u', username, '-w', credential, '-p', String(turnPort), '-e', '127.0.0.1', '-r', '9', '127.0.0.1'], 20000)
    expect(r.timedOut).toBe(false)
    expect(r.exitCode).not.toBe(0)
    expect(r.output).toContain('Cannot complete Allocation')
  }, 25000)

  test('refuses credentials made with another secret', async () => {
    requireCoturn()
    const { username, credential } = turnRestCredentials({ secret: 'not-the-coturn-secret', userId: 'bob', ttlSeconds: 600, nowUnixSeconds: Date.now() / 1000 })
    const r = await run(['turnutils_uclient', '-c', '-n', '1', '-m', '1', '-l', '100', '-u', username, '-w', credential, '-p', String(turnPort), '-e', '127.0.0.1', '-r', '9', '127.0.0.1'], 20000)
    expect(r.timedOut).toBe(false)
    expect(r.exitCode).not.toBe(0)
    expect(r.output).toContain('Cannot complete Allocation')
    expect(turnLog).not.toContain(SECRET)
  }, 25000)
})

describe('StunBindingService with a real STUN client', () => {
  const answered: Array<{ address: string; port: number }> = []
  const service = new StunBindingService({ onAnswer: (s) => answered.push(s) })
  afterAll(() => service.stop())

  test('turnutils_stunclient prints its own address 127.0.0.1:<its port> as the reflexive address', async () => {
    requireCoturn()
    const port = await service.start({ host: '127.0.0.1', port: 0 })
    const r = await run(['turnutils_stunclient', '-p', String(port), '127.0.0.1'], 10000)
    expect(r.timedOut).toBe(false)
    expect(r.exitCode).toBe(0)
    const m = /UDP reflexive addr: (\d+\.\d+\.\d+\.\d+):(\d+)/.exec(r.output)
    expect(m).not.toBeNull()
    expect(m![1]).toBe('127.0.0.1')
    expect(answered.length).toBeGreaterThan(0)
    // The port the client printed is the source port our socket saw: its own port.
    expect(answered.map((a) => a.port)).toContain(Number(m![2]))
    expect(answered.every((a) => a.address === '127.0.0.1')).toBe(true)
  }, 15000)
})

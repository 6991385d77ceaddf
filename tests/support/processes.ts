/**
 * Child processes for integration tests: real SIP peers (SIPp, baresip, Kamailio, coturn,
 * rtpengine) started with Bun.spawn in their own process group, with their output kept in
 * a buffer so that a test can wait for a line and quote the output when it fails.
 *
 * Usage in a test file:
 *
 *   const peers = new PeerSet()
 *   afterAll(() => peers.killAll())            // runs even when a test failed
 *   const uas = peers.spawn('sipp-uas', [requireBinary('sipp', 'sip-tester'), ...args])
 *   await uas.waitFor(/Waiting for/, 5_000)
 */
import { existsSync } from 'node:fs'

/** Directories searched by {@link requireBinary} besides PATH (root's sbin is not always on PATH). */
const EXTRA_BIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']

/** Keep at most this many characters of a peer's output (the tail is what explains failures). */
const MAX_OUTPUT_CHARS = 2_000_000

/**
 * Absolute path of the program `name`, looked up on PATH and in the sbin/bin directories.
 *
 * @param name the program, e.g. `sipp`
 * @param aptPackage the Debian package that provides it, e.g. `sip-tester`
 * @throws Error "sipp not found: install with apt-get install -y sip-tester (or run
 *   tests/setup/install-peers.sh)" when the program is not installed — a test needing a
 *   missing peer fails with this message, it is never skipped.
 */
export function requireBinary(name: string, aptPackage: string): string {
  const onPath = Bun.which(name)
  if (onPath) return onPath
  for (const dir of EXTRA_BIN_DIRS) {
    const candidate = `${dir}/${name}`
    if (existsSync(candidate)) return candidate
  }
  throw new Error(
    `${name} not found: install with apt-get install -y ${aptPackage} (or run tests/setup/install-peers.sh)`,
  )
}

export interface SpawnPeerOptions {
  cwd?: string
  /** Added to (not replacing) the test process environment. */
  env?: Record<string, string>
}

interface OutputWaiter {
  pattern: string | RegExp
  resolve: (match: string) => void
}

/**
 * One running peer program. Its stdout and stderr are merged, in arrival order, into
 * {@link output}. The process is the leader of its own process group (setsid), so that
 * {@link kill} also ends whatever it forked.
 */
export class PeerProcess {
  readonly name: string
  readonly argv: readonly string[]
  readonly pid: number
  /** Resolves with the exit code (128 + signal number when killed by a signal). */
  readonly exited: Promise<number>
  private text = ''
  private dropped = 0
  private waiters: OutputWaiter[] = []
  private exitCode: number | null = null

  constructor(name: string, argv: string[], options: SpawnPeerOptions = {}) {
    this.name = name
    this.argv = argv
    const proc = Bun.spawn(argv, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
      detached: true,
    })
    this.pid = proc.pid
    const pumps = [this.pump(proc.stdout), this.pump(proc.stderr)]
    this.exited = proc.exited.then(async (code) => {
      await Promise.allSettled(pumps)
      const signal = proc.signalCode
      this.exitCode = code ?? (typeof signal === 'number' ? 128 + signal : signal ? 128 + signalNumber(signal) : 1)
      this.notify()
      return this.exitCode
    })
  }

  /** Everything the program printed so far (stdout and stderr merged; very old output is cut). */
  output(): string {
    return this.dropped > 0 ? `[... ${this.dropped} characters cut ...]\n${this.text}` : this.text
  }

  /** The last `lines` lines of output, for assertion messages. */
  tail(lines = 40): string {
    return this.text.split('\n').slice(-lines).join('\n')
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.exitCode === null
  }

  /**
   * Waits until the output contains `pattern` (searched from the start of the output).
   *
   * @returns the matched text
   * @throws Error naming the peer, the pattern and the output tail on timeout, or when the
   *   process exits first
   */
  waitFor(pattern: string | RegExp, timeoutMs = 10_000): Promise<string> {
    const found = this.search(pattern)
    if (found !== null) return Promise.resolve(found)
    return new Promise<string>((resolve, reject) => {
      const waiter: OutputWaiter = {
        pattern,
        resolve: (match) => {
          clearTimeout(timer)
          resolve(match)
        },
      }
      const fail = (why: string) => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error(`${this.name}: ${why} while waiting for ${String(pattern)}\n--- output tail ---\n${this.tail()}`))
      }
      const timer = setTimeout(() => fail(`no match after ${timeoutMs} ms`), timeoutMs)
      this.waiters.push(waiter)
      this.exited.then((code) => {
        if (this.waiters.includes(waiter)) {
          clearTimeout(timer)
          const late = this.search(pattern)
          if (late !== null) {
            this.waiters = this.waiters.filter((w) => w !== waiter)
            resolve(late)
          } else {
            fail(`exited with code ${code}`)
          }
        }
      })
    })
  }

  /**
   * Waits for the process to exit on its own.
   *
   * @returns the exit code, or null when it was still running after `timeoutMs` (the
   *   process is then killed)
   */
  async waitForExit(timeoutMs: number): Promise<number | null> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs)
    })
    const code = await Promise.race([this.exited, timeout])
    clearTimeout(timer)
    if (code === null) await this.kill()
    return code
  }

  /**
   * Ends the process group: SIGTERM, then SIGKILL after `graceMs`. Safe to call twice and
   * after the process exited (the group may still hold children).
   */
  async kill(graceMs = 2_000): Promise<void> {
    signalGroup(this.pid, 'SIGTERM')
    let timer: ReturnType<typeof setTimeout> | undefined
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs)
    })
    const result = await Promise.race([this.exited, grace])
    clearTimeout(timer)
    if (result === 'timeout') {
      signalGroup(this.pid, 'SIGKILL')
      await this.exited
    } else {
      // The leader is gone; make sure nothing it forked survives.
      signalGroup(this.pid, 'SIGKILL')
    }
  }

  private search(pattern: string | RegExp): string | null {
    if (typeof pattern === 'string') return this.text.includes(pattern) ? pattern : null
    const match = this.text.match(pattern)
    return match ? match[0] : null
  }

  private notify(): void {
    if (this.waiters.length === 0) return
    for (const waiter of [...this.waiters]) {
      const match = this.search(waiter.pattern)
      if (match !== null) {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        waiter.resolve(match)
      }
    }
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder()
    const reader = stream.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      this.append(decoder.decode(value, { stream: true }))
    }
    this.append(decoder.decode())
  }

  private append(chunk: string): void {
    if (chunk.length === 0) return
    this.text += chunk
    if (this.text.length > MAX_OUTPUT_CHARS) {
      const cut = this.text.length - MAX_OUTPUT_CHARS / 2
      this.dropped += cut
      this.text = this.text.slice(cut)
    }
    this.notify()
  }
}

/** Starts `argv` as a peer process (see {@link PeerProcess}). */
export function spawnPeer(name: string, argv: string[], options: SpawnPeerOptions = {}): PeerProcess {
  return new PeerProcess(name, argv, options)
}

/**
 * The peers a test file started, so that `afterAll(() => peers.killAll())` ends them all,
 * whatever the tests did.
 */
export class PeerSet {
  private readonly peers: PeerProcess[] = []

  spawn(name: string, argv: string[], options: SpawnPeerOptions = {}): PeerProcess {
    const peer = spawnPeer(name, argv, options)
    this.peers.push(peer)
    return peer
  }

  /** Adds a peer started elsewhere. */
  add(peer: PeerProcess): PeerProcess {
    this.peers.push(peer)
    return peer
  }

  /** Kills every peer (in parallel) and forgets them. */
  async killAll(): Promise<void> {
    const peers = this.peers.splice(0)
    await Promise.allSettled(peers.map((peer) => peer.kill()))
  }
}

function signalGroup(pid: number, signal: 'SIGTERM' | 'SIGKILL'): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // ESRCH: the group is already gone.
  }
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 }

function signalNumber(signal: string): number {
  return SIGNALS[signal] ?? 0
}

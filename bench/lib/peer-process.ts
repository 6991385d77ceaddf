/**
 * A child process of the benchmark (Kamailio, the gateway, SIPp) with its output kept in
 * memory (the last 256 kB) and a stop that escalates from SIGTERM to SIGKILL.
 */
import type { Subprocess } from 'bun'

/** The path of `binary`. @throws Error naming the Debian package to install when it is not on PATH */
export function requireBinary(binary: string, debianPackage: string): string {
  const path = Bun.which(binary, { PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` })
  if (path === null) {
    throw new Error(`${binary} is not installed: apt-get update && apt-get install -y ${debianPackage}`)
  }
  return path
}

const KEEP = 256 * 1024

/** A spawned peer: pid, captured stdout+stderr, exit promise, stop(). */
export class PeerProcess {
  readonly proc: Subprocess<'ignore', 'pipe', 'pipe'>
  readonly exited: Promise<number>
  private text = ''
  private readonly listeners: Array<(chunk: string) => void> = []

  constructor(readonly label: string, readonly argv: string[], options: { cwd?: string; env?: Record<string, string | undefined> } = {}) {
    this.proc = Bun.spawn(argv, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    })
    void this.pump(this.proc.stdout)
    void this.pump(this.proc.stderr)
    this.exited = this.proc.exited
  }

  get pid(): number {
    return this.proc.pid
  }

  get exitCode(): number | null {
    return this.proc.exitCode
  }

  /** Everything captured so far (stdout and stderr interleaved, last 256 kB). */
  output(): string {
    return this.text
  }

  /** The last `lines` lines of output. */
  tail(lines = 20): string {
    return this.text.split('\n').slice(-lines).join('\n')
  }

  /** Calls `fn` with each new chunk of output (already captured text is not replayed). */
  onOutput(fn: (chunk: string) => void): void {
    this.listeners.push(fn)
  }

  /**
   * Resolves with the first match of `re` in the output (checked as output arrives).
   * @throws Error when the process exits first or `timeoutMs` passes
   */
  waitForOutput(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const first = re.exec(this.text)
      if (first) return resolve(first)
      let done = false
      const finish = (f: () => void) => {
        if (done) return
        done = true
        clearTimeout(timer)
        f()
      }
      const timer = setTimeout(() => finish(() => reject(new Error(`${this.label}: no ${re} in output after ${timeoutMs} ms:\n${this.tail(30)}`))), timeoutMs)
      this.onOutput(() => {
        const m = re.exec(this.text)
        if (m) finish(() => resolve(m))
      })
      void this.exited.then((code) => finish(() => reject(new Error(`${this.label} exited with ${code} before printing ${re}:\n${this.tail(30)}`))))
    })
  }

  /** Waits up to `timeoutMs` for exit; null when still running. */
  async waitForExit(timeoutMs: number): Promise<number | null> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const r = await Promise.race([
      this.exited,
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), timeoutMs)
      }),
    ])
    clearTimeout(timer)
    return r
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  async stop(graceMs = 5000): Promise<number> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM')
      const code = await this.waitForExit(graceMs)
      if (code !== null) return code
      this.proc.kill('SIGKILL')
    }
    return this.exited
  }

  private async pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder()
    const reader = stream.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      const s = decoder.decode(value, { stream: true })
      this.text += s
      if (this.text.length > KEEP) this.text = this.text.slice(-KEEP)
      for (const fn of this.listeners) fn(s)
    }
  }
}

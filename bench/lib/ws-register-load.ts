/**
 * Load generator of bench:ws: many SIP over WebSocket (RFC 7118) connections, each the
 * registration of one user with digest authentication (RFC 3261 §22, RFC 7616), written as
 * text with the headers SIP.js 0.21 sends (as bench/lib/ws-sip-load.ts, so message sizes are
 * a browser's):
 *
 * - connect: WebSocket (subprotocol `sip`) -> REGISTER -> 401 -> REGISTER with
 *   Authorization -> 200 (one per connection);
 * - re-register: on the open connections, REGISTER with Authorization (same Call-ID, CSeq + 1,
 *   same Contact: a binding refresh, RFC 3261 §10.2.4) reusing the last nonce: with qop=auth
 *   the nonce-count goes up by one (RFC 7616 §3.4), without qop (Kamailio's
 *   `www_challenge("$fd", "0")`) the nonce is sent again as is. A 401 (stale or replayed
 *   nonce) is answered once with the new challenge and counted as `challenged`.
 *
 * A generator is one process. {@link GeneratorPool} runs several as children (`bun FILE
 * --child`, FILE calling {@link runGeneratorChild}) speaking JSON lines on stdin/stdout, so
 * that the load is spread over cores and each process stays under its fd limit (one fd per
 * connection).
 */
import type { Subprocess } from 'bun'
import { digestResponse, ha1 } from '../../gateway/src/sip/auth/digest.ts'
import { openWebSocket, token } from './load-client.ts'
import { BENCH_DOMAIN, BENCH_PASSWORD, benchUserName } from './patchbay.ts'

const UA = 'User-Agent: SIP.js/0.21.2'
const ALLOW = 'Allow: ACK,CANCEL,INVITE,MESSAGE,BYE,OPTIONS,INFO,NOTIFY,REFER'
const CSEQ_RE = /\r\n(?:CSeq):[ \t]*(\d+)/i
const WWW_AUTH_RE = /\r\nWWW-Authenticate:[ \t]*([^\r\n]*)/gi

/** The digest challenge a client answers (MD5; qop=auth when offered). */
interface Challenge {
  realm: string
  nonce: string
  opaque: string | null
  qop: boolean
}

function parseChallenge(header: string): Challenge {
  const p: Record<string, string> = {}
  for (const m of header.replace(/^Digest\s+/i, '').matchAll(/([\w-]+)=(?:"([^"]*)"|([^,\s]*))/g)) p[m[1]!.toLowerCase()] = m[2] ?? m[3] ?? ''
  return {
    realm: p.realm ?? BENCH_DOMAIN,
    nonce: p.nonce ?? '',
    opaque: p.opaque ?? null,
    qop: (p.qop ?? '').split(',').some((q) => q.trim().toLowerCase() === 'auth'),
  }
}

/** The MD5 challenge of a 401 (the gateway offers MD5 and SHA-256; Kamailio MD5 without `algorithm`). */
function md5Challenge(text: string): Challenge | null {
  let first: string | null = null
  for (const m of text.matchAll(WWW_AUTH_RE)) {
    const h = m[1]!
    first ??= h
    if (!/algorithm=/i.test(h) || /algorithm=("?)MD5\1(,|$|\s)/i.test(h)) return parseChallenge(h)
  }
  return first === null ? null : parseChallenge(first)
}

const ha1Cache = new Map<string, string>()

/** One response awaited by a client: its CSeq and what to do with it. */
interface Pending {
  cseq: number
  done(status: number, text: string): void
  timer: ReturnType<typeof setTimeout>
}

/** One WebSocket connection registering one user (see the module comment). */
export class WsRegisterClient {
  private ws: WebSocket | null = null
  private readonly host = `${token(12)}.invalid`
  private readonly contactUser = token(8)
  private readonly instance = crypto.randomUUID()
  private readonly callId = token(20)
  private readonly fromTag = token(10)
  private cseq = 0
  private challenge: Challenge | null = null
  private nc = 0
  private pending: Pending | null = null
  registered = false

  constructor(readonly username: string, private readonly url: string) {}

  /** True while a REGISTER is waiting for its final response. */
  get busy(): boolean {
    return this.pending !== null
  }

  /**
   * Opens the WebSocket and registers: REGISTER -> 401 -> REGISTER with digest -> 200.
   * @throws Error on a refused/closed connection, another final response, or `timeoutMs` per step
   */
  async connectAndRegister(timeoutMs: number): Promise<void> {
    await this.open(timeoutMs)
    let r = await this.register(timeoutMs)
    if (r.status === 401) r = await this.answerChallenge(r.text, timeoutMs)
    if (r.status !== 200) throw new Error(`${this.username}: REGISTER answered ${r.text.slice(0, r.text.indexOf('\r\n'))}`)
    this.registered = true
  }

  /**
   * Refreshes the binding with credentials for the last nonce; answers one 401 with its new
   * challenge. Resolves with whether a 401 came.
   * @throws Error when the final answer is not 200, the connection is gone or `timeoutMs` passes
   */
  async reregister(timeoutMs: number): Promise<boolean> {
    let r = await this.register(timeoutMs)
    const challenged = r.status === 401
    if (challenged) r = await this.answerChallenge(r.text, timeoutMs)
    if (r.status !== 200) throw new Error(`${this.username}: re-REGISTER answered ${r.text.slice(0, r.text.indexOf('\r\n'))}`)
    return challenged
  }

  /** Closes the WebSocket (1000). */
  close(): void {
    this.ws?.close(1000)
    this.ws = null
  }

  private answerChallenge(text: string, timeoutMs: number): Promise<{ status: number; text: string }> {
    const c = md5Challenge(text)
    if (c === null) throw new Error(`${this.username}: 401 without WWW-Authenticate`)
    this.challenge = c
    this.nc = 0
    return this.register(timeoutMs)
  }

  private open(timeoutMs: number): Promise<void> {
    return openWebSocket({
      url: this.url, protocol: 'sip', timeoutMs, who: this.username,
      created: (ws) => { this.ws = ws },
      onText: (text) => this.onText(text),
      onClose: (ws, e) => {
        if (this.ws === ws) this.ws = null
        this.registered = false
        const p = this.pending
        if (p !== null) {
          this.pending = null
          clearTimeout(p.timer)
          p.done(599, `SIP/2.0 599 WebSocket closed (${e.code})\r\n`)
        }
      },
    })
  }

  private onText(text: string): void {
    const p = this.pending
    if (p === null || !text.startsWith('SIP/2.0 ')) return // keep-alives, stray requests
    const status = Number(text.slice(8, 11))
    if (status < 200) return
    const cseq = CSEQ_RE.exec(text)
    if (cseq === null || Number(cseq[1]) !== p.cseq) return
    this.pending = null
    clearTimeout(p.timer)
    p.done(status, text)
  }

  /** Sends REGISTER (with Authorization when a challenge is known) and awaits its final response. */
  private register(timeoutMs: number): Promise<{ status: number; text: string }> {
    const ws = this.ws
    if (ws === null || ws.readyState !== WebSocket.OPEN) return Promise.reject(new Error(`${this.username}: not connected`))
    const uri = `sip:${BENCH_DOMAIN}`
    const aor = `<sip:${this.username}@${BENCH_DOMAIN}>`
    const cseq = ++this.cseq
    const lines = [
      `REGISTER ${uri} SIP/2.0`,
      `Via: SIP/2.0/WS ${this.host};branch=z9hG4bK${token(7)}`,
      'Max-Forwards: 70',
      `To: ${aor}`,
      `From: ${aor};tag=${this.fromTag}`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${cseq} REGISTER`,
    ]
    if (this.challenge !== null) lines.push(`Authorization: ${this.authorization(this.challenge, uri)}`)
    lines.push(
      `Contact: <sip:${this.contactUser}@${this.host};transport=ws>;+sip.ice;reg-id=1;+sip.instance="<urn:uuid:${this.instance}>";expires=600`,
      'Expires: 600', ALLOW, 'Supported: path,gruu,outbound', UA, 'Content-Length: 0', '', '')
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.pending?.cseq !== cseq) return
        this.pending = null
        reject(new Error(`${this.username}: no answer to REGISTER in ${timeoutMs} ms`))
      }, timeoutMs)
      this.pending = { cseq, timer, done: (status, text) => resolve({ status, text }) }
      ws.send(lines.join('\r\n'))
    })
  }

  private authorization(c: Challenge, uri: string): string {
    const key = `${this.username}:${c.realm}`
    let h = ha1Cache.get(key)
    if (h === undefined) ha1Cache.set(key, (h = ha1('MD5', this.username, c.realm, BENCH_PASSWORD)))
    const opaque = c.opaque !== null ? `, opaque="${c.opaque}"` : ''
    const head = `Digest algorithm=MD5, username="${this.username}", realm="${c.realm}", nonce="${c.nonce}", uri="${uri}"`
    if (!c.qop) {
      const response = digestResponse({ algorithm: 'MD5', ha1: h, nonce: c.nonce, method: 'REGISTER', uri })
      return `${head}, response="${response}"${opaque}`
    }
    const nc = (++this.nc).toString(16).padStart(8, '0')
    const cnonce = token(12)
    const response = digestResponse({ algorithm: 'MD5', ha1: h, nonce: c.nonce, nc, cnonce, qop: 'auth', method: 'REGISTER', uri })
    return `${head}, response="${response}"${opaque}, qop=auth, cnonce="${cnonce}", nc=${nc}`
  }
}

/** Outcome of connecting and registering a range of users. */
export interface ConnectResult {
  /** Connections open and registered. */
  registered: number
  failed: number
  firstError: string | null
  /** Wall time of the phase, seconds. */
  seconds: number
}

/** Outcome of a re-registration run. */
export interface ReregisterResult {
  /** Re-registrations answered 200 (each one REGISTER -> 200, or REGISTER -> 401 -> REGISTER -> 200). */
  completed: number
  /** Of those, how many needed a new challenge (401 first). */
  challenged: number
  failed: number
  firstError: string | null
  /** Wall time until the last answer, seconds. */
  seconds: number
}

/** The clients of one generator process: users `firstUser` .. `firstUser + count - 1`. */
export class WsRegisterGenerator {
  private readonly clients: WsRegisterClient[]

  constructor(url: string, firstUser: number, count: number) {
    this.clients = Array.from({ length: count }, (_, i) => new WsRegisterClient(benchUserName(firstUser + i), url))
  }

  /** Connects and registers every client, at most `concurrency` in flight. */
  async connectAll(concurrency: number, timeoutMs: number): Promise<ConnectResult> {
    const started = performance.now()
    let next = 0
    let registered = 0
    let failed = 0
    let firstError: string | null = null
    const lane = async () => {
      while (next < this.clients.length) {
        const c = this.clients[next++]!
        try {
          await c.connectAndRegister(timeoutMs)
          registered++
        } catch (e) {
          failed++
          firstError ??= (e as Error).message
          c.close()
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(concurrency, this.clients.length) }, lane))
    return { registered, failed, firstError, seconds: (performance.now() - started) / 1000 }
  }

  /**
   * Re-registers the registered clients round-robin for `seconds`, keeping `window`
   * REGISTERs in flight (at most one per connection); waits for those in flight at the end.
   */
  async reregisterFor(seconds: number, window: number, timeoutMs: number): Promise<ReregisterResult> {
    const live = this.clients.filter((c) => c.registered)
    const started = performance.now()
    const deadline = started + seconds * 1000
    let next = 0
    let completed = 0
    let challenged = 0
    let failed = 0
    let firstError: string | null = null
    const lane = async () => {
      while (performance.now() < deadline) {
        let c: WsRegisterClient | undefined
        for (let tries = 0; tries < live.length; tries++) {
          const candidate = live[next++ % live.length]!
          if (!candidate.busy && candidate.registered) {
            c = candidate
            break
          }
        }
        if (c === undefined) return
        try {
          if (await c.reregister(timeoutMs)) challenged++
          completed++
        } catch (e) {
          failed++
          firstError ??= (e as Error).message
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(window, live.length) }, lane))
    return { completed, challenged, failed, firstError, seconds: (performance.now() - started) / 1000 }
  }

  /** Connections still open and registered. */
  registeredCount(): number {
    return this.clients.reduce((n, c) => n + (c.registered ? 1 : 0), 0)
  }

  closeAll(): void {
    for (const c of this.clients) c.close()
  }
}

/** A command from the parent to a child generator (one JSON line on stdin). */
type Command =
  | { op: 'connect'; url: string; firstUser: number; count: number; concurrency: number; timeoutMs: number }
  | { op: 'reregister'; seconds: number; window: number; timeoutMs: number }
  | { op: 'count' }
  | { op: 'close' }

/**
 * The child side: reads commands from stdin, runs them on one {@link WsRegisterGenerator},
 * writes one JSON line per command on stdout (`{ ok: true, result }` or `{ ok: false, error }`),
 * exits after `close`.
 */
export async function runGeneratorChild(): Promise<void> {
  let gen: WsRegisterGenerator | null = null
  const reply = (v: unknown) => process.stdout.write(JSON.stringify(v) + '\n')
  for await (const line of console) {
    if (line.trim() === '') continue
    try {
      const cmd = JSON.parse(line) as Command
      if (cmd.op === 'connect') {
        gen?.closeAll()
        gen = new WsRegisterGenerator(cmd.url, cmd.firstUser, cmd.count)
        reply({ ok: true, result: await gen.connectAll(cmd.concurrency, cmd.timeoutMs) })
      } else if (cmd.op === 'reregister') {
        if (gen === null) throw new Error('reregister before connect')
        reply({ ok: true, result: await gen.reregisterFor(cmd.seconds, cmd.window, cmd.timeoutMs) })
      } else if (cmd.op === 'count') {
        reply({ ok: true, result: gen?.registeredCount() ?? 0 })
      } else {
        gen?.closeAll()
        reply({ ok: true, result: null })
        await Bun.sleep(200) // let the close frames go out
        process.exit(0)
      }
    } catch (e) {
      reply({ ok: false, error: (e as Error).message })
    }
  }
}

/** One child generator process and its reply queue. */
class Child {
  private buffer = ''
  private readonly waiters: Array<(line: string) => void> = []
  private readonly lines: string[] = []

  constructor(readonly proc: Subprocess<'pipe', 'pipe', 'inherit'>) {
    void this.pump()
  }

  async call<T>(cmd: Command): Promise<T> {
    this.proc.stdin.write(JSON.stringify(cmd) + '\n')
    this.proc.stdin.flush()
    const line = this.lines.shift() ?? await new Promise<string>((resolve, reject) => {
      this.waiters.push(resolve)
      void this.proc.exited.then((code) => reject(new Error(`generator child ${this.proc.pid} exited with ${code}`)))
    })
    const r = JSON.parse(line) as { ok: boolean; result?: T; error?: string }
    if (!r.ok) throw new Error(`generator child ${this.proc.pid}: ${r.error}`)
    return r.result as T
  }

  private async pump(): Promise<void> {
    const decoder = new TextDecoder()
    const reader = this.proc.stdout.getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      this.buffer += decoder.decode(value, { stream: true })
      let nl: number
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl)
        this.buffer = this.buffer.slice(nl + 1)
        const w = this.waiters.shift()
        if (w) w(line)
        else this.lines.push(line)
      }
    }
  }
}

/**
 * Several generator processes driven together: `childArgv` starts one (e.g.
 * `[bun, 'bench/ws.ts', '--child']`). Users are split in contiguous ranges; results are summed
 * (seconds: the slowest child's).
 */
export class GeneratorPool {
  private readonly children: Child[]

  constructor(count: number, childArgv: string[]) {
    this.children = Array.from({ length: count }, () => new Child(Bun.spawn(childArgv, { stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' })))
  }

  /** The child processes' pids (for their CPU time). */
  get pids(): number[] {
    return this.children.map((c) => c.proc.pid)
  }

  /** Connects and registers users 0 .. total-1 over the children; `concurrency` in flight per child. */
  async connect(url: string, total: number, concurrency: number, timeoutMs: number): Promise<ConnectResult> {
    const n = this.children.length
    const results = await Promise.all(this.children.map((c, i) => {
      const firstUser = Math.floor((total * i) / n)
      const count = Math.floor((total * (i + 1)) / n) - firstUser
      return c.call<ConnectResult>({ op: 'connect', url, firstUser, count, concurrency, timeoutMs })
    }))
    return {
      registered: sum(results.map((r) => r.registered)),
      failed: sum(results.map((r) => r.failed)),
      firstError: results.find((r) => r.firstError !== null)?.firstError ?? null,
      seconds: Math.max(...results.map((r) => r.seconds)),
    }
  }

  /** Re-registers for `seconds` in every child, `window` in flight per child. */
  async reregister(seconds: number, window: number, timeoutMs: number): Promise<ReregisterResult> {
    const results = await Promise.all(this.children.map((c) => c.call<ReregisterResult>({ op: 'reregister', seconds, window, timeoutMs })))
    return {
      completed: sum(results.map((r) => r.completed)),
      challenged: sum(results.map((r) => r.challenged)),
      failed: sum(results.map((r) => r.failed)),
      firstError: results.find((r) => r.firstError !== null)?.firstError ?? null,
      seconds: Math.max(...results.map((r) => r.seconds)),
    }
  }

  /** Connections still registered, over all children. */
  async registered(): Promise<number> {
    return sum(await Promise.all(this.children.map((c) => c.call<number>({ op: 'count' }))))
  }

  /** Closes every connection and ends the children (SIGKILL after 5 s). */
  async stop(): Promise<void> {
    await Promise.all(this.children.map(async (c) => {
      try {
        await Promise.race([c.call({ op: 'close' }), Bun.sleep(5000)])
      } catch {
        // already gone
      }
      c.proc.kill('SIGKILL')
      await c.proc.exited
    }))
  }
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)

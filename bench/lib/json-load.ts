/**
 * JSON signaling client of the bench:signaling load generator (docs/json-signaling.md,
 * subprotocol `patchbay-json.1`):
 *
 * - login: `challenge` (sent by the gateway on open) -> `login` with the HMAC-SHA-256 proof
 *   keyed by the SHA-256 HA1 -> `session`.
 * - call: `call` (SDP offer) -> `ringing` -> `answered` (SDP answer); then `hangup` -> `ended`.
 * - as callee: `incoming` -> `answer` at once (the fixture's answer); `ended`.
 * - close(logout): `logout` first, else the session outlives the socket by graceSeconds.
 */
import { createHmac } from 'node:crypto'
import { ha1 } from '../../gateway/src/sip/auth/digest.ts'
import { deferred, token, WsLoadClient } from './load-client.ts'
import { BENCH_PASSWORD } from './patchbay.ts'

type Frame = { type: string; [k: string]: unknown }

/** A JSON signaling client of the generator (see the module comment). */
export class JsonLoadClient extends WsLoadClient {
  private challenge: ReturnType<typeof deferred<Frame>> | null = null
  private readonly waiting = new Map<string, (f: Frame) => void>()
  /** Frames of this client's own calls that arrived while nobody waited (several per task). */
  private readonly inbox = new Map<string, Frame[]>()
  /** Types of the frames each own call received (for the error message of a failed call). */
  private readonly seen = new Map<string, string[]>()
  private ids = 0

  constructor(username: string, httpPort: number, private readonly sdp: { offer: string; answer: string }) {
    super(username, `ws://127.0.0.1:${httpPort}/json`, 'patchbay-json.1')
  }

  async connectAndRegister(timeoutMs = 10_000): Promise<void> {
    this.challenge = deferred<Frame>(timeoutMs, `${this.username}: challenge`)
    const challenge = this.challenge.promise
    challenge.catch(() => {}) // awaited below; open() may fail first
    await this.open(timeoutMs)
    const c = await challenge
    const key = ha1('SHA-256', this.username, String(c.realm), BENCH_PASSWORD)
    const proof = createHmac('sha256', key).update(String(c.nonce)).digest('hex')
    const id = String(++this.ids)
    const r = await this.await(`id:${id}`, timeoutMs, () => this.send(JSON.stringify({ type: 'login', id, username: this.username, proof })))
    if (r.type !== 'session') throw new Error(`${this.username}: login answered ${JSON.stringify(r)}`)
    this.registered = true
  }

  /** Sends via `send()` and resolves with the next frame for `key` (`id:...` or `call:...`). */
  private await(key: string, timeoutMs: number, send: () => void): Promise<Frame> {
    const queued = this.inbox.get(key)?.shift()
    if (queued !== undefined) {
      send()
      return Promise.resolve(queued)
    }
    const d = deferred<Frame>(timeoutMs, `${this.username}: ${key}`)
    this.waiting.set(key, (f) => {
      this.waiting.delete(key)
      d.resolve(f)
    })
    d.promise.catch(() => this.waiting.delete(key))
    send()
    return d.promise
  }

  async call(callee: string, timeoutMs = 10_000): Promise<number> {
    const callId = token(12)
    const started = performance.now()
    const key = `call:${callId}`
    this.inbox.set(key, [])
    this.seen.set(key, [])
    try {
      return await this.callSteps(key, callId, callee, started, timeoutMs)
    } catch (e) {
      throw new Error(`${(e as Error).message} (received: ${this.seen.get(key)?.join(', ') || 'nothing'})`)
    } finally {
      this.inbox.delete(key)
      this.seen.delete(key)
    }
  }

  private async callSteps(key: string, callId: string, callee: string, started: number, timeoutMs: number): Promise<number> {
    let f = await this.await(key, timeoutMs, () => this.send(JSON.stringify({ type: 'call', callId, to: callee, sdp: this.sdp.offer })))
    while (f.type === 'ringing') f = await this.await(key, timeoutMs, () => {})
    if (f.type !== 'answered') throw new Error(`${this.username} -> ${callee}: ${JSON.stringify(f).slice(0, 200)}`)
    const latency = performance.now() - started
    f = await this.await(key, timeoutMs, () => this.send(JSON.stringify({ type: 'hangup', callId })))
    if (f.type !== 'ended') throw new Error(`${this.username}: hangup answered ${JSON.stringify(f).slice(0, 200)}`)
    return latency
  }

  protected onText(text: string): void {
    let f: Frame
    try {
      f = JSON.parse(text) as Frame
    } catch {
      return
    }
    if (f.type === 'challenge') {
      this.challenge?.resolve(f)
      return
    }
    if (f.type === 'incoming') {
      this.send(JSON.stringify({ type: 'answer', callId: f.callId, sdp: this.sdp.answer }))
      return
    }
    const key = typeof f.callId === 'string' ? `call:${f.callId}` : typeof f.id === 'string' ? `id:${f.id}` : null
    if (key === null) return
    this.seen.get(key)?.push(String(f.type))
    const waiter = this.waiting.get(key)
    if (waiter) waiter(f)
    else this.inbox.get(key)?.push(f)
  }

  override close(logout = false): void {
    if (logout && this.ws?.readyState === WebSocket.OPEN) this.send(JSON.stringify({ type: 'logout' }))
    super.close()
  }

  protected connectionLost(): void {
    this.challenge?.reject(new Error(`${this.username}: connection closed`))
    for (const [key, f] of this.waiting) {
      this.waiting.delete(key)
      f({ type: 'error', code: 'connection-lost' })
    }
  }
}

/**
 * The headless load generator's common part for bench:signaling: a Bun WebSocket client
 * that counts its frames (WireCounter), reconnects like the softphone when asked (1 s base,
 * doubling, ±20 % jitter: softphone/src/signaling/reconnect-backoff.ts), and the interface
 * both protocol clients implement (bench/lib/ws-sip-load.ts, bench/lib/json-load.ts).
 * No media: SDP comes from bench/fixtures.
 */
import { reconnectDelayMs } from '../../softphone/src/signaling/reconnect-backoff.ts'
import { WireCounter } from './wire-counter.ts'

/** One signaling client of the generator (a softphone without media). */
export interface LoadClient {
  readonly username: string
  readonly wire: WireCounter
  readonly registered: boolean
  /** Opens the WebSocket and registers (SIP) or logs in (JSON); resolves when registered. */
  connectAndRegister(timeoutMs?: number): Promise<void>
  /**
   * Calls `callee` (another client of the same mode, which answers at once), then hangs up.
   * Resolves, once the hang-up is confirmed, with the setup latency in ms: call sent (first
   * INVITE / `call`) -> answer seen (200 OK / `answered`).
   */
  call(callee: string, timeoutMs?: number): Promise<number>
  /** Closes the WebSocket (JSON: after `logout` when `logout` is true); no reconnect. */
  close(logout?: boolean): void
  /** Reconnects and registers again whenever the connection drops (softphone back-off). */
  keepRegistered(onRegistered: (client: LoadClient) => void): void
}

/** A Bun WebSocket with frame counting, an open promise and softphone-like reconnects. */
export abstract class WsLoadClient implements LoadClient {
  readonly wire = new WireCounter()
  registered = false
  protected ws: WebSocket | null = null
  private reconnect: ((client: LoadClient) => void) | null = null
  private attempt = 0
  private closedByUs = false

  constructor(readonly username: string, protected readonly url: string, private readonly subprotocol: string) {}

  abstract connectAndRegister(timeoutMs?: number): Promise<void>
  abstract call(callee: string, timeoutMs?: number): Promise<number>
  protected abstract onText(text: string): void

  /** Opens the socket; resolves on open. */
  protected open(timeoutMs: number): Promise<void> {
    this.closedByUs = false
    return openWebSocket({
      url: this.url, protocol: this.subprotocol, timeoutMs, who: this.username,
      created: (ws) => { this.ws = ws },
      onText: (text) => {
        this.wire.countReceived(text)
        this.onText(text)
      },
      onClose: (ws) => {
        if (this.ws !== ws) return
        this.ws = null
        this.registered = false
        this.connectionLost()
        if (!this.closedByUs && this.reconnect) this.scheduleReconnect()
      },
    })
  }

  /** Sends and counts one frame. */
  protected send(text: string): void {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) throw new Error(`${this.username}: not connected`)
    this.wire.countSent(text)
    this.ws.send(text)
  }

  /** Fails whatever is pending (the socket closed). */
  protected abstract connectionLost(): void

  close(_logout = false): void {
    this.closedByUs = true
    this.reconnect = null
    this.ws?.close()
  }

  keepRegistered(onRegistered: (client: LoadClient) => void): void {
    this.reconnect = onRegistered
  }

  private scheduleReconnect(): void {
    this.attempt++
    setTimeout(() => {
      if (!this.reconnect) return
      this.connectAndRegister(10_000).then(
        () => {
          this.attempt = 0
          this.reconnect?.(this)
        },
        () => {
          // Refused or timed out: a close event schedules the next try (closing it if still open).
          if (this.ws !== null && this.ws.readyState === WebSocket.OPEN) this.ws.close()
        },
      )
    }, reconnectDelayMs(this.attempt, Math.random()))
  }
}

/** A pending reply: resolves/rejects once, with a timeout. */
export function deferred<T>(timeoutMs: number, what: string): { promise: Promise<T>; resolve(v: T): void; reject(e: Error): void } {
  let resolve!: (v: T) => void
  let reject!: (e: Error) => void
  const promise = new Promise<T>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`timeout: ${what}`)), timeoutMs)
    resolve = (v) => {
      clearTimeout(timer)
      res(v)
    }
    reject = (e) => {
      clearTimeout(timer)
      rej(e)
    }
  })
  return { promise, resolve, reject }
}

/** A short random token of base-36 characters. */
export function token(length = 10): string {
  let s = ''
  while (s.length < length) s += Math.random().toString(36).slice(2)
  return s.slice(0, length)
}

/**
 * Connects and registers `clients` with at most `concurrency` in flight; returns the failures
 * (first error message and count).
 */
export async function registerAll(clients: readonly LoadClient[], concurrency = 200, timeoutMs = 30_000): Promise<{ failed: number; firstError: string | null }> {
  let next = 0
  let failed = 0
  let firstError: string | null = null
  const worker = async () => {
    while (next < clients.length) {
      const c = clients[next++]!
      try {
        await c.connectAndRegister(timeoutMs)
      } catch (e) {
        failed++
        firstError ??= (e as Error).message
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, clients.length) }, worker))
  return { failed, firstError }
}

/**
 * Opens a WebSocket with `protocol`; resolves once open, rejects after `timeoutMs` or on an
 * error (naming `who`). `created` gets the socket at once; text frames (binary ones decoded as
 * UTF-8) go to `onText`, the close to `onClose`.
 */
export function openWebSocket(o: {
  url: string; protocol: string; timeoutMs: number; who: string
  created(ws: WebSocket): void
  onText(text: string): void
  onClose(ws: WebSocket, event: CloseEvent): void
}): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(o.url, o.protocol)
    o.created(ws)
    const timer = setTimeout(() => {
      reject(new Error(`${o.who}: WebSocket not open after ${o.timeoutMs} ms`))
      ws.close()
    }, o.timeoutMs)
    ws.onopen = () => {
      clearTimeout(timer)
      resolve()
    }
    ws.onmessage = (e) => o.onText(typeof e.data === 'string' ? e.data : Buffer.from(e.data as ArrayBuffer).toString('utf8'))
    ws.onerror = () => {
      clearTimeout(timer)
      reject(new Error(`${o.who}: WebSocket error`))
    }
    ws.onclose = (e) => {
      clearTimeout(timer)
      o.onClose(ws, e)
    }
  })
}

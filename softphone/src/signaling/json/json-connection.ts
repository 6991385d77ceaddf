/**
 * One WebSocket to the gateway's `/json` endpoint (subprotocol `patchbay-json.1`): opening
 * it with a time limit, sending client messages, handing checked server messages up, and the
 * keepalive (`ping` every `pingIntervalMs`; a `pong` — or any frame — must follow within
 * `pongTimeoutMs`, else the connection counts as lost, as NATs and proxies drop idle or dead
 * flows silently). It knows nothing of login or calls (`JsonRegistration` does).
 */
import { JSON_SUBPROTOCOL, parseServerFrame, type ClientMessage, type ServerMessage } from './json-protocol.ts'

/** The part of the browser's WebSocket this client uses (a fake in unit tests). */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: { data?: unknown }) => void): void
}

/** `new WebSocket(url, protocols)`, or a fake. */
export type WebSocketFactory = (url: string, protocols: string[]) => WebSocketLike

export interface JsonConnectionTimings {
  /** Time allowed for the WebSocket to open (ms); default 5000. */
  readonly connectTimeoutMs?: number
  /** Keepalive `ping` interval (ms); default 20 000. */
  readonly pingIntervalMs?: number
  /** How long a `ping` may go unanswered (ms); default 10 000. */
  readonly pongTimeoutMs?: number
}

export interface JsonConnectionHandlers {
  /** A checked server message (bad frames are dropped before this). */
  message(message: ServerMessage): void
  /** The connection is gone (closed by the gateway, network error, keepalive unanswered); not called after `close()`. */
  lost(why: 'closed' | 'keepalive'): void
}

const OPEN = 1

/**
 * A JSON signaling WebSocket. `open()` resolves true once it is open (false on error or
 * timeout); after that, `handlers.lost` reports its end unless `close()` ended it.
 */
export class JsonConnection {
  private ws: WebSocketLike | undefined
  private closed = false
  private pingTimer: ReturnType<typeof setInterval> | undefined
  private pongTimer: ReturnType<typeof setTimeout> | undefined
  private pingSeq = 0

  constructor(
    private readonly url: string,
    private readonly handlers: JsonConnectionHandlers,
    private readonly createWebSocket: WebSocketFactory,
    private readonly timings: JsonConnectionTimings = {},
  ) {}

  /** Opens the WebSocket; resolves false when it fails or does not open in time. */
  open(): Promise<boolean> {
    return new Promise((resolve) => {
      let settled = false
      const settle = (ok: boolean): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(ok)
      }
      let ws: WebSocketLike
      try {
        ws = this.createWebSocket(this.url, [JSON_SUBPROTOCOL])
      } catch {
        resolve(false)
        return
      }
      this.ws = ws
      const timer = setTimeout(() => {
        settle(false)
        this.close()
      }, this.timings.connectTimeoutMs ?? 5000)
      ws.addEventListener('open', () => {
        if (this.closed) return
        settle(true)
        this.startKeepalive()
      })
      ws.addEventListener('message', (event) => {
        if (this.closed) return
        this.sawTraffic()
        const message = parseServerFrame(event.data)
        if (message) this.handlers.message(message)
      })
      const gone = (): void => {
        if (!settled) {
          settle(false)
          this.stop()
          return
        }
        this.lose('closed')
      }
      ws.addEventListener('close', gone)
      ws.addEventListener('error', gone)
    })
  }

  /** True while the WebSocket is open. */
  get isOpen(): boolean {
    return !this.closed && this.ws?.readyState === OPEN
  }

  /** Sends one message; false when the WebSocket is not open (nothing is queued). */
  send(message: ClientMessage): boolean {
    if (!this.isOpen) return false
    try {
      this.ws!.send(JSON.stringify(message))
      return true
    } catch {
      return false
    }
  }

  /** Closes the WebSocket from our side; `lost` is not reported. */
  close(): void {
    if (this.closed) return
    this.stop()
    try {
      this.ws?.close(1000, 'bye')
    } catch {
      // already closed
    }
  }

  private stop(): void {
    this.closed = true
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer)
    if (this.pongTimer !== undefined) clearTimeout(this.pongTimer)
    this.pingTimer = undefined
    this.pongTimer = undefined
  }

  private lose(why: 'closed' | 'keepalive'): void {
    if (this.closed) return
    this.close()
    this.handlers.lost(why)
  }

  private startKeepalive(): void {
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: 'ping', id: `k${++this.pingSeq}` })) return this.lose('closed')
      if (this.pongTimer === undefined) this.pongTimer = setTimeout(() => this.lose('keepalive'), this.timings.pongTimeoutMs ?? 10_000)
    }, this.timings.pingIntervalMs ?? 20_000)
  }

  /** Any frame proves the connection alive. */
  private sawTraffic(): void {
    if (this.pongTimer !== undefined) clearTimeout(this.pongTimer)
    this.pongTimer = undefined
  }
}

/**
 * A client for one rtpengine instance over the ng control protocol on UDP.
 *
 * rtpengine docs/ng_control_protocol.md: "Each message passed between the SIP proxy and the
 * media proxy contains of two parts: a unique message cookie and a dictionary document,
 * separated by a single space. The message cookie is used to match requests to responses
 * and to detect retransmissions. The message cookie in the response generated to a
 * particular request therefore must be the same as in the request."
 *
 * UDP loses datagrams, so a request is sent again with the same cookie (rtpengine answers a
 * retransmission from its cookie cache, it does not run the command twice) every
 * `retransmitMs` until `tries` sends went unanswered; then the request fails with kind
 * `timeout`. An ICMP port unreachable (nothing listens on the ng port) fails every pending
 * request at once with kind `refused`.
 */
import type { Logger } from '../../base/log.ts'
import { RealScheduler, type Scheduler, type TimerHandle } from '../../base/scheduler.ts'
import { asBencodeDict, decodeBencode, encodeBencode, type BencodeDict, type BencodeInput } from './bencode.ts'

/**
 * Why a request failed:
 * - `timeout`: no reply after every retransmission (instance down or overloaded);
 * - `refused`: ICMP port unreachable (nothing listens on the ng port: instance down);
 * - `socket`: the local UDP socket could not be opened or used;
 * - `closed`: {@link NgClient.close} was called while the request was pending;
 * - `error-reply`: rtpengine answered `result: error` (message = its `error-reason`);
 * - `bad-reply`: the reply was not a bencoded dictionary with a known `result`.
 */
export type NgErrorKind = 'timeout' | 'refused' | 'socket' | 'closed' | 'error-reply' | 'bad-reply'

export class NgError extends Error {
  constructor(
    readonly kind: NgErrorKind,
    message: string,
  ) {
    super(message)
    this.name = 'NgError'
  }

  /** True when the failure says the instance is unreachable (as opposed to a refused command). */
  get instanceDown(): boolean {
    return this.kind === 'timeout' || this.kind === 'refused' || this.kind === 'socket'
  }
}

export interface NgClientOptions {
  /** rtpengine's `--listen-ng` address. */
  host: string
  port: number
  /** Milliseconds between sends of one request (default 500). */
  retransmitMs?: number
  /** Sends per request before it fails with `timeout` (default 3: 1.5 s in all). */
  tries?: number
  /** Local address to bind (default 127.0.0.1 for a loopback host, else 0.0.0.0 / ::). */
  bindAddress?: string
  scheduler?: Scheduler
  logger?: Logger
}

interface Pending {
  cookie: string
  command: string
  payload: Uint8Array
  sends: number
  timer: TimerHandle | null
  startedAt: number
  resolve: (reply: BencodeDict) => void
  reject: (error: NgError) => void
}

type UdpSocket = Awaited<ReturnType<typeof openSocket>>

const SPACE = 0x20
const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder()

/**
 * One rtpengine instance reached over UDP (one connected socket per instance, so that an
 * ICMP error on it can only be about this instance).
 *
 * Usage: `const c = new NgClient({ host: '127.0.0.1', port: 22222 }); await c.ping();
 * const reply = await c.request('offer', { 'call-id': ..., 'from-tag': ..., sdp })`.
 */
export class NgClient {
  readonly host: string
  readonly port: number
  private readonly retransmitMs: number
  private readonly tries: number
  private readonly bindAddress: string
  private readonly scheduler: Scheduler
  private readonly logger: Logger | undefined
  private readonly cookiePrefix = Math.random().toString(36).slice(2, 10)
  private sequence = 0
  private readonly pending = new Map<string, Pending>()
  private socket: Promise<UdpSocket> | null = null
  private closed = false
  /** Round-trip time of the last request answered at its first send (ms). */
  lastRttMs: number | null = null

  constructor(options: NgClientOptions) {
    this.host = options.host
    this.port = options.port
    this.retransmitMs = options.retransmitMs ?? 500
    this.tries = Math.max(1, options.tries ?? 3)
    this.bindAddress = options.bindAddress ?? defaultBindAddress(options.host)
    this.scheduler = options.scheduler ?? new RealScheduler()
    this.logger = options.logger
  }

  /** `host:port`, for logs. */
  get address(): string {
    return `${this.host}:${this.port}`
  }

  /** Number of requests awaiting a reply. */
  get pendingCount(): number {
    return this.pending.size
  }

  /**
   * ng `ping`: "The request dictionary contains no other keys and the reply dictionary also
   * contains no other keys. The only valid value for `result` is `pong`."
   *
   * @returns the round-trip time in milliseconds (of the send that was answered)
   * @throws NgError
   */
  async ping(): Promise<number> {
    const started = this.scheduler.now()
    const reply = await this.request('ping')
    if (reply.result !== 'pong') throw new NgError('bad-reply', `ping answered with result ${String(reply.result)}`)
    return this.scheduler.now() - started
  }

  /**
   * Sends `{ command, ...dict }` and resolves with the reply dictionary (`result` is `ok`,
   * or `pong` for ping). `undefined` values in `dict` are left out.
   *
   * ng: "If the result is `error`, then another key `error-reason` must be given, containing
   * a string with a human-readable error message." -> rejects with kind `error-reply`.
   *
   * @throws NgError (see {@link NgErrorKind})
   */
  request(command: string, dict: { readonly [key: string]: BencodeInput | undefined } = {}): Promise<BencodeDict> {
    if (this.closed) return Promise.reject(new NgError('closed', `ng client ${this.address} is closed`))
    const cookie = `${this.cookiePrefix}_${++this.sequence}`
    const body = encodeBencode({ ...dict, command })
    const head = utf8.encode(`${cookie} `)
    const payload = new Uint8Array(head.length + body.length)
    payload.set(head)
    payload.set(body, head.length)
    return new Promise<BencodeDict>((resolve, reject) => {
      const entry: Pending = {
        cookie,
        command,
        payload,
        sends: 0,
        timer: null,
        startedAt: this.scheduler.now(),
        resolve,
        reject,
      }
      this.pending.set(cookie, entry)
      void this.transmit(entry)
    })
  }

  /** Fails every pending request with kind `closed` and closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.failAll(new NgError('closed', `ng client ${this.address} closed`))
    const socket = this.socket
    this.socket = null
    if (socket) {
      try {
        ;(await socket).close()
      } catch {
        // the socket never opened
      }
    }
  }

  private async transmit(entry: Pending): Promise<void> {
    let socket: UdpSocket
    try {
      socket = await this.open()
    } catch (error) {
      this.settle(entry, new NgError('socket', `cannot open UDP socket for ${this.address}: ${describe(error)}`))
      return
    }
    if (!this.pending.has(entry.cookie)) return
    entry.sends++
    if (entry.sends > 1) this.logger?.debug('ng retransmission', { instance: this.address, command: entry.command, send: entry.sends })
    try {
      socket.send(entry.payload)
    } catch (error) {
      // Bun reports an ICMP port unreachable received since the last send by throwing
      // ECONNREFUSED from send() (and again through the socket's error handler).
      if (isRefused(error)) {
        this.refused()
        return
      }
      this.settle(entry, new NgError('socket', `send to ${this.address} failed: ${describe(error)}`))
      return
    }
    entry.timer = this.scheduler.setTimer(this.retransmitMs, () => {
      entry.timer = null
      if (!this.pending.has(entry.cookie)) return
      if (entry.sends >= this.tries) {
        this.settle(entry, new NgError('timeout', `no reply from rtpengine ${this.address} to ${entry.command} after ${entry.sends} sends`))
      } else {
        void this.transmit(entry)
      }
    })
  }

  private open(): Promise<UdpSocket> {
    if (!this.socket) {
      this.socket = openSocket(this.bindAddress, this.host, this.port, {
        data: (data, truncated) => this.onDatagram(data, truncated),
        error: (error) => {
          if (isRefused(error)) this.refused()
          else this.logger?.warn('ng socket error', { instance: this.address, error: describe(error) })
        },
      })
      this.socket.catch(() => {
        this.socket = null
      })
    }
    return this.socket
  }

  /** ICMP port unreachable: nobody listens at the ng address, every pending request fails. */
  private refused(): void {
    this.failAll(new NgError('refused', `rtpengine ${this.address} refused (nothing listens on the ng port)`))
  }

  private onDatagram(data: Uint8Array, truncated: boolean): void {
    const space = data.indexOf(SPACE)
    if (space <= 0) {
      this.logger?.warn('ng reply without cookie', { instance: this.address, bytes: data.length })
      return
    }
    const cookie = utf8Decoder.decode(data.subarray(0, space))
    const entry = this.pending.get(cookie)
    if (!entry) {
      // A second reply to a retransmitted request, or a reply after the timeout.
      this.logger?.debug('ng reply for unknown cookie', { instance: this.address, cookie })
      return
    }
    if (entry.sends === 1) this.lastRttMs = this.scheduler.now() - entry.startedAt
    if (truncated) {
      this.settle(entry, new NgError('bad-reply', `reply from ${this.address} to ${entry.command} was truncated (${data.length} bytes kept)`))
      return
    }
    const decoded = decodeBencode(data.subarray(space + 1))
    const dict = decoded.ok ? asBencodeDict(decoded.value) : null
    if (!dict) {
      const why = decoded.ok ? 'not a dictionary' : decoded.reason
      this.settle(entry, new NgError('bad-reply', `unreadable reply from ${this.address} to ${entry.command}: ${why}`))
      return
    }
    const result = dict.result
    if (result === 'error') {
      const reason = typeof dict['error-reason'] === 'string' ? dict['error-reason'] : 'unspecified error'
      this.settle(entry, new NgError('error-reply', reason))
      return
    }
    if (result !== 'ok' && result !== 'pong') {
      this.settle(entry, new NgError('bad-reply', `reply from ${this.address} to ${entry.command} has result ${String(result)}`))
      return
    }
    if (typeof dict.warning === 'string') {
      this.logger?.warn('rtpengine warning', { instance: this.address, command: entry.command, warning: dict.warning })
    }
    this.settle(entry, dict)
  }

  private settle(entry: Pending, outcome: BencodeDict | NgError): void {
    if (!this.pending.delete(entry.cookie)) return
    if (entry.timer) this.scheduler.clearTimer(entry.timer)
    entry.timer = null
    if (outcome instanceof NgError) entry.reject(outcome)
    else entry.resolve(outcome)
  }

  private failAll(error: NgError): void {
    for (const entry of [...this.pending.values()]) this.settle(entry, error)
  }
}

interface SocketHandlers {
  data(data: Uint8Array, truncated: boolean): void
  error(error: unknown): void
}

/**
 * A UDP socket connected to host:port. Bun 1.4.5 calls the `error` handler with the error
 * as its only argument (its typings say `(socket, error)`), so the handler takes whichever
 * argument is an Error.
 */
function openSocket(bindAddress: string, host: string, port: number, handlers: SocketHandlers) {
  return Bun.udpSocket({
    hostname: bindAddress,
    port: 0,
    binaryType: 'uint8array',
    connect: { hostname: host, port },
    socket: {
      data(_socket, data, _port, _address, flags) {
        handlers.data(data, flags?.truncated === true)
      },
      error(...args: unknown[]) {
        const error = args.find((a) => a instanceof Error) ?? args[args.length - 1]
        handlers.error(error)
      },
    },
  })
}

function defaultBindAddress(host: string): string {
  if (host === 'localhost' || host.startsWith('127.')) return '127.0.0.1'
  if (host === '::1') return '::1'
  return host.includes(':') ? '::' : '0.0.0.0'
}

function isRefused(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const code = (error as { code?: unknown }).code
  return code === 'ECONNREFUSED' || String((error as { message?: unknown }).message ?? '').includes('ECONNREFUSED')
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

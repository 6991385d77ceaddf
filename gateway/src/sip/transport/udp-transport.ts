/**
 * SIP over UDP (RFC 3261 §18): one message per datagram, no connection. A UdpFlow is the pair
 * (this socket, remote address:port); flows are interned so that the same remote always gets
 * the same Flow object (cheap identity checks, stable flow ids for bindings).
 */
import type { Flow } from './flow.ts'
import { REUSE_PORT } from '../../base/reuse-port.ts'

type UdpSocket = Bun.udp.Socket<'buffer'>

/** What the send queue needs of a UDP socket (Bun's, or a test double). */
export interface DatagramSocket {
  readonly closed: boolean
  /** One datagram; false when the socket cannot take it now (a full send buffer). Throws on an error. */
  send(data: Uint8Array, port: number, address: string): boolean
  /** (data, port, address) triples; how many datagrams went out. Throws when none did. */
  sendMany(packets: ReadonlyArray<Uint8Array | number | string>): number
}

/**
 * What the UDP socket reports about sends, for the transport layer to count and log
 * (TransportLayer.stats):
 * - `icmp`: the kernel reported an ICMP error (`code` ECONNREFUSED for port-unreachable,
 *   EHOSTUNREACH, ...) for an earlier datagram. Bun reads these from the socket's error queue
 *   (IP_RECVERR, one per ICMP message) without telling which datagram or peer it was about,
 *   so `address` is null: one vanished peer's datagram that was not delivered.
 * - `retried`: a send failed with such an error that was pending for *another* datagram
 *   (Linux fails the socket's next send with it, whatever its destination); the datagram
 *   went out on a retry. Not an error of this datagram.
 * - `dropped`: a datagram failed MAX_ATTEMPTS times in a row with `code`: its own error
 *   (EMSGSIZE, EACCES, no route, ...), or more than MAX_BACKLOG datagrams were waiting for a
 *   full send buffer (ENOBUFS); it was given up. `address`/`port`: its destination.
 */
export type UdpSendEvent = 'icmp' | 'retried' | 'dropped'
export type UdpSendErrorListener = (event: UdpSendEvent, code: string, address: string | null, port: number) => void

/** Attempts per datagram before it is given up (the first in the batch included). */
const MAX_ATTEMPTS = 3
/** Datagrams kept while the socket's send buffer is full; beyond this the oldest are dropped. */
const MAX_BACKLOG = 16384
/** Retry of a full send buffer when Bun reports no drain. */
const BLOCKED_RETRY_MS = 5

type Packets = Array<Uint8Array | number | string>

/**
 * Outgoing datagrams of one socket, sent together once per event-loop turn with
 * `sendMany` (one sendmmsg(2) instead of a sendto(2) per datagram: the bench profile showed
 * per-datagram sends as the gateway's largest cost). A turn's sends go out before the loop
 * polls for more input, so batching adds no measurable latency.
 *
 * Peer isolation (RFC 3261 §18.4; issue 11): an ICMP port-unreachable for a datagram to a peer
 * that went away is reported by Linux on the socket as a pending error, and the *next* send
 * on the socket fails with it — whatever that send's destination. sendmmsg(2) stops at that
 * datagram and returns how many went out (Bun returns the count, without an error), so the
 * rest of the batch would be lost; on loopback the ICMP comes back during the batch itself,
 * so everything behind a datagram to a vanished peer was lost. The failing send consumes the
 * error: the datagram it stopped at is sent again, alone, then the rest as a batch again, in
 * order. A datagram that fails MAX_ATTEMPTS times in a row is failing for its own destination
 * (EMSGSIZE, no route, ...) and is dropped and reported with that destination; a full send
 * buffer keeps the rest queued, in order, until the socket drains.
 */
export class UdpSendQueue {
  private packets: Packets = []
  /** The previous batch's array, emptied, for the next turn (no allocation per turn). */
  private spare: Packets = []
  private scheduled = false
  /** The socket's send buffer was full: wait for drain (or the retry timer) before sending. */
  private blocked = false
  private readonly flushNow = (): void => this.flush()
  /** Where send errors go (the transport layer's counters and rate-limited log). */
  onError: UdpSendErrorListener | null = null

  constructor(private readonly socket: DatagramSocket) {}

  /** Queues one datagram for this turn's batch. */
  enqueue(data: Uint8Array, port: number, address: string): void {
    this.packets.push(data, port, address)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flushNow)
    }
  }

  /** Datagrams waiting to be sent (tests, metrics). */
  get queued(): number {
    return this.packets.length / 3
  }

  /** The socket can take datagrams again (Bun's UDP drain callback). */
  drained(): void {
    if (this.blocked) this.flush()
  }

  /**
   * Sends everything queued, in order, with one sendmmsg(2) when nothing fails; see the class
   * comment for what happens when something does. RFC 3261 §18.1.1 / §18.2.2: a datagram is
   * handed to the network once; retransmissions are the transaction layer's (§17).
   */
  flush(): void {
    this.scheduled = false
    this.blocked = false
    const packets = this.packets
    const n = packets.length
    if (n === 0) return
    this.packets = this.spare
    if (!this.socket.closed) {
      if (n === 3) {
        // One datagram this turn (the common case below a few thousand messages/s): send(2)
        // costs about 1.5 µs less than a one-message sendmmsg(2) in Bun 1.4.5 (measured
        // here, 500-byte datagrams to loopback). Same failure handling as a batch of one.
        this.sendOne(packets)
      } else {
        let sent = -1
        let error: unknown = null
        try {
          sent = this.socket.sendMany(packets)
        } catch (e) {
          error = e
        }
        if (sent * 3 !== n) this.recover(packets, sent < 0 ? 0 : sent, error)
      }
    }
    packets.length = 0
    this.spare = packets
  }

  /** The single datagram of this turn: send(2); a failure is handled as recover() handles a batch's. */
  private sendOne(packets: Packets): void {
    let ok: boolean
    try {
      ok = this.socket.send(packets[0] as Uint8Array, packets[1] as number, packets[2] as string)
    } catch (e) {
      this.recover(packets, 0, e)
      return
    }
    if (!ok) this.block(packets, 0)
  }

  /**
   * The batch stopped at datagram `from` (`error`: what sendMany threw, or null when it
   * returned short, which sendmmsg(2) does without an errno). Sends the rest in order: the
   * stopped datagram alone, then the others as a batch again, as often as needed.
   *
   * A datagram that goes out on its second or third attempt is reported `retried`; one that
   * fails MAX_ATTEMPTS times is failing for its own destination and is `dropped`; a full
   * send buffer keeps it and everything after it queued (block).
   */
  private recover(packets: Packets, from: number, error: unknown): void {
    const total = packets.length / 3
    let i = from
    /** Failed attempts of datagram `i`, and the code of the last one ('' for a short sendMany). */
    let attempts = 1
    let code = error === null ? '' : codeOf(error)
    while (i < total) {
      const data = packets[3 * i] as Uint8Array
      const port = packets[3 * i + 1] as number
      const address = packets[3 * i + 2] as string
      let ok: boolean
      try {
        ok = this.socket.send(data, port, address)
      } catch (e) {
        code = codeOf(e)
        if (++attempts < MAX_ATTEMPTS) continue
        this.onError?.('dropped', code, address, port)
        attempts = 0
        i++
        continue
      }
      if (!ok) {
        this.block(packets, i)
        return
      }
      if (attempts > 0) this.onError?.('retried', code, address, port)
      attempts = 0
      if (++i >= total) return
      const rest = packets.slice(3 * i)
      let sent = 0
      try {
        sent = this.socket.sendMany(rest)
        if (sent < rest.length / 3) {
          attempts = 1
          code = ''
        }
      } catch (e) {
        attempts = 1
        code = codeOf(e)
      }
      i += sent
    }
  }

  /** The send buffer is full: keep datagrams `from`.. ahead of anything queued since, in order. */
  private block(packets: Packets, from: number): void {
    const rest = packets.slice(3 * from)
    for (const x of this.packets) rest.push(x)
    if (rest.length > 3 * MAX_BACKLOG) {
      const over = rest.length / 3 - MAX_BACKLOG
      for (let k = 0; k < over; k++) this.onError?.('dropped', 'ENOBUFS', rest[3 * k + 2] as string, rest[3 * k + 1] as number)
      rest.splice(0, 3 * over)
    }
    this.packets = rest
    this.blocked = true
    this.scheduled = true
    setTimeout(this.flushNow, BLOCKED_RETRY_MS)
  }
}

function codeOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : 'UNKNOWN'
}

/** A UDP "flow": the local socket plus one remote address and port. Always open. */
export class UdpFlow implements Flow {
  readonly transport = 'UDP' as const
  readonly reliable = false
  readonly secure = false
  readonly open = true
  readonly id: string

  constructor(
    private readonly socket: UdpSocket,
    private readonly queue: UdpSendQueue,
    readonly localAddress: string,
    readonly localPort: number,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    this.id = `udp-${remoteAddress}:${remotePort}`
  }

  /** Queues one datagram for this turn's batch (see UdpSendQueue). False once the socket is closed. */
  send(data: Uint8Array): boolean {
    if (this.socket.closed) return false
    this.queue.enqueue(data, this.remotePort, this.remoteAddress)
    return true
  }

  close(): void {}
}

export interface UdpTransportOptions {
  host: string
  /** 0 picks a free port. */
  port: number
  /**
   * SO_REUSEPORT: several processes (gateway workers) bind the same address and port and the
   * kernel spreads datagrams over them by a hash of the source and destination (Linux).
   */
  reusePort?: boolean
  /** Called for every datagram, with the interned flow of its source. */
  onDatagram(data: Uint8Array, flow: UdpFlow): void
  /** A socket-level error (ICMP unreachable reported as ECONNREFUSED, ...). */
  onError?(error: Error): void
}

/** A bound UDP socket for SIP. */
export class UdpTransport {
  private socket: UdpSocket | null = null
  private queue: UdpSendQueue | null = null
  private readonly flows = new Map<string, UdpFlow>()
  private host = ''
  /**
   * Send errors of the socket (see UdpSendErrorListener), including ICMP errors reported on
   * receive; the transport layer sets it (TransportLayer.attachUdp) to count and log them.
   */
  sendErrorListener: UdpSendErrorListener | null = null

  /** Binds the socket. Rejects when the address is in use. */
  async start(options: UdpTransportOptions): Promise<number> {
    this.host = options.host
    const flows = this.flows
    const self = this
    this.socket = await Bun.udpSocket({
      hostname: options.host,
      port: options.port,
      ...(options.reusePort === true ? REUSE_PORT : {}),
      socket: {
        data(_s, data, port, address) {
          options.onDatagram(data, self.flowFor(address, port, flows))
        },
        drain() {
          self.queue?.drained()
        },
        // An ICMP port-unreachable for an earlier send surfaces here as ECONNREFUSED when the
        // socket reads before it sends again. It concerns one peer that went away (its
        // transaction will retransmit and time out), never the socket: count it and carry on.
        // Bun 1.4.5 calls this with the error alone, despite its type declaration.
        error(...args: unknown[]) {
          const e = args.find((a) => a instanceof Error)
          const error = e instanceof Error ? e : new Error(String(args[0]))
          self.sendErrorListener?.('icmp', codeOf(error), null, 0)
          options.onError?.(error)
        },
      },
    })
    this.queue = new UdpSendQueue(this.socket)
    this.queue.onError = (event, code, address, port) => this.sendErrorListener?.(event, code, address, port)
    return this.socket.port
  }

  get port(): number {
    return this.socket?.port ?? 0
  }

  /** The interned flow towards `address:port` (IPv6 without brackets). */
  flowTo(address: string, port: number): UdpFlow | null {
    if (!this.socket) return null
    return this.flowFor(address, port, this.flows)
  }

  private flowFor(address: string, port: number, flows: Map<string, UdpFlow>): UdpFlow {
    const key = address + ':' + port
    let f = flows.get(key)
    if (f === undefined) {
      // Bound the table: a UDP flow carries no state beyond its address, so dropping old
      // entries only costs re-creating them.
      if (flows.size >= 65536) flows.clear()
      f = new UdpFlow(this.socket!, this.queue!, this.host, this.socket!.port, address, port)
      flows.set(key, f)
    }
    return f
  }

  stop(): void {
    this.queue?.flush()
    this.queue = null
    this.socket?.close()
    this.socket = null
    this.flows.clear()
  }
}

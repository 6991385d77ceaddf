/**
 * SIP over UDP (RFC 3261 §18): one message per datagram, no connection. A UdpFlow is the pair
 * (this socket, remote address:port); flows are interned so that the same remote always gets
 * the same Flow object (cheap identity checks, stable flow ids for bindings).
 */
import type { Flow } from './flow.ts'

type UdpSocket = Bun.udp.Socket<'buffer'>

/**
 * Outgoing datagrams of one socket, sent together once per event-loop turn with
 * `sendMany` (one sendmmsg(2) instead of a sendto(2) per datagram: the bench profile showed
 * per-datagram sends as the gateway's largest cost). A turn's sends go out before the loop
 * polls for more input, so batching adds no measurable latency.
 */
export class UdpSendQueue {
  private packets: Array<Uint8Array | number | string> = []
  private scheduled = false
  private readonly flushNow = (): void => this.flush()

  constructor(private readonly socket: UdpSocket) {}

  enqueue(data: Uint8Array, port: number, address: string): void {
    this.packets.push(data, port, address)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flushNow)
    }
  }

  /**
   * Sends everything queued. A pending ICMP port-unreachable from an earlier send to *any*
   * peer makes the kernel fail the next send on the socket with ECONNREFUSED (Bun throws it):
   * that consumes the error, so the batch is retried once, then sent datagram by datagram.
   * Datagrams the socket could not take (a full send buffer) are dropped like lost packets:
   * the transactions retransmit.
   */
  flush(): void {
    this.scheduled = false
    const packets = this.packets
    if (packets.length === 0) return
    this.packets = []
    if (this.socket.closed) return
    try {
      this.socket.sendMany(packets)
      return
    } catch {
      // fall through: retry
    }
    try {
      this.socket.sendMany(packets)
      return
    } catch {
      // one by one, so that one bad destination cannot sink the rest
    }
    for (let i = 0; i + 2 < packets.length; i += 3) {
      try {
        this.socket.send(packets[i] as Uint8Array, packets[i + 1] as number, packets[i + 2] as string)
      } catch {
        // dropped: the transaction layer retransmits
      }
    }
  }
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

  /** Binds the socket. Rejects when the address is in use. */
  async start(options: UdpTransportOptions): Promise<number> {
    this.host = options.host
    const flows = this.flows
    const self = this
    this.socket = await Bun.udpSocket({
      hostname: options.host,
      port: options.port,
      socket: {
        data(_s, data, port, address) {
          options.onDatagram(data, self.flowFor(address, port, flows))
        },
        // An ICMP port-unreachable for an earlier send surfaces here as ECONNREFUSED on the
        // next receive. It concerns one peer that went away (its transaction will retransmit
        // and time out), never the socket: log and carry on.
        // Bun 1.4.5 calls this with the error alone, despite its type declaration.
        error(...args: unknown[]) {
          const e = args.find((a) => a instanceof Error)
          options.onError?.(e instanceof Error ? e : new Error(String(args[0])))
        },
      },
    })
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
      f = new UdpFlow(this.socket!, (this.queue ??= new UdpSendQueue(this.socket!)), this.host, this.socket!.port, address, port)
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

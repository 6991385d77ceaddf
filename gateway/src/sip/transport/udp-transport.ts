/**
 * SIP over UDP (RFC 3261 §18): one message per datagram, no connection. A UdpFlow is the pair
 * (this socket, remote address:port); flows are interned so that the same remote always gets
 * the same Flow object (cheap identity checks, stable flow ids for bindings).
 */
import type { Flow } from './flow.ts'

type UdpSocket = Bun.udp.Socket<'buffer'>

/** A UDP "flow": the local socket plus one remote address and port. Always open. */
export class UdpFlow implements Flow {
  readonly transport = 'UDP' as const
  readonly reliable = false
  readonly secure = false
  readonly open = true
  readonly id: string

  constructor(
    private readonly socket: UdpSocket,
    readonly localAddress: string,
    readonly localPort: number,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    this.id = `udp-${remoteAddress}:${remotePort}`
  }

  /**
   * Sends one datagram. A pending ICMP port-unreachable from an earlier send to *any* peer
   * makes the kernel fail the next send on the socket with ECONNREFUSED (Bun throws it); that
   * error is consumed by the failed call, so one retry sends this datagram.
   */
  send(data: Uint8Array): boolean {
    if (this.socket.closed) return false
    try {
      return this.socket.send(data, this.remotePort, this.remoteAddress)
    } catch {
      try {
        return this.socket.send(data, this.remotePort, this.remoteAddress)
      } catch {
        return false
      }
    }
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
      f = new UdpFlow(this.socket!, this.host, this.socket!.port, address, port)
      flows.set(key, f)
    }
    return f
  }

  stop(): void {
    this.socket?.close()
    this.socket = null
    this.flows.clear()
  }
}

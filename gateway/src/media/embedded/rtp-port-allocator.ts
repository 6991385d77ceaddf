/**
 * RTP/RTCP UDP socket pairs for the legacy leg of anchored calls, from a configured port
 * range.
 *
 * RFC 3550 §11: "For UDP and similar protocols, RTP SHOULD use an even destination port
 * number and the corresponding RTCP stream SHOULD use the next higher (odd) destination port
 * number." Each pair is bound on the driver's bind address; a port that another process holds
 * is skipped.
 */
import type { Logger } from '../../base/log.ts'

/** Bun's UDP socket (buffer mode). */
export type UdpSocket = import('bun').udp.Socket<'buffer'>

/** Receives the datagrams of one socket of a pair. */
export type DatagramHandler = (data: Buffer, port: number, address: string) => void

/** A bound pair: RTP on an even port, RTCP on the next one. */
export interface RtpSocketPair {
  rtpPort: number
  rtp: UdpSocket
  rtcp: UdpSocket
}

export interface RtpPortAllocatorOptions {
  bindAddress: string
  /** Lowest port of the range (rounded up to even). */
  min: number
  /** Highest port of the range (the RTCP port of the last pair must fit). */
  max: number
  logger?: Logger
}

/**
 * Hands out socket pairs round-robin through the range, so that a port just released is not
 * reused at once (late packets of the old call would reach the new one).
 */
export class RtpPortAllocator {
  private readonly inUse = new Set<number>()
  private readonly first: number
  private readonly last: number
  private next: number

  constructor(private readonly options: RtpPortAllocatorOptions) {
    this.first = options.min + (options.min % 2)
    this.last = options.max - 1 - ((options.max - 1) % 2)
    if (this.first < 1024 || this.last > 65534 || this.last < this.first) {
      throw new RangeError(`RTP port range ${options.min}-${options.max} holds no even/odd pair above 1023`)
    }
    this.next = this.first
  }

  /** Number of pairs currently allocated. */
  get size(): number {
    return this.inUse.size
  }

  /**
   * Binds the next free pair.
   *
   * @param onRtp receives RTP (and RFC 5761-muxed RTCP) datagrams
   * @param onRtcp receives datagrams on the RTCP port
   * @param onError socket errors (ICMP port unreachable comes back as ECONNREFUSED)
   * @returns the pair, or null when every pair of the range is taken
   */
  async allocate(onRtp: DatagramHandler, onRtcp: DatagramHandler, onError: (error: Error) => void): Promise<RtpSocketPair | null> {
    const pairs = (this.last - this.first) / 2 + 1
    for (let attempt = 0; attempt < pairs; attempt++) {
      const port = this.next
      this.next = port + 2 > this.last ? this.first : port + 2
      if (this.inUse.has(port)) continue
      this.inUse.add(port)
      const rtp = await this.bind(port, onRtp, onError)
      if (!rtp) {
        this.inUse.delete(port)
        continue
      }
      const rtcp = await this.bind(port + 1, onRtcp, onError)
      if (!rtcp) {
        rtp.close()
        this.inUse.delete(port)
        continue
      }
      return { rtpPort: port, rtp, rtcp }
    }
    return null
  }

  /** Closes both sockets of a pair and returns its port to the range. */
  release(pair: RtpSocketPair): void {
    try {
      pair.rtp.close()
    } catch {}
    try {
      pair.rtcp.close()
    } catch {}
    this.inUse.delete(pair.rtpPort)
  }

  private async bind(port: number, onData: DatagramHandler, onError: (error: Error) => void): Promise<UdpSocket | null> {
    try {
      return await Bun.udpSocket({
        hostname: this.options.bindAddress,
        port,
        binaryType: 'buffer',
        socket: {
          data(_socket, data, remotePort, remoteAddress) {
            onData(data, remotePort, remoteAddress)
          },
          // Bun 1.4.5 calls this with the error alone, despite its type declaration.
          error(...args: unknown[]) {
            const e = args.find((a) => a instanceof Error)
            onError(e instanceof Error ? e : new Error(String(args[0])))
          },
        },
      })
    } catch (e) {
      this.options.logger?.debug('rtp port busy', { port, error: e instanceof Error ? e.message : String(e) })
      return null
    }
  }
}

/**
 * SIP over TCP and TLS (RFC 3261 §18.3): a byte stream framed by Content-Length.
 *
 * > In the case of message-oriented transports (such as UDP), if the message has a
 * > Content-Length header field, the message body is assumed to contain that many bytes.
 * > [...] In the case of stream-oriented transports such as TCP, the Content-Length header
 * > field indicates the size of the body. The Content-Length header field MUST be used with
 * > stream oriented transports.
 *
 * Each connection is a TcpFlow that buffers bytes until `frame` (the parser in stream mode)
 * reports a complete message. CRLF keepalives (RFC 5626 §3.5.1: a "ping" of CRLFCRLF answered
 * by a "pong" of CRLF) are handled here, between messages.
 */
import type { Socket, TCPSocketListenOptions, TCPSocketListener } from 'bun'
import type { SipMessage } from '../message/sip-message.ts'
import type { Flow, TransportProtocol } from './flow.ts'

/** What the framer says about the bytes at the head of the buffer (a message comes parsed). */
export type FrameResult =
  | { kind: 'message'; consumed: number; message: SipMessage }
  | { kind: 'incomplete' }
  | { kind: 'error'; consumed: number | null }

interface TcpFlowData {
  flow: TcpFlow
}

/** Bun.listen takes `reusePort` (SO_REUSEPORT) though bun-types 1.4.5 does not declare it. */
type ListenOptions = TCPSocketListenOptions<TcpFlowData> & { reusePort?: boolean }

let nextTcpId = 1
const CRLF = new Uint8Array([13, 10])

/** One TCP or TLS connection. */
export class TcpFlow implements Flow {
  readonly id: string
  readonly reliable = true
  readonly secure: boolean
  open = true
  remoteAddress: string
  remotePort: number
  localAddress: string
  localPort: number
  private socket: Socket<TcpFlowData> | null = null
  /** Sends queued while an outbound connection is being set up. */
  private queue: Uint8Array[] | null = null
  /** Bytes written by the socket only partially; flushed on drain. */
  private pendingOut: Uint8Array[] = []
  buffer: Uint8Array = new Uint8Array(0)

  constructor(readonly transport: TransportProtocol, remoteAddress: string, remotePort: number, localAddress: string, localPort: number) {
    this.id = `${transport.toLowerCase()}-${nextTcpId++}`
    this.secure = transport === 'TLS'
    this.remoteAddress = remoteAddress
    this.remotePort = remotePort
    this.localAddress = localAddress
    this.localPort = localPort
  }

  attach(socket: Socket<TcpFlowData>): void {
    this.socket = socket
    this.localPort = socket.localPort
    if (this.queue) {
      const q = this.queue
      this.queue = null
      for (const d of q) this.send(d)
    }
  }

  /** Marks the flow as connecting: sends queue until attach(). */
  startConnecting(): void {
    this.queue = []
  }

  send(data: Uint8Array): boolean {
    if (!this.open) return false
    if (this.queue) {
      this.queue.push(data)
      return true
    }
    const s = this.socket
    if (!s) return false
    if (this.pendingOut.length > 0) {
      this.pendingOut.push(data)
      return true
    }
    const n = s.write(data)
    if (n < 0) return false
    if (n < data.length) this.pendingOut.push(data.subarray(n))
    return true
  }

  /** Writes what the socket could not take before (called on drain). */
  flush(): void {
    const s = this.socket
    if (!s) return
    while (this.pendingOut.length > 0) {
      const d = this.pendingOut[0]!
      const n = s.write(d)
      if (n < 0) return
      if (n < d.length) {
        this.pendingOut[0] = d.subarray(n)
        return
      }
      this.pendingOut.shift()
    }
  }

  close(): void {
    if (!this.open) return
    this.open = false
    this.socket?.end()
  }

  markClosed(): void {
    this.open = false
    this.queue = null
  }
}

export interface TcpTransportOptions {
  host: string
  port: number
  transport: 'TCP' | 'TLS'
  /** Paths of the PEM certificate and key (TLS). */
  tls?: { cert: string; key: string }
  /** Finds where the next message in `buffer` ends (the parser in stream mode). */
  frame(buffer: Uint8Array): FrameResult
  /** One complete message, parsed by `frame` (`data`: exactly its bytes). */
  onMessage(data: Uint8Array, message: SipMessage, flow: TcpFlow): void
  /**
   * A message that cannot be delivered. When the framer reported `consumed` (a bad message in
   * an intact frame) these are exactly its bytes and the stream goes on after it; otherwise
   * (broken framing, RFC 4475 mcl01 / ncl, or more than `maxMessageBytes` without a complete
   * message) the connection is closed after this call.
   */
  onFramingError(data: Uint8Array, flow: TcpFlow): void
  onFlowOpen?(flow: TcpFlow): void
  onFlowClosed?(flow: TcpFlow): void
  /** Largest message accepted before the connection is dropped, in bytes. */
  maxMessageBytes?: number
  /** SO_REUSEPORT: gateway workers share the listener; each connection stays with the worker that accepted it. */
  reusePort?: boolean
}

/** A TCP (or TLS) listener plus outbound connections, all as TcpFlows. */
export class TcpTransport {
  private listener: TCPSocketListener<TcpFlowData> | null = null
  /** TLS listeners replaced by `replaceCertificate`, no longer accepting; closed by stop(). */
  private readonly retired: TCPSocketListener<TcpFlowData>[] = []
  private readonly flows = new Set<TcpFlow>()
  private options!: TcpTransportOptions

  async start(options: TcpTransportOptions): Promise<number> {
    this.options = options
    const tls = options.tls ? { cert: Bun.file(options.tls.cert), key: Bun.file(options.tls.key) } : undefined
    const listenOptions: ListenOptions = {
      hostname: options.host,
      port: options.port,
      tls,
      // A TLS listener is replaced on a certificate reload by a second one bound to the same
      // port (see replaceCertificate), which needs SO_REUSEPORT on both.
      reusePort: tls !== undefined || options.reusePort === true,
      socket: this.handlers(),
    }
    this.listener = Bun.listen<TcpFlowData>(listenOptions)
    return this.listener.port
  }

  /**
   * Serves a new certificate to new TLS connections without dropping existing ones: Bun's
   * `listener.reload()` cannot change the certificate, so a second listener with the new one
   * is bound to the same port (SO_REUSEPORT) and the old one stops accepting
   * (`stop(false)`: its connections stay open). Flows of both share the flows table and the
   * handlers, so connection reuse, the transport layer's port and onFlowClosed are unchanged.
   * `credentials` are PEM texts already checked (base/tls-files.ts).
   * @throws Error when this is not a started TLS transport or the new listener cannot be bound
   *   (the old one then keeps serving)
   */
  replaceCertificate(credentials: { cert: string; key: string }): void {
    const old = this.listener
    if (!old || this.options.transport !== 'TLS') throw new Error('not a started TLS transport')
    const options: ListenOptions = {
      hostname: this.options.host,
      port: old.port,
      tls: { cert: credentials.cert, key: credentials.key },
      reusePort: true,
      socket: this.handlers(),
    }
    const next = Bun.listen<TcpFlowData>(options)
    this.listener = next
    old.stop(false)
    this.retired.push(old)
  }

  get port(): number {
    return this.listener?.port ?? 0
  }

  /**
   * Opens (asynchronously) a connection to address:port and returns its flow at once; sends
   * made before the connection is up are queued. A failed connect closes the flow (its
   * queued messages are lost: the transactions will time out or see the flow closed).
   */
  connect(address: string, port: number): TcpFlow {
    const o = this.options
    const flow = new TcpFlow(o.transport, address, port, o.host, 0)
    flow.startConnecting()
    this.flows.add(flow)
    Bun.connect<TcpFlowData>({
      hostname: address,
      port,
      tls: o.transport === 'TLS' ? true : undefined,
      data: { flow },
      socket: this.handlers(),
    }).catch(() => this.flowGone(flow))
    return flow
  }

  /** An open flow to address:port, if any (connection reuse, RFC 5923). */
  findFlow(address: string, port: number): TcpFlow | undefined {
    for (const f of this.flows) if (f.open && f.remoteAddress === address && f.remotePort === port) return f
    return undefined
  }

  private handlers() {
    const flows = this.flows
    const self = this
    return {
      open(socket: Socket<TcpFlowData>) {
        const o = self.options
        let flow = socket.data?.flow
        if (!flow) {
          flow = new TcpFlow(o.transport, socket.remoteAddress, socket.remotePort, o.host, socket.localPort)
          socket.data = { flow }
          flows.add(flow)
        }
        flow.attach(socket)
        o.onFlowOpen?.(flow)
      },
      data(socket: Socket<TcpFlowData>, chunk: Uint8Array) {
        self.onData(socket.data.flow, chunk)
      },
      drain(socket: Socket<TcpFlowData>) {
        socket.data.flow.flush()
      },
      close(socket: Socket<TcpFlowData>) {
        const flow = socket.data?.flow
        if (flow) self.flowGone(flow)
      },
      error(socket: Socket<TcpFlowData>) {
        socket.data?.flow?.markClosed()
      },
      connectError(socket: Socket<TcpFlowData>) {
        const flow = socket.data?.flow
        if (flow) self.flowGone(flow)
      },
    }
  }

  /**
   * A connection ended (closed by either side, or a connect that failed). Reported once: Bun
   * both calls `connectError` and rejects the connect promise for a refused connect, and
   * flows dropped by `stop()` are not reported (the layers above are shutting down too).
   */
  private flowGone(flow: TcpFlow): void {
    flow.markClosed()
    if (!this.flows.delete(flow)) return
    this.options.onFlowClosed?.(flow)
  }

  private onData(flow: TcpFlow, chunk: Uint8Array): void {
    // Bytes that arrive after we closed the connection (a framing error) are not read.
    if (!flow.open) return
    const o = this.options
    let buf: Uint8Array
    if (flow.buffer.length === 0) buf = chunk
    else {
      buf = new Uint8Array(flow.buffer.length + chunk.length)
      buf.set(flow.buffer, 0)
      buf.set(chunk, flow.buffer.length)
    }
    let off = 0
    while (off < buf.length) {
      // RFC 5626 §3.5.1: CRLFCRLF "ping" between messages is answered with a CRLF "pong";
      // a lone CRLF ("pong", or stray line ends) is skipped.
      if (buf[off] === 13 || buf[off] === 10) {
        if (buf[off] === 13 && buf[off + 1] === 10 && buf[off + 2] === 13 && buf[off + 3] === 10) {
          flow.send(CRLF)
          off += 4
        } else if (buf[off] === 13 && off + 3 >= buf.length && buf.length - off < 4 && isCrlfPrefix(buf, off)) {
          break // maybe a ping split across chunks
        } else {
          off += 1
        }
        continue
      }
      const view = buf.subarray(off)
      const r = o.frame(view)
      if (r.kind === 'incomplete') {
        if (view.length > (o.maxMessageBytes ?? 65536)) {
          o.onFramingError(view, flow)
          flow.close()
          return
        }
        break
      }
      if (r.kind === 'error') {
        if (r.consumed !== null) {
          // The framing is intact (valid Content-Length): answer this message, read the next.
          o.onFramingError(view.subarray(0, r.consumed), flow)
          off += r.consumed
          continue
        }
        // Broken framing (RFC 4475 §3.3.9 mcl01: conflicting Content-Length values; ncl):
        // where the next message starts cannot be known, so the connection is closed.
        o.onFramingError(view, flow)
        flow.close()
        return
      }
      o.onMessage(view.subarray(0, r.consumed), r.message, flow)
      off += r.consumed
    }
    flow.buffer = off >= buf.length ? new Uint8Array(0) : buf.slice(off)
  }

  stop(): void {
    for (const f of this.flows) f.close()
    this.flows.clear()
    this.listener?.stop(true)
    this.listener = null
    for (const l of this.retired.splice(0)) l.stop(true)
  }
}

function isCrlfPrefix(buf: Uint8Array, off: number): boolean {
  const pat = [13, 10, 13, 10]
  for (let i = off, j = 0; i < buf.length; i++, j++) if (buf[i] !== pat[j]) return false
  return true
}

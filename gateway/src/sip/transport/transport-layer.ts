/**
 * The transport layer (RFC 3261 §18): owns every flow (UDP, TCP/TLS, WS/WSS), turns bytes into
 * parsed messages, applies the §18 receive rules, and sends messages to a Destination.
 *
 * Above it sits the transaction layer, which registers with `onMessage` (docs/architecture.md §2:
 * imports point down; upward calls go through callbacks the lower layer declares).
 */
import { parseMessage, parseMessageText, type ParseResult } from '../parser/message-parser.ts'
import { serializeMessage, serializeVia } from '../message/serialize.ts'
import { SipRequest, type SipMessage } from '../message/sip-message.ts'
import { createResponse } from '../message/create-response.ts'
import type { HeaderField } from '../syntax/types.ts'
import type { TransportSender } from './transport-sender.ts'
import type { Destination, Flow, TransportProtocol } from './flow.ts'
import type { UdpSendEvent, UdpTransport } from './udp-transport.ts'
import type { TcpTransport, TcpFlow, FrameResult } from './tcp-transport.ts'
import type { WsFlow } from './ws-flow.ts'
import { logger } from '../../base/log.ts'
import type { LocalAddresses } from '../../base/local-addresses.ts'
import { SendErrorLog, flowFailure, udpCause, type SendErrorCause } from './send-error-log.ts'

const log = logger('sip.transport')
const decoder = new TextDecoder()
const CRLF = new Uint8Array([13, 10])

/** The sent-by (host and port) the gateway writes into Via / Record-Route for one transport. */
export interface SentBy {
  host: string
  port: number
}

export interface TransportLayerOptions {
  /** Host (IP or name) written into our Via and Record-Route: publicAddress ?? sip.host. */
  advertisedHost: string
  /** What names this gateway; the transport records its bound ports there. */
  local: LocalAddresses
  /** Milliseconds clock for the send-error log's rate limit (default: performance.now). */
  now?: () => number
}

export { SEND_ERROR_LOG_INTERVAL_MS, type SendErrorCause } from './send-error-log.ts'

export type MessageHandler = (message: SipMessage, flow: Flow) => void

/**
 * Flow table + framing + §18 receive checks + sending. Implements the TransportSender seam
 * the transaction layer uses.
 */
export class TransportLayer implements TransportSender {
  private readonly flows = new Map<string, Flow>()
  private udp: UdpTransport | null = null
  /** A worker's private socket (attachWorkerUdp), and its siblings' private UDP ports. */
  private ownUdp: UdpTransport | null = null
  private siblingPorts: ReadonlySet<number> | null = null
  private tcp: TcpTransport | null = null
  private tls: TcpTransport | null = null
  private messageHandler: MessageHandler = () => {}
  private flowClosedHandlers: Array<(flow: Flow) => void> = []
  /**
   * Counters for /metrics and tests. `sendErrors` counts every failed send, synchronous
   * (no flow, a closed connection) or reported later by the kernel (one per ICMP error on
   * the UDP socket); `sendErrorsByCause` splits the same count by SendErrorCause.
   * `sendRetries`: UDP datagrams that met another peer's pending ICMP error and went out on
   * a retry (UdpSendQueue; not errors, but they show vanished peers at work).
   */
  readonly stats = {
    received: 0, sent: 0, parseErrors: 0, sendErrors: 0, stateless400: 0, discardedResponses: 0, sendRetries: 0,
    /** Responses handed to the sibling worker whose private port their top Via names. */
    handedOff: 0,
    sendErrorsByCause: { econnrefused: 0, unreachable: 0, 'no-flow': 0, 'closed-connection': 0, other: 0 } satisfies Record<SendErrorCause, number>,
  }
  private readonly sendErrorLog: SendErrorLog

  constructor(private readonly options: TransportLayerOptions) {
    this.sendErrorLog = new SendErrorLog(options.now ?? (() => performance.now()))
  }

  /** Registers the single consumer of parsed messages (the transaction layer). */
  onMessage(handler: MessageHandler): void {
    this.messageHandler = handler
  }

  /** Registers a listener for closed connection-oriented flows (registrar, proxy, media). */
  onFlowClosed(handler: (flow: Flow) => void): void {
    this.flowClosedHandlers.push(handler)
  }

  /** Sends over `udp` from now on; its send errors are counted and logged here. */
  attachUdp(udp: UdpTransport): void {
    this.udp = udp
    this.options.local.setPort('UDP', udp.port)
    udp.sendErrorListener = this.udpSendError
  }

  attachTcp(tcp: TcpTransport, transport: 'TCP' | 'TLS'): void {
    if (transport === 'TCP') this.tcp = tcp
    else this.tls = tcp
    this.options.local.setPort(transport, tcp.port)
  }

  /**
   * A gateway worker (docs/architecture.md §4b): `udp` is the shared public socket (attached
   * with attachUdp: it receives the kernel's share of new requests and sends to
   * destinations), `own` this worker's private socket, whose port goes into our Via sent-by
   * and Record-Route, so that responses to our client transactions and in-dialog requests come
   * back to this worker. Both ports name this gateway.
   */
  attachWorkerUdp(own: UdpTransport, siblingPorts: ReadonlySet<number>): void {
    const shared = this.options.local.portOf('UDP')
    this.options.local.setPort('UDP-shared', shared)
    this.options.local.setPort('UDP', own.port)
    own.sendErrorListener = this.udpSendError
    this.ownUdp = own
    this.siblingPorts = siblingPorts
  }

  /** Declares the port WebSocket clients reach us on (for our Via / Record-Route). */
  setWebSocketPort(transport: 'WS' | 'WSS', port: number): void {
    this.options.local.setPort(transport, port)
  }

  /** Our sent-by for a transport (Via and Record-Route host:port). */
  sentBy(transport: TransportProtocol): SentBy {
    return { host: this.options.advertisedHost, port: this.options.local.portOf(transport) }
  }

  /** A known, open flow by id (bindings and Record-Route remember flow ids). */
  flow(id: string): Flow | undefined {
    const f = this.flows.get(id)
    return f && f.open ? f : undefined
  }

  // ---- inbound -------------------------------------------------------------------------

  /** A UDP datagram: one message (RFC 3261 §18.3 datagram framing). */
  receiveDatagram(data: Uint8Array, flow: Flow): void {
    // Keepalives (RFC 5626 §4.4.1 allows STUN; CRLF pings arrive too): not SIP, not answered on UDP.
    if (data.length <= 4 && (data[0] === 13 || data[0] === 10)) return
    this.receiveBytes(data, flow)
  }

  /**
   * A complete message framed from a TCP/TLS stream: `frame` parsed it already, so it is
   * delivered as it is (`data`, its bytes, only for the debug trace).
   */
  receiveFramed(data: Uint8Array, message: SipMessage, flow: TcpFlow): void {
    this.stats.received++
    this.deliver(message, flow, data)
  }

  /**
   * Frames the head of a TCP stream buffer (parser in stream mode); a complete message comes
   * back parsed, so it is parsed once. A bad message whose framing is intact (the parser
   * reports `consumed`: a valid Content-Length, a complete header section) is an `error`
   * with `consumed`, so that the stream transport answers it and goes on with the next
   * message; without `consumed` the framing itself is broken.
   */
  frame = (buffer: Uint8Array): FrameResult => {
    const r = parseMessage(buffer, { stream: true })
    if (r.ok) return { kind: 'message', consumed: r.consumed, message: r.message }
    if (r.incomplete === true) return { kind: 'incomplete' }
    return { kind: 'error', consumed: r.consumed !== undefined && r.consumed > 0 ? r.consumed : null }
  }

  /**
   * A message on a stream that cannot be delivered: a bad but well-framed message (the
   * stream goes on), broken framing (RFC 4475 mcl01, ncl: the connection is closed after
   * this) or a header section / body larger than the transport accepts (closed too).
   *
   * RFC 3261 §21.4.1: "400 Bad Request: The request could not be understood due to malformed
   * syntax. The Reason-Phrase SHOULD identify the syntax problem in more detail" (here: the
   * Warning). The bytes are parsed again in stream mode; nothing here is ever passed up, even
   * when those bytes would parse as a datagram (an oversized message is refused, not read).
   */
  framingError = (data: Uint8Array, flow: TcpFlow): void => {
    this.stats.received++
    this.stats.parseErrors++
    const r = parseMessage(data, { stream: true })
    if (r.ok || r.incomplete === true) {
      log.warn('oversized message on a stream dropped', { flowId: flow.id, bytes: data.length })
      return
    }
    this.answerMalformed(r, flow)
  }

  /** A WebSocket connection opened (RFC 7118). */
  wsOpened(flow: WsFlow): void {
    this.flows.set(flow.id, flow)
  }

  /**
   * A WebSocket message: exactly one SIP message per frame (RFC 7118 §5.1), or a keepalive.
   * A text frame is parsed as the text Bun hands over (no round trip through bytes).
   */
  wsMessage(flow: WsFlow, message: string | Uint8Array): void {
    if (typeof message === 'string') {
      // RFC 5626 §3.5.1 keepalive over WS (SIP.js sends "\r\n\r\n"): answer with "\r\n".
      if (message === '\r\n\r\n') {
        flow.send(CRLF)
        return
      }
      if (message === '\r\n') return
      this.stats.received++
      this.receiveParsed(parseMessageText(message), flow, message)
    } else {
      if (message.length === 4 && message[0] === 13 && message[1] === 10 && message[2] === 13 && message[3] === 10) {
        flow.send(CRLF)
        return
      }
      this.receiveBytes(message, flow)
    }
  }

  /** A connection-oriented flow went away: forget it and tell the layers above. */
  flowClosed(flow: Flow): void {
    if (!this.flows.delete(flow.id)) return
    log.debug('flow closed', { flowId: flow.id })
    for (const h of this.flowClosedHandlers) h(flow)
  }

  /** A TCP/TLS connection opened (either direction). */
  tcpOpened = (flow: TcpFlow): void => {
    this.flows.set(flow.id, flow)
  }

  tcpClosed = (flow: TcpFlow): void => {
    this.flowClosed(flow)
  }

  private receiveBytes(data: Uint8Array, flow: Flow): void {
    this.stats.received++
    this.receiveParsed(parseMessage(data), flow, data)
  }

  /** A parse result of a message (datagram or WS frame): answer a malformed one, else deliver. */
  private receiveParsed(r: ParseResult, flow: Flow, raw: Uint8Array | string): void {
    if (!r.ok) {
      this.stats.parseErrors++
      if (r.incomplete === true) return
      this.answerMalformed(r, flow)
      return
    }
    this.deliver(r.message, flow, raw)
  }

  /** §18 receive rules for a parsed message, then up to the transaction layer. `raw`: for the debug trace only. */
  private deliver(msg: SipMessage, flow: Flow, raw: Uint8Array | string): void {
    if (log.debugEnabled) log.debug('recv', { flowId: flow.id, trace: typeof raw === 'string' ? raw : decoder.decode(raw) })
    if (msg.kind === 'request') {
      if (!this.applyReceivedRport(msg, flow)) return
    } else {
      // RFC 3261 §18.1.2: "If the value of the sent-by parameter in that header field value
      // does not correspond to a value that the client transport is configured to insert into
      // requests, the response MUST be silently discarded."
      const via = msg.topVia
      if (!this.options.local.isLocalHost(via.host)) {
        this.stats.discardedResponses++
        log.debug('response for another sent-by discarded', { host: via.host, callId: msg.get('call-id') })
        return
      }
      if (this.siblingPorts !== null && via.port !== null && this.siblingPorts.has(via.port) && this.handOff(via.host, via.port, raw)) return
    }
    try {
      this.messageHandler(msg, flow)
    } catch (e) {
      // A bug while handling one message must not take the gateway (and every other call)
      // down: log it, and answer a request 500 statelessly (RFC 3261 §21.5.1).
      log.error('message handling failed', { flowId: flow.id, callId: msg.get('call-id'), error: e instanceof Error ? e.stack ?? e.message : String(e) })
      if (msg.kind === 'request' && msg.method !== 'ACK') {
        try {
          flow.send(serializeMessage(createResponse(msg, 500, { toTag: 'pb-500' })))
        } catch {
          // nothing more to do
        }
      }
    }
  }

  /**
   * A response whose top Via names a sibling worker's private port reached this worker: a UA
   * answering to the request's source (RFC 3581 rport, or SIPp-style symmetric sending) sends
   * to the shared public port, where the kernel's hash may pick any worker. The datagram goes
   * on, unchanged, to the worker that holds the client transaction (docs/architecture.md §4b).
   */
  private handOff(host: string, port: number, raw: Uint8Array | string): boolean {
    const own = this.ownUdp
    if (own === null) return false
    const flow = own.flowTo(host.startsWith('[') ? host.slice(1, -1) : host, port)
    if (flow === null) return false
    this.stats.handedOff++
    // A copy: the datagram goes out with this turn's batch, after the receive buffer may
    // have been reused for the next one.
    flow.send(typeof raw === 'string' ? new TextEncoder().encode(raw) : raw.slice())
    return true
  }

  /**
   * RFC 3261 §18.2.1: "When the server transport receives a request over any transport, it
   * MUST examine the value of the "sent-by" parameter in the top Via header field value. If
   * the host portion of the "sent-by" parameter contains a domain name, or if it contains an
   * IP address that differs from the packet source address, the server MUST add a "received"
   * parameter to that Via header field value."
   * RFC 3581 §4: "When a server compliant to this specification (which can be a proxy or
   * UAS) receives a request, it examines the topmost Via header field value. If this Via
   * header field value contains an "rport" parameter with no value, it MUST set the value of
   * the parameter to the source port of the request."
   * Returns false when the request must be dropped (no readable Via: nothing to answer to).
   */
  private applyReceivedRport(req: SipRequest, flow: Flow): boolean {
    const via = req.topVia
    let changed = false
    if (via.host !== flow.remoteAddress && via.host !== `[${flow.remoteAddress}]`) {
      via.params.received = flow.remoteAddress
      changed = true
    }
    if ('rport' in via.params && via.params.rport === null) {
      via.params.rport = String(flow.remotePort)
      if (via.params.received === undefined) via.params.received = flow.remoteAddress
      changed = true
    }
    if (changed) {
      req.replaceFirst('via', serializeVia(via))
      req.primeCache('via', via)
    }
    return true
  }

  /**
   * A message that failed to parse. RFC 3261 §16.3 / docs/architecture.md §3: a request whose Via can be
   * read is answered 400 (or the status the parser named: 505, ...) statelessly; anything
   * else (responses, garbage) is dropped and logged.
   */
  private answerMalformed(r: { reason: string; status: number | null; kind: 'request' | 'response' | null; headers: HeaderField[]; method?: string; uri?: string }, flow: Flow): void {
    const hasVia = r.headers.some((h) => h.name === 'via')
    if (r.kind !== 'request' || r.status === null || !hasVia || r.method === 'ACK') {
      log.warn('malformed message dropped', { flowId: flow.id, reason: r.reason, kind: r.kind })
      return
    }
    const req = new SipRequest(r.method ?? 'UNKNOWN', r.uri ?? '', r.headers)
    const res = createResponse(req, r.status, {
      toTag: 'pb-err',
      headers: [{ name: 'warning', value: `399 patchbay "${r.reason.replace(/["\\\r\n]/g, ' ')}"` }],
    })
    log.warn('malformed request answered', { flowId: flow.id, status: r.status, reason: r.reason })
    this.stats.stateless400++
    if (!flow.send(serializeMessage(res))) this.noteSendError(flowFailure(flow), flow.transport, flow.remoteAddress, flow.remotePort, '')
  }

  // ---- outbound ------------------------------------------------------------------------

  /**
   * Serializes and sends `message` (TransportSender.send). Uses `destination.flow` when it is
   * open; otherwise UDP sends from our socket, TCP/TLS reuses or opens a connection, and a
   * WS/WSS destination without an open flow fails (browsers cannot be dialled).
   * @returns the flow used, or null on a transport error (§8.1.3.1: treat as 503)
   */
  send(message: SipMessage, destination: Destination): Flow | null {
    return this.sendSerialized(serializeMessage(message), destination)
  }

  /**
   * Sends a message already serialized (TransportSender.sendSerialized): the transactions'
   * retransmissions, which keep the bytes of their last message instead of the parsed one.
   * @returns the flow used, or null on a transport error
   */
  sendSerialized(data: Uint8Array, destination: Destination): Flow | null {
    const flow = this.resolveFlow(destination)
    if (flow === null) {
      const cause = destination.flow !== undefined ? 'closed-connection' : 'no-flow'
      this.noteSendError(cause, destination.transport, destination.address, destination.port, '')
      return null
    }
    if (log.debugEnabled) log.debug('send', { flowId: flow.id, trace: decoder.decode(data) })
    if (!flow.send(data)) {
      this.noteSendError(flowFailure(flow), flow.transport, flow.remoteAddress, flow.remotePort, '')
      return null
    }
    this.stats.sent++
    return flow
  }

  /**
   * What the UDP socket reports about sends (UdpSendErrorListener). An ICMP error names no
   * destination (RFC 3261 §18.4: it is about an earlier datagram to a peer that went away;
   * that peer's transaction ends by timeout, §17.1.1.2 / §17.2.1, since the error cannot be
   * matched to it); a datagram of another destination that met the error went out on a retry
   * (`sendRetries`, not an error); a dropped datagram is an error of its own destination.
   */
  private readonly udpSendError = (event: UdpSendEvent, code: string, address: string | null, port: number): void => {
    if (event === 'retried') {
      this.stats.sendRetries++
      return
    }
    this.noteSendError(udpCause(code), 'UDP', address, port, code)
  }

  /** Counts one send error; the log says it at most once a minute per cause and host (SendErrorLog). */
  private noteSendError(cause: SendErrorCause, transport: TransportProtocol, address: string | null, port: number, code: string): void {
    this.stats.sendErrors++
    this.stats.sendErrorsByCause[cause]++
    this.sendErrorLog.note(cause, transport, address, port, code)
  }

  private resolveFlow(d: Destination): Flow | null {
    if (d.flow && d.flow.open) return d.flow
    switch (d.transport) {
      case 'UDP':
        return this.udp?.flowTo(d.address, d.port) ?? null
      case 'TCP':
      case 'TLS': {
        const t = d.transport === 'TCP' ? this.tcp : this.tls
        if (!t) return null
        const existing = t.findFlow(d.address, d.port)
        if (existing) return existing
        const f = t.connect(d.address, d.port)
        this.flows.set(f.id, f)
        return f
      }
      default:
        return null
    }
  }

  /**
   * RFC 3261 §18.2.2 (with RFC 3581 §4): where a response goes.
   * > If the "sent-protocol" is a reliable transport protocol such as TCP or SCTP, or TLS
   * > over those, the response MUST be sent using the existing connection to the source of
   * > the original request that created the transaction, if that connection is still open.
   * > [...] Otherwise, if the Via header field value contains a "received" parameter, the
   * > response MUST be sent to the address in the "received" parameter, using the port
   * > indicated in the "sent-by" value, or using port 5060 if none is specified explicitly.
   * RFC 3581: with rport, to the source port instead.
   */
  responseDestination(request: SipRequest, flow: Flow): Destination {
    if (flow.reliable) {
      return { transport: flow.transport, address: flow.remoteAddress, port: flow.remotePort, flow }
    }
    const via = request.topVia
    const received = via.params.received
    const rport = via.params.rport
    if (rport !== undefined && rport !== null) {
      return { transport: 'UDP', address: received ?? flow.remoteAddress, port: Number(rport), flow: sameUdp(flow, received, rport) }
    }
    const address = received ?? stripBrackets(via.host)
    const port = via.port ?? 5060
    if (address === flow.remoteAddress && port === flow.remotePort) return { transport: 'UDP', address, port, flow }
    return { transport: 'UDP', address, port }
  }

  /** Closes nothing itself: the transports own their sockets. Forgets every flow. */
  clear(): void {
    this.flows.clear()
  }
}

function sameUdp(flow: Flow, received: string | null | undefined, rport: string): Flow | undefined {
  if ((received === undefined || received === null || received === flow.remoteAddress) && Number(rport) === flow.remotePort) return flow
  return undefined
}

function stripBrackets(host: string): string {
  return host.charCodeAt(0) === 91 ? host.slice(1, -1) : host
}

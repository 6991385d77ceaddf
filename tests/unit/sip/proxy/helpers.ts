/**
 * Test doubles for the stateful proxy: a recording ProxyTransactions (client transactions the
 * test answers by hand), a recording server transaction, a real TransportLayer over recording
 * flows (for sent-by values and the stateless ACK), and request/response builders.
 */
import { afterAll, beforeAll } from 'bun:test'
import { setLogLevel, setLogSink } from '../../../../gateway/src/base/log.ts'
import { SipRequest, type SipResponse } from '../../../../gateway/src/sip/message/sip-message.ts'
import { createResponse } from '../../../../gateway/src/sip/message/create-response.ts'
import type { HeaderField } from '../../../../gateway/src/sip/syntax/types.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import type {
  ClientTransaction, ClientTransactionHandler, ServerTransaction, TransactionState,
} from '../../../../gateway/src/sip/transaction/transaction-user.ts'
import type { Destination, Flow, TransportProtocol } from '../../../../gateway/src/sip/transport/flow.ts'
import { TransportLayer } from '../../../../gateway/src/sip/transport/transport-layer.ts'
import type { UdpTransport } from '../../../../gateway/src/sip/transport/udp-transport.ts'
import type { TcpTransport } from '../../../../gateway/src/sip/transport/tcp-transport.ts'
import type { CallEventSink } from '../../../../gateway/src/sip/proxy/call-events.ts'
import { StatefulProxy } from '../../../../gateway/src/sip/proxy/stateful-proxy.ts'
import type { ProxyTransactions } from '../../../../gateway/src/sip/proxy/proxy-transactions.ts'
import type { Target } from '../../../../gateway/src/sip/proxy/target.ts'
import { LocalAddresses } from '../../../../gateway/src/base/local-addresses.ts'

/** Our ports in these tests: UDP/TCP 5060, TLS 5061, WS 8080, WSS 8443; host 127.0.0.1. */
export const PORTS = { UDP: 5060, TCP: 5060, TLS: 5061, WS: 8080, WSS: 8443 } as const
export const TIMER_C = 181_000
export const CANCEL_TIMEOUT = 32_000

/** Log lines of the file go here instead of stderr. */
export function captureLogs(): string[] {
  const lines: string[] = []
  let prev: ((line: string) => void) | null = null
  let prevLevel: ReturnType<typeof setLogLevel> | null = null
  beforeAll(() => {
    prev = setLogSink((line) => lines.push(line))
    // The level is process-wide: another test file's gateway may have set it to warn.
    prevLevel = setLogLevel('info')
  })
  afterAll(() => {
    if (prev) setLogSink(prev)
    if (prevLevel) setLogLevel(prevLevel)
  })
  return lines
}

let flowSeq = 0

/** A flow that records sends. */
export interface RecordingFlow extends Flow {
  readonly sent: Uint8Array[]
  open: boolean
}

export function recordingFlow(transport: TransportProtocol, remoteAddress = '192.0.2.10', remotePort = 5062): RecordingFlow {
  const reliable = transport !== 'UDP'
  const sent: Uint8Array[] = []
  const flow: RecordingFlow = {
    id: reliable ? `${transport.toLowerCase()}-p${++flowSeq}` : `udp-${remoteAddress}:${remotePort}`,
    transport, reliable, secure: transport === 'TLS' || transport === 'WSS',
    localAddress: '127.0.0.1', localPort: 5060, remoteAddress, remotePort, open: true, sent,
    send(data) {
      if (!flow.open) return false
      sent.push(data)
      return true
    },
    close() {
      flow.open = false
    },
  }
  return flow
}

/** A client transaction the test drives: `respond`, `timeout`, `transportError`. */
export class FakeClientTx implements ClientTransaction {
  terminated = false
  state: TransactionState = 'Calling'
  readonly method: string
  constructor(
    readonly key: string,
    readonly request: SipRequest,
    readonly destination: Destination,
    readonly handler: ClientTransactionHandler,
    readonly flow: Flow | null,
  ) {
    this.method = request.method
  }

  terminate(): void {
    this.terminated = true
    this.state = 'Terminated'
  }

  /** A response to this branch's request, from downstream (our Via on top, as received). */
  respond(status: number, options: { toTag?: string; headers?: HeaderField[]; body?: string } = {}): SipResponse {
    const res = createResponse(this.request, status, { toTag: options.toTag ?? `callee-${this.key}`, headers: options.headers })
    if (options.body !== undefined) res.body = new TextEncoder().encode(options.body)
    this.handler.onResponse(res, this)
    return res
  }

  timeout(): void {
    this.handler.onTimeout(this)
  }

  transportError(): void {
    this.handler.onTransportError(this)
  }
}

/** ProxyTransactions that records every client transaction and never sends anything. */
export class FakeTransactions implements ProxyTransactions {
  readonly clients: FakeClientTx[] = []
  readonly servers: FakeServerTx[] = []

  sendRequest(request: SipRequest, destination: Destination, handler: ClientTransactionHandler): ClientTransaction {
    const tx = new FakeClientTx(`${request.topVia.branch} ${request.method}`, request, destination, handler, destination.flow ?? null)
    this.clients.push(tx)
    return tx
  }

  findInviteServerTransaction(cancel: SipRequest): ServerTransaction | undefined {
    return this.servers.find((s) => s.request.method === 'INVITE' && s.request.topVia.branch === cancel.topVia.branch &&
      s.request.callId === cancel.callId)
  }

  /** Client transactions for `method` (INVITE branches, CANCELs, ...). */
  sent(method: string): FakeClientTx[] {
    return this.clients.filter((c) => c.request.method === method)
  }
}

/** A server transaction that records the responses the proxy sends through it. */
export class FakeServerTx implements ServerTransaction {
  readonly responses: SipResponse[] = []
  state: TransactionState = 'Proceeding'
  finalResponse: SipResponse | null = null
  terminated = false
  readonly key: string
  readonly method: string

  constructor(readonly request: SipRequest, readonly flow: Flow) {
    this.key = `${request.topVia.branch} ${request.topVia.host} ${request.method}`
    this.method = request.method
  }

  get finalStatus(): number {
    return this.finalResponse?.status ?? 0
  }

  respond(response: SipResponse): boolean {
    this.responses.push(response)
    if (response.status >= 200 && this.finalResponse === null) this.finalResponse = response
    return true
  }

  terminate(): void {
    this.terminated = true
  }

  /** Final responses sent upstream. */
  get finals(): SipResponse[] {
    return this.responses.filter((r) => r.status >= 200)
  }

  statuses(): number[] {
    return this.responses.map((r) => r.status)
  }
}

/** A real TransportLayer with our ports declared (no sockets: sends go to recording flows). */
export function transportLayer(): TransportLayer {
  const t = new TransportLayer({ advertisedHost: '127.0.0.1', local: new LocalAddresses('patchbay.test', ['127.0.0.1', 'localhost']) })
  t.attachUdp({ port: PORTS.UDP } as UdpTransport)
  t.attachTcp({ port: PORTS.TCP } as TcpTransport, 'TCP')
  t.attachTcp({ port: PORTS.TLS } as TcpTransport, 'TLS')
  t.setWebSocketPort('WS', PORTS.WS)
  t.setWebSocketPort('WSS', PORTS.WSS)
  return t
}

/** A proxy over fakes, with everything a test looks at. */
export function setupProxy(options: { callEvents?: CallEventSink } = {}) {
  const scheduler = new FakeScheduler()
  const transactions = new FakeTransactions()
  const transport = transportLayer()
  const proxy = new StatefulProxy({ transport, transactions, scheduler, timerC: TIMER_C, cancelTimeout: CANCEL_TIMEOUT, callEvents: options.callEvents })
  const finals: number[] = []
  /** Receives `request` on `inFlow` as a new server transaction (what the pipeline hands over). */
  const serverTx = (request: SipRequest, inFlow: Flow): FakeServerTx => {
    const tx = new FakeServerTx(request, inFlow)
    transactions.servers.push(tx)
    return tx
  }
  return { scheduler, transactions, transport, proxy, finals, serverTx, onFinal: (s: number) => finals.push(s) }
}

export interface InviteOptions {
  method?: string
  branch?: string
  callId?: string
  maxForwards?: string | null
  uri?: string
  body?: string
  toTag?: string
}

let callSeq = 0

/** A request from a UAC at 192.0.2.10:5062 (UDP) to bob@patchbay.test, as the pipeline passes it on. */
export function uacRequest(o: InviteOptions = {}): SipRequest {
  const method = o.method ?? 'INVITE'
  const headers: HeaderField[] = [
    { name: 'via', value: `SIP/2.0/UDP 192.0.2.10:5062;branch=${o.branch ?? `z9hG4bK-uac-${++callSeq}`};rport=5062;received=192.0.2.10` },
    { name: 'via', value: 'SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-further-down' },
  ]
  if (o.maxForwards !== null) headers.push({ name: 'max-forwards', value: o.maxForwards ?? '70' })
  headers.push(
    { name: 'to', value: `<sip:bob@patchbay.test>${o.toTag ? `;tag=${o.toTag}` : ''}` },
    { name: 'from', value: '"Alice" <sip:alice@patchbay.test>;tag=alice-tag' },
    { name: 'call-id', value: o.callId ?? `call-${callSeq}@192.0.2.10` },
    { name: 'cseq', value: `7 ${method}` },
    { name: 'contact', value: '<sip:alice@192.0.2.10:5062>' },
  )
  return new SipRequest(method, o.uri ?? 'sip:bob@patchbay.test', headers, new TextEncoder().encode(o.body ?? ''))
}

/** The CANCEL a UAC sends for `invite` (RFC 3261 §9.1). */
export function uacCancel(invite: SipRequest): SipRequest {
  return new SipRequest('CANCEL', invite.uri, [
    { name: 'via', value: invite.getAll('via')[0]! },
    { name: 'max-forwards', value: '70' },
    { name: 'to', value: invite.get('to')! },
    { name: 'from', value: invite.get('from')! },
    { name: 'call-id', value: invite.callId },
    { name: 'cseq', value: `${invite.cseq.seq} CANCEL` },
  ])
}

/** A target reached over `flow` (a registered contact). */
export function flowTarget(flow: Flow, user = 'bob'): Target {
  return {
    requestUri: `sip:${user}@${flow.transport === 'WS' || flow.transport === 'WSS' ? 'x7k2.invalid' : flow.remoteAddress};transport=${flow.transport.toLowerCase()}`,
    destination: { transport: flow.transport, address: flow.remoteAddress, port: flow.remotePort, flow },
  }
}

/** A UDP target by address (no flow). */
export function udpTarget(address: string, port: number, user = 'bob'): Target {
  return { requestUri: `sip:${user}@${address}:${port}`, destination: { transport: 'UDP', address, port } }
}

/**
 * Test doubles for the transaction layer: a fake Flow, a recording TransportSender, a
 * recording TU and client handler, and small builders for requests and responses.
 */
import { afterAll, beforeAll } from 'bun:test'
import { setLogSink, setLogLevel, type LogLevel } from '../../../../gateway/src/base/log.ts'
import { SipRequest, type SipMessage, type SipResponse } from '../../../../gateway/src/sip/message/sip-message.ts'
import { createResponse } from '../../../../gateway/src/sip/message/create-response.ts'
import type { HeaderField } from '../../../../gateway/src/sip/syntax/types.ts'
import type { Destination, Flow, TransportProtocol } from '../../../../gateway/src/sip/transport/flow.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import { parseMessage } from '../../../../gateway/src/sip/parser/message-parser.ts'
import type {
  ClientTransaction, ClientTransactionHandler, ServerTransaction, TimerValues, TransactionUser,
} from '../../../../gateway/src/sip/transaction/transaction-user.ts'
import type { TransportSender } from '../../../../gateway/src/sip/transport/transport-sender.ts'
import { DEFAULT_TIMERS } from '../../../../gateway/src/sip/transaction/transaction-user.ts'
import { TransactionLayer } from '../../../../gateway/src/sip/transaction/transaction-layer.ts'
import type { ServerTransactionFailure } from '../../../../gateway/src/sip/transaction/transaction-context.ts'

let flowSeq = 0

/** Captures the layer's log lines for the test file instead of printing them. */
export function captureLogs(): string[] {
  const lines: string[] = []
  let prev: ((line: string) => void) | null = null
  let prevLevel: LogLevel = 'info'
  beforeAll(() => {
    prev = setLogSink((line) => lines.push(line))
    // Other test files (a gateway started with log.level warn) change the process-wide level.
    prevLevel = setLogLevel('debug')
  })
  afterAll(() => {
    if (prev) setLogSink(prev)
    setLogLevel(prevLevel)
  })
  return lines
}

/** A Flow that records nothing itself (the FakeSender records sends). */
export function fakeFlow(reliable: boolean, remoteAddress = '192.0.2.10', remotePort = 5060): Flow {
  const transport: TransportProtocol = reliable ? 'TCP' : 'UDP'
  return {
    id: `${transport.toLowerCase()}-${++flowSeq}`,
    transport,
    reliable,
    secure: false,
    localAddress: '127.0.0.1',
    localPort: 5060,
    remoteAddress,
    remotePort,
    open: true,
    send: () => true,
    close: () => {},
  }
}

export interface SentRecord {
  message: SipMessage
  destination: Destination
  /** FakeScheduler time of the send, ms. */
  at: number
}

/** A TransportSender that records every send; `fail` makes sends return null (transport error). */
export class FakeSender implements TransportSender {
  readonly sent: SentRecord[] = []
  fail = false

  constructor(private readonly scheduler: FakeScheduler, private readonly flow: Flow) {}

  send(message: SipMessage, destination: Destination): Flow | null {
    if (this.fail) return null
    this.sent.push({ message, destination, at: this.scheduler.now() })
    return destination.flow ?? this.flow
  }

  /** Records bytes sent as they are, parsed back: a retransmission must be the same message. */
  sendSerialized(data: Uint8Array, destination: Destination): Flow | null {
    if (this.fail) return null
    const parsed = parseMessage(data)
    if (!parsed.ok) throw new Error(`sendSerialized got bytes that do not parse: ${JSON.stringify(parsed)}`)
    this.sent.push({ message: parsed.message, destination, at: this.scheduler.now() })
    return destination.flow ?? this.flow
  }

  responseDestination(_request: SipRequest, flow: Flow): Destination {
    return { transport: flow.transport, address: flow.remoteAddress, port: flow.remotePort, flow }
  }

  /** Sends of requests with this method. */
  requests(method: string): SentRecord[] {
    return this.sent.filter((s) => s.message.kind === 'request' && s.message.method === method)
  }

  /** Sends of responses with this status. */
  responses(status?: number): SentRecord[] {
    return this.sent.filter((s) => s.message.kind === 'response' && (status === undefined || s.message.status === status))
  }
}

/** A client transaction handler that records what it is told. */
export class RecordingHandler implements ClientTransactionHandler {
  readonly responses: SipResponse[] = []
  timeouts = 0
  transportErrors = 0
  /** Scheduler time of each event, for exact-time assertions. */
  readonly events: Array<{ what: string; at: number }> = []

  constructor(private readonly scheduler: FakeScheduler) {}

  onResponse(response: SipResponse, _tx: ClientTransaction): void {
    this.responses.push(response)
    this.events.push({ what: String(response.status), at: this.scheduler.now() })
  }

  onTimeout(_tx: ClientTransaction): void {
    this.timeouts++
    this.events.push({ what: 'timeout', at: this.scheduler.now() })
  }

  onTransportError(_tx: ClientTransaction): void {
    this.transportErrors++
    this.events.push({ what: 'transport error', at: this.scheduler.now() })
  }
}

/** A TU that records requests, stray responses and server transaction failures. */
export class RecordingUser implements TransactionUser {
  readonly requests: Array<{ request: SipRequest; tx: ServerTransaction | null; flow: Flow }> = []
  readonly strays: SipResponse[] = []
  readonly failures: Array<{ tx: ServerTransaction; cause: ServerTransactionFailure; at: number }> = []
  /** Called from onRequest, e.g. to answer at once. */
  onRequestHook: ((request: SipRequest, tx: ServerTransaction | null) => void) | null = null

  constructor(private readonly scheduler: FakeScheduler) {}

  onRequest(request: SipRequest, tx: ServerTransaction | null, flow: Flow): void {
    this.requests.push({ request, tx, flow })
    this.onRequestHook?.(request, tx)
  }

  onStrayResponse(response: SipResponse, _flow: Flow): void {
    this.strays.push(response)
  }

  onServerTransactionFailure(tx: ServerTransaction, cause: ServerTransactionFailure): void {
    this.failures.push({ tx, cause, at: this.scheduler.now() })
  }
}

/** Everything a test needs, wired together. */
export function setup(options: { reliable?: boolean; timers?: TimerValues; autoTrying?: boolean } = {}) {
  const scheduler = new FakeScheduler()
  const flow = fakeFlow(options.reliable ?? false)
  const sender = new FakeSender(scheduler, flow)
  const user = new RecordingUser(scheduler)
  const handler = new RecordingHandler(scheduler)
  const layer = new TransactionLayer({
    sender, user, scheduler, timers: options.timers ?? DEFAULT_TIMERS,
    ...(options.autoTrying === undefined ? {} : { autoTrying: options.autoTrying }),
  })
  const destination: Destination = { transport: flow.transport, address: flow.remoteAddress, port: flow.remotePort }
  return { scheduler, flow, sender, user, handler, layer, destination }
}

export interface RequestOptions {
  branch?: string | null
  /** sent-by of the top Via. */
  sentBy?: string
  transport?: string
  callId?: string
  cseq?: number
  fromTag?: string | null
  toTag?: string | null
  uri?: string
  routes?: string[]
  /** Extra Vias below the top one. */
  moreVias?: string[]
}

/** Builds a request with the headers §8.1.1 requires (Via, Max-Forwards, To, From, Call-ID, CSeq). */
export function makeRequest(method: string, o: RequestOptions = {}): SipRequest {
  const branch = o.branch === undefined ? 'z9hG4bK-test-1' : o.branch
  const via = `SIP/2.0/${o.transport ?? 'UDP'} ${o.sentBy ?? '192.0.2.10:5060'}` + (branch === null ? '' : `;branch=${branch}`)
  const headers: HeaderField[] = [{ name: 'via', value: via }]
  for (const v of o.moreVias ?? []) headers.push({ name: 'via', value: v })
  headers.push({ name: 'max-forwards', value: '70' })
  for (const r of o.routes ?? []) headers.push({ name: 'route', value: r })
  const fromTag = o.fromTag === undefined ? 'ft-1' : o.fromTag
  const toTag = o.toTag === undefined ? null : o.toTag
  headers.push({ name: 'to', value: '<sip:bob@example.com>' + (toTag === null ? '' : `;tag=${toTag}`) })
  headers.push({ name: 'from', value: '"Alice" <sip:alice@example.com>' + (fromTag === null ? '' : `;tag=${fromTag}`) })
  headers.push({ name: 'call-id', value: o.callId ?? 'call-1@example.com' })
  headers.push({ name: 'cseq', value: `${o.cseq ?? 1} ${method}` })
  headers.push({ name: 'contact', value: '<sip:alice@192.0.2.10:5060>' })
  return new SipRequest(method, o.uri ?? 'sip:bob@example.com', headers)
}

/** The CANCEL for `invite` (§9.1): same Request-URI, Call-ID, To, From, CSeq number, top Via. */
export function makeCancel(invite: SipRequest): SipRequest {
  const headers: HeaderField[] = []
  let viaDone = false
  for (const h of invite.headers) {
    if (h.name === 'via') {
      if (!viaDone) headers.push(h)
      viaDone = true
    } else if (h.name === 'cseq') {
      headers.push({ name: 'cseq', value: `${invite.cseq.seq} CANCEL` })
    } else if (h.name === 'to' || h.name === 'from' || h.name === 'call-id' || h.name === 'max-forwards' || h.name === 'route') {
      headers.push(h)
    }
  }
  return new SipRequest('CANCEL', invite.uri, headers)
}

/** The ACK a UAC sends for a non-2xx final `response` to `invite` (same branch, §17.1.1.3). */
export function makeNon2xxAck(invite: SipRequest, response: SipResponse): SipRequest {
  const headers: HeaderField[] = []
  let viaDone = false
  for (const h of invite.headers) {
    if (h.name === 'via') {
      if (!viaDone) headers.push(h)
      viaDone = true
    } else if (h.name === 'cseq') headers.push({ name: 'cseq', value: `${invite.cseq.seq} ACK` })
    else if (h.name === 'to') headers.push({ name: 'to', value: response.get('to')! })
    else if (h.name === 'from' || h.name === 'call-id' || h.name === 'max-forwards') headers.push(h)
  }
  return new SipRequest('ACK', invite.uri, headers)
}

/** A response to `request` (§8.2.6.2), with a To tag unless `toTag` is null. */
export function makeResponse(request: SipRequest, status: number, toTag: string | null = 'tt-1'): SipResponse {
  return createResponse(request, status, toTag === null ? {} : { toTag })
}

/** Times (ms) at which messages matching `pred` were sent. */
export function times(sent: SentRecord[]): number[] {
  return sent.map((s) => s.at)
}

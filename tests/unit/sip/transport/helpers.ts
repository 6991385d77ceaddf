/**
 * Test doubles for the transport layer tests: a recording Flow (any transport), a
 * TransportLayer wired to a recording message handler, RFC 4475 fixture loading, and a
 * small request builder that writes wire text (CRLF line ends, exact Content-Length).
 */
import { afterAll, beforeAll } from 'bun:test'
import { setLogSink } from '../../../../gateway/src/base/log.ts'
import { parseMessage } from '../../../../gateway/src/sip/parser/message-parser.ts'
import type { SipMessage } from '../../../../gateway/src/sip/message/sip-message.ts'
import { SipText } from '../../../support/sip-text.ts'
import type { Flow, TransportProtocol } from '../../../../gateway/src/sip/transport/flow.ts'
import { TransportLayer } from '../../../../gateway/src/sip/transport/transport-layer.ts'
import { LocalAddresses } from '../../../../gateway/src/base/local-addresses.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Captures log lines for the test file instead of printing them (warns are expected here). */
export function captureLogs(): string[] {
  const lines: string[] = []
  let prev: ((line: string) => void) | null = null
  beforeAll(() => {
    prev = setLogSink((line) => lines.push(line))
  })
  afterAll(() => {
    if (prev) setLogSink(prev)
  })
  return lines
}

/** A Flow that records every send; `open` can be flipped to test closed flows. */
export interface RecordingFlow extends Flow {
  readonly sent: Uint8Array[]
  /** The sends as text. */
  readonly sentText: string[]
  open: boolean
}

let flowSeq = 0

/** A recording flow for `transport` from remoteAddress:remotePort. */
export function recordingFlow(transport: TransportProtocol, remoteAddress = '192.0.2.10', remotePort = 5062): RecordingFlow {
  const reliable = transport !== 'UDP'
  const sent: Uint8Array[] = []
  const flow: RecordingFlow = {
    id: reliable ? `${transport.toLowerCase()}-fake-${++flowSeq}` : `udp-${remoteAddress}:${remotePort}`,
    transport,
    reliable,
    secure: transport === 'TLS' || transport === 'WSS',
    localAddress: '127.0.0.1',
    localPort: 5060,
    remoteAddress,
    remotePort,
    open: true,
    sent,
    get sentText() {
      return sent.map((d) => decoder.decode(d))
    },
    send(data: Uint8Array) {
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

/** A TransportLayer for host 127.0.0.1 / domain patchbay.test, recording what it passes up. */
export function layerWithRecorder() {
  const layer = new TransportLayer({
    advertisedHost: '127.0.0.1',
    local: new LocalAddresses('patchbay.test', ['127.0.0.1', 'localhost']),
  })
  const received: Array<{ message: SipMessage; flow: Flow }> = []
  layer.onMessage((message, flow) => received.push({ message, flow }))
  return { layer, received }
}

/** The bytes of an RFC 4475 fixture (tests/fixtures/rfc4475/NAME.dat), byte-exact. */
export async function fixtureBytes(name: string): Promise<Uint8Array> {
  return new Uint8Array(await Bun.file(new URL(`../../../fixtures/rfc4475/${name}.dat`, import.meta.url)).arrayBuffer())
}

/**
 * Reads sent bytes as a response with the test-side reader (tests/support/sip-text.ts): a
 * stateless answer to a malformed request copies what it could read, so it need not pass the
 * gateway's own parser (no From for insuf, a SIP/7.0 Via for badvers).
 * @throws Error when the bytes are not a response (a test failure)
 */
export function asResponse(data: Uint8Array): SipText {
  const m = SipText.parse(decoder.decode(data))
  if (m === null || !m.isResponse) throw new Error(`not a SIP response: ${JSON.stringify(decoder.decode(data))}`)
  return m
}

export interface WireRequestOptions {
  method?: string
  uri?: string
  via?: string
  callId?: string
  cseq?: number
  body?: string
  /** Extra header lines, written as is. */
  extra?: string[]
  /** Leave Content-Length out (datagram only). */
  noContentLength?: boolean
}

/** A request as wire text with CRLF line ends and a byte-exact Content-Length. */
export function wireRequest(o: WireRequestOptions = {}): string {
  const method = o.method ?? 'OPTIONS'
  const body = o.body ?? ''
  const lines = [
    `${method} ${o.uri ?? 'sip:bob@patchbay.test'} SIP/2.0`,
    `Via: ${o.via ?? 'SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-wire-1'}`,
    'Max-Forwards: 70',
    'To: <sip:bob@patchbay.test>',
    'From: <sip:alice@patchbay.test>;tag=ft-1',
    `Call-ID: ${o.callId ?? 'wire-call-1'}`,
    `CSeq: ${o.cseq ?? 1} ${method}`,
    ...(o.extra ?? []),
  ]
  if (!o.noContentLength) lines.push(`Content-Length: ${encoder.encode(body).length}`)
  return lines.join('\r\n') + '\r\n\r\n' + body
}

/** A response as wire text (top Via given). */
export function wireResponse(status: number, via: string, callId = 'wire-call-1'): string {
  return [
    `SIP/2.0 ${status} Whatever`,
    `Via: ${via}`,
    'To: <sip:bob@patchbay.test>;tag=tt-1',
    'From: <sip:alice@patchbay.test>;tag=ft-1',
    `Call-ID: ${callId}`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
  ].join('\r\n') + '\r\n\r\n'
}

export const bytes = (text: string): Uint8Array => encoder.encode(text)
export const text = (data: Uint8Array): string => decoder.decode(data)

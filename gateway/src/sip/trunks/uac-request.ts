/**
 * The gateway as a UAC towards a trunk: what the trunk clients (registration, qualify) need
 * from the transaction layer, and the out-of-dialog requests they send (RFC 3261 §8.1.1:
 * Request-URI, To, From, Call-ID, CSeq, Max-Forwards, Via).
 */
import { SipRequest } from '../message/sip-message.ts'
import type { HeaderField } from '../syntax/types.ts'
import type { Destination, TransportProtocol } from '../transport/flow.ts'
import type { ClientTransaction, ClientTransactionHandler } from '../transaction/transaction-user.ts'

/** What a trunk client needs of the transaction layer (TransactionLayer satisfies it). */
export interface UacTransactions {
  /** Starts a client transaction (§17.1); see TransactionLayer.sendRequest. */
  sendRequest(request: SipRequest, destination: Destination, handler: ClientTransactionHandler): ClientTransaction
  /** A new unique branch with the magic cookie (§8.1.1.7). */
  newBranch(): string
}

/** Our Via sent-by for a transport (TransportLayer.sentBy satisfies it). */
export type SentByLookup = (transport: TransportProtocol) => { host: string; port: number }

/** Where a trunk's requests go: a fixed destination, or one resolved before each request (RFC 3263, sip/dns). */
export type DestinationSource = Destination | (() => Destination | Promise<Destination>)

/**
 * Resolves a DestinationSource and calls `ok` with it, or `fail` with what the resolver threw
 * or rejected with. Synchronous when the destination is fixed or resolved synchronously (a
 * cached DNS answer), so a request goes out in the same turn.
 */
export function withDestination(source: DestinationSource, ok: (d: Destination) => void, fail: (e: unknown) => void): void {
  let d: Destination | Promise<Destination>
  try {
    d = typeof source === 'function' ? source() : source
  } catch (e) {
    fail(e)
    return
  }
  if (d instanceof Promise) d.then(ok, fail)
  else ok(d)
}

/** Fields of one out-of-dialog request. */
export interface UacRequestFields {
  method: string
  requestUri: string
  /** From URI (the tag is added). */
  from: string
  fromTag: string
  /** To URI (no tag: out of dialog, §8.1.1.2). */
  to: string
  callId: string
  cseq: number
  /** Transport of the Via (the destination's). */
  transport: TransportProtocol
  sentBy: { host: string; port: number }
  branch: string
  /** Route header values, e.g. `<sip:proxy.example.com;lr>` for an outbound proxy (§8.1.2). */
  route?: readonly string[]
  /** Further headers, after the mandatory ones. */
  headers?: readonly HeaderField[]
}

/**
 * An out-of-dialog request (§8.1.1) with our Via (`rport`, RFC 3581) and Max-Forwards 70
 * (§8.1.1.6). Header values are taken as given (callers pass URIs they built or validated).
 */
export function buildUacRequest(f: UacRequestFields): SipRequest {
  const headers: HeaderField[] = [
    { name: 'via', value: `SIP/2.0/${f.transport} ${f.sentBy.host}:${f.sentBy.port};branch=${f.branch};rport` },
    { name: 'max-forwards', value: '70' },
  ]
  for (const r of f.route ?? []) headers.push({ name: 'route', value: r })
  headers.push(
    { name: 'from', value: `<${f.from}>;tag=${f.fromTag}` },
    { name: 'to', value: `<${f.to}>` },
    { name: 'call-id', value: f.callId },
    { name: 'cseq', value: `${f.cseq} ${f.method}` },
  )
  if (f.headers) headers.push(...f.headers)
  return new SipRequest(f.method, f.requestUri, headers)
}

/** A random token of `bytes` bytes in hex: tags (§19.3), Call-IDs (§8.1.1.4). */
export function randomHex(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes))
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

/** The User-Agent the gateway sends as a UAC. */
export const UAC_USER_AGENT = 'Patchbay'

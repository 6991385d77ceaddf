/**
 * The gateway's STUN binding service (RFC 8489 §3, §6.3): a UDP server that tells each
 * client the transport address its request came from, so that browsers can gather
 * server-reflexive (srflx) ICE candidates without a third-party STUN server.
 *
 * - `handleStunDatagram(data, source)` is the whole protocol as a pure function: it returns
 *   the response datagram, or null when nothing must be sent (indications, responses,
 *   other methods, non-STUN bytes, bad FINGERPRINT). The SIP UDP transport can call it to
 *   demultiplex STUN on a shared port (check `looksLikeStun` first).
 * - `StunBindingService` wraps it in a Bun UDP socket: `start({ host, port })` resolves to
 *   the bound port (port 0 picks a free one), `stop()` closes the socket.
 *
 * The service is stateless: RFC 8489 §6.3.1 lets a Binding server answer retransmissions
 * by processing them again, since the answer does not change.
 */
import type { udp } from 'bun'
import { logger } from '../base/log.ts'
import { REUSE_PORT } from '../base/reuse-port.ts'
import {
  StunAttributeType,
  StunClass,
  StunMethod,
  decodeStunMessage,
  encodeErrorCode,
  encodeMappedAddress,
  encodeSoftware,
  encodeStunMessage,
  encodeUnknownAttributes,
  encodeXorMappedAddress,
  isComprehensionRequired,
  parseIpAddress,
  type StunAttribute,
  type StunMessage,
} from './stun-message.ts'

const log = logger('ice.stun')

/** Where a datagram came from, as the socket reports it. */
export interface DatagramSource {
  /** IPv4 or IPv6 text; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is answered as IPv4. */
  address: string
  port: number
}

export interface StunHandlerOptions {
  /** SOFTWARE attribute text; default "Patchbay". Empty string: no SOFTWARE attribute. */
  software?: string
}

/** Default SOFTWARE value (RFC 8489 §14.14). */
export const DEFAULT_SOFTWARE = 'Patchbay'

/**
 * Comprehension-required attributes this server understands (RFC 8489 §18.3 and the ICE
 * attributes of RFC 8445 §16.1). "Known-but-unexpected attributes SHOULD be ignored by the
 * agent" (RFC 8489 §6.3), so USERNAME, MESSAGE-INTEGRITY and the like are accepted and
 * ignored: the binding service does not authenticate.
 */
const KNOWN_REQUIRED = new Set<number>([
  StunAttributeType.MappedAddress,
  StunAttributeType.Username,
  StunAttributeType.MessageIntegrity,
  StunAttributeType.ErrorCode,
  StunAttributeType.UnknownAttributes,
  StunAttributeType.Realm,
  StunAttributeType.Nonce,
  StunAttributeType.MessageIntegritySha256,
  StunAttributeType.PasswordAlgorithm,
  StunAttributeType.Userhash,
  StunAttributeType.XorMappedAddress,
  StunAttributeType.Priority,
  StunAttributeType.UseCandidate,
])

const softwareCache = new Map<string, Uint8Array>()
function softwareAttribute(text: string): StunAttribute[] {
  if (text === '') return []
  let value = softwareCache.get(text)
  if (value === undefined) {
    value = encodeSoftware(text)
    if (softwareCache.size < 16) softwareCache.set(text, value)
  }
  return [{ type: StunAttributeType.Software, value }]
}

/**
 * Builds an error response to `request`.
 *
 * RFC 8489 §6.3.1.1: "When forming the response (success or error), the server follows
 * the rules of Section 6.  The method of the response is the same as that of the request,
 * and the message class is either "Success Response" or "Error Response"."  "For an error
 * response, the server MUST add an ERROR-CODE attribute containing the error code specified
 * in the processing above.  The reason phrase is not fixed but SHOULD be something suitable
 * for the error code."
 */
function errorResponse(
  request: Pick<StunMessage, 'method' | 'transactionId' | 'rfc3489Cookie'>,
  code: number,
  reason: string,
  extra: StunAttribute[],
  software: string,
): Uint8Array {
  const response: StunMessage = {
    method: request.method,
    cls: StunClass.ErrorResponse,
    transactionId: request.transactionId,
    attributes: [{ type: StunAttributeType.ErrorCode, value: encodeErrorCode(code, reason) }, ...extra, ...softwareAttribute(software)],
  }
  if (request.rfc3489Cookie !== undefined) response.rfc3489Cookie = request.rfc3489Cookie
  return encodeStunMessage(response, { fingerprint: request.rfc3489Cookie === undefined })
}

/**
 * Processes one datagram received by the binding service (RFC 8489 §6.3) and returns the
 * datagram to send back to `source`, or null when nothing must be sent. Never throws.
 *
 * - Binding request -> Binding success response with XOR-MAPPED-ADDRESS = `source`,
 *   SOFTWARE and FINGERPRINT (RFC 3489 requests: MAPPED-ADDRESS and no FINGERPRINT, §12.2);
 * - request with unknown comprehension-required attributes -> 420 + UNKNOWN-ATTRIBUTES;
 * - Binding request whose header is sound but whose attributes are malformed -> 400;
 * - indications, responses, other methods, bad length or FINGERPRINT, non-STUN -> null.
 */
export function handleStunDatagram(data: Uint8Array, source: DatagramSource, options: StunHandlerOptions = {}): Uint8Array | null {
  const software = options.software ?? DEFAULT_SOFTWARE
  const decoded = decodeStunMessage(data, { allowRfc3489: true })
  if (!decoded.ok) {
    /*
     * RFC 8489 §6.3: "If any errors are detected, the message is silently discarded.  In the
     * case when STUN is being multiplexed with another protocol, an error may indicate that
     * this is not really a STUN message; in this case, the agent should try to parse the
     * message as a different protocol."
     *
     * That covers a wrong first two bits, magic cookie, length or FINGERPRINT (the checks
     * §6.3 lists). A Binding request whose header passes them but whose attributes cannot
     * be parsed is answered with 400 (Bad Request: "The request was malformed.", §14.8).
     */
    const h = decoded.header
    if (decoded.kind === 'malformed' && h !== null && h.cls === StunClass.Request && h.method === StunMethod.Binding) {
      let rfc3489Cookie: number | undefined
      if (data[4] !== 0x21 || data[5] !== 0x12 || data[6] !== 0xa4 || data[7] !== 0x42) {
        rfc3489Cookie = new DataView(data.buffer, data.byteOffset + 4, 4).getUint32(0)
      }
      return errorResponse({ method: h.method, transactionId: h.transactionId, rfc3489Cookie }, 400, 'Bad Request', [], software)
    }
    return null
  }

  const request = decoded.message
  // RFC 8489 §6.3: "... and that the method value is a supported method."
  if (request.method !== StunMethod.Binding) return null
  /*
   * RFC 8489 §6.3.2: "If the indication contains unknown comprehension-required attributes,
   * the indication is discarded and processing ceases."  "No response is generated for an
   * indication."  A Binding indication is a keepalive: nothing to do.
   * RFC 8489 §6.3: "If the message class is "Success Response" or "Error Response", the
   * agent checks that the transaction ID matches a transaction that is still in progress."
   * This server has no transactions in progress, so responses are discarded.
   */
  if (request.cls !== StunClass.Request) return null

  /*
   * RFC 8489 §6.3.1: "If the request contains one or more unknown comprehension-required
   * attributes, the server replies with an error response with an error code of 420
   * (Unknown Attribute) and includes an UNKNOWN-ATTRIBUTES attribute in the response that
   * lists the unknown comprehension-required attributes."
   */
  let unknown: number[] | undefined
  for (const a of request.attributes) {
    if (isComprehensionRequired(a.type) && !KNOWN_REQUIRED.has(a.type)) {
      unknown ??= []
      if (!unknown.includes(a.type)) unknown.push(a.type)
    }
  }
  if (unknown !== undefined) {
    return errorResponse(
      request,
      420,
      'Unknown Attribute',
      [{ type: StunAttributeType.UnknownAttributes, value: encodeUnknownAttributes(unknown) }],
      software,
    )
  }

  const parsed = parseIpAddress(source.address)
  if (parsed === null || !Number.isInteger(source.port) || source.port < 0 || source.port > 0xffff) return null
  const mapped = { family: parsed.family, address: source.address, port: source.port }

  /*
   * RFC 8489 §6.3.1.1: "When forming the success response, the server adds an
   * XOR-MAPPED-ADDRESS attribute to the response, where the contents of the attribute are
   * the source transport address of the request message.  For UDP, this is the source IP
   * address and source UDP port of the request message."
   *
   * RFC 8489 §12.2: "When the server detects an RFC 3489 client, it SHOULD copy the value
   * seen in the magic cookie field in the Binding request to the magic cookie field in the
   * Binding response message, and insert a MAPPED-ADDRESS attribute instead of an
   * XOR-MAPPED-ADDRESS attribute."
   */
  const legacy = request.rfc3489Cookie !== undefined
  const response: StunMessage = {
    method: StunMethod.Binding,
    cls: StunClass.SuccessResponse,
    transactionId: request.transactionId,
    attributes: [
      legacy
        ? { type: StunAttributeType.MappedAddress, value: encodeMappedAddress(mapped) }
        : { type: StunAttributeType.XorMappedAddress, value: encodeXorMappedAddress(mapped, request.transactionId) },
      // RFC 8489 §6.3.1.1: "In all cases, the server SHOULD add a SOFTWARE attribute to the message."
      ...softwareAttribute(software),
    ],
  }
  if (legacy) response.rfc3489Cookie = request.rfc3489Cookie
  return encodeStunMessage(response, { fingerprint: !legacy })
}

export interface StunBindingServiceOptions extends StunHandlerOptions {
  /** Called for each datagram that got an answer (tests and metrics). */
  onAnswer?: (source: DatagramSource) => void
}

/** Counters for /metrics. */
export interface StunBindingStats {
  /** Datagrams received. */
  received: number
  /** Responses sent (success and error). */
  answered: number
  /** Datagrams dropped without an answer. */
  dropped: number
}

/**
 * UDP STUN binding server (RFC 8489). One socket; stateless; IPv4 or IPv6 by `host`.
 * `start` rejects when the address cannot be bound (e.g. EADDRINUSE).
 */
export class StunBindingService {
  readonly stats: StunBindingStats = { received: 0, answered: 0, dropped: 0 }
  private socket: udp.Socket<'uint8array'> | null = null

  constructor(private readonly options: StunBindingServiceOptions = {}) {}

  /** The bound port, or undefined when not started. */
  get port(): number | undefined {
    return this.socket?.port
  }

  /**
   * Binds `host:port` (port 0: any free port) and starts answering.
   * @returns the bound UDP port.
   */
  async start(listen: { host: string; port: number; reusePort?: boolean }): Promise<number> {
    if (this.socket !== null) throw new Error('StunBindingService already started')
    const handlerOptions: StunHandlerOptions = { software: this.options.software ?? DEFAULT_SOFTWARE }
    const onAnswer = this.options.onAnswer
    const stats = this.stats
    const socket = await Bun.udpSocket({
      hostname: listen.host,
      port: listen.port,
      // Gateway workers share the port (stateless: any worker answers any request).
      ...(listen.reusePort === true ? REUSE_PORT : {}),
      binaryType: 'uint8array',
      socket: {
        data(socket, data, port, address) {
          stats.received++
          const source = { address, port }
          const reply = handleStunDatagram(data, source, handlerOptions)
          if (reply === null) {
            stats.dropped++
            if (log.debugEnabled) log.debug('datagram dropped', { source: `${address}:${port}`, bytes: data.length })
            return
          }
          socket.send(reply, port, address)
          stats.answered++
          onAnswer?.(source)
        },
        error(_socket, error) {
          // ICMP port unreachable from a client that went away after its request is routine.
          const code = (error as Error & { code?: string }).code
          if (code === 'ECONNREFUSED') log.debug('client unreachable', { error: error.message })
          else log.warn('socket error', { error: error.message, code })
        },
      },
    })
    this.socket = socket
    log.info('STUN binding service listening', { host: listen.host, port: socket.port })
    return socket.port
  }

  /** Closes the socket. Safe to call when not started. */
  stop(): void {
    if (this.socket === null) return
    const port = this.socket.port
    this.socket.close()
    this.socket = null
    log.info('STUN binding service stopped', { port })
  }
}

/**
 * One anchored call of the embedded media driver: a werift RTCPeerConnection towards the
 * browser (ICE + DTLS-SRTP, BUNDLE, rtcp-mux) and a plain RTP/RTCP socket pair towards the
 * legacy endpoint, with the relay between them.
 *
 * The session only coordinates; each concern has its own file:
 * - OfferAnswerNegotiator: RFC 3264 offer/answer for both legs (which SDP each leg gets,
 *   payload type maps, directions, hold).
 * - BrowserPeerConnection: the werift RTCPeerConnection (ICE servers, loopback host
 *   candidates, the passive DTLS role, the SDP werift writes).
 * - RtpRelay: the per-packet RTP relay (G.711 + RFC 4733 telephone-event, SSRC, sequence
 *   number and timestamp continuity, the telephone-event primer, symmetric RTP).
 * - RtcpTranslator: RTCP sender/receiver reports translated between the legs.
 */
import type { Logger } from '../../base/log.ts'
import { MediaError, type MediaProfile } from '../media-driver.ts'
import { BrowserPeerConnection, type PeerConnectionSettings } from './browser-peer-connection.ts'
import { OfferAnswerNegotiator } from './offer-answer-negotiator.ts'
import type { RtpPortAllocator, RtpSocketPair } from './rtp-port-allocator.ts'
import { RtpRelay } from './rtp-relay.ts'

/** What every session of one driver shares. */
export interface EmbeddedSessionContext extends PeerConnectionSettings {
  ports: RtpPortAllocator
  logger: Logger
}

/**
 * One anchored call. Create with {@link EmbeddedSession.open}; drive with {@link offer} and
 * {@link answer}; end with {@link close}. Calls are serialised per session.
 */
export class EmbeddedSession {
  /** Tag of the initial offerer and of the initial answerer (RFC 3261 dialog ends). */
  readonly tags: [string, string | undefined]
  /** Packets relayed, per direction (tests and metrics). */
  readonly counters: RtpRelay['counters']

  private readonly relay: RtpRelay
  private readonly peer: BrowserPeerConnection
  private readonly negotiator: OfferAnswerNegotiator
  private sockets: RtpSocketPair | null = null
  private closed = false
  private queue: Promise<unknown> = Promise.resolve()

  private constructor(
    readonly callId: string,
    offererTag: string,
    private readonly context: EmbeddedSessionContext,
  ) {
    this.tags = [offererTag, undefined]
    const relay = new RtpRelay(callId, context.logger)
    this.relay = relay
    this.counters = relay.counters
    this.peer = new BrowserPeerConnection(callId, context, context.logger, (transceiver) => relay.attachTransport(transceiver))
    this.negotiator = new OfferAnswerNegotiator(relay, this.peer, context.advertisedAddress)
  }

  /**
   * Creates a session with its RTP/RTCP pair bound.
   *
   * @throws MediaError 503 when the RTP port range is exhausted
   */
  static async open(callId: string, offererTag: string, context: EmbeddedSessionContext): Promise<EmbeddedSession> {
    const session = new EmbeddedSession(callId, offererTag, context)
    const relay = session.relay
    const pair = await context.ports.allocate(
      (data, port, address) => relay.onLegacyRtp(data, port, address),
      (data, port, address) => relay.onLegacyRtcp(data, port, address),
      (error) => context.logger.debug('legacy socket error', { callId, error: error.message }),
    )
    if (!pair) throw new MediaError(503, 'no free RTP port in the configured range')
    session.sockets = pair
    relay.useSockets(pair)
    return session
  }

  /** The legacy-facing RTP port (RTCP is this + 1). */
  get rtpPort(): number {
    return this.sockets?.rtpPort ?? 0
  }

  /** True when `tag` is one of the two dialog ends of this session. */
  hasTag(tag: string): boolean {
    return this.tags[0] === tag || this.tags[1] === tag
  }

  /** Records the answerer's tag (first answer wins). */
  noteAnswererTag(tag: string): void {
    if (this.tags[1] === undefined && tag !== this.tags[0]) this.tags[1] = tag
  }

  /**
   * Handles an SDP offer from `from` and returns the SDP for the other leg.
   *
   * @throws MediaError 488 (no G.711 in the offer), 500 (bad state, werift failure)
   */
  offer(from: MediaProfile, sdp: string): Promise<string> {
    return this.serialise(() => this.negotiator.offer(from, sdp))
  }

  /**
   * Handles an SDP answer from `from` and returns the SDP for the offerer.
   *
   * @throws MediaError 488 (answer shares no G.711 codec, stream rejected), 500
   */
  answer(from: MediaProfile, sdp: string): Promise<string> {
    return this.serialise(() => this.negotiator.answer(from, sdp))
  }

  /** Closes the peer connection and the sockets. Idempotent; never throws. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.relay.close()
    if (this.sockets) {
      this.context.ports.release(this.sockets)
      this.sockets = null
    }
    await this.peer.close()
  }

  private serialise<T>(task: () => Promise<T>): Promise<T> {
    const guarded = () => (this.closed ? Promise.reject(new MediaError(500, 'media session closed')) : task())
    const run = this.queue.then(guarded, guarded)
    this.queue = run.catch(() => {})
    return run
  }
}

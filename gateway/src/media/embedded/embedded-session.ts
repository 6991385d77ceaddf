/**
 * One anchored call of the embedded media driver: a werift RTCPeerConnection towards the
 * browser (ICE + DTLS-SRTP, BUNDLE, rtcp-mux) and a plain RTP/RTCP socket pair towards the
 * legacy endpoint, with the relay between them.
 *
 * Offer/answer (RFC 3264) runs through here in four shapes, all on the same session:
 *
 * | offerer | offer handling                         | answer handling                          |
 * |---------|----------------------------------------|------------------------------------------|
 * | browser | remember it; write a plain offer       | werift applies the browser offer narrowed |
 * |         | (the browser's G.711 + telephone-event)| to the legacy's codecs and answers        |
 * | legacy  | werift offers the legacy's G.711       | werift applies the browser answer; write  |
 * |         | (+ telephone-event)                    | the plain answer                          |
 *
 * Deferring werift's setRemoteDescription until the legacy side answered lets the WebRTC
 * answer carry exactly the codecs the legacy side chose, which is all the relay can carry (it
 * never transcodes).
 *
 * The relay (RFC 3550 §7: the gateway acts as a translator that re-originates each stream):
 * - browser -> legacy: werift decrypts SRTP and hands an RtpPacket to `onBrowserRtp`; the
 *   payload is copied behind a fresh 12-octet header (mapped payload type, the gateway's own
 *   SSRC, continuous sequence numbers and timestamps) into a reused buffer and sent to the
 *   legacy address (learned from SDP, then latched onto the first packet's source: symmetric
 *   RTP, so NAT'd phones work).
 * - legacy -> browser: a datagram is checked (RTP version 2, RFC 5761 demux), its payload type
 *   mapped, and handed to werift's SRTP (`RTCDtlsTransport.sendRtp`) with one reused header.
 * - RFC 4733 telephone-event packets travel like audio, with their payload type mapped. Towards
 *   the browser, an event that starts after the audio stopped (a phone with voice activity
 *   detection, SIPp's DTMF pcap) gets one G.711 silence frame in front of it, or Chromium's
 *   jitter buffer, muted by then, would drop it (TelephoneEventPrimer).
 * - Neither direction logs or allocates per packet beyond what werift does (SRTP output,
 *   RtpPacket parsing); both stop while the SDP directions say the stream is on hold.
 *
 * RTCP (hop-by-hop plus translated reports):
 * - werift terminates RTCP on the WebRTC leg: it sends receiver reports to the browser about
 *   the browser's stream.
 * - Legacy sender reports (SR) are translated to the browser: SSRC = the gateway's
 *   browser-facing SSRC, RTP timestamp mapped, NTP timestamp and counts kept (the browser's
 *   remote-outbound-rtp statistics). Their report blocks and legacy RR packets are not
 *   passed: they describe the gateway->legacy hop, and werift already reports on the
 *   browser's stream.
 * - Browser SR/RR are translated to the legacy side (port+1, or the RTP port with rtcp-mux):
 *   sender SSRC = the gateway's legacy-facing SSRC, SR RTP timestamp mapped, report blocks
 *   about the gateway's browser-facing stream re-addressed to the legacy source and their
 *   highest sequence number mapped back; an SDES CNAME chunk is added (RFC 3550 §6.1).
 *   Browser feedback messages (NACK, PLI, REMB, transport-cc) are not passed (none is
 *   negotiated for G.711).
 */
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RtcpPacketConverter,
  RtcpReceiverInfo,
  RtcpRrPacket,
  RtcpSenderInfo,
  RtcpSourceDescriptionPacket,
  RtcpSrPacket,
  RtpHeader,
  SourceDescriptionChunk,
  SourceDescriptionItem,
  type RTCDtlsTransport,
  type RTCRtpTransceiver,
  type RtcpPacket,
  type RtpPacket,
} from 'werift'
import type { Logger } from '../../base/log.ts'
import { MediaError, type MediaProfile } from '../media-driver.ts'
import {
  buildPlainAudioSdp,
  g711CodecsOf,
  parseAudioSdp,
  receives,
  restrictAudioCodecs,
  sends,
  telephoneEventOf,
  withoutReceive,
  type AudioCodec,
  type AudioDescription,
  type MediaDirection,
} from './audio-sdp.ts'
import { isRtcpPacket, payloadEndOf, payloadOffsetOf, rtpMarker, rtpPayloadBounds, rtpPayloadType, rtpSequenceNumber, rtpSsrc, rtpTimestamp, writeRtpHeader, RTP_HEADER_LENGTH } from './rtp-packet.ts'
import type { RtpPortAllocator, RtpSocketPair } from './rtp-port-allocator.ts'
import { RtpSequencer } from './rtp-sequencer.ts'
import { TelephoneEventPrimer } from './telephone-event-primer.ts'

/** An ICE server as werift (and RTCConfiguration) takes it. */
export interface IceServerConfig {
  urls: string | string[]
  username?: string
  credential?: string
}

/** What every session of one driver shares. */
export interface EmbeddedSessionContext {
  /** Address the sockets bind to (werift's ICE sockets too). */
  bindAddress: string
  /** Address written in c= lines and host candidates. */
  advertisedAddress: string
  /** True when the bind address is a wildcard (0.0.0.0 / ::): keep every host candidate. */
  wildcardBind: boolean
  /** Rewrite host candidates to this address (the driver's publicAddress). */
  publicAddress?: string
  iceServers: IceServerConfig[]
  /** Longest wait for ICE gathering before the SDP goes out with what is there. */
  gatheringTimeoutMs: number
  ports: RtpPortAllocator
  logger: Logger
}

/** The telephone-event payload type offered to legacy endpoints (the common convention). */
const LEGACY_TELEPHONE_EVENT_PT = 101
/** Legacy telephony packetisation: 20 ms frames (RFC 3551 §4.5: G.711 default). */
const PTIME = 20
/** Largest datagram the relay forwards. */
const MAX_PACKET = 1500
/**
 * One 20 ms frame of G.711 silence per law (ITU-T G.711: zero encodes as 0xFF in mu-law and
 * 0xD5 in A-law), sent in front of a telephone-event that starts in an audio gap.
 */
const SILENCE_SAMPLES = (8000 * PTIME) / 1000
const SILENCE_PCMU = Buffer.alloc(SILENCE_SAMPLES, 0xff)
const SILENCE_PCMA = Buffer.alloc(SILENCE_SAMPLES, 0xd5)

/** The offer waiting for its answer. */
type PendingOffer =
  | { from: 'webrtc'; sdp: string; description: AudioDescription; g711: AudioCodec[]; telephoneEvent?: AudioCodec }
  | { from: 'rtp'; description: AudioDescription; g711: AudioCodec[]; telephoneEvent?: AudioCodec }

/**
 * One anchored call. Create with {@link EmbeddedSession.open}; drive with {@link offer} and
 * {@link answer}; end with {@link close}. Calls are serialised per session.
 */
export class EmbeddedSession {
  /** Tag of the initial offerer and of the initial answerer (RFC 3261 dialog ends). */
  readonly tags: [string, string | undefined]

  private readonly log: Logger
  private pc: RTCPeerConnection | null = null
  private transceiver: RTCRtpTransceiver | null = null
  private dtls: RTCDtlsTransport | null = null
  private dtlsReady = false
  private readonly unsubscribes: Array<() => void> = []
  private closed = false
  private queue: Promise<unknown> = Promise.resolve()
  private pending: PendingOffer | null = null
  private lastAnswerOut: string | null = null
  private lastAnswerFrom: MediaProfile | null = null

  // Legacy leg -------------------------------------------------------------------------
  private sockets: RtpSocketPair | null = null
  /** Destination from the legacy SDP, replaced by the first packet's source (latching). */
  private legacyAddress = ''
  private legacyPort = 0
  private legacyLatched = false
  private legacyRtcpAddress = ''
  private legacyRtcpPort = 0
  private legacyRtcpLatched = false
  private legacyRtcpMux = false
  /** RFC 3264 §8.4: c=0.0.0.0 means "neither RTP nor RTCP should be sent to the peer". */
  private legacyHeld = false
  private legacyDirection: MediaDirection = 'inactive'
  private legacyTelephoneEventPt = LEGACY_TELEPHONE_EVENT_PT
  private readonly legacyOrigin = { id: randomSessionId(), version: 0 }

  // Browser leg ------------------------------------------------------------------------
  private browserDirection: MediaDirection = 'inactive'
  private readonly browserOrigin = { id: randomSessionId(), version: 0 }
  /** Codec names (upper case) negotiated on both legs, first = preferred. */
  private negotiated: string[] = []

  // Relay --------------------------------------------------------------------------------
  /** Payload type maps, indexed by the incoming payload type; -1 = drop. */
  private readonly browserToLegacyPt = new Int16Array(128).fill(-1)
  private readonly legacyToBrowserPt = new Int16Array(128).fill(-1)
  /** Browser payload types of the negotiated G.711 codecs: 1 = PCMU, 2 = PCMA, 0 = other. */
  private readonly browserG711Law = new Uint8Array(128)
  /** The browser's telephone-event payload type (-1: none negotiated). */
  private browserTelephoneEventPt = -1
  /** Browser payload type of the preferred G.711 codec, and of the last audio relayed. */
  private preferredBrowserAudioPt = -1
  private lastBrowserAudioPt = -1
  /** Puts a silence frame in front of events that start after the audio stopped. */
  private eventPrimer = new TelephoneEventPrimer()
  private forwardToLegacy = false
  private forwardToBrowser = false
  private readonly toLegacy = new RtpSequencer(randomSsrc())
  private toBrowser = new RtpSequencer(randomSsrc())
  private readonly legacyOut = Buffer.alloc(MAX_PACKET)
  /** Views of `legacyOut` by length, created once each (send() takes no length argument). */
  private readonly legacyOutViews: Buffer[] = []
  private readonly browserHeader = new RtpHeader({ version: 2 })
  /** Packets relayed, per direction (tests and metrics). */
  readonly counters = { toLegacy: 0, toBrowser: 0, rtcpToLegacy: 0, rtcpToBrowser: 0, silenceToBrowser: 0 }

  private constructor(
    readonly callId: string,
    offererTag: string,
    private readonly context: EmbeddedSessionContext,
  ) {
    this.tags = [offererTag, undefined]
    this.log = context.logger
  }

  /**
   * Creates a session with its RTP/RTCP pair bound.
   *
   * @throws MediaError 503 when the RTP port range is exhausted
   */
  static async open(callId: string, offererTag: string, context: EmbeddedSessionContext): Promise<EmbeddedSession> {
    const session = new EmbeddedSession(callId, offererTag, context)
    const pair = await context.ports.allocate(
      (data, port, address) => session.onLegacyRtp(data, port, address),
      (data, port, address) => session.onLegacyRtcp(data, port, address),
      (error) => session.log.debug('legacy socket error', { callId, error: error.message }),
    )
    if (!pair) throw new MediaError(503, 'no free RTP port in the configured range')
    session.sockets = pair
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
    return this.serialise(() => (from === 'webrtc' ? this.offerFromBrowser(sdp) : this.offerFromLegacy(sdp)))
  }

  /**
   * Handles an SDP answer from `from` and returns the SDP for the offerer.
   *
   * @throws MediaError 488 (answer shares no G.711 codec, stream rejected), 500
   */
  answer(from: MediaProfile, sdp: string): Promise<string> {
    return this.serialise(() => (from === 'rtp' ? this.answerFromLegacy(sdp) : this.answerFromBrowser(sdp)))
  }

  /** Closes the peer connection and the sockets. Idempotent; never throws. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.forwardToBrowser = false
    this.forwardToLegacy = false
    for (const unsubscribe of this.unsubscribes.splice(0)) {
      try {
        unsubscribe()
      } catch {}
    }
    if (this.sockets) {
      this.context.ports.release(this.sockets)
      this.sockets = null
    }
    const pc = this.pc
    this.pc = null
    this.transceiver = null
    this.dtls = null
    if (pc) {
      try {
        await pc.close()
      } catch (e) {
        this.log.debug('peer connection close failed', { callId: this.callId, error: String(e) })
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // Offer / answer
  // ---------------------------------------------------------------------------------------

  /** Browser -> legacy offer: remember the browser's SDP, show the legacy side a plain one. */
  private async offerFromBrowser(sdp: string): Promise<string> {
    const parsed = parseAudioSdp(sdp)
    if (!parsed.ok) throw new MediaError(488, `browser offer: ${parsed.reason}`)
    const description = parsed.value
    if (description.port === 0) throw new MediaError(488, 'browser offer: audio stream disabled (port 0)')
    const g711 = preferNegotiated(g711CodecsOf(description), this.negotiated)
    if (g711.length === 0) throw new MediaError(488, 'no common codec: the browser offered no G.711')
    const telephoneEvent = telephoneEventOf(description)
    this.pending = { from: 'webrtc', sdp, description, g711 }
    if (telephoneEvent) this.pending.telephoneEvent = telephoneEvent
    // RFC 3264 §8.4: the offerer's direction holds from now on (a sendonly offer = hold:
    // stop sending to the browser at once; receiving resumes only after the answer).
    this.browserDirection = description.direction
    this.updateForwarding()
    // RFC 3551 §6: PCMU and PCMA keep their static payload types on the legacy leg.
    const codecs: AudioCodec[] = g711.map((c) => ({ payloadType: c.name.toUpperCase() === 'PCMU' ? 0 : 8, name: c.name.toUpperCase(), clockRate: 8000 }))
    if (telephoneEvent) {
      codecs.push({ payloadType: this.legacyTelephoneEventPt, name: 'telephone-event', clockRate: 8000, fmtp: telephoneEvent.fmtp ?? '0-16' })
    }
    return this.legacySdp(codecs, description.direction, false)
  }

  /** Legacy answer to a browser offer: werift answers the (narrowed) browser offer. */
  private async answerFromLegacy(sdp: string): Promise<string> {
    const pending = this.pending
    if (!pending || pending.from !== 'webrtc') return this.repeatedAnswer('rtp', sdp)
    const parsed = parseAudioSdp(sdp)
    if (!parsed.ok) throw new MediaError(488, `legacy answer: ${parsed.reason}`)
    const legacy = parsed.value
    if (legacy.port === 0) throw new MediaError(488, 'legacy answer rejected the audio stream (port 0)')
    // RFC 3264 §6.1: the answer lists a subset of the offered formats; keep those that are
    // G.711 and were offered, in the answerer's preference order.
    const offeredNames = new Set(pending.g711.map((c) => c.name.toUpperCase()))
    const chosen = g711CodecsOf(legacy).filter((c) => offeredNames.has(c.name.toUpperCase()))
    if (chosen.length === 0) throw new MediaError(488, 'no common codec: the legacy answer has no offered G.711 codec')
    const legacyTe = pending.telephoneEvent ? telephoneEventOf(legacy) : undefined

    this.applyLegacyDescription(legacy)
    this.pending = null

    // Payload type maps (browser PT <-> legacy PT) for every codec both legs accepted.
    this.clearPayloadTypeMaps()
    const keep: number[] = []
    for (const codec of chosen) {
      const browserCodec = pending.g711.find((c) => c.name.toUpperCase() === codec.name.toUpperCase())!
      this.mapAudioPayloadTypes(browserCodec.payloadType, codec.payloadType, codec.name)
      keep.push(browserCodec.payloadType)
    }
    if (legacyTe && pending.telephoneEvent) {
      this.mapPayloadTypes(pending.telephoneEvent.payloadType, legacyTe.payloadType)
      this.browserTelephoneEventPt = pending.telephoneEvent.payloadType
      this.legacyTelephoneEventPt = legacyTe.payloadType
      keep.push(pending.telephoneEvent.payloadType)
    }
    this.negotiated = chosen.map((c) => c.name.toUpperCase())

    const pc = this.ensurePeerConnection(pending.g711, pending.telephoneEvent)
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: restrictAudioCodecs(pending.sdp, keep) })
      const transceiver = this.audioTransceiver(pc)
      // Preferences left by an earlier werift offer would narrow this answer: the narrowed
      // browser offer alone decides it.
      if (transceiver.codecPreferences) transceiver.setCodecPreferences([])
      // The far end's direction as seen from the browser is the legacy answer's direction;
      // never ask the browser to send to a legacy peer that is on RFC 2543 hold.
      transceiver.setDirection(this.legacyHeld ? withoutReceive(legacy.direction) : legacy.direction)
      this.attachTransport(transceiver)
      this.holdDtlsRole(pending.description.setup)
      const answer = await pc.createAnswer()
      await pc.setLocalDescription(answer)
      await this.gatheringComplete(pc)
    } catch (e) {
      throw asMediaError(e, 'werift could not answer the browser offer')
    }
    this.browserDirection = pending.description.direction
    this.updateForwarding()
    const out = this.browserSdp()
    this.lastAnswerOut = out
    this.lastAnswerFrom = 'rtp'
    return out
  }

  /** Legacy -> browser offer: werift offers the legacy's G.711 codecs. */
  private async offerFromLegacy(sdp: string): Promise<string> {
    const parsed = parseAudioSdp(sdp)
    if (!parsed.ok) throw new MediaError(488, `legacy offer: ${parsed.reason}`)
    const legacy = parsed.value
    if (legacy.port === 0) throw new MediaError(488, 'legacy offer: audio stream disabled (port 0)')
    const g711 = preferNegotiated(g711CodecsOf(legacy), this.negotiated)
    if (g711.length === 0) throw new MediaError(488, 'no common codec: the legacy offer has no G.711')
    const telephoneEvent = telephoneEventOf(legacy)
    this.pending = { from: 'rtp', description: legacy, g711 }
    if (telephoneEvent) this.pending.telephoneEvent = telephoneEvent
    this.applyLegacyDescription(legacy)
    this.updateForwarding()

    const pc = this.ensurePeerConnection(g711, telephoneEvent)
    // The legacy offer's direction, from the browser's point of view, is ours to offer.
    const direction = this.legacyHeld ? withoutReceive(legacy.direction) : legacy.direction
    try {
      let transceiver = this.transceiver
      if (!transceiver) {
        transceiver = pc.addTransceiver('audio', { direction })
        this.transceiver = transceiver
      } else {
        transceiver.setDirection(direction)
      }
      // Offer exactly the legacy side's G.711 codecs (its order) + telephone-event/8000.
      const preferences = g711.map((c) => codecParameters(c.name.toUpperCase(), c.name.toUpperCase() === 'PCMU' ? 0 : 8))
      if (telephoneEvent) preferences.push(codecParameters('telephone-event', telephoneEvent.payloadType))
      transceiver.setCodecPreferences(preferences)
      const offer = await pc.createOffer()
      await pc.setLocalDescription(offer)
      this.attachTransport(transceiver)
      await this.gatheringComplete(pc)
    } catch (e) {
      this.pending = null
      throw asMediaError(e, 'werift could not create an offer')
    }
    return this.browserSdp()
  }

  /** Browser answer to a legacy offer: werift applies it; the legacy side gets a plain answer. */
  private async answerFromBrowser(sdp: string): Promise<string> {
    const pending = this.pending
    if (!pending || pending.from !== 'rtp') return this.repeatedAnswer('webrtc', sdp)
    const parsed = parseAudioSdp(sdp)
    if (!parsed.ok) throw new MediaError(488, `browser answer: ${parsed.reason}`)
    const browser = parsed.value
    if (browser.port === 0) throw new MediaError(488, 'browser answer rejected the audio stream (port 0)')
    const offeredNames = new Set(pending.g711.map((c) => c.name.toUpperCase()))
    const chosen = g711CodecsOf(browser).filter((c) => offeredNames.has(c.name.toUpperCase()))
    if (chosen.length === 0) throw new MediaError(488, 'no common codec: the browser answer has no offered G.711 codec')
    const pc = this.pc
    if (!pc) throw new MediaError(500, 'no peer connection for the browser answer')
    try {
      // RFC 5763 §5: the browser (answerer) picked active or passive; werift takes the other
      // role (for Chrome: active, so the gateway is passive, design.md §8).
      await pc.setRemoteDescription({ type: 'answer', sdp })
    } catch (e) {
      throw asMediaError(e, 'werift rejected the browser answer')
    }
    this.pending = null
    this.clearPayloadTypeMaps()
    const legacyCodecs: AudioCodec[] = []
    for (const codec of chosen) {
      const legacyCodec = pending.g711.find((c) => c.name.toUpperCase() === codec.name.toUpperCase())!
      this.mapAudioPayloadTypes(codec.payloadType, legacyCodec.payloadType, codec.name)
      legacyCodecs.push(legacyCodec)
    }
    const browserTe = pending.telephoneEvent ? telephoneEventOf(browser) : undefined
    if (browserTe && pending.telephoneEvent) {
      this.mapPayloadTypes(browserTe.payloadType, pending.telephoneEvent.payloadType)
      this.browserTelephoneEventPt = browserTe.payloadType
      this.legacyTelephoneEventPt = pending.telephoneEvent.payloadType
      legacyCodecs.push(pending.telephoneEvent)
    }
    this.negotiated = chosen.map((c) => c.name.toUpperCase())
    this.browserDirection = browser.direction
    if (this.transceiver) this.attachTransport(this.transceiver)
    this.updateForwarding()
    const out = this.legacySdp(legacyCodecs, browser.direction, pending.description.rtcpMux)
    this.lastAnswerOut = out
    this.lastAnswerFrom = 'webrtc'
    return out
  }

  /**
   * A second answer to the same offer (a 2xx after an 18x with SDP): the negotiation is done,
   * so only a change of the legacy address or direction is taken; the other leg gets the
   * answer it already had.
   */
  private async repeatedAnswer(from: MediaProfile, sdp: string): Promise<string> {
    if (this.lastAnswerOut === null || this.lastAnswerFrom !== from) {
      throw new MediaError(500, `answer from the ${from} leg without a pending offer`)
    }
    const parsed = parseAudioSdp(sdp)
    if (parsed.ok && parsed.value.port !== 0) {
      if (from === 'rtp') this.applyLegacyDescription(parsed.value)
      else this.browserDirection = parsed.value.direction
      this.updateForwarding()
    }
    return this.lastAnswerOut
  }

  // ---------------------------------------------------------------------------------------
  // werift
  // ---------------------------------------------------------------------------------------

  /**
   * The peer connection, created on first use: audio only, max-bundle, rtcp-mux (werift
   * requires it), G.711 + telephone-event/8000 with the given payload types, no header
   * extensions, ICE host candidates on the bind address.
   */
  private ensurePeerConnection(g711: AudioCodec[], telephoneEvent: AudioCodec | undefined): RTCPeerConnection {
    if (this.pc) return this.pc
    // A task queued before close() must not leave a peer connection nobody will close.
    if (this.closed) throw new MediaError(500, 'media session closed')
    const ctx = this.context
    // Both G.711 laws are configured (the order of the first offer first), so that a later
    // re-negotiation may switch between them; offers are narrowed with codec preferences,
    // answers by the narrowed remote offer.
    const names = [...g711.map((c) => c.name.toUpperCase()), 'PCMU', 'PCMA'].filter((n, i, all) => all.indexOf(n) === i)
    const codecs = names.map((name) => codecParameters(name, name === 'PCMU' ? 0 : 8))
    codecs.push(codecParameters('telephone-event', telephoneEvent?.payloadType ?? LEGACY_TELEPHONE_EVENT_PT, telephoneEvent?.fmtp ?? '0-16'))
    const restrictHost = !ctx.wildcardBind
    const bindAddress = ctx.bindAddress
    const pc = new RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      codecs: { audio: codecs, video: [] },
      headerExtensions: { audio: [], video: [] },
      iceServers: ctx.iceServers,
      // werift leaves loopback (and other skipped interfaces) out unless named here; its
      // sockets bind to iceInterfaceAddresses.udp4.
      ...(restrictHost
        ? {
            iceAdditionalHostAddresses: [bindAddress],
            iceInterfaceAddresses: bindAddress.includes(':') ? { udp6: bindAddress } : { udp4: bindAddress },
            iceFilterCandidatePair: (pair: { localCandidate: { type: string; host: string } }) =>
              pair.localCandidate.type !== 'host' || pair.localCandidate.host === bindAddress,
          }
        : {}),
      iceUseIpv4: !bindAddress.includes(':') || ctx.wildcardBind,
      iceUseIpv6: bindAddress.includes(':'),
      iceUseTcp: false,
      iceStunGatherTimeout: Math.max(1, Math.ceil(ctx.gatheringTimeoutMs / 1000)),
    } as ConstructorParameters<typeof RTCPeerConnection>[0])
    const sub = pc.connectionStateChange.subscribe((state) => {
      this.log.debug('peer connection state', { callId: this.callId, state })
    })
    this.unsubscribes.push(() => sub.unSubscribe())
    this.pc = pc
    return pc
  }

  /** The audio transceiver (created by werift from the browser's offer, or by us). */
  private audioTransceiver(pc: RTCPeerConnection): RTCRtpTransceiver {
    const transceiver = this.transceiver ?? pc.getTransceivers().find((t) => t.kind === 'audio' && !t.stopped)
    if (!transceiver) throw new MediaError(500, 'werift made no audio transceiver')
    this.transceiver = transceiver
    return transceiver
  }

  /**
   * RFC 5763 §5: "The endpoint that is the offerer MUST use the setup attribute value of
   * setup:actpass and be prepared to receive a client_hello before it receives the answer.
   * The answerer MUST use either a setup attribute value of setup:active or setup:passive."
   *
   * werift, as answerer, picks active. The gateway answers passive instead (design.md §8:
   * the gateway side stays passive, so the role survives re-INVITEs from either side: a
   * later werift offer then says a=setup:passive, and a later werift answer keeps it). Only
   * a browser that offers passive itself makes the gateway active. The role is fixed before
   * the first handshake and never changed afterwards.
   */
  private holdDtlsRole(remoteSetup: string | undefined): void {
    const dtls = this.transceiver?.dtlsTransport
    if (!dtls || dtls.state !== 'new') return
    dtls.role = remoteSetup === 'passive' ? 'client' : 'server'
  }

  /** Subscribes the relay to the transceiver's DTLS transport (once per transport). */
  private attachTransport(transceiver: RTCRtpTransceiver): void {
    let dtls: RTCDtlsTransport
    try {
      dtls = transceiver.dtlsTransport
    } catch {
      return
    }
    if (!dtls || dtls === this.dtls) return
    this.dtls = dtls
    this.dtlsReady = dtls.state === 'connected'
    // The browser-facing SSRC is the one werift announces in a=ssrc.
    if (this.toBrowser.ssrc !== transceiver.sender.ssrc) {
      this.toBrowser = new RtpSequencer(transceiver.sender.ssrc)
      this.eventPrimer = new TelephoneEventPrimer()
    }
    const state = dtls.onStateChange.subscribe((s) => {
      this.dtlsReady = s === 'connected'
      this.log.debug('dtls state', { callId: this.callId, state: s, role: dtls.role })
    })
    const rtp = dtls.onRtp.subscribe((packet) => this.onBrowserRtp(packet))
    const rtcp = dtls.onRtcp.subscribe((packet) => this.onBrowserRtcp(packet))
    this.unsubscribes.push(
      () => state.unSubscribe(),
      () => rtp.unSubscribe(),
      () => rtcp.unSubscribe(),
    )
  }

  /** Waits until werift finished gathering (host candidates: a few ms), or the timeout. */
  private async gatheringComplete(pc: RTCPeerConnection): Promise<void> {
    if (pc.iceGatheringState === 'complete') return
    let timer: ReturnType<typeof setTimeout> | undefined
    let sub: { unSubscribe: () => void } | undefined
    try {
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.context.gatheringTimeoutMs)
        sub = pc.iceGatheringStateChange.subscribe((state) => {
          if (state === 'complete') resolve()
        })
        if (pc.iceGatheringState === 'complete') resolve()
      })
    } finally {
      clearTimeout(timer)
      sub?.unSubscribe()
    }
  }

  /**
   * werift's local description, made presentable: host candidates limited to the bind
   * address (and rewritten to publicAddress when set), the default candidate in c= and m=
   * (RFC 5245 §4.3: the default destination for media), and our own o= line whose version grows with
   * each description (RFC 4566 §5.2, RFC 3264 §8).
   */
  private browserSdp(): string {
    const local = this.pc?.localDescription?.sdp
    if (!local) throw new MediaError(500, 'werift produced no local description')
    const ctx = this.context
    const lines = local.split(/\r?\n/).filter((l) => l !== '')
    const out: string[] = []
    let defaultAddress = ''
    let defaultPort = 0
    for (const line of lines) {
      if (line.startsWith('a=candidate:')) {
        const parts = line.split(' ')
        const type = parts[7]
        if (type === 'host') {
          if (!ctx.wildcardBind && parts[4] !== ctx.bindAddress) continue
          if (ctx.publicAddress) parts[4] = ctx.publicAddress
        }
        if (!defaultPort && parts[2]?.toLowerCase() === 'udp') {
          defaultAddress = parts[4]!
          defaultPort = Number(parts[5])
        }
        out.push(parts.join(' '))
        continue
      }
      out.push(line)
    }
    const address = defaultAddress || ctx.advertisedAddress
    const ipVer = address.includes(':') ? 'IP6' : 'IP4'
    this.browserOrigin.version++
    return (
      out
        .map((line) => {
          if (line.startsWith('o=')) return `o=- ${this.browserOrigin.id} ${this.browserOrigin.version} IN ${ipVer} ${address}`
          if (line.startsWith('c=IN ')) return `c=IN ${ipVer} ${address}`
          if (defaultPort && line.startsWith('m=audio 9 ')) return `m=audio ${defaultPort} ${line.slice('m=audio 9 '.length)}`
          if (defaultPort && line.startsWith('a=rtcp:9 ')) return `a=rtcp:${defaultPort} IN ${ipVer} ${address}`
          return line
        })
        .join('\r\n') + '\r\n'
    )
  }

  // ---------------------------------------------------------------------------------------
  // Legacy leg
  // ---------------------------------------------------------------------------------------

  private legacySdp(codecs: AudioCodec[], direction: MediaDirection, rtcpMux: boolean): string {
    this.legacyOrigin.version++
    return buildPlainAudioSdp({
      sessionId: this.legacyOrigin.id,
      sessionVersion: this.legacyOrigin.version,
      address: this.context.advertisedAddress,
      port: this.rtpPort,
      codecs,
      direction,
      ptime: PTIME,
      rtcpMux,
    })
  }

  /** Takes address, port, RTCP and direction from a legacy offer or answer. */
  private applyLegacyDescription(legacy: AudioDescription): void {
    // RFC 3264 §8.4: "An agent MUST be capable of receiving SDP with a connection address of
    // 0.0.0.0, in which case it means that neither RTP nor RTCP should be sent to the peer."
    this.legacyHeld = legacy.address === '0.0.0.0' || legacy.address === '::'
    if (!this.legacyHeld && (legacy.address !== this.legacyAddress || legacy.port !== this.legacyPort)) {
      // A new destination from signalling: learn the source again from its first packet.
      this.legacyAddress = legacy.address
      this.legacyPort = legacy.port
      this.legacyLatched = false
      this.legacyRtcpAddress = legacy.rtcpAddress === '0.0.0.0' ? legacy.address : legacy.rtcpAddress
      this.legacyRtcpPort = legacy.rtcpPort
      this.legacyRtcpLatched = false
    }
    this.legacyRtcpMux = legacy.rtcpMux
    this.legacyDirection = legacy.direction
  }

  private mapPayloadTypes(browserPt: number, legacyPt: number): void {
    this.browserToLegacyPt[browserPt & 0x7f] = legacyPt
    this.legacyToBrowserPt[legacyPt & 0x7f] = browserPt
  }

  /** Maps a G.711 codec; the first one mapped is the preferred one. */
  private mapAudioPayloadTypes(browserPt: number, legacyPt: number, name: string): void {
    this.mapPayloadTypes(browserPt, legacyPt)
    this.browserG711Law[browserPt & 0x7f] = name.toUpperCase() === 'PCMU' ? 1 : 2
    if (this.preferredBrowserAudioPt < 0) this.preferredBrowserAudioPt = browserPt & 0x7f
  }

  /** Forgets every payload type mapping (before a new answer sets them). */
  private clearPayloadTypeMaps(): void {
    this.browserToLegacyPt.fill(-1)
    this.legacyToBrowserPt.fill(-1)
    this.browserG711Law.fill(0)
    this.browserTelephoneEventPt = -1
    this.preferredBrowserAudioPt = -1
    this.lastBrowserAudioPt = -1
  }

  /**
   * RFC 3264 §5.1: "If the offerer wishes to only send media on a stream to its peer, it
   * MUST mark the stream as sendonly with the "a=sendonly" attribute. If the offerer wishes
   * to only receive media from its peer, it MUST mark the stream as recvonly. If the offerer
   * wishes to communicate, but wishes to neither send nor receive media at this time, it
   * MUST mark the stream with an "a=inactive" attribute." RFC 3264 §8.4 (hold): "If the
   * stream to be placed on hold was previously a sendrecv media stream, it is placed on hold
   * by marking it as sendonly."
   *
   * A direction of the relay forwards only while its source says it sends and its sink says
   * it receives (and, for the legacy sink, has an address other than 0.0.0.0). When
   * forwarding resumes, the outgoing stream re-anchors its timestamps (see RtpSequencer).
   */
  private updateForwarding(): void {
    const toLegacy = sends(this.browserDirection) && receives(this.legacyDirection) && !this.legacyHeld && this.legacyPort !== 0
    const toBrowser = sends(this.legacyDirection) && receives(this.browserDirection)
    if (toLegacy && !this.forwardToLegacy) this.toLegacy.resync()
    if (toBrowser && !this.forwardToBrowser) this.toBrowser.resync()
    if (toLegacy !== this.forwardToLegacy || toBrowser !== this.forwardToBrowser) {
      this.log.debug('relay directions', { callId: this.callId, toLegacy, toBrowser })
    }
    this.forwardToLegacy = toLegacy
    this.forwardToBrowser = toBrowser
  }

  // ---------------------------------------------------------------------------------------
  // The relay (hot path: no logging, no allocation of our own)
  // ---------------------------------------------------------------------------------------

  /**
   * browser -> legacy: one decrypted RTP packet from werift. RFC 3550 §5.1 fields written
   * anew: V=2, no padding/extension/CSRC (the browser's header extensions stay on the
   * WebRTC leg), the mapped payload type, the gateway's SSRC, continuous sequence number and
   * timestamp (RtpSequencer); marker kept, or set on the first packet after a re-anchor.
   */
  private onBrowserRtp(packet: RtpPacket): void {
    if (!this.forwardToLegacy) return
    const header = packet.header
    const legacyPt = this.browserToLegacyPt[header.payloadType & 0x7f]!
    if (legacyPt < 0) return
    const payload = packet.payload
    const length = RTP_HEADER_LENGTH + payload.length
    if (length > MAX_PACKET) return
    const seq = this.toLegacy
    seq.map(header.ssrc, header.sequenceNumber, header.timestamp, header.marker, performance.now())
    const out = this.legacyOut
    writeRtpHeader(out, 0, legacyPt, seq.marker, seq.sequenceNumber, seq.timestamp, seq.ssrc)
    out.set(payload, RTP_HEADER_LENGTH)
    let view = this.legacyOutViews[length]
    if (view === undefined) {
      view = out.subarray(0, length)
      this.legacyOutViews[length] = view
    }
    if (this.sendToLegacy(this.sockets?.rtp, view, this.legacyPort, this.legacyAddress)) this.counters.toLegacy++
  }

  /**
   * legacy -> browser: one datagram on the RTP port.
   *
   * RFC 4733 §2.3 telephone-event packets take the same path as audio: only their payload
   * type is mapped (e.g. 101 -> the browser's 126); the payload is relayed untouched, and
   * since events share the audio stream's SSRC, sequence numbers and timestamp base, the
   * same RtpSequencer keeps an event's packets on their common start timestamp. An event
   * that starts in a gap of the audio gets a silence frame first ({@link sendSilenceBefore}).
   *
   *     0                   1                   2                   3
   *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
   *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   *    |     event     |E|R| volume    |          duration             |
   *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
   */
  private onLegacyRtp(data: Buffer, port: number, address: string): void {
    const length = data.length
    // RFC 5761 §4: RTCP multiplexed on the RTP port is told apart by its packet type.
    if (isRtcpPacket(data, length)) {
      this.onLegacyRtcp(data, port, address)
      return
    }
    const bounds = rtpPayloadBounds(data, length)
    if (bounds < 0) return
    // Symmetric RTP: the first packet's source becomes the destination; afterwards packets
    // from elsewhere are dropped (until the SDP names a new address).
    if (!this.legacyLatched) {
      if (this.legacyHeld) return
      this.legacyAddress = address
      this.legacyPort = port
      this.legacyLatched = true
    } else if (port !== this.legacyPort || address !== this.legacyAddress) {
      return
    }
    if (!this.forwardToBrowser || !this.dtlsReady) return
    const browserPt = this.legacyToBrowserPt[rtpPayloadType(data)]!
    if (browserPt < 0) return
    const dtls = this.dtls
    if (!dtls) return
    const seq = this.toBrowser
    seq.map(rtpSsrc(data), rtpSequenceNumber(data), rtpTimestamp(data), rtpMarker(data), performance.now())
    const header = this.browserHeader
    const payloadOffset = payloadOffsetOf(bounds)
    const payloadEnd = payloadEndOf(bounds)
    if (browserPt === this.browserTelephoneEventPt) {
      if (this.eventPrimer.startsInAudioGap(seq.timestamp)) this.sendSilenceBefore(dtls, seq)
    } else {
      // G.711: one octet per sample.
      this.eventPrimer.audioSent(seq.timestamp, payloadEnd - payloadOffset)
      this.lastBrowserAudioPt = browserPt
    }
    header.payloadType = browserPt
    header.marker = seq.marker
    header.sequenceNumber = seq.sequenceNumber
    header.timestamp = seq.timestamp
    header.ssrc = seq.ssrc
    // werift encrypts synchronously (its SrtpSession copies the payload) and only then awaits
    // the ICE send; sendRtp catches its own failures.
    void dtls.sendRtp(data.subarray(payloadOffset, payloadEnd), header)
    this.counters.toBrowser++
  }

  /**
   * Sends one 20 ms G.711 silence frame to the browser with the timestamp of the packet the
   * sequencer mapped last (an RFC 4733 event start) and that packet's sequence number, which
   * moves one up (RtpSequencer.insertBefore). The frame carries the marker bit, RFC 3551
   * §4.1: "the first packet of a talkspurt". Chromium's NetEq then leaves its muted state and
   * plays the event (see TelephoneEventPrimer). Uses the codec of the last audio relayed, else
   * the preferred one.
   */
  private sendSilenceBefore(dtls: RTCDtlsTransport, seq: RtpSequencer): void {
    const pt = this.lastBrowserAudioPt >= 0 ? this.lastBrowserAudioPt : this.preferredBrowserAudioPt
    if (pt < 0) return
    const law = this.browserG711Law[pt]
    if (law === 0) return
    const header = this.browserHeader
    header.payloadType = pt
    header.marker = true
    header.sequenceNumber = seq.insertBefore()
    header.timestamp = seq.timestamp
    header.ssrc = seq.ssrc
    void dtls.sendRtp(law === 1 ? SILENCE_PCMU : SILENCE_PCMA, header)
    this.eventPrimer.audioSent(seq.timestamp, SILENCE_SAMPLES)
    this.counters.silenceToBrowser++
  }

  /** legacy RTCP (port + 1, or muxed): sender reports are translated to the browser. */
  private onLegacyRtcp(data: Buffer, port: number, address: string): void {
    if (!this.legacyRtcpLatched && !this.legacyHeld) {
      this.legacyRtcpAddress = address
      this.legacyRtcpPort = port
      this.legacyRtcpLatched = true
    }
    const dtls = this.dtls
    if (!dtls || !this.dtlsReady || this.toBrowser.inputSsrc < 0) return
    let packets: RtcpPacket[]
    try {
      packets = RtcpPacketConverter.deSerialize(data)
    } catch {
      return
    }
    for (const packet of packets) {
      if (packet.type !== RtcpSrPacket.type) continue
      const sr = packet as RtcpSrPacket
      if (sr.ssrc !== this.toBrowser.inputSsrc) continue
      const translated = new RtcpSrPacket({
        ssrc: this.toBrowser.ssrc,
        senderInfo: new RtcpSenderInfo({
          ntpTimestamp: sr.senderInfo.ntpTimestamp,
          rtpTimestamp: this.toBrowser.mapTimestamp(sr.senderInfo.rtpTimestamp),
          packetCount: sr.senderInfo.packetCount,
          octetCount: sr.senderInfo.octetCount,
        }),
        reports: [],
      })
      dtls.sendRtcp([translated]).catch(() => {})
      this.counters.rtcpToBrowser++
    }
  }

  /** browser RTCP (via werift): SR/RR translated to the legacy side. */
  private onBrowserRtcp(packet: RtcpPacket): void {
    if (this.legacyHeld || !this.legacyRtcpPort || this.toLegacy.inputSsrc < 0) return
    let translated: RtcpSrPacket | RtcpRrPacket | null = null
    if (packet.type === RtcpSrPacket.type) {
      const sr = packet as RtcpSrPacket
      if (sr.ssrc !== this.toLegacy.inputSsrc) return
      translated = new RtcpSrPacket({
        ssrc: this.toLegacy.ssrc,
        senderInfo: new RtcpSenderInfo({
          ntpTimestamp: sr.senderInfo.ntpTimestamp,
          rtpTimestamp: this.toLegacy.mapTimestamp(sr.senderInfo.rtpTimestamp),
          packetCount: sr.senderInfo.packetCount,
          octetCount: sr.senderInfo.octetCount,
        }),
        reports: this.translateReports(sr.reports),
      })
    } else if (packet.type === RtcpRrPacket.type) {
      const reports = this.translateReports((packet as RtcpRrPacket).reports)
      if (reports.length === 0) return
      translated = new RtcpRrPacket({ ssrc: this.toLegacy.ssrc, reports })
    }
    if (!translated) return
    const sdes = new RtcpSourceDescriptionPacket({
      chunks: [new SourceDescriptionChunk({ source: this.toLegacy.ssrc, items: [new SourceDescriptionItem({ type: 1, text: `patchbay-${this.toLegacy.ssrc.toString(16)}` })] })],
    })
    const compound = Buffer.concat([translated.serialize(), sdes.serialize()])
    const socket = this.legacyRtcpMux ? this.sockets?.rtp : this.sockets?.rtcp
    if (this.sendToLegacy(socket, compound, this.legacyRtcpPort, this.legacyRtcpAddress)) this.counters.rtcpToLegacy++
  }

  /** Report blocks about our browser-facing stream, re-addressed to the legacy source. */
  private translateReports(reports: RtcpReceiverInfo[]): RtcpReceiverInfo[] {
    const out: RtcpReceiverInfo[] = []
    const stream = this.toBrowser
    if (stream.inputSsrc < 0) return out
    for (const r of reports) {
      if (r.ssrc !== stream.ssrc) continue
      const cycles = r.highestSequence - (r.highestSequence & 0xffff)
      out.push(
        new RtcpReceiverInfo({
          ssrc: stream.inputSsrc,
          fractionLost: r.fractionLost,
          packetsLost: r.packetsLost,
          highestSequence: cycles + stream.unmapSequenceNumber(r.highestSequence & 0xffff),
          jitter: r.jitter,
          lsr: r.lsr,
          dlsr: r.dlsr,
        }),
      )
    }
    return out
  }

  /**
   * Sends one datagram to the legacy side. Bun throws when an ICMP port-unreachable from an
   * earlier send is pending on the socket (the error is consumed by that throw), so one retry
   * sends this datagram.
   */
  private sendToLegacy(socket: RtpSocketPair['rtp'] | undefined, data: Uint8Array, port: number, address: string): boolean {
    if (!socket || !port || socket.closed) return false
    try {
      return socket.send(data, port, address)
    } catch {
      try {
        return socket.send(data, port, address)
      } catch {
        return false
      }
    }
  }

  private serialise<T>(task: () => Promise<T>): Promise<T> {
    const guarded = () => (this.closed ? Promise.reject(new MediaError(500, 'media session closed')) : task())
    const run = this.queue.then(guarded, guarded)
    this.queue = run.catch(() => {})
    return run
  }
}

/** werift codec parameters for PCMU, PCMA or telephone-event, all at 8000 Hz mono. */
function codecParameters(name: string, payloadType: number, fmtp?: string): RTCRtpCodecParameters {
  const params = new RTCRtpCodecParameters({ mimeType: `audio/${name}`, clockRate: 8000, payloadType })
  if (name !== 'telephone-event') params.channels = 1
  else if (fmtp) params.parameters = fmtp
  return params
}

/** Puts the codecs already negotiated first (a re-offer keeps the running codec preferred). */
function preferNegotiated(codecs: AudioCodec[], negotiated: string[]): AudioCodec[] {
  if (negotiated.length === 0) return codecs
  const rank = (c: AudioCodec) => {
    const i = negotiated.indexOf(c.name.toUpperCase())
    return i < 0 ? negotiated.length : i
  }
  return [...codecs].sort((a, b) => rank(a) - rank(b))
}

function asMediaError(e: unknown, context: string): MediaError {
  if (e instanceof MediaError) return e
  return new MediaError(500, `${context}: ${e instanceof Error ? e.message : String(e)}`)
}

/** A random 32-bit SSRC (RFC 3550 §8: chosen randomly). */
function randomSsrc(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! >>> 0
}

/** o= sess-id: digits (RFC 4566 §5.2 suggests an NTP timestamp; any unique number will do). */
function randomSessionId(): string {
  return String(crypto.getRandomValues(new Uint32Array(1))[0]! + 1)
}

/**
 * The media relay of one anchored call: RTP between werift's DTLS-SRTP transport towards the
 * browser and the plain RTP/RTCP socket pair towards the legacy endpoint (RFC 3550 §7: the
 * gateway acts as a translator that re-originates each stream).
 *
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
 *   RtpPacket parsing); both stop while the SDP directions say the stream is on hold
 *   ({@link RtpRelay.setForwarding}).
 * - RTCP of both legs goes through an RtcpTranslator; the relay latches the legacy RTCP
 *   source and sends what the translator returns.
 *
 * What to relay (payload type maps, destinations, directions) is set by the offer/answer
 * code (OfferAnswerNegotiator) between packets; the relay itself never parses SDP.
 */
import { RtpHeader, type RTCDtlsTransport, type RTCRtpTransceiver, type RtcpPacket, type RtpPacket } from 'werift'
import type { Logger } from '../../base/log.ts'
import type { AudioDescription } from './audio-sdp.ts'
import { RtcpTranslator, type RelayedStreams } from './rtcp-translator.ts'
import { isRtcpPacket, payloadEndOf, payloadOffsetOf, rtpMarker, rtpPayloadBounds, rtpPayloadType, rtpSequenceNumber, rtpSsrc, rtpTimestamp, writeRtpHeader, RTP_HEADER_LENGTH } from './rtp-packet.ts'
import type { RtpSocketPair } from './rtp-port-allocator.ts'
import { RtpSequencer } from './rtp-sequencer.ts'
import { TelephoneEventPrimer } from './telephone-event-primer.ts'

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

/**
 * Relays G.711 + RFC 4733 telephone-event RTP (and translated RTCP) between the two legs of
 * one call. Wire {@link onLegacyRtp} / {@link onLegacyRtcp} to the legacy socket pair and
 * call {@link attachTransport} with werift's audio transceiver; nothing flows until
 * {@link setForwarding} allows a direction. Handlers never throw.
 */
export class RtpRelay implements RelayedStreams {
  /** Packets relayed, per direction (tests and metrics). */
  readonly counters = { toLegacy: 0, toBrowser: 0, rtcpToLegacy: 0, rtcpToBrowser: 0, silenceToBrowser: 0 }

  private sockets: RtpSocketPair | null = null

  // Legacy leg -------------------------------------------------------------------------
  /** Destination from the legacy SDP, replaced by the first packet's source (latching). */
  private legacyAddress = ''
  private legacyPort = 0
  private legacyLatched = false
  private legacyRtcpAddress = ''
  private legacyRtcpPort = 0
  private legacyRtcpLatched = false
  private legacyRtcpMux = false
  /** RFC 3264 §8.4: c=0.0.0.0 means "neither RTP nor RTCP should be sent to the peer". */
  private held = false

  // Browser leg ------------------------------------------------------------------------
  private dtls: RTCDtlsTransport | null = null
  private dtlsReady = false
  private readonly unsubscribes: Array<() => void> = []

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
  private readonly legacyStream = new RtpSequencer(randomSsrc())
  private browserStream = new RtpSequencer(randomSsrc())
  private readonly legacyOut = Buffer.alloc(MAX_PACKET)
  /** Views of `legacyOut` by length, created once each (send() takes no length argument). */
  private readonly legacyOutViews: Buffer[] = []
  private readonly browserHeader = new RtpHeader({ version: 2 })
  private readonly rtcp: RtcpTranslator = new RtcpTranslator(this)

  /** @param callId for the debug logs (direction and DTLS state changes only) */
  constructor(
    private readonly callId: string,
    private readonly log: Logger,
  ) {}

  /** The gateway -> legacy stream (RFC 3550 §5.1 SSRC, sequence number, timestamp mapping). */
  get toLegacy(): RtpSequencer {
    return this.legacyStream
  }

  /** The gateway -> browser stream; re-created when werift announces another sender SSRC. */
  get toBrowser(): RtpSequencer {
    return this.browserStream
  }

  /** True while the legacy SDP says c=0.0.0.0 (RFC 2543 hold): nothing is sent there. */
  get legacyHeld(): boolean {
    return this.held
  }

  /** The legacy-facing RTP port (RTCP is this + 1), 0 before {@link useSockets}. */
  get rtpPort(): number {
    return this.sockets?.rtpPort ?? 0
  }

  /** The legacy socket pair to send from (its datagrams go to onLegacyRtp / onLegacyRtcp). */
  useSockets(pair: RtpSocketPair): void {
    this.sockets = pair
  }

  /** Takes address, port and RTCP destination from a legacy offer or answer. */
  setLegacyDestination(legacy: AudioDescription): void {
    // RFC 3264 §8.4: "An agent MUST be capable of receiving SDP with a connection address of
    // 0.0.0.0, in which case it means that neither RTP nor RTCP should be sent to the peer."
    this.held = legacy.address === '0.0.0.0' || legacy.address === '::'
    if (!this.held && (legacy.address !== this.legacyAddress || legacy.port !== this.legacyPort)) {
      // A new destination from signalling: learn the source again from its first packet.
      this.legacyAddress = legacy.address
      this.legacyPort = legacy.port
      this.legacyLatched = false
      this.legacyRtcpAddress = legacy.rtcpAddress === '0.0.0.0' ? legacy.address : legacy.rtcpAddress
      this.legacyRtcpPort = legacy.rtcpPort
      this.legacyRtcpLatched = false
    }
    this.legacyRtcpMux = legacy.rtcpMux
  }

  /**
   * Turns each direction on or off, as the SDP directions of both legs allow (the caller
   * decides from RFC 3264 §5.1 / §8.4 sendonly, recvonly, inactive). Browser -> legacy runs
   * only while the legacy destination also is known and not 0.0.0.0. When a direction
   * resumes, its outgoing stream re-anchors its timestamps (see RtpSequencer), so sequence
   * numbers and timestamps stay continuous across hold.
   */
  setForwarding(browserToLegacy: boolean, legacyToBrowser: boolean): void {
    const toLegacy = browserToLegacy && !this.held && this.legacyPort !== 0
    const toBrowser = legacyToBrowser
    if (toLegacy && !this.forwardToLegacy) this.legacyStream.resync()
    if (toBrowser && !this.forwardToBrowser) this.browserStream.resync()
    if (toLegacy !== this.forwardToLegacy || toBrowser !== this.forwardToBrowser) {
      this.log.debug('relay directions', { callId: this.callId, toLegacy, toBrowser })
    }
    this.forwardToLegacy = toLegacy
    this.forwardToBrowser = toBrowser
  }

  /** Forgets every payload type mapping (before a new answer sets them). */
  clearPayloadTypes(): void {
    this.browserToLegacyPt.fill(-1)
    this.legacyToBrowserPt.fill(-1)
    this.browserG711Law.fill(0)
    this.browserTelephoneEventPt = -1
    this.preferredBrowserAudioPt = -1
    this.lastBrowserAudioPt = -1
  }

  /** Maps a G.711 codec (`name` PCMU or PCMA); the first one mapped is the preferred one. */
  mapAudioPayloadTypes(browserPt: number, legacyPt: number, name: string): void {
    this.mapPayloadTypes(browserPt, legacyPt)
    this.browserG711Law[browserPt & 0x7f] = name.toUpperCase() === 'PCMU' ? 1 : 2
    if (this.preferredBrowserAudioPt < 0) this.preferredBrowserAudioPt = browserPt & 0x7f
  }

  /** Maps the RFC 4733 telephone-event/8000 payload types of both legs. */
  mapTelephoneEventPayloadTypes(browserPt: number, legacyPt: number): void {
    this.mapPayloadTypes(browserPt, legacyPt)
    this.browserTelephoneEventPt = browserPt
  }

  /** Subscribes the relay to the transceiver's DTLS transport (once per transport). */
  attachTransport(transceiver: RTCRtpTransceiver): void {
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
    if (this.browserStream.ssrc !== transceiver.sender.ssrc) {
      this.browserStream = new RtpSequencer(transceiver.sender.ssrc)
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

  /** Stops both directions and lets go of the transport and sockets. Never throws. */
  close(): void {
    this.forwardToBrowser = false
    this.forwardToLegacy = false
    for (const unsubscribe of this.unsubscribes.splice(0)) {
      try {
        unsubscribe()
      } catch {}
    }
    this.sockets = null
    this.dtls = null
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
    const seq = this.legacyStream
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
   * legacy -> browser: one datagram on the RTP port (RFC 3550 §5.1 header, RFC 5761 muxed
   * RTCP passed on to {@link onLegacyRtcp}). Never throws.
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
  onLegacyRtp(data: Buffer, port: number, address: string): void {
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
      if (this.held) return
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
    const seq = this.browserStream
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

  /**
   * legacy RTCP (port + 1, or RFC 5761-muxed): the first datagram's source is latched as the
   * RTCP destination; sender reports are translated to the browser (RtcpTranslator). Never
   * throws.
   */
  onLegacyRtcp(data: Buffer, port: number, address: string): void {
    if (!this.legacyRtcpLatched && !this.held) {
      this.legacyRtcpAddress = address
      this.legacyRtcpPort = port
      this.legacyRtcpLatched = true
    }
    const dtls = this.dtls
    if (!dtls || !this.dtlsReady || this.browserStream.inputSsrc < 0) return
    for (const translated of this.rtcp.fromLegacy(data)) {
      dtls.sendRtcp([translated]).catch(() => {})
      this.counters.rtcpToBrowser++
    }
  }

  /**
   * browser RTCP (via werift): SR/RR translated to the legacy RTCP address (RTP port + 1, or
   * the RTP port with rtcp-mux).
   */
  private onBrowserRtcp(packet: RtcpPacket): void {
    if (this.held || !this.legacyRtcpPort || this.legacyStream.inputSsrc < 0) return
    const compound = this.rtcp.fromBrowser(packet)
    if (!compound) return
    const socket = this.legacyRtcpMux ? this.sockets?.rtp : this.sockets?.rtcp
    if (this.sendToLegacy(socket, compound, this.legacyRtcpPort, this.legacyRtcpAddress)) this.counters.rtcpToLegacy++
  }

  private mapPayloadTypes(browserPt: number, legacyPt: number): void {
    this.browserToLegacyPt[browserPt & 0x7f] = legacyPt
    this.legacyToBrowserPt[legacyPt & 0x7f] = browserPt
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
}

/** A random 32-bit SSRC (RFC 3550 §8: chosen randomly). */
function randomSsrc(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]! >>> 0
}

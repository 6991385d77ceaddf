/**
 * SDP offer/answer (RFC 3264) for the two legs of one anchored call: the browser's
 * (UDP/TLS/RTP/SAVPF, through werift) and the legacy endpoint's (plain RTP/AVP).
 *
 * Offer/answer runs through here in four shapes, all on the same session:
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
 * Each completed exchange sets the relay up: payload type maps for every codec both legs
 * accepted, the legacy destination, and which directions may flow.
 */
import type { MediaProfile } from '../media-driver.ts'
import { MediaError } from '../media-driver.ts'
import {
  buildPlainAudioSdp,
  g711CodecsOf,
  parseAudioSdp,
  receives,
  sends,
  telephoneEventOf,
  withoutReceive,
  type AudioCodec,
  type AudioDescription,
  type MediaDirection,
} from './audio-sdp.ts'
import type { BrowserPeerConnection, SdpOrigin } from './browser-peer-connection.ts'
import type { RtpRelay } from './rtp-relay.ts'

/** The telephone-event payload type offered to legacy endpoints (the common convention). */
const LEGACY_TELEPHONE_EVENT_PT = 101
/** Legacy telephony packetisation: 20 ms frames (RFC 3551 §4.5: G.711 default). */
const PTIME = 20

/** The offer waiting for its answer. */
type PendingOffer =
  | { from: 'webrtc'; sdp: string; description: AudioDescription; g711: AudioCodec[]; telephoneEvent?: AudioCodec }
  | { from: 'rtp'; description: AudioDescription; g711: AudioCodec[]; telephoneEvent?: AudioCodec }

/**
 * Turns each SDP offer or answer from one leg into the SDP for the other leg, and configures
 * the relay and werift accordingly. Not reentrant: the caller serialises calls
 * (EmbeddedSession does).
 */
export class OfferAnswerNegotiator {
  private pending: PendingOffer | null = null
  private lastAnswerOut: string | null = null
  private lastAnswerFrom: MediaProfile | null = null

  private legacyDirection: MediaDirection = 'inactive'
  private legacyTelephoneEventPt = LEGACY_TELEPHONE_EVENT_PT
  private readonly legacyOrigin: SdpOrigin = { id: randomSessionId(), version: 0 }

  private browserDirection: MediaDirection = 'inactive'
  private readonly browserOrigin: SdpOrigin = { id: randomSessionId(), version: 0 }
  /** Codec names (upper case) negotiated on both legs, first = preferred. */
  private negotiated: string[] = []

  /**
   * @param advertisedAddress the address written in the legacy SDP's c= line
   */
  constructor(
    private readonly relay: RtpRelay,
    private readonly peer: BrowserPeerConnection,
    private readonly advertisedAddress: string,
  ) {}

  /**
   * Handles an SDP offer from `from` and returns the SDP for the other leg.
   *
   * @throws MediaError 488 (no G.711 in the offer, stream disabled), 500 (werift failure)
   */
  offer(from: MediaProfile, sdp: string): Promise<string> {
    return from === 'webrtc' ? this.offerFromBrowser(sdp) : this.offerFromLegacy(sdp)
  }

  /**
   * Handles an SDP answer from `from` and returns the SDP for the offerer. A second answer
   * to the same offer (18x then 2xx) returns the SDP already given.
   *
   * @throws MediaError 488 (answer shares no G.711 codec, stream rejected), 500 (no pending
   *   offer, werift failure)
   */
  answer(from: MediaProfile, sdp: string): Promise<string> {
    return from === 'rtp' ? this.answerFromLegacy(sdp) : this.answerFromBrowser(sdp)
  }

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
    this.relay.clearPayloadTypes()
    const keep: number[] = []
    for (const codec of chosen) {
      const browserCodec = pending.g711.find((c) => c.name.toUpperCase() === codec.name.toUpperCase())!
      this.relay.mapAudioPayloadTypes(browserCodec.payloadType, codec.payloadType, codec.name)
      keep.push(browserCodec.payloadType)
    }
    if (legacyTe && pending.telephoneEvent) {
      this.relay.mapTelephoneEventPayloadTypes(pending.telephoneEvent.payloadType, legacyTe.payloadType)
      this.legacyTelephoneEventPt = legacyTe.payloadType
      keep.push(pending.telephoneEvent.payloadType)
    }
    this.negotiated = chosen.map((c) => c.name.toUpperCase())

    this.peer.ensure(pending.g711, pending.telephoneEvent)
    // The far end's direction as seen from the browser is the legacy answer's direction;
    // never ask the browser to send to a legacy peer that is on RFC 2543 hold.
    const direction = this.relay.legacyHeld ? withoutReceive(legacy.direction) : legacy.direction
    await this.peer.answerOffer(pending.sdp, keep, direction, pending.description.setup)
    this.browserDirection = pending.description.direction
    this.updateForwarding()
    const out = this.peer.localSdp(this.browserOrigin)
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

    this.peer.ensure(g711, telephoneEvent)
    // The legacy offer's direction, from the browser's point of view, is ours to offer.
    const direction = this.relay.legacyHeld ? withoutReceive(legacy.direction) : legacy.direction
    try {
      await this.peer.createOffer(g711, telephoneEvent, direction)
    } catch (e) {
      this.pending = null
      throw e
    }
    return this.peer.localSdp(this.browserOrigin)
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
    await this.peer.applyAnswer(sdp)
    this.pending = null
    this.relay.clearPayloadTypes()
    const legacyCodecs: AudioCodec[] = []
    for (const codec of chosen) {
      const legacyCodec = pending.g711.find((c) => c.name.toUpperCase() === codec.name.toUpperCase())!
      this.relay.mapAudioPayloadTypes(codec.payloadType, legacyCodec.payloadType, codec.name)
      legacyCodecs.push(legacyCodec)
    }
    const browserTe = pending.telephoneEvent ? telephoneEventOf(browser) : undefined
    if (browserTe && pending.telephoneEvent) {
      this.relay.mapTelephoneEventPayloadTypes(browserTe.payloadType, pending.telephoneEvent.payloadType)
      this.legacyTelephoneEventPt = pending.telephoneEvent.payloadType
      legacyCodecs.push(pending.telephoneEvent)
    }
    this.negotiated = chosen.map((c) => c.name.toUpperCase())
    this.browserDirection = browser.direction
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

  /** The plain RTP/AVP SDP for the legacy leg, with the gateway's relay port. */
  private legacySdp(codecs: AudioCodec[], direction: MediaDirection, rtcpMux: boolean): string {
    this.legacyOrigin.version++
    return buildPlainAudioSdp({
      sessionId: this.legacyOrigin.id,
      sessionVersion: this.legacyOrigin.version,
      address: this.advertisedAddress,
      port: this.relay.rtpPort,
      codecs,
      direction,
      ptime: PTIME,
      rtcpMux,
    })
  }

  /** Takes address, port, RTCP and direction from a legacy offer or answer. */
  private applyLegacyDescription(legacy: AudioDescription): void {
    this.relay.setLegacyDestination(legacy)
    this.legacyDirection = legacy.direction
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
   * it receives (and, for the legacy sink, has an address other than 0.0.0.0: the relay
   * checks that). When forwarding resumes, the outgoing stream re-anchors its timestamps
   * (see RtpSequencer).
   */
  private updateForwarding(): void {
    this.relay.setForwarding(
      sends(this.browserDirection) && receives(this.legacyDirection),
      sends(this.legacyDirection) && receives(this.browserDirection),
    )
  }
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

/** o= sess-id: digits (RFC 4566 §5.2 suggests an NTP timestamp; any unique number will do). */
function randomSessionId(): string {
  return String(crypto.getRandomValues(new Uint32Array(1))[0]! + 1)
}

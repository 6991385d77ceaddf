/**
 * RTCP translation for the embedded relay (RFC 3550 §7: the gateway is a translator that
 * re-originates each stream, so the reports about a stream must follow its new SSRC,
 * sequence numbers and timestamps).
 *
 * - werift terminates RTCP on the WebRTC leg: it sends receiver reports to the browser about
 *   the browser's stream. Nothing here adds to that.
 * - Legacy sender reports (SR) are translated to the browser: SSRC = the gateway's
 *   browser-facing SSRC, RTP timestamp mapped, NTP timestamp and counts kept (the browser's
 *   remote-outbound-rtp statistics). Their report blocks and legacy RR packets are not
 *   passed: they describe the gateway->legacy hop, and werift already reports on the
 *   browser's stream.
 * - Browser SR/RR are translated to the legacy side: sender SSRC = the gateway's
 *   legacy-facing SSRC, SR RTP timestamp mapped, report blocks about the gateway's
 *   browser-facing stream re-addressed to the legacy source and their highest sequence
 *   number mapped back; an SDES CNAME chunk is added (RFC 3550 §6.1: "An SDES packet
 *   containing a CNAME item MUST be included in each compound RTCP packet"). Browser
 *   feedback messages (NACK, PLI, REMB, transport-cc) are not passed (none is negotiated for
 *   G.711).
 *
 * The translator only translates; RtpRelay receives the RTCP, latches the legacy RTCP
 * address and sends what comes out. RTCP arrives a few times a second per stream at most, so
 * this path allocates (werift's packet objects) where the RTP path does not.
 */
import {
  RtcpPacketConverter,
  RtcpReceiverInfo,
  RtcpRrPacket,
  RtcpSenderInfo,
  RtcpSourceDescriptionPacket,
  RtcpSrPacket,
  SourceDescriptionChunk,
  SourceDescriptionItem,
  type RtcpPacket,
} from 'werift'
import type { RtpSequencer } from './rtp-sequencer.ts'

/** The two outgoing streams of the relay whose mappings the reports follow. */
export interface RelayedStreams {
  /** Gateway -> legacy stream (its input is the browser's stream). */
  readonly toLegacy: RtpSequencer
  /** Gateway -> browser stream (its input is the legacy stream); may be replaced over time. */
  readonly toBrowser: RtpSequencer
}

/** RFC 3550 §6.5: SDES item type 1 = CNAME. */
const SDES_CNAME = 1

/**
 * Translates RTCP between the legs of one anchored call, reading the current SSRC, sequence
 * number and timestamp mappings from `streams` at each call (so a re-created browser-facing
 * stream is picked up).
 */
export class RtcpTranslator {
  /** Reused result of {@link fromLegacy}. */
  private readonly toBrowserOut: RtcpSrPacket[] = []

  constructor(private readonly streams: RelayedStreams) {}

  /**
   * A compound RTCP packet from the legacy leg -> the sender reports for the browser.
   *
   * RFC 3550 §6.4.1: an SR carries the sender's NTP timestamp, the RTP timestamp of the same
   * instant, and its packet and octet counts. Only the SR of the legacy source currently
   * relayed is passed (SSRC replaced, RTP timestamp mapped); everything else is dropped.
   *
   * @param data one datagram from the legacy RTCP port (or RFC 5761-muxed on the RTP port)
   * @returns the translated SRs, empty when there are none, before the first relayed RTP
   *   packet, or when the datagram is not RTCP. The array is reused: it is valid until the
   *   next call.
   */
  fromLegacy(data: Buffer): readonly RtcpSrPacket[] {
    const out = this.toBrowserOut
    out.length = 0
    const stream = this.streams.toBrowser
    if (stream.inputSsrc < 0) return out
    let packets: RtcpPacket[]
    try {
      packets = RtcpPacketConverter.deSerialize(data)
    } catch {
      return out
    }
    for (const packet of packets) {
      if (packet.type !== RtcpSrPacket.type) continue
      const sr = packet as RtcpSrPacket
      if (sr.ssrc !== stream.inputSsrc) continue
      out.push(
        new RtcpSrPacket({
          ssrc: stream.ssrc,
          senderInfo: new RtcpSenderInfo({
            ntpTimestamp: sr.senderInfo.ntpTimestamp,
            rtpTimestamp: stream.mapTimestamp(sr.senderInfo.rtpTimestamp),
            packetCount: sr.senderInfo.packetCount,
            octetCount: sr.senderInfo.octetCount,
          }),
          reports: [],
        }),
      )
    }
    return out
  }

  /**
   * One RTCP packet from the browser (werift decrypted SRTCP and split the compound) -> the
   * compound RTCP datagram for the legacy leg: the translated SR or RR, then an SDES CNAME
   * chunk for the gateway's legacy-facing SSRC.
   *
   * @returns the serialized compound, or null when there is nothing to pass: another packet
   *   type, an SR from another source, an RR without a block about the gateway's stream, or
   *   no browser RTP relayed yet
   */
  fromBrowser(packet: RtcpPacket): Buffer | null {
    const stream = this.streams.toLegacy
    if (stream.inputSsrc < 0) return null
    let translated: RtcpSrPacket | RtcpRrPacket | null = null
    if (packet.type === RtcpSrPacket.type) {
      const sr = packet as RtcpSrPacket
      if (sr.ssrc !== stream.inputSsrc) return null
      translated = new RtcpSrPacket({
        ssrc: stream.ssrc,
        senderInfo: new RtcpSenderInfo({
          ntpTimestamp: sr.senderInfo.ntpTimestamp,
          rtpTimestamp: stream.mapTimestamp(sr.senderInfo.rtpTimestamp),
          packetCount: sr.senderInfo.packetCount,
          octetCount: sr.senderInfo.octetCount,
        }),
        reports: this.translateReports(sr.reports),
      })
    } else if (packet.type === RtcpRrPacket.type) {
      const reports = this.translateReports((packet as RtcpRrPacket).reports)
      if (reports.length === 0) return null
      translated = new RtcpRrPacket({ ssrc: stream.ssrc, reports })
    }
    if (!translated) return null
    const sdes = new RtcpSourceDescriptionPacket({
      chunks: [new SourceDescriptionChunk({ source: stream.ssrc, items: [new SourceDescriptionItem({ type: SDES_CNAME, text: `patchbay-${stream.ssrc.toString(16)}` })] })],
    })
    return Buffer.concat([translated.serialize(), sdes.serialize()])
  }

  /**
   * Report blocks about the gateway's browser-facing stream, re-addressed to the legacy
   * source. RFC 3550 §6.4.1: "extended highest sequence number received: The low 16 bits
   * contain the highest sequence number received ..., and the most significant 16 bits
   * extend that sequence number with the corresponding count of sequence number cycles";
   * the low 16 bits are mapped back to the legacy numbering, the cycle count is kept.
   */
  private translateReports(reports: RtcpReceiverInfo[]): RtcpReceiverInfo[] {
    const out: RtcpReceiverInfo[] = []
    const stream = this.streams.toBrowser
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
}

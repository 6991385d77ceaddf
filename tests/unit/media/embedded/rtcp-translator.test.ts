/**
 * RTCP translation between the legs (RFC 3550 §7 translator): reports follow the relay's
 * SSRC, sequence number and timestamp mappings. Synthetic packets, two RtpSequencers that
 * went through a source switch (so the mappings are not the identity).
 */
import { beforeEach, describe, expect, test } from 'bun:test'
import {
  RtcpPacketConverter,
  RtcpReceiverInfo,
  RtcpRrPacket,
  RtcpSenderInfo,
  RtcpSourceDescriptionPacket,
  RtcpSrPacket,
  SourceDescriptionChunk,
  SourceDescriptionItem,
} from 'werift'
import { RtcpTranslator } from '../../../../gateway/src/media/embedded/rtcp-translator.ts'
import { RtpSequencer } from '../../../../gateway/src/media/embedded/rtp-sequencer.ts'

const GATEWAY_TO_LEGACY_SSRC = 0x11110001
const GATEWAY_TO_BROWSER_SSRC = 0x22220002
const PHONE_OLD = 0xa0a0a0a0
const PHONE = 0xb0b0b0b0
const BROWSER_OLD = 0xc0c0c0c0
const BROWSER = 0xd0d0d0d0
const STRANGER = 0x99999999

let toLegacy: RtpSequencer
let toBrowser: RtpSequencer
let translator: RtcpTranslator

function sr(ssrc: number, rtpTimestamp: number, reports: RtcpReceiverInfo[] = []): RtcpSrPacket {
  return new RtcpSrPacket({
    ssrc,
    senderInfo: new RtcpSenderInfo({ ntpTimestamp: 0xe1234567_89abcdefn, rtpTimestamp, packetCount: 321, octetCount: 51360 }),
    reports,
  })
}

function block(ssrc: number, highestSequence: number): RtcpReceiverInfo {
  return new RtcpReceiverInfo({ ssrc, fractionLost: 3, packetsLost: 7, highestSequence, jitter: 11, lsr: 0x1234, dlsr: 0x5678 })
}

function sdes(ssrc: number): RtcpSourceDescriptionPacket {
  return new RtcpSourceDescriptionPacket({ chunks: [new SourceDescriptionChunk({ source: ssrc, items: [new SourceDescriptionItem({ type: 1, text: 'phone@example.test' })] })] })
}

beforeEach(() => {
  toLegacy = new RtpSequencer(GATEWAY_TO_LEGACY_SSRC)
  toBrowser = new RtpSequencer(GATEWAY_TO_BROWSER_SSRC)
  translator = new RtcpTranslator({ toLegacy, toBrowser })
})

/** Both streams relayed one source, then switched to another 100 ms later (offsets != 0). */
function relaySomeRtp(): void {
  toBrowser.map(PHONE_OLD, 100, 1000, false, 0)
  toBrowser.map(PHONE, 5, 90_000, false, 100) // -> seq 101, ts 1000 + 800
  toLegacy.map(BROWSER_OLD, 500, 7000, false, 0)
  toLegacy.map(BROWSER, 9, 3, false, 40) // -> seq 501, ts 7000 + 320
}

describe('RtcpTranslator: legacy -> browser', () => {
  test('before any RTP was relayed nothing passes', () => {
    expect(translator.fromLegacy(sr(PHONE, 1).serialize())).toHaveLength(0)
  })

  test("the current source's SR gets the browser-facing SSRC and a mapped RTP timestamp; counts and NTP kept, blocks dropped", () => {
    relaySomeRtp()
    const compound = Buffer.concat([sr(PHONE, 90_000 + 160, [block(GATEWAY_TO_LEGACY_SSRC, 501)]).serialize(), sdes(PHONE).serialize()])
    const out = translator.fromLegacy(compound)
    expect(out).toHaveLength(1)
    const translated = out[0]!
    expect(translated.ssrc).toBe(GATEWAY_TO_BROWSER_SSRC)
    expect(translated.senderInfo.rtpTimestamp).toBe(1800 + 160)
    expect(translated.senderInfo.ntpTimestamp).toBe(0xe1234567_89abcdefn)
    expect(translated.senderInfo.packetCount).toBe(321)
    expect(translated.senderInfo.octetCount).toBe(51360)
    expect(translated.reports).toHaveLength(0)
  })

  test('SRs of another source, RRs and undecodable datagrams are dropped without throwing', () => {
    relaySomeRtp()
    expect(translator.fromLegacy(sr(PHONE_OLD, 1234).serialize())).toHaveLength(0)
    expect(translator.fromLegacy(new RtcpRrPacket({ ssrc: PHONE, reports: [block(GATEWAY_TO_LEGACY_SSRC, 501)] }).serialize())).toHaveLength(0)
    expect(translator.fromLegacy(Buffer.from([0x80, 0xc8, 0x00, 0x40, 1, 2, 3]))).toHaveLength(0)
  })
})

describe('RtcpTranslator: browser -> legacy', () => {
  test('before any RTP was relayed nothing passes', () => {
    expect(translator.fromBrowser(sr(BROWSER, 1))).toBeNull()
  })

  test('an SR becomes SR + SDES CNAME from the legacy-facing SSRC; the block about our stream is re-addressed and its sequence mapped back', () => {
    relaySomeRtp()
    // The browser received up to our seq 103 (= phone seq 7), in the second cycle.
    const out = translator.fromBrowser(sr(BROWSER, 3 + 480, [block(GATEWAY_TO_BROWSER_SSRC, 0x10000 + 103), block(STRANGER, 42)]))
    expect(out).not.toBeNull()
    const packets = RtcpPacketConverter.deSerialize(out!)
    expect(packets.map((p) => p.type)).toEqual([RtcpSrPacket.type, RtcpSourceDescriptionPacket.type])
    const translated = packets[0] as RtcpSrPacket
    expect(translated.ssrc).toBe(GATEWAY_TO_LEGACY_SSRC)
    expect(translated.senderInfo.rtpTimestamp).toBe(7320 + 480)
    expect(translated.senderInfo.packetCount).toBe(321)
    expect(translated.reports).toHaveLength(1)
    const report = translated.reports[0]!
    expect(report.ssrc).toBe(PHONE)
    expect(report.highestSequence).toBe(0x10000 + 7)
    expect([report.fractionLost, report.packetsLost, report.jitter, report.lsr, report.dlsr]).toEqual([3, 7, 11, 0x1234, 0x5678])
    const chunk = (packets[1] as RtcpSourceDescriptionPacket).chunks[0]!
    expect(chunk.source).toBe(GATEWAY_TO_LEGACY_SSRC)
    expect(chunk.items[0]!.type).toBe(1)
    expect(chunk.items[0]!.text).toBe(`patchbay-${GATEWAY_TO_LEGACY_SSRC.toString(16)}`)
  })

  test('an RR passes only with a block about our stream; SRs of another source do not pass', () => {
    relaySomeRtp()
    expect(translator.fromBrowser(new RtcpRrPacket({ ssrc: BROWSER, reports: [block(STRANGER, 1)] }))).toBeNull()
    expect(translator.fromBrowser(sr(BROWSER_OLD, 1))).toBeNull()
    const out = translator.fromBrowser(new RtcpRrPacket({ ssrc: BROWSER, reports: [block(GATEWAY_TO_BROWSER_SSRC, 101)] }))
    const rr = RtcpPacketConverter.deSerialize(out!)[0] as RtcpRrPacket
    expect(rr.type).toBe(RtcpRrPacket.type)
    expect(rr.ssrc).toBe(GATEWAY_TO_LEGACY_SSRC)
    expect(rr.reports.map((r) => [r.ssrc, r.highestSequence])).toEqual([[PHONE, 5]])
  })
})

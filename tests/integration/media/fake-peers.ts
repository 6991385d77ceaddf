/**
 * Stand-ins for the two ends of an anchored call, for the embedded media driver tests:
 *
 * - {@link WeriftBrowser}: a werift RTCPeerConnection configured like Chromium's audio
 *   (max-bundle, rtcp-mux, opus first, PCMU, PCMA, telephone-event at 48000 and 8000 Hz),
 *   ICE on 127.0.0.1 only.
 * - {@link UdpPhone}: a plain RTP/RTCP socket pair that writes RTP/AVP SDP, like a desk phone
 *   with G.711 and RFC 4733 telephone-event (payload type 101), no ICE.
 *
 * Both record what they receive, and {@link toneRatio} tells which tone arrived (G.711
 * decoding + Goertzel).
 */
import {
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RtpHeader,
  RtpPacket,
  type RTCRtpTransceiver,
  type RtcpPacket,
} from 'werift'
import { g711Decode, g711Encode, type G711Law } from '../../support/dsp/g711.ts'
import { goertzelPower, sineTone } from '../../support/dsp/goertzel.ts'

export const LOOPBACK = '127.0.0.1'

/** One received RTP packet (payload copied). */
export interface Received {
  payloadType: number
  sequenceNumber: number
  timestamp: number
  ssrc: number
  marker: boolean
  payload: Uint8Array
  atMs: number
}

/** Power at `a` Hz divided by power at `b` Hz over the decoded G.711 payloads. */
export function toneRatio(packets: Received[], law: G711Law, a: number, b: number): number {
  const audio = packets.filter((p) => p.payloadType === (law === 'PCMU' ? 0 : 8))
  if (audio.length === 0) return 0
  const samples = new Int16Array(audio.reduce((n, p) => n + p.payload.length, 0))
  let at = 0
  for (const p of audio) {
    g711Decode(p.payload, law, samples.subarray(at, at + p.payload.length))
    at += p.payload.length
  }
  return goertzelPower(samples, 8000, a) / Math.max(1, goertzelPower(samples, 8000, b))
}

/** 20 ms G.711 frames of a continuous tone. */
export class ToneSource {
  private sample = 0
  private readonly pcm = new Int16Array(160)
  constructor(readonly frequency: number, readonly law: G711Law = 'PCMU') {}
  next(): Uint8Array {
    sineTone(this.pcm, 8000, this.frequency, 8000, this.sample)
    this.sample += 160
    return g711Encode(this.pcm, this.law)
  }
}

/** An RFC 4733 §2.3 event payload: event, E bit, volume, duration (in timestamp units). */
export function telephoneEventPayload(event: number, end: boolean, volume: number, duration: number): Uint8Array {
  return Uint8Array.from([event & 0xff, (end ? 0x80 : 0) | (volume & 0x3f), (duration >> 8) & 0xff, duration & 0xff])
}

const CODECS = () => [
  new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111 }),
  new RTCRtpCodecParameters({ mimeType: 'audio/PCMU', clockRate: 8000, channels: 1, payloadType: 0 }),
  new RTCRtpCodecParameters({ mimeType: 'audio/PCMA', clockRate: 8000, channels: 1, payloadType: 8 }),
  new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate: 48000, payloadType: 110 }),
  new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate: 8000, payloadType: 126 }),
]

/** A werift peer connection playing the browser. */
export class WeriftBrowser {
  readonly pc: RTCPeerConnection
  transceiver: RTCRtpTransceiver | null = null
  readonly received: Received[] = []
  readonly rtcp: RtcpPacket[] = []
  readonly states: string[] = []
  connectedAtMs = 0
  private seq = 1
  private ts = 0
  private readonly tone: ToneSource

  constructor(frequency = 1000) {
    this.tone = new ToneSource(frequency)
    this.pc = new RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      codecs: { audio: CODECS(), video: [] },
      headerExtensions: { audio: [], video: [] },
      iceAdditionalHostAddresses: [LOOPBACK],
      iceInterfaceAddresses: { udp4: LOOPBACK },
      iceUseIpv6: false,
      iceUseTcp: false,
    } as ConstructorParameters<typeof RTCPeerConnection>[0])
    // werift fires onTrack again for the same track on re-negotiation: subscribe once.
    const seen = new WeakSet<object>()
    this.pc.onTrack.subscribe((track) => {
      if (seen.has(track)) return
      seen.add(track)
      track.onReceiveRtp.subscribe((p) => {
        this.received.push({
          payloadType: p.header.payloadType,
          sequenceNumber: p.header.sequenceNumber,
          timestamp: p.header.timestamp,
          ssrc: p.header.ssrc,
          marker: p.header.marker,
          payload: Uint8Array.from(p.payload),
          atMs: performance.now(),
        })
      })
    })
    this.pc.connectionStateChange.subscribe((state) => {
      this.states.push(state)
      if (state === 'connected' && !this.connectedAtMs) this.connectedAtMs = performance.now()
    })
  }

  /** Creates an offer (direction of the audio transceiver) and waits for gathering. */
  async offer(direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive' = 'sendrecv'): Promise<string> {
    if (!this.transceiver) this.transceiver = this.pc.addTransceiver('audio', { direction })
    else this.transceiver.setDirection(direction)
    await this.pc.setLocalDescription(await this.pc.createOffer())
    await this.gathered()
    return this.pc.localDescription!.sdp
  }

  /** Applies a remote offer and answers it (sendrecv unless told otherwise). */
  async answer(offer: string, direction: 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive' = 'sendrecv'): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer })
    this.transceiver ??= this.pc.getTransceivers().find((t) => t.kind === 'audio')!
    this.transceiver.setDirection(direction)
    await this.pc.setLocalDescription(await this.pc.createAnswer())
    await this.gathered()
    return this.pc.localDescription!.sdp
  }

  async applyAnswer(answer: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer })
  }

  /** Sends one 20 ms frame of the tone (werift sets SSRC and the negotiated payload type). */
  sendTone(): void {
    const header = new RtpHeader({ payloadType: 0, sequenceNumber: this.seq++ & 0xffff, timestamp: this.ts, marker: false })
    this.ts = (this.ts + 160) >>> 0
    void this.transceiver?.sender.sendRtp(new RtpPacket(header, Buffer.from(this.tone.next())))
  }

  /**
   * Sends a raw RTP packet with the given payload type through the DTLS transport (werift's
   * sender would overwrite the payload type with the primary codec's).
   */
  sendRaw(payloadType: number, payload: Uint8Array, marker: boolean, timestamp: number): void {
    const dtls = this.pc.dtlsTransports[0]
    if (!dtls || !this.transceiver) return
    const header = new RtpHeader({ payloadType, sequenceNumber: this.seq++ & 0xffff, timestamp, marker, ssrc: this.transceiver.sender.ssrc })
    void dtls.sendRtp(Buffer.from(payload), header)
  }

  /** Waits for connectionState 'connected'. */
  async connected(timeoutMs = 5000): Promise<void> {
    const deadline = performance.now() + timeoutMs
    while (this.pc.connectionState !== 'connected') {
      if (performance.now() > deadline) throw new Error(`werift browser not connected after ${timeoutMs} ms (states: ${this.states.join(',')})`)
      await Bun.sleep(5)
    }
  }

  watchRtcp(): void {
    const dtls = this.pc.dtlsTransports[0]
    dtls?.onRtcp.subscribe((p) => this.rtcp.push(p))
  }

  async close(): Promise<void> {
    await this.pc.close()
  }

  private async gathered(): Promise<void> {
    const deadline = performance.now() + 5000
    while (this.pc.iceGatheringState !== 'complete' && performance.now() < deadline) await Bun.sleep(2)
  }
}

/** A plain RTP phone on 127.0.0.1: RTP on `port`, RTCP on `port + 1`. */
export class UdpPhone {
  readonly received: Received[] = []
  readonly receivedFrom = new Set<string>()
  readonly rtcpReceived: Uint8Array[] = []
  private seq = 1000
  private ts = 160000
  readonly ssrc = 0x5eed1234
  private readonly tone: ToneSource
  private constructor(
    private readonly rtp: import('bun').udp.Socket<'buffer'>,
    private readonly rtcp: import('bun').udp.Socket<'buffer'>,
    frequency: number,
  ) {
    this.tone = new ToneSource(frequency)
  }

  /** Binds RTP on `port` and RTCP on `port + 1` (pick them with freePortRange(2)). */
  static async open(port: number, frequency = 440): Promise<UdpPhone> {
    let phone: UdpPhone | null = null
    const rtp = await Bun.udpSocket({
      hostname: LOOPBACK,
      port,
      socket: {
        data(_s, data, fromPort, fromAddress) {
          phone?.onRtp(data, fromPort, fromAddress)
        },
        error() {},
      },
    })
    const rtcp = await Bun.udpSocket({
      hostname: LOOPBACK,
      port: port + 1,
      socket: {
        data(_s, data) {
          phone?.rtcpReceived.push(Uint8Array.from(data))
        },
        error() {},
      },
    })
    phone = new UdpPhone(rtp, rtcp, frequency)
    return phone
  }

  get port(): number {
    return this.rtp.port
  }

  /** Plain RTP/AVP SDP (PCMU, optionally PCMA, telephone-event 101). */
  sdp(direction = 'sendrecv', version = 1, payloads: number[] = [0, 101]): string {
    const lines = ['v=0', `o=phone 42 ${version} IN IP4 ${LOOPBACK}`, 's=phone', `c=IN IP4 ${LOOPBACK}`, 't=0 0', `m=audio ${this.port} RTP/AVP ${payloads.join(' ')}`]
    for (const pt of payloads) {
      if (pt === 0) lines.push('a=rtpmap:0 PCMU/8000')
      if (pt === 8) lines.push('a=rtpmap:8 PCMA/8000')
      if (pt === 101) lines.push('a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15')
    }
    lines.push('a=ptime:20', `a=${direction}`)
    return lines.join('\r\n') + '\r\n'
  }

  /** Sends one 20 ms tone frame (PCMU) to the relay. */
  sendTone(toPort: number): void {
    this.sendRtp(toPort, 0, this.tone.next(), false, this.ts)
    this.ts = (this.ts + 160) >>> 0
  }

  /** Sends an RTP packet (the phone's own SSRC, its next sequence number). */
  sendRtp(toPort: number, payloadType: number, payload: Uint8Array, marker: boolean, timestamp: number): void {
    const packet = new Uint8Array(12 + payload.length)
    packet[0] = 0x80
    packet[1] = (marker ? 0x80 : 0) | payloadType
    packet[2] = (this.seq >> 8) & 0xff
    packet[3] = this.seq & 0xff
    new DataView(packet.buffer).setUint32(4, timestamp >>> 0)
    new DataView(packet.buffer).setUint32(8, this.ssrc)
    packet.set(payload, 12)
    this.seq = (this.seq + 1) & 0xffff
    try {
      this.rtp.send(packet, toPort, LOOPBACK)
    } catch {}
  }

  /** The timestamp the next tone frame will carry (for events that start now). */
  get timestamp(): number {
    return this.ts
  }

  /** Sends raw bytes from the RTCP socket to the relay's RTCP port. */
  sendRtcp(toPort: number, data: Uint8Array): void {
    try {
      this.rtcp.send(data, toPort, LOOPBACK)
    } catch {}
  }

  close(): void {
    this.rtp.close()
    this.rtcp.close()
  }

  private onRtp(data: Uint8Array, fromPort: number, fromAddress: string): void {
    if (data.length < 12) return
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
    this.receivedFrom.add(`${fromAddress}:${fromPort}`)
    this.received.push({
      payloadType: data[1]! & 0x7f,
      marker: (data[1]! & 0x80) !== 0,
      sequenceNumber: view.getUint16(2),
      timestamp: view.getUint32(4),
      ssrc: view.getUint32(8),
      payload: Uint8Array.from(data.subarray(12)),
      atMs: performance.now(),
    })
  }
}

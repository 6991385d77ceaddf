/**
 * The WebRTC leg of one anchored call: a werift RTCPeerConnection towards the browser (ICE,
 * RFC 8445; DTLS-SRTP, RFC 5764; BUNDLE, rtcp-mux), set up for G.711 + telephone-event
 * audio only, and the SDP werift writes for it, made presentable.
 *
 * werift specifics handled here:
 * - werift leaves loopback (and other skipped interfaces) out of its host candidates unless
 *   named in `iceAdditionalHostAddresses`; with a specific bind address its sockets bind
 *   there (`iceInterfaceAddresses`) and pairs from other host addresses are filtered out.
 * - werift, as answerer, picks DTLS active; the gateway holds the passive role instead
 *   ({@link BrowserPeerConnection.answerOffer}).
 * - werift's local description lists every host candidate and puts port 9 in m=; the SDP
 *   handed out keeps the bind address only and names the default candidate
 *   ({@link BrowserPeerConnection.localSdp}).
 */
import { RTCPeerConnection, RTCRtpCodecParameters, type RTCRtpTransceiver } from 'werift'
import type { Logger } from '../../base/log.ts'
import { MediaError } from '../media-driver.ts'
import { restrictAudioCodecs, type AudioCodec, type MediaDirection } from './audio-sdp.ts'

/** An ICE server as werift (and RTCConfiguration) takes it. */
export interface IceServerConfig {
  urls: string | string[]
  username?: string
  credential?: string
}

/** Network settings of the driver that every peer connection uses. */
export interface PeerConnectionSettings {
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
}

/** The o= line of a description the gateway writes (RFC 4566 §5.2). */
export interface SdpOrigin {
  id: string
  /** Grows by one with each description written (RFC 3264 §8). */
  version: number
}

/** telephone-event payload type configured when the first offer names none (the convention). */
const DEFAULT_TELEPHONE_EVENT_PT = 101

/**
 * The peer connection of one call, created on first use ({@link ensure}) and kept across
 * re-negotiations (so ICE, DTLS role and SRTP keys survive hold/resume). Each time werift
 * hands out an audio transceiver whose DTLS transport the relay should use, `onTransport` is
 * called with it. Methods throw MediaError 500 for werift failures (message prefixed with
 * what was being done).
 */
export class BrowserPeerConnection {
  private pc: RTCPeerConnection | null = null
  private transceiver: RTCRtpTransceiver | null = null
  private closed = false
  private readonly unsubscribes: Array<() => void> = []

  constructor(
    private readonly callId: string,
    private readonly settings: PeerConnectionSettings,
    private readonly log: Logger,
    private readonly onTransport: (transceiver: RTCRtpTransceiver) => void,
  ) {}

  /**
   * Creates the peer connection unless it exists: audio only, max-bundle, rtcp-mux (werift
   * requires it), G.711 + telephone-event/8000 with the given payload types, no header
   * extensions, ICE host candidates on the bind address.
   *
   * @param g711 the first offer's G.711 codecs (their order is werift's preference)
   * @param telephoneEvent the first offer's telephone-event/8000, if any
   * @throws MediaError 500 after {@link close}
   */
  ensure(g711: AudioCodec[], telephoneEvent: AudioCodec | undefined): void {
    if (this.pc) return
    // A task queued before close() must not leave a peer connection nobody will close.
    if (this.closed) throw new MediaError(500, 'media session closed')
    const ctx = this.settings
    // Both G.711 laws are configured (the order of the first offer first), so that a later
    // re-negotiation may switch between them; offers are narrowed with codec preferences,
    // answers by the narrowed remote offer.
    const names = [...g711.map((c) => c.name.toUpperCase()), 'PCMU', 'PCMA'].filter((n, i, all) => all.indexOf(n) === i)
    const codecs = names.map((name) => codecParameters(name, name === 'PCMU' ? 0 : 8))
    codecs.push(codecParameters('telephone-event', telephoneEvent?.payloadType ?? DEFAULT_TELEPHONE_EVENT_PT, telephoneEvent?.fmtp ?? '0-16'))
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
  }

  /**
   * werift answers the browser's offer, narrowed to `keep`, and gathers its candidates; read
   * the answer with {@link localSdp}. Call {@link ensure} first.
   *
   * @param offerSdp the browser's offer as received
   * @param keep browser payload types to keep, in preference order (the legacy side's choice)
   * @param direction the direction to answer with, from the browser's point of view
   * @param remoteSetup the offer's a=setup (RFC 5763 §5), if any
   * @throws MediaError 500 when werift fails
   */
  async answerOffer(offerSdp: string, keep: number[], direction: MediaDirection, remoteSetup: string | undefined): Promise<void> {
    const pc = this.requirePc()
    try {
      await pc.setRemoteDescription({ type: 'offer', sdp: restrictAudioCodecs(offerSdp, keep) })
      const transceiver = this.audioTransceiver(pc)
      // Preferences left by an earlier werift offer would narrow this answer: the narrowed
      // browser offer alone decides it.
      if (transceiver.codecPreferences) transceiver.setCodecPreferences([])
      // The far end's direction as seen from the browser is the legacy answer's direction;
      // never ask the browser to send to a legacy peer that is on RFC 2543 hold.
      transceiver.setDirection(direction)
      this.onTransport(transceiver)
      this.holdDtlsRole(remoteSetup)
      const answer = await pc.createAnswer()
      await pc.setLocalDescription(answer)
      await this.gatheringComplete(pc)
    } catch (e) {
      throw asMediaError(e, 'werift could not answer the browser offer')
    }
  }

  /**
   * werift offers exactly these codecs (their order) + telephone-event/8000 and gathers its
   * candidates; read the offer with {@link localSdp}. Call {@link ensure} first.
   *
   * @param direction the direction to offer, from the browser's point of view
   * @throws MediaError 500 when werift fails
   */
  async createOffer(g711: AudioCodec[], telephoneEvent: AudioCodec | undefined, direction: MediaDirection): Promise<void> {
    const pc = this.requirePc()
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
      this.onTransport(transceiver)
      await this.gatheringComplete(pc)
    } catch (e) {
      throw asMediaError(e, 'werift could not create an offer')
    }
  }

  /**
   * werift applies the browser's answer to its offer.
   *
   * @throws MediaError 500 without a peer connection, or when werift rejects the answer
   */
  async applyAnswer(sdp: string): Promise<void> {
    const pc = this.pc
    if (!pc) throw new MediaError(500, 'no peer connection for the browser answer')
    try {
      // RFC 5763 §5: the browser (answerer) picked active or passive; werift takes the other
      // role (for Chrome: active, so the gateway is passive, docs/architecture.md).
      await pc.setRemoteDescription({ type: 'answer', sdp })
    } catch (e) {
      throw asMediaError(e, 'werift rejected the browser answer')
    }
    if (this.transceiver) this.onTransport(this.transceiver)
  }

  /**
   * werift's local description, made presentable: host candidates limited to the bind
   * address (and rewritten to publicAddress when set), the default candidate in c= and m=
   * (RFC 5245 §4.3: the default destination for media), and our own o= line
   * whose version grows with each description (RFC 4566 §5.2, RFC 3264 §8).
   *
   * @param origin the o= line to write; its version is incremented
   * @throws MediaError 500 when werift has no local description
   */
  localSdp(origin: SdpOrigin): string {
    const local = this.pc?.localDescription?.sdp
    if (!local) throw new MediaError(500, 'werift produced no local description')
    const ctx = this.settings
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
    origin.version++
    return (
      out
        .map((line) => {
          if (line.startsWith('o=')) return `o=- ${origin.id} ${origin.version} IN ${ipVer} ${address}`
          if (line.startsWith('c=IN ')) return `c=IN ${ipVer} ${address}`
          if (defaultPort && line.startsWith('m=audio 9 ')) return `m=audio ${defaultPort} ${line.slice('m=audio 9 '.length)}`
          if (defaultPort && line.startsWith('a=rtcp:9 ')) return `a=rtcp:${defaultPort} IN ${ipVer} ${address}`
          return line
        })
        .join('\r\n') + '\r\n'
    )
  }

  /** Closes the peer connection (ICE sockets, DTLS). Idempotent; never throws. */
  async close(): Promise<void> {
    this.closed = true
    for (const unsubscribe of this.unsubscribes.splice(0)) {
      try {
        unsubscribe()
      } catch {}
    }
    const pc = this.pc
    this.pc = null
    this.transceiver = null
    if (pc) {
      try {
        await pc.close()
      } catch (e) {
        this.log.debug('peer connection close failed', { callId: this.callId, error: String(e) })
      }
    }
  }

  private requirePc(): RTCPeerConnection {
    if (!this.pc) throw new MediaError(500, 'no peer connection (ensure() not called)')
    return this.pc
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
   * werift, as answerer, picks active. The gateway answers passive instead (the gateway side
   * stays passive, docs/architecture.md, so the role survives re-INVITEs from either side: a
   * later werift offer then says a=setup:passive, and a later werift answer keeps it). Only
   * a browser that offers passive itself makes the gateway active. The role is fixed before
   * the first handshake and never changed afterwards.
   */
  private holdDtlsRole(remoteSetup: string | undefined): void {
    const dtls = this.transceiver?.dtlsTransport
    if (!dtls || dtls.state !== 'new') return
    dtls.role = remoteSetup === 'passive' ? 'client' : 'server'
  }

  /** Waits until werift finished gathering (host candidates: a few ms), or the timeout. */
  private async gatheringComplete(pc: RTCPeerConnection): Promise<void> {
    if (pc.iceGatheringState === 'complete') return
    let timer: ReturnType<typeof setTimeout> | undefined
    let sub: { unSubscribe: () => void } | undefined
    try {
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, this.settings.gatheringTimeoutMs)
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
}

/** werift codec parameters for PCMU, PCMA or telephone-event, all at 8000 Hz mono. */
function codecParameters(name: string, payloadType: number, fmtp?: string): RTCRtpCodecParameters {
  const params = new RTCRtpCodecParameters({ mimeType: `audio/${name}`, clockRate: 8000, payloadType })
  if (name !== 'telephone-event') params.channels = 1
  else if (fmtp) params.parameters = fmtp
  return params
}

function asMediaError(e: unknown, context: string): MediaError {
  if (e instanceof MediaError) return e
  return new MediaError(500, `${context}: ${e instanceof Error ? e.message : String(e)}`)
}

/**
 * Our SIP.js SessionDescriptionHandler (the WebRTC side of an INVITE session): SIP.js's
 * `Web.SessionDescriptionHandler`, with ICE gathering cut short and the microphone swappable.
 *
 * ICE gathering trap (docs/architecture.md §5): SIP.js waits for `icegatheringstate === 'complete'` or
 * up to 5 s before it sends an offer/answer. We end gathering as soon as the candidate set is
 * usable (`IceGatheringPolicy`, RFC 8445 §5.1.1) plus `ICE_SETTLE_MS`, and at the latest
 * after `SIP_ICE_GATHERING_TIMEOUT_MS` (500 ms).
 */
import { Web, type SessionDescriptionHandlerFactory } from 'sip.js'
import {
  candidateTypeOf,
  ICE_SETTLE_MS,
  IceGatheringPolicy,
  SIP_ICE_GATHERING_TIMEOUT_MS,
} from './ice-gathering-policy.ts'

/** What the factory needs from the rest of the client; read when each session gets its handler. */
export interface PatchbaySessionDescriptionHandlerSources {
  /** The peer connection configuration for a new call (ICE servers, relay policy, bundle). */
  rtcConfiguration(): RTCConfiguration
  /** The microphone stream already opened for this session (before INVITE / answer), if any. */
  preparedMicrophone(sessionId: string): MediaStream | undefined
  /** Opens the microphone when none was prepared; rejects with getUserMedia's DOMException. */
  openMicrophone(): Promise<MediaStream>
  /** A remote track arrived on the session's peer connection. */
  onRemoteTrack(sessionId: string, stream: MediaStream): void
}

/** Our SessionDescriptionHandler: stops waiting for ICE candidates once the set is usable. */
export class PatchbaySessionDescriptionHandler extends Web.SessionDescriptionHandler {
  /**
   * The `sessionDescriptionHandlerFactory` for SIP.js's UserAgent options. Each handler uses
   * the session's prepared microphone when it still has a live track, no stream when SIP.js
   * asks for neither audio nor video, and otherwise opens the microphone. The factory
   * options' `iceGatheringTimeout` (ms) defaults to `SIP_ICE_GATHERING_TIMEOUT_MS`.
   */
  static factory(sources: PatchbaySessionDescriptionHandlerSources): SessionDescriptionHandlerFactory {
    return (session, factoryOptions?: { iceGatheringTimeout?: number }) => {
      const logger = session.userAgent.getLogger('sip.SessionDescriptionHandler')
      const mediaStreamFactory: Web.MediaStreamFactory = (constraints) => {
        const ready = sources.preparedMicrophone(session.id)
        if (ready && ready.getAudioTracks().some((t) => t.readyState === 'live')) return Promise.resolve(ready)
        if (!constraints.audio && !constraints.video) return Promise.resolve(new MediaStream())
        return sources.openMicrophone()
      }
      const sdh = new PatchbaySessionDescriptionHandler(logger, mediaStreamFactory, {
        iceGatheringTimeout: factoryOptions?.iceGatheringTimeout ?? SIP_ICE_GATHERING_TIMEOUT_MS,
        peerConnectionConfiguration: sources.rtcConfiguration(),
      })
      sdh.peerConnection?.addEventListener('track', () => {
        sources.onRemoteTrack(session.id, sdh.remoteMediaStream)
      })
      return sdh
    }
  }

  private readonly policy: IceGatheringPolicy
  private settleTimer: ReturnType<typeof setTimeout> | undefined

  constructor(
    logger: ConstructorParameters<typeof Web.SessionDescriptionHandler>[0],
    mediaStreamFactory: Web.MediaStreamFactory,
    configuration: Web.SessionDescriptionHandlerConfiguration,
  ) {
    super(logger, mediaStreamFactory, configuration)
    this.policy = IceGatheringPolicy.fromConfiguration(configuration.peerConnectionConfiguration ?? {})
    this.peerConnection?.addEventListener('icecandidate', (event) => {
      if (event.candidate && this.policy.add(candidateTypeOf(event.candidate))) this.endGatheringSoon()
    })
  }

  protected override waitForIceGatheringComplete(restart = false, timeout = 0): Promise<void> {
    const waiting = super.waitForIceGatheringComplete(restart, timeout)
    if (!restart && this.policy.usable) this.endGatheringSoon()
    return waiting
  }

  /** Swaps the microphone (device change) on the sender and in localMediaStream. */
  replaceLocalStream(stream: MediaStream): Promise<void> {
    return this.setLocalMediaStream(stream)
  }

  override close(): void {
    if (this.settleTimer !== undefined) clearTimeout(this.settleTimer)
    super.close()
  }

  private endGatheringSoon(): void {
    if (this.settleTimer !== undefined) return
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined
      // "May be called prior to ICE gathering actually completing to allow the session
      // description handler proceed with whatever candidates have been gathered" (SIP.js).
      this.iceGatheringComplete()
    }, ICE_SETTLE_MS)
  }
}

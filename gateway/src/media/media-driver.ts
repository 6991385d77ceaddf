/**
 * The media-anchoring seam (docs/architecture.md §1): when a call crosses WebRTC <-> plain RTP, the
 * proxy hands each SDP offer and answer to a MediaDriver, which allocates a relay for the
 * call and returns the SDP to forward to the other leg. Calls between two browsers or
 * between two legacy endpoints never reach a driver.
 *
 * Sessions are identified like rtpengine's ng protocol does: Call-ID + the tags of the two
 * dialog ends. A re-INVITE may come from either end: `fromTag` is always the tag of the
 * party that sent the offer. Implementations: `embedded` (werift, in process) and
 * `rtpengine` (ng protocol over UDP to rtpengine daemons).
 */

/**
 * The media flavour of one leg:
 * - `webrtc`: ICE, DTLS-SRTP (UDP/TLS/RTP/SAVPF), rtcp-mux, usually opus + PCMU/PCMA;
 * - `rtp`: plain RTP/AVP, G.711, no ICE, RTCP on port+1 unless a=rtcp-mux.
 */
export type MediaProfile = 'webrtc' | 'rtp'

/** Identifies one anchored call (RFC 3261 dialog: Call-ID + tags). */
export interface MediaSessionId {
  callId: string
  /** Tag of the party sending this offer (From tag of an initial INVITE). */
  fromTag: string
  /** Tag of the other party; absent while the initial offer has no answer yet. */
  toTag?: string
}

export interface MediaOfferRequest {
  session: MediaSessionId
  /** The SDP as received from the offerer. */
  sdp: string
  /** Profile of the offerer's leg and of the leg the offer goes to. */
  from: MediaProfile
  to: MediaProfile
}

export interface MediaAnswerRequest {
  /** Same session as the offer; `toTag` is the answerer's tag. */
  session: MediaSessionId & { toTag: string }
  /** The SDP as received from the answerer. */
  sdp: string
  /** Profile of the answerer's leg and of the offerer's leg the answer goes back to. */
  from: MediaProfile
  to: MediaProfile
}

/**
 * Why a driver refused. `status` is the SIP response the proxy sends upstream: 488 (Not
 * Acceptable Here) when the two sides share no codec, 503 when no media engine is available,
 * 500 for anything else.
 */
export class MediaError extends Error {
  constructor(readonly status: 488 | 500 | 503, message: string) {
    super(message)
  }
}

export interface MediaDriver {
  /** 'embedded' | 'rtpengine' */
  readonly name: string
  /**
   * Handles an SDP offer (initial INVITE, re-INVITE, UPDATE; hold = sendonly/inactive) and
   * returns the SDP to forward to the other leg, with the relay's addresses and the other
   * leg's profile. A re-offer on an existing session keeps its ports, and the gateway keeps
   * the DTLS role passive towards the browser (docs/architecture.md §5).
   * @throws MediaError (488 no common codec, 503 no engine, 500 other)
   */
  offer(request: MediaOfferRequest): Promise<string>
  /**
   * Handles the SDP answer (18x or 2xx) and returns the SDP to send back to the offerer.
   * @throws MediaError
   */
  answer(request: MediaAnswerRequest): Promise<string>
  /**
   * Releases everything held for the call (ports, peer connections, engine state). Deleting
   * an unknown session is not an error. `toTag` absent: every branch of the Call-ID/fromTag.
   */
  delete(session: MediaSessionId): Promise<void>
  /** Number of sessions currently held (leak checks, metrics). */
  readonly activeSessions: number
  /** Releases every session and closes sockets. */
  close(): Promise<void>
}

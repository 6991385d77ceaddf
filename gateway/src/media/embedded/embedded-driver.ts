/**
 * The embedded MediaDriver (the default driver, docs/architecture.md): werift, in the
 * gateway's own process, terminates ICE + DTLS-SRTP towards the browser and relays RTP to
 * and from the legacy side (plain RTP/AVP, G.711, no ICE). Each anchored call is an
 * {@link EmbeddedSession}; this class finds sessions by Call-ID and tags (like rtpengine's ng
 * protocol), hands out RTP ports and reports MediaError statuses.
 *
 * Costs (2-core development machine, tests/integration/media/embedded-driver.test.ts with
 * the driver in a child process): ICE + DTLS on loopback completes 130-190 ms after the
 * browser applies the answer; relaying costs about 1-1.5 % of a core per bidirectional
 * 50 pps G.711 stream with 10 streams (a lone stream about 5 %: per-wake-up overhead), almost
 * all of it in werift (SRTP through node:crypto per packet, five async layers and a DNS
 * lookup per node:dgram send) and in the kernel's loopback sends; the relay code itself is
 * about 3 % of the profile. One event loop carries every relay: a busy gateway shards calls
 * across processes or uses the rtpengine driver.
 */
import { networkInterfaces } from 'node:os'
import { logger as makeLogger, type Logger } from '../../base/log.ts'
import { MediaError, type MediaAnswerRequest, type MediaDriver, type MediaOfferRequest, type MediaSessionId } from '../media-driver.ts'
import type { IceServerConfig } from './browser-peer-connection.ts'
import { EmbeddedSession, type EmbeddedSessionContext } from './embedded-session.ts'
import { RtpPortAllocator } from './rtp-port-allocator.ts'

export interface EmbeddedDriverOptions {
  /** Address the legacy RTP sockets and werift's ICE sockets bind to. Default '127.0.0.1'. */
  bindAddress?: string
  /** Address written in c= lines and host candidates (the gateway behind 1:1 NAT). */
  publicAddress?: string
  /** STUN/TURN servers werift uses to gather srflx/relay candidates (none by default). */
  iceServers?: IceServerConfig[]
  /** Legacy RTP port range (RTP even, RTCP = RTP + 1). Default 20000-29999. */
  rtpPortMin?: number
  rtpPortMax?: number
  /** Longest wait for ICE gathering in ms (host candidates take a few ms). Default 3000. */
  gatheringTimeoutMs?: number
  logger?: Logger
}

/**
 * @example
 * const driver = new EmbeddedDriver({ bindAddress: '127.0.0.1' })
 * const legacyOffer = await driver.offer({ session: { callId, fromTag }, sdp: browserOffer, from: 'webrtc', to: 'rtp' })
 * const browserAnswer = await driver.answer({ session: { callId, fromTag, toTag }, sdp: phoneAnswer, from: 'rtp', to: 'webrtc' })
 */
export class EmbeddedDriver implements MediaDriver {
  readonly name = 'embedded'
  private readonly sessions = new Map<string, EmbeddedSession[]>()
  private readonly context: EmbeddedSessionContext
  private readonly log: Logger
  private closed = false

  constructor(options: EmbeddedDriverOptions = {}) {
    const bindAddress = options.bindAddress ?? '127.0.0.1'
    const wildcardBind = bindAddress === '0.0.0.0' || bindAddress === '::'
    this.log = options.logger ?? makeLogger('media.embedded')
    const context: EmbeddedSessionContext = {
      bindAddress,
      advertisedAddress: options.publicAddress ?? (wildcardBind ? firstExternalAddress(bindAddress === '::') : bindAddress),
      wildcardBind,
      iceServers: options.iceServers ?? [],
      gatheringTimeoutMs: options.gatheringTimeoutMs ?? 3000,
      ports: new RtpPortAllocator({ bindAddress, min: options.rtpPortMin ?? 20000, max: options.rtpPortMax ?? 29999, logger: this.log }),
      logger: this.log,
    }
    if (options.publicAddress) context.publicAddress = options.publicAddress
    this.context = context
  }

  get activeSessions(): number {
    let n = 0
    for (const list of this.sessions.values()) n += list.length
    return n
  }

  /**
   * An SDP offer from either leg (initial INVITE, re-INVITE, UPDATE). An unknown session is
   * created (its RTP pair bound); a known one (matched by Call-ID and either tag) keeps its
   * ports, peer connection and DTLS role.
   *
   * @throws MediaError 488 no G.711 on offer; 503 RTP ports exhausted; 500 otherwise
   */
  async offer(request: MediaOfferRequest): Promise<string> {
    this.checkProfiles(request.from, request.to)
    const { callId, fromTag, toTag } = request.session
    let session = this.find(callId, fromTag, toTag)
    let created = false
    if (!session) {
      if (this.closed) throw new MediaError(503, 'embedded media driver closed')
      session = await EmbeddedSession.open(callId, fromTag, this.context)
      if (toTag !== undefined) session.noteAnswererTag(toTag)
      this.add(session)
      created = true
    }
    try {
      return await session.offer(request.from, request.sdp)
    } catch (e) {
      if (created) await this.remove(session)
      throw asMediaError(e)
    }
  }

  /**
   * The SDP answer (18x or 2xx) for the session's pending offer.
   *
   * @throws MediaError 488 answer shares no G.711 codec; 500 unknown session or werift error
   */
  async answer(request: MediaAnswerRequest): Promise<string> {
    this.checkProfiles(request.from, request.to)
    const { callId, fromTag, toTag } = request.session
    const session = this.find(callId, fromTag, undefined)
    if (!session) throw new MediaError(500, `no media session for Call-ID ${callId}`)
    session.noteAnswererTag(toTag)
    try {
      return await session.answer(request.from, request.sdp)
    } catch (e) {
      throw asMediaError(e)
    }
  }

  /** Releases the matching sessions (all of the Call-ID/tag when `toTag` is absent). */
  async delete(id: MediaSessionId): Promise<void> {
    const list = this.sessions.get(id.callId)
    if (!list) return
    const doomed = list.filter(
      (s) => s.hasTag(id.fromTag) && (id.toTag === undefined || s.hasTag(id.toTag) || s.tags[1] === undefined),
    )
    await Promise.all(doomed.map((s) => this.remove(s)))
  }

  /** Releases every session. */
  async close(): Promise<void> {
    this.closed = true
    const all = [...this.sessions.values()].flat()
    await Promise.all(all.map((s) => this.remove(s)))
  }

  /** The session's relay counters (tests, metrics); undefined for an unknown session. */
  sessionCounters(id: MediaSessionId): EmbeddedSession['counters'] | undefined {
    return this.find(id.callId, id.fromTag, id.toTag)?.counters
  }

  /** The legacy-facing RTP port of a session (0 when unknown). */
  rtpPortOf(id: MediaSessionId): number {
    return this.find(id.callId, id.fromTag, id.toTag)?.rtpPort ?? 0
  }

  private checkProfiles(from: string, to: string): void {
    if ((from === 'webrtc' && to === 'rtp') || (from === 'rtp' && to === 'webrtc')) return
    throw new MediaError(500, `the embedded driver anchors webrtc <-> rtp only (got ${from} -> ${to})`)
  }

  private find(callId: string, fromTag: string, toTag: string | undefined): EmbeddedSession | undefined {
    const list = this.sessions.get(callId)
    if (!list) return undefined
    return list.find((s) => s.hasTag(fromTag) && (toTag === undefined || s.tags[1] === undefined || s.hasTag(toTag)))
  }

  private add(session: EmbeddedSession): void {
    const list = this.sessions.get(session.callId)
    if (list) list.push(session)
    else this.sessions.set(session.callId, [session])
  }

  private async remove(session: EmbeddedSession): Promise<void> {
    const list = this.sessions.get(session.callId)
    if (list) {
      const i = list.indexOf(session)
      if (i >= 0) list.splice(i, 1)
      if (list.length === 0) this.sessions.delete(session.callId)
    }
    await session.close()
  }
}

function asMediaError(e: unknown): MediaError {
  if (e instanceof MediaError) return e
  return new MediaError(500, e instanceof Error ? e.message : String(e))
}

/** The first non-internal address of the machine (for c= when bound to a wildcard). */
function firstExternalAddress(ipv6: boolean): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const info of list ?? []) {
      if (!info.internal && (ipv6 ? info.family === 'IPv6' : info.family === 'IPv4')) return info.address
    }
  }
  return ipv6 ? '::1' : '127.0.0.1'
}

/**
 * The production media driver: rtpengine daemons driven over the ng control protocol
 * (docs/architecture.md §1: "drivers: embedded (werift, in process) | rtpengine (ng protocol)").
 *
 * Each SDP offer/answer of an anchored call goes to one rtpengine instance as an ng `offer`
 * or `answer` with the flags that turn one leg's profile into the other's; `delete`
 * releases the call. A call is pinned to one instance, chosen by hashing its Call-ID over
 * the instances currently alive (rendezvous hashing: every gateway process picks the same
 * instance for the same Call-ID, and losing an instance moves only that instance's calls).
 * An instance that times out or refuses is marked dead and probed with `ping` every
 * `probeIntervalMs` until it answers again.
 *
 * rtpengine 10.5 (Debian) needs `--dtls-passive` (docs/architecture.md §5) and two SDP repairs done
 * here with sdp-transform: `a=group:BUNDLE` is added to SDPs going to a browser (10.5 leaves
 * it out; Chrome under max-bundle rejects such offers and answers), and `a=rtcp` is asked
 * for in its full form (`full-rtcp-attribute`; werift cannot parse the short `a=rtcp:PORT`).
 */
import { parse, write, type MediaDescription, type SessionDescription } from 'sdp-transform'
import { logger as makeLogger, type Logger } from '../../base/log.ts'
import { RealScheduler, type Scheduler, type TimerHandle } from '../../base/scheduler.ts'
import {
  MediaError,
  type MediaAnswerRequest,
  type MediaDriver,
  type MediaOfferRequest,
  type MediaProfile,
  type MediaSessionId,
} from '../media-driver.ts'
import type { BencodeDict, BencodeInput } from './bencode.ts'
import { NgClient, NgError } from './ng-client.ts'

export interface RtpengineInstanceAddress {
  /** rtpengine's `--listen-ng` address. */
  host: string
  port: number
}

export interface RtpengineDriverOptions {
  /** At least one instance. */
  instances: RtpengineInstanceAddress[]
  /**
   * The address browsers reach the rtpengine instances at when rtpengine sits behind a 1:1
   * NAT: written into c=, o=, a=candidate and a=rtcp of every SDP going to a `webrtc` leg.
   * (The ng key `media address` is not this: it overrides the *peer's* address.)
   */
  publicAddress?: string
  /**
   * Logical rtpengine interfaces (`--interface=NAME/ADDR[!ADVERTISED]`) per profile; when
   * set, offers carry ng `direction: [offerer's, answerer's]`. The rtpengine way to
   * advertise a public address towards browsers only.
   */
  interfaces?: { webrtc: string; rtp: string }
  logger?: Logger
  scheduler?: Scheduler
  /** How often a dead instance is pinged (ms, default 3000). */
  probeIntervalMs?: number
  /** ng retransmission interval (ms, default 500) and sends per request (default 3). */
  retransmitMs?: number
  tries?: number
  /**
   * ng `delete delay` in seconds (default 0: ports are released at once, as
   * MediaDriver.delete promises; rtpengine's own default keeps the call 30 s).
   */
  deleteDelaySeconds?: number
}

/** One configured rtpengine and what the driver knows about it. */
interface Instance {
  readonly index: number
  readonly key: string
  readonly client: NgClient
  alive: boolean
  probeTimer: TimerHandle | null
}

/** The offer a call is waiting to see answered. */
interface PendingOffer {
  fromTag: string
  /** Codecs of the offer as the offerer sent it (`name/rate`, lower case). */
  codecs: Set<string>
  /** The offer's `a=group:BUNDLE` mids, or null when it had no BUNDLE group. */
  bundleMids: string[] | null
}

interface CallRecord {
  readonly callId: string
  instance: Instance
  /** From tag of the first offer. */
  readonly offererTag: string
  /** True once rtpengine accepted an offer for this call (counted in activeSessions). */
  established: boolean
  /** Tags of the answering ends (one per early or confirmed dialog). */
  readonly branches: Set<string>
  pendingOffer: PendingOffer | null
}

/** Status of one instance, for health checks and benchmarks. */
export interface RtpengineInstanceStatus {
  address: string
  alive: boolean
  /** Round trip of the last request answered without retransmission (ms). */
  lastRttMs: number | null
}

/**
 * Payload types that carry no audio of their own: a call whose only common "codecs" are
 * these has no common codec.
 */
const NON_AUDIO_CODECS = new Set(['telephone-event', 'cn', 'red', 'rtx', 'ulpfec', 'flexfec', 'flexfec-03'])

/** RFC 3551 §6 static payload types that may appear without an a=rtpmap line. */
const STATIC_PAYLOAD_TYPES: Record<number, string> = {
  0: 'pcmu/8000',
  3: 'gsm/8000',
  4: 'g723/8000',
  8: 'pcma/8000',
  9: 'g722/8000',
  13: 'cn/8000',
  18: 'g729/8000',
}

/**
 * MediaDriver on rtpengine (ng protocol over UDP). See the module comment.
 *
 * Errors: MediaError 488 when the two sides share no codec (or rtpengine refuses the SDP),
 * 503 when no instance is alive (or the call's instance died between offer and answer, or
 * rtpengine ran out of ports), 500 otherwise.
 */
export class RtpengineDriver implements MediaDriver {
  readonly name = 'rtpengine'
  private readonly instances: Instance[]
  private readonly calls = new Map<string, CallRecord>()
  private readonly log: Logger
  private readonly scheduler: Scheduler
  private readonly probeIntervalMs: number
  private readonly deleteDelaySeconds: number
  private readonly publicAddress: string | undefined
  private readonly interfaces: { webrtc: string; rtp: string } | undefined
  private closed = false

  constructor(options: RtpengineDriverOptions) {
    if (options.instances.length === 0) throw new RangeError('RtpengineDriver: at least one instance is needed')
    this.log = options.logger ?? makeLogger('media.rtpengine')
    this.scheduler = options.scheduler ?? new RealScheduler()
    this.probeIntervalMs = options.probeIntervalMs ?? 3_000
    this.deleteDelaySeconds = options.deleteDelaySeconds ?? 0
    this.publicAddress = options.publicAddress
    this.interfaces = options.interfaces
    this.instances = options.instances.map((address, index) => ({
      index,
      key: `${address.host}:${address.port}`,
      client: new NgClient({
        host: address.host,
        port: address.port,
        retransmitMs: options.retransmitMs,
        tries: options.tries,
        scheduler: this.scheduler,
        logger: this.log,
      }),
      alive: true,
      probeTimer: null,
    }))
  }

  /** Calls between their first accepted offer and their delete. */
  get activeSessions(): number {
    let n = 0
    for (const call of this.calls.values()) if (call.established) n++
    return n
  }

  /**
   * ng `offer` (docs/ng_control_protocol.md "offer Message": keys `sdp`, `call-id`,
   * `from-tag`; "The response message only contains the key `sdp` in addition to
   * `result`"). A re-offer (re-INVITE, hold) carries `to-tag` and goes to the call's
   * instance, so that rtpengine keeps its ports.
   *
   * @throws MediaError 488 when the offer (or rtpengine's rewrite of it) has no usable
   *   codec, 503 when no instance answers, 500 for other refusals.
   */
  async offer(request: MediaOfferRequest): Promise<string> {
    this.assertOpen()
    const { session, sdp, from, to } = request
    const offered = parseSdp(sdp)
    if (!offered || !hasUsableCodec(offered)) {
      throw new MediaError(488, 'offer has no active audio m-line with a codec')
    }
    const pendingOffer: PendingOffer = {
      fromTag: session.fromTag,
      codecs: codecsOf(offered),
      bundleMids: bundleMidsOf(offered),
    }
    const dict: Record<string, BencodeInput | undefined> = {
      'call-id': session.callId,
      'from-tag': session.fromTag,
      'to-tag': session.toTag,
      sdp,
      ...flagsTowards(to),
      direction: this.interfaces ? [this.interfaces[from], this.interfaces[to]] : undefined,
    }

    const existing = this.calls.get(session.callId)
    let reply: BencodeDict | null = null
    if (existing?.instance.alive) {
      try {
        reply = await this.request(existing.instance, 'offer', dict, session)
      } catch (error) {
        if (!(error instanceof NgError)) throw error
        // The call's instance died: the offer re-creates the call on another one.
        this.log.warn('call instance is down; moving the call', { callId: session.callId, instance: existing.instance.key })
      }
    } else if (existing) {
      this.log.warn('call instance is down; moving the call', { callId: session.callId, instance: existing.instance.key })
    }
    let record: CallRecord
    if (reply && existing) {
      record = existing
    } else {
      const placed = await this.placeNewCall(dict, session)
      reply = placed.reply
      if (existing) {
        existing.instance = placed.instance
        record = existing
      } else {
        record = {
          callId: session.callId,
          instance: placed.instance,
          offererTag: session.fromTag,
          established: false,
          branches: new Set(),
          pendingOffer: null,
        }
        this.calls.set(session.callId, record)
      }
    }

    const text = reply.sdp
    const rewritten = replySdp(reply)
    if (!hasUsableCodec(rewritten)) {
      if (!record.established) await this.dropCall(record, session)
      throw new MediaError(488, 'rtpengine left no codec in the offer')
    }
    record.established = true
    record.pendingOffer = pendingOffer
    return this.finishSdp(text as string, rewritten, to, 'offer', pendingOffer)
  }

  /**
   * ng `answer`: "identical to the offer message, with the additional requirement that the
   * dictionary must contain the key `to-tag`". `from-tag` stays the offerer's tag.
   *
   * @throws MediaError 488 when the answer shares no codec with the offer (or rejects every
   *   stream), 503 when the call's instance is down, 500 for other refusals.
   */
  async answer(request: MediaAnswerRequest): Promise<string> {
    this.assertOpen()
    const { session, sdp, to } = request
    const answered = parseSdp(sdp)
    const record = this.calls.get(session.callId)
    const pending = record?.pendingOffer?.fromTag === session.fromTag ? record.pendingOffer : null
    if (!answered || !hasUsableCodec(answered)) {
      throw new MediaError(488, 'answer has no active audio m-line with a codec')
    }
    if (pending && !sharesCodec(pending.codecs, codecsOf(answered))) {
      throw new MediaError(488, 'answer shares no codec with the offer')
    }
    const instance = record?.instance ?? this.rankAlive(session.callId)[0]
    if (!instance || !instance.alive) {
      throw new MediaError(503, `rtpengine for call ${session.callId} is down`)
    }
    let reply: BencodeDict
    try {
      reply = await this.request(instance, 'answer', {
        'call-id': session.callId,
        'from-tag': session.fromTag,
        'to-tag': session.toTag,
        sdp,
        ...flagsTowards(to),
      }, session)
    } catch (error) {
      throw error instanceof NgError ? new MediaError(503, `rtpengine ${instance.key} is down (${error.kind})`) : error
    }
    const text = reply.sdp
    const rewritten = replySdp(reply)
    if (!hasUsableCodec(rewritten)) throw new MediaError(488, 'rtpengine left no codec in the answer')
    // The offer stays pending: a forked call gets one answer per branch (18x and 2xx).
    record?.branches.add(session.toTag)
    return this.finishSdp(text as string, rewritten, to, 'answer', pending)
  }

  /**
   * ng `delete`: "must contain at least the keys `call-id` and `from-tag` and may optionally
   * include `to-tag`". Sent with `delete delay` (default 0, see options). Never throws: an
   * unknown call (rtpengine answers "Unknown call-id") is not an error, and an unreachable
   * instance is logged and marked dead.
   */
  async delete(session: MediaSessionId): Promise<void> {
    const record = this.calls.get(session.callId)
    const instance = record?.instance ?? this.rankAlive(session.callId)[0]
    if (record) this.forget(record, session)
    if (!instance || !instance.alive || this.closed) return
    try {
      await instance.client.request('delete', {
        'call-id': session.callId,
        'from-tag': session.fromTag,
        'to-tag': session.toTag,
        'delete-delay': this.deleteDelaySeconds,
      })
    } catch (error) {
      if (error instanceof NgError && error.instanceDown) this.markDead(instance, error)
      else this.log.debug('delete refused', { callId: session.callId, reason: describe(error) })
    }
  }

  /** Deletes every call on rtpengine, stops probing and closes the ng sockets. */
  async close(): Promise<void> {
    if (this.closed) return
    const calls = [...this.calls.values()]
    await Promise.allSettled(calls.map((call) => this.delete({ callId: call.callId, fromTag: call.offererTag })))
    this.closed = true
    this.calls.clear()
    for (const instance of this.instances) {
      if (instance.probeTimer) this.scheduler.clearTimer(instance.probeTimer)
      instance.probeTimer = null
      await instance.client.close()
    }
  }

  /** Liveness of each configured instance, in configuration order. */
  instanceStatus(): RtpengineInstanceStatus[] {
    return this.instances.map((instance) => ({
      address: instance.key,
      alive: instance.alive,
      lastRttMs: instance.client.lastRttMs,
    }))
  }

  /** Pings every instance now (updating liveness); resolves with their status. */
  async probe(): Promise<RtpengineInstanceStatus[]> {
    await Promise.all(this.instances.map((instance) => this.probeOnce(instance)))
    return this.instanceStatus()
  }

  /**
   * ng `statistics` of one instance (its `statistics` dictionary: current and total
   * sessions, packet rates, per-command delays), for benchmarks and metrics.
   *
   * @throws NgError
   */
  async statistics(instanceIndex = 0): Promise<BencodeDict> {
    const reply = await this.instanceAt(instanceIndex).client.request('statistics')
    const stats = reply.statistics
    return typeof stats === 'object' && stats !== null && !Array.isArray(stats) && !(stats instanceof Uint8Array)
      ? (stats as BencodeDict)
      : reply
  }

  /**
   * ng `list`: the Call-IDs one instance holds ("limited to 32 elements by default").
   *
   * @throws NgError
   */
  async listCalls(instanceIndex = 0, limit = 32): Promise<string[]> {
    const reply = await this.instanceAt(instanceIndex).client.request('list', { limit })
    const calls = reply.calls
    return Array.isArray(calls) ? calls.filter((c): c is string => typeof c === 'string') : []
  }

  /** The instance (configuration index) a call is pinned to, or null for an unknown call. */
  instanceOf(callId: string): number | null {
    return this.calls.get(callId)?.instance.index ?? null
  }

  // ---------------------------------------------------------------------------------------

  /** Tries the alive instances in hash order until one accepts the new call. */
  private async placeNewCall(
    dict: Record<string, BencodeInput | undefined>,
    session: MediaSessionId,
  ): Promise<{ instance: Instance; reply: BencodeDict }> {
    for (const instance of this.rankAlive(session.callId)) {
      try {
        return { instance, reply: await this.request(instance, 'offer', dict, session) }
      } catch (error) {
        if (error instanceof NgError) continue // marked dead; try the next one
        throw error
      }
    }
    throw new MediaError(503, 'no rtpengine instance is alive')
  }

  /**
   * One offer/answer to `instance`. Resolves with the reply; rejects with the NgError when
   * the instance is down (after marking it dead), with a MediaError for everything else.
   */
  private async request(
    instance: Instance,
    command: 'offer' | 'answer',
    dict: Record<string, BencodeInput | undefined>,
    session: MediaSessionId,
  ): Promise<BencodeDict> {
    try {
      const reply = await instance.client.request(command, dict)
      this.markAlive(instance)
      return reply
    } catch (error) {
      if (error instanceof NgError && error.instanceDown) {
        this.markDead(instance, error)
        throw error
      }
      throw toMediaError(error, session)
    }
  }

  /**
   * Rendezvous (highest random weight) hashing: each alive instance scores
   * hash(instance, Call-ID); the highest score wins, the rest are the fallbacks in order.
   */
  private rankAlive(callId: string): Instance[] {
    return this.instances
      .filter((instance) => instance.alive)
      .map((instance) => ({ instance, score: hash32(`${instance.key}\n${callId}`) }))
      .sort((a, b) => b.score - a.score || a.instance.index - b.instance.index)
      .map((entry) => entry.instance)
  }

  private markAlive(instance: Instance): void {
    if (instance.alive) return
    instance.alive = true
    if (instance.probeTimer) this.scheduler.clearTimer(instance.probeTimer)
    instance.probeTimer = null
    this.log.info('rtpengine instance is back', { instance: instance.key })
  }

  private markDead(instance: Instance, error: NgError): void {
    if (!instance.alive) return
    instance.alive = false
    this.log.warn('rtpengine instance is down', { instance: instance.key, reason: error.message })
    this.scheduleProbe(instance)
  }

  private scheduleProbe(instance: Instance): void {
    if (this.closed || instance.probeTimer) return
    instance.probeTimer = this.scheduler.setTimer(this.probeIntervalMs, () => {
      instance.probeTimer = null
      void this.probeOnce(instance).then(() => {
        if (!instance.alive) this.scheduleProbe(instance)
      })
    })
  }

  private async probeOnce(instance: Instance): Promise<void> {
    if (this.closed) return
    try {
      await instance.client.ping()
      this.markAlive(instance)
    } catch (error) {
      if (error instanceof NgError) this.markDead(instance, error)
    }
  }

  /** Forgets a call (whole call without `toTag`, else the branch of that dialog). */
  private forget(record: CallRecord, session: MediaSessionId): void {
    if (session.toTag === undefined) {
      this.calls.delete(record.callId)
      return
    }
    // The dialog's other end is the answerer: whichever tag is not the offerer's.
    const branch = session.fromTag === record.offererTag ? session.toTag : session.fromTag
    record.branches.delete(branch)
    record.branches.delete(session.toTag)
    if (record.branches.size === 0) this.calls.delete(record.callId)
  }

  /** Deletes a call that never became established (its first offer was refused by us). */
  private async dropCall(record: CallRecord, session: MediaSessionId): Promise<void> {
    this.calls.delete(record.callId)
    try {
      await record.instance.client.request('delete', {
        'call-id': session.callId,
        'from-tag': session.fromTag,
        'delete-delay': 0,
      })
    } catch {
      // best effort: rtpengine times the call out anyway
    }
  }

  /**
   * SDP repairs for the leg the SDP goes to (a `webrtc` leg): BUNDLE group and the public
   * address. Returns the text to forward.
   */
  private finishSdp(
    text: string,
    session: SessionDescription,
    to: MediaProfile,
    kind: 'offer' | 'answer',
    offer: PendingOffer | null,
  ): string {
    if (to !== 'webrtc') return text
    const changed = ensureBundle(session, kind, offer)
    if (this.publicAddress) advertise(session, this.publicAddress)
    return changed || this.publicAddress ? write(session) : text
  }

  private instanceAt(index: number): Instance {
    const instance = this.instances[index]
    if (!instance) throw new RangeError(`no rtpengine instance #${index}`)
    return instance
  }

  private assertOpen(): void {
    if (this.closed) throw new MediaError(503, 'rtpengine driver is closed')
  }
}

/**
 * The ng flags that make rtpengine speak `profile` on the leg the SDP goes to.
 *
 * Towards a browser (JSEP RFC 8829 §5.1.2: "UDP/TLS/RTP/SAVPF" with ICE, DTLS-SRTP and
 * rtcp-mux). DTLS role, RFC 5763 §5: "The endpoint that is the offerer MUST use the setup
 * attribute value of setup:actpass [...]. The answerer MUST use either a setup attribute
 * value of setup:active or setup:passive." With `DTLS: passive` rtpengine answers
 * setup:passive and, when it offers (actpass), browsers answer active: the gateway side is
 * the DTLS server in every exchange, so the role stays stable across re-INVITEs
 * (docs/architecture.md §5). The role matters beyond the handshake: RFC 5764 §4.2 splits the keying
 * material by role ("client_write_SRTP_master_key[...]; server_write_SRTP_master_key[...];
 * client_write_SRTP_master_salt[...]; server_write_SRTP_master_salt[...]"), so a role flip
 * on a re-INVITE means a new handshake and new keys.
 *
 * ng `rtcp-mux`: "`require` [...] This option is provided to talk to WebRTC clients";
 * "`demux`: If the client is offering rtcp-mux, don't offer it to the other side, but
 * accept it back to the offering client" (legacy peers often lack rtcp-mux).
 */
function flagsTowards(profile: MediaProfile): Record<string, BencodeInput> {
  if (profile === 'rtp') {
    return {
      'transport-protocol': 'RTP/AVP',
      ICE: 'remove',
      DTLS: 'off',
      SDES: ['off'],
      'rtcp-mux': ['demux'],
      replace: ['origin', 'session-connection'],
    }
  }
  return {
    'transport-protocol': 'UDP/TLS/RTP/SAVPF',
    ICE: 'force',
    DTLS: 'passive',
    SDES: ['off'],
    'rtcp-mux': ['require'],
    replace: ['origin', 'session-connection'],
    flags: ['generate-mid', 'full-rtcp-attribute'],
  }
}

/**
 * RFC 8843 §7.3: "The answerer is only allowed to include a BUNDLE group in an initial
 * BUNDLE answer if the offerer requested the BUNDLE group to be created in the
 * corresponding initial BUNDLE offer". rtpengine 10.5 drops the group from its answer even
 * when the browser offered it, and Chrome (bundlePolicy max-bundle) then fails with
 * "max-bundle configured but session description has no BUNDLE group" — for remote offers
 * as well, so offers going to a browser get a group too (an offerer may always offer one).
 */
function ensureBundle(session: SessionDescription, kind: 'offer' | 'answer', offer: PendingOffer | null): boolean {
  if (session.groups?.some((g) => g.type.toUpperCase() === 'BUNDLE')) return false
  if (kind === 'answer' && !offer?.bundleMids) return false
  const active = session.media.filter((m) => m.port !== 0)
  if (active.length === 0 || active.some((m) => m.mid === undefined)) return false
  let mids = active.map((m) => String(m.mid))
  if (kind === 'answer' && offer?.bundleMids) {
    const offered = new Set(offer.bundleMids)
    mids = mids.filter((mid) => offered.has(mid))
    if (mids.length === 0) return false
  }
  session.groups = [...(session.groups ?? []), { type: 'BUNDLE', mids: mids.join(' ') }]
  return true
}

/** Writes `address` as the relay's address into an SDP going to a browser. */
function advertise(session: SessionDescription, address: string): void {
  const version = address.includes(':') ? 6 : 4
  session.origin.address = address
  session.origin.ipVer = version
  if (session.connection) session.connection = { version, ip: address }
  for (const media of session.media) {
    if (media.connection) media.connection = { version, ip: address }
    if (media.rtcp?.address) {
      media.rtcp.address = address
      media.rtcp.ipVer = version
    }
    for (const candidate of media.candidates ?? []) {
      if (candidate.type === 'host') candidate.ip = address
    }
  }
}

function parseSdp(text: string): SessionDescription | null {
  try {
    const session = parse(text)
    return Array.isArray(session.media) && session.media.length > 0 ? session : null
  } catch {
    return null
  }
}

function replySdp(reply: BencodeDict): SessionDescription {
  const sdp = reply.sdp
  const session = typeof sdp === 'string' ? parseSdp(sdp) : null
  if (!session) throw new MediaError(500, 'rtpengine replied without a usable SDP')
  return session
}

/** The codecs of one m-line, as `name/rate` in lower case (static payload types included). */
function mediaCodecs(media: MediaDescription): string[] {
  const byPayload = new Map<number, string>()
  for (const rtp of media.rtp ?? []) byPayload.set(rtp.payload, `${rtp.codec.toLowerCase()}/${rtp.rate ?? ''}`)
  const payloads = String(media.payloads ?? '')
    .split(/\s+/)
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
  const out: string[] = []
  for (const pt of payloads) {
    const codec = byPayload.get(pt) ?? STATIC_PAYLOAD_TYPES[pt]
    if (codec) out.push(codec)
  }
  return out
}

function isAudioCodec(codec: string): boolean {
  return !NON_AUDIO_CODECS.has(codec.slice(0, codec.indexOf('/')))
}

/** Audio codecs of the active audio m-lines. */
function codecsOf(session: SessionDescription): Set<string> {
  const out = new Set<string>()
  for (const media of session.media) {
    if (media.type !== 'audio' || media.port === 0) continue
    for (const codec of mediaCodecs(media)) if (isAudioCodec(codec)) out.add(codec)
  }
  return out
}

/** True when some active audio m-line has a payload type that carries audio. */
function hasUsableCodec(session: SessionDescription | null): session is SessionDescription {
  return session !== null && codecsOf(session).size > 0
}

function sharesCodec(offered: Set<string>, answered: Set<string>): boolean {
  for (const codec of answered) if (offered.has(codec)) return true
  return false
}

function bundleMidsOf(session: SessionDescription): string[] | null {
  const group = session.groups?.find((g) => g.type.toUpperCase() === 'BUNDLE')
  return group ? String(group.mids).split(/\s+/).filter(Boolean) : null
}

/**
 * rtpengine's `error-reason` mapped to a SIP status: SDP it cannot use -> 488; no ports or
 * a session limit -> 503; anything else -> 500.
 */
function toMediaError(error: unknown, session: MediaSessionId): MediaError {
  if (error instanceof MediaError) return error
  const reason = describe(error)
  if (error instanceof NgError && error.kind === 'error-reply') {
    if (/port|limit|capacity|overload/i.test(reason)) return new MediaError(503, `rtpengine: ${reason}`)
    if (/sdp|protocol|codec|media/i.test(reason)) return new MediaError(488, `rtpengine: ${reason}`)
  }
  if (error instanceof NgError && error.kind === 'closed') return new MediaError(503, reason)
  return new MediaError(500, `rtpengine (call ${session.callId}): ${reason}`)
}

/** FNV-1a over the UTF-8 bytes, then the murmur3 finaliser for avalanche. Unsigned 32 bit. */
function hash32(text: string): number {
  let h = 0x811c9dc5
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * ICE servers and the microphone, for every call of a signaling client. Protocol-neutral:
 * nothing here knows SIP, so a JSON-over-WebSocket client can use it as it is.
 *
 * - ICE servers (STUN, and TURN with REST credentials) come from the gateway's
 *   `iceServersPath`, fetched with the account's credentials (HTTP Basic) once the registrar
 *   has accepted them, and again before every call (the TURN credentials expire).
 * - The RTCConfiguration is `bundlePolicy: 'max-bundle'` and `rtcpMuxPolicy: 'require'`
 *   (Chrome requires rtcp-mux; the gateway's media driver demuxes for legacy peers), with
 *   `iceTransportPolicy: 'relay'` when the user forces TURN relay.
 * - The microphone is opened with echo cancellation, noise suppression and auto gain, on the
 *   chosen input device if there is one.
 */
import type { CallStartResult, SignalingPreferences } from './signaling-client.ts'
import { fetchIceServers, hasTurnServer, type FetchLike, type IceServerList } from './client-config.ts'

/** Where and as whom to fetch the ICE servers (TURN REST credentials). */
export interface IceServerAccount {
  /** Gateway origin, e.g. `https://pbx.example.com`. */
  readonly origin: string
  /** Path of the ICE servers endpoint (client-config `iceServersPath`). */
  readonly path: string
  readonly user: string
  readonly password: string
}

/**
 * One call's side of a microphone switch (`MediaSetup.switchMicrophone`). Read lazily, one
 * call at a time, because calls may end while the previous one waits for getUserMedia.
 */
export interface MicrophoneUser {
  /** The call is not ended and has a peer connection whose sender track can be replaced. */
  readonly canReplaceMicrophone: boolean
  /** Whether the new track starts enabled (false while muted or on hold). */
  readonly sendsAudio: boolean
  /** Puts `stream` on the audio sender; never rejects. */
  replaceMicrophone(stream: MediaStream): Promise<void>
}

export interface MediaSetupOptions {
  readonly fetch: FetchLike
  /** navigator.mediaDevices.getUserMedia, or a fake in tests. */
  readonly getUserMedia: (constraints: MediaStreamConstraints) => Promise<MediaStream>
  /** The current preferences (input device, force relay); read on every use. */
  readonly preferences: () => SignalingPreferences
  /** The signed-in account, or undefined while signed out / not configured. */
  readonly iceServerAccount: () => IceServerAccount | undefined
}

type MediaFailure = Extract<CallStartResult, { ok: false }>

/** Maps a getUserMedia rejection (a DOMException name) to a call start failure for the user. */
function mediaErrorResult(error: unknown): MediaFailure {
  const name = (error as { name?: string } | undefined)?.name
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return { ok: false, reason: 'media-denied', message: 'Microphone access is blocked. Allow it in the browser (address bar), then try again.' }
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') {
    return { ok: false, reason: 'no-microphone', message: 'No microphone found. Plug one in or pick another in Settings.' }
  }
  if (name === 'NotReadableError') {
    return { ok: false, reason: 'no-microphone', message: 'The microphone is in use by another application.' }
  }
  return { ok: false, reason: 'failed', message: `Could not start the microphone: ${(error as Error)?.message ?? error}` }
}

/**
 * Holds the ICE server list of the signed-in account and opens the microphone. Its methods
 * never throw: failures are result objects (`ok: false` with a sentence for the user) or,
 * for ICE servers, the previous unexpired list (or none).
 */
export class MediaSetup {
  private iceList: (IceServerList & { fetchedAt: number }) | undefined

  constructor(private readonly options: MediaSetupOptions) {}

  /** The peer connection configuration for a new call, from the current ICE list and preferences. */
  rtcConfiguration(): RTCConfiguration {
    return {
      iceServers: this.iceList?.iceServers ?? [],
      iceTransportPolicy: this.options.preferences().forceRelay ? 'relay' : 'all',
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
      iceCandidatePoolSize: 0,
    }
  }

  /** Fetches the ICE servers (TURN REST credentials); on failure keeps an unexpired list or uses none. */
  async refreshIceServers(): Promise<void> {
    const account = this.options.iceServerAccount()
    if (!account) return
    const result = await fetchIceServers(account.origin, account.path, account.user, account.password, this.options.fetch)
    if (result.ok) {
      this.iceList = { ...result.list, fetchedAt: Date.now() }
    } else if (this.iceList && Date.now() - this.iceList.fetchedAt > this.iceList.ttlSeconds * 1000) {
      this.iceList = undefined
    }
  }

  /** True when the ICE list exists and is younger than half its TTL. */
  iceListFresh(now = Date.now()): boolean {
    const l = this.iceList
    return l !== undefined && now - l.fetchedAt < (l.ttlSeconds * 1000) / 2
  }

  /** Drops the ICE server list (on sign-out: its TURN credentials belong to the old account). */
  forgetIceServers(): void {
    this.iceList = undefined
  }

  /**
   * Makes sure the ICE servers are fresh enough for a call and checks the relay-only
   * preference against them. A list younger than half its TTL (TURN REST credentials are
   * valid for `ttlSeconds`) is used as it is: no HTTP round trip between the click and the
   * offer (measured 12-15 ms of the click -> ringing time in Chromium). An older or missing
   * list is fetched first.
   */
  async prepareIce(): Promise<{ ok: true } | MediaFailure> {
    if (!this.iceListFresh()) await this.refreshIceServers()
    if (this.options.preferences().forceRelay && !hasTurnServer(this.iceList?.iceServers ?? [])) {
      return {
        ok: false,
        reason: 'relay-unavailable',
        message: '“Force relay” is on, but the server offers no TURN relay. Turn it off in Settings or ask your administrator.',
      }
    }
    return { ok: true }
  }

  /** getUserMedia constraints for the microphone: the chosen device (exact) with the usual processing. */
  audioConstraints(): MediaTrackConstraints | boolean {
    const id = this.options.preferences().inputDeviceId
    const base: MediaTrackConstraints = { echoCancellation: true, noiseSuppression: true, autoGainControl: true }
    return id ? { ...base, deviceId: { exact: id } } : base
  }

  /** Opens the microphone (audio only). Rejects with getUserMedia's DOMException. */
  openMicrophone(): Promise<MediaStream> {
    return this.options.getUserMedia({ audio: this.audioConstraints(), video: false })
  }

  /** Opens the microphone; a failure comes back as `media-denied` / `no-microphone` / `failed`. */
  async acquireMicrophone(): Promise<{ ok: true; stream: MediaStream } | MediaFailure> {
    try {
      const stream = await this.openMicrophone()
      return { ok: true, stream }
    } catch (error) {
      return mediaErrorResult(error)
    }
  }

  /**
   * After the input device changed: opens the new microphone for each live call and swaps it
   * in, one call at a time. A call whose microphone cannot be opened keeps the old one.
   */
  async switchMicrophone(calls: Iterable<MicrophoneUser>): Promise<void> {
    for (const call of calls) {
      if (!call.canReplaceMicrophone) continue
      const got = await this.acquireMicrophone()
      if (!got.ok) continue
      for (const track of got.stream.getAudioTracks()) track.enabled = call.sendsAudio
      await call.replaceMicrophone(got.stream)
    }
  }
}

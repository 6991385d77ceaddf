/**
 * Playwright helpers for driving the Patchbay softphone in Debian's Chromium
 * (see /work/shared/testing-with-real-peers.md):
 *
 * - `launchChromium()` with the flags that make WebRTC work headless on loopback
 * - `openSoftphone()` opens the page with `?test=1` (the app then exposes `window.__pb`)
 *   and replaces the microphone by a sine tone (an init script overrides getUserMedia to
 *   return an OscillatorNode -> MediaStreamAudioDestinationNode track)
 * - `signIn()`, `dial()`, `waitForCall()` operate the UI like a user (Playwright's CSS
 *   locators pierce the open shadow roots of the pb- elements)
 * - `remoteSpectrum()` reads what the far end sounds like: an AnalyserNode (fftSize 8192)
 *   on the active call's remote stream; returns the peak frequency (Hz) and level (dBFS)
 * - `watchDtmfSender()` / `dtmfTonesSent()` record RTCDTMFSender `tonechange` events, and
 *   `watchDtmfTones()` / `dtmfTonesHeard()` detect DTMF digits (ITU-T Q.23 frequency pairs)
 *   in the far end's audio by Goertzel filters
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { StunClass, StunMethod, decodeStunMessage, encodeStunMessage, newTransactionId } from '../../gateway/src/ice/stun-message.ts'
import { freePortRange } from '../support/ports.ts'
import { requireBinary, type PeerProcess, type PeerSet } from '../support/processes.ts'
import { installToneMicrophone } from '../support/browser/page-scripts.ts'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  // Keep timers and audio running in pages that are not in front.
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
]

/** Launches Debian's Chromium; throws with install instructions when it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}. Install it with: apt-get update && apt-get install -y chromium (or set CHROMIUM_PATH)`)
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS] })
}

export interface SoftphonePage {
  readonly context: BrowserContext
  readonly page: Page
  /** Frequency of the fake microphone tone (Hz). */
  readonly toneHz: number
  close(): Promise<void>
}


export interface OpenOptions {
  readonly toneHz: number
  readonly viewport?: { width: number; height: number }
  /** Forward page console errors to the test output. */
  readonly logErrors?: boolean
  readonly label?: string
  /** `?signaling=` of the page: SIP over WebSocket or JSON (default: the page's own default, SIP). */
  readonly signaling?: 'sip' | 'json'
}

/** Opens the softphone at `baseUrl` in a new context with a tone as microphone. */
export async function openSoftphone(browser: Browser, baseUrl: string, options: OpenOptions): Promise<SoftphonePage> {
  const context = await browser.newContext({
    viewport: options.viewport ?? { width: 1280, height: 800 },
    permissions: ['microphone'],
  })
  await context.addInitScript(installToneMicrophone, options.toneHz)
  const page = await context.newPage()
  if (options.logErrors !== false) {
    const label = options.label ?? `tone ${options.toneHz}`
    page.on('pageerror', (e) => console.error(`[${label}] page error:`, e.message))
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`[${label}] console:`, m.text())
    })
  }
  const url = new URL(options.signaling ? `/?test=1&signaling=${options.signaling}` : '/?test=1', baseUrl).toString()
  await page.goto(url)
  await page.waitForFunction((mode) => {
    const pb = (window as unknown as { __pb?: { signaling?: string } }).__pb
    return Boolean(pb) && (mode === null || pb!.signaling === mode)
  }, options.signaling ?? null)
  return { context, page, toneHz: options.toneHz, close: () => context.close() }
}

/** Fills the sign-in form and submits it. `expect: 'registered'` waits for the status pill. */
export async function signIn(page: Page, user: string, password: string, expect: 'registered' | 'none' = 'registered'): Promise<void> {
  await page.locator('pb-login input[name="user"]').fill(user)
  await page.locator('pb-login input[name="password"]').fill(password)
  await page.locator('pb-login button[type="submit"]').click()
  if (expect === 'registered') await waitForRegistration(page, 'registered')
}

/** Waits until the SignalingClient reports the given registration status. */
export async function waitForRegistration(page: Page, status: string, timeout = 15_000): Promise<void> {
  await page.waitForFunction((s) => {
    const pb = (window as unknown as { __pb?: { client: { registration: { status: string } } } }).__pb
    return pb?.client.registration.status === s
  }, status, { timeout })
}

/** The current registration state as the client reports it. */
export async function registration(page: Page): Promise<{ status: string; reason?: string; message?: string; statusCode?: number }> {
  return page.evaluate(() => (window as unknown as { __pb: { client: { registration: { status: string } } } }).__pb.client.registration)
}

export interface CallView {
  readonly id: string
  readonly state: string
  readonly direction: string
  readonly onHold: boolean
  readonly muted: boolean
  readonly remoteUser: string
  readonly dtmfSent: string
}

/** Calls not yet ended, as the client reports them. */
export async function calls(page: Page): Promise<CallView[]> {
  return page.evaluate(() => {
    const pb = (window as unknown as { __pb: { client: { calls: Array<Record<string, unknown> & { remote: { user: string } }> } } }).__pb
    return pb.client.calls.map((c) => ({
      id: String(c.id), state: String(c.state), direction: String(c.direction), onHold: Boolean(c.onHold),
      muted: Boolean(c.muted), remoteUser: c.remote.user, dtmfSent: String(c.dtmfSent),
    }))
  })
}

/** Waits until some call matches `predicate` (evaluated in the test on polled snapshots). */
export async function waitForCall(page: Page, predicate: (call: CallView) => boolean, timeout = 15_000): Promise<CallView> {
  const deadline = Date.now() + timeout
  for (;;) {
    const found = (await calls(page)).find(predicate)
    if (found) return found
    if (Date.now() > deadline) throw new Error(`timed out waiting for a call; calls now: ${JSON.stringify(await calls(page))}`)
    await page.waitForTimeout(50)
  }
}

/** Waits until the page has no call in progress. */
export async function waitForIdle(page: Page, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout
  while ((await calls(page)).length > 0) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for idle; calls now: ${JSON.stringify(await calls(page))}`)
    await page.waitForTimeout(50)
  }
}

/** Types a target in the dial field and presses the Call button (closing a finished call's card first). */
export async function dial(page: Page, target: string): Promise<void> {
  const close = page.locator('pb-call-card .ended-actions button', { hasText: 'Close' })
  if (await close.count()) await close.first().click().catch(() => undefined)
  await page.locator('pb-dialer input#target').fill(target)
  await page.locator('pb-dialer button.call').click()
}

export interface Spectrum {
  /** Frequency of the strongest bin, refined by parabolic interpolation (Hz). */
  readonly peakHz: number
  /** Level of the strongest bin (dBFS); below about -80 there is no tone. */
  readonly peakDb: number
}

/**
 * Reads the far end's audio of the page's first connected (or early-media) call with an
 * AnalyserNode (fftSize 8192, 48 kHz -> 5.9 Hz bins), averaged over `ms`.
 */
export async function remoteSpectrum(page: Page, ms = 400): Promise<Spectrum> {
  return page.evaluate(async (windowMs) => {
    type Pb = { client: { calls: Array<{ id: string; state: string; onHold: boolean }>; getRemoteStream(id: string): MediaStream | undefined } }
    const w = window as unknown as {
      __pb?: Pb; __pbPeerConnections?: RTCPeerConnection[]; __pbRemoteStream?: MediaStream
      __pbProbe?: { ctx: AudioContext; stream?: MediaStream; analyser?: AnalyserNode; source?: MediaStreamAudioSourceNode }
    }
    let stream: MediaStream | undefined
    if (w.__pb) {
      const call = w.__pb.client.calls.find((c) => (c.state === 'connected' || c.state === 'early-media') && !c.onHold)
        ?? w.__pb.client.calls.find((c) => c.state === 'connected')
      if (!call) throw new Error('no connected call')
      stream = w.__pb.client.getRemoteStream(call.id)
    } else {
      // Another page (a JsSIP or SIP.js harness): the newest peer connection's remote audio,
      // recorded by capturePeerConnections (tests/support/browser/page-scripts.ts).
      const pc = w.__pbPeerConnections?.at(-1)
      const track = pc?.getReceivers().map((r) => r.track).find((t) => t.kind === 'audio' && t.readyState === 'live')
      if (track && w.__pbRemoteStream?.getAudioTracks()[0] !== track) {
        w.__pbRemoteStream = new MediaStream([track])
        // Chromium feeds a remote WebRTC track to Web Audio only while a media element plays it.
        const sink = new Audio()
        sink.muted = true
        sink.srcObject = w.__pbRemoteStream
        void sink.play().catch(() => undefined)
      }
      stream = track ? w.__pbRemoteStream : undefined
    }
    if (!stream || stream.getAudioTracks().length === 0) throw new Error('no remote audio track')
    const probe = (w.__pbProbe ??= { ctx: new AudioContext({ sampleRate: 48000 }) })
    if (probe.ctx.state !== 'running') await probe.ctx.resume()
    if (probe.stream !== stream || !probe.analyser) {
      probe.source?.disconnect()
      probe.stream = stream
      probe.source = probe.ctx.createMediaStreamSource(stream)
      probe.analyser = probe.ctx.createAnalyser()
      probe.analyser.fftSize = 8192
      probe.analyser.smoothingTimeConstant = 0
      probe.source.connect(probe.analyser)
    }
    const analyser = probe.analyser
    const bins = new Float32Array(analyser.frequencyBinCount)
    const sum = new Float64Array(bins.length)
    let frames = 0
    const end = performance.now() + windowMs
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, 50))
      analyser.getFloatFrequencyData(bins)
      for (let i = 0; i < bins.length; i++) sum[i]! += Number.isFinite(bins[i]!) ? bins[i]! : -200
      frames++
    }
    let best = 1
    for (let i = 2; i < sum.length - 1; i++) if (sum[i]! > sum[best]!) best = i
    const a = sum[best - 1]! / frames
    const b = sum[best]! / frames
    const c = sum[best + 1]! / frames
    const denom = a - 2 * b + c
    const shift = denom === 0 ? 0 : (0.5 * (a - c)) / denom
    const binHz = probe.ctx.sampleRate / analyser.fftSize
    return { peakHz: (best + shift) * binHz, peakDb: b }
  }, ms)
}

/** Polls `remoteSpectrum` until the far end carries `hz` (±tolerance) or the timeout expires. */
export async function waitForTone(page: Page, hz: number, timeout = 10_000, toleranceHz = 8): Promise<Spectrum> {
  const deadline = Date.now() + timeout
  let last: Spectrum | undefined
  for (;;) {
    try {
      last = await remoteSpectrum(page, 250)
      if (last.peakDb > -70 && Math.abs(last.peakHz - hz) <= toleranceHz) return last
    } catch {
      // no media yet
    }
    if (Date.now() > deadline) throw new Error(`no ${hz} Hz tone from the far end; last: ${JSON.stringify(last)}`)
    await page.waitForTimeout(100)
  }
}

/** Polls until the far end is silent (peak below `silentDb`). */
export async function waitForSilence(page: Page, timeout = 10_000, silentDb = -75): Promise<Spectrum> {
  const deadline = Date.now() + timeout
  let last: Spectrum | undefined
  for (;;) {
    last = await remoteSpectrum(page, 250)
    if (last.peakDb < silentDb) return last
    if (Date.now() > deadline) throw new Error(`far end not silent; last: ${JSON.stringify(last)}`)
    await page.waitForTimeout(100)
  }
}

/** Starts recording RTCDTMFSender `tonechange` events of the page's connected call. */
export async function watchDtmfSender(page: Page): Promise<void> {
  await page.evaluate(() => {
    type Pb = { client: { calls: Array<{ id: string; state: string }>; getPeerConnection(id: string): RTCPeerConnection | undefined } }
    const w = window as unknown as { __pb: Pb; __pbDtmfSent?: string[] }
    const call = w.__pb.client.calls.find((c) => c.state === 'connected')
    const pc = call && w.__pb.client.getPeerConnection(call.id)
    const sender = pc?.getSenders().find((s) => s.track?.kind === 'audio')
    if (!sender?.dtmf) throw new Error('no RTCDTMFSender on the audio sender')
    const sent: string[] = (w.__pbDtmfSent = [])
    sender.dtmf.addEventListener('tonechange', (e) => {
      const tone = (e as RTCDTMFToneChangeEvent).tone
      if (tone) sent.push(tone)
    })
  })
}

/** Tones the RTCDTMFSender started since `watchDtmfSender`. */
export async function dtmfTonesSent(page: Page): Promise<string> {
  return page.evaluate(() => ((window as unknown as { __pbDtmfSent?: string[] }).__pbDtmfSent ?? []).join(''))
}

/**
 * Starts detecting DTMF digits in the far end's audio (Chromium's NetEq plays received
 * RFC 4733 telephone-events as tones): Goertzel power at the eight ITU-T Q.23 frequencies
 * every 512 samples over a 1024-sample Hann window (a ScriptProcessor sees every block); a
 *   digit is recorded when one row and one column tone stand out (10 dB above the other six).
 */
export async function watchDtmfTones(page: Page): Promise<void> {
  await page.evaluate(async () => {
    type Pb = { client: { calls: Array<{ id: string; state: string }>; getRemoteStream(id: string): MediaStream | undefined } }
    const w = window as unknown as { __pb: Pb; __pbDtmfHeard?: string[]; __pbDtmfNode?: unknown }
    const call = w.__pb.client.calls.find((c) => c.state === 'connected')
    const stream = call && w.__pb.client.getRemoteStream(call.id)
    if (!stream) throw new Error('no remote stream')
    const ctx = new AudioContext({ sampleRate: 48000 })
    await ctx.resume()
    const source = ctx.createMediaStreamSource(stream)
    // A ScriptProcessor sees every sample block (no gaps between timer ticks).
    const HOP = 512
    const N = 1024
    const processor = ctx.createScriptProcessor(HOP, 1, 1)
    const sink = ctx.createGain()
    sink.gain.value = 0
    source.connect(processor)
    processor.connect(sink).connect(ctx.destination)
    w.__pbDtmfNode = processor
    const rows = [697, 770, 852, 941]
    const cols = [1209, 1336, 1477, 1633]
    const keys = ['123A', '456B', '789C', '*0#D']
    const frame = new Float32Array(N)
    // Hann window: keeps the far end's own tone (e.g. 1000 Hz) out of the 941/1209 Hz filters.
    const hann = Float32Array.from({ length: N }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / (N - 1)))
    const goertzel = (f: number): number => {
      const k = 2 * Math.cos((2 * Math.PI * f) / ctx.sampleRate)
      let s1 = 0
      let s2 = 0
      for (let i = 0; i < N; i++) {
        const s0 = frame[i]! * hann[i]! + k * s1 - s2
        s2 = s1
        s1 = s0
      }
      return (s1 * s1 + s2 * s2 - k * s1 * s2) / N
    }
    const heard: string[] = (w.__pbDtmfHeard = [])
    // A digit counts when two blocks in a row (21 ms) read it: a tone lasts 160 ms (about fifteen
    // blocks), while a single block of noise once read as a digit on its own ("123#" heard as
    // "*123#" in CI). NetEq's rendering of an event has glitches of a block or two, so the two
    // need not be its first ones. And a digit counts only after 5 blocks (53 ms) without any
    // digit: key presses are separated by silence, while the tail of one (its row tone fading
    // beside the far end's own tone) once read as another digit right behind it ("123#*").
    let absent = 5
    let previous = ''
    let counted = false
    processor.onaudioprocess = (event) => {
      const input = event.inputBuffer.getChannelData(0)
      frame.copyWithin(0, HOP)
      frame.set(input, N - HOP)
      const rp = rows.map(goertzel)
      const cp = cols.map(goertzel)
      const all = [...rp, ...cp].sort((a, b) => b - a)
      const r = rp.indexOf(Math.max(...rp))
      const c = cp.indexOf(Math.max(...cp))
      // Both tones present and clearly (10 dB) above the other six DTMF frequencies.
      const digit = rp[r]! > 1e-3 && cp[c]! > 1e-3 && all[2]! * 10 < Math.min(rp[r]!, cp[c]!) ? keys[r]![c]! : ''
      if (!digit) {
        absent++
        previous = ''
        if (absent >= 5) counted = false
        return
      }
      if (digit === previous && !counted) {
        heard.push(digit)
        counted = true
      }
      previous = digit
      absent = 0
    }
  })
}

/** Digits detected in the far end's audio since `watchDtmfTones`. */
export async function dtmfTonesHeard(page: Page): Promise<string> {
  return page.evaluate(() => ((window as unknown as { __pbDtmfHeard?: string[] }).__pbDtmfHeard ?? []).join(''))
}

/** Visible text of the page including shadow roots (for "declined", "Wrong password"...). */
export async function visibleText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const parts: string[] = []
    const walk = (node: Node): void => {
      if (node.nodeType === Node.TEXT_NODE) {
        const t = node.textContent?.trim()
        if (t) parts.push(t)
        return
      }
      if (node instanceof Element) {
        if (node.tagName === 'STYLE' || node.tagName === 'SCRIPT') return
        if (node.shadowRoot) walk(node.shadowRoot)
      }
      for (const child of node.childNodes) walk(child)
    }
    walk(document.body)
    return parts.join(' ')
  })
}

/** Waits until the page's visible text matches `pattern`. */
export async function waitForText(page: Page, pattern: RegExp, timeout = 10_000): Promise<string> {
  const deadline = Date.now() + timeout
  for (;;) {
    const text = await visibleText(page)
    if (pattern.test(text)) return text
    if (Date.now() > deadline) throw new Error(`text ${pattern} not shown; page says: ${text.slice(0, 600)}`)
    await page.waitForTimeout(100)
  }
}

// ---------------------------------------------------------------------------------------------
// ICE, peer connections and the SIP frames on the WebSocket (added for the resilience and
// ICE relay tests)

/** Opens Settings, sets "Force relay (TURN only)" to `on`, and closes the sheet again. */
export async function setForceRelay(page: Page, on: boolean): Promise<void> {
  await page.locator('header button[aria-label="Settings"]').click()
  const toggle = page.locator('pb-settings input[type="checkbox"]')
  await toggle.setChecked(on)
  await page.locator('pb-settings footer button').click()
  await page.locator('pb-settings').waitFor({ state: 'detached' })
  const stored = await page.evaluate(() => localStorage.getItem('pb.preferences'))
  if ((JSON.parse(stored ?? '{}') as { forceRelay?: boolean }).forceRelay !== on) {
    throw new Error(`setForceRelay(${on}): pb.preferences says ${stored}`)
  }
}

/** What `watchPeerConnections` recorded about one RTCPeerConnection (times: epoch ms, fractional). */
export interface PeerConnectionLog {
  readonly createdAt: number
  readonly iceTransportPolicy: string
  /** The `urls` of each ICE server the page gave the connection. */
  readonly iceServerUrls: string[]
  /** TURN usernames handed to the connection (TURN REST: `expiry:user`). */
  readonly turnUsernames: string[]
  /** Type of each gathered local candidate, in order (`host`, `srflx`, `relay`...), with its address. */
  readonly candidates: Array<{ type: string; address: string; port: number; at: number }>
  readonly localDescriptionAt?: number
  readonly localDescriptionType?: string
  readonly remoteDescriptionAt?: number
  readonly remoteDescriptionType?: string
  /** [state, time] for every iceConnectionState change. */
  readonly iceStates: Array<[string, number]>
  /** [state, time] for every connectionState change (ICE + DTLS). */
  readonly connectionStates: Array<[string, number]>
}

/**
 * From now on, records every RTCPeerConnection the page creates (the class is replaced by a
 * subclass at run time; SIP.js looks the global up when it creates one): configuration,
 * gathered candidates, when the local and remote descriptions were applied, and every
 * ICE / connection state change. Read with `peerConnectionLogs()`.
 */
export async function watchPeerConnections(page: Page): Promise<void> {
  await page.evaluate(() => {
    // Epoch ms with sub-ms precision: comparable between pages of the same machine.
    const now = (): number => performance.timeOrigin + performance.now()
    type Log = {
      createdAt: number; iceTransportPolicy: string; iceServerUrls: string[]; turnUsernames: string[]
      candidates: Array<{ type: string; address: string; port: number; at: number }>
      localDescriptionAt?: number; localDescriptionType?: string; remoteDescriptionAt?: number; remoteDescriptionType?: string
      iceStates: Array<[string, number]>; connectionStates: Array<[string, number]>
    }
    const w = window as unknown as { __pbPcLogs?: Log[]; __pbPcNative?: typeof RTCPeerConnection }
    if (w.__pbPcLogs) return
    const logs: Log[] = (w.__pbPcLogs = [])
    const Native = (w.__pbPcNative = window.RTCPeerConnection)
    const logOf = new WeakMap<RTCPeerConnection, Log>()
    class WatchedPeerConnection extends Native {
      constructor(config?: RTCConfiguration) {
        super(config)
        const servers = config?.iceServers ?? []
        const log: Log = {
          createdAt: now(),
          iceTransportPolicy: config?.iceTransportPolicy ?? 'all',
          iceServerUrls: servers.flatMap((s) => (Array.isArray(s.urls) ? s.urls : [s.urls])),
          turnUsernames: servers.filter((s) => s.username !== undefined).map((s) => String(s.username)),
          candidates: [], iceStates: [], connectionStates: [],
        }
        logs.push(log)
        logOf.set(this, log)
        this.addEventListener('icecandidate', (e) => {
          const c = (e as RTCPeerConnectionIceEvent).candidate
          if (c?.candidate) log.candidates.push({ type: c.type ?? '?', address: c.address ?? '', port: c.port ?? 0, at: now() })
        })
        this.addEventListener('iceconnectionstatechange', () => log.iceStates.push([this.iceConnectionState, now()]))
        this.addEventListener('connectionstatechange', () => log.connectionStates.push([this.connectionState, now()]))
      }

      override async setLocalDescription(description?: RTCLocalSessionDescriptionInit): Promise<void> {
        await super.setLocalDescription(description)
        const log = logOf.get(this)
        if (log && log.localDescriptionAt === undefined) {
          log.localDescriptionAt = now()
          log.localDescriptionType = this.localDescription?.type
        }
      }

      override async setRemoteDescription(description: RTCSessionDescriptionInit): Promise<void> {
        await super.setRemoteDescription(description)
        const log = logOf.get(this)
        if (log && log.remoteDescriptionAt === undefined) {
          log.remoteDescriptionAt = now()
          log.remoteDescriptionType = description.type
        }
      }
    }
    window.RTCPeerConnection = WatchedPeerConnection as typeof RTCPeerConnection
  })
}

/** Everything `watchPeerConnections` recorded, oldest connection first. */
export async function peerConnectionLogs(page: Page): Promise<PeerConnectionLog[]> {
  return page.evaluate(() => (window as unknown as { __pbPcLogs?: PeerConnectionLog[] }).__pbPcLogs ?? [])
}

/**
 * ICE setup time of one connection: from the moment both descriptions are in place (the
 * later of setLocalDescription / setRemoteDescription: the caller applying the answer, the
 * callee applying its own answer) to the first iceConnectionState `connected`, and to
 * connectionState `connected` (ICE + DTLS). Undefined while not connected. For the offerer
 * this is about 0 (it can even be slightly negative): the answerer's checks arrive before the
 * answer does, so the offerer connects as soon as it applies the answer.
 */
export function iceSetupMs(log: PeerConnectionLog): { iceMs: number; dtlsMs: number | undefined } | undefined {
  if (log.localDescriptionAt === undefined || log.remoteDescriptionAt === undefined) return undefined
  const start = Math.max(log.localDescriptionAt, log.remoteDescriptionAt)
  const ice = log.iceStates.find(([s]) => s === 'connected' || s === 'completed')
  if (!ice) return undefined
  const dtls = log.connectionStates.find(([s]) => s === 'connected')
  return { iceMs: ice[1] - start, dtlsMs: dtls ? dtls[1] - start : undefined }
}

export interface CandidateView {
  readonly candidateType: string
  readonly address: string
  readonly port: number
  readonly protocol: string
  /** For relay candidates: the protocol between the browser and the TURN server. */
  readonly relayProtocol?: string
  readonly url?: string
}

/**
 * The selected candidate pair of the page's connected call, from `getStats()` (the transport's
 * `selectedCandidatePairId`, else the nominated succeeded pair).
 *
 * @throws Error when there is no connected call or no selected pair yet
 */
export async function selectedCandidatePair(page: Page): Promise<{ local: CandidateView; remote: CandidateView }> {
  return page.evaluate(async () => {
    type Pb = { client: { calls: Array<{ id: string; state: string }>; getPeerConnection(id: string): RTCPeerConnection | undefined } }
    const pb = (window as unknown as { __pb: Pb }).__pb
    const call = pb.client.calls.find((c) => c.state === 'connected')
    const pc = call && pb.client.getPeerConnection(call.id)
    if (!pc) throw new Error('no connected call with a peer connection')
    const stats = await pc.getStats()
    const byId = new Map<string, Record<string, unknown>>()
    stats.forEach((s: Record<string, unknown>) => byId.set(String(s.id), s))
    let pairId: string | undefined
    stats.forEach((s: Record<string, unknown>) => {
      if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') pairId = s.selectedCandidatePairId
    })
    if (!pairId) {
      stats.forEach((s: Record<string, unknown>) => {
        if (s.type === 'candidate-pair' && s.nominated === true && s.state === 'succeeded') pairId = String(s.id)
      })
    }
    const pair = pairId ? byId.get(pairId) : undefined
    if (!pair) throw new Error('no selected candidate pair yet')
    const view = (id: unknown) => {
      const c = byId.get(String(id)) ?? {}
      return {
        candidateType: String(c.candidateType), address: String(c.address ?? c.ip ?? ''), port: Number(c.port),
        protocol: String(c.protocol),
        ...(c.relayProtocol !== undefined ? { relayProtocol: String(c.relayProtocol) } : {}),
        ...(c.url !== undefined ? { url: String(c.url) } : {}),
      }
    }
    return { local: view(pair.localCandidateId), remote: view(pair.remoteCandidateId) }
  })
}

/** SIP messages a page sent and received on its WebSockets (see `watchSipFrames`). */
/** Clicks the call card's control labelled `label` (Mute, Hold, Resume, Keypad, Hang up...). */
export async function callControl(phone: SoftphonePage, label: string): Promise<void> {
  await phone.page.locator(`pb-call-card button[aria-label="${label}"]`).click()
}

/**
 * In a connected call, `caller` types 123# on the call's keypad: returns the tones its DTMF
 * sender sent and the tones `callee` heard (RFC 4733 events turned into audio), and the
 * digits the caller's call snapshot records.
 */
export async function sendDtmf123Pound(caller: SoftphonePage, callee: SoftphonePage): Promise<{ sent: string; heard: string; recorded: string | undefined }> {
  await watchDtmfSender(caller.page)
  await watchDtmfTones(callee.page)
  await callControl(caller, 'Keypad')
  for (const key of ['1', '2', '3', 'pound']) {
    await caller.page.locator(`pb-call-card pb-dialpad button[aria-label^="${key}"]`).first().click()
    await caller.page.waitForTimeout(200)
  }
  await caller.page.waitForTimeout(800)
  return { sent: await dtmfTonesSent(caller.page), heard: await dtmfTonesHeard(callee.page), recorded: (await calls(caller.page))[0]?.dtmfSent }
}

/**
 * `caller` holds the call: the callee hears silence and sees "Held by the other party";
 * `caller` resumes: each hears the other's tone again. Throws (timeouts) when a step fails.
 */
export async function holdAndResume(caller: SoftphonePage, callee: SoftphonePage): Promise<void> {
  await callControl(caller, 'Hold')
  await waitForCall(caller.page, (c) => c.onHold)
  await waitForSilence(callee.page)
  await waitForText(callee.page, /Held by the other party/)
  await callControl(caller, 'Resume')
  await waitForCall(caller.page, (c) => c.state === 'connected' && !c.onHold)
  await waitForTone(callee.page, caller.toneHz)
  await waitForTone(caller.page, callee.toneHz)
}

export interface SipFrames {
  readonly sent: string[]
  readonly received: string[]
  /** Request methods (or `SIP/2.0 <code>` for responses) the page sent, in order. */
  sentMethods(): string[]
}

/**
 * Records every WebSocket frame the page sends and receives from now on (Playwright's
 * `websocket` event; passive, the traffic is not touched). Call it before signing in.
 */
export function watchSipFrames(page: Page): SipFrames {
  const sent: string[] = []
  const received: string[] = []
  page.on('websocket', (ws) => {
    ws.on('framesent', (f) => sent.push(typeof f.payload === 'string' ? f.payload : f.payload.toString('utf8')))
    ws.on('framereceived', (f) => received.push(typeof f.payload === 'string' ? f.payload : f.payload.toString('utf8')))
  })
  return {
    sent,
    received,
    sentMethods: () => sent.filter((m) => m.trim() !== '').map((m) => (m.startsWith('SIP/2.0 ') ? m.slice(0, 11) : m.slice(0, m.indexOf(' ')))),
  }
}

// ---------------------------------------------------------------------------------------------
// coturn (a real TURN server) for the ICE tests

export interface RunningCoturn {
  readonly process: PeerProcess
  /** Address coturn listens on (and relays from). */
  readonly host: string
  /** Its UDP/TCP listening port. */
  readonly port: number
  /** `turn:HOST:PORT?transport=udp` */
  readonly url: string
  /** Everything coturn logged so far. */
  log(): string
  /** Kills coturn and removes its private directory. */
  stop(): Promise<void>
}

export interface CoturnOptions {
  /** TURN REST shared secret (coturn `static-auth-secret`, gateway `ice.turn.secret`). */
  readonly secret: string
  /** Listening and relay address (default 127.0.0.1). */
  readonly host?: string
  /** Listening port; default a free one on 127.0.0.1 (UDP and TCP). */
  readonly port?: number
  readonly realm?: string
  /** Wraps the command, e.g. `['ip', 'netns', 'exec', 'ns-x']`. */
  readonly prefix?: readonly string[]
}

/**
 * Starts coturn (`turnserver`) with TURN REST credentials (`--use-auth-secret`), no TLS/DTLS,
 * loopback peers allowed, no CLI, a private temp directory for its pid and database files and a
 * private range of 40 relay ports; waits until it answers a STUN Binding request.
 *
 * @throws Error "turnserver not found: install with apt-get install -y coturn ..." when coturn
 *   is missing, or with coturn's output when it does not answer within 8 s
 */
export async function startCoturn(peers: PeerSet, options: CoturnOptions): Promise<RunningCoturn> {
  const turnserver = requireBinary('turnserver', 'coturn')
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? await freePortRange(1)
  const relayBase = await freePortRange(40)
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-coturn-'))
  const proc = peers.spawn('coturn', [
    ...(options.prefix ?? []),
    turnserver, '-n',
    `--listening-ip=${host}`, `--relay-ip=${host}`, `--listening-port=${port}`,
    '--use-auth-secret', `--static-auth-secret=${options.secret}`, `--realm=${options.realm ?? 'patchbay.test'}`,
    '--no-tls', '--no-dtls', '--allow-loopback-peers', '--no-cli',
    // -v: log each session (e.g. `user <expiry:alice>: incoming packet ALLOCATE processed, success`).
    '-v',
    `--min-port=${relayBase}`, `--max-port=${relayBase + 39}`,
    `--pidfile=${join(dir, 'turnserver.pid')}`, `--userdb=${join(dir, 'turndb')}`,
    '--log-file=stdout', '--simple-log',
  ])
  const stop = async (): Promise<void> => {
    await proc.kill()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    if (options.prefix === undefined) await waitForStunAnswer(host, port, 8_000)
    else await proc.waitFor(/listener opened on/, 8_000)
  } catch (error) {
    await stop()
    throw new Error(`coturn did not start: ${(error as Error).message}\n--- coturn output ---\n${proc.tail(30)}`)
  }
  return { process: proc, host, port, url: `turn:${host}:${port}?transport=udp`, log: () => proc.output(), stop }
}

/** Sends STUN Binding requests to host:port every 100 ms until one is answered. */
async function waitForStunAnswer(host: string, port: number, timeoutMs: number): Promise<void> {
  let answered = false
  const socket = await Bun.udpSocket({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      data(_s, data) {
        const r = decodeStunMessage(new Uint8Array(data))
        if (r.ok && r.message.cls === StunClass.SuccessResponse) answered = true
      },
      error() {}, // ICMP port unreachable while the server starts
    },
  })
  try {
    const deadline = Date.now() + timeoutMs
    while (!answered && Date.now() < deadline) {
      const request = encodeStunMessage({ method: StunMethod.Binding, cls: StunClass.Request, transactionId: newTransactionId(), attributes: [] }, { fingerprint: true })
      socket.send(request, port, host)
      await Bun.sleep(100)
    }
  } finally {
    socket.close()
  }
  if (!answered) throw new Error(`nothing answered STUN on ${host}:${port} within ${timeoutMs} ms`)
}

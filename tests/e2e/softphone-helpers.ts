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
import { existsSync } from 'node:fs'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'

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

/**
 * Runs in the page before any script: getUserMedia({ audio }) returns a sine tone at `hz`.
 * `window.__pbTone.setFrequency(hz)` changes it later.
 */
function installToneMicrophone(hz: number): void {
  const state: { hz: number; ctx?: AudioContext; oscillators: OscillatorNode[] } = { hz, oscillators: [] }
  const w = window as unknown as Record<string, unknown>
  w.__pbTone = {
    setFrequency(next: number) {
      state.hz = next
      for (const o of state.oscillators) o.frequency.value = next
    },
    get frequency() { return state.hz },
    get streams() { return state.oscillators.length },
  }
  const devices = navigator.mediaDevices
  if (!devices) return
  const original = devices.getUserMedia.bind(devices)
  devices.getUserMedia = async (constraints?: MediaStreamConstraints): Promise<MediaStream> => {
    if (!constraints?.audio || constraints.video) return original(constraints)
    state.ctx ??= new AudioContext({ sampleRate: 48000 })
    if (state.ctx.state !== 'running') await state.ctx.resume()
    const oscillator = state.ctx.createOscillator()
    oscillator.type = 'sine'
    oscillator.frequency.value = state.hz
    const gain = state.ctx.createGain()
    gain.gain.value = 0.5
    const destination = state.ctx.createMediaStreamDestination()
    oscillator.connect(gain).connect(destination)
    oscillator.start()
    state.oscillators.push(oscillator)
    return destination.stream
  }
}

export interface OpenOptions {
  readonly toneHz: number
  readonly viewport?: { width: number; height: number }
  /** Forward page console errors to the test output. */
  readonly logErrors?: boolean
  readonly label?: string
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
  const url = new URL('/?test=1', baseUrl).toString()
  await page.goto(url)
  await page.waitForFunction(() => Boolean((window as unknown as { __pb?: unknown }).__pb))
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
    const w = window as unknown as { __pb: Pb; __pbProbe?: { ctx: AudioContext; stream?: MediaStream; analyser?: AnalyserNode; source?: MediaStreamAudioSourceNode } }
    const call = w.__pb.client.calls.find((c) => (c.state === 'connected' || c.state === 'early-media') && !c.onHold)
      ?? w.__pb.client.calls.find((c) => c.state === 'connected')
    if (!call) throw new Error('no connected call')
    const stream = w.__pb.client.getRemoteStream(call.id)
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
    // NetEq's rendering of an event has glitches (a block or two of noise), so one clean block
    // counts; the same digit counts again only after 5 blocks (53 ms) without it.
    let last = ''
    let absent = 0
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
      if (digit && (digit !== last || absent >= 5)) heard.push(digit)
      if (digit) {
        last = digit
        absent = 0
      } else {
        absent++
      }
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

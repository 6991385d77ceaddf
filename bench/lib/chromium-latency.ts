/**
 * Setup latency of the real softphone in Debian's Chromium, for bench:signaling: two pages
 * (caller with a 1000 Hz tone as microphone, callee with 440 Hz; tests/e2e/softphone-helpers.ts)
 * signed in as two bench users in one signaling mode (`?signaling=sip|json`); the caller
 * dials, the callee answers, the caller hangs up, `calls` times.
 *
 * Timestamps are taken in the pages (epoch ms, `performance.timeOrigin + performance.now()`,
 * comparable between pages of one machine):
 * - click: a capture-phase listener sees the click on the Call / Answer button;
 * - getUserMedia, `fetch` of the ICE servers, RTCPeerConnection creation and ICE gathering
 *   complete (the softphone sends its SDP earlier, once the candidate set is usable:
 *   softphone/src/signaling/ice-gathering-policy.ts): wrappers installed after load;
 * - offer sent: the first WebSocket frame after the click carrying an INVITE / `call`;
 * - ringing: the SignalingClient's `call` event with state `ringing`;
 * - first audio: the caller's remote stream through an AnalyserNode (fftSize 1024, polled
 *   every 5 ms) shows the callee's 440 Hz above -50 dBFS (adds up to ~25 ms of analysis).
 * Also counts each page's WebSocket frames (Playwright's `websocket` events) for the wire
 * cost of the real softphone: sign-in, and per call.
 */
import type { Browser, Page } from 'playwright-core'
import { callControl, dial, launchChromium, openSoftphone, signIn, waitForCall, waitForIdle, type SoftphonePage } from '../../tests/e2e/softphone-helpers.ts'
import { BENCH_PASSWORD, benchUserName } from './patchbay.ts'
import { WireCounter } from './wire-counter.ts'

/** Marks of one call, ms relative to the click on Call (answer-related ones to the Answer click). */
export interface ChromiumCallTimes {
  clickToRinging: number
  answerToAudio: number | null
  gumDone: number | null
  iceServersFetched: number | null
  peerConnectionCreated: number | null
  firstCandidate: number | null
  gatheringComplete: number | null
  offerSent: number | null
  /** SIP: the INVITE with credentials after the 407 (the digest round trip). */
  secondOfferSent: number | null
}

/** Results of one mode. */
export interface ChromiumResult {
  mode: 'sip' | 'json'
  calls: ChromiumCallTimes[]
  /** WebSocket frames of caller + callee during sign-in, and per call (averaged). */
  wire: { signIn: ReturnType<WireCounter['snapshot']>; perCall: ReturnType<WireCounter['snapshot']> }
  chromium: string
}

/** In-page instrumentation (runs in the caller and the callee page). */
function instrument(): void {
  const now = () => performance.timeOrigin + performance.now()
  type Marks = Record<string, number | undefined> & { frames?: number }
  const w = window as unknown as { __bm: Marks; __bmInstalled?: boolean; __pb: { client: { on(t: string, f: (e: { id: string; state: string }) => void): void; getRemoteStream(id: string): MediaStream | undefined } } }
  if (w.__bmInstalled) return
  w.__bmInstalled = true
  w.__bm = {}
  const set = (k: string) => { if (w.__bm[k] === undefined) w.__bm[k] = now() }
  document.addEventListener('click', (e) => {
    for (const el of e.composedPath()) {
      if (!(el instanceof Element)) continue
      if (el.matches('button.call')) set('click')
      if (el.matches('button[part~="answer"]')) set('answerClick')
    }
  }, true)
  const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices)
  navigator.mediaDevices.getUserMedia = async (c) => {
    set('gumStart')
    const s = await gum(c)
    set('gumDone')
    return s
  }
  const f = window.fetch.bind(window)
  window.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input)
    const ice = url.includes('ice-servers')
    if (ice) set('iceFetchStart')
    const r = await f(input, init)
    if (ice) set('iceServersFetched')
    return r
  }) as typeof fetch
  const Native = window.RTCPeerConnection
  class Watched extends Native {
    constructor(config?: RTCConfiguration) {
      super(config)
      set('peerConnectionCreated')
      this.addEventListener('icecandidate', (e) => { if ((e as RTCPeerConnectionIceEvent).candidate) set('firstCandidate') })
      this.addEventListener('icegatheringstatechange', () => { if (this.iceGatheringState === 'complete') set('gatheringComplete') })
    }
  }
  window.RTCPeerConnection = Watched as typeof RTCPeerConnection
  const send = WebSocket.prototype.send
  WebSocket.prototype.send = function (data) {
    if (typeof data === 'string' && w.__bm.click !== undefined && (data.startsWith('INVITE ') || data.includes('"type":"call"'))) {
      if (w.__bm.offerSent === undefined) set('offerSent')
      else set('secondOfferSent')
    }
    return send.call(this, data)
  }
  w.__pb.client.on('call', (snap) => {
    if (snap.state === 'ringing') set('ringing')
    if (snap.state === 'incoming') set('incoming')
    if ((snap.state === 'connected' || snap.state === 'early-media') && w.__bm.detecting === undefined && w.__bm.click !== undefined) {
      w.__bm.detecting = now()
      const ctx = new AudioContext({ sampleRate: 48000 })
      void ctx.resume()
      const timer = setInterval(() => {
        const stream = w.__pb.client.getRemoteStream(snap.id)
        if (!stream || stream.getAudioTracks().length === 0) return
        const probe = (w as unknown as { __bmProbe?: { a: AnalyserNode; s: MediaStream } })
        if (!probe.__bmProbe || probe.__bmProbe.s !== stream) {
          const a = ctx.createAnalyser()
          a.fftSize = 1024
          a.smoothingTimeConstant = 0
          ctx.createMediaStreamSource(stream).connect(a)
          probe.__bmProbe = { a, s: stream }
        }
        const bins = new Float32Array(probe.__bmProbe.a.frequencyBinCount)
        probe.__bmProbe.a.getFloatFrequencyData(bins)
        const bin = Math.round(440 / (48000 / 1024))
        if (Math.max(bins[bin - 1]!, bins[bin]!, bins[bin + 1]!) > -50) {
          set('audio')
          clearInterval(timer)
          void ctx.close()
        }
      }, 5)
      setTimeout(() => clearInterval(timer), 10_000)
    }
  })
}

async function marks(page: Page): Promise<Record<string, number | undefined>> {
  return page.evaluate(() => (window as unknown as { __bm: Record<string, number | undefined> }).__bm)
}

async function openPhone(browser: Browser, baseUrl: string, mode: 'sip' | 'json', toneHz: number, wire: WireCounter): Promise<SoftphonePage> {
  const phone = await openSoftphone(browser, baseUrl, { toneHz, label: `${mode} ${toneHz} Hz` })
  phone.page.on('websocket', (ws) => {
    ws.on('framesent', (f) => wire.countSent(typeof f.payload === 'string' ? f.payload : f.payload.toString('utf8')))
    ws.on('framereceived', (f) => wire.countReceived(typeof f.payload === 'string' ? f.payload : f.payload.toString('utf8')))
  })
  await phone.page.goto(new URL(`/?signaling=${mode}&test=1`, baseUrl).toString())
  await phone.page.waitForFunction((m) => (window as unknown as { __pb?: { signaling?: string } }).__pb?.signaling === m, mode)
  return phone
}

/** Runs `calls` calls in Chromium between two softphones of `mode` (see the module comment). */
export async function measureChromium(baseUrl: string, mode: 'sip' | 'json', calls: number, log: (s: string) => void): Promise<ChromiumResult> {
  const browser = await launchChromium()
  const callerWire = new WireCounter()
  const calleeWire = new WireCounter()
  try {
    const caller = await openPhone(browser, baseUrl, mode, 1000, callerWire)
    const callee = await openPhone(browser, baseUrl, mode, 440, calleeWire)
    await signIn(caller.page, benchUserName(0), BENCH_PASSWORD)
    await signIn(callee.page, benchUserName(1), BENCH_PASSWORD)
    await caller.page.waitForTimeout(500)
    const signInWire = sum(callerWire, calleeWire)
    callerWire.reset()
    calleeWire.reset()
    const results: ChromiumCallTimes[] = []
    for (let i = 0; i < calls; i++) {
      for (const p of [caller.page, callee.page]) {
        await p.evaluate(instrument)
        await p.evaluate(() => { (window as unknown as { __bm: object }).__bm = {} })
      }
      await dial(caller.page, benchUserName(1))
      await waitForCall(caller.page, (c) => c.state === 'ringing' || c.state === 'connected')
      await waitForCall(callee.page, (c) => c.state === 'incoming')
      await callee.page.locator('pb-incoming-call button[part="answer"]').click()
      await waitForCall(caller.page, (c) => c.state === 'connected')
      const deadline = Date.now() + 10_000
      let m = await marks(caller.page)
      while (m.audio === undefined && Date.now() < deadline) {
        await caller.page.waitForTimeout(50)
        m = await marks(caller.page)
      }
      const a = await marks(callee.page)
      const click = m.click!
      const rel = (t: number | undefined) => (t === undefined ? null : Math.round((t - click) * 10) / 10)
      results.push({
        clickToRinging: rel(m.ringing) ?? NaN,
        answerToAudio: m.audio !== undefined && a.answerClick !== undefined ? Math.round((m.audio - a.answerClick) * 10) / 10 : null,
        gumDone: rel(m.gumDone), iceServersFetched: rel(m.iceServersFetched), peerConnectionCreated: rel(m.peerConnectionCreated), firstCandidate: rel(m.firstCandidate),
        gatheringComplete: rel(m.gatheringComplete), offerSent: rel(m.offerSent), secondOfferSent: rel(m.secondOfferSent),
      })
      log(`  ${mode} call ${i + 1}/${calls}: click->ringing ${results.at(-1)!.clickToRinging} ms, answer->audio ${results.at(-1)!.answerToAudio ?? '-'} ms`)
      await callControl(caller, 'Hang up')
      await waitForIdle(caller.page)
      await waitForIdle(callee.page)
      await caller.page.waitForTimeout(300)
    }
    const perCall = sum(callerWire, calleeWire)
    for (const d of [perCall.sent, perCall.received]) {
      d.messages = Math.round((d.messages / calls) * 10) / 10
      d.bytes = Math.round(d.bytes / calls)
      d.frameBytes = Math.round(d.frameBytes / calls)
    }
    return { mode, calls: results, wire: { signIn: signInWire, perCall }, chromium: browser.version() }
  } finally {
    await browser.close()
  }
}

function sum(a: WireCounter, b: WireCounter): ReturnType<WireCounter['snapshot']> {
  const x = a.snapshot()
  const y = b.snapshot()
  for (const k of ['sent', 'received'] as const) {
    x[k].messages += y[k].messages
    x[k].bytes += y[k].bytes
    x[k].frameBytes += y[k].frameBytes
  }
  return x
}

/**
 * Scripts that tests install in Chromium pages before any page script runs
 * (`BrowserContext.addInitScript(fn, arg)`): Playwright serializes each function's source,
 * so they must not refer to anything outside themselves.
 *
 * - `installToneMicrophone(hz)`: the microphone becomes a sine tone at `hz`;
 * - `capturePeerConnections()`: every RTCPeerConnection the page creates is kept in
 *   `window.__pbPeerConnections`, so a test can read the far end's audio of a page whose
 *   library hides its connections (JsSIP, SIP.js harness pages).
 */

/**
 * Runs in the page before any script: getUserMedia({ audio }) returns a sine tone at `hz`.
 * `window.__pbTone.setFrequency(hz)` changes it later.
 */
export function installToneMicrophone(hz: number): void {
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

/** Runs in the page before any script: records every RTCPeerConnection in `window.__pbPeerConnections`. */
export function capturePeerConnections(): void {
  const w = window as unknown as { __pbPeerConnections: RTCPeerConnection[]; RTCPeerConnection: typeof RTCPeerConnection }
  const Original = w.RTCPeerConnection
  if (!Original) return
  w.__pbPeerConnections = []
  const Wrapped = function (this: unknown, ...args: ConstructorParameters<typeof RTCPeerConnection>): RTCPeerConnection {
    const pc = new Original(...args)
    w.__pbPeerConnections.push(pc)
    return pc
  } as unknown as typeof RTCPeerConnection
  Wrapped.prototype = Original.prototype
  Object.defineProperty(Wrapped, 'generateCertificate', { value: Original.generateCertificate.bind(Original) })
  w.RTCPeerConnection = Wrapped
}

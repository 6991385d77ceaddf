/**
 * A live audio level (0..1) for a MediaStream, read with a WebAudio AnalyserNode about 20
 * times a second. The level is the RMS of the last window in dBFS, mapped from -60 dBFS
 * (0) to 0 dBFS (1), with a short decay so the meter does not flicker.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import { sharedAudioContext } from '../audio/audio-context.ts'

/** RMS of samples in [-1, 1] as a 0..1 meter level (-60 dBFS .. 0 dBFS). Pure. */
export function levelFromSamples(samples: ArrayLike<number>): number {
  if (samples.length === 0) return 0
  let sum = 0
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!
    sum += s * s
  }
  const rms = Math.sqrt(sum / samples.length)
  if (rms <= 0) return 0
  const db = 20 * Math.log10(rms)
  return Math.min(1, Math.max(0, (db + 60) / 60))
}

/** Decays the shown level towards a new reading (fast attack, slow release). */
export function smoothLevel(previous: number, reading: number, decay = 0.8): number {
  return reading >= previous ? reading : Math.max(reading, previous * decay)
}

const FRAME_MS = 50

export class AudioLevelController implements ReactiveController {
  level = 0
  private stream: MediaStream | undefined
  private source: MediaStreamAudioSourceNode | undefined
  private analyser: AnalyserNode | undefined
  private buffer: Float32Array<ArrayBuffer> | undefined
  private frame: ReturnType<typeof setInterval> | undefined
  private connected = false
  private readonly onTracksChanged = (): void => this.attach()

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly getContext: () => AudioContext | undefined = sharedAudioContext,
  ) {
    host.addController(this)
  }

  setStream(stream: MediaStream | undefined): void {
    if (stream === this.stream) return
    this.stream?.removeEventListener('addtrack', this.onTracksChanged)
    this.stream?.removeEventListener('removetrack', this.onTracksChanged)
    this.stream = stream
    stream?.addEventListener('addtrack', this.onTracksChanged)
    stream?.addEventListener('removetrack', this.onTracksChanged)
    this.attach()
  }

  hostConnected(): void {
    this.connected = true
    this.attach()
  }

  hostDisconnected(): void {
    this.connected = false
    this.detach()
  }

  private attach(): void {
    this.detach()
    const stream = this.stream
    if (!this.connected || !stream || stream.getAudioTracks().length === 0) return
    const ctx = this.getContext()
    if (!ctx) return
    try {
      this.source = ctx.createMediaStreamSource(stream)
      this.analyser = ctx.createAnalyser()
      this.analyser.fftSize = 1024
      this.buffer = new Float32Array(this.analyser.fftSize)
      this.source.connect(this.analyser)
    } catch {
      this.detach()
      return
    }
    this.frame = setInterval(() => this.read(), FRAME_MS)
  }

  private read(): void {
    if (!this.analyser || !this.buffer) return
    this.analyser.getFloatTimeDomainData(this.buffer)
    const next = smoothLevel(this.level, levelFromSamples(this.buffer))
    if (Math.abs(next - this.level) > 0.004) {
      this.level = next < 0.01 ? 0 : next
      this.host.requestUpdate()
    }
  }

  private detach(): void {
    if (this.frame !== undefined) clearInterval(this.frame)
    this.frame = undefined
    try {
      this.source?.disconnect()
    } catch {
      // already disconnected
    }
    this.source = undefined
    this.analyser = undefined
    this.buffer = undefined
    if (this.level !== 0) {
      this.level = 0
      this.host.requestUpdate()
    }
  }
}

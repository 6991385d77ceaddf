/**
 * Ringtones made with WebAudio oscillators (no audio files):
 *
 * - `ring`: incoming call — a soft two-note chime (E5, B5), twice, every 3 s
 * - `ringback`: our outgoing call got 180 Ringing and no early media — 440 + 480 Hz,
 *   2 s on / 4 s off (the North American ringback cadence, ITU-T E.180 Suppl.)
 * - `waiting`: a call arrives while we are in one — one short 440 Hz beep every 4 s, so the
 *   current conversation stays audible
 */
export type ToneKind = 'ring' | 'ringback' | 'waiting'

export interface ToneNote {
  /** Frequencies played together (Hz). */
  readonly frequencies: readonly number[]
  /** Offset in the period (s). */
  readonly start: number
  /** Seconds. */
  readonly duration: number
}

export interface TonePattern {
  readonly notes: readonly ToneNote[]
  /** Seconds between repetitions. */
  readonly period: number
  /** Peak gain, 0..1. */
  readonly gain: number
}

export const TONE_PATTERNS: Readonly<Record<ToneKind, TonePattern>> = {
  ring: {
    notes: [
      { frequencies: [659.25], start: 0, duration: 0.16 },
      { frequencies: [987.77], start: 0.18, duration: 0.22 },
      { frequencies: [659.25], start: 0.6, duration: 0.16 },
      { frequencies: [987.77], start: 0.78, duration: 0.22 },
    ],
    period: 3,
    gain: 0.22,
  },
  ringback: { notes: [{ frequencies: [440, 480], start: 0, duration: 2 }], period: 6, gain: 0.08 },
  waiting: { notes: [{ frequencies: [440], start: 0, duration: 0.3 }], period: 4, gain: 0.12 },
}

export class Ringtone {
  private current: { kind: ToneKind; output: GainNode; timer: ReturnType<typeof setInterval> } | undefined

  constructor(private readonly getContext: () => AudioContext | undefined) {}

  get playing(): ToneKind | undefined {
    return this.current?.kind
  }

  play(kind: ToneKind): void {
    if (this.current?.kind === kind) return
    this.stop()
    const ctx = this.getContext()
    if (!ctx) return
    if (ctx.state === 'suspended') void ctx.resume().catch(() => undefined)
    const output = ctx.createGain()
    output.gain.value = 1
    output.connect(ctx.destination)
    const pattern = TONE_PATTERNS[kind]
    const schedule = (): void => this.schedulePeriod(ctx, output, pattern)
    schedule()
    this.current = { kind, output, timer: setInterval(schedule, pattern.period * 1000) }
  }

  stop(): void {
    const current = this.current
    if (!current) return
    this.current = undefined
    clearInterval(current.timer)
    try {
      current.output.disconnect()
    } catch {
      // already disconnected
    }
  }

  private schedulePeriod(ctx: AudioContext, output: GainNode, pattern: TonePattern): void {
    const t0 = ctx.currentTime + 0.05
    for (const note of pattern.notes) {
      const envelope = ctx.createGain()
      const start = t0 + note.start
      const end = start + note.duration
      // 10 ms attack and release: no clicks.
      envelope.gain.setValueAtTime(0, start)
      envelope.gain.linearRampToValueAtTime(pattern.gain / note.frequencies.length, start + 0.01)
      envelope.gain.setValueAtTime(pattern.gain / note.frequencies.length, Math.max(start + 0.01, end - 0.02))
      envelope.gain.linearRampToValueAtTime(0, end)
      envelope.connect(output)
      for (const frequency of note.frequencies) {
        const osc = ctx.createOscillator()
        osc.type = 'sine'
        osc.frequency.value = frequency
        osc.connect(envelope)
        osc.start(start)
        osc.stop(end + 0.01)
        osc.onended = () => {
          osc.disconnect()
        }
      }
    }
  }
}

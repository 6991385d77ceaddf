/**
 * Plays the far end through an <audio> element, on the chosen speaker (HTMLMediaElement
 * setSinkId, where the browser has it). Chromium also needs the remote WebRTC stream
 * attached to a playing media element before WebAudio analysers see any signal.
 */
type SinkableAudio = HTMLAudioElement & { setSinkId?: (id: string) => Promise<void> }

export class RemoteAudio {
  private readonly element: SinkableAudio | undefined
  private sinkId = ''

  constructor() {
    const AudioCtor = (globalThis as { Audio?: typeof Audio }).Audio
    this.element = AudioCtor ? new AudioCtor() as SinkableAudio : undefined
    if (this.element) this.element.autoplay = true
  }

  /** True if the browser can route audio to a chosen output device. */
  static get canSelectOutput(): boolean {
    const proto = (globalThis as { HTMLMediaElement?: { prototype: object } }).HTMLMediaElement?.prototype
    return proto !== undefined && 'setSinkId' in proto
  }

  get stream(): MediaStream | undefined {
    return (this.element?.srcObject as MediaStream | null) ?? undefined
  }

  play(stream: MediaStream | undefined): void {
    const el = this.element
    if (!el) return
    if (el.srcObject === (stream ?? null)) return
    el.srcObject = stream ?? null
    if (stream) void el.play().catch(() => undefined)
  }

  async setOutput(deviceId: string | undefined): Promise<void> {
    const el = this.element
    this.sinkId = deviceId ?? ''
    if (el?.setSinkId) await el.setSinkId(this.sinkId).catch(() => undefined)
  }

  get output(): string {
    return this.sinkId
  }
}

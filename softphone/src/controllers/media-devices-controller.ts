/**
 * Microphones and speakers: lists them (enumerateDevices, refreshed on `devicechange`),
 * remembers the choice (SettingsStore) and applies it — the microphone through the
 * SignalingClient (new calls and a track swap on current ones), the speaker through
 * `setSinkId` on the far-end audio element and the ringtone's AudioContext.
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import type { SignalingClient } from '../signaling/signaling-client.ts'
import type { SettingsStore } from '../storage/settings-store.ts'

export interface DeviceOption {
  readonly deviceId: string
  readonly label: string
}

export interface OutputSink {
  setOutput(deviceId: string | undefined): Promise<void>
}

type DeviceSource = Pick<MediaDevices, 'enumerateDevices' | 'addEventListener' | 'removeEventListener'>

export class MediaDevicesController implements ReactiveController {
  inputs: DeviceOption[] = []
  outputs: DeviceOption[] = []
  inputId: string | undefined
  outputId: string | undefined
  private readonly onChange = (): void => {
    void this.refresh()
  }

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly client: SignalingClient,
    private readonly settings: SettingsStore,
    private readonly sinks: readonly OutputSink[],
    private readonly devices: DeviceSource | undefined,
    /** False where HTMLMediaElement.setSinkId is missing (Firefox before 116, Safari). */
    readonly canSelectOutput: boolean,
  ) {
    const prefs = settings.loadPreferences()
    this.inputId = prefs.inputDeviceId
    this.outputId = prefs.outputDeviceId
    host.addController(this)
  }

  hostConnected(): void {
    this.devices?.addEventListener('devicechange', this.onChange)
    void this.refresh()
    if (this.outputId) for (const sink of this.sinks) void sink.setOutput(this.outputId)
  }

  hostDisconnected(): void {
    this.devices?.removeEventListener('devicechange', this.onChange)
  }

  async refresh(): Promise<void> {
    if (!this.devices) return
    let list: MediaDeviceInfo[]
    try {
      list = await this.devices.enumerateDevices()
    } catch {
      return
    }
    const toOptions = (kind: MediaDeviceKind, fallback: string): DeviceOption[] => list
      .filter((d) => d.kind === kind && d.deviceId !== '' && d.deviceId !== 'default' && d.deviceId !== 'communications')
      .map((d, i) => ({ deviceId: d.deviceId, label: d.label || `${fallback} ${i + 1}` }))
    this.inputs = toOptions('audioinput', 'Microphone')
    this.outputs = toOptions('audiooutput', 'Speaker')
    // A remembered device that is gone: fall back to the system default.
    if (this.inputId && this.inputs.length > 0 && !this.inputs.some((d) => d.deviceId === this.inputId)) {
      this.inputId = undefined
    }
    if (this.outputId && this.outputs.length > 0 && !this.outputs.some((d) => d.deviceId === this.outputId)) {
      this.outputId = undefined
    }
    this.host.requestUpdate()
  }

  async setInput(deviceId: string | undefined): Promise<void> {
    this.inputId = deviceId || undefined
    this.settings.savePreferences({ inputDeviceId: this.inputId })
    this.host.requestUpdate()
    await this.client.updatePreferences({ inputDeviceId: this.inputId })
  }

  async setOutput(deviceId: string | undefined): Promise<void> {
    this.outputId = deviceId || undefined
    this.settings.savePreferences({ outputDeviceId: this.outputId })
    this.host.requestUpdate()
    await Promise.all(this.sinks.map((s) => s.setOutput(this.outputId)))
  }
}

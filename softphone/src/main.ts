/**
 * Entry point of the softphone bundle: builds the real services (SIP client, storage,
 * audio) and mounts <pb-app>. With `?test=1` in the URL, `window.__pb` exposes the client
 * and the app for end-to-end tests; with `?debug=1`, SIP.js logs and traces SIP.
 */
import { Ringtone, type ToneKind } from './audio/ringtone.ts'
import { RemoteAudio } from './audio/remote-audio.ts'
import { resumeAudio, sharedAudioContext } from './audio/audio-context.ts'
import type { AppServices } from './components/pb-app.ts'
import './components/pb-app.ts'
import { SipSignalingClient } from './signaling/sip-signaling-client.ts'
import { CallHistoryStore } from './storage/call-history-store.ts'
import { SettingsStore } from './storage/settings-store.ts'
import { BrowserTimers } from './util/timers.ts'

const params = new URLSearchParams(location.search)
const settings = new SettingsStore(localStorage)
const prefs = settings.loadPreferences()
const client = new SipSignalingClient({
  instanceId: settings.instanceId(),
  pageOrigin: location.origin,
  networkEvents: window,
  logLevel: params.has('debug') ? 'debug' : 'warn',
  preferences: {
    forceRelay: prefs.forceRelay,
    ...(prefs.inputDeviceId !== undefined ? { inputDeviceId: prefs.inputDeviceId } : {}),
    ...(prefs.displayName !== undefined ? { displayName: prefs.displayName } : {}),
  },
})

const ringtone = new Ringtone(sharedAudioContext)
const remoteAudio = new RemoteAudio()
type SinkableContext = AudioContext & { setSinkId?: (id: string) => Promise<void> }

const services: AppServices = {
  client,
  settings,
  history: new CallHistoryStore(localStorage),
  timers: new BrowserTimers(),
  audio: {
    playTone: (kind: ToneKind | undefined) => (kind ? ringtone.play(kind) : ringtone.stop()),
    playRemote: (stream) => remoteAudio.play(stream),
  },
  sinks: [
    remoteAudio,
    {
      // Ringtones follow the chosen speaker too (AudioContext.setSinkId, Chromium 110+).
      setOutput: async (deviceId) => {
        const ctx = sharedAudioContext() as SinkableContext | undefined
        if (ctx?.setSinkId) await ctx.setSinkId(deviceId ?? '').catch(() => undefined)
      },
    },
  ],
  devices: navigator.mediaDevices,
  canSelectOutput: RemoteAudio.canSelectOutput,
  pageOrigin: location.origin,
}

// Browsers keep audio suspended until the first user gesture.
for (const type of ['pointerdown', 'keydown'] as const) {
  window.addEventListener(type, resumeAudio, { capture: true, passive: true })
}

const app = document.createElement('pb-app')
app.services = services
const mount = document.getElementById('app')
if (mount) mount.replaceChildren(app)
else document.body.append(app)

if (params.get('test') === '1') {
  Object.assign(window, { __pb: { client, app, remoteAudio, ringtone } })
}

/**
 * Entry point of the softphone bundle: builds the real services (signaling client, storage,
 * audio) and mounts <pb-app>. With `?test=1` in the URL, `window.__pb` exposes the client
 * and the app for end-to-end tests; with `?debug=1`, SIP.js logs and traces SIP.
 *
 * Signaling: SIP over WebSocket (`SipSignalingClient`) or JSON signaling
 * (`JsonSignalingClient`): `?signaling=json|sip` wins over the stored preference (Settings),
 * SIP by default. In JSON mode a reloaded tab first re-attaches to its session (token in
 * sessionStorage) and keeps its calls. A new preference applies after sign-out (the page
 * reloads into it) or on the next reload.
 */
import { Ringtone, type ToneKind } from './audio/ringtone.ts'
import { RemoteAudio } from './audio/remote-audio.ts'
import { resumeAudio, sharedAudioContext } from './audio/audio-context.ts'
import type { AppServices } from './components/pb-app.ts'
import './components/pb-app.ts'
import { PbSettings, type SettingsChange } from './components/pb-settings.ts'
import { JsonSignalingClient } from './signaling/json/json-signaling-client.ts'
import type { SignalingClient, SignalingPreferences } from './signaling/signaling-client.ts'
import { SipSignalingClient } from './signaling/sip-signaling-client.ts'
import { CallHistoryStore } from './storage/call-history-store.ts'
import { ConversationStore } from './storage/conversation-store.ts'
import { chooseSignalingMode, SettingsStore } from './storage/settings-store.ts'
import { BrowserTimers } from './util/timers.ts'

const params = new URLSearchParams(location.search)
const settings = new SettingsStore(localStorage)
const prefs = settings.loadPreferences()
const mode = chooseSignalingMode(location.search, prefs.signaling)
const preferences: Partial<SignalingPreferences> = {
  forceRelay: prefs.forceRelay,
  ...(prefs.inputDeviceId !== undefined ? { inputDeviceId: prefs.inputDeviceId } : {}),
  ...(prefs.displayName !== undefined ? { displayName: prefs.displayName } : {}),
}
let client: SignalingClient
if (mode === 'json') {
  const json = new JsonSignalingClient({ pageOrigin: location.origin, networkEvents: window, sessionStorage, preferences })
  // A reloaded tab takes its session (and its calls) back before anyone signs in.
  json.resume()
  client = json
} else {
  client = new SipSignalingClient({
    instanceId: settings.instanceId(),
    pageOrigin: location.origin,
    networkEvents: window,
    logLevel: params.has('debug') ? 'debug' : 'warn',
    preferences,
  })
}

// Settings > Signaling: pb-app does not handle this field; it is stored here and applies
// after sign-out (the page reloads into the new mode) or on the next reload.
PbSettings.signalingInfo = { active: mode, stored: () => settings.loadPreferences().signaling ?? 'sip' }
document.addEventListener('pb-settings-change', (event) => {
  const signaling = (event as CustomEvent<SettingsChange>).detail.signaling
  if (signaling !== undefined) settings.savePreferences({ signaling })
})
client.on('registration', (state) => {
  const wanted = settings.loadPreferences().signaling ?? 'sip'
  if (state.status === 'signed-out' && !params.has('signaling') && wanted !== mode) location.reload()
})

const ringtone = new Ringtone(sharedAudioContext)
const remoteAudio = new RemoteAudio()
type SinkableContext = AudioContext & { setSinkId?: (id: string) => Promise<void> }

const services: AppServices = {
  client,
  settings,
  history: new CallHistoryStore(localStorage),
  conversations: new ConversationStore(localStorage),
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
  Object.assign(window, { __pb: { client, app, remoteAudio, ringtone, signaling: mode } })
}

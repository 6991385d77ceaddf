/**
 * Browser-side test harness: one small, uniform API over JsSIP 3 and SIP.js 0.21, so that
 * integration tests can drive either library in a Chromium page through `page.evaluate`.
 * Bundled for the browser by tests/support/browser.ts (Bun.build, in memory) and installed
 * as `window.pbHarness`. Never imported by Node-side code except for its types.
 *
 * Everything a test asserts on is recorded in `state` (plain data, readable with
 * `page.evaluate(() => window.pbHarness.state)` and `page.waitForFunction`).
 */
import * as JsSIP from 'jssip'
import { Inviter, Messager, Registerer, RegistererState, SessionState, UserAgent, version as sipJsVersion, type Invitation, type Session } from 'sip.js'

export type SipLibrary = 'jssip' | 'sipjs'

export interface HarnessStartOptions {
  lib: SipLibrary
  /** `ws://127.0.0.1:PORT/sip` */
  wsUrl: string
  username: string
  password: string
  domain: string
  displayName?: string
  /** Answer incoming calls at once (with microphone audio from the fake device). */
  autoAnswer?: boolean
}

export interface ReceivedMessage {
  from: string
  body: string
  contentType: string
}

export type CallState = 'none' | 'calling' | 'ringing' | 'established' | 'terminated' | 'failed'

export interface HarnessState {
  lib: SipLibrary | null
  registered: boolean
  registrationError: string | null
  messages: ReceivedMessage[]
  callState: CallState
  /** Who ended the call: 'local' (we sent BYE/CANCEL), 'remote' (we received BYE), or the failure cause. */
  callEndedBy: string | null
  /** Event log, in order: `registered`, `message-in`, `call-established`, `bye-received`, ... */
  events: string[]
}

export interface MediaCounters {
  packetsReceived: number
  packetsSent: number
  /** candidate types of the selected pair, e.g. 'host/host'. */
  selectedPair: string | null
}

/** The API installed as window.pbHarness. */
export interface SipUaHarness {
  /** Versions of the bundled libraries. */
  libraries: { jssip: string; sipjs: string }
  state: HarnessState
  start(options: HarnessStartOptions): Promise<void>
  /** Sends a MESSAGE; resolves with the final status code. */
  sendMessage(target: string, body: string): Promise<number>
  /** Calls `target` with audio; resolves when the INVITE is sent (watch state.callState). */
  call(target: string): Promise<void>
  /** Ends the current call with BYE (or CANCEL before it is established). */
  hangup(): Promise<void>
  /** RTP counters of the current call's RTCPeerConnection (inbound/outbound audio). */
  mediaCounters(): Promise<MediaCounters>
  /** Unregisters and stops the user agent. */
  stop(): Promise<void>
}

declare global {
  interface Window {
    pbHarness: SipUaHarness
  }
}

const state: HarnessState = {
  lib: null,
  registered: false,
  registrationError: null,
  messages: [],
  callState: 'none',
  callEndedBy: null,
  events: [],
}

function log(event: string): void {
  state.events.push(event)
}

const AUDIO_ONLY = { audio: true, video: false }

/** The library-specific half. */
interface Driver {
  sendMessage(target: string, body: string): Promise<number>
  call(target: string): Promise<void>
  hangup(): Promise<void>
  peerConnection(): RTCPeerConnection | null
  stop(): Promise<void>
}

let driver: Driver | null = null

// ------------------------------------------------------------------ JsSIP

function startJsSip(o: HarnessStartOptions): Promise<Driver> {
  const socket = new JsSIP.WebSocketInterface(o.wsUrl)
  const ua = new JsSIP.UA({
    sockets: [socket],
    uri: `sip:${o.username}@${o.domain}`,
    password: o.password,
    display_name: o.displayName,
    register: true,
    register_expires: 600,
    session_timers: false,
    user_agent: 'patchbay-test JsSIP',
  })
  // JsSIP's RTCSession typings are loose; keep a minimal view of what is used.
  let session: JsSipSession | null = null
  const watch = (s: JsSipSession) => {
    session = s
    s.on('progress', () => { if (state.callState === 'calling' || state.callState === 'none') state.callState = 'ringing'; log('call-progress') })
    s.on('confirmed', () => { state.callState = 'established'; log('call-established') })
    s.on('ended', (e: { originator: string; cause: string }) => {
      state.callState = 'terminated'
      state.callEndedBy = e.originator
      log(`call-ended:${e.originator}:${e.cause}`)
      if (e.originator === 'remote') log('bye-received')
    })
    s.on('failed', (e: { originator: string; cause: string }) => {
      state.callState = 'failed'
      state.callEndedBy = `${e.originator}:${e.cause}`
      log(`call-failed:${e.originator}:${e.cause}`)
    })
  }
  ua.on('newMessage', (e: { originator: string; request: { from: { uri: { toString(): string } }; body: string; getHeader(name: string): string } }) => {
    if (e.originator !== 'remote') return
    state.messages.push({ from: e.request.from.uri.toString(), body: e.request.body, contentType: e.request.getHeader('Content-Type') ?? '' })
    log('message-in')
  })
  ua.on('newRTCSession', (e: { originator: string; session: unknown }) => {
    const s = e.session as JsSipSession
    if (e.originator === 'remote') {
      state.callState = 'ringing'
      log('call-incoming')
      watch(s)
      if (o.autoAnswer) s.answer({ mediaConstraints: AUDIO_ONLY, pcConfig: { iceServers: [] } })
    }
  })
  return new Promise((resolve, reject) => {
    ua.on('registered', () => {
      state.registered = true
      log('registered')
      resolve({
        sendMessage(target, body) {
          return new Promise((done) => {
            ua.sendMessage(target, body, {
              contentType: 'text/plain',
              eventHandlers: {
                succeeded: (ev: { response: { status_code: number } }) => done(ev.response.status_code),
                failed: (ev: { response?: { status_code: number } | null; cause: string }) => done(ev.response?.status_code ?? 0),
              },
            } as never)
          })
        },
        async call(target) {
          state.callState = 'calling'
          const s = ua.call(target, { mediaConstraints: AUDIO_ONLY, pcConfig: { iceServers: [] } }) as unknown as JsSipSession
          watch(s)
        },
        async hangup() {
          session?.terminate()
        },
        peerConnection() {
          return session?.connection ?? null
        },
        async stop() {
          ua.stop()
        },
      })
    })
    ua.on('registrationFailed', (e: { cause?: string; response?: { status_code: number } }) => {
      state.registrationError = `${e.cause ?? 'failed'} ${e.response?.status_code ?? ''}`.trim()
      log('registration-failed')
      reject(new Error(`JsSIP registration failed: ${state.registrationError}`))
    })
    ua.start()
  })
}

interface JsSipSession {
  on(event: string, listener: (e: never) => void): void
  answer(options: object): void
  terminate(): void
  connection: RTCPeerConnection | null
}

// ------------------------------------------------------------------ SIP.js

async function startSipJs(o: HarnessStartOptions): Promise<Driver> {
  let session: Session | null = null
  const watch = (s: Session) => {
    session = s
    s.delegate = {
      onBye: () => {
        state.callEndedBy = 'remote'
        log('bye-received')
      },
    }
    s.stateChange.addListener((next) => {
      if (next === SessionState.Establishing && state.callState !== 'ringing') state.callState = 'calling'
      if (next === SessionState.Established) {
        state.callState = 'established'
        log('call-established')
      }
      if (next === SessionState.Terminated) {
        if (state.callState !== 'established' && state.callEndedBy === null) {
          state.callState = 'failed'
          state.callEndedBy = 'failed'
        } else {
          state.callState = 'terminated'
          state.callEndedBy ??= 'local'
        }
        log(`call-ended:${state.callEndedBy}`)
      }
    })
  }
  const ua = new UserAgent({
    uri: UserAgent.makeURI(`sip:${o.username}@${o.domain}`),
    transportOptions: { server: o.wsUrl },
    authorizationUsername: o.username,
    authorizationPassword: o.password,
    displayName: o.displayName,
    userAgentString: 'patchbay-test SIP.js',
    logLevel: 'warn',
    sessionDescriptionHandlerFactoryOptions: {
      iceGatheringTimeout: 500,
      peerConnectionConfiguration: { iceServers: [] },
    },
    delegate: {
      onMessage(message) {
        state.messages.push({
          from: message.request.from.uri.toString(),
          body: message.request.body,
          contentType: message.request.getHeader('Content-Type') ?? '',
        })
        log('message-in')
        message.accept()
      },
      onInvite(invitation: Invitation) {
        state.callState = 'ringing'
        log('call-incoming')
        watch(invitation)
        invitation.progress()
        if (o.autoAnswer) {
          invitation.accept({ sessionDescriptionHandlerOptions: { constraints: AUDIO_ONLY } }).catch((error: unknown) => {
            log(`answer-error:${String(error)}`)
          })
        }
      },
    },
  })
  await ua.start()
  const registerer = new Registerer(ua, { expires: 600 })
  await new Promise<void>((resolve, reject) => {
    registerer.stateChange.addListener((next) => {
      if (next === RegistererState.Registered) {
        state.registered = true
        log('registered')
        resolve()
      }
    })
    registerer.register({
      requestDelegate: {
        onReject(response) {
          state.registrationError = `${response.message.statusCode} ${response.message.reasonPhrase}`
          log('registration-failed')
          reject(new Error(`SIP.js registration failed: ${state.registrationError}`))
        },
      },
    }).catch(reject)
  })
  return {
    sendMessage(target, body) {
      const uri = UserAgent.makeURI(target)
      if (!uri) return Promise.reject(new Error(`bad target ${target}`))
      return new Promise((done) => {
        new Messager(ua, uri, body, 'text/plain').message({
          requestDelegate: {
            onAccept: (response) => done(response.message.statusCode ?? 0),
            onReject: (response) => done(response.message.statusCode ?? 0),
          },
        }).catch(() => done(0))
      })
    },
    async call(target) {
      const uri = UserAgent.makeURI(target)
      if (!uri) throw new Error(`bad target ${target}`)
      const inviter = new Inviter(ua, uri, { sessionDescriptionHandlerOptions: { constraints: AUDIO_ONLY } })
      state.callState = 'calling'
      watch(inviter)
      await inviter.invite({
        requestDelegate: {
          onProgress: () => {
            if (state.callState === 'calling') state.callState = 'ringing'
            log('call-progress')
          },
        },
      })
    },
    async hangup() {
      if (!session) return
      if (session.state === SessionState.Established) await session.bye()
      else if (session instanceof Inviter) await session.cancel()
      else await (session as Invitation).reject()
    },
    peerConnection() {
      const handler = session?.sessionDescriptionHandler as { peerConnection?: RTCPeerConnection } | undefined
      return handler?.peerConnection ?? null
    },
    async stop() {
      await registerer.unregister().catch(() => undefined)
      await ua.stop()
    },
  }
}

// ------------------------------------------------------------------ the harness

async function mediaCounters(): Promise<MediaCounters> {
  const pc = driver?.peerConnection() ?? null
  const counters: MediaCounters = { packetsReceived: 0, packetsSent: 0, selectedPair: null }
  if (!pc) return counters
  const stats = await pc.getStats()
  const byId = new Map<string, Record<string, unknown>>()
  stats.forEach((report: Record<string, unknown>) => byId.set(report.id as string, report))
  for (const report of byId.values()) {
    if (report.type === 'inbound-rtp' && report.kind === 'audio') counters.packetsReceived += Number(report.packetsReceived ?? 0)
    if (report.type === 'outbound-rtp' && report.kind === 'audio') counters.packetsSent += Number(report.packetsSent ?? 0)
    if (report.type === 'candidate-pair' && report.state === 'succeeded' && report.nominated) {
      const local = byId.get(report.localCandidateId as string)
      const remote = byId.get(report.remoteCandidateId as string)
      counters.selectedPair = `${String(local?.candidateType)}/${String(remote?.candidateType)}`
    }
  }
  return counters
}

window.pbHarness = {
  libraries: { jssip: JsSIP.version, sipjs: sipJsVersion },
  state,
  async start(options) {
    if (driver) throw new Error('pbHarness already started')
    state.lib = options.lib
    driver = options.lib === 'jssip' ? await startJsSip(options) : await startSipJs(options)
  },
  sendMessage(target, body) {
    if (!driver) return Promise.reject(new Error('pbHarness not started'))
    return driver.sendMessage(target, body)
  },
  call(target) {
    if (!driver) return Promise.reject(new Error('pbHarness not started'))
    return driver.call(target)
  },
  hangup() {
    if (!driver) return Promise.reject(new Error('pbHarness not started'))
    return driver.hangup()
  },
  mediaCounters,
  async stop() {
    await driver?.stop()
    driver = null
  },
}

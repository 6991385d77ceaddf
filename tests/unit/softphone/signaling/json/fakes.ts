/**
 * Test doubles for the JSON signaling client: a WebSocket the test plays the gateway on, an
 * RTCPeerConnection that makes SDP with the right direction attribute and records what it
 * was given, media streams and tracks, sessionStorage and fetch for the two HTTP endpoints.
 */
import type { WebSocketLike } from '../../../../../softphone/src/signaling/json/json-connection.ts'

type Listener = (event: any) => void // eslint-disable-line @typescript-eslint/no-explicit-any

class Listeners {
  private readonly map = new Map<string, Set<Listener>>()
  addEventListener(type: string, listener: Listener): void {
    let set = this.map.get(type)
    if (!set) this.map.set(type, (set = new Set()))
    set.add(listener)
  }
  removeEventListener(type: string, listener: Listener): void {
    this.map.get(type)?.delete(listener)
  }
  dispatch(type: string, event: unknown): void {
    for (const l of [...(this.map.get(type) ?? [])]) l(event)
  }
}

/** A WebSocket whose far end is the test: `serverSend` delivers frames, `sent` has the client's (parsed). */
export class FakeWebSocket extends Listeners implements WebSocketLike {
  readyState = 0
  readonly sent: Array<Record<string, unknown>> = []
  closedByClient = false
  constructor(readonly url: string, readonly protocols: string[]) {
    super()
  }
  open(): void {
    this.readyState = 1
    this.dispatch('open', {})
  }
  send(data: string): void {
    if (this.readyState !== 1) throw new Error('not open')
    this.sent.push(JSON.parse(data) as Record<string, unknown>)
  }
  close(): void {
    this.closedByClient = true
    this.readyState = 3
  }
  /** The gateway sends a message (an object is JSON-encoded; a string or other value goes as it is). */
  serverSend(message: unknown): void {
    this.dispatch('message', { data: typeof message === 'object' && message !== null && !(message instanceof Uint8Array) ? JSON.stringify(message) : message })
  }
  /** The gateway (or the network) closes the connection. */
  serverClose(): void {
    this.readyState = 3
    this.dispatch('close', {})
  }
  sentOfType(type: string): Array<Record<string, unknown>> {
    return this.sent.filter((m) => m.type === type)
  }
}

export class FakeTrack {
  enabled = true
  readyState = 'live'
  constructor(readonly kind = 'audio', readonly id = `t${Math.random().toString(36).slice(2)}`) {}
  stop(): void {
    this.readyState = 'ended'
  }
}

export class FakeStream {
  constructor(private readonly tracks: FakeTrack[] = [new FakeTrack()]) {}
  getTracks(): FakeTrack[] {
    return this.tracks
  }
  getAudioTracks(): FakeTrack[] {
    return this.tracks.filter((t) => t.kind === 'audio')
  }
  addTrack(t: FakeTrack): void {
    this.tracks.push(t)
  }
}

export class FakeDtmfSender {
  canInsertDTMF = true
  toneBuffer = ''
  readonly inserted: Array<[string, number, number]> = []
  insertDTMF(tones: string, duration: number, gap: number): void {
    this.inserted.push([tones, duration, gap])
    this.toneBuffer = tones
  }
}

interface FakeTransceiver {
  direction: RTCRtpTransceiverDirection
  sender: { track: FakeTrack | null; dtmf: FakeDtmfSender; replaceTrack(t: FakeTrack): Promise<void> }
  receiver: { track: FakeTrack }
}

let pcSeq = 0

/** SDP with one audio m-line; `a=<direction>` and an ICE ufrag naming the connection. */
export function fakeSdp(direction: string, ufrag = 'u'): string {
  return ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 't=0 0', 'm=audio 9 UDP/TLS/RTP/SAVPF 111', `a=ice-ufrag:${ufrag}`, `a=${direction}`, ''].join('\r\n')
}

const ANSWER_DIRECTION: Record<string, string> = { sendonly: 'recvonly', inactive: 'inactive', recvonly: 'sendonly', sendrecv: 'sendrecv' }

/** An RTCPeerConnection double: every instance is in `FakePeerConnection.all`. */
export class FakePeerConnection extends Listeners {
  static all: FakePeerConnection[] = []
  /** true: setLocalDescription leaves gathering running (the test fires candidates with `gather`). */
  static gathersSlowly = false
  readonly name = `pc${++pcSeq}`
  iceGatheringState: RTCIceGatheringState = 'new'
  signalingState: RTCSignalingState = 'stable'
  localDescription: RTCSessionDescriptionInit | null = null
  remoteDescription: RTCSessionDescriptionInit | null = null
  readonly remoteDescriptions: RTCSessionDescriptionInit[] = []
  readonly transceivers: FakeTransceiver[] = []
  readonly remoteStream = new FakeStream([])
  closed = false

  constructor(readonly config: RTCConfiguration) {
    super()
    FakePeerConnection.all.push(this)
  }

  addTrack(track: FakeTrack): void {
    this.transceivers.push({ direction: 'sendrecv', sender: { track, dtmf: new FakeDtmfSender(), replaceTrack: async (t) => { this.transceivers[0]!.sender.track = t } }, receiver: { track: new FakeTrack() } })
  }
  addTransceiver(_kind: string, init?: { direction?: RTCRtpTransceiverDirection }): void {
    this.transceivers.push({ direction: init?.direction ?? 'sendrecv', sender: { track: null, dtmf: new FakeDtmfSender(), replaceTrack: async () => undefined }, receiver: { track: new FakeTrack() } })
  }
  getTransceivers(): FakeTransceiver[] {
    return this.transceivers
  }
  getSenders(): FakeTransceiver['sender'][] {
    return this.transceivers.map((t) => t.sender)
  }
  async createOffer(): Promise<RTCSessionDescriptionInit> {
    return { type: 'offer', sdp: fakeSdp(this.transceivers[0]?.direction ?? 'sendrecv', this.name) }
  }
  async createAnswer(): Promise<RTCSessionDescriptionInit> {
    const offered = /^a=(sendrecv|sendonly|recvonly|inactive)\r?$/m.exec(this.remoteDescription?.sdp ?? '')?.[1] ?? 'sendrecv'
    return { type: 'answer', sdp: fakeSdp(ANSWER_DIRECTION[offered]!, this.name) }
  }
  async setLocalDescription(d: RTCSessionDescriptionInit): Promise<void> {
    if (this.closed) throw new Error('closed')
    if (d.type === 'rollback') {
      this.signalingState = 'stable'
      return
    }
    this.localDescription = d
    this.signalingState = d.type === 'offer' ? 'have-local-offer' : 'stable'
    this.iceGatheringState = FakePeerConnection.gathersSlowly ? 'gathering' : 'complete'
  }
  async setRemoteDescription(d: RTCSessionDescriptionInit): Promise<void> {
    if (this.closed) throw new Error('closed')
    if (d.sdp?.includes('a=bogus')) throw new Error('bad SDP')
    this.remoteDescription = d
    this.remoteDescriptions.push(d)
    this.signalingState = d.type === 'offer' ? 'have-remote-offer' : d.type === 'pranswer' ? 'have-remote-pranswer' : 'stable'
    const track = new FakeTrack()
    this.dispatch('track', { track, streams: [this.remoteStream] })
  }
  /** Candidates given to addIceCandidate (trickle ICE), in order. */
  readonly remoteCandidates: RTCIceCandidateInit[] = []
  async addIceCandidate(c: RTCIceCandidateInit): Promise<void> {
    if (this.remoteDescription === null) throw new Error('InvalidStateError: no remote description')
    this.remoteCandidates.push(c)
  }
  /** Fires an `icecandidate` event as a browser does while gathering (null: gathering done). */
  gather(candidate: { candidate: string; sdpMid: string | null; sdpMLineIndex: number | null; type?: string } | null): void {
    if (candidate === null) this.iceGatheringState = 'complete'
    this.dispatch('icecandidate', { candidate })
  }
  close(): void {
    this.closed = true
  }
}

/** sessionStorage double. */
export class MemoryStorage {
  readonly map = new Map<string, string>()
  getItem(key: string): string | null {
    return this.map.get(key) ?? null
  }
  setItem(key: string, value: string): void {
    this.map.set(key, value)
  }
  removeItem(key: string): void {
    this.map.delete(key)
  }
}

/** fetch for /api/client-config and /api/ice-servers; `iceAuth` collects Authorization headers. */
export function fakeFetch(iceAuth: string[] = [], config: Record<string, unknown> = {}) {
  return async (input: string, init?: RequestInit): Promise<Response> => {
    const path = new URL(input).pathname
    if (path === '/api/client-config') {
      return Response.json({ domain: 'patchbay.test', sipWebSocketPath: '/sip', iceServersPath: '/api/ice-servers', jsonWebSocketPath: '/json', ...config })
    }
    if (path === '/api/ice-servers') {
      iceAuth.push(new Headers(init?.headers).get('authorization') ?? '')
      return Response.json({ iceServers: [], ttlSeconds: 600 })
    }
    return new Response('no', { status: 404 })
  }
}

/** Lets pending promises and zero-delay timers run. */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0))
}

/** Polls `check` until it returns a value (not undefined/false), at most `ms`. */
export async function eventually<T>(check: () => T | undefined | false, ms = 2000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = check()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 2))
  }
}

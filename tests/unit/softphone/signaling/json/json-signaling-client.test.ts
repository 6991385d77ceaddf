/**
 * JsonSignalingClient against a scripted gateway: a fake WebSocket on which the test sends
 * the gateway's frames (docs/json-signaling.md) and reads the client's, and a fake
 * RTCPeerConnection. Login proof, registration states, calls, hold, the other side's
 * re-offer, attach after a reload, keepalive and bad frames.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { createHash, createHmac } from 'node:crypto'
import { JsonSignalingClient } from '../../../../../softphone/src/signaling/json/json-signaling-client.ts'
import { JSON_SESSION_KEY } from '../../../../../softphone/src/signaling/json/json-registration.ts'
import type { CallSnapshot } from '../../../../../softphone/src/signaling/signaling-client.ts'
import { eventually, fakeFetch, FakePeerConnection, fakeSdp, FakeStream, FakeWebSocket, flush, MemoryStorage } from './fakes.ts'

const CHALLENGE = { type: 'challenge', version: 1, realm: 'patchbay.test', nonce: 'kW2q-nonce-01', algorithm: 'HMAC-SHA-256' }
const TOKEN = 'tok-0123456789abcdef'

function sessionMessage(id: unknown, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'session', id, username: 'alice', aor: 'sip:alice@patchbay.test', token: TOKEN, graceSeconds: 30, calls: [], ...extra }
}

function nodeProof(user: string, realm: string, password: string, nonce: string): string {
  const ha1 = createHash('sha256').update(`${user}:${realm}:${password}`).digest('hex')
  return createHmac('sha256', ha1).update(nonce).digest('hex')
}

interface Harness {
  client: JsonSignalingClient
  sockets: FakeWebSocket[]
  iceAuth: string[]
  storage: MemoryStorage
  snapshots: CallSnapshot[]
}

let current: Harness | undefined

function setup(options: { storage?: MemoryStorage; pingIntervalMs?: number; pongTimeoutMs?: number; failFetch?: boolean } = {}): Harness {
  FakePeerConnection.all = []
  const sockets: FakeWebSocket[] = []
  const iceAuth: string[] = []
  const storage = options.storage ?? new MemoryStorage()
  const client = new JsonSignalingClient({
    pageOrigin: 'http://gw.test:8080',
    fetch: options.failFetch ? async () => { throw new Error('ECONNREFUSED') } : fakeFetch(iceAuth),
    getUserMedia: async () => new FakeStream() as unknown as MediaStream,
    createWebSocket: (url, protocols) => {
      const ws = new FakeWebSocket(url, protocols)
      sockets.push(ws)
      queueMicrotask(() => ws.open())
      return ws
    },
    createPeerConnection: (config) => new FakePeerConnection(config) as unknown as RTCPeerConnection,
    sessionStorage: storage,
    random: () => 0,
    timings: { pingIntervalMs: options.pingIntervalMs ?? 60_000, pongTimeoutMs: options.pongTimeoutMs ?? 60_000 },
  })
  const snapshots: CallSnapshot[] = []
  client.on('call', (s) => snapshots.push(s))
  current = { client, sockets, iceAuth, storage, snapshots }
  return current
}

afterEach(async () => {
  await current?.client.dispose()
  current = undefined
})

/** Signs in as alice: challenge, login, session. Returns the socket. */
async function signIn(h: Harness, password = 'alice-demo'): Promise<FakeWebSocket> {
  void h.client.register({ server: '', user: 'alice', password })
  const ws = await eventually(() => h.sockets[0]?.readyState === 1 && h.sockets[0])
  ws.serverSend(CHALLENGE)
  const login = await eventually(() => ws.sentOfType('login')[0])
  ws.serverSend(sessionMessage(login.id))
  await eventually(() => h.client.registration.status === 'registered')
  return ws
}

/** alice calls bob, the gateway answers; returns the call id. */
async function connectedCall(h: Harness, ws: FakeWebSocket): Promise<string> {
  const before = ws.sentOfType('call').length
  const result = await h.client.call('bob')
  if (!result.ok) throw new Error(result.message)
  const sent = await eventually(() => ws.sentOfType('call')[before])
  ws.serverSend({ type: 'answered', callId: sent.callId, sdp: fakeSdp('sendrecv', 'bob') })
  await eventually(() => h.client.calls.find((c) => c.id === result.callId)?.state === 'connected')
  return result.callId
}

describe('login', () => {
  test('the proof is HMAC-SHA-256 keyed with the SHA-256 HA1 text over the nonce (as node:crypto computes it)', async () => {
    const h = setup()
    const ws = await signIn(h)
    expect(ws.url).toBe('ws://gw.test:8080/json')
    expect(ws.protocols).toEqual(['patchbay-json.1'])
    const login = ws.sentOfType('login')[0]!
    expect(login.username).toBe('alice')
    expect(login.proof).toBe(nodeProof('alice', 'patchbay.test', 'alice-demo', CHALLENGE.nonce))
    expect(login.proof).not.toBe(nodeProof('alice', 'patchbay.test', 'alice-demo!', CHALLENGE.nonce))
    // The password itself never goes out.
    expect(JSON.stringify(ws.sent)).not.toContain('alice-demo')
  })

  test('session -> registered with the aor from the message; the token is kept in sessionStorage; ICE servers fetched with Basic auth', async () => {
    const h = setup()
    await signIn(h)
    expect(h.client.registration).toMatchObject({ status: 'registered', aor: 'sip:alice@patchbay.test' })
    expect(JSON.parse(h.storage.getItem(JSON_SESSION_KEY)!)).toEqual({ origin: 'http://gw.test:8080', user: 'alice', token: TOKEN })
    await eventually(() => h.iceAuth.length > 0)
    expect(h.iceAuth[0]).toBe(`Basic ${btoa('alice:alice-demo')}`)
  })

  test('auth-failed -> failed / wrong-password, no retry', async () => {
    const h = setup()
    void h.client.register({ server: '', user: 'alice', password: 'nope' })
    const ws = await eventually(() => h.sockets[0]?.readyState === 1 && h.sockets[0])
    ws.serverSend(CHALLENGE)
    const login = await eventually(() => ws.sentOfType('login')[0])
    ws.serverSend({ type: 'error', code: 'auth-failed', message: 'wrong username or password', id: login.id })
    await eventually(() => h.client.registration.status === 'failed')
    expect(h.client.registration).toEqual({ status: 'failed', reason: 'wrong-password', message: 'Wrong password.' })
    expect(ws.closedByClient).toBe(true)
    await flush()
    expect(h.sockets.length).toBe(1)
  })

  test('an unreachable gateway -> reconnecting / unreachable with a retry scheduled', async () => {
    const h = setup({ failFetch: true })
    await h.client.register({ server: '', user: 'alice', password: 'alice-demo' })
    const state = await eventually(() => h.client.registration.status === 'reconnecting' && h.client.registration)
    expect(state).toMatchObject({ status: 'reconnecting', reason: 'unreachable', attempt: 1 })
    if (state.status === 'reconnecting') expect(state.retryAt).toBeGreaterThan(Date.now())
  })

  test('a lost connection -> reconnecting; the next connection attaches with the token, not a new login', async () => {
    const h = setup()
    const ws = await signIn(h)
    ws.serverClose()
    await eventually(() => h.client.registration.status === 'reconnecting')
    expect(h.client.registration).toMatchObject({ reason: 'unreachable' })
    h.client.reconnectNow()
    const ws2 = await eventually(() => h.sockets[1]?.readyState === 1 && h.sockets[1])
    ws2.serverSend(CHALLENGE)
    const attach = await eventually(() => ws2.sentOfType('attach')[0])
    expect(attach.token).toBe(TOKEN)
    expect(ws2.sentOfType('login')).toEqual([])
    ws2.serverSend(sessionMessage(attach.id))
    await eventually(() => h.client.registration.status === 'registered')
  })

  test('keepalive: ping every interval; no answer -> connection lost', async () => {
    const h = setup({ pingIntervalMs: 15, pongTimeoutMs: 30 })
    const ws = await signIn(h)
    const ping = await eventually(() => ws.sentOfType('ping')[0])
    ws.serverSend({ type: 'pong', id: ping.id })
    expect(h.client.registration.status).toBe('registered')
    await eventually(() => h.client.registration.status === 'reconnecting', 1000)
    expect(ws.closedByClient).toBe(true)
  })
})

describe('calls', () => {
  test('outgoing: call with the complete offer, ringing, answered -> connected with remote media', async () => {
    const h = setup()
    const ws = await signIn(h)
    const media: string[] = []
    h.client.on('remote-media', (e) => media.push(e.callId))
    const result = await h.client.call('bob')
    expect(result.ok).toBe(true)
    const sent = await eventually(() => ws.sentOfType('call')[0])
    expect(sent).toMatchObject({ to: 'sip:bob@patchbay.test' })
    expect(String(sent.sdp)).toContain('a=sendrecv')
    const callId = String(sent.callId)
    expect(callId).toMatch(/^[A-Za-z0-9._~-]{1,64}$/)
    ws.serverSend({ type: 'ringing', callId })
    await eventually(() => h.client.calls[0]?.state === 'ringing')
    ws.serverSend({ type: 'answered', callId, sdp: fakeSdp('sendrecv', 'bob') })
    await eventually(() => h.client.calls[0]?.state === 'connected')
    const pc = h.client.getPeerConnection(callId) as unknown as FakePeerConnection
    expect(pc.remoteDescription).toEqual({ type: 'answer', sdp: fakeSdp('sendrecv', 'bob') })
    expect(media).toContain(callId)
    expect(h.client.getRemoteStream(callId)).toBe(pc.remoteStream as unknown as MediaStream)
    expect(h.client.getLocalStream(callId)).toBeDefined()
  })

  test('early media: ringing with sdp is applied as a pranswer', async () => {
    const h = setup()
    const ws = await signIn(h)
    await h.client.call('bob')
    const sent = await eventually(() => ws.sentOfType('call')[0])
    ws.serverSend({ type: 'ringing', callId: sent.callId, sdp: fakeSdp('sendrecv', 'ivr') })
    await eventually(() => h.client.calls[0]?.state === 'early-media')
    const pc = FakePeerConnection.all[0]!
    expect(pc.remoteDescription?.type).toBe('pranswer')
  })

  test.each([
    ['busy', 486, 'remote', 'busy', /is busy/],
    ['declined', 603, 'remote', 'declined', /declined/],
    ['not-found', 404, 'remote', 'not-found', /not found/],
    ['unavailable', 480, 'remote', 'unavailable', /not available/],
    ['no-answer', 408, 'remote', 'no-answer', /did not answer/],
    ['incompatible-media', 488, 'remote', 'incompatible', /cannot handle/],
    ['unreachable', 503, 'gateway', 'network', /unavailable/],
    ['failed', 500, 'remote', 'failed', /failed/],
  ] as const)('ended cause %s (%i) -> %s', async (cause, status, by, reason, text) => {
    const h = setup()
    const ws = await signIn(h)
    await h.client.call('bob')
    const sent = await eventually(() => ws.sentOfType('call')[0])
    ws.serverSend({ type: 'ended', callId: sent.callId, status, cause, by })
    const ended = await eventually(() => h.snapshots.find((s) => s.state === 'ended'))
    expect(ended.end).toMatchObject({ reason, statusCode: status })
    expect(ended.end?.message).toMatch(text)
    expect(h.client.calls).toEqual([])
    expect((h.client.getPeerConnection(String(sent.callId)) as unknown)).toBeUndefined()
    expect(FakePeerConnection.all[0]!.closed).toBe(true)
  })

  test('hang-up: local hangup sends hangup and ends as local-hangup; remote hangup ends as remote-hangup', async () => {
    const h = setup()
    const ws = await signIn(h)
    const callId = await connectedCall(h, ws)
    await h.client.hangup(callId)
    expect(ws.sentOfType('hangup')).toEqual([{ type: 'hangup', callId }])
    ws.serverSend({ type: 'ended', callId, status: 200, cause: 'hangup', by: 'local' })
    expect(h.snapshots.at(-1)).toMatchObject({ state: 'ended', end: { reason: 'local-hangup', statusCode: 200 } })

    const second = await connectedCall(h, ws)
    ws.serverSend({ type: 'ended', callId: second, status: 200, cause: 'hangup', by: 'remote' })
    expect(h.snapshots.at(-1)).toMatchObject({ state: 'ended', end: { reason: 'remote-hangup', message: 'bob hung up.' } })
  })

  test('incoming: answer sends our SDP answer; decline sends reject 603', async () => {
    const h = setup()
    const ws = await signIn(h)
    ws.serverSend({ type: 'incoming', callId: 'in-1-a', from: 'sip:carol@patchbay.test', displayName: 'Carol', sdp: fakeSdp('sendrecv', 'carol') })
    const ringing = await eventually(() => h.client.calls[0])
    expect(ringing).toMatchObject({ id: 'in-1-a', direction: 'incoming', state: 'incoming', remote: { user: 'carol', displayName: 'Carol' } })
    expect(await h.client.answer('in-1-a')).toEqual({ ok: true })
    const answer = ws.sentOfType('answer')[0]!
    expect(answer.callId).toBe('in-1-a')
    expect(String(answer.sdp)).toContain('a=sendrecv')
    expect(h.client.calls[0]?.state).toBe('connected')

    ws.serverSend({ type: 'incoming', callId: 'in-2-b', from: 'sip:dave@patchbay.test', sdp: fakeSdp('sendrecv', 'dave') })
    await eventually(() => h.client.calls.find((c) => c.id === 'in-2-b'))
    await h.client.decline('in-2-b')
    expect(ws.sentOfType('reject')).toEqual([{ type: 'reject', callId: 'in-2-b', status: 603, reason: 'Decline' }])
    ws.serverSend({ type: 'ended', callId: 'in-2-b', status: 603, cause: 'declined', by: 'local' })
    expect(h.snapshots.at(-1)).toMatchObject({ id: 'in-2-b', state: 'ended', end: { reason: 'declined', message: 'You declined the call.' } })
  })

  test('a third incoming call is refused with 486 automatically', async () => {
    const h = setup()
    const ws = await signIn(h)
    for (const id of ['in-1', 'in-2', 'in-3']) ws.serverSend({ type: 'incoming', callId: id, from: 'sip:x@patchbay.test', sdp: fakeSdp('sendrecv') })
    await flush()
    expect(h.client.calls.map((c) => c.id)).toEqual(['in-1', 'in-2'])
    expect(ws.sentOfType('reject')).toEqual([{ type: 'reject', callId: 'in-3', status: 486 }])
  })

  test('hold / resume: reoffer with a=sendonly then a=sendrecv; the answer comes as answered', async () => {
    const h = setup()
    const ws = await signIn(h)
    const callId = await connectedCall(h, ws)
    const holding = h.client.hold(callId)
    const offer = await eventually(() => ws.sentOfType('reoffer')[0])
    expect(offer.callId).toBe(callId)
    expect(String(offer.sdp)).toMatch(/^a=sendonly\r?$/m)
    ws.serverSend({ type: 'answered', callId, sdp: fakeSdp('recvonly', 'bob') })
    expect(await holding).toEqual({ ok: true })
    expect(h.client.calls[0]).toMatchObject({ onHold: true, state: 'connected' })
    expect((h.client.getLocalStream(callId) as unknown as FakeStream).getAudioTracks()[0]!.enabled).toBe(false)

    const resuming = h.client.unhold(callId)
    const offer2 = await eventually(() => ws.sentOfType('reoffer')[1])
    expect(String(offer2.sdp)).toMatch(/^a=sendrecv\r?$/m)
    ws.serverSend({ type: 'answered', callId, sdp: fakeSdp('sendrecv', 'bob') })
    expect(await resuming).toEqual({ ok: true })
    expect(h.client.calls[0]?.onHold).toBe(false)
    expect((h.client.getLocalStream(callId) as unknown as FakeStream).getAudioTracks()[0]!.enabled).toBe(true)
  })

  test('a refused reoffer (error with the callId) fails the hold and rolls back', async () => {
    const h = setup()
    const ws = await signIn(h)
    const callId = await connectedCall(h, ws)
    const holding = h.client.hold(callId)
    await eventually(() => ws.sentOfType('reoffer')[0])
    ws.serverSend({ type: 'error', code: 'wrong-state', message: 'cannot take a new offer now', callId })
    const result = await holding
    expect(result.ok).toBe(false)
    expect(h.client.calls[0]?.onHold).toBe(false)
    expect(FakePeerConnection.all[0]!.signalingState).toBe('stable')
  })

  test("the other side's reoffer is answered; sendonly shows as remoteHold, sendrecv clears it", async () => {
    const h = setup()
    const ws = await signIn(h)
    const callId = await connectedCall(h, ws)
    ws.serverSend({ type: 'reoffer', callId, sdp: fakeSdp('sendonly', 'bob2') })
    const answer = await eventually(() => ws.sentOfType('answer')[0])
    expect(answer.callId).toBe(callId)
    expect(String(answer.sdp)).toMatch(/^a=recvonly\r?$/m)
    await eventually(() => h.client.calls[0]?.remoteHold === true)
    ws.serverSend({ type: 'reoffer', callId, sdp: fakeSdp('sendrecv', 'bob3') })
    await eventually(() => ws.sentOfType('answer')[1])
    await eventually(() => h.client.calls[0]?.remoteHold === false)
  })

  test('DTMF goes to the RTCDTMFSender (RFC 4733) and is recorded in the snapshot', async () => {
    const h = setup()
    const ws = await signIn(h)
    const callId = await connectedCall(h, ws)
    expect(h.client.sendDtmf(callId, '12#')).toBe(true)
    expect(h.client.sendDtmf(callId, 'x')).toBe(false)
    const dtmf = FakePeerConnection.all[0]!.transceivers[0]!.sender.dtmf
    expect(dtmf.inserted).toEqual([['12#', 160, 80]])
    expect(h.client.calls[0]?.dtmfSent).toBe('12#')
  })
})

describe('attach after a reload', () => {
  test('resume(): attach with the stored token; connected calls get a new peer connection and a reoffer; a ringing call rings again', async () => {
    const storage = new MemoryStorage()
    storage.setItem(JSON_SESSION_KEY, JSON.stringify({ origin: 'http://gw.test:8080', user: 'alice', token: TOKEN }))
    const h = setup({ storage })
    expect(h.client.resume()).toBe(true)
    const ws = await eventually(() => h.sockets[0]?.readyState === 1 && h.sockets[0])
    ws.serverSend(CHALLENGE)
    const attach = await eventually(() => ws.sentOfType('attach')[0])
    expect(attach.token).toBe(TOKEN)
    ws.serverSend(sessionMessage(attach.id, {
      calls: [
        { callId: 'c-1', direction: 'outgoing', peer: 'sip:bob@patchbay.test', state: 'connected' },
        { callId: 'in-9', direction: 'incoming', peer: 'sip:carol@patchbay.test', state: 'ringing', sdp: fakeSdp('sendrecv', 'carol') },
      ],
    }))
    await eventually(() => h.client.registration.status === 'registered')
    const reoffer = await eventually(() => ws.sentOfType('reoffer')[0])
    expect(reoffer.callId).toBe('c-1')
    expect(String(reoffer.sdp)).toMatch(/^a=sendrecv\r?$/m)
    expect(FakePeerConnection.all.length).toBe(1)
    ws.serverSend({ type: 'answered', callId: 'c-1', sdp: fakeSdp('sendrecv', 'bob-new') })
    await eventually(() => FakePeerConnection.all[0]!.remoteDescription?.sdp === fakeSdp('sendrecv', 'bob-new'))
    expect(h.client.calls.map((c) => [c.id, c.state, c.remote.user])).toEqual([['c-1', 'connected', 'bob'], ['in-9', 'incoming', 'carol']])
    expect(h.client.getRemoteStream('c-1')).toBeDefined()
    // The ringing call can be answered as usual; the connected one is put on hold first.
    const answering = h.client.answer('in-9')
    const hold = await eventually(() => ws.sentOfType('reoffer')[1])
    expect(hold.callId).toBe('c-1')
    expect(String(hold.sdp)).toMatch(/^a=sendonly\r?$/m)
    ws.serverSend({ type: 'answered', callId: 'c-1', sdp: fakeSdp('recvonly', 'bob-new') })
    expect(await answering).toEqual({ ok: true })
    expect(ws.sentOfType('answer')[0]?.callId).toBe('in-9')
    expect(h.client.calls.map((c) => [c.id, c.state, c.onHold])).toEqual([['c-1', 'connected', true], ['in-9', 'connected', false]])
  })

  test('a refused token falls back to a login on the same connection when the password is known', async () => {
    const storage = new MemoryStorage()
    storage.setItem(JSON_SESSION_KEY, JSON.stringify({ origin: 'http://gw.test:8080', user: 'alice', token: 'expired-token-0000' }))
    const h = setup({ storage })
    void h.client.register({ server: '', user: 'alice', password: 'alice-demo' })
    const ws = await eventually(() => h.sockets[0]?.readyState === 1 && h.sockets[0])
    ws.serverSend(CHALLENGE)
    const attach = await eventually(() => ws.sentOfType('attach')[0])
    expect(attach.token).toBe('expired-token-0000')
    ws.serverSend({ type: 'error', code: 'auth-failed', message: 'unknown or expired session token', id: attach.id })
    const login = await eventually(() => ws.sentOfType('login')[0])
    expect(login.proof).toBe(nodeProof('alice', 'patchbay.test', 'alice-demo', CHALLENGE.nonce))
    ws.serverSend(sessionMessage(login.id))
    await eventually(() => h.client.registration.status === 'registered')
    expect(h.sockets.length).toBe(1)
  })

  test('a refused token without a password goes back to signed-out (the sign-in form)', async () => {
    const storage = new MemoryStorage()
    storage.setItem(JSON_SESSION_KEY, JSON.stringify({ origin: 'http://gw.test:8080', user: 'alice', token: 'expired-token-0000' }))
    const h = setup({ storage })
    h.client.resume()
    const ws = await eventually(() => h.sockets[0]?.readyState === 1 && h.sockets[0])
    ws.serverSend(CHALLENGE)
    const attach = await eventually(() => ws.sentOfType('attach')[0])
    ws.serverSend({ type: 'error', code: 'auth-failed', message: 'unknown or expired session token', id: attach.id })
    await eventually(() => h.client.registration.status === 'signed-out')
    expect(storage.getItem(JSON_SESSION_KEY)).toBeNull()
    expect(ws.sentOfType('login')).toEqual([])
  })

  test('no stored session: resume() does nothing', () => {
    const h = setup()
    expect(h.client.resume()).toBe(false)
    expect(h.sockets.length).toBe(0)
  })
})

describe('bad server frames', () => {
  test('are ignored without crashing, and later good frames still work', async () => {
    const h = setup()
    const ws = await signIn(h)
    const callId = await connectedCall(h, ws)
    const before = JSON.stringify(h.client.calls)
    for (const frame of [
      'not json', '[1,2]', '"text"', 'null', new Uint8Array([1, 2, 3]),
      { type: 'no-such-type' }, { notype: true },
      { type: 'answered', callId }, // no sdp
      { type: 'ended', callId, status: 'x', cause: 'hangup', by: 'remote' }, // status not a number
      { type: 'ended', callId, status: 200, cause: 'hangup', by: 'someone' },
      { type: 'reoffer', callId: 42, sdp: 'v=0' },
      { type: 'incoming', callId: 'in-x', from: 'sip:x@y' }, // no sdp
      { type: 'ended', callId: 'unknown-call', status: 200, cause: 'hangup', by: 'remote' },
      { type: 'session', id: 'zz', token: 5 },
      { type: 'error' },
    ]) ws.serverSend(frame)
    await flush()
    expect(JSON.stringify(h.client.calls)).toBe(before)
    expect(h.client.registration.status).toBe('registered')
    ws.serverSend({ type: 'ended', callId, status: 200, cause: 'hangup', by: 'remote', extraField: 'ignored' })
    expect(h.client.calls).toEqual([])
  })

  test('a bad answer SDP ends the call as incompatible after a hangup', async () => {
    const h = setup()
    const ws = await signIn(h)
    await h.client.call('bob')
    const sent = await eventually(() => ws.sentOfType('call')[0])
    ws.serverSend({ type: 'answered', callId: sent.callId, sdp: 'v=0\r\na=bogus\r\n' })
    await eventually(() => ws.sentOfType('hangup')[0])
    ws.serverSend({ type: 'ended', callId: sent.callId, status: 200, cause: 'hangup', by: 'local' })
    expect(h.snapshots.at(-1)?.end?.reason).toBe('incompatible')
  })
})

/**
 * Trickle ICE in the softphone's JSON client (json-trickle.ts, json-call.ts) against a
 * scripted gateway and a fake RTCPeerConnection: the login says `trickle`, the `call` and
 * `answer` go before any candidate with `trickle: true`, candidates follow as `candidate`
 * messages with the end marker, and the other side's candidates wait for the remote description.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { JsonSignalingClient } from '../../../../../softphone/src/signaling/json/json-signaling-client.ts'
import { eventually, fakeFetch, FakePeerConnection, fakeSdp, FakeStream, FakeWebSocket, flush, MemoryStorage } from './fakes.ts'

const CHALLENGE = { type: 'challenge', version: 1, realm: 'patchbay.test', nonce: 'trickle-nonce', algorithm: 'HMAC-SHA-256' }
const HOST = 'candidate:1 1 udp 2122260223 192.0.2.10 50000 typ host'
const HOST2 = 'candidate:3 1 udp 2122194687 192.0.2.11 50001 typ host'

let client: JsonSignalingClient | undefined

afterEach(async () => {
  FakePeerConnection.gathersSlowly = false
  await client?.dispose()
  client = undefined
})

async function signIn(): Promise<{ client: JsonSignalingClient; ws: FakeWebSocket }> {
  FakePeerConnection.all = []
  const sockets: FakeWebSocket[] = []
  client = new JsonSignalingClient({
    pageOrigin: 'http://gw.test:8080',
    fetch: fakeFetch([]),
    getUserMedia: async () => new FakeStream() as unknown as MediaStream,
    createWebSocket: (url, protocols) => {
      const ws = new FakeWebSocket(url, protocols)
      sockets.push(ws)
      queueMicrotask(() => ws.open())
      return ws
    },
    createPeerConnection: (config) => new FakePeerConnection(config) as unknown as RTCPeerConnection,
    sessionStorage: new MemoryStorage(),
    random: () => 0,
    timings: { pingIntervalMs: 60_000, pongTimeoutMs: 60_000 },
  })
  void client.register({ server: '', user: 'alice', password: 'alice-demo' })
  const ws = await eventually(() => sockets[0]?.readyState === 1 && sockets[0])
  ws.serverSend(CHALLENGE)
  const login = await eventually(() => ws.sentOfType('login')[0])
  expect(login.trickle).toBe(true)
  ws.serverSend({ type: 'session', id: login.id, username: 'alice', aor: 'sip:alice@patchbay.test', token: 'tok-0123456789abcdef', graceSeconds: 30, calls: [] })
  await eventually(() => client!.registration.status === 'registered')
  return { client, ws }
}

describe('local candidates', () => {
  test('the call goes before any candidate; candidates follow in order, then the end marker; a later one still goes', async () => {
    FakePeerConnection.gathersSlowly = true
    const { client, ws } = await signIn()
    await client.call('bob')
    const call = await eventually(() => ws.sentOfType('call')[0])
    expect(call.trickle).toBe(true)
    expect(ws.sentOfType('candidate')).toEqual([])
    const pc = FakePeerConnection.all[0]!
    pc.gather({ candidate: HOST, sdpMid: '0', sdpMLineIndex: 0, type: 'host' })
    pc.gather(null)
    pc.gather({ candidate: HOST2, sdpMid: '0', sdpMLineIndex: 0, type: 'host' })
    expect(ws.sentOfType('candidate')).toEqual([
      { type: 'candidate', callId: call.callId, candidate: HOST, sdpMid: '0', sdpMLineIndex: 0 },
      { type: 'candidate', callId: call.callId, candidate: '' },
      { type: 'candidate', callId: call.callId, candidate: HOST2, sdpMid: '0', sdpMLineIndex: 0 },
    ])
  })

  test('candidates found before the call went are sent right after it; a connection done gathering ends them at once', async () => {
    const { client, ws } = await signIn()
    await client.call('bob')
    const call = await eventually(() => ws.sentOfType('call')[0])
    // The fake completes gathering in setLocalDescription: only the end marker.
    await eventually(() => ws.sentOfType('candidate').length === 1)
    expect(ws.sentOfType('candidate')).toEqual([{ type: 'candidate', callId: call.callId, candidate: '' }])
    const i = ws.sent.findIndex((m) => m.type === 'call')
    expect(ws.sent.findIndex((m) => m.type === 'candidate')).toBeGreaterThan(i)
  })
})

describe('remote candidates', () => {
  test('candidates before the answer wait for it, then are applied in order; the end marker is not applied', async () => {
    const { client, ws } = await signIn()
    await client.call('bob')
    const call = await eventually(() => ws.sentOfType('call')[0])
    const callId = String(call.callId)
    ws.serverSend({ type: 'ringing', callId })
    ws.serverSend({ type: 'candidate', callId, candidate: HOST, sdpMid: '0', sdpMLineIndex: 0 })
    ws.serverSend({ type: 'candidate', callId, candidate: '' })
    await flush()
    const pc = FakePeerConnection.all[0]!
    expect(pc.remoteCandidates).toEqual([])
    ws.serverSend({ type: 'answered', callId, sdp: fakeSdp('sendrecv', 'bob') })
    await eventually(() => client.calls[0]?.state === 'connected')
    expect(pc.remoteCandidates).toEqual([{ candidate: HOST, sdpMid: '0', sdpMLineIndex: 0 }])
    ws.serverSend({ type: 'candidate', callId, candidate: HOST2, sdpMid: null, sdpMLineIndex: 0 })
    await eventually(() => pc.remoteCandidates.length === 2)
    expect(pc.remoteCandidates[1]).toEqual({ candidate: HOST2, sdpMLineIndex: 0 })
  })

  test('incoming: the caller\'s candidates while ringing are applied after the offer; the answer says trickle', async () => {
    const { client, ws } = await signIn()
    ws.serverSend({ type: 'incoming', callId: 'in-t', from: 'sip:carol@patchbay.test', sdp: fakeSdp('sendrecv', 'carol'), trickle: true })
    await eventually(() => client.calls[0])
    ws.serverSend({ type: 'candidate', callId: 'in-t', candidate: HOST, sdpMid: '0', sdpMLineIndex: 0 })
    await flush()
    expect(await client.answer('in-t')).toEqual({ ok: true })
    const pc = FakePeerConnection.all[0]!
    expect(pc.remoteDescription?.type).toBe('offer')
    expect(pc.remoteCandidates).toEqual([{ candidate: HOST, sdpMid: '0', sdpMLineIndex: 0 }])
    expect(ws.sentOfType('answer')[0]).toMatchObject({ callId: 'in-t', trickle: true })
  })
})

/**
 * Blind transfer in the softphone's JSON mode (docs/json-signaling.md "Blind transfer"),
 * against a scripted gateway (fake WebSocket and RTCPeerConnection from fakes.ts):
 * - as transferor: `transfer {callId, to}`; `ended` cause `transferred` by `local` -> the
 *   transfer succeeded and the call ends `transferred`; `error transfer-failed` -> the
 *   transfer failed (with the reason) and the call stays;
 * - as transferee: the gateway's `transfer {callId, to, by}` -> a new `call` with
 *   `transferOf` and `referredBy`, the old call held and then ended as `transferred`.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { JsonSignalingClient } from '../../../../../softphone/src/signaling/json/json-signaling-client.ts'
import type { CallSnapshot } from '../../../../../softphone/src/signaling/signaling-client.ts'
import { eventually, fakeFetch, FakePeerConnection, fakeSdp, FakeStream, FakeWebSocket, MemoryStorage } from './fakes.ts'

const CHALLENGE = { type: 'challenge', version: 1, realm: 'patchbay.test', nonce: 'nonce-transfer', algorithm: 'HMAC-SHA-256' }

interface Harness {
  client: JsonSignalingClient
  ws: FakeWebSocket
  snapshots: CallSnapshot[]
}

let client: JsonSignalingClient | undefined

afterEach(async () => {
  await client?.dispose()
  client = undefined
})

/** alice signed in over a fake gateway. */
async function signedIn(): Promise<Harness> {
  FakePeerConnection.all = []
  const sockets: FakeWebSocket[] = []
  client = new JsonSignalingClient({
    pageOrigin: 'http://gw.test:8080',
    fetch: fakeFetch(),
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
  const snapshots: CallSnapshot[] = []
  client.on('call', (s) => snapshots.push(s))
  void client.register({ server: '', user: 'alice', password: 'alice-demo' })
  const ws = await eventually(() => sockets[0]?.readyState === 1 && sockets[0])
  ws.serverSend(CHALLENGE)
  const login = await eventually(() => ws.sentOfType('login')[0])
  ws.serverSend({ type: 'session', id: login.id, username: 'alice', displayName: 'Alice Archer', aor: 'sip:alice@patchbay.test', token: 'tok-0123456789abcdef', graceSeconds: 30, calls: [] })
  await eventually(() => client!.registration.status === 'registered')
  return { client, ws, snapshots }
}

/** alice calls bob and the gateway answers: the call id. */
async function callToBob(h: Harness): Promise<string> {
  const result = await h.client.call('bob')
  if (!result.ok) throw new Error(result.message)
  await eventually(() => h.ws.sentOfType('call')[0])
  h.ws.serverSend({ type: 'answered', callId: result.callId, sdp: fakeSdp('sendrecv', 'bob') })
  await eventually(() => h.client.calls[0]?.state === 'connected')
  return result.callId
}

/** bob calls alice and she answers: the call id. */
async function callFromBob(h: Harness): Promise<string> {
  h.ws.serverSend({ type: 'incoming', callId: 'in-7-x', from: 'sip:bob@patchbay.test', displayName: 'Bob Baker', sdp: fakeSdp('sendrecv', 'bob') })
  await eventually(() => h.client.calls[0]?.state === 'incoming')
  expect(await h.client.answer('in-7-x')).toEqual({ ok: true })
  return 'in-7-x'
}

const transferStates = (h: Harness, callId: string): string[] =>
  h.snapshots.filter((s) => s.id === callId && s.transfer).map((s) => s.transfer!.state).filter((s, i, all) => all[i - 1] !== s)

describe('JSON transfer: this user transfers', () => {
  test('sends `transfer` with the target URI; `ended` transferred -> succeeded, the call ends `transferred`', async () => {
    const h = await signedIn()
    const callId = await callToBob(h)
    expect(await h.client.transfer(callId, 'carol')).toEqual({ ok: true })
    expect(h.ws.sentOfType('transfer')).toEqual([{ type: 'transfer', callId, to: 'sip:carol@patchbay.test' }])
    expect(h.client.calls[0]?.transfer).toEqual({ target: 'carol', state: 'trying' })
    h.ws.serverSend({ type: 'ended', callId, status: 200, cause: 'transferred', by: 'local' })
    const last = await eventually(() => h.snapshots.findLast((s) => s.id === callId && s.state === 'ended'))
    expect(last.end).toEqual({ reason: 'transferred', statusCode: 200, message: 'Transferred to carol.' })
    expect(transferStates(h, callId)).toEqual(['trying', 'succeeded'])
    expect(h.client.calls).toEqual([])
  })

  test('`error transfer-failed` with the status: failed with the reason, the call stays up', async () => {
    const h = await signedIn()
    const callId = await callToBob(h)
    await h.client.transfer(callId, 'carol')
    h.ws.serverSend({ type: 'error', code: 'transfer-failed', message: 'transfer failed: 486 Busy Here', callId, status: 486 })
    await eventually(() => h.client.calls[0]?.transfer?.state === 'failed')
    expect(h.client.calls[0]).toMatchObject({ state: 'connected', transfer: { target: 'carol', state: 'failed', message: 'Transfer failed: carol is busy.' } })
    // A second attempt is allowed.
    expect(await h.client.transfer(callId, 'dave@example.org')).toEqual({ ok: true })
    expect(h.ws.sentOfType('transfer')[1]).toMatchObject({ to: 'sip:dave@example.org' })
  })

  test('a transfer refused as wrong-state fails without touching a pending hold', async () => {
    const h = await signedIn()
    const callId = await callToBob(h)
    await h.client.transfer(callId, 'carol')
    h.ws.serverSend({ type: 'error', code: 'wrong-state', message: 'cannot be transferred now', callId })
    await eventually(() => h.client.calls[0]?.transfer?.state === 'failed')
    expect(h.client.calls[0]?.transfer?.message).toBe('Transfer failed: the call cannot be transferred now.')
    expect(h.client.calls[0]?.state).toBe('connected')
  })

  test('refused before anything is sent: not connected, a bad target, a transfer under way', async () => {
    const h = await signedIn()
    expect(await h.client.transfer('nope', 'carol')).toEqual({ ok: false, message: 'The call is not connected.' })
    const callId = await callToBob(h)
    const bad = await h.client.transfer(callId, 'not a target')
    expect(bad.ok).toBe(false)
    await h.client.transfer(callId, 'carol')
    expect(await h.client.transfer(callId, 'carol')).toEqual({ ok: false, message: 'A transfer is already under way.' })
    expect(h.ws.sentOfType('transfer')).toHaveLength(1)
  })
})

describe('JSON transfer: the other side transfers this user', () => {
  test('the gateway asks: a new call with transferOf and referredBy; the old call is held, then ends `transferred`', async () => {
    const h = await signedIn()
    const oldId = await callFromBob(h)
    h.ws.serverSend({ type: 'transfer', callId: oldId, to: 'sip:carol@patchbay.test', by: 'sip:bob@patchbay.test' })
    // The connected call is held first (reoffer a=sendonly), as for any new call.
    const reoffer = await eventually(() => h.ws.sentOfType('reoffer')[0])
    expect(String(reoffer.sdp)).toContain('a=sendonly')
    h.ws.serverSend({ type: 'answered', callId: oldId, sdp: fakeSdp('recvonly', 'bob') })
    const placed = await eventually(() => h.ws.sentOfType('call')[0])
    expect(placed).toMatchObject({ type: 'call', to: 'sip:carol@patchbay.test', transferOf: oldId })
    const newCall = h.client.calls.find((c) => c.id === placed.callId)!
    expect(newCall).toMatchObject({ direction: 'outgoing', state: 'dialing', referredBy: 'Bob Baker', remote: { user: 'carol', uri: 'sip:carol@patchbay.test' } })
    h.ws.serverSend({ type: 'answered', callId: placed.callId, sdp: fakeSdp('sendrecv', 'carol') })
    await eventually(() => h.client.calls.find((c) => c.id === placed.callId)?.state === 'connected')
    // bob (the transferor) hangs up the old call once carol answered.
    h.ws.serverSend({ type: 'ended', callId: oldId, status: 200, cause: 'hangup', by: 'remote' })
    const ended = await eventually(() => h.snapshots.findLast((s) => s.id === oldId && s.state === 'ended'))
    expect(ended.end).toMatchObject({ reason: 'transferred', message: 'Transferred to carol.' })
    expect(h.client.calls.map((c) => c.id)).toEqual([placed.callId as string])
  })

  test('without a display name the transferor is named by its user part', async () => {
    const h = await signedIn()
    h.ws.serverSend({ type: 'incoming', callId: 'in-8-y', from: 'sip:dave@patchbay.test', sdp: fakeSdp('sendrecv', 'dave') })
    await eventually(() => h.client.calls[0]?.state === 'incoming')
    await h.client.answer('in-8-y')
    h.ws.serverSend({ type: 'transfer', callId: 'in-8-y', to: 'sip:carol@patchbay.test' })
    await eventually(() => h.ws.sentOfType('reoffer')[0])
    h.ws.serverSend({ type: 'answered', callId: 'in-8-y', sdp: fakeSdp('recvonly', 'dave') })
    const placed = await eventually(() => h.ws.sentOfType('call')[0])
    expect(h.client.calls.find((c) => c.id === placed.callId)?.referredBy).toBe('dave')
  })

  test('a transfer request for an unknown call is ignored', async () => {
    const h = await signedIn()
    h.ws.serverSend({ type: 'transfer', callId: 'in-9-z', to: 'sip:carol@patchbay.test' })
    await new Promise((r) => setTimeout(r, 20))
    expect(h.ws.sentOfType('call')).toEqual([])
  })
})

/**
 * Text messages in JSON mode: JsonSignalingClient against a scripted gateway (fake
 * WebSocket). `message` out with the resolved SIP URI, `delivered` / `error not-delivered`
 * (480 offline, 404 unknown) back, incoming `message` as an event, and messages waiting
 * when the session goes away.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { JsonSignalingClient } from '../../../../../softphone/src/signaling/json/json-signaling-client.ts'
import type { IncomingTextMessage } from '../../../../../softphone/src/signaling/signaling-client.ts'
import { eventually, fakeFetch, FakeStream, FakeWebSocket, MemoryStorage } from './fakes.ts'

const CHALLENGE = { type: 'challenge', version: 1, realm: 'patchbay.test', nonce: 'nonce-msg-01', algorithm: 'HMAC-SHA-256' }

let client: JsonSignalingClient | undefined
let sockets: FakeWebSocket[] = []

function setup(): JsonSignalingClient {
  sockets = []
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
    sessionStorage: new MemoryStorage(),
    random: () => 0,
    timings: { pingIntervalMs: 60_000, pongTimeoutMs: 60_000 },
  })
  return client
}

async function signIn(c: JsonSignalingClient): Promise<FakeWebSocket> {
  void c.register({ server: '', user: 'alice', password: 'alice-demo' })
  const ws = await eventually(() => sockets[0]?.readyState === 1 && sockets[0])
  ws.serverSend(CHALLENGE)
  const login = await eventually(() => ws.sentOfType('login')[0])
  ws.serverSend({ type: 'session', id: login.id, username: 'alice', aor: 'sip:alice@patchbay.test', token: 'tok-1', graceSeconds: 30, calls: [] })
  await eventually(() => c.registration.status === 'registered')
  return ws
}

afterEach(async () => {
  await client?.dispose()
  client = undefined
})

describe('JSON mode text messages', () => {
  test('sends `message` with the SIP URI and resolves ok on `delivered`', async () => {
    const c = setup()
    const ws = await signIn(c)
    const sending = c.sendMessage('bob', 'hello bob')
    const frame = await eventually(() => ws.sentOfType('message')[0])
    expect(frame).toMatchObject({ type: 'message', to: 'sip:bob@patchbay.test', text: 'hello bob' })
    expect(typeof frame.id).toBe('string')
    ws.serverSend({ type: 'delivered', id: 'someone-else' })
    ws.serverSend({ type: 'delivered', id: frame.id })
    expect(await sending).toEqual({ ok: true })
  })

  test('480 is "offline", 404 is "not-found", each with its sentence; the answers match by id', async () => {
    const c = setup()
    const ws = await signIn(c)
    const toBob = c.sendMessage('bob', 'are you there?')
    const toNobody = c.sendMessage('nobody', 'hi')
    const [a, b] = await eventually(() => ws.sentOfType('message').length === 2 && ws.sentOfType('message'))
    ws.serverSend({ type: 'error', code: 'not-delivered', id: b!.id, status: 404, message: 'not delivered: 404 Not Found' })
    ws.serverSend({ type: 'error', code: 'not-delivered', id: a!.id, status: 480, message: 'not delivered: 480 Temporarily Unavailable' })
    expect(await toBob).toEqual({ ok: false, reason: 'offline', statusCode: 480, message: 'bob is offline.' })
    expect(await toNobody).toEqual({ ok: false, reason: 'not-found', statusCode: 404, message: 'No such user: nobody.' })
  })

  test('nothing is sent when signed out, for an empty text or a bad address', async () => {
    const c = setup()
    expect(await c.sendMessage('bob', 'hi')).toMatchObject({ ok: false, reason: 'not-registered' })
    const ws = await signIn(c)
    expect(await c.sendMessage('bob', '   ')).toMatchObject({ ok: false, reason: 'invalid-target' })
    expect(await c.sendMessage('bob smith', 'hi')).toMatchObject({ ok: false, reason: 'invalid-target' })
    expect(await c.sendMessage('bob', 'x'.repeat(4097))).toMatchObject({ ok: false, reason: 'invalid-target' })
    expect(ws.sentOfType('message')).toHaveLength(0)
  })

  test('an incoming `message` becomes a `message` event with the user part and display name', async () => {
    const c = setup()
    const got: IncomingTextMessage[] = []
    c.on('message', (m) => got.push(m))
    const ws = await signIn(c)
    ws.serverSend({ type: 'message', from: 'sip:carol@patchbay.test', displayName: 'Carol C', text: 'hi alice' })
    ws.serverSend({ type: 'message', from: 'sip:dave@other.example', text: 'from afar' })
    await eventually(() => got.length === 2)
    expect(got[0]).toMatchObject({ from: 'sip:carol@patchbay.test', user: 'carol', displayName: 'Carol C', text: 'hi alice' })
    expect(got[1]).toMatchObject({ from: 'sip:dave@other.example', user: 'dave', displayName: '', text: 'from afar' })
    expect(typeof got[0]!.at).toBe('number')
  })

  test('a message waiting when the user signs out fails instead of hanging', async () => {
    const c = setup()
    const ws = await signIn(c)
    const sending = c.sendMessage('bob', 'last words')
    await eventually(() => ws.sentOfType('message')[0])
    await c.unregister()
    expect(await sending).toMatchObject({ ok: false, reason: 'failed' })
  })
})

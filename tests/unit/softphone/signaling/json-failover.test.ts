/**
 * JSON signaling fails over between gateway nodes (issue 14): JsonRegistration with the
 * client-config's `jsonWebSocketUrls` [B, A] and a WebSocket fake the test plays the nodes
 * on. Node B goes away: one retry to B (refused), then A, where the session token of B is
 * refused and a fresh login follows on the same connection.
 */
import { afterEach, expect, test } from 'bun:test'
import { JsonRegistration } from '../../../../softphone/src/signaling/json/json-registration.ts'
import type { RegistrationState } from '../../../../softphone/src/signaling/signaling-client.ts'
import { FakeWebSocket, MemoryStorage, eventually, fakeFetch } from './json/fakes.ts'

const B = 'ws://b.test:8080/json'
const A = 'ws://a.test:8080/json'
const CHALLENGE = { type: 'challenge', version: 1, realm: 'patchbay.test', nonce: 'n0nce', algorithm: 'HMAC-SHA-256' }
const session = (id: unknown, token: string) => ({ type: 'session', id, username: 'alice', aor: 'sip:alice@patchbay.test', token, graceSeconds: 30, calls: [] })

let registration: JsonRegistration | undefined
afterEach(() => {
  registration?.dispose()
  registration = undefined
})

test('a lost node is retried once, then the next URL: logs in there and is registered again', async () => {
  const sockets: FakeWebSocket[] = []
  const down = new Set<string>()
  const states: RegistrationState[] = []
  registration = new JsonRegistration({
    pageOrigin: 'http://b.test:8080',
    fetch: fakeFetch([], { jsonWebSocketUrls: [B, A] }),
    createWebSocket: (url, protocols) => {
      const ws = new FakeWebSocket(url, protocols)
      sockets.push(ws)
      // A node that is down refuses the connection: closed without ever opening.
      queueMicrotask(() => (down.has(url) ? ws.serverClose() : ws.open()))
      return ws
    },
    sessionStorage: new MemoryStorage(),
    random: () => 0,
    pingIntervalMs: 60_000,
    pongTimeoutMs: 60_000,
    onState: (s) => states.push(s),
    onSession: () => undefined,
    onSessionGone: () => undefined,
    onMessage: () => undefined,
  })
  void registration.register({ server: '', user: 'alice', password: 'alice-demo' })
  const atB = await eventually(() => sockets[0]?.readyState === 1 && sockets[0])
  expect(atB.url).toBe(B)
  atB.serverSend(CHALLENGE)
  const login = await eventually(() => atB.sentOfType('login')[0])
  atB.serverSend(session(login.id, 'token-of-b'))
  await eventually(() => registration!.isRegistered)

  down.add(B)
  atB.serverClose()
  expect(registration.state.status).toBe('reconnecting')
  // Back-off with random 0: 0.8 s to B again (refused), then 1.6 s to A.
  const atA = await eventually(() => sockets[2]?.readyState === 1 && sockets[2], 5000)
  expect(sockets.map((s) => s.url)).toEqual([B, B, A])
  atA.serverSend(CHALLENGE)
  const attach = await eventually(() => atA.sentOfType('attach')[0])
  expect(attach.token).toBe('token-of-b')
  atA.serverSend({ type: 'error', id: attach.id, code: 'session-unknown', message: 'no such session' })
  const relogin = await eventually(() => atA.sentOfType('login')[0])
  atA.serverSend(session(relogin.id, 'token-of-a'))
  await eventually(() => registration!.isRegistered)
  expect(states.map((s) => s.status)).toEqual(['connecting', 'registered', 'reconnecting', 'connecting', 'reconnecting', 'connecting', 'registered'])
})

test('a single node (no list from the gateway) is retried on its own URL', async () => {
  const sockets: FakeWebSocket[] = []
  registration = new JsonRegistration({
    pageOrigin: 'http://b.test:8080',
    fetch: fakeFetch(),
    createWebSocket: (url, protocols) => {
      const ws = new FakeWebSocket(url, protocols)
      sockets.push(ws)
      queueMicrotask(() => (sockets.length === 2 ? ws.serverClose() : ws.open()))
      return ws
    },
    random: () => 0,
    pingIntervalMs: 60_000,
    pongTimeoutMs: 60_000,
    onState: () => undefined,
    onSession: () => undefined,
    onSessionGone: () => undefined,
    onMessage: () => undefined,
  })
  void registration.register({ server: '', user: 'alice', password: 'alice-demo' })
  const first = await eventually(() => sockets[0]?.readyState === 1 && sockets[0])
  first.serverClose()
  await eventually(() => sockets[2]?.readyState === 1 && sockets[2], 5000)
  expect(sockets.map((s) => s.url)).toEqual([B, B, B])
})

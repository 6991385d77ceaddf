/**
 * SipRegistration fails over between gateway nodes (issue 14): real SIP.js against two small
 * scripted registrars (Bun.serve: `/api/client-config` listing both nodes' `/sip`, node B
 * first, and a SIP-over-WebSocket endpoint, RFC 7118, that challenges REGISTER with Digest and
 * answers 200). Node B goes away: the registration retries B once, then opens a new
 * UserAgent on node A and registers there with the same `+sip.instance` and `reg-id`.
 */
import { afterEach, expect, test } from 'bun:test'
import { PASSWORD, digestAnswer, header } from './scripted-registrar.ts'
import { SipRegistration } from '../../../../softphone/src/signaling/sip-registration.ts'
import type { RegistrationState } from '../../../../softphone/src/signaling/signaling-client.ts'

const INSTANCE = '3f2c8a4e-1b7d-4c9a-9e21-5d6f7a8b9c0d'

interface Node {
  readonly url: string
  readonly origin: string
  /** Every REGISTER received. */
  readonly registers: string[]
  stop(): void
}

/** A scripted registrar node; `urls()` is the client-config's node list. */
function startNode(urls: () => string[]): Node {
  const registers: string[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req, srv) {
      const path = new URL(req.url).pathname
      if (path === '/sip') return srv.upgrade(req, { headers: { 'Sec-WebSocket-Protocol': 'sip' }, data: undefined }) ? undefined : new Response('no', { status: 400 })
      if (path === '/api/client-config') {
        return Response.json({ domain: 'patchbay.test', sipWebSocketPath: '/sip', iceServersPath: '/api/ice-servers', sipWebSocketUrls: urls() })
      }
      return new Response('not found', { status: 404 })
    },
    websocket: {
      message(ws, data) {
        const msg = typeof data === 'string' ? data : new TextDecoder().decode(data)
        if (!msg.startsWith('REGISTER ')) return
        registers.push(msg)
        ws.send(digestAnswer(msg))
      },
    },
  })
  return { url: `ws://127.0.0.1:${server.port}/sip`, origin: `http://127.0.0.1:${server.port}`, registers, stop: () => void server.stop(true) }
}

let registration: SipRegistration | undefined
const nodes: Node[] = []

afterEach(async () => {
  registration?.dispose()
  await registration?.unregister()
  registration = undefined
  for (const n of nodes.splice(0)) n.stop()
})

async function until(check: () => boolean, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`)
    await Bun.sleep(20)
  }
}

test('node B goes away: one retry to B, then a new UserAgent registers at node A', async () => {
  const list: string[] = []
  const a = startNode(() => list)
  const b = startNode(() => list)
  nodes.push(a, b)
  list.push(b.url, a.url)
  const states: RegistrationState[] = []
  registration = new SipRegistration({
    instanceId: INSTANCE,
    pageOrigin: b.origin,
    fetch: (input, init) => fetch(input, init),
    logLevel: 'error',
    random: () => 0, // back-off without jitter: 0.8 s, then 1.6 s
    displayName: () => undefined,
    sessionDescriptionHandlerFactory: () => {
      throw new Error('no sessions in this test')
    },
    rtcConfiguration: () => ({}),
    onState: (state) => states.push(state),
    onInvite: () => undefined,
    beforeDisconnect: async () => undefined,
  })
  await registration.register({ server: '', user: 'alice', password: PASSWORD })
  await until(() => registration!.isRegistered, 5000, () => JSON.stringify(states))
  expect(registration.serverUrl).toBe(b.url)
  expect(b.registers.length).toBe(2) // 401 challenge, then 200
  const firstUa = registration.userAgent

  const before = states.length
  b.stop()
  await until(() => states.slice(before).some((s) => s.status === 'registered'), 10_000, () => JSON.stringify(states.slice(before)))
  expect(registration.serverUrl).toBe(a.url)
  expect(registration.userAgent).not.toBe(firstUa)
  expect(states.slice(before).map((s) => s.status)).toEqual(['reconnecting', 'connecting', 'reconnecting', 'connecting', 'connecting', 'registered'])
  // The same device binding (RFC 5626 §4.2): node A's registrar can replace B's.
  const contact = header(a.registers.at(-1)!, 'Contact') ?? ''
  expect(contact).toContain(`+sip.instance="<urn:uuid:${INSTANCE}>"`)
  expect(contact).toContain('reg-id=1')
})

test('with a one-node list the registration stays on that node', async () => {
  const list: string[] = []
  const only = startNode(() => list)
  nodes.push(only)
  list.push(only.url)
  const states: RegistrationState[] = []
  registration = new SipRegistration({
    instanceId: INSTANCE,
    pageOrigin: only.origin,
    fetch: (input, init) => fetch(input, init),
    logLevel: 'error',
    random: () => 0,
    displayName: () => undefined,
    sessionDescriptionHandlerFactory: () => {
      throw new Error('no sessions in this test')
    },
    rtcConfiguration: () => ({}),
    onState: (state) => states.push(state),
    onInvite: () => undefined,
    beforeDisconnect: async () => undefined,
  })
  await registration.register({ server: '', user: 'alice', password: PASSWORD })
  await until(() => registration!.isRegistered, 5000, () => JSON.stringify(states))
  const ua = registration.userAgent
  only.stop()
  await until(() => states.filter((s) => s.status === 'reconnecting').length >= 2, 5000, () => JSON.stringify(states))
  expect(registration.serverUrl).toBe(only.url)
  expect(registration.userAgent).toBe(ua)
})

/**
 * SipSignalingClient registration against a small in-process registrar: Bun.serve answers
 * /api/client-config and /api/ice-servers, and /sip is a SIP-over-WebSocket endpoint
 * (RFC 7118, subprotocol "sip") that challenges REGISTER with Digest (RFC 2617 qop=auth),
 * checks the answer and replies 200 / 401 / 404. Real SIP.js on the client side.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import type { Server, ServerWebSocket } from 'bun'
import { SipSignalingClient } from '../../../../softphone/src/signaling/sip-signaling-client.ts'
import type { RegistrationState } from '../../../../softphone/src/signaling/signaling-client.ts'

const INSTANCE = '3f2c8a4e-1b7d-4c9a-9e21-5d6f7a8b9c0d'
const USERS: Record<string, string> = { alice: 'alice-demo', bob: 'bob-demo' }
const md5 = (s: string): string => createHash('md5').update(s).digest('hex')

interface Registrar {
  server: Server<unknown>
  origin: string
  registers: string[]
  sockets: Set<ServerWebSocket<unknown>>
  iceRequests: string[]
  stop(): void
}

function header(message: string, name: string): string | undefined {
  const re = new RegExp(`^${name}\\s*:\\s*(.*)$`, 'im')
  return re.exec(message)?.[1]?.trim()
}

function respond(request: string, status: string, extra: string[] = []): string {
  const lines = [`SIP/2.0 ${status}`]
  for (const name of ['Via', 'From', 'Call-ID', 'CSeq']) lines.push(`${name}: ${header(request, name)}`)
  const to = header(request, 'To') ?? ''
  lines.push(`To: ${to}${/;tag=/.test(to) ? '' : ';tag=registrar1'}`)
  lines.push(...extra, 'Content-Length: 0', '', '')
  return lines.join('\r\n')
}

function handleRegister(msg: string): string {
  const user = /^From:.*<sip:([^@>]+)@/im.exec(msg)?.[1] ?? ''
  if (!(user in USERS)) return respond(msg, '404 Not Found')
  const auth = header(msg, 'Authorization')
  if (!auth) {
    return respond(msg, '401 Unauthorized', ['WWW-Authenticate: Digest realm="patchbay.test", nonce="n0nce", algorithm=MD5, qop="auth"'])
  }
  const p = Object.fromEntries([...auth.matchAll(/(\w+)=("([^"]*)"|[^,\s]+)/g)].map((m) => [m[1]!, m[3] ?? m[2]!]))
  const ha1 = md5(`${p.username}:patchbay.test:${USERS[user]}`)
  const ha2 = md5(`REGISTER:${p.uri}`)
  const expected = md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${ha2}`)
  if (p.response !== expected) {
    return respond(msg, '401 Unauthorized', ['WWW-Authenticate: Digest realm="patchbay.test", nonce="n0nce2", algorithm=MD5, qop="auth"'])
  }
  const contact = (header(msg, 'Contact') ?? '').replace(/;expires=\d+/, '')
  return respond(msg, '200 OK', [`Contact: ${contact};expires=600`])
}

function startRegistrar(port = 0): Registrar {
  const registers: string[] = []
  const iceRequests: string[] = []
  const sockets = new Set<ServerWebSocket<unknown>>()
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port,
    fetch(req, srv) {
      const url = new URL(req.url)
      if (url.pathname === '/sip') {
        return srv.upgrade(req, { headers: { 'Sec-WebSocket-Protocol': 'sip' }, data: undefined }) ? undefined : new Response('no', { status: 400 })
      }
      if (url.pathname === '/api/client-config') {
        return Response.json({ domain: 'patchbay.test', sipWebSocketPath: '/sip', iceServersPath: '/api/ice-servers' })
      }
      if (url.pathname === '/api/ice-servers') {
        iceRequests.push(req.headers.get('authorization') ?? '')
        return Response.json({ iceServers: [{ urls: 'stun:127.0.0.1:3478' }], ttlSeconds: 600 })
      }
      return new Response('not found', { status: 404 })
    },
    websocket: {
      open(ws) {
        sockets.add(ws)
      },
      close(ws) {
        sockets.delete(ws)
      },
      message(ws, data) {
        const msg = typeof data === 'string' ? data : new TextDecoder().decode(data)
        if (!msg.startsWith('REGISTER ')) return
        registers.push(msg)
        ws.send(handleRegister(msg))
      },
    },
  })
  return {
    server: server as Server<unknown>,
    origin: `http://127.0.0.1:${server.port}`,
    registers,
    sockets,
    iceRequests,
    stop: () => {
      server.stop(true)
    },
  }
}

function waitFor(client: SipSignalingClient, predicate: (s: RegistrationState) => boolean, ms = 5000): Promise<RegistrationState> {
  if (predicate(client.registration)) return Promise.resolve(client.registration)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new Error(`registration state stuck at ${JSON.stringify(client.registration)}`))
    }, ms)
    const off = client.on('registration', (s) => {
      if (predicate(s)) {
        clearTimeout(timer)
        off()
        resolve(s)
      }
    })
  })
}

let registrar: Registrar | undefined
let client: SipSignalingClient | undefined

afterEach(async () => {
  await client?.dispose()
  client = undefined
  registrar?.stop()
  registrar = undefined
})

function makeClient(origin: string): SipSignalingClient {
  return new SipSignalingClient({ instanceId: INSTANCE, pageOrigin: origin, logLevel: 'error' })
}

describe('SipSignalingClient registration', () => {
  test('registers with +sip.instance and reg-id=1 in the Contact (RFC 5626 §4.2)', async () => {
    registrar = startRegistrar()
    client = makeClient(registrar.origin)
    await client.register({ server: '', user: 'alice', password: 'alice-demo' })
    const state = await waitFor(client, (s) => s.status === 'registered')
    expect(state).toMatchObject({ status: 'registered', aor: 'sip:alice@patchbay.test' })
    const last = registrar.registers.at(-1)!
    expect(last).toMatch(/^REGISTER sip:patchbay\.test SIP\/2\.0/)
    const contact = header(last, 'Contact')!
    expect(contact).toContain(';reg-id=1')
    expect(contact).toContain(`+sip.instance="<urn:uuid:${INSTANCE}>"`)
    expect(contact).toContain('transport=ws')
    expect(header(last, 'Supported')).toContain('outbound')
    // Once registered, the ICE servers are fetched with the SIP credentials (HTTP Basic).
    for (let i = 0; i < 200 && registrar.iceRequests.length === 0; i++) await Bun.sleep(5)
    expect(registrar.iceRequests).toContain(`Basic ${btoa('alice:alice-demo')}`)
  })

  test('a wrong password fails for good with "Wrong password."', async () => {
    registrar = startRegistrar()
    client = makeClient(registrar.origin)
    await client.register({ server: registrar.origin, user: 'alice', password: 'nope' })
    const state = await waitFor(client, (s) => s.status === 'failed')
    expect(state).toEqual({ status: 'failed', reason: 'wrong-password', message: 'Wrong password.', statusCode: 401 })
    expect(registrar.registers.length).toBe(2) // the first try and one answer to the challenge
    // No ICE server request with a password known to be wrong.
    expect(registrar.iceRequests).toEqual([])
  })

  test('an unknown user (404) says so', async () => {
    registrar = startRegistrar()
    client = makeClient(registrar.origin)
    await client.register({ server: '', user: 'mallory', password: 'x' })
    const state = await waitFor(client, (s) => s.status === 'failed')
    expect(state).toMatchObject({ reason: 'unknown-user', message: 'Unknown user.', statusCode: 404 })
  })

  test('no server: "Server unreachable", with a retry scheduled', async () => {
    registrar = startRegistrar()
    const origin = registrar.origin
    registrar.stop()
    registrar = undefined
    client = makeClient(origin)
    await client.register({ server: '', user: 'alice', password: 'alice-demo' })
    const state = await waitFor(client, (s) => s.status === 'reconnecting')
    expect(state).toMatchObject({ status: 'reconnecting', reason: 'unreachable', message: 'Server unreachable.', attempt: 1 })
    if (state.status === 'reconnecting') expect(state.retryAt).toBeGreaterThan(Date.now())
  })

  test('the gateway goes away and comes back: reconnect and register again', async () => {
    registrar = startRegistrar()
    const port = registrar.server.port
    client = makeClient(registrar.origin)
    await client.register({ server: '', user: 'bob', password: 'bob-demo' })
    await waitFor(client, (s) => s.status === 'registered')
    registrar.stop()
    await waitFor(client, (s) => s.status === 'reconnecting')
    registrar = startRegistrar(port)
    client.reconnectNow() // what the "Retry now" button and the `online` event do
    await waitFor(client, (s) => s.status === 'registered')
    expect(header(registrar.registers.at(-1)!, 'Contact')).toContain(`+sip.instance="<urn:uuid:${INSTANCE}>"`)
  })

  test('calls need a registration first', async () => {
    client = makeClient('http://127.0.0.1:1')
    expect(await client.call('bob')).toMatchObject({ ok: false, reason: 'not-registered' })
  })
})

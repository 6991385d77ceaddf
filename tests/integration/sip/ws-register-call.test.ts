/**
 * SIP over WebSocket (RFC 7118) against the gateway with raw test clients, message by
 * message: the handshake, REGISTER with digest, an INVITE between two WebSocket clients
 * through the proxy (407, 100, 180, 200, ACK, BYE over the Record-Route), CANCEL, a 486,
 * the CRLF keepalive, OPTIONS, and the 404 / 480 answers of the location service.
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { parseDigestChallenge } from '../../support/digest.ts'
import { DEMO_USERS, TEST_DOMAIN, startGateway, testConfig, testUsers, type RunningGateway } from '../../support/gateway.ts'
import { paramOf, uriOf, uriParamOf } from '../../support/sip-text.ts'
import { WsSipClient, fakeAnswerFor, fakeSdp, randomToken } from '../../support/ws-sip-client.ts'

setDefaultTimeout(20_000)

/**
 * Each call test uses users of its own: a user registered in an earlier test would still
 * have a binding (its connection may not be closed yet on the gateway's side), and the
 * proxy would fork to it and wait for its answer.
 */
const PASSWORD = 'ws-test-password'
const ACCOUNTS = testUsers(20, 'ws', PASSWORD)
let nextAccount = 0

let gateway: RunningGateway
const clients: WsSipClient[] = []

beforeAll(async () => {
  gateway = await startGateway(testConfig({}, { extraUsers: ACCOUNTS }))
})

afterEach(() => {
  for (const client of clients.splice(0)) client.close()
})

afterAll(async () => {
  for (const client of clients.splice(0)) client.close()
  await gateway?.stop()
})

async function connect(username: string, password: string, algorithm?: 'MD5' | 'SHA-256'): Promise<WsSipClient> {
  const client = await WsSipClient.connect({ url: gateway.wsUrl, username, password, domain: TEST_DOMAIN, algorithm })
  clients.push(client)
  return client
}

/** A connected client for a demo user (alice / bob / carol). */
function connectDemo(user: keyof typeof DEMO_USERS, options: { algorithm?: 'MD5' | 'SHA-256'; password?: string } = {}): Promise<WsSipClient> {
  return connect(DEMO_USERS[user].username, options.password ?? DEMO_USERS[user].password, options.algorithm)
}

/** A connected, registered client for a user no other test uses (asserts the 200). */
async function registeredFreshUser(): Promise<WsSipClient> {
  const account = ACCOUNTS[nextAccount++]
  if (!account) throw new Error('ws-register-call.test.ts: ACCOUNTS exhausted, raise the count')
  const client = await connect(account.username, PASSWORD)
  const { final } = await client.register()
  expect(final.status, final.raw).toBe(200)
  return client
}

/**
 * Raw HTTP/1.1 upgrade on a TCP socket, to see the status line the server answers with.
 * @returns the response head (status line and headers)
 */
async function rawUpgrade(wsUrl: string, protocol: string | null): Promise<{ status: number; head: string }> {
  const url = new URL(wsUrl)
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64')
  const request = [
    `GET ${url.pathname} HTTP/1.1`, `Host: ${url.host}`, 'Upgrade: websocket', 'Connection: Upgrade',
    `Sec-WebSocket-Key: ${key}`, 'Sec-WebSocket-Version: 13',
    ...(protocol ? [`Sec-WebSocket-Protocol: ${protocol}`] : []), '', '',
  ].join('\r\n')
  return new Promise((resolve, reject) => {
    let received = ''
    const timer = setTimeout(() => reject(new Error(`no HTTP answer to the upgrade; got ${JSON.stringify(received)}`)), 5_000)
    Bun.connect({
      hostname: url.hostname,
      port: Number(url.port),
      socket: {
        open(socket) {
          socket.write(request)
        },
        data(socket, data) {
          received += new TextDecoder().decode(data)
          const end = received.indexOf('\r\n\r\n')
          if (end >= 0) {
            clearTimeout(timer)
            socket.end()
            resolve({ status: Number(received.split(' ')[1]), head: received.slice(0, end) })
          }
        },
        error(_socket, error) {
          clearTimeout(timer)
          reject(error)
        },
      },
    }).catch(reject)
  })
}

describe('WebSocket handshake (RFC 7118 §4)', () => {
  test('an upgrade without the sip subprotocol is refused', async () => {
    const { status, head } = await rawUpgrade(gateway.wsUrl, null)
    expect(status, head).not.toBe(101)
    expect(status, head).toBeGreaterThanOrEqual(400)
    // The WebSocket API sees a failed handshake too.
    await expect(WsSipClient.connect({ url: gateway.wsUrl, username: 'alice', password: 'x', domain: TEST_DOMAIN, protocols: [] }))
      .rejects.toThrow()
  })

  test('an upgrade offering sip is accepted with Sec-WebSocket-Protocol: sip', async () => {
    const { status, head } = await rawUpgrade(gateway.wsUrl, 'sip')
    expect(status, head).toBe(101)
    expect(head.toLowerCase()).toContain('sec-websocket-protocol: sip')
    const client = await connectDemo('alice')
    expect(client.protocol).toBe('sip')
  })
})

describe('REGISTER over WebSocket', () => {
  test('401 offering MD5 and SHA-256, then 200 listing the Contact with its expires', async () => {
    const alice = await connectDemo('alice')
    const { challenge, final, request } = await alice.register({ expires: 300 })
    expect(challenge?.status).toBe(401)
    const algorithms = challenge!.getAll('www-authenticate').map((v) => parseDigestChallenge(v)?.algorithm)
    expect(algorithms).toContain('MD5')
    expect(algorithms).toContain('SHA-256')
    expect(final.status, final.raw).toBe(200)
    expect(final.callId).toBe(request.draft.callId)
    const contacts = final.getAll('contact')
    const mine = contacts.find((c) => uriOf(c).toLowerCase().startsWith(`sip:alice@${alice.viaHost}`))
    expect(mine, `Contact values: ${JSON.stringify(contacts)}`).toBeDefined()
    expect(uriParamOf(uriOf(mine!), 'transport')?.toLowerCase()).toBe('ws')
    const expires = Number(paramOf(mine!, 'expires'))
    expect(expires).toBeGreaterThan(0)
    expect(expires).toBeLessThanOrEqual(300)
  })

  test('a SHA-256 digest answer is accepted too (RFC 8760)', async () => {
    const bob = await connectDemo('bob', { algorithm: 'SHA-256' })
    const { challenge, final } = await bob.register()
    expect(challenge?.status).toBe(401)
    expect(final.status, final.raw).toBe(200)
  })

  test('a wrong password does not register', async () => {
    const mallory = await connectDemo('carol', { password: 'not-the-password' })
    const { final } = await mallory.register()
    expect([401, 403]).toContain(final.status)
  })
})

describe('calls between two WebSocket clients', () => {
  test('INVITE: 407, then 100/180/200, ACK and BYE travel the Record-Route', async () => {
    const alice = await registeredFreshUser()
    const bob = await registeredFreshUser()

    const { call, challenge } = await alice.inviteWithAuth(bob.aor, { body: fakeSdp('webrtc', 'offer') })
    expect(challenge?.status).toBe(407)
    expect(challenge!.getAll('proxy-authenticate').map((v) => parseDigestChallenge(v)?.algorithm)).toContain('MD5')

    const trying = await alice.waitForResponse({ status: 100, callId: call.callId, seq: 2 })
    expect(trying.cseq.method).toBe('INVITE')

    const invite = await bob.waitForRequest('INVITE', call.callId)
    expect(Number(invite.get('max-forwards'))).toBe(69)
    expect(invite.getAll('via').length).toBe(2)
    const recordRoute = invite.getAll('record-route')
    expect(recordRoute.length).toBeGreaterThanOrEqual(1)
    for (const entry of recordRoute) expect(uriParamOf(uriOf(entry), 'lr'), entry).not.toBeNull()
    expect(invite.get('proxy-authorization'), 'credentials for the gateway are not forwarded').toBeUndefined()

    bob.respond(invite, 180)
    const ringing = await alice.waitForResponse({ status: 180, callId: call.callId })
    expect(ringing.toTag).not.toBeNull()

    bob.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
    const ok = await alice.waitForResponse({ status: 200, callId: call.callId, method: 'INVITE' })
    expect(ok.getAll('record-route')).toEqual(recordRoute)
    expect(ok.body).toContain('m=audio')

    alice.ack2xx(call, ok)
    const ack = await bob.waitForRequest('ACK', call.callId)
    expect(ack.getAll('route'), 'the proxy removes its own Route entries (RFC 3261 §16.4)').toEqual([])
    expect(ack.requestUri).toBe(bob.contactUri)

    alice.byeAsCaller(call)
    const bye = await bob.waitForRequest('BYE', call.callId)
    expect(bye.getAll('route')).toEqual([])
    expect(bye.requestUri).toBe(bob.contactUri)
    bob.respond(bye, 200)
    const byeOk = await alice.waitForResponse({ status: 200, callId: call.callId, method: 'BYE' })
    expect(byeOk.cseq.seq).toBe(call.localSeq)
  })

  test('the callee hangs up: its BYE reaches the caller through the route set', async () => {
    const alice = await registeredFreshUser()
    const bob = await registeredFreshUser()
    const { call } = await alice.inviteWithAuth(bob.aor, { body: fakeSdp('webrtc', 'offer') })
    const invite = await bob.waitForRequest('INVITE', call.callId)
    bob.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
    const ok = await alice.waitForResponse({ status: 200, callId: call.callId, method: 'INVITE' })
    alice.ack2xx(call, ok)
    await bob.waitForRequest('ACK', call.callId)

    bob.byeAsCallee(bob.incomingCall(invite))
    const bye = await alice.waitForRequest('BYE', call.callId)
    expect(bye.requestUri).toBe(alice.contactUri)
    expect(bye.getAll('route')).toEqual([])
    alice.respond(bye, 200)
    await bob.waitForResponse({ status: 200, callId: call.callId, method: 'BYE' })
  })

  test('CANCEL before answer: 200 for the CANCEL, 487 for the INVITE, the callee gets the CANCEL', async () => {
    const alice = await registeredFreshUser()
    const bob = await registeredFreshUser()
    const { call } = await alice.inviteWithAuth(bob.aor, { body: fakeSdp('webrtc', 'offer') })
    const invite = await bob.waitForRequest('INVITE', call.callId)
    bob.respond(invite, 180)
    await alice.waitForResponse({ status: 180, callId: call.callId })

    alice.cancel(call)
    const cancelOk = await alice.waitForResponse({ status: 200, callId: call.callId, method: 'CANCEL' })
    expect(cancelOk.cseq.seq).toBe(call.invite.draft.cseq)

    const cancel = await bob.waitForRequest('CANCEL', call.callId)
    expect(cancel.topBranch, 'CANCEL carries the branch of the INVITE it cancels (§9.1)').toBe(invite.topBranch)
    bob.respond(cancel, 200)
    bob.respond(invite, 487)

    const terminated = await alice.waitForResponse({ status: 487, callId: call.callId, method: 'INVITE' })
    alice.ackNon2xx(call, terminated)
    // The proxy's client transaction ACKs the 487 hop by hop (RFC 3261 §17.1.1.3).
    const ack = await bob.waitForRequest('ACK', call.callId)
    expect(ack.topBranch).toBe(invite.topBranch)
    // No 200 may follow a cancelled call.
    expect(await alice.collectFor(300, (m) => m.isResponse && m.status === 200 && m.cseq.method === 'INVITE')).toEqual([])
  })

  test('486 Busy Here from the callee reaches the caller', async () => {
    const alice = await registeredFreshUser()
    const bob = await registeredFreshUser()
    const { call } = await alice.inviteWithAuth(bob.aor, { body: fakeSdp('webrtc', 'offer') })
    const invite = await bob.waitForRequest('INVITE', call.callId)
    bob.respond(invite, 486)
    const busy = await alice.waitForResponse({ status: 486, callId: call.callId, method: 'INVITE' })
    expect(busy.reason).toBe('Busy Here')
    alice.ackNon2xx(call, busy)
    await bob.waitForRequest('ACK', call.callId)
  })
})

describe('the gateway itself', () => {
  test('a CRLFCRLF keepalive frame is answered with CRLF (RFC 5626 §3.5.1)', async () => {
    const alice = await connectDemo('alice')
    alice.sendFrame('\r\n\r\n')
    const pong = await alice.waitForFrame((f) => f.message === null, 'keepalive answer')
    expect(pong.text).toBe('\r\n')
  })

  test('OPTIONS to the gateway is answered 200', async () => {
    const alice = await connectDemo('alice')
    const { final } = await alice.request('OPTIONS', `sip:${TEST_DOMAIN}`)
    expect(final.status, final.raw).toBe(200)
  })

  test('INVITE to an unknown user is answered 404', async () => {
    const alice = await registeredFreshUser()
    const { call } = await alice.inviteWithAuth(`sip:nobody-${randomToken(6)}@${TEST_DOMAIN}`, { body: fakeSdp('webrtc', 'offer') })
    const notFound = await alice.waitForResponse({ status: (s) => s >= 300, callId: call.callId, method: 'INVITE' })
    expect(notFound.status, notFound.raw).toBe(404)
    alice.ackNon2xx(call, notFound)
  })

  test('INVITE to a known user without a binding is answered 480', async () => {
    const alice = await registeredFreshUser()
    const { call } = await alice.inviteWithAuth(`sip:carol@${TEST_DOMAIN}`, { body: fakeSdp('webrtc', 'offer') })
    const unavailable = await alice.waitForResponse({ status: (s) => s >= 300, callId: call.callId, method: 'INVITE' })
    expect(unavailable.status, unavailable.raw).toBe(480)
    alice.ackNon2xx(call, unavailable)
  })
})

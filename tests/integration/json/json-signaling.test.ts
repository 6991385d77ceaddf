/**
 * JSON signaling (docs/json-signaling.md) against the gateway over real WebSockets: the
 * handshake, the HMAC login, every kind of bad input and its defined answer, calls between
 * JSON users (answer, busy, cancel, hang-up by either side), text messages, two tabs of one
 * account ringing together, and a page reload that keeps the call (attach).
 */
import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { DEMO_USERS, startGateway, testConfig, testUsers, type RunningGateway } from '../../support/gateway.ts'
import { JsonClient, loginProof } from '../../support/json-client.ts'
import { fakeAnswerFor, fakeSdp } from '../../support/ws-sip-client.ts'

setDefaultTimeout(20_000)

const PASSWORD = 'json-test-password'
const ACCOUNTS = testUsers(40, 'js', PASSWORD)
let nextAccount = 0

let gateway: RunningGateway
const clients: JsonClient[] = []

beforeAll(async () => {
  gateway = await startGateway(testConfig({ jsonSignaling: { graceSeconds: 3 } }, { extraUsers: ACCOUNTS }))
})

afterEach(() => {
  for (const c of clients.splice(0)) c.close()
})

afterAll(async () => {
  for (const c of clients.splice(0)) c.close()
  await gateway?.stop()
})

/** A logged-in client for an account no other test uses. */
async function freshUser(): Promise<{ client: JsonClient; username: string }> {
  const account = ACCOUNTS[nextAccount++]
  if (!account) throw new Error('json-signaling.test.ts: ACCOUNTS exhausted')
  const client = await JsonClient.login(gateway.httpUrl, account.username, PASSWORD)
  clients.push(client)
  return { client, username: account.username }
}

async function connect(): Promise<JsonClient> {
  const c = await JsonClient.connect(gateway.httpUrl)
  clients.push(c)
  return c
}

/** alice calls bob and bob answers; returns both with the call ids. */
async function connectedCall() {
  const a = await freshUser()
  const b = await freshUser()
  a.client.send({ type: 'call', callId: 'c1', to: b.username, sdp: fakeSdp('webrtc', 'offer') })
  const incoming = await b.client.next('incoming')
  await a.client.next('ringing', (m) => m.callId === 'c1')
  b.client.send({ type: 'answer', callId: incoming.callId, sdp: fakeAnswerFor(incoming.sdp) })
  const answered = await a.client.next('answered', (m) => m.callId === 'c1')
  return { a, b, incoming, answered }
}

describe('handshake and login', () => {
  test('an upgrade without the patchbay-json.1 subprotocol is refused', async () => {
    await expect(JsonClient.connect(gateway.httpUrl, [])).rejects.toThrow()
    await expect(JsonClient.connect(gateway.httpUrl, ['sip'])).rejects.toThrow()
  })

  test('the first frame is a challenge; the HMAC proof logs in and registers the user', async () => {
    const c = await connect()
    expect(c.challenge).toMatchObject({ type: 'challenge', version: 1, realm: 'patchbay.test', algorithm: 'HMAC-SHA-256' })
    expect(c.challenge!.nonce.length).toBeGreaterThanOrEqual(16)
    const answer = await c.tryLogin('alice', DEMO_USERS.alice.password)
    expect(answer).toMatchObject({ type: 'session', username: 'alice', aor: 'sip:alice@patchbay.test', graceSeconds: 3, calls: [] })
    expect(answer.token.length).toBeGreaterThanOrEqual(16)
    // A registered user like any other: the location service has its binding, over its own WS flow.
    const bindings = gateway.internals.location.lookup('sip:alice@patchbay.test')
    expect(bindings.some((b) => b.transport === 'WS' && b.userAgent === 'Patchbay JSON signaling')).toBe(true)
  })

  test('a wrong password and an unknown user get the same answer; the password never goes on the wire', async () => {
    const c = await connect()
    const wrong = await c.tryLogin('alice', 'not-the-password', 'w1')
    const c2 = await connect()
    const unknown = await c2.tryLogin('nobody-here', 'whatever', 'w2')
    expect(wrong).toMatchObject({ type: 'error', code: 'auth-failed' })
    expect(unknown).toMatchObject({ type: 'error', code: 'auth-failed' })
    expect(unknown.message).toBe(wrong.message)
    // The session is still usable for another attempt (same nonce, right proof).
    expect((await c.tryLogin('alice', DEMO_USERS.alice.password, 'w3')).type).toBe('session')
  })

  test('a proof for another connection\'s nonce does not log in (one nonce per connection)', async () => {
    const c1 = await connect()
    const c2 = await connect()
    expect(c1.challenge!.nonce).not.toBe(c2.challenge!.nonce)
    c2.send({ type: 'login', id: 'x', username: 'bob', proof: loginProof('bob', 'patchbay.test', DEMO_USERS.bob.password, c1.challenge!.nonce) })
    expect(await c2.next('error', (m) => m.id === 'x')).toMatchObject({ code: 'auth-failed' })
  })
})

describe('bad input gets a defined answer and changes nothing else', () => {
  test('not JSON, binary, not an object, unknown type, missing and malformed fields', async () => {
    const c = await connect()
    c.sendRaw('this is not json')
    expect(await c.next('error')).toMatchObject({ code: 'bad-json' })
    c.sendRaw(new Uint8Array([1, 2, 3]))
    expect(await c.next('error')).toMatchObject({ code: 'bad-json' })
    c.sendRaw('[1,2]')
    expect(await c.next('error')).toMatchObject({ code: 'bad-json' })
    c.send({ type: 'dance', id: 'd1' })
    expect(await c.next('error')).toMatchObject({ code: 'unknown-type', field: '/type', id: 'd1' })
    c.send({ id: 'n1' })
    expect(await c.next('error')).toMatchObject({ code: 'unknown-type', field: '/type' })
    c.send({ type: 'login', id: 'l1', username: 'alice' })
    expect(await c.next('error')).toMatchObject({ code: 'invalid-field', field: '/proof', id: 'l1' })
    c.send({ type: 'login', id: 'l2', username: 'alice', proof: 'zz' })
    const e = await c.next('error')
    expect(e).toMatchObject({ code: 'invalid-field', field: '/proof', id: 'l2' })
    expect(e.message).toContain('proof')
    // Still alive and answering.
    c.send({ type: 'ping', id: 'p1' })
    expect(await c.next('pong')).toMatchObject({ id: 'p1' })
  })

  test('an oversized frame is refused', async () => {
    const c = await connect()
    c.send({ type: 'ping', id: 'big', pad: 'x'.repeat(70_000) })
    expect(await c.next('error')).toMatchObject({ code: 'too-large' })
  })

  test('a call before login is refused with not-logged-in', async () => {
    const c = await connect()
    c.send({ type: 'call', callId: 'c1', to: 'bob', sdp: fakeSdp('webrtc', 'offer') })
    expect(await c.next('error')).toMatchObject({ code: 'not-logged-in', callId: 'c1' })
  })

  test('a call to oneself, a duplicate callId, an unknown callId and a second login', async () => {
    const { client, username } = await freshUser()
    client.send({ type: 'call', callId: 'self', to: username, sdp: fakeSdp('webrtc', 'offer') })
    expect(await client.next('error')).toMatchObject({ code: 'self-call', callId: 'self' })
    client.send({ type: 'hangup', callId: 'nope' })
    expect(await client.next('error')).toMatchObject({ code: 'unknown-call', callId: 'nope' })
    client.send({ type: 'answer', callId: 'nope', sdp: 'v=0' })
    expect(await client.next('error')).toMatchObject({ code: 'unknown-call' })
    client.send({ type: 'login', id: 'again', username, proof: '0'.repeat(64) })
    expect(await client.next('error')).toMatchObject({ code: 'already-logged-in', id: 'again' })
    const other = await freshUser()
    client.send({ type: 'call', callId: 'dup', to: other.username, sdp: fakeSdp('webrtc', 'offer') })
    await other.client.next('incoming')
    client.send({ type: 'call', callId: 'dup', to: other.username, sdp: fakeSdp('webrtc', 'offer') })
    expect(await client.next('error')).toMatchObject({ code: 'call-exists', callId: 'dup' })
    client.send({ type: 'hangup', callId: 'dup' })
    expect(await client.next('ended', (m) => m.callId === 'dup')).toMatchObject({ cause: 'cancelled', by: 'local' })
  })

  test('a frame flood is refused (rate-limited) and the flooding connection closed; another client is served meanwhile', async () => {
    const flooder = await connect()
    const other = await connect()
    for (let i = 0; i < 1000; i++) flooder.send({ type: 'ping', id: `f${i}` })
    other.send({ type: 'ping', id: 'calm' })
    expect(await other.next('pong')).toMatchObject({ id: 'calm' })
    await Promise.race([flooder.closed, Bun.sleep(3000).then(() => { throw new Error('the flooding connection stayed open') })])
    const pongs = flooder.received.filter((m) => m.type === 'pong').length
    const limited = flooder.received.filter((m) => m.type === 'error' && m.code === 'rate-limited')
    expect(pongs).toBeGreaterThanOrEqual(200) // the burst passes
    expect(pongs).toBeLessThan(1000)
    expect(limited).toHaveLength(1) // said once, not per frame
  })

  test('over the frame budget a hangup still passes: the call ends on both sides', async () => {
    const { a, b, incoming } = await connectedCall()
    for (let i = 0; i < 190; i++) a.client.send({ type: 'ping', id: `p${i}` })
    for (let i = 0; i < 20; i++) a.client.send({ type: 'ping', id: `q${i}` }) // over the budget: refused
    a.client.send({ type: 'hangup', callId: 'c1' })
    expect(await a.client.next('ended', (m) => m.callId === 'c1')).toMatchObject({ cause: 'hangup', by: 'local' })
    expect(await b.client.next('ended', (m) => m.callId === incoming.callId)).toMatchObject({ by: 'remote' })
    expect(a.client.received.some((m) => m.type === 'error' && m.code === 'rate-limited')).toBe(true)
  })

  test('at most 20 calls at once per session: the 21st gets too-many-calls', async () => {
    const a = await freshUser()
    const b = await freshUser()
    for (let i = 0; i < 20; i++) a.client.send({ type: 'call', callId: `m${i}`, to: b.username, sdp: fakeSdp('webrtc', 'offer') })
    for (let i = 0; i < 20; i++) await b.client.next('incoming')
    a.client.send({ type: 'call', callId: 'm20', to: b.username, sdp: fakeSdp('webrtc', 'offer') })
    expect(await a.client.next('error', (m) => m.callId === 'm20')).toMatchObject({ code: 'too-many-calls' })
    for (let i = 0; i < 20; i++) a.client.send({ type: 'hangup', callId: `m${i}` })
    for (let i = 0; i < 20; i++) await a.client.next('ended')
  })

  test('one client\'s garbage does not disturb another client\'s call', async () => {
    const { a, b, incoming } = await connectedCall()
    for (let i = 0; i < 20; i++) b.client.sendRaw('{"type":')
    b.client.send({ type: 'hangup', callId: incoming.callId })
    expect(await a.client.next('ended', (m) => m.callId === 'c1')).toMatchObject({ status: 200, cause: 'hangup', by: 'remote' })
    expect(b.client.received.filter((m) => m.type === 'error')).toHaveLength(20)
  })
})

describe('calls between JSON users', () => {
  test('call, ring, answer, hang-up by the caller: each side hears of it', async () => {
    const { a, b, incoming, answered } = await connectedCall()
    expect(incoming.from).toBe(`sip:${a.username}@patchbay.test`)
    expect(incoming.sdp).toContain('m=audio')
    expect(answered.sdp).toContain('m=audio')
    a.client.send({ type: 'hangup', callId: 'c1' })
    expect(await a.client.next('ended', (m) => m.callId === 'c1')).toMatchObject({ status: 200, cause: 'hangup', by: 'local' })
    expect(await b.client.next('ended', (m) => m.callId === incoming.callId)).toMatchObject({ status: 200, cause: 'hangup', by: 'remote' })
  })

  test('busy (486) and declined (603) reach the caller as such', async () => {
    const a = await freshUser()
    const b = await freshUser()
    for (const [status, cause] of [[486, 'busy'], [603, 'declined']] as const) {
      const callId = `r${status}`
      a.client.send({ type: 'call', callId, to: b.username, sdp: fakeSdp('webrtc', 'offer') })
      const inc = await b.client.next('incoming')
      b.client.send({ type: 'reject', callId: inc.callId, status })
      expect(await a.client.next('ended', (m) => m.callId === callId)).toMatchObject({ status, cause, by: 'remote' })
      expect(await b.client.next('ended', (m) => m.callId === inc.callId)).toMatchObject({ status, by: 'local' })
    }
  })

  test('the caller hangs up while it rings: CANCEL, the callee sees the call cancelled', async () => {
    const a = await freshUser()
    const b = await freshUser()
    a.client.send({ type: 'call', callId: 'cx', to: b.username, sdp: fakeSdp('webrtc', 'offer') })
    const inc = await b.client.next('incoming')
    await a.client.next('ringing', (m) => m.callId === 'cx')
    a.client.send({ type: 'hangup', callId: 'cx' })
    expect(await a.client.next('ended', (m) => m.callId === 'cx')).toMatchObject({ status: 487, cause: 'cancelled', by: 'local' })
    expect(await b.client.next('ended', (m) => m.callId === inc.callId)).toMatchObject({ status: 487, cause: 'cancelled', by: 'remote' })
  })

  test('unknown and unregistered users: 404 not-found, 480 unavailable', async () => {
    const a = await freshUser()
    a.client.send({ type: 'call', callId: 'u1', to: 'no-such-user', sdp: fakeSdp('webrtc', 'offer') })
    const e1 = await a.client.next('ended', (m) => m.callId === 'u1')
    expect(e1).toMatchObject({ cause: 'not-found', by: 'remote' })
    expect([404, 480]).toContain(e1.status) // unknown users may be told apart from offline ones only after auth
    const offline = ACCOUNTS[ACCOUNTS.length - 1]!.username
    a.client.send({ type: 'call', callId: 'u2', to: offline, sdp: fakeSdp('webrtc', 'offer') })
    expect(await a.client.next('ended', (m) => m.callId === 'u2')).toMatchObject({ status: 480, cause: 'unavailable' })
  })

  test('two tabs of one account both ring; answering on one ends the other', async () => {
    const a = await freshUser()
    const account = ACCOUNTS[nextAccount++]!
    const tab1 = await JsonClient.login(gateway.httpUrl, account.username, PASSWORD)
    const tab2 = await JsonClient.login(gateway.httpUrl, account.username, PASSWORD)
    clients.push(tab1, tab2)
    a.client.send({ type: 'call', callId: 'fork', to: account.username, sdp: fakeSdp('webrtc', 'offer') })
    const in1 = await tab1.next('incoming')
    const in2 = await tab2.next('incoming')
    tab2.send({ type: 'answer', callId: in2.callId, sdp: fakeAnswerFor(in2.sdp) })
    await a.client.next('answered', (m) => m.callId === 'fork')
    expect(await tab1.next('ended', (m) => m.callId === in1.callId)).toMatchObject({ cause: 'cancelled', by: 'remote' })
  })

  test('hold: a re-offer from either side is answered through the other client', async () => {
    const { a, b, incoming } = await connectedCall()
    a.client.send({ type: 'reoffer', callId: 'c1', sdp: fakeSdp('webrtc', 'offer').replace('a=sendrecv', 'a=sendonly') })
    const re = await b.client.next('reoffer', (m) => m.callId === incoming.callId)
    expect(re.sdp).toContain('a=sendonly')
    b.client.send({ type: 'answer', callId: incoming.callId, sdp: fakeAnswerFor(re.sdp).replace('a=sendrecv', 'a=recvonly') })
    expect((await a.client.next('answered', (m) => m.callId === 'c1')).sdp).toContain('a=recvonly')
  })
})

describe('blind transfer (REFER, RFC 3515)', () => {
  test('alice transfers bob to carol: bob is asked to call carol, carol answers, alice\'s call ends as transferred', async () => {
    const { a, b, incoming } = await connectedCall()
    const c = await freshUser()
    a.client.send({ type: 'transfer', callId: 'c1', to: c.username })
    const ask = await b.client.next('transfer', (m) => m.callId === incoming.callId)
    expect(ask).toMatchObject({ to: `sip:${c.username}@patchbay.test`, by: `sip:${a.username}@patchbay.test` })
    b.client.send({ type: 'call', callId: 't1', to: ask.to, sdp: fakeSdp('webrtc', 'offer'), transferOf: incoming.callId })
    const atCarol = await c.client.next('incoming')
    expect(atCarol.from).toBe(`sip:${b.username}@patchbay.test`)
    c.client.send({ type: 'answer', callId: atCarol.callId, sdp: fakeAnswerFor(atCarol.sdp) })
    await b.client.next('answered', (m) => m.callId === 't1')
    // The NOTIFY with 200 reaches alice's leg: it hangs up the transferred call.
    expect(await a.client.next('ended', (m) => m.callId === 'c1')).toMatchObject({ cause: 'transferred', by: 'local' })
    expect(await b.client.next('ended', (m) => m.callId === incoming.callId)).toMatchObject({ cause: 'hangup', by: 'remote' })
    b.client.send({ type: 'hangup', callId: 't1' })
    await c.client.next('ended', (m) => m.callId === atCarol.callId)
  })

  test('the transfer target is busy: alice hears transfer-failed 486 and keeps her call', async () => {
    const { a, b, incoming } = await connectedCall()
    const c = await freshUser()
    a.client.send({ type: 'transfer', callId: 'c1', to: c.username })
    const ask = await b.client.next('transfer', (m) => m.callId === incoming.callId)
    b.client.send({ type: 'call', callId: 't2', to: ask.to, sdp: fakeSdp('webrtc', 'offer'), transferOf: incoming.callId })
    const atCarol = await c.client.next('incoming')
    c.client.send({ type: 'reject', callId: atCarol.callId, status: 486 })
    expect(await a.client.next('error', (m) => m.callId === 'c1')).toMatchObject({ code: 'transfer-failed', status: 486 })
    expect(a.client.pending('ended')).toHaveLength(0)
    a.client.send({ type: 'hangup', callId: 'c1' })
    await b.client.next('ended', (m) => m.callId === incoming.callId)
  })

  test('a transfer of a call that is not connected is refused with wrong-state', async () => {
    const a = await freshUser()
    const b = await freshUser()
    a.client.send({ type: 'call', callId: 'ring', to: b.username, sdp: fakeSdp('webrtc', 'offer') })
    await b.client.next('incoming')
    a.client.send({ type: 'transfer', callId: 'ring', to: 'carol' })
    expect(await a.client.next('error', (m) => m.callId === 'ring')).toMatchObject({ code: 'wrong-state' })
    a.client.send({ type: 'hangup', callId: 'ring' })
  })
})

describe('text messages', () => {
  test('delivered to another JSON user with the sender; 480 for an offline user, 404 for an unknown one', async () => {
    const a = await freshUser()
    const b = await freshUser()
    a.client.send({ type: 'message', id: 'm1', to: b.username, text: 'hello there ✓' })
    expect(await a.client.next('delivered')).toMatchObject({ id: 'm1' })
    expect(await b.client.next('message')).toMatchObject({ from: `sip:${a.username}@patchbay.test`, text: 'hello there ✓' })
    const offline = ACCOUNTS[ACCOUNTS.length - 2]!.username
    a.client.send({ type: 'message', id: 'm2', to: offline, text: 'are you there?' })
    expect(await a.client.next('error', (m) => m.id === 'm2')).toMatchObject({ code: 'not-delivered', status: 480 })
    a.client.send({ type: 'message', id: 'm3', to: 'nobody-at-all', text: '?' })
    const e = await a.client.next('error', (m) => m.id === 'm3')
    expect(e.code).toBe('not-delivered')
    expect([404, 480]).toContain(e.status)
  })
})

describe('re-attach after a page reload', () => {
  test('the call survives the reload of one side; the reloaded side re-offers and the other answers', async () => {
    const { a, b, incoming } = await connectedCall()
    const token = a.client.session!.token
    a.client.close()
    await a.client.closed
    await Bun.sleep(300)
    const again = await connect()
    again.send({ type: 'attach', id: 'at', token })
    const session = await again.next('session', (m) => m.id === 'at')
    expect(session.calls).toEqual([{ callId: 'c1', direction: 'outgoing', peer: `sip:${b.username}@patchbay.test`, state: 'connected' }])
    // The new page has a new RTCPeerConnection: it re-offers (ICE restart) and the call goes on.
    again.send({ type: 'reoffer', callId: 'c1', sdp: fakeSdp('webrtc', 'offer') })
    const re = await b.client.next('reoffer', (m) => m.callId === incoming.callId)
    b.client.send({ type: 'answer', callId: incoming.callId, sdp: fakeAnswerFor(re.sdp) })
    await again.next('answered', (m) => m.callId === 'c1')
    expect(b.client.pending('ended')).toHaveLength(0)
    again.send({ type: 'hangup', callId: 'c1' })
    await b.client.next('ended', (m) => m.callId === incoming.callId)
  })

  test('a re-offer from the other side while the page reloads is refused 491 (it retries later, RFC 3261 §14.1)', async () => {
    const { a, b, incoming } = await connectedCall()
    a.client.close()
    await a.client.closed
    await Bun.sleep(200)
    b.client.send({ type: 'reoffer', callId: incoming.callId, sdp: fakeSdp('webrtc', 'offer').replace('a=sendrecv', 'a=sendonly') })
    expect(await b.client.next('error', (m) => m.callId === incoming.callId)).toMatchObject({ code: 'offer-refused', status: 491 })
    // The call itself goes on: after the attach, the other side's next re-offer gets through.
    const again = await connect()
    again.send({ type: 'attach', id: 'r', token: a.client.session!.token })
    await again.next('session', (m) => m.id === 'r')
    b.client.send({ type: 'reoffer', callId: incoming.callId, sdp: fakeSdp('webrtc', 'offer') })
    const re = await again.next('reoffer', (m) => m.callId === 'c1')
    again.send({ type: 'answer', callId: 'c1', sdp: fakeAnswerFor(re.sdp) })
    await b.client.next('answered', (m) => m.callId === incoming.callId)
  })

  test('without an attach within the grace period the call ends and the user is unregistered', async () => {
    const { a, b, incoming } = await connectedCall()
    const aor = `sip:${a.username}@patchbay.test`
    a.client.close()
    expect(await b.client.next('ended', (m) => m.callId === incoming.callId, 8_000)).toMatchObject({ cause: 'hangup', by: 'remote' })
    await Bun.sleep(200)
    expect(gateway.internals.location.lookup(aor)).toHaveLength(0)
    const late = await connect()
    late.send({ type: 'attach', id: 'late', token: a.client.session!.token })
    expect(await late.next('error', (m) => m.id === 'late')).toMatchObject({ code: 'auth-failed' })
  })
})

// Last: the counters include what the tests above did.
describe('observability', () => {
  test('/metrics counts JSON sessions, logins, failed logins, attaches and refused frames', async () => {
    const text = await (await fetch(`${gateway.httpUrl}/metrics`)).text()
    const value = (name: string) => Number(new RegExp(`^patchbay_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN)
    expect(text).toContain('# TYPE patchbay_json_sessions gauge')
    expect(value('json_logins_total')).toBeGreaterThanOrEqual(10)
    expect(value('json_login_failures_total')).toBeGreaterThanOrEqual(3)
    expect(value('json_attaches_total')).toBeGreaterThanOrEqual(2)
    expect(value('json_refused_frames_total')).toBeGreaterThanOrEqual(20)
    expect(value('json_sessions')).toBeGreaterThanOrEqual(0)
  })
})

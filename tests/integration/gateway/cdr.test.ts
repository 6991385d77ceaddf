/**
 * Call detail records and the gateway's own hang-up, over real sockets (issue 13, item 5):
 * WebSocket SIP clients call each other through the gateway; every call, answered or not,
 * leaves one row in the CDR store, readable with GET /api/cdrs (JSON and CSV); an answered
 * call can be ended by the operator (DELETE /api/calls/:callId: a BYE to both sides), and a
 * call whose leg's WebSocket drops is ended with a BYE to the other leg — both recorded as
 * ended by the gateway.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { TEST_DOMAIN, startGateway, testConfig, testUsers, type RunningGateway } from '../../support/gateway.ts'
import { WsSipClient, fakeSdp, fakeAnswerFor, type OutgoingCall } from '../../support/ws-sip-client.ts'

setDefaultTimeout(30_000)

const TOKEN = 'cdr-admin-token'
const PASSWORD = 'cdr-password'
const USERS = testUsers(8, 'cdr', PASSWORD)
let gateway: RunningGateway
const clients: WsSipClient[] = []
let next = 0

beforeAll(async () => {
  gateway = await startGateway(testConfig({ adminToken: TOKEN }, { extraUsers: USERS }))
})

afterAll(async () => {
  for (const c of clients) c.close()
  await gateway?.stop()
})

async function registered(): Promise<WsSipClient> {
  const u = USERS[next++]!
  const c = await WsSipClient.connect({ url: gateway.wsUrl, username: u.username, password: PASSWORD, domain: TEST_DOMAIN })
  clients.push(c)
  expect((await c.register()).final.status).toBe(200)
  return c
}

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${gateway.httpUrl}${path}`, { ...init, headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers ?? {}) } })
}

/** The CDR of `callId` once written (the store batches writes every 200 ms). */
async function cdrOf(callId: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 40; i++) {
    const body = await (await api(`/api/cdrs?limit=1000`)).json() as { cdrs: Array<Record<string, unknown>> }
    const rows = body.cdrs.filter((c) => c.callId === callId)
    if (rows.length > 0) {
      expect(rows).toHaveLength(1)
      return rows[0]!
    }
    await Bun.sleep(100)
  }
  throw new Error(`no CDR for ${callId}`)
}

/** caller calls callee; the callee answers; returns the call once ACKed. */
async function answeredCall(caller: WsSipClient, callee: WsSipClient): Promise<{ call: OutgoingCall; invite: Awaited<ReturnType<WsSipClient['waitForRequest']>> }> {
  const { call } = await caller.inviteWithAuth(callee.aor, { body: fakeSdp('rtp', 'offer') })
  const invite = await callee.waitForRequest('INVITE', call.callId)
  callee.respond(invite, 180)
  await Bun.sleep(50)
  callee.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
  const ok = await caller.waitForResponse({ status: 200, method: 'INVITE', callId: call.callId })
  caller.ack2xx(call, ok)
  await callee.waitForRequest('ACK', call.callId)
  return { call, invite }
}

test('answered, callee hangs up: one record with answer, duration, codec, ended by the callee', async () => {
  const alice = await registered()
  const bob = await registered()
  const { call, invite } = await answeredCall(alice, bob)
  const active = await (await api('/api/calls')).json() as { calls: Array<{ callId: string; answered: boolean }> }
  expect(active.calls.find((c) => c.callId === call.callId)?.answered).toBe(true)
  await Bun.sleep(1100)
  bob.byeAsCallee(bob.incomingCall(invite))
  const bye = await alice.waitForRequest('BYE', call.callId)
  alice.respond(bye, 200)
  const cdr = await cdrOf(call.callId)
  expect(cdr.status).toBe(200)
  expect(cdr.endedBy).toBe('callee')
  expect(cdr.direction).toBe('internal')
  expect(cdr.codec).toBe('PCMU')
  expect(cdr.answer).not.toBeNull()
  expect(Number(cdr.durationS)).toBeGreaterThanOrEqual(1)
  expect(cdr.dialed).toBe(bob.aor)
  const after = await (await api('/api/calls')).json() as { calls: Array<{ callId: string }> }
  expect(after.calls.find((c) => c.callId === call.callId)).toBeUndefined()
})

test('busy and cancelled calls leave records too: 486 by the callee, 487 by the caller', async () => {
  const alice = await registered()
  const bob = await registered()
  const busy = (await alice.inviteWithAuth(bob.aor, { body: fakeSdp('rtp', 'offer') })).call
  const inv = await bob.waitForRequest('INVITE', busy.callId)
  bob.respond(inv, 486)
  alice.ackNon2xx(busy, await alice.waitForResponse({ status: 486, method: 'INVITE', callId: busy.callId }))
  const b = await cdrOf(busy.callId)
  expect([b.status, b.endedBy, b.answer, b.durationS]).toEqual([486, 'callee', null, 0])

  const cancelled = (await alice.inviteWithAuth(bob.aor, { body: fakeSdp('rtp', 'offer') })).call
  const inv2 = await bob.waitForRequest('INVITE', cancelled.callId)
  bob.respond(inv2, 180)
  await alice.waitForResponse({ status: 180, callId: cancelled.callId })
  alice.cancel(cancelled)
  const cancel = await bob.waitForRequest('CANCEL', cancelled.callId)
  bob.respond(cancel, 200)
  bob.respond(inv2, 487)
  alice.ackNon2xx(cancelled, await alice.waitForResponse({ status: 487, method: 'INVITE', callId: cancelled.callId }))
  const c = await cdrOf(cancelled.callId)
  expect([c.status, c.endedBy]).toEqual([487, 'caller'])

  const csv = await (await api(`/api/cdrs.csv?callee=${encodeURIComponent(bob.aor)}`)).text()
  const lines = csv.trim().split(/\r?\n/)
  expect(lines[0]).toContain('call_id')
  expect(lines.filter((l) => l.includes(busy.callId) || l.includes(cancelled.callId))).toHaveLength(2)
})

test('the operator hangs up an answered call: both sides get a BYE, the record says ended by the gateway', async () => {
  const alice = await registered()
  const bob = await registered()
  const { call } = await answeredCall(alice, bob)
  expect((await api(`/api/calls/${encodeURIComponent('no-such-call')}`, { method: 'DELETE' })).status).toBe(404)
  const res = await api(`/api/calls/${encodeURIComponent(call.callId)}`, { method: 'DELETE' })
  expect(res.status).toBe(204)
  const [byeA, byeB] = await Promise.all([alice.waitForRequest('BYE', call.callId), bob.waitForRequest('BYE', call.callId)])
  expect(byeA.requestUri).toBe(alice.contactUri)
  expect(byeB.requestUri).toBe(bob.contactUri)
  expect(byeB.get('reason')).toContain('operator')
  alice.respond(byeA, 200)
  bob.respond(byeB, 200)
  const cdr = await cdrOf(call.callId)
  expect([cdr.status, cdr.endedBy]).toEqual([200, 'gateway'])
})

test('a leg whose WebSocket drops mid-call: the other leg gets a BYE, recorded as ended by the gateway', async () => {
  const alice = await registered()
  const bob = await registered()
  const { call } = await answeredCall(alice, bob)
  bob.close()
  const bye = await alice.waitForRequest('BYE', call.callId)
  expect(bye.get('reason')).toContain('480')
  alice.respond(bye, 200)
  const cdr = await cdrOf(call.callId)
  expect([cdr.status, cdr.endedBy, cdr.reason]).toEqual([200, 'gateway', 'connection lost'])
})

test('an anchored call that reaches media.sessionTimeout: BYE to both sides, recorded as ended by the gateway (session timeout)', async () => {
  const users = testUsers(2, 'cdrto', PASSWORD)
  const g = await startGateway(testConfig({ adminToken: TOKEN, media: { sessionTimeout: 1 } }, { extraUsers: users }))
  try {
    const connect = async (u: (typeof users)[number]) => {
      const c = await WsSipClient.connect({ url: g.wsUrl, username: u.username, password: PASSWORD, domain: TEST_DOMAIN })
      clients.push(c)
      expect((await c.register()).final.status).toBe(200)
      return c
    }
    const alice = await connect(users[0]!)
    const bob = await connect(users[1]!)
    // Plain RTP offered over a WebSocket (as in the calls above): the policy anchors it.
    const { call } = await alice.inviteWithAuth(bob.aor, { body: fakeSdp('rtp', 'offer') })
    const invite = await bob.waitForRequest('INVITE', call.callId)
    bob.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
    const ok = await alice.waitForResponse({ status: 200, method: 'INVITE', callId: call.callId })
    alice.ack2xx(call, ok)
    expect(g.internals.anchoredCalls?.size).toBe(1)
    const [byeA, byeB] = await Promise.all([alice.waitForRequest('BYE', call.callId, 5000), bob.waitForRequest('BYE', call.callId, 5000)])
    expect(byeA.get('reason')).toContain('Session timeout')
    alice.respond(byeA, 200)
    bob.respond(byeB, 200)
    for (let i = 0; i < 40; i++) {
      const body = await (await fetch(`${g.httpUrl}/api/cdrs`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as { cdrs: Array<Record<string, unknown>> }
      const row = body.cdrs.find((c) => c.callId === call.callId)
      if (row) {
        expect([row.status, row.endedBy, row.reason, row.mediaPath]).toEqual([200, 'gateway', 'session timeout', 'anchored'])
        return
      }
      await Bun.sleep(100)
    }
    throw new Error('no CDR for the timed-out call')
  } finally {
    await g.stop()
  }
})

/**
 * RFC 3261 §16.4 outside a dialog: a request whose top Route names the gateway (a UA with the
 * gateway as its outbound proxy preloads one: baresip's `outbound`, PBX trunks) has that
 * entry removed before it is forwarded — the callee must not see the gateway's own Route.
 * Found with baresip sending a MESSAGE; checked here with SIP over WebSocket clients.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { TEST_DOMAIN, startGateway, testConfig, testUsers, type RunningGateway } from '../../support/gateway.ts'
import { WsSipClient, fakeSdp } from '../../support/ws-sip-client.ts'

setDefaultTimeout(20_000)

const PASSWORD = 'route-password'
const [SENDER, RECEIVER] = testUsers(2, 'route', PASSWORD)

let gateway: RunningGateway
const clients: WsSipClient[] = []

beforeAll(async () => {
  gateway = await startGateway(testConfig({}, { extraUsers: [SENDER!, RECEIVER!] }))
})

afterAll(async () => {
  for (const c of clients) c.close()
  await gateway?.stop()
})

async function registered(username: string): Promise<WsSipClient> {
  const c = await WsSipClient.connect({ url: gateway.wsUrl, username, password: PASSWORD, domain: TEST_DOMAIN })
  clients.push(c)
  const { final } = await c.register()
  expect(final.status, final.raw).toBe(200)
  return c
}

test('a MESSAGE and an INVITE with a preloaded Route to the gateway arrive without it', async () => {
  const sender = await registered(SENDER!.username)
  const receiver = await registered(RECEIVER!.username)
  const own = `<sip:127.0.0.1:${gateway.udpPort};transport=udp;lr>`
  const target = `sip:${RECEIVER!.username}@${TEST_DOMAIN}`

  const done = sender.request('MESSAGE', target, { body: 'via the outbound proxy', contentType: 'text/plain', headers: [['Route', own]] })
  const message = await receiver.waitForRequest('MESSAGE')
  expect(message.getAll('route')).toEqual([])
  receiver.respond(message, 200)
  expect((await done).final.status).toBe(200)

  const { call } = await sender.inviteWithAuth(target, { body: fakeSdp('webrtc', 'offer'), headers: [['Route', own]] })
  const invite = await receiver.waitForRequest('INVITE', call.callId)
  expect(invite.getAll('route')).toEqual([])
  receiver.respond(invite, 486)
  const final = await sender.waitForResponse({ status: 486, method: 'INVITE', callId: call.callId })
  sender.ackNon2xx(call, final)
})

/**
 * SIP over TCP (RFC 3261 §18.3) against the real gateway: SIPp registers with digest over TCP
 * (`-t t1`), a SIPp UAS that registered over its TCP connection is called five times through
 * the gateway by a SIPp UAC over TCP (the proxy reaches the UAS over the connection its
 * REGISTER came on, RFC 5626 §5 style), the binding goes when the connection closes
 * (RFC 5626 §7), and a raw TCP client gets two responses for two requests in one write.
 *
 * SIPp 3.6 answers MD5 challenges only and reads the first one: the gateway offers MD5 first.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { join } from 'node:path'
import { TEST_DOMAIN, startGateway, testConfig, testUsers, userEntry, type RunningGateway } from '../../support/gateway.ts'
import { freePortRange } from '../../support/ports.ts'
import { PeerSet, requireBinary } from '../../support/processes.ts'
import { SIPP_SCENARIOS, readSippTrace, runSipp, sippCsv, startSipp, type SippResult, expectAllSucceeded } from '../../support/sipp.ts'
import { uriOf, uriParamOf } from '../../support/sip-text.ts'
import { StreamSipClient } from './stream-client.ts'

setDefaultTimeout(60_000)

const REGISTER_AND_SERVE = join(import.meta.dir, 'sipp-register-and-serve.xml')
const LOAD_PASSWORD = 'tcp-load-password'
const LOAD_USERS = testUsers(5, 'tcpload', LOAD_PASSWORD)
const CALLER = { username: 'tcp-caller', password: 'tcp-caller-password' }
const CALLEE = { username: 'tcp-callee', password: 'tcp-callee-password' }
const CALLS = 6

let gateway: RunningGateway
let remote: string
const peers = new PeerSet()
const clients: StreamSipClient[] = []

beforeAll(async () => {
  requireBinary('sipp', 'sip-tester')
  gateway = await startGateway(testConfig(
    { auth: { algorithms: ['MD5', 'SHA-256'] }, media: { driver: 'none' }, log: { level: 'error' } },
    { extraUsers: [...LOAD_USERS, ...[CALLER, CALLEE].map((u) => userEntry(u.username, u.password))] },
  ))
  remote = `127.0.0.1:${gateway.tcpPort}`
})

afterAll(async () => {
  for (const c of clients) c.close()
  await peers.killAll()
  await gateway?.stop()
})

/** Bindings of `username` the location service holds now. */
function bindingsOf(username: string) {
  return gateway.internals.location.all().filter((b) => b.aor.includes(`${username}@`))
}

async function until(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(20)
  }
}

describe('SIP over TCP with SIPp', () => {
  test(`${LOAD_USERS.length} users REGISTER with digest over one TCP connection; their bindings go with it`, async () => {
    const result = await runSipp({
      name: 'tcp-register', scenarioFile: SIPP_SCENARIOS.register, remote, transport: 't1',
      calls: LOAD_USERS.length, rate: 50,
      keys: { domain: TEST_DOMAIN }, authUri: TEST_DOMAIN,
      injection: sippCsv(LOAD_USERS.map((u) => [u.username, LOAD_PASSWORD])),
    })
    expectAllSucceeded(result, LOAD_USERS.length)
    const sent = readSippTrace(result).filter((m) => m.direction === 'sent' && m.message.method === 'REGISTER')
    expect(sent.length).toBeGreaterThanOrEqual(2 * LOAD_USERS.length)
    expect(sent[0]!.message.getAll('via')[0]).toStartWith('SIP/2.0/TCP ')
    // RFC 5626 §7: the connection is gone with SIPp, and so are the bindings made over it.
    await until(() => LOAD_USERS.every((u) => bindingsOf(u.username).length === 0), 'the TCP bindings to be dropped')
  })

  test(`a SIPp UAS registered over TCP gets ${CALLS} calls from a SIPp UAC over TCP, none fails`, async () => {
    const uasPort = await freePortRange(1)
    const uas = await startSipp({
      name: 'tcp-uas', scenarioFile: REGISTER_AND_SERVE, remote, transport: 't1', localPort: uasPort, calls: 1,
      pauseMs: 7_000, service: CALLEE.username, authUri: TEST_DOMAIN,
      keys: { domain: TEST_DOMAIN, user: CALLEE.username, password: CALLEE.password },
      extraArgs: ['-oocsf', SIPP_SCENARIOS.uas],
    })
    peers.add(uas.process)
    await until(() => bindingsOf(CALLEE.username).length === 1, 'the UAS to register over TCP')
    const [binding] = bindingsOf(CALLEE.username)
    expect(binding!.transport).toBe('TCP')
    expect(binding!.flowId).not.toBeNull()

    const uac = await runSipp({
      name: 'tcp-uac', scenarioFile: SIPP_SCENARIOS.uacAuth, remote, transport: 't1', calls: CALLS, rate: 10, limit: 3,
      pauseMs: 100, service: CALLEE.username, authUser: CALLER.username, authPassword: CALLER.password,
      authUri: `${CALLEE.username}@${TEST_DOMAIN}`, keys: { domain: TEST_DOMAIN, caller: CALLER.username },
    })
    expectAllSucceeded(uac, CALLS)

    // The 200s carry the double Record-Route of a TCP <-> TCP call, both entries transport=tcp
    // and naming the connection (pb-flow), so the ACK and BYE found their way back.
    const oks = readSippTrace(uac).filter((m) => m.direction === 'received' && m.message.status === 200 && m.message.method === 'INVITE')
    expect(oks).toHaveLength(CALLS)
    const rr = oks[0]!.message.getAll('record-route')
    expect(rr).toHaveLength(2)
    for (const entry of rr) {
      expect(uriParamOf(uriOf(entry), 'transport')).toBe('tcp')
      expect(uriParamOf(uriOf(entry), 'pb-flow')).toMatch(/^tcp-\d+$/)
    }

    const uasResult = await uas.finish(20_000)
    expect(uasResult.exitCode, uasResult.summary()).toBe(0)
    expect(uasResult.stats?.failed, uasResult.summary()).toBe(0)
    // Every INVITE, ACK and BYE reached the UAS over its one TCP connection.
    const received = readSippTrace(uasResult).filter((m) => m.direction === 'received' && m.message.isRequest)
    expect(received.filter((m) => m.message.method === 'INVITE')).toHaveLength(CALLS)
    expect(received.filter((m) => m.message.method === 'ACK')).toHaveLength(CALLS)
    expect(received.filter((m) => m.message.method === 'BYE')).toHaveLength(CALLS)
    expect(gateway.internals.proxy.pendingInvites).toBe(0)
    await until(() => bindingsOf(CALLEE.username).length === 0, 'the UAS binding to go with its connection')
  })
})

describe('raw TCP client', () => {
  test('two requests in one write get two responses on the connection; a CRLFCRLF ping between them gets a pong', async () => {
    const c = await StreamSipClient.connect({ port: gateway.tcpPort, username: 'raw', domain: TEST_DOMAIN })
    clients.push(c)
    const target = `sip:127.0.0.1:${gateway.tcpPort};transport=tcp`
    const a = c.request('OPTIONS', target, { callId: 'tcp-two-a' })
    const b = c.request('OPTIONS', target, { callId: 'tcp-two-b' })
    c.write(a + '\r\n\r\n' + b)
    const ra = await c.waitFor((m) => m.callId === 'tcp-two-a', 'the response to the first OPTIONS')
    const rb = await c.waitFor((m) => m.callId === 'tcp-two-b', 'the response to the second OPTIONS')
    expect(ra.status).toBe(200)
    expect(rb.status).toBe(200)
    expect(c.messages.indexOf(ra)).toBeLessThan(c.messages.indexOf(rb))
    // §18.2.1 / RFC 3581 on the way in: rport filled with our source port.
    expect(ra.getAll('via')[0]).toContain(`rport=${c.localPort}`)
    expect(c.pongs).toBe(1)
    expect(c.closed).toBe(false)
  })

  test('a bad request in an intact frame is answered 400 and the connection keeps working', async () => {
    const c = await StreamSipClient.connect({ port: gateway.tcpPort, username: 'raw', domain: TEST_DOMAIN })
    clients.push(c)
    const target = `sip:127.0.0.1:${gateway.tcpPort};transport=tcp`
    const bad = c.request('OPTIONS', target, { callId: 'tcp-bad' }).replace(/CSeq: (\d+) OPTIONS/, 'CSeq: $1 INVITE')
    c.write(bad + c.request('OPTIONS', target, { callId: 'tcp-after-bad' }))
    expect((await c.waitFor((m) => m.callId === 'tcp-bad', 'the 400')).status).toBe(400)
    expect((await c.waitFor((m) => m.callId === 'tcp-after-bad', 'the 200 after it')).status).toBe(200)
    expect(c.closed).toBe(false)
  })
})

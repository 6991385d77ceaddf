/**
 * Forking with real UDP phones (issue 11, deliver item 8; RFC 3261 §16.5, §16.7):
 *
 * - A SIPp phone registers twice from its one socket with the same Contact and two
 *   +sip.instance values (what a phone that re-registers with a new instance id, or a stale
 *   binding restored from the store, leaves behind): the AOR has two bindings with one
 *   Contact URI. A call to it must reach the phone once (§16.5: "any given URI MUST NOT be
 *   added to the set more than once"); before, the proxy sent two INVITE branches to the
 *   same address and the phone answered the second with 486 (linphone) or took it for an
 *   unexpected message (SIPp).
 * - Two different SIPp phones of one AOR: the call forks to both, one answers, and the other,
 *   still ringing, gets a CANCEL and nothing else (§16.7 item 10).
 *
 * No branch starts after a 2xx for anchored branches whose media offer comes back late: that
 * needs the media driver between the proxy and the phone and is proven in
 * tests/unit/sip/proxy/forking.test.ts with a media seam the test controls.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { join } from 'node:path'
import { TEST_DOMAIN, startGateway, testConfig, userEntry, type RunningGateway } from '../../support/gateway.ts'
import { freePortRange } from '../../support/ports.ts'
import { PeerSet, requireBinary } from '../../support/processes.ts'
import { SIPP_SCENARIOS, readSippTrace, runSipp, sippCsv, startSipp, type SippResult, expectAllSucceeded } from '../../support/sipp.ts'

setDefaultTimeout(60_000)

const REGISTER_INSTANCE = join(import.meta.dir, 'sipp-register-instance.xml')
const CALLER = { username: 'fork-caller', password: 'fork-caller-password' }
const TWICE = { username: 'fork-twice', password: 'fork-twice-password' }
const FORKED = { username: 'fork-two-phones', password: 'fork-two-phones-password' }

let gateway: RunningGateway
let remote: string
const peers = new PeerSet()

beforeAll(async () => {
  requireBinary('sipp', 'sip-tester')
  gateway = await startGateway(testConfig(
    { auth: { algorithms: ['MD5', 'SHA-256'] }, media: { driver: 'none' }, log: { level: 'error' } },
    { extraUsers: [CALLER, TWICE, FORKED].map((u) => userEntry(u.username, u.password)) },
  ))
  remote = `127.0.0.1:${gateway.udpPort}`
})

afterAll(async () => {
  await peers.killAll()
  await gateway?.stop()
})

/** Registers `user` from SIPp's socket on `localPort`, once per instance id (sequentially). */
async function registerInstances(user: { username: string; password: string }, localPort: number, instances: string[]): Promise<void> {
  const result = await runSipp({
    name: `register-${user.username}`, scenarioFile: REGISTER_INSTANCE, remote, localPort, calls: instances.length, limit: 1,
    keys: { domain: TEST_DOMAIN }, authUri: TEST_DOMAIN,
    injection: sippCsv(instances.map((instance) => [user.username, user.password, instance])),
  })
  expectAllSucceeded(result, instances.length)
}

function bindingsOf(username: string) {
  return gateway.internals.location.all().filter((b) => b.aor === `sip:${username}@${TEST_DOMAIN}`)
}

/** One call from a SIPp UAC (digest, caller hangs up) to `callee`. */
function call(name: string, callee: string): Promise<SippResult> {
  return runSipp({
    name, scenarioFile: SIPP_SCENARIOS.uacAuth, remote, calls: 1, pauseMs: 200,
    service: callee, authUser: CALLER.username, authPassword: CALLER.password,
    authUri: `${callee}@${TEST_DOMAIN}`, keys: { domain: TEST_DOMAIN, caller: CALLER.username },
  })
}

/** Requests of `method` a SIPp peer received. */
function receivedRequests(result: SippResult, method: string) {
  return readSippTrace(result).filter((m) => m.direction === 'received' && m.message.isRequest && m.message.method === method)
}

describe('forking to registered UDP phones', () => {
  test('a phone registered twice with one Contact (two +sip.instance, one socket) gets one INVITE, and the call succeeds', async () => {
    const port = await freePortRange(1)
    await registerInstances(TWICE, port, ['2f1d6c1e-0000-4000-8000-000000000001', '2f1d6c1e-0000-4000-8000-000000000002'])
    // The situation of the issue: two bindings, one Contact URI.
    const bindings = bindingsOf(TWICE.username)
    expect(bindings).toHaveLength(2)
    expect(bindings[0]!.contact).toBe(bindings[1]!.contact)
    expect(bindings[0]!.instanceId).not.toBe(bindings[1]!.instanceId)

    const phone = await startSipp({ name: 'phone-twice', scenarioFile: SIPP_SCENARIOS.uas, localPort: port, calls: 1, service: TWICE.username })
    peers.add(phone.process)
    const caller = await call('caller-twice', TWICE.username)
    const phoneResult = await phone.finish(10_000)
    expectAllSucceeded(caller, 1)
    expectAllSucceeded(phoneResult, 1)
    const invites = receivedRequests(phoneResult, 'INVITE')
    expect(invites, phoneResult.summary()).toHaveLength(1)
    expect(receivedRequests(phoneResult, 'CANCEL')).toHaveLength(0)
    expect(phoneResult.stats?.outOfCallMessages ?? 0).toBe(0)
  })

  test('two phones of one AOR: the call forks to both, one answers, the ringing one gets one INVITE and one CANCEL', async () => {
    const [answererPort, ringerPort] = [await freePortRange(1), await freePortRange(1)]
    await registerInstances(FORKED, answererPort, ['7c0a8b2e-0000-4000-8000-00000000000a'])
    await registerInstances(FORKED, ringerPort, ['7c0a8b2e-0000-4000-8000-00000000000b'])
    expect(bindingsOf(FORKED.username)).toHaveLength(2)

    const answerer = await startSipp({ name: 'phone-answers', scenarioFile: SIPP_SCENARIOS.uas, localPort: answererPort, calls: 1, service: FORKED.username })
    const ringer = await startSipp({ name: 'phone-rings', scenarioFile: SIPP_SCENARIOS.uasRingCancel, localPort: ringerPort, calls: 1, service: FORKED.username })
    peers.add(answerer.process)
    peers.add(ringer.process)
    const caller = await call('caller-fork', FORKED.username)
    const [answered, rang] = [await answerer.finish(10_000), await ringer.finish(10_000)]
    expectAllSucceeded(caller, 1)
    expectAllSucceeded(answered, 1)
    expectAllSucceeded(rang, 1)
    expect(receivedRequests(answered, 'INVITE')).toHaveLength(1)
    expect(receivedRequests(rang, 'INVITE')).toHaveLength(1)
    expect(receivedRequests(rang, 'CANCEL')).toHaveLength(1)
  })
})

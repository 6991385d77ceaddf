/**
 * SIPp (a legacy SIP endpoint and load generator) against the gateway over UDP:
 * digest REGISTER for many users from a CSV, calls between two SIPp instances through the
 * proxy (407 challenge, Record-Route, ACK and BYE over the route set), CANCEL of a ringing
 * call, and 404 for an unknown user.
 *
 * SIPp 3.6 only answers MD5 challenges and reads the first one, so this gateway offers MD5
 * first (RFC 8760 §2.4 lets the server order them by preference).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { TEST_DOMAIN, startGateway, testConfig, testUsers, userEntry, type RunningGateway } from '../../support/gateway.ts'
import { freePortRange } from '../../support/ports.ts'
import { PeerSet, requireBinary } from '../../support/processes.ts'
import { SIPP_SCENARIOS, runSipp, sippCsv, startSipp, type SippResult, expectAllSucceeded } from '../../support/sipp.ts'

setDefaultTimeout(45_000)

const LOAD_PASSWORD = 'sipp-load-password'
const LOAD_USERS = testUsers(60, 'load', LOAD_PASSWORD)
const CALLER = { username: 'sipp-caller', password: 'caller-password' }
const CALLEE = { username: 'sipp-callee', password: 'callee-password' }
const RINGER = { username: 'sipp-ringer', password: 'ringer-password' }

let gateway: RunningGateway
let remote: string
const peers = new PeerSet()

beforeAll(async () => {
  requireBinary('sipp', 'sip-tester')
  gateway = await startGateway(testConfig(
    { auth: { algorithms: ['MD5', 'SHA-256'] } },
    { extraUsers: [...LOAD_USERS, ...[CALLER, CALLEE, RINGER].map((u) => userEntry(u.username, u.password))] },
  ))
  remote = `127.0.0.1:${gateway.udpPort}`
})

afterAll(async () => {
  await peers.killAll()
  await gateway?.stop()
})

/** Registers `user` from SIPp on `localPort` (the port a UAS will then listen on). */
async function registerSippUser(user: { username: string; password: string }, localPort: number): Promise<void> {
  const result = await runSipp({
    name: `register-${user.username}`, scenarioFile: SIPP_SCENARIOS.register, remote, localPort, calls: 1,
    keys: { domain: TEST_DOMAIN }, authUri: TEST_DOMAIN, injection: sippCsv([[user.username, user.password]]),
  })
  expectAllSucceeded(result, 1)
}

describe('SIPp over UDP', () => {
  test(`${LOAD_USERS.length} users REGISTER with digest from a CSV: every one gets 200 with its binding`, async () => {
    const result = await runSipp({
      name: 'register-load', scenarioFile: SIPP_SCENARIOS.register, remote,
      calls: LOAD_USERS.length, rate: 200, limit: 50,
      keys: { domain: TEST_DOMAIN }, authUri: TEST_DOMAIN,
      injection: sippCsv(LOAD_USERS.map((u) => [u.username, LOAD_PASSWORD])),
    })
    expectAllSucceeded(result, LOAD_USERS.length)
  })

  test('a SIPp UAC calls a registered SIPp UAS 10 times through the gateway, none fails', async () => {
    const uasPort = await freePortRange(1)
    await registerSippUser(CALLEE, uasPort)
    const uas = await startSipp({ name: 'uas', scenarioFile: SIPP_SCENARIOS.uas, localPort: uasPort, calls: 10, service: CALLEE.username })
    peers.add(uas.process)

    const uac = await runSipp({
      name: 'uac', scenarioFile: SIPP_SCENARIOS.uacAuth, remote, calls: 10, rate: 20, limit: 5, pauseMs: 100,
      service: CALLEE.username, authUser: CALLER.username, authPassword: CALLER.password,
      authUri: `${CALLEE.username}@${TEST_DOMAIN}`, keys: { domain: TEST_DOMAIN, caller: CALLER.username },
    })
    const uasResult = await uas.finish(10_000)
    expectAllSucceeded(uac, 10)
    expectAllSucceeded(uasResult, 10)
  })

  test('CANCEL of a ringing call: 200 for the CANCEL, 487 for the INVITE, at both ends', async () => {
    const uasPort = await freePortRange(1)
    await registerSippUser(RINGER, uasPort)
    const uas = await startSipp({ name: 'uas-ring', scenarioFile: SIPP_SCENARIOS.uasRingCancel, localPort: uasPort, calls: 3, service: RINGER.username })
    peers.add(uas.process)

    const uac = await runSipp({
      name: 'uac-cancel', scenarioFile: SIPP_SCENARIOS.uacCancel, remote, calls: 3, rate: 10,
      service: RINGER.username, authUser: CALLER.username, authPassword: CALLER.password,
      authUri: `${RINGER.username}@${TEST_DOMAIN}`, keys: { domain: TEST_DOMAIN, caller: CALLER.username },
    })
    const uasResult = await uas.finish(10_000)
    expectAllSucceeded(uac, 3)
    expectAllSucceeded(uasResult, 3)
  })

  test('an INVITE to an unknown user ends with 404', async () => {
    const uac = await runSipp({
      name: 'uac-404', scenarioFile: SIPP_SCENARIOS.uacExpect404, remote, calls: 1,
      service: 'nobody', authUser: CALLER.username, authPassword: CALLER.password,
      authUri: `nobody@${TEST_DOMAIN}`, keys: { domain: TEST_DOMAIN, caller: CALLER.username },
    })
    expectAllSucceeded(uac, 1)
  })
})

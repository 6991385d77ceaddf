/**
 * The server transaction cap against real traffic (issue 11, item 4): with
 * security.overload.maxServerTransactions at 300, SIPp sends REGISTERs from 127.0.0.3 at
 * 500/s (under the per-source rate limit, so only the cap acts). Answered non-INVITE
 * transactions linger 32 s over UDP (Timer J), so the count reaches the cap within a second;
 * from then on new requests from untrusted sources are answered 503 with Retry-After, and
 * the count stops growing. Meanwhile a call set up before the flood (SIPp UAC -> gateway ->
 * SIPp UAS) ends with a BYE that still goes through, and a trusted source is still served.
 *
 * Needs SIPp (Debian sip-tester).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { join } from 'node:path'
import { TEST_DOMAIN, startGateway, testConfig, userEntry, type RunningGateway } from '../../support/gateway.ts'
import { freePortRange } from '../../support/ports.ts'
import { PeerSet, requireBinary } from '../../support/processes.ts'
import { SIPP_SCENARIOS, readSippTrace, runSipp, sippCsv, startSipp } from '../../support/sipp.ts'
import { SipText, formatSipText } from '../../support/sip-text.ts'

setDefaultTimeout(90_000)

const CAP = 300
const RETRY_AFTER = 7
const FLOOD_IP = '127.0.0.3'
const TRUSTED_IP = '127.0.0.4'
const CALLER = { username: 'cap-caller', password: 'caller-password' }
const CALLEE = { username: 'cap-callee', password: 'callee-password' }

let gateway: RunningGateway
let remote: string
const peers = new PeerSet()

beforeAll(async () => {
  requireBinary('sipp', 'sip-tester')
  gateway = await startGateway(testConfig(
    {
      auth: { algorithms: ['MD5', 'SHA-256'] },
      proxy: { trustedSources: [TRUSTED_IP] },
      security: { overload: { maxServerTransactions: CAP, retryAfterSeconds: RETRY_AFTER } },
      media: { driver: 'none' },
      log: { level: 'error' },
    },
    { extraUsers: [CALLER, CALLEE].map((u) => userEntry(u.username, u.password)) },
  ))
  remote = `127.0.0.1:${gateway.udpPort}`
})

afterAll(async () => {
  await peers.killAll()
  await gateway?.stop()
})

/** An OPTIONS to the gateway from a UDP socket bound to `ip`; resolves with the answer's status line. */
async function optionsFrom(ip: string): Promise<string> {
  let resolve!: (s: string) => void
  const answer = new Promise<string>((r) => { resolve = r })
  const socket = await Bun.udpSocket({
    hostname: ip, port: 0,
    socket: { data(_s, d) { resolve(SipText.parse(new TextDecoder().decode(d))?.describe() ?? 'unreadable') } },
  })
  const n = Math.random().toString(36).slice(2)
  socket.send(formatSipText({
    startLine: `OPTIONS sip:${TEST_DOMAIN} SIP/2.0`,
    headers: [
      ['Via', `SIP/2.0/UDP ${ip}:${socket.port};branch=z9hG4bK-cap-${n};rport`], ['Max-Forwards', '70'],
      ['From', `<sip:probe@${TEST_DOMAIN}>;tag=${n}`], ['To', `<sip:${TEST_DOMAIN}>`], ['Call-ID', `cap-${n}`], ['CSeq', '1 OPTIONS'],
    ],
  }), gateway.udpPort, '127.0.0.1')
  try {
    return await Promise.race([answer, Bun.sleep(2000).then(() => 'no answer')])
  } finally {
    socket.close()
  }
}

describe(`server transaction cap (${CAP})`, () => {
  test('past the cap: 503 + Retry-After and no growth; a call set up before ends with its BYE; a trusted source is served', async () => {
    // A call up before the flood: the callee registers, the caller calls and holds for 6 s.
    const uasPort = await freePortRange(1)
    const reg = await runSipp({
      name: 'cap-register-callee', scenarioFile: SIPP_SCENARIOS.register, remote, localPort: uasPort, calls: 1,
      keys: { domain: TEST_DOMAIN }, authUri: TEST_DOMAIN, injection: sippCsv([[CALLEE.username, CALLEE.password]]),
    })
    expect(reg.stats?.successful, reg.summary()).toBe(1)
    const uas = await startSipp({ name: 'cap-uas', scenarioFile: SIPP_SCENARIOS.uas, localPort: uasPort, calls: 1, service: CALLEE.username, recvTimeoutMs: 20_000 })
    peers.add(uas.process)
    const uac = await startSipp({
      name: 'cap-uac', scenarioFile: SIPP_SCENARIOS.uacAuth, remote, calls: 1, pauseMs: 6000,
      service: CALLEE.username, authUser: CALLER.username, authPassword: CALLER.password,
      authUri: `${CALLEE.username}@${TEST_DOMAIN}`, keys: { domain: TEST_DOMAIN, caller: CALLER.username },
    })
    peers.add(uac.process)
    await Bun.sleep(1000) // the call is up (SIPp pauses after its ACK)

    const flood = await runSipp({
      name: 'cap-flood', scenarioFile: join(import.meta.dir, 'sipp-flood-register.xml'), remote,
      calls: 1500, rate: 500, keys: { domain: TEST_DOMAIN },
      extraArgs: ['-i', FLOOD_IP, '-mi', FLOOD_IP],
    }, 30_000)
    await Bun.sleep(300)
    const counts = gateway.internals.transactions.transactionCounts
    const live = counts.inviteServer + counts.nonInviteServer
    const trusted = await optionsFrom(TRUSTED_IP)
    const untrusted = await optionsFrom('127.0.0.5')

    const uacResult = await uac.finish(20_000)
    const uasResult = await uas.finish(10_000)

    // What the flooder got: answers up to the cap, then 503 with Retry-After.
    const answers = readSippTrace(flood).filter((m) => m.direction === 'received').map((m) => m.message)
    const by = (status: number) => answers.filter((m) => m.status === status)
    expect(flood.stats?.created, flood.summary()).toBe(1500)
    expect(by(401).length).toBeGreaterThan(CAP - 50)
    expect(by(401).length).toBeLessThanOrEqual(CAP)
    expect(by(503).length).toBeGreaterThan(1000)
    expect(by(401).length + by(503).length).toBe(answers.length)
    expect(by(503).every((m) => m.get('retry-after') === String(RETRY_AFTER))).toBe(true)
    // The cap holds: refused requests keep no transaction.
    expect(live).toBeLessThanOrEqual(CAP + 1)
    // A new request from an untrusted source is refused too; a trusted one is served.
    expect(untrusted).toBe('503 Service Unavailable (OPTIONS)')
    expect(trusted).toBe('200 OK (OPTIONS)')
    // The call set up before the flood ended normally: its BYE (sent while over the cap) passed.
    expect(uacResult.exitCode, uacResult.summary()).toBe(0)
    expect(uacResult.stats?.successful, uacResult.summary()).toBe(1)
    expect(uasResult.stats?.successful, uasResult.summary()).toBe(1)
    const res = await fetch(`${gateway.httpUrl}/api/health`)
    expect(res.status).toBe(200)
    console.log(`overload: cap ${CAP}; SIPp sent 1500 REGISTERs at 500/s from ${FLOOD_IP}: ${by(401).length} answered 401, ` +
      `${by(503).length} answered 503 (Retry-After ${RETRY_AFTER}); live server transactions after the flood ${live}; ` +
      `held call's BYE answered; trusted OPTIONS: ${trusted}`)
  })
})

/**
 * Brute-force defence and no user enumeration against real sockets (issue 11, items 2 and 3):
 * SIPp guesses passwords over UDP from 127.0.0.2 while another SIPp registers from
 * 127.0.0.1 with the right password. The guesser is banned at the 10th failure (default
 * security.bruteForce.maxFailuresPerSource), after which even the right password from its
 * address gets no answer; the other address is untouched. The ban is listed and lifted
 * through the admin API (/api/security/bans), after which the right password works from
 * 127.0.0.2 again.
 *
 * Needs SIPp (Debian sip-tester). SIPp 3.6 answers only MD5 and the first challenge, so the
 * gateway offers MD5 first.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { join } from 'node:path'
import { TEST_DOMAIN, startGateway, testConfig, userEntry, type RunningGateway } from '../../support/gateway.ts'
import { requireBinary } from '../../support/processes.ts'
import { SIPP_SCENARIOS, readSippTrace, runSipp, sippCsv, startSipp } from '../../support/sipp.ts'

setDefaultTimeout(60_000)

const ADMIN_TOKEN = 'security-test-admin-token'
const VICTIM = { username: 'dave', password: 'dave-long-passphrase' }
const OTHER = { username: 'erin', password: 'erin-long-passphrase' }
const ATTACKER_IP = '127.0.0.2'
const GUESSES = 12
/** The default security.bruteForce.maxFailuresPerSource. */
const THRESHOLD = 10

let gateway: RunningGateway
let remote: string

beforeAll(async () => {
  requireBinary('sipp', 'sip-tester')
  gateway = await startGateway(testConfig(
    { auth: { algorithms: ['MD5', 'SHA-256'] }, adminToken: ADMIN_TOKEN, log: { level: 'error' } },
    { extraUsers: [userEntry(VICTIM.username, VICTIM.password), userEntry(OTHER.username, OTHER.password)] },
  ))
  remote = `127.0.0.1:${gateway.udpPort}`
})

afterAll(async () => {
  await gateway?.stop()
})

async function admin(method: 'GET' | 'DELETE', path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gateway.httpUrl}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  return { status: res.status, body: await res.json() }
}

/** One REGISTER with the right password, from `ip`, by SIPp's register.xml. */
function registerFrom(ip: string, user: { username: string; password: string }, name: string) {
  return runSipp({
    name, scenarioFile: SIPP_SCENARIOS.register, remote, calls: 1, recvTimeoutMs: 2_000, timeoutSec: 10,
    keys: { domain: TEST_DOMAIN }, authUri: TEST_DOMAIN, injection: sippCsv([[user.username, user.password]]),
    extraArgs: ['-i', ip, '-mi', ip],
  })
}

describe('brute force over UDP (SIPp)', () => {
  test(`a guesser is banned at its ${THRESHOLD}th wrong password; the right password is then dropped too; another address registers meanwhile`, async () => {
    // Guesses alternate between an existing user and one that does not exist: both count alike.
    const guesses = Array.from({ length: GUESSES }, (_, i) => [i % 2 === 0 ? VICTIM.username : 'zed', `guess-${i}`])
    const t0 = performance.now()
    const guesser = await startSipp({
      name: 'guesser', scenarioFile: join(import.meta.dir, 'sipp-guess-password.xml'), remote, calls: GUESSES,
      rate: 50, limit: 1, recvTimeoutMs: 1_000, timeoutSec: 30,
      keys: { domain: TEST_DOMAIN }, authUri: TEST_DOMAIN, injection: sippCsv(guesses),
      extraArgs: ['-i', ATTACKER_IP, '-mi', ATTACKER_IP],
    })
    // Time to ban: poll the admin API while the guesser runs.
    let banMs = -1
    while (performance.now() - t0 < 20_000) {
      const { body } = await admin('GET', '/api/security/bans')
      if (body.bans.some((b: { source: string }) => b.source === ATTACKER_IP)) {
        banMs = performance.now() - t0
        break
      }
      await Bun.sleep(10)
    }
    // Meanwhile another address registers with the right password.
    const legit = await registerFrom('127.0.0.1', OTHER, 'legit-during-attack')
    const result = await guesser.finish(40_000)

    expect(banMs, 'the guesser was never banned').toBeGreaterThan(0)
    expect(legit.stats?.successful, legit.summary()).toBe(1)
    // Each successful "call" is a wrong guess answered with a new 401; the 10th is not answered.
    expect(result.stats?.successful, result.summary()).toBe(THRESHOLD - 1)
    expect(result.stats?.failed, result.summary()).toBe(GUESSES - THRESHOLD + 1)
    const trace = readSippTrace(result)
    const answered401 = trace.filter((m) => m.direction === 'received' && m.message.status === 401).length
    // Two 401 per answered guess (challenge, then the wrong guess), plus the challenge of the 10th.
    expect(answered401).toBe(2 * (THRESHOLD - 1) + 1)
    expect(trace.some((m) => m.direction === 'received' && m.message.status === 404)).toBe(false) // no "unknown user"

    const { body } = await admin('GET', '/api/security/bans')
    const ban = body.bans.find((b: { source: string }) => b.source === ATTACKER_IP)
    expect(ban).toMatchObject({ source: ATTACKER_IP, reason: 'brute-force' })
    expect([VICTIM.username, 'zed']).toContain(ban.username)
    expect(ban.expiresIn).toBeGreaterThan(880) // default banSeconds 900
    expect(ban.refused).toBeGreaterThan(0) // SIPp's retransmissions and later guesses
    expect(body.stats).toMatchObject({ authFailures: THRESHOLD, bruteForceBans: 1, bansActive: 1 })
    console.log(`brute force: ${THRESHOLD - 1} wrong guesses answered, the ${THRESHOLD}th banned the source ${banMs.toFixed(0)} ms after the first; ` +
      `${ban.refused} requests refused since (SIPp retransmissions and guesses); stats ${JSON.stringify(body.stats)}`)
  })

  test('while banned, the right password from the banned address gets no answer at all; from another address it works', async () => {
    const banned = await registerFrom(ATTACKER_IP, VICTIM, 'banned-right-password')
    expect(banned.stats?.successful, banned.summary()).toBe(0)
    expect(readSippTrace(banned).filter((m) => m.direction === 'received')).toEqual([])
    const other = await registerFrom('127.0.0.1', VICTIM, 'victim-elsewhere')
    expect(other.stats?.successful, other.summary()).toBe(1)
  })

  test('the admin API lifts the ban: the right password works from that address again', async () => {
    expect(await admin('DELETE', `/api/security/bans/${ATTACKER_IP}`)).toEqual({ status: 200, body: { source: ATTACKER_IP, lifted: true } })
    expect((await admin('GET', '/api/security/bans')).body.bans).toEqual([])
    const again = await registerFrom(ATTACKER_IP, VICTIM, 'after-lift')
    expect(again.stats?.successful, again.summary()).toBe(1)
    expect((await admin('DELETE', `/api/security/bans/${ATTACKER_IP}`)).status).toBe(404)
  })
})

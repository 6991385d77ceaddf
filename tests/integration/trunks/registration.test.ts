/**
 * The gateway's RegistrationClient against a real Kamailio registrar with digest
 * authentication (tests/support/kamailio-registrar.ts): the gateway's own transaction and
 * transport layers send the REGISTERs from its SIP UDP listener.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startGateway, testConfig, type RunningGateway } from '../../support/gateway.ts'
import { PeerSet } from '../../support/processes.ts'
import { startKamailioRegistrar, waitUntil, type KamailioRegistrar, type KamailioRegistrarOptions } from '../../support/kamailio-registrar.ts'
import { RegistrationClient, trunkContactUri, type RegistrationClientOptions } from '../../../gateway/src/sip/trunks/registration-client.ts'
import type { TrunkStatus } from '../../../gateway/src/sip/trunks/trunk-status.ts'
import { RealScheduler } from '../../../gateway/src/base/scheduler.ts'
import { parseCredentials } from '../../../gateway/src/sip/auth/parse-credentials.ts'

const peers = new PeerSet()
let gw: RunningGateway
const clients: RegistrationClient[] = []
const kams: KamailioRegistrar[] = []

beforeAll(async () => {
  // Short SIP timers (T1 50 ms): a REGISTER to a stopped Kamailio times out in 3.2 s, not 32 s.
  gw = await startGateway(testConfig({}, { shortTimers: true }))
})

afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.stop()))
  await Promise.allSettled(kams.map((k) => k.close()))
  await peers.killAll()
  await gw?.stop()
})

async function kamailio(o: Partial<KamailioRegistrarOptions> = {}): Promise<KamailioRegistrar> {
  const k = await startKamailioRegistrar(peers, { username: '1001', password: 's3cret', ...o })
  kams.push(k)
  return k
}

function client(kam: KamailioRegistrar, trunk: string, over: Partial<RegistrationClientOptions> = {}): { c: RegistrationClient; contact: string; changes: TrunkStatus[] } {
  const transport = gw.internals.transport
  const contact = trunkContactUri(trunk, transport.sentBy('UDP'), 'UDP')
  const changes: TrunkStatus[] = []
  const c = new RegistrationClient({
    name: trunk,
    transactions: gw.internals.transactions,
    scheduler: new RealScheduler(),
    destination: { transport: 'UDP', address: kam.address, port: kam.port },
    sentBy: (t) => transport.sentBy(t),
    registrarUri: `sip:${kam.realm}`,
    aor: `sip:1001@${kam.realm}`,
    contactUri: contact,
    expires: 60,
    credentials: { username: '1001', password: 's3cret' },
    onChange: (s) => changes.push(s),
    ...over,
  })
  clients.push(c)
  return { c, contact, changes }
}

describe('registration trunk against Kamailio', () => {
  for (const [algorithm, qop] of [['MD5', true], ['SHA-256', true], ['MD5', false], ['SHA-256', false]] as const) {
    test(`${algorithm}${qop ? ' qop=auth' : ' without qop (RFC 2069)'}: REGISTER, 401, REGISTER with credentials, 200; Kamailio's usrloc holds the contact`, async () => {
      const kam = await kamailio({ algorithm, qop })
      const { c, contact } = client(kam, `kam-${algorithm.toLowerCase()}-${qop ? 'qop' : 'noqop'}`)
      c.start()
      await waitUntil('registered', () => c.state.state === 'registered')
      const regs = kam.registers()
      expect(regs).toHaveLength(2)
      expect(regs[0]).toMatchObject({ auth: false, expires: '60' })
      expect(regs[1]).toMatchObject({ auth: true, callId: regs[0]!.callId, cseq: regs[0]!.cseq + 1 })
      expect(kam.challenges()).toBe(1)
      const creds = parseCredentials(regs[1]!.authorization)
      expect(creds).toMatchObject({ username: '1001', realm: kam.realm, algorithm, uri: `sip:${kam.realm}` })
      if (qop) expect(creds).toMatchObject({ qop: 'auth', nc: '00000001' })
      else expect(creds?.qop).toBeUndefined()
      expect(c.state).toMatchObject({ state: 'registered', lastStatus: 200, attempts: 0 })
      const expiresIn = c.state.expiresAt! - Math.floor(Date.now() / 1000)
      expect(expiresIn).toBeGreaterThan(50)
      expect(expiresIn).toBeLessThanOrEqual(61)
      expect(await kam.bindings()).toContain('AoR: 1001')
      expect(await kam.hasContact(contact)).toBe(true)
      await c.stop()
      // stop() unregistered: Kamailio logged REGISTER with Expires: 0 and dropped the contact.
      expect(kam.registers().at(-1)).toMatchObject({ expires: '0' })
      expect(await kam.hasContact(contact)).toBe(false)
      expect(c.state.state).toBe('unregistered')
      await kam.close()
    }, 30_000)
  }

  test('refreshes before expiry (4 s granted: a REGISTER every ~2 s, same Call-ID, CSeq up), reusing the nonce with nc counting up', async () => {
    const kam = await kamailio({ algorithm: 'SHA-256', qop: true, minExpires: 1 })
    const { c, contact } = client(kam, 'kam-refresh', { expires: 4 })
    c.start()
    await waitUntil('registered', () => c.state.state === 'registered')
    const registeredAt = Date.now()
    await waitUntil('two refreshes', () => kam.registers().length >= 4, 8_000)
    const elapsed = Date.now() - registeredAt
    const regs = kam.registers()
    // The first refresh came before the 4 s binding lapsed.
    expect(elapsed).toBeLessThan(4_000 + 2_000)
    expect(new Set(regs.map((r) => r.callId)).size).toBe(1)
    for (let i = 1; i < regs.length; i++) expect(regs[i]!.cseq).toBe(regs[i - 1]!.cseq + 1)
    // Refreshes carried credentials for the cached challenge and were accepted without a new one.
    expect(regs.slice(2).every((r) => r.auth)).toBe(true)
    expect(regs.slice(1).map((r) => parseCredentials(r.authorization)?.nc)).toEqual(regs.slice(1).map((_, i) => (i + 1).toString(16).padStart(8, '0')))
    expect(new Set(regs.slice(1).map((r) => parseCredentials(r.authorization)?.nonce)).size).toBe(1)
    expect(kam.challenges()).toBe(1)
    // Still bound after the first 4 s interval is over.
    await Bun.sleep(Math.max(0, registeredAt + 5_000 - Date.now()))
    expect(c.state.state).toBe('registered')
    expect(await kam.hasContact(contact)).toBe(true)
    await c.stop()
    await kam.close()
  }, 30_000)

  test('Kamailio grants less than asked (max_expires 30): the granted 30 s count, refresh due after 15 s', async () => {
    const kam = await kamailio({ maxExpires: 30 })
    const { c } = client(kam, 'kam-granted', { expires: 3600 })
    c.start()
    await waitUntil('registered', () => c.state.state === 'registered')
    expect(kam.registers().map((r) => r.expires)).toEqual(['3600', '3600'])
    const now = Math.floor(Date.now() / 1000)
    expect(c.state.expiresAt! - now).toBeGreaterThanOrEqual(29)
    expect(c.state.expiresAt! - now).toBeLessThanOrEqual(30)
    expect(c.state.nextAttemptAt! - c.state.expiresAt!).toBe(-15)
    await c.stop()
    await kam.close()
  }, 30_000)

  test('423 Interval Too Brief (min_expires 10, mode 423): registered again with Min-Expires', async () => {
    const kam = await kamailio({ minExpires: 10, reply423: true })
    const { c, contact } = client(kam, 'kam-423', { expires: 2 })
    c.start()
    await waitUntil('registered', () => c.state.state === 'registered')
    // REGISTER -> 401 -> REGISTER with credentials -> 423 -> REGISTER Expires: 10 -> 200.
    expect(kam.registers().map((r) => [r.expires, r.auth])).toEqual([['2', false], ['2', true], ['10', true]])
    expect(await kam.hasContact(contact)).toBe(true)
    expect(c.state.expiresAt! - Math.floor(Date.now() / 1000)).toBeGreaterThanOrEqual(9)
    await c.stop()
    await kam.close()
  }, 30_000)

  test('a wrong password ends in failed with lastStatus 401 and a scheduled next attempt, which comes', async () => {
    const kam = await kamailio()
    const { c, contact, changes } = client(kam, 'kam-wrong', { credentials: { username: '1001', password: 'wrong' }, retry: { initialMs: 1_000, jitter: 0 } })
    c.start()
    await waitUntil('failed', () => c.state.state === 'failed')
    const now = Math.floor(Date.now() / 1000)
    expect(c.state).toMatchObject({ state: 'failed', lastStatus: 401, attempts: 1 })
    expect(c.state.nextAttemptAt).toBeGreaterThanOrEqual(now)
    expect(c.state.nextAttemptAt).toBeLessThanOrEqual(now + 2)
    expect(changes.at(-1)).toMatchObject({ state: 'failed', lastStatus: 401 })
    // REGISTER (no credentials) -> 401 -> REGISTER (wrong credentials) -> 401.
    expect(kam.registers().map((r) => r.auth)).toEqual([false, true])
    expect(kam.challenges()).toBe(2)
    await waitUntil('second attempt', () => kam.registers().length >= 4, 5_000)
    await waitUntil('second failure', () => c.state.state === 'failed' && c.state.attempts === 2, 5_000)
    expect(await kam.hasContact(contact)).toBe(false)
    await c.stop()
    expect(kam.registers()).toHaveLength(4) // nothing was bound: no un-REGISTER
    await kam.close()
  }, 30_000)

  test('Kamailio stopped: the refresh times out, failed (408) with backoff; started again: registered again', async () => {
    const kam = await kamailio({ minExpires: 1 })
    const { c, contact } = client(kam, 'kam-restart', { expires: 4, retry: { initialMs: 500, maxMs: 1_000, jitter: 0 } })
    c.start()
    await waitUntil('registered', () => c.state.state === 'registered')
    await kam.stop()
    // Refresh at ~2 s; Timer F (64*T1 = 3.2 s with the short timers) then fails it.
    await waitUntil('failed', () => c.state.state === 'failed', 10_000)
    expect([408, 503]).toContain(c.state.lastStatus)
    expect(c.state.nextAttemptAt).not.toBeNull()
    await waitUntil('a retry failed too', () => c.state.state === 'failed' && c.state.attempts >= 2, 10_000)
    const before = kam.registers().length
    await kam.start()
    // usrloc is in memory: the new Kamailio knows the contact only if the gateway registered again.
    expect(await kam.hasContact(contact)).toBe(false)
    await waitUntil('registered again', () => c.state.state === 'registered', 10_000)
    expect(kam.registers().length).toBeGreaterThan(before)
    expect(await kam.hasContact(contact)).toBe(true)
    expect(c.state).toMatchObject({ lastStatus: 200, attempts: 0 })
    await c.stop()
    await kam.close()
  }, 40_000)
})

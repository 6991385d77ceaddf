import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { setLogSink } from '../../../gateway/src/base/log.ts'
import { securityPlugin } from '../../../gateway/src/http/security-plugin.ts'
import { adminRefusal, safeEqual } from '../../../gateway/src/http/admin-auth.ts'
import { SipSecurity } from '../../../gateway/src/sip/security/sip-security.ts'
import { FakeScheduler } from '../../support/fake-scheduler.ts'

let prevSink: ((line: string) => void) | null = null
beforeAll(() => { prevSink = setLogSink(() => undefined) })
afterAll(() => { if (prevSink) setLogSink(prevSink) })

const TOKEN = 'admin-token-0123456789'

/** @param adminToken null: no token configured */
function setup(adminToken: string | null = TOKEN) {
  const scheduler = new FakeScheduler(1_800_000_000)
  const security = new SipSecurity({
    scheduler, maxBans: 100, maxTracked: 100, serverTransactions: () => 0,
    allowList: [], banAction: 'drop',
    bruteForce: { enabled: true, windowMs: 60_000, maxFailuresPerSource: 2, maxFailuresPerUser: 10, banSeconds: 600 },
    flood: { enabled: true, windowMs: 2000, maxRequests: 3, banSeconds: 60, maxServerTransactions: 0, retryAfterSeconds: 5 },
  })
  const app = securityPlugin({ adminToken: adminToken ?? undefined, security })
  const call = async (method: string, path: string, token: string | null = TOKEN) => {
    const res = await app.handle(new Request(`http://gateway${path}`, { method, headers: token === null ? {} : { authorization: `Bearer ${token}` } }))
    return { status: res.status, headers: res.headers, body: await res.json() as Record<string, unknown> }
  }
  return { scheduler, security, call }
}

describe('/api/security/bans', () => {
  test('lists the active bans and the counters', async () => {
    const { security, scheduler, call } = setup()
    security.authFailure('203.0.113.5', 'alice')
    security.authFailure('203.0.113.5', 'alice')
    for (let i = 0; i < 4; i++) security.request('2001:db8::66')
    scheduler.advance(5000)
    const r = await call('GET', '/api/security/bans')
    expect(r.status).toBe(200)
    expect(r.body.bans).toEqual([
      { source: '2001:db8::66', reason: 'flood', bannedAt: '2027-01-15T08:00:00.000Z', expiresAt: '2027-01-15T08:01:00.000Z', expiresIn: 55, refused: 0 },
      { source: '203.0.113.5', reason: 'brute-force', username: 'alice', bannedAt: '2027-01-15T08:00:00.000Z', expiresAt: '2027-01-15T08:10:00.000Z', expiresIn: 595, refused: 0 },
    ])
    expect(r.body.stats).toMatchObject({ authFailures: 2, bruteForceBans: 1, floodBans: 1, bansActive: 2, bansTotal: 2 })
  })

  test('DELETE lifts a ban (IPv4, IPv6, percent-encoded); 404 when not banned, 400 for a non-address', async () => {
    const { security, call } = setup()
    security.authFailure('203.0.113.5', 'alice')
    security.authFailure('203.0.113.5', 'alice')
    for (let i = 0; i < 4; i++) security.request('2001:db8::66')
    expect(await call('DELETE', '/api/security/bans/203.0.113.5')).toMatchObject({ status: 200, body: { source: '203.0.113.5', lifted: true } })
    expect(security.refused('203.0.113.5')).toBe(false)
    expect(await call('DELETE', '/api/security/bans/2001%3Adb8%3A%3A66')).toMatchObject({ status: 200, body: { source: '2001:db8::66', lifted: true } })
    expect(await call('DELETE', '/api/security/bans/203.0.113.5')).toMatchObject({ status: 404 })
    expect(await call('DELETE', '/api/security/bans/not-an-ip')).toMatchObject({ status: 400 })
    expect((await call('GET', '/api/security/bans')).body.bans).toEqual([])
    expect(security.stats.bansLifted).toBe(2)
  })

  test('admin token required: 401 with WWW-Authenticate without it, with a wrong one, or when no token is configured', async () => {
    const { security, call } = setup()
    for (let i = 0; i < 4; i++) security.request('192.0.2.1')
    for (const token of [null, 'wrong-token-0123456789', TOKEN.slice(0, -1)]) {
      const get = await call('GET', '/api/security/bans', token)
      expect(get.status).toBe(401)
      expect(get.headers.get('www-authenticate')).toBe('Bearer realm="patchbay-admin"')
      expect(get.body.bans).toBeUndefined()
      expect((await call('DELETE', '/api/security/bans/192.0.2.1', token)).status).toBe(401)
    }
    expect(security.bans.isBanned('192.0.2.1')).toBe(true)
    const disabled = setup(null)
    const r = await disabled.call('GET', '/api/security/bans', TOKEN)
    expect(r.status).toBe(401)
    expect(r.body.error).toMatch(/admin API disabled/)
  })

  test('the shared check (admin-auth.ts, also behind /api/registrations): Bearer only, exact token', () => {
    const set = () => ({ headers: {} as Record<string, string>, status: undefined as unknown })
    const req = (auth?: string) => new Request('http://gateway/', auth === undefined ? {} : { headers: { authorization: auth } })
    expect(adminRefusal(req(`Bearer ${TOKEN}`), set() as never, TOKEN)).toBeNull()
    for (const auth of [undefined, `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, 'Bearer ', `bearer${TOKEN}`]) {
      const s = set()
      expect(adminRefusal(req(auth), s as never, TOKEN)).toEqual({ error: 'admin token required' })
      expect(s.status).toBe(401)
      expect(s.headers['www-authenticate']).toBe('Bearer realm="patchbay-admin"')
    }
    expect(adminRefusal(req(`Bearer ${TOKEN}`), set() as never, undefined)?.error).toMatch(/admin API disabled/)
    expect(safeEqual('abc', 'abc')).toBe(true)
    expect(safeEqual('abc', 'abd')).toBe(false)
    expect(safeEqual('abc', 'abcd')).toBe(false)
  })
})

/**
 * The request pipeline's defences, driven through a whole gateway graph (createGateway, no
 * listener, a FakeScheduler) with recording flows from several source addresses:
 *
 * - no user enumeration (Asterisk's alwaysauthreject): an unknown user gets the same 401/407
 *   challenge as a known one, and credentials for it fail like a wrong password;
 * - brute force: failed digest attempts ban their source; other sources are unaffected;
 * - flood: a per-source rate limit with a ban, and the server transaction cap (503 +
 *   Retry-After), with trusted and allow-listed sources exempt.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { setLogSink } from '../../../../gateway/src/base/log.ts'
import { createGateway, type Gateway } from '../../../../gateway/src/gateway.ts'
import type { Flow, TransportProtocol } from '../../../../gateway/src/sip/transport/flow.ts'
import type { TcpFlow } from '../../../../gateway/src/sip/transport/tcp-transport.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import { DEMO_USERS, TEST_DOMAIN, testConfig, type DeepPartial } from '../../../support/gateway.ts'
import type { GatewayConfig } from '../../../../gateway/src/config/schema.ts'
import { digestCredentials, parseDigestChallenge } from '../../../support/digest.ts'
import { SipText, formatSipText } from '../../../support/sip-text.ts'

const logs: string[] = []
let prevSink: ((line: string) => void) | null = null
beforeAll(() => { prevSink = setLogSink((l) => logs.push(l)) })
afterAll(() => { if (prevSink) setLogSink(prevSink) })

const encoder = new TextEncoder()
const decoder = new TextDecoder()
let seq = 0

/** A SIP client on one recording flow from `address`. */
class Peer {
  readonly flow: Flow & { sent: Uint8Array[] }
  private n = 0

  constructor(private readonly gw: Gateway, readonly address: string, readonly port = 5062, readonly transport: TransportProtocol = 'UDP') {
    const sent: Uint8Array[] = []
    const reliable = transport !== 'UDP'
    this.flow = {
      id: reliable ? `tcp-test-${++seq}` : `udp-${address}:${port}`,
      transport, reliable, secure: false, localAddress: '127.0.0.1', localPort: 5060,
      remoteAddress: address, remotePort: port, open: true, sent,
      send(data) { sent.push(data); return true },
      close() {},
    }
    if (reliable) gw.transport.tcpOpened(this.flow as unknown as TcpFlow)
  }

  /** Every message sent to this peer, parsed. */
  get received(): SipText[] {
    return this.flow.sent.map((d) => SipText.parse(decoder.decode(d))!)
  }

  /** Sends a request; returns what this peer received because of it. */
  send(method: string, o: { ruri?: string; from?: string; to?: string; toTag?: string; auth?: [string, string]; callId?: string; cseq?: number; branch?: string } = {}): SipText[] {
    const before = this.flow.sent.length
    const i = ++this.n
    const user = o.from ?? 'alice'
    const headers: Array<[string, string]> = [
      ['Via', `SIP/2.0/${this.transport} ${this.address}:${this.port};branch=${o.branch ?? `z9hG4bK-${this.address}-${i}-${++seq}`};rport`],
      ['Max-Forwards', '70'],
      ['From', `<sip:${user}@${TEST_DOMAIN}>;tag=f${i}`],
      ['To', `<sip:${o.to ?? user}@${TEST_DOMAIN}>${o.toTag ? `;tag=${o.toTag}` : ''}`],
      ['Call-ID', o.callId ?? `c${i}-${seq}@${this.address}`],
      ['CSeq', `${o.cseq ?? i} ${method}`],
      ['Contact', `<sip:${user}@${this.address}:${this.port}>`],
    ]
    if (o.auth) headers.push(o.auth)
    const text = formatSipText({ startLine: `${method} ${o.ruri ?? `sip:${TEST_DOMAIN}`} SIP/2.0`, headers })
    this.gw.transport.receiveDatagram(encoder.encode(text), this.flow)
    return this.flow.sent.slice(before).map((d) => SipText.parse(decoder.decode(d))!)
  }

  /**
   * A REGISTER for `user` answered with `password`: the unauthenticated REGISTER, its
   * challenge (MD5), and the REGISTER with credentials. Returns both answers.
   */
  register(user: string, password: string): { challenge: SipText | undefined; final: SipText | undefined } {
    const [challenge] = this.send('REGISTER', { from: user })
    const ch = challenge?.getAll('www-authenticate').map(parseDigestChallenge).find((c) => c?.algorithm === 'MD5')
    if (!ch) return { challenge, final: undefined }
    const creds = digestCredentials({ challenge: ch, username: user, password, method: 'REGISTER', uri: `sip:${TEST_DOMAIN}` })
    const [final] = this.send('REGISTER', { from: user, auth: ['Authorization', creds] })
    return { challenge, final }
  }

  /** An INVITE from `user`@domain to bob answered with `password` after its 407 (the ACK for the 407 included). */
  invite(user: string, password: string): { challenge: SipText | undefined; final: SipText | undefined } {
    const callId = `inv-${++seq}@${this.address}`
    const [challenge] = this.send('INVITE', { from: user, to: 'bob', ruri: `sip:bob@${TEST_DOMAIN}`, callId, cseq: 1 })
    const ch = challenge?.getAll('proxy-authenticate').map(parseDigestChallenge).find((c) => c?.algorithm === 'MD5')
    if (!ch) return { challenge, final: undefined }
    const creds = digestCredentials({ challenge: ch, username: user, password, method: 'INVITE', uri: `sip:bob@${TEST_DOMAIN}` })
    const answers = this.send('INVITE', { from: user, to: 'bob', ruri: `sip:bob@${TEST_DOMAIN}`, callId, cseq: 2, auth: ['Proxy-Authorization', creds] })
    return { challenge, final: answers.find((m) => m.status >= 200) ?? answers[0] }
  }
}

let gateways: Gateway[] = []
afterEach(async () => {
  for (const g of gateways) await g.close()
  gateways = []
})

function gateway(overrides: DeepPartial<GatewayConfig> = {}): { gw: Gateway; scheduler: FakeScheduler } {
  const scheduler = new FakeScheduler()
  const config = testConfig({ media: { driver: 'none' }, log: { level: 'info' }, ...overrides })
  const gw = createGateway(config, { scheduler, softphone: null })
  gateways.push(gw)
  return { gw, scheduler }
}

/** What a challenge looks like, minus what differs every time (nonce, To tag). */
function challengeShape(m: SipText | undefined): unknown {
  if (!m) return null
  const name = m.status === 407 ? 'proxy-authenticate' : 'www-authenticate'
  return {
    status: m.status,
    reason: m.reason,
    challenges: m.getAll(name).map((v) => v.replace(/nonce="[^"]*"/, 'nonce=N')),
    headers: m.headers.map((h) => h.name),
  }
}

describe('no user enumeration (Asterisk alwaysauthreject)', () => {
  test('REGISTER for an unknown user gets the same 401 challenge as for a known user (it used to get 404 at once)', () => {
    const { gw } = gateway()
    const p = new Peer(gw, '192.0.2.10')
    const [known] = p.send('REGISTER', { from: 'alice' })
    const [unknown] = p.send('REGISTER', { from: 'zed' })
    expect(unknown?.status).toBe(401)
    expect(challengeShape(unknown)).toEqual(challengeShape(known))
  })

  test('credentials for an unknown user fail exactly like a wrong password for a known one', () => {
    const { gw } = gateway()
    const p = new Peer(gw, '192.0.2.10')
    const wrong = p.register('alice', 'not-alice-demo')
    const unknown = p.register('zed', 'whatever')
    expect(wrong.final?.status).toBe(401)
    expect(challengeShape(unknown.final)).toEqual(challengeShape(wrong.final))
    // The right password still works.
    expect(p.register('alice', DEMO_USERS.alice.password).final?.status).toBe(200)
  })

  test('INVITE claiming an unknown local From user: 407, and its credentials fail like a wrong password', () => {
    const { gw } = gateway()
    const p = new Peer(gw, '192.0.2.10')
    const wrong = p.invite('alice', 'not-alice-demo')
    const unknown = p.invite('zed', 'whatever')
    expect(unknown.challenge?.status).toBe(407)
    expect(challengeShape(unknown.challenge)).toEqual(challengeShape(wrong.challenge))
    expect(wrong.final?.status).toBe(407)
    expect(challengeShape(unknown.final)).toEqual(challengeShape(wrong.final))
  })

  test('MESSAGE claiming an unknown local From user is challenged like a known one', () => {
    const { gw } = gateway()
    const p = new Peer(gw, '192.0.2.10')
    const [known] = p.send('MESSAGE', { from: 'alice', to: 'bob', ruri: `sip:bob@${TEST_DOMAIN}` })
    const [unknown] = p.send('MESSAGE', { from: 'zed', to: 'bob', ruri: `sip:bob@${TEST_DOMAIN}` })
    expect(unknown?.status).toBe(407)
    expect(challengeShape(unknown)).toEqual(challengeShape(known))
  })
})

describe('brute-force defence', () => {
  test('the 10th failed attempt (default) bans the source: even the right password is then dropped; another source is unaffected', () => {
    const { gw } = gateway()
    const attacker = new Peer(gw, '203.0.113.66')
    const alice = new Peer(gw, '192.0.2.10')
    const answered: number[] = []
    let attempts = 0
    for (let i = 0; i < 20; i++) {
      const r = attacker.register(i % 2 === 0 ? 'alice' : 'zed', `guess-${i}`) // known and unknown users alike
      attempts++
      if (r.final === undefined) break
      answered.push(r.final.status)
    }
    expect(attempts).toBe(10)
    expect(answered).toEqual(Array(9).fill(401))
    expect(gw.security.bans.get('203.0.113.66')).toMatchObject({ reason: 'brute-force' })
    // Banned: nothing at all is answered, not even the right password or an OPTIONS, and
    // no transaction is kept for the dropped requests.
    const live = gw.transactions.transactionCounts.nonInviteServer
    expect(attacker.register('alice', DEMO_USERS.alice.password)).toEqual({ challenge: undefined, final: undefined })
    expect(attacker.send('OPTIONS', { ruri: `sip:${TEST_DOMAIN}` })).toEqual([])
    expect(gw.transactions.transactionCounts.nonInviteServer).toBe(live)
    // Another source registers as usual.
    expect(alice.register('alice', DEMO_USERS.alice.password).final?.status).toBe(200)
    expect(gw.security.stats).toMatchObject({ authFailures: 10, bruteForceBans: 1, bansActive: 1, bansTotal: 1 })
    expect(gw.security.stats.refusedWhileBanned).toBeGreaterThanOrEqual(3)
  })

  test('bans and failures are logged with source and user name, never with the digest response', () => {
    logs.length = 0
    const { gw } = gateway({ security: { bruteForce: { maxFailuresPerSource: 3 } } })
    const attacker = new Peer(gw, '203.0.113.67')
    for (let i = 0; i < 3; i++) attacker.register('bob', `guess-${i}`)
    const failures = logs.filter((l) => l.includes('"authentication failed"')).map((l) => JSON.parse(l))
    expect(failures.length).toBe(3)
    for (const f of failures) expect(f).toMatchObject({ source: '203.0.113.67', username: 'bob', reason: 'wrong password' })
    const ban = logs.find((l) => l.includes('source banned'))
    expect(JSON.parse(ban!)).toMatchObject({ level: 'warn', source: '203.0.113.67', username: 'bob' })
    // Nothing of the Authorization header but the user name; never the password.
    for (const l of logs) {
      expect(l).not.toMatch(/response=|cnonce|Digest /)
      expect(l).not.toMatch(/guess-/)
    }
  })

  test('bans.action reject: the banned source gets 403, statelessly', () => {
    const { gw } = gateway({ security: { bans: { action: 'reject' }, bruteForce: { maxFailuresPerSource: 2 } } })
    const attacker = new Peer(gw, '203.0.113.68')
    attacker.register('alice', 'x')
    const second = attacker.register('alice', 'y')
    expect(second.final?.status).toBe(403)
    const before = gw.transactions.transactionCounts.nonInviteServer
    const [answer] = attacker.send('OPTIONS', { ruri: `sip:${TEST_DOMAIN}` })
    expect(answer?.status).toBe(403)
    expect(gw.transactions.transactionCounts.nonInviteServer).toBe(before) // no transaction kept
  })

  test('requests without credentials, and nonces we never issued, are not failures', () => {
    const { gw } = gateway({ security: { bruteForce: { maxFailuresPerSource: 2 } } })
    const p = new Peer(gw, '192.0.2.20')
    for (let i = 0; i < 10; i++) expect(p.send('REGISTER', { from: 'alice' })[0]?.status).toBe(401)
    const fake = 'Digest username="alice", realm="patchbay.test", nonce="bm90LW91cnM", uri="sip:patchbay.test", response="0123456789abcdef0123456789abcdef", algorithm=MD5'
    for (let i = 0; i < 10; i++) expect(p.send('REGISTER', { from: 'alice', auth: ['Authorization', fake] })[0]?.status).toBe(401)
    expect(gw.security.stats).toMatchObject({ authFailures: 0, bansTotal: 0 })
  })

  test('allow-listed sources (security.allowList, CIDR) are never banned, though still challenged', () => {
    const { gw } = gateway({ security: { allowList: ['198.51.100.0/24'], bruteForce: { maxFailuresPerSource: 2 } } })
    const office = new Peer(gw, '198.51.100.7')
    for (let i = 0; i < 20; i++) expect(office.register('alice', `wrong-${i}`).final?.status).toBe(401)
    expect(office.register('alice', DEMO_USERS.alice.password).final?.status).toBe(200)
    expect(gw.security.stats).toMatchObject({ authFailures: 20, bansTotal: 0 })
  })

  test('lifting a ban lets the source in at once', () => {
    const { gw } = gateway({ security: { bruteForce: { maxFailuresPerSource: 2 } } })
    const p = new Peer(gw, '192.0.2.30')
    p.register('alice', 'x')
    p.register('alice', 'y')
    expect(p.register('alice', DEMO_USERS.alice.password).final).toBeUndefined()
    expect(gw.security.lift('192.0.2.30')).toBe(true)
    expect(p.register('alice', DEMO_USERS.alice.password).final?.status).toBe(200)
  })

  test('a ban expires after banSeconds', () => {
    const { gw, scheduler } = gateway({ security: { bruteForce: { maxFailuresPerSource: 2, banSeconds: 30 } } })
    const p = new Peer(gw, '192.0.2.31')
    p.register('alice', 'x')
    p.register('alice', 'y')
    scheduler.advance(29_000)
    expect(p.send('OPTIONS')).toEqual([])
    scheduler.advance(1_000)
    expect(p.register('alice', DEMO_USERS.alice.password).final?.status).toBe(200)
  })
})

describe('flood defence', () => {
  test('per-source rate (default 2000 per 2 s): the 2001st request bans its source; nothing is kept for refused requests', () => {
    const { gw } = gateway()
    const flooder = new Peer(gw, '203.0.113.99', 5070, 'TCP') // TCP: completed transactions do not linger
    let answered = 0
    for (let i = 0; i < 2500; i++) answered += flooder.send('OPTIONS').length
    expect(answered).toBe(2000)
    expect(gw.security.bans.get('203.0.113.99')).toMatchObject({ reason: 'flood' })
    expect(gw.security.stats).toMatchObject({ floodBans: 1, refusedWhileBanned: 500 })
    expect(gw.transactions.transactionCounts.nonInviteServer).toBe(0)
  })

  test('legitimate traffic beside the flood is unharmed: another source registers and is answered throughout', () => {
    const { gw, scheduler } = gateway({ security: { flood: { maxRequests: 100, windowSeconds: 2 } } })
    const flooder = new Peer(gw, '203.0.113.99', 5070, 'TCP')
    const phone = new Peer(gw, '192.0.2.10', 5062, 'TCP')
    let phoneAnswers = 0
    let phoneRequests = 0
    for (let ms = 0; ms < 10_000; ms += 10) {
      for (let k = 0; k < 10; k++) flooder.send('OPTIONS') // 1000 requests/s
      if (ms % 500 === 0) { phoneRequests++; phoneAnswers += phone.send('OPTIONS').length } // 2/s
      scheduler.advance(10)
    }
    expect(phoneAnswers).toBe(phoneRequests)
    expect(phone.register('alice', DEMO_USERS.alice.password).final?.status).toBe(200)
    expect(gw.security.bans.isBanned('203.0.113.99')).toBe(true)
    expect(gw.security.bans.isBanned('192.0.2.10')).toBe(false)
  })

  test('trusted sources (proxy.trustedSources) and the allow-list bypass the rate limit', () => {
    const { gw } = gateway({ proxy: { trustedSources: ['192.0.2.250'] }, security: { allowList: ['192.0.2.251'], flood: { maxRequests: 10 } } })
    const pbx = new Peer(gw, '192.0.2.250', 5060, 'TCP')
    const sbc = new Peer(gw, '192.0.2.251', 5060, 'TCP')
    let answered = 0
    for (let i = 0; i < 1000; i++) answered += pbx.send('OPTIONS').length + sbc.send('OPTIONS').length
    expect(answered).toBe(2000)
    expect(gw.security.stats.bansTotal).toBe(0)
  })

  describe('server transaction cap', () => {
    test('past security.overload.maxServerTransactions new requests get 503 with Retry-After, statelessly; ACK, BYE, CANCEL still pass', () => {
      const { gw, scheduler } = gateway({ security: { overload: { maxServerTransactions: 20, retryAfterSeconds: 9 } } })
      // UDP: each answered OPTIONS lingers 32 s (Timer J), so transactions pile up.
      const peers = Array.from({ length: 5 }, (_, i) => new Peer(gw, `192.0.2.${40 + i}`))
      const statuses: number[] = []
      for (let i = 0; i < 10; i++) for (const p of peers) statuses.push(p.send('OPTIONS')[0]?.status ?? 0)
      expect(statuses.slice(0, 20)).toEqual(Array(20).fill(200))
      expect(statuses.slice(20)).toEqual(Array(30).fill(503))
      const [refused] = peers[0]!.send('OPTIONS')
      expect(refused?.get('retry-after')).toBe('9')
      expect(refused?.toTag).toBe('pb-503')
      // The cap holds: refused requests leave no transaction behind.
      const c = gw.transactions.transactionCounts
      expect(c.nonInviteServer + c.inviteServer).toBe(20)
      // BYE is not refused at the cap (it ends a call): it is routed (here: no dialog -> 404 / 481, not 503).
      const [bye] = peers[1]!.send('BYE', { ruri: `sip:bob@${TEST_DOMAIN}`, to: 'bob', toTag: 'x1' })
      expect(bye?.status).not.toBe(503)
      expect(gw.security.stats.overloadRejected).toBe(31)
      // Once the lingering transactions end (Timer J), requests pass again.
      scheduler.advance(33_000)
      expect(peers[2]!.send('OPTIONS')[0]?.status).toBe(200)
    })

    test('a refused INVITE: 503, and its ACK ends at the gateway (never forwarded to the callee)', () => {
      const { gw } = gateway({ proxy: { trustedSources: ['192.0.2.250'] }, security: { overload: { maxServerTransactions: 1 } } })
      // bob registered over TCP from a trusted source (no challenge): a forwarded ACK would show on his flow.
      const bob = new Peer(gw, '192.0.2.250', 5090, 'TCP')
      expect(bob.send('REGISTER', { from: 'bob' })[0]?.status).toBe(200)
      const filler = new Peer(gw, '192.0.2.41')
      expect(filler.send('OPTIONS')[0]?.status).toBe(200) // lingers: 1 transaction, the cap
      const caller = new Peer(gw, '192.0.2.42')
      const branch = 'z9hG4bK-refused-invite'
      const [res] = caller.send('INVITE', { from: 'carol', to: 'bob', ruri: `sip:bob@${TEST_DOMAIN}`, callId: 'refused@x', cseq: 1, branch })
      expect(res?.status).toBe(503)
      const bobBefore = bob.flow.sent.length
      // The ACK for the 503 (§17.1.1.3: same branch, To tag of the response).
      expect(caller.send('ACK', { from: 'carol', to: 'bob', toTag: res!.toTag!, ruri: `sip:bob@${TEST_DOMAIN}`, callId: 'refused@x', cseq: 1, branch })).toEqual([])
      expect(bob.flow.sent.length).toBe(bobBefore)
    })

    test('trusted sources are not refused at the cap', () => {
      const { gw } = gateway({ proxy: { trustedSources: ['192.0.2.250'] }, security: { overload: { maxServerTransactions: 2 } } })
      const pbx = new Peer(gw, '192.0.2.250')
      for (let i = 0; i < 10; i++) expect(pbx.send('OPTIONS')[0]?.status).toBe(200)
      expect(new Peer(gw, '192.0.2.9').send('OPTIONS')[0]?.status).toBe(503)
    })
  })
})

describe('flows the gateway made for an authenticated user (JSON signaling sessions)', () => {
  test('that user\'s REGISTER and MESSAGE pass without a challenge; a request in another user\'s name is challenged', () => {
    const { gw } = gateway()
    const p = new Peer(gw, '192.0.2.30', 5070, 'TCP')
    Object.assign(p.flow, { authenticatedUser: 'alice' })
    const [own] = p.send('REGISTER', { from: 'alice' })
    expect(own?.status).toBe(200)
    const [other] = p.send('REGISTER', { from: 'bob' })
    expect(other?.status).toBe(401)
    const [message] = p.send('MESSAGE', { from: 'alice', to: 'carol', ruri: `sip:carol@${TEST_DOMAIN}` })
    expect(message?.status).toBe(480) // routed (carol is not registered), not challenged
    const [spoofed] = p.send('MESSAGE', { from: 'bob', to: 'carol', ruri: `sip:carol@${TEST_DOMAIN}` })
    expect(spoofed?.status).toBe(407)
  })

  test('an ordinary flow is challenged for the same requests', () => {
    const { gw } = gateway()
    const p = new Peer(gw, '192.0.2.31', 5071, 'TCP')
    expect(p.send('REGISTER', { from: 'alice' })[0]?.status).toBe(401)
    expect(p.send('MESSAGE', { from: 'alice', to: 'carol', ruri: `sip:carol@${TEST_DOMAIN}` })[0]?.status).toBe(407)
  })
})

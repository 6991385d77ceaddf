/**
 * SIP over TLS (RFC 3261 §26.2, sips:) and SIP over secure WebSocket (RFC 7118, WSS) against
 * the real gateway, with a self-signed certificate made by openssl for the run: a WSS client
 * registers with digest (Via transport WSS), a SIP-over-TLS client registers, and a call goes
 * from the WSS client to the TLS client and back (INVITE with the double Record-Route of
 * sips: entries, transport=tls / transport=wss, ACK and BYE over the route set).
 *
 * Bun's WebSocket takes `tls: { rejectUnauthorized: false }` as a constructor option, but
 * tests/support/ws-sip-client.ts constructs `new WebSocket(url, protocols)`; Bun reads
 * NODE_TLS_REJECT_UNAUTHORIZED when a connection is constructed, so the test sets it only
 * around that synchronous construction (see connectWss).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { TEST_DOMAIN, startGateway, testConfig, userEntry, type RunningGateway } from '../../support/gateway.ts'
import { requireBinary } from '../../support/processes.ts'
import { SipText, formatSipText, uriOf, uriParamOf } from '../../support/sip-text.ts'
import { WsSipClient, fakeSdp, newBranch, randomToken } from '../../support/ws-sip-client.ts'
import { StreamSipClient } from './stream-client.ts'

setDefaultTimeout(30_000)

const WSS_USER = { username: 'wss-user', password: 'wss-user-password' }
const TLS_USER = { username: 'tls-user', password: 'tls-user-password' }

let dir: string
let gateway: RunningGateway
let wss: WsSipClient | null = null
let tls: StreamSipClient | null = null

/** Opens a WsSipClient to the gateway's wss:// URL without verifying the test certificate. */
function connectWss(): Promise<WsSipClient> {
  const prev = process.env.NODE_TLS_REJECT_UNAUTHORIZED
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'
  try {
    // The WebSocket is constructed synchronously inside connect().
    return WsSipClient.connect({ url: gateway.wsUrl, username: WSS_USER.username, password: WSS_USER.password, domain: TEST_DOMAIN })
  } finally {
    if (prev === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = prev
  }
}

beforeAll(async () => {
  const openssl = requireBinary('openssl', 'openssl')
  dir = mkdtempSync(join(tmpdir(), 'patchbay-tls-'))
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  const gen = Bun.spawnSync([openssl, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', cert], { stdout: 'pipe', stderr: 'pipe' })
  if (gen.exitCode !== 0) throw new Error(`openssl req failed: ${gen.stderr.toString()}`)
  gateway = await startGateway(testConfig(
    { http: { tls: { cert, key } }, sip: { tls: { cert, key }, tlsPort: 0 }, media: { driver: 'none' }, log: { level: 'error' } },
    { extraUsers: [WSS_USER, TLS_USER].map((u) => userEntry(u.username, u.password)) },
  ))
})

afterAll(async () => {
  wss?.close()
  tls?.close()
  await gateway?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('TLS and WSS listeners', () => {
  test('the gateway serves https / wss and a SIP TLS port', async () => {
    expect(gateway.httpUrl).toStartWith('https://127.0.0.1:')
    expect(gateway.wsUrl).toStartWith('wss://127.0.0.1:')
    expect(gateway.tlsPort).toBeGreaterThan(0)
    expect(gateway.tlsPort).not.toBe(gateway.tcpPort)
    // A plain TCP client on the TLS port gets no SIP answer (the port speaks TLS only).
    const plain = await StreamSipClient.connect({ port: gateway.tlsPort!, username: 'x', domain: TEST_DOMAIN })
    plain.write(plain.request('OPTIONS', `sip:127.0.0.1:${gateway.tlsPort}`))
    await Bun.sleep(200)
    expect(plain.messages).toHaveLength(0)
    plain.close()
  })

  test('a WSS client registers with digest, its Via naming WSS; the binding is on the WSS flow', async () => {
    wss = await connectWss()
    expect(wss.protocol).toBe('sip')
    const callId = randomToken(16)
    const contact = `<sip:${WSS_USER.username}@${wss.viaHost};transport=wss>;expires=600`
    const register = (cseq: number, auth?: [string, string]) => formatSipText({
      startLine: `REGISTER sip:${TEST_DOMAIN} SIP/2.0`,
      headers: [
        ['Via', `SIP/2.0/WSS ${wss!.viaHost};branch=${newBranch()}`],
        ['Max-Forwards', '70'],
        ['To', `<sip:${WSS_USER.username}@${TEST_DOMAIN}>`],
        ['From', `<sip:${WSS_USER.username}@${TEST_DOMAIN}>;tag=wss-reg`],
        ['Call-ID', callId],
        ['CSeq', `${cseq} REGISTER`],
        ['Contact', contact],
        ['Expires', '600'],
        ...(auth ? [auth] : []),
      ],
    })
    wss.sendFrame(register(1))
    const challenge = await wss.waitForResponse({ status: (s) => s >= 200, callId, seq: 1 })
    expect(challenge.status).toBe(401)
    // §18.2.1 on the secure WebSocket: received added, the WSS Via kept.
    expect(challenge.getAll('via')[0]).toMatch(/^SIP\/2\.0\/WSS [a-z0-9]+\.invalid;branch=z9hG4bK\w+;received=127\.0\.0\.1$/)
    wss.sendFrame(register(2, wss.credentialsFor(challenge, 'REGISTER', `sip:${TEST_DOMAIN}`)))
    const ok = await wss.waitForResponse({ status: (s) => s >= 200, callId, seq: 2 })
    expect(ok.status, ok.raw).toBe(200)
    expect(ok.getAll('contact').join(',')).toContain('transport=wss')
    const bindings = gateway.internals.location.all().filter((b) => b.aor.includes(WSS_USER.username))
    expect(bindings).toHaveLength(1)
    expect(bindings[0]!.transport).toBe('WSS')
    expect(bindings[0]!.flowId).toMatch(/^wss-\d+$/)
  })

  test('a SIP-over-TLS client registers with digest; the binding is on its TLS connection', async () => {
    tls = await StreamSipClient.connect({ port: gateway.tlsPort!, tls: true, ...TLS_USER, domain: TEST_DOMAIN })
    const { challenge, final } = await tls.register()
    expect(challenge?.status).toBe(401)
    expect(final.status, final.raw).toBe(200)
    expect(final.getAll('via')[0]).toStartWith(`SIP/2.0/TLS 127.0.0.1:${tls.localPort};branch=`)
    expect(final.getAll('via')[0]).toContain(`rport=${tls.localPort}`)
    const bindings = gateway.internals.location.all().filter((b) => b.aor.includes(TLS_USER.username))
    expect(bindings).toHaveLength(1)
    expect(bindings[0]!.transport).toBe('TLS')
    expect(bindings[0]!.flowId).toMatch(/^tls-\d+$/)
  })

  test('a call from the WSS client to the TLS client: sips: Record-Route entries for tls and wss, ACK and BYE through them', async () => {
    if (!wss || !tls) throw new Error('the registration tests must run first')
    const target = `sip:${TLS_USER.username}@${TEST_DOMAIN}`
    const { call, challenge } = await wss.inviteWithAuth(target, { body: fakeSdp('rtp', 'offer') })
    expect(challenge?.status).toBe(407)

    // The TLS client receives the INVITE over its own TLS connection.
    const invite = await tls.waitFor((m) => m.isRequest && m.method === 'INVITE' && m.callId === call.callId, 'the INVITE over TLS')
    expect(invite.getAll('via')[0]).toStartWith(`SIP/2.0/TLS 127.0.0.1:${gateway.tlsPort};branch=z9hG4bK`)
    expect(invite.get('proxy-authorization')).toBeUndefined() // our credentials are consumed
    const rr = invite.getAll('record-route')
    expect(rr).toHaveLength(2)
    const [out, inb] = rr.map(uriOf) as [string, string]
    expect(out).toStartWith(`sips:127.0.0.1:${gateway.tlsPort};`)
    expect(uriParamOf(out, 'transport')).toBe('tls')
    expect(uriParamOf(out, 'lr')).toBe('')
    expect(uriParamOf(out, 'pb-flow')).toMatch(/^tls-\d+$/)
    expect(inb).toStartWith(`sips:127.0.0.1:${gateway.httpPort};`)
    expect(uriParamOf(inb, 'transport')).toBe('wss')
    expect(uriParamOf(inb, 'pb-flow')).toMatch(/^wss-\d+$/)

    const calleeTag = randomToken(8)
    tls.respond(invite, 180, 'Ringing', calleeTag)
    await wss.waitForResponse({ status: 180, callId: call.callId })
    tls.respond(invite, 200, 'OK', calleeTag, fakeSdp('rtp', 'answer'))
    const ok = await wss.waitForResponse({ status: 200, callId: call.callId, method: 'INVITE' })
    expect(ok.getAll('record-route')).toEqual(rr)
    expect(uriParamOf(uriOf(ok.getAll('contact')[0]!), 'transport')).toBe('tls')

    wss.ack2xx(call, ok)
    const ack = await tls.waitFor((m) => m.isRequest && m.method === 'ACK' && m.callId === call.callId, 'the ACK over TLS')
    expect(ack.getAll('route')).toEqual([]) // both our entries popped
    expect(ack.getAll('via')[0]).toStartWith('SIP/2.0/TLS ')

    wss.byeAsCaller(call)
    const bye = await tls.waitFor((m) => m.isRequest && m.method === 'BYE' && m.callId === call.callId, 'the BYE over TLS')
    tls.respond(bye, 200, 'OK', calleeTag)
    const byeOk = await wss.waitForResponse({ status: 200, callId: call.callId, method: 'BYE' })
    expect(byeOk.status).toBe(200)
    expect(gateway.internals.proxy.pendingInvites).toBe(0)
  })

  test('a call from the TLS client to the WSS client reaches it over WSS with a WSS Via', async () => {
    if (!wss || !tls) throw new Error('the registration tests must run first')
    const target = `sip:${WSS_USER.username}@${TEST_DOMAIN}`
    const callId = randomToken(16)
    tls.write(tls.request('INVITE', target, { callId, cseq: 1, contact: true, body: fakeSdp('rtp', 'offer') }))
    const challenge = await tls.waitFor((m) => m.isResponse && m.callId === callId && m.status === 407, 'the 407')
    const incoming = wss.waitForRequest('INVITE', callId, 5_000)
    // ACK the 407 (same branch as the INVITE), then INVITE again with credentials.
    const inviteBranch = /branch=([^;]+)/.exec(challenge.getAll('via')[0]!)![1]!
    const fromTag = /tag=([^;]+)/.exec(challenge.get('from')!)![1]!
    tls.write(tls.request('ACK', target, { callId, cseq: 1, branch: inviteBranch, fromTag, to: challenge.get('to') }))
    const { digestCredentials, parseDigestChallenge } = await import('../../support/digest.ts')
    const c = challenge.getAll('proxy-authenticate').map(parseDigestChallenge).find((x) => x?.algorithm === 'MD5')!
    const auth = digestCredentials({ challenge: c, username: TLS_USER.username, password: TLS_USER.password, method: 'INVITE', uri: target })
    tls.write(tls.request('INVITE', target, { callId, cseq: 2, fromTag, contact: true, headers: [['Proxy-Authorization', auth]], body: fakeSdp('rtp', 'offer') }))
    const invite: SipText = await incoming
    expect(invite.getAll('via')[0]).toStartWith(`SIP/2.0/WSS 127.0.0.1:${gateway.httpPort};branch=`)
    const rr = invite.getAll('record-route').map(uriOf)
    expect(rr.map((u) => uriParamOf(u, 'transport'))).toEqual(['wss', 'tls'])
    wss.respond(invite, 486, 'Busy Here')
    const busy = await tls.waitFor((m) => m.isResponse && m.callId === callId && m.status === 486, 'the 486 over TLS')
    expect(busy.cseq.seq).toBe(2)
  })
})

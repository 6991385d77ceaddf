/**
 * Certificate reload (a renewed Let's Encrypt certificate): two self-signed certificates made
 * by openssl for the run (CN cert-a and cert-b). The gateway starts with A on its SIP-over-TLS
 * port and its HTTPS / WSS port; a TLS phone and a WSS client register; the files are
 * overwritten with B and the certificates reloaded (in process with `reloadCertificates`, and
 * by SIGHUP to the CLI). New connections then see B (node:tls getPeerCertificate), the phone's
 * old TLS connection and the old WebSocket still carry requests both ways, and a broken file
 * is refused, naming the file, while B keeps being served.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import tls from 'node:tls'
import { TEST_DOMAIN, startGateway, testConfig, userEntry, type RunningGateway } from '../../support/gateway.ts'
import { PeerProcess, requireBinary } from '../../support/processes.ts'
import { WsSipClient } from '../../support/ws-sip-client.ts'
import { setLogSink } from '../../../gateway/src/base/log.ts'
import { ha1 } from '../../../gateway/src/sip/auth/digest.ts'
import { StreamSipClient } from './stream-client.ts'

setDefaultTimeout(60_000)

const MAIN = resolve(import.meta.dir, '../../../gateway/src/main.ts')
const WSS_USER = { username: 'wss-user', password: 'wss-user-password' }
const TLS_USER = { username: 'tls-user', password: 'tls-user-password' }

let dir: string
/** The files the gateway is configured with; their contents are replaced by the tests. */
let live: { cert: string; key: string }
const made: Record<'a' | 'b', { cert: string; key: string }> = {} as never

/** The common name of the certificate served on 127.0.0.1:port to a new TLS connection. */
function servedCn(port: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const cn = s.getPeerCertificate().subject?.CN
      s.end()
      resolvePromise(String(cn))
    })
    s.on('error', reject)
  })
}

/** The CNs seen by `n` new connections (all of them must be the new one, not a mix). */
async function servedCns(port: number, n = 6): Promise<string[]> {
  const seen: string[] = []
  for (let i = 0; i < n; i++) seen.push(await servedCn(port))
  return [...new Set(seen)]
}

function install(which: 'a' | 'b'): void {
  copyFileSync(made[which].cert, live.cert)
  copyFileSync(made[which].key, live.key)
}

function connectWss(url: string): Promise<WsSipClient> {
  const prev = process.env.NODE_TLS_REJECT_UNAUTHORIZED
  process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0'
  try {
    return WsSipClient.connect({ url, username: WSS_USER.username, password: WSS_USER.password, domain: TEST_DOMAIN })
  } finally {
    if (prev === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = prev
  }
}

/** An OPTIONS to the gateway over the phone's connection is answered over it. */
async function optionsAnswered(phone: StreamSipClient): Promise<number> {
  const callId = `opt-${Math.random().toString(36).slice(2)}`
  phone.write(phone.request('OPTIONS', `sip:${TEST_DOMAIN}`, { callId }))
  const r = await phone.waitFor((m) => m.isResponse && m.callId === callId, 'OPTIONS response')
  return r.status
}

beforeAll(() => {
  const openssl = requireBinary('openssl', 'openssl')
  dir = mkdtempSync(join(tmpdir(), 'patchbay-tls-reload-'))
  for (const which of ['a', 'b'] as const) {
    const cert = join(dir, `${which}.crt`)
    const key = join(dir, `${which}.key`)
    const gen = Bun.spawnSync([openssl, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
      '-subj', `/CN=cert-${which}`, '-keyout', key, '-out', cert], { stdout: 'pipe', stderr: 'pipe' })
    if (gen.exitCode !== 0) throw new Error(`openssl req failed: ${gen.stderr.toString()}`)
    made[which] = { cert, key }
  }
  live = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }
})

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('certificate reload, in process', () => {
  let gateway: RunningGateway
  let phone: StreamSipClient | null = null
  let wss: WsSipClient | null = null
  const logLines: string[] = []
  let prevSink: ((line: string) => void) | null = null

  beforeAll(async () => {
    install('a')
    prevSink = setLogSink((line) => logLines.push(line))
    gateway = await startGateway(testConfig(
      { http: { tls: live }, sip: { tls: live, tlsPort: 0 }, media: { driver: 'none' }, log: { level: 'info' } },
      { extraUsers: [WSS_USER, TLS_USER].map((u) => userEntry(u.username, u.password)) },
    ))
  })

  afterAll(async () => {
    phone?.close()
    wss?.close()
    await gateway?.stop()
    if (prevSink) setLogSink(prevSink)
  })

  test('renewed files: new TLS and WSS connections get B, the registered phone and WebSocket keep working', async () => {
    expect(await servedCns(gateway.tlsPort!)).toEqual(['cert-a'])
    expect(await servedCns(gateway.httpPort)).toEqual(['cert-a'])
    phone = await StreamSipClient.connect({ port: gateway.tlsPort!, tls: true, ...TLS_USER, domain: TEST_DOMAIN })
    expect((await phone.register()).final.status).toBe(200)
    wss = await connectWss(gateway.wsUrl)
    expect((await wss.register()).final.status).toBe(200)
    const tlsFlowsBefore = gateway.internals.location.all().filter((b) => b.transport === 'TLS').map((b) => b.flowId)
    expect(tlsFlowsBefore).toHaveLength(1)

    install('b')
    expect(await gateway.reloadCertificates()).toEqual({ sip: true, http: true })
    expect(logLines.some((l) => l.includes('certificates reloaded') && l.includes(live.cert))).toBe(true)

    expect(await servedCns(gateway.tlsPort!)).toEqual(['cert-b'])
    expect(await servedCns(gateway.httpPort)).toEqual(['cert-b'])

    // The phone's connection (accepted by the old listener) both ways: its OPTIONS is answered,
    // and a MESSAGE from the old WebSocket (old HTTPS server) reaches it and its 200 returns.
    expect(phone.closed).toBe(false)
    expect(await optionsAnswered(phone)).toBeLessThan(500)
    const sent = wss.request('MESSAGE', `sip:${TLS_USER.username}@${TEST_DOMAIN}`, { body: 'after the renewal', contentType: 'text/plain' })
    const delivered = await phone.waitFor((m) => m.isRequest && m.method === 'MESSAGE', 'the MESSAGE at the TLS phone')
    expect(delivered.body).toBe('after the renewal')
    expect(delivered.getAll('via')[0]).toStartWith(`SIP/2.0/TLS 127.0.0.1:${gateway.tlsPort};`)
    phone.respond(delivered, 200, 'OK', 'phone-tag')
    expect((await sent).final.status).toBe(200)
    // Same binding, same flow: nothing was re-registered or dropped.
    expect(gateway.internals.location.all().filter((b) => b.transport === 'TLS').map((b) => b.flowId)).toEqual(tlsFlowsBefore)

    // New clients on the new listeners work: a TLS phone and a WSS client register.
    const phone2 = await StreamSipClient.connect({ port: gateway.tlsPort!, tls: true, ...TLS_USER, domain: TEST_DOMAIN })
    expect((await phone2.register()).final.status).toBe(200)
    const wss2 = await connectWss(gateway.wsUrl)
    expect((await wss2.register()).final.status).toBe(200)
    phone2.close()
    wss2.close()
  })

  test('a broken or mismatched file is refused, named in the log, and B stays', async () => {
    logLines.length = 0
    writeFileSync(live.cert, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n')
    expect(await gateway.reloadCertificates()).toEqual({ sip: false, http: false })
    const refused = logLines.filter((l) => l.includes('certificate reload refused'))
    expect(refused).toHaveLength(2)
    for (const l of refused) expect(JSON.parse(l).file).toBe(live.cert)
    expect(await servedCns(gateway.tlsPort!)).toEqual(['cert-b'])
    expect(await servedCns(gateway.httpPort)).toEqual(['cert-b'])

    // A's certificate with B's key: the key file is named.
    logLines.length = 0
    copyFileSync(made.a.cert, live.cert)
    copyFileSync(made.b.key, live.key)
    expect(await gateway.reloadCertificates()).toEqual({ sip: false, http: false })
    expect(logLines.filter((l) => l.includes('certificate reload refused')).map((l) => JSON.parse(l).file)).toEqual([live.key, live.key])
    expect(await servedCns(gateway.tlsPort!)).toEqual(['cert-b'])

    // A missing file.
    logLines.length = 0
    rmSync(live.key)
    expect(await gateway.reloadCertificates()).toEqual({ sip: false, http: false })
    expect(logLines.filter((l) => l.includes('certificate reload refused')).map((l) => JSON.parse(l).file)).toEqual([live.key, live.key])
    expect(await servedCns(gateway.httpPort)).toEqual(['cert-b'])

    // The old phone is still there after the refused reloads.
    expect(await optionsAnswered(phone!)).toBeLessThan(500)
  })

  test('new paths from a reloaded configuration are taken', async () => {
    const next = structuredClone(gateway.config)
    next.sip.tls = made.a
    next.http.tls = made.a
    expect(gateway.reload(next)).toEqual([])
    expect(await gateway.reloadCertificates(next)).toEqual({ sip: true, http: true })
    expect(await servedCns(gateway.tlsPort!)).toEqual(['cert-a'])
    expect(await servedCns(gateway.httpPort)).toEqual(['cert-a'])
    expect(await optionsAnswered(phone!)).toBeLessThan(500)
  })
})

describe('certificate reload by SIGHUP (the CLI)', () => {
  let gw: PeerProcess | null = null
  afterAll(async () => {
    await gw?.kill()
  })

  test('SIGHUP serves the renewed certificate to new connections and keeps the TLS phone; a broken file keeps it', async () => {
    install('a')
    const cfg = join(dir, 'cli')
    rmSync(cfg, { recursive: true, force: true })
    require('node:fs').mkdirSync(cfg)
    writeFileSync(join(cfg, 'gateway.yaml'), [
      'domain: patchbay.test',
      `http: { host: 127.0.0.1, port: 0, tls: { cert: "${live.cert}", key: "${live.key}" } }`,
      `sip: { host: 127.0.0.1, udpPort: 0, tcpPort: 0, tlsPort: 0, tls: { cert: "${live.cert}", key: "${live.key}" } }`,
      'ice: { stun: { enabled: false } }',
      'media: { driver: none }',
      'store: { path: ":memory:" }',
      '',
    ].join('\n'))
    const u = TLS_USER
    writeFileSync(join(cfg, 'users.yaml'), `users:\n  - username: "${u.username}"\n    ha1: "${ha1('MD5', u.username, TEST_DOMAIN, u.password)}"\n    ha1Sha256: "${ha1('SHA-256', u.username, TEST_DOMAIN, u.password)}"\n`)
    gw = new PeerProcess('gateway', [process.execPath, MAIN, '--config', cfg])
    const tlsPort = Number(/:(\d+)$/.exec(await gw.waitFor(/SIP TLS\s+127\.0\.0\.1:(\d+)/, 15_000))![1])
    const httpPort = Number(/:(\d+)\/$/.exec(await gw.waitFor(/softphone\s+https:\/\/127\.0\.0\.1:(\d+)\//))![1])
    expect(await servedCns(tlsPort)).toEqual(['cert-a'])
    expect(await servedCns(httpPort)).toEqual(['cert-a'])
    const phone = await StreamSipClient.connect({ port: tlsPort, tls: true, ...TLS_USER, domain: TEST_DOMAIN })
    try {
      expect((await phone.register()).final.status).toBe(200)

      install('b')
      process.kill(gw.pid, 'SIGHUP')
      await gw.waitFor('certificates reloaded')
      // With workers (one per core) the master says it once every worker serves the new files.
      await gw.waitFor('configuration reloaded')
      expect(await servedCns(tlsPort)).toEqual(['cert-b'])
      expect(await servedCns(httpPort)).toEqual(['cert-b'])
      expect(await optionsAnswered(phone)).toBeLessThan(500)

      writeFileSync(live.key, 'garbage\n')
      process.kill(gw.pid, 'SIGHUP')
      await gw.waitFor('certificate reload refused')
      expect(gw.output()).toContain(`"file":"${live.key}"`)
      expect(await servedCns(tlsPort)).toEqual(['cert-b'])
      expect(await servedCns(httpPort)).toEqual(['cert-b'])
      expect(await optionsAnswered(phone)).toBeLessThan(500)
      expect(gw.running).toBe(true)
    } finally {
      phone.close()
    }
  })
})

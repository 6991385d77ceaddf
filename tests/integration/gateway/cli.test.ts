/**
 * The gateway as a user runs it: `bun gateway/src/main.ts` (what `npm start` / `bun run start`
 * do), with the embedded defaults and with a config folder reloaded on SIGHUP.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { PeerProcess } from '../../support/processes.ts'
import { ha1 } from '../../../gateway/src/sip/auth/digest.ts'

setDefaultTimeout(30_000)

const MAIN = resolve(import.meta.dir, '../../../gateway/src/main.ts')
const running: PeerProcess[] = []
const dirs: string[] = []

afterEach(async () => {
  for (const p of running.splice(0)) await p.kill()
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'patchbay-cli-'))
  dirs.push(d)
  return d
}

/** Sends one SIP request over UDP and returns the first response line. */
async function udpRequest(port: number, text: string): Promise<string> {
  let resolveReply!: (s: string) => void
  const reply = new Promise<string>((r) => (resolveReply = r))
  const sock = await Bun.udpSocket({
    hostname: '127.0.0.1',
    port: 0,
    socket: { data: (_s, data) => resolveReply(new TextDecoder().decode(data)) },
  })
  try {
    const msg = text.replaceAll('PORT', String(sock.port)).replace(/\n/g, '\r\n')
    sock.send(msg, port, '127.0.0.1')
    const timeout = Bun.sleep(3000).then(() => 'no answer within 3 s')
    return (await Promise.race([reply, timeout])).split('\r\n')[0]!
  } finally {
    sock.close()
  }
}

const options = (ruri: string, callId: string) => `OPTIONS ${ruri} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:PORT;branch=z9hG4bK${callId};rport
From: <sip:tester@example.org>;tag=t${callId}
To: <${ruri}>
Call-ID: ${callId}@cli-test
CSeq: 1 OPTIONS
Max-Forwards: 70
Content-Length: 0

`

function userEntry(name: string, password: string): string {
  return `  - username: "${name}"\n    ha1: "${ha1('MD5', name, 'patchbay.test', password)}"\n    ha1Sha256: "${ha1('SHA-256', name, 'patchbay.test', password)}"\n`
}

describe('bun gateway/src/main.ts', () => {
  test('with no arguments: the softphone page on 127.0.0.1:8080 and OPTIONS answered on UDP 5060 (the README promise)', async () => {
    const gw = new PeerProcess('gateway', [process.execPath, MAIN], { cwd: tempDir() })
    running.push(gw)
    await gw.waitFor('SIP UDP        127.0.0.1:5060', 15_000).catch((e: Error) => {
      throw new Error(`the default gateway did not start (are ports 8080/5060/3478 free on this machine?)\n${e.message}`)
    })
    const page = await fetch('http://127.0.0.1:8080/')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toContain('text/html')
    const html = await page.text()
    expect(html).toContain('<title>Patchbay</title>')
    const app = await fetch('http://127.0.0.1:8080/app.js')
    expect(app.status).toBe(200)
    expect((await app.text()).length).toBeGreaterThan(10_000)
    expect(await udpRequest(5060, options('sip:127.0.0.1', 'defaults1'))).toBe('SIP/2.0 200 OK')
  })

  test('refuses to start, naming file, line and field, on a bad config', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'gateway.yaml'), 'domain: patchbay.test\nhttp:\n  port: "eighty"\n')
    const gw = new PeerProcess('gateway', [process.execPath, MAIN, '--config', dir])
    running.push(gw)
    expect(await gw.exited).toBe(1)
    expect(gw.output()).toContain(`${join(dir, 'gateway.yaml')}:3 http.port`)
  })

  test('SIGHUP reloads users; a bad file is reported and the running config is kept', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'gateway.yaml'), [
      'domain: patchbay.test',
      'http: { host: 127.0.0.1, port: 0 }',
      'sip: { host: 127.0.0.1, udpPort: 0, tcpPort: 0 }',
      'ice: { stun: { enabled: false } }',
      'store: { path: ":memory:" }',
      '',
    ].join('\n'))
    writeFileSync(join(dir, 'users.yaml'), `users:\n${userEntry('alice', 'pw-a')}`)
    const gw = new PeerProcess('gateway', [process.execPath, MAIN, '--config', dir])
    running.push(gw)
    const banner = await gw.waitFor(/SIP UDP\s+127\.0\.0\.1:(\d+)/, 15_000)
    const port = Number(/:(\d+)$/.exec(banner)![1])
    // alice is known (no binding: 480), dave is not (404)
    expect(await udpRequest(port, options('sip:alice@patchbay.test', 'r1'))).toBe('SIP/2.0 480 Temporarily Unavailable')
    expect(await udpRequest(port, options('sip:dave@patchbay.test', 'r2'))).toBe('SIP/2.0 404 Not Found')

    writeFileSync(join(dir, 'users.yaml'), `users:\n  - username: "dave"\n    ha1: "not-a-hash"\n    ha1Sha256: "${ha1('SHA-256', 'dave', 'patchbay.test', 'x')}"\n`)
    process.kill(gw.pid, 'SIGHUP')
    await gw.waitFor('configuration reload refused')
    expect(gw.output()).toMatch(/users\.yaml:3 users\[0\]\.ha1: /)
    expect(await udpRequest(port, options('sip:alice@patchbay.test', 'r3'))).toBe('SIP/2.0 480 Temporarily Unavailable')

    writeFileSync(join(dir, 'users.yaml'), `users:\n${userEntry('alice', 'pw-a')}${userEntry('dave', 'pw-d')}`)
    process.kill(gw.pid, 'SIGHUP')
    await gw.waitFor('configuration reloaded')
    expect(await udpRequest(port, options('sip:dave@patchbay.test', 'r4'))).toBe('SIP/2.0 480 Temporarily Unavailable')
  })

  test('SIGHUP applies a new dial plan; a broken dialplan.yaml is refused with file:line and the running plan kept', async () => {
    const dir = tempDir()
    const token = 'cli-admin-token-0123456789'
    writeFileSync(join(dir, 'gateway.yaml'), [
      'domain: patchbay.test',
      'http: { host: 127.0.0.1, port: 0 }',
      'sip: { host: 127.0.0.1, udpPort: 0, tcpPort: 0 }',
      'ice: { stun: { enabled: false } }',
      'store: { path: ":memory:" }',
      `adminToken: ${token}`,
      '',
    ].join('\n'))
    writeFileSync(join(dir, 'users.yaml'), `users:\n${userEntry('alice', 'pw-a')}${userEntry('carol', 'pw-c')}`)
    const plan = (rule: string) => ['outbound:', `  - name: ${rule}`, '    prefix: ["7"]', '    maxLength: 4', `    user: ${rule === 'to-alice' ? 'alice' : 'carol'}`, ''].join('\n')
    writeFileSync(join(dir, 'dialplan.yaml'), plan('to-alice'))
    const gw = new PeerProcess('gateway', [process.execPath, MAIN, '--config', dir])
    running.push(gw)
    const banner = await gw.waitFor(/softphone\s+http:\/\/127\.0\.0\.1:(\d+)/, 15_000)
    const http = `http://127.0.0.1:${/:(\d+)/.exec(banner)![1]}`
    const ruleFor = async (to: string) => {
      const r = await fetch(`${http}/api/route/explain?from=alice&to=${to}`, { headers: { authorization: `Bearer ${token}` } })
      expect(r.status).toBe(200)
      const e = await r.json() as { decision: { rule: { name: string } | null } }
      return e.decision.rule?.name ?? null
    }
    expect(await ruleFor('7001')).toBe('to-alice')

    writeFileSync(join(dir, 'dialplan.yaml'), 'outbound:\n  - name: broken\n    prefix: ["7"]\n    pattern: "(["\n    user: carol\n')
    process.kill(gw.pid, 'SIGHUP')
    await gw.waitFor('configuration reload refused')
    expect(gw.output()).toMatch(/dialplan\.yaml:4 outbound\[0\]\.pattern: /)
    expect(await ruleFor('7001')).toBe('to-alice')

    writeFileSync(join(dir, 'dialplan.yaml'), plan('to-carol'))
    process.kill(gw.pid, 'SIGHUP')
    // Logged once every worker (one per core) applied it.
    await gw.waitFor('configuration reloaded')
    expect(await ruleFor('7001')).toBe('to-carol')
  })
})

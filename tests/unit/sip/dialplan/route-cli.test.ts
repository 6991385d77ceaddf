/** `bun run route -- explain` as an operator runs it, on a temporary configuration directory. */
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ha1 } from '../../../../gateway/src/sip/auth/digest.ts'

const REPO = resolve(import.meta.dir, '../../../..')
const dir = mkdtempSync(join(tmpdir(), 'patchbay-route-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const user = (name: string) =>
  `  - username: ${name}\n    ha1: "${ha1('MD5', name, 'patchbay.test', 'pw')}"\n    ha1Sha256: "${ha1('SHA-256', name, 'patchbay.test', 'pw')}"\n`
writeFileSync(join(dir, 'users.yaml'), `users:\n${user('alice')}${user('bob')}`)
writeFileSync(join(dir, 'trunks.yaml'), `trunks:
  - name: carrier-a
    type: peer
    host: 192.0.2.10
  - name: carrier-b
    type: peer
    host: 192.0.2.20
`)
writeFileSync(join(dir, 'dialplan.yaml'), `userClasses:
  alice: international
numbering:
  countryCode: "44"
  internationalPrefix: "00"
outbound:
  - name: emergency
    pattern: "999|112"
    trunks: [carrier-a]
  - name: international
    prefix: ["00"]
    minLength: 8
    class: international
    e164: true
    trunks: [carrier-a, carrier-b]
inbound:
  - trunk: carrier-b
    did: ["+442079460000"]
    user: bob
`)

function run(...args: string[]): { code: number; out: string; err: string } {
  const p = Bun.spawnSync(['bun', 'run', '--silent', 'route', '--', ...args], { cwd: REPO, env: { ...process.env, PATCHBAY_URL: '' } })
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() }
}

describe('bun run route -- explain', () => {
  test('a permitted international call: rules, permission, rewrite, trunks in order (offline: unknown)', () => {
    const r = run('explain', 'alice', '0033 1 42 68 53 00', '--config', dir)
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(r.out).toBe([
      'explain alice -> 0033 1 42 68 53 00',
      'caller:      user alice (class international)',
      'dialed:      0033142685300',
      'rules:',
      '  1. emergency      no match: does not match /999|112/',
      '  2. international  MATCH     prefix "00", length 13 >= 8',
      'permission:  allowed (user alice has class international >= international)',
      'rewritten:   0033142685300 -> +33142685300 (E.164: international prefix 00 -> +)',
      'outcome:     route: rule international -> trunks carrier-a, carrier-b',
      'targets:     trunks in failover order',
      '  1. carrier-a  unknown (no gateway asked)',
      '  2. carrier-b  unknown (no gateway asked)',
      `note:        offline: dial plan of ${dir}, no gateway asked for trunk states (--url)`,
      '',
    ].join('\n'))
  })

  test('the same number from bob (default class internal) is denied: 403', () => {
    const r = run('explain', 'sip:bob@patchbay.test', '0033142685300', '--config', dir)
    expect(r.code).toBe(0)
    expect(r.out).toContain('permission:  DENIED (user bob has class internal < international)')
    expect(r.out).toContain('outcome:     forbidden 403: rule international: user bob has class internal < international')
  })

  test('a DID on a trunk, and an unknown DID (404); --json gives the explanation as JSON', () => {
    expect(run('explain', 'trunk:carrier-b', '+442079460000', '--config', dir).out).toContain('outcome:     route: DID +442079460000 on trunk carrier-b -> user bob')
    const r = run('explain', 'trunk:carrier-b', '+442079460001', '--config', dir, '--json')
    const e = JSON.parse(r.out) as { decision: { outcome: string; status: number } }
    expect(e.decision).toMatchObject({ outcome: 'not-found', status: 404 })
  })

  test('a broken dial plan is reported with file:line and exit status 1', () => {
    const bad = mkdtempSync(join(tmpdir(), 'patchbay-route-cli-bad-'))
    try {
      writeFileSync(join(bad, 'dialplan.yaml'), 'outbound:\n  - name: x\n    user: nobody\n')
      const r = run('explain', 'alice', '123', '--config', bad)
      expect(r.code).toBe(1)
      expect(r.err).toBe(`configuration refused:\n${bad}/dialplan.yaml:3 outbound[0].user: unknown user "nobody" (not in users.yaml)\n`)
    } finally {
      rmSync(bad, { recursive: true, force: true })
    }
  })

  test('without --config and without ./sip-config: the embedded defaults (demo users, no rules)', () => {
    const p = Bun.spawnSync(['bun', join(REPO, 'gateway/src/route-cli.ts'), 'explain', 'alice', 'carol'], { cwd: dir, env: { ...process.env, PATCHBAY_URL: '' } })
    const out = p.stdout.toString()
    expect(p.exitCode).toBe(0)
    expect(out).toContain('outcome:     route: local user carol')
    expect(out).toContain('dial plan of the embedded defaults')
  })

  test('bad arguments: usage and exit status 2', () => {
    const r = run('explain', 'alice')
    expect(r.code).toBe(2)
    expect(r.err).toStartWith('usage: bun run route -- explain <from> <to>')
    expect(run('explain', 'a', 'b', '--colour').err).toStartWith('unknown option --colour')
  })
})

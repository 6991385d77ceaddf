import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { usersYamlEntry } from '../../../gateway/src/config/hash-password.ts'
import { formatConfigError, loadConfig } from '../../../gateway/src/config/loader.ts'
import { ha1 } from '../../../gateway/src/sip/auth/digest.ts'

const SCRIPT = join(import.meta.dir, '../../../gateway/src/config/hash-password.ts')
const dir = mkdtempSync(join(tmpdir(), 'patchbay-hash-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('hash-password', () => {
  test('the printed entry pasted under users: loads, with both HA1s', () => {
    writeFileSync(join(dir, 'users.yaml'), `users:\n${usersYamlEntry('dave', 'correct horse', 'patchbay.test', 'Dave Dixon')}`)
    const r = loadConfig(dir)
    if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'))
    expect(r.config.users).toEqual([{
      username: 'dave',
      displayName: 'Dave Dixon',
      ha1: ha1('MD5', 'dave', 'patchbay.test', 'correct horse'),
      ha1Sha256: ha1('SHA-256', 'dave', 'patchbay.test', 'correct horse'),
    }])
    expect(r.config.usesDemoPasswords).toBe(false)
  })

  test('refuses a username the schema would refuse', () => {
    expect(() => usersYamlEntry('bad user', 'x')).toThrow(RangeError)
  })

  test('CLI: USER PASSWORD [REALM] prints the entry; bad arguments exit 2', () => {
    const out = Bun.spawnSync(['bun', SCRIPT, 'erin', 'pw', 'voice.example'])
    expect(out.exitCode).toBe(0)
    const text = out.stdout.toString()
    expect(text).toContain('- username: "erin"')
    expect(text).toContain(`ha1: "${ha1('MD5', 'erin', 'voice.example', 'pw')}"`)
    expect(text).toContain(`ha1Sha256: "${ha1('SHA-256', 'erin', 'voice.example', 'pw')}"`)
    const usage = Bun.spawnSync(['bun', SCRIPT, 'erin'])
    expect(usage.exitCode).toBe(2)
    expect(usage.stderr.toString()).toContain('usage:')
  })

  test('CLI: password "-" is read from stdin; the default realm is patchbay.test', () => {
    const out = Bun.spawnSync(['bun', SCRIPT, 'alice', '-'], { stdin: new TextEncoder().encode('alice-demo\n') })
    expect(out.exitCode).toBe(0)
    expect(out.stdout.toString()).toContain(ha1('MD5', 'alice', 'patchbay.test', 'alice-demo'))
  })
})

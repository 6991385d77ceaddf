import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatConfigError, loadConfig, type ConfigError } from '../../../gateway/src/config/loader.ts'
import { defaultConfig } from '../../../gateway/src/config/defaults.ts'
import { ha1 } from '../../../gateway/src/sip/auth/digest.ts'
import type { GatewayConfig } from '../../../gateway/src/config/schema.ts'

const REPO_CONFIG = join(import.meta.dir, '../../../sip-config')
const root = mkdtempSync(join(tmpdir(), 'patchbay-config-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let n = 0

/** Writes the files to a fresh temp dir and returns its path. */
function dirWith(files: Record<string, string>): string {
  const dir = join(root, `c${n++}`)
  mkdirSync(dir)
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

function errorsOf(files: Record<string, string>): { dir: string; errors: ConfigError[] } {
  const dir = dirWith(files)
  const r = loadConfig(dir)
  if (r.ok) throw new Error('expected the configuration to be refused')
  return { dir, errors: r.errors }
}

function ok(files: Record<string, string>): GatewayConfig {
  const r = loadConfig(dirWith(files))
  if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'))
  return r.config
}

const GOOD_USER = (name: string, pw: string) =>
  `  - username: ${name}\n    ha1: "${ha1('MD5', name, 'patchbay.test', pw)}"\n    ha1Sha256: "${ha1('SHA-256', name, 'patchbay.test', pw)}"\n`

describe('embedded defaults', () => {
  test('loadConfig(null) gives the documented defaults', () => {
    const r = loadConfig(null)
    expect(r.ok).toBe(true)
    if (!r.ok) return
    const c = r.config
    expect(c.domain).toBe('patchbay.test')
    expect(c.realm).toBe('patchbay.test')
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8080 })
    expect(c.sip.host).toBe('127.0.0.1')
    expect(c.sip.udpPort).toBe(5060)
    expect(c.sip.tcpPort).toBe(5060)
    expect(c.sip.tlsPort).toBeUndefined()
    expect(c.log.level).toBe('info')
    expect(c.store.path).toBe('.data/patchbay.sqlite')
    expect(c.auth.algorithms).toEqual(['SHA-256', 'MD5'])
    expect(c.users.map((u) => [u.username, u.displayName])).toEqual([
      ['alice', 'Alice Archer'], ['bob', 'Bob Baker'], ['carol', 'Carol Cooper'],
    ])
    expect(c.users[0]!.ha1).toBe(ha1('MD5', 'alice', 'patchbay.test', 'alice-demo'))
    expect(c.users[2]!.ha1Sha256).toBe(ha1('SHA-256', 'carol', 'patchbay.test', 'carol-demo'))
    expect(c.usesDemoPasswords).toBe(true)
    expect(c.sources).toEqual([])
  })

  test('each call returns a fresh copy', () => {
    const a = defaultConfig()
    a.users[0]!.username = 'changed'
    a.http.port = 1
    const b = defaultConfig()
    expect(b.users[0]!.username).toBe('alice')
    expect(b.http.port).toBe(8080)
  })

  test('the sip-config/ directory in the repo loads to the same configuration', () => {
    const r = loadConfig(REPO_CONFIG)
    if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'))
    const { sources, ...fromFiles } = r.config
    const { sources: _none, ...embedded } = defaultConfig()
    expect(fromFiles).toEqual(embedded)
    expect(sources.map((s) => s.split('/').pop())).toEqual(['gateway.yaml', 'users.yaml', 'trunks.yaml', 'dialplan.yaml'])
  })
})

describe('valid directories', () => {
  test('empty directory: all defaults, no users', () => {
    const c = ok({})
    expect(c.users).toEqual([])
    expect(c.usesDemoPasswords).toBe(false)
    expect(c.http.port).toBe(8080)
    expect(c.sources).toEqual([])
  })

  test('unknown file names are ignored', () => {
    const c = ok({ 'routes.yaml': ':::: not yaml [', 'notes.txt': 'hello' })
    expect(c.domain).toBe('patchbay.test')
  })

  test('empty files and sections whose children are all commented out take the defaults', () => {
    const c = ok({ 'gateway.yaml': 'http:\n  # host: 0.0.0.0\nsip:\n', 'users.yaml': '' })
    expect(c.http).toEqual({ host: '127.0.0.1', port: 8080 })
    expect(c.sip.udpPort).toBe(5060)
  })

  test('realm is auth.realm when set, else the domain; non-demo users clear usesDemoPasswords', () => {
    const c = ok({ 'gateway.yaml': 'domain: example.org\n', 'users.yaml': `users:\n${GOOD_USER('dave', 'long secret')}` })
    expect(c.realm).toBe('example.org')
    expect(c.usesDemoPasswords).toBe(false)
    const d = ok({ 'gateway.yaml': 'domain: example.org\nauth:\n  realm: voice\n' })
    expect(d.realm).toBe('voice')
  })

  test('a demo password under another username still counts as demo', () => {
    const c = ok({ 'users.yaml': `users:\n${GOOD_USER('dave', 'bob-demo')}` })
    expect(c.usesDemoPasswords).toBe(true)
  })
})

describe('security settings', () => {

  test('security defaults (issue 11): brute force 10 per source / 20 per user in 300 s -> 900 s ban; flood 2000 per 2 s -> 60 s ban; cap 400,000 (answered UDP transactions count while they linger)', () => {
    const c = defaultConfig()
    expect(c.security).toEqual({
      allowList: [],
      bans: { action: 'drop', maxEntries: 10000 },
      bruteForce: { enabled: true, windowSeconds: 300, maxFailuresPerSource: 10, maxFailuresPerUser: 20, banSeconds: 900 },
      flood: { enabled: true, windowSeconds: 2, maxRequests: 2000, banSeconds: 60 },
      overload: { maxServerTransactions: 400000, retryAfterSeconds: 5 },
      maxTrackedSources: 65536,
    })
  })
})

describe('errors name the file, the line and the field', () => {
  test('wrong type', () => {
    const { dir, errors } = errorsOf({ 'gateway.yaml': 'domain: patchbay.test\nhttp:\n  host: 127.0.0.1\n  port: eighty\n' })
    expect(errors).toHaveLength(1)
    expect(errors[0]).toEqual({ file: join(dir, 'gateway.yaml'), line: 4, field: 'http.port', message: 'must be an integer (got a string)' })
  })

  test('bad pattern in users[1].ha1', () => {
    const users = `# accounts\nusers:\n${GOOD_USER('dave', 'a')}  - username: erin\n    displayName: Erin\n    ha1: NOT-A-HASH\n    ha1Sha256: ${'a'.repeat(64)}\n`
    const { dir, errors } = errorsOf({ 'users.yaml': users })
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ line: 8, field: 'users[1].ha1', message: 'must match ^[0-9a-f]{32}$' })
    expect(formatConfigError(errors[0]!)).toBe(`${join(dir, 'users.yaml')}:8 users[1].ha1: must match ^[0-9a-f]{32}$`)
  })

  test('unknown key, nested and at the top', () => {
    const { errors } = errorsOf({ 'gateway.yaml': 'sip:\n  host: 127.0.0.1\n  prot: 5060\nloglevel: debug\n' })
    expect(errors.map((e) => [e.line, e.field, e.message])).toEqual([
      [4, 'loglevel', 'unknown key'],
      [3, 'sip.prot', 'unknown key'],
    ])
  })

  test('YAML syntax error: file and line', () => {
    const { dir, errors } = errorsOf({ 'gateway.yaml': 'domain: patchbay.test\nhttp:\n  host: 127.0.0.1\n  port: [8080\nlog:\n  level: info\n' })
    expect(errors).toHaveLength(1)
    expect(errors[0]!.file).toBe(join(dir, 'gateway.yaml'))
    expect(errors[0]!.line).toBe(4)
    expect(errors[0]!.message).toMatch(/^YAML syntax error/)
  })

  test('YAML syntax error: bad indentation', () => {
    const { errors } = errorsOf({ 'users.yaml': `users:\n${GOOD_USER('dave', 'a')}   bogus: 1\n` })
    expect(errors[0]!.line).toBe(5)
    expect(errors[0]!.message).toMatch(/^YAML syntax error/)
  })

  test('duplicate username', () => {
    const { errors } = errorsOf({ 'users.yaml': `users:\n${GOOD_USER('dave', 'a')}${GOOD_USER('erin', 'b')}${GOOD_USER('dave', 'c')}` })
    expect(errors).toEqual([expect.objectContaining({ line: 8, field: 'users[2].username', message: 'duplicate username "dave" (also users[0])' })])
  })

  test('duplicate key in a mapping (which YAML parsers silently merge)', () => {
    const { errors } = errorsOf({ 'gateway.yaml': 'http:\n  port: 8080\nlog:\n  level: info\nhttp:\n  port: 9090\n' })
    expect(errors.map((e) => [e.line, e.field, e.message])).toEqual([[5, 'http', 'duplicate key (first written at line 1)']])
  })

  test('a missing required field points at its list item', () => {
    const { errors } = errorsOf({ 'users.yaml': `users:\n  - username: dave\n    ha1: ${'a'.repeat(32)}\n` })
    expect(errors.map((e) => [e.line, e.field, e.message])).toEqual([[2, 'users[0].ha1Sha256', 'is required']])
  })

  test('sequence written at the same indentation as its key', () => {
    const { errors } = errorsOf({ 'users.yaml': `users:\n- username: dave\n  ha1: ${'a'.repeat(32)}\n  ha1Sha256: ${'a'.repeat(64)}\n- username: bad user\n  ha1: ${'a'.repeat(32)}\n  ha1Sha256: ${'a'.repeat(64)}\n` })
    expect(errors.map((e) => [e.line, e.field])).toEqual([[5, 'users[1].username']])
  })

  test('out-of-range port, enum value, list item, min length; values are not echoed', () => {
    const { errors } = errorsOf({
      'gateway.yaml': 'sip:\n  udpPort: 70000\nlog:\n  level: loud\nauth:\n  algorithms: [SHA-256, SHA-1]\nadminToken: short-secret\n',
    })
    const byField = Object.fromEntries(errors.map((e) => [e.field, [e.line, e.message]]))
    expect(byField['sip.udpPort']).toEqual([2, 'must be <= 65535'])
    expect(byField['log.level']).toEqual([4, 'must be one of: debug, info, warn, error'])
    expect(byField['auth.algorithms[1]']).toEqual([6, 'must be one of: SHA-256, MD5'])
    expect(byField['adminToken']).toEqual([7, 'must be at least 16 characters'])
    expect(errors.map(formatConfigError).join('\n')).not.toContain('short-secret')
  })

  test('tlsPort without tls; registrar intervals out of order', () => {
    const a = errorsOf({ 'gateway.yaml': 'sip:\n  host: 127.0.0.1\n  tlsPort: 5061\n' }).errors
    expect(a.map((e) => [e.line, e.field])).toEqual([[3, 'sip.tlsPort']])
    expect(a[0]!.message).toMatch(/needs sip\.tls/)
    const b = errorsOf({ 'gateway.yaml': 'registrar:\n  minExpires: 60\n  defaultExpires: 30\n' }).errors
    expect(b.map((e) => [e.line, e.field])).toEqual([[3, 'registrar.defaultExpires']])
    const c = errorsOf({ 'gateway.yaml': 'registrar:\n  minExpires: 7200\n' }).errors
    expect(c.map((e) => [e.line, e.field])).toEqual([[2, 'registrar.minExpires']])
  })

  test('a hash that YAML reads as a number asks for quotes', () => {
    const { errors } = errorsOf({ 'users.yaml': `users:\n  - username: dave\n    ha1: ${'1'.repeat(32)}\n    ha1Sha256: "${'1'.repeat(64)}"\n` })
    expect(errors.map((e) => [e.line, e.field, e.message])).toEqual([[3, 'users[0].ha1', 'must be a string (got a number): write it in quotes']])
  })

  test('a file that is not a mapping', () => {
    const { errors } = errorsOf({ 'users.yaml': '# users\n- alice\n- bob\n' })
    expect(errors).toEqual([expect.objectContaining({ line: 2, field: '', message: 'must be a mapping of keys to values' })])
  })

  test('errors in both files are all reported', () => {
    const { errors } = errorsOf({ 'gateway.yaml': 'bogus: 1\n', 'users.yaml': 'people: []\n' })
    expect(errors.map((e) => [e.file.split('/').pop(), e.field])).toEqual([['gateway.yaml', 'bogus'], ['users.yaml', 'people']])
  })

  test('security: allow-list entries and trusted sources must be addresses (prefixes for the allow-list), action and limits checked', () => {
    const { errors } = errorsOf({
      'gateway.yaml': [
        'proxy:',
        '  trustedSources: [192.0.2.1, pbx.example.org, 10.0.0.0/8]',
        'security:',
        '  allowList:',
        '    - 198.51.100.0/24',
        '    - office.example.org',
        '    - 203.0.113.0/33',
        '  bans:',
        '    action: tarpit',
        '  flood:',
        '    maxRequests: 0',
        '  bruteForce:',
        '    windowSeconds: 1.5',
        '',
      ].join('\n'),
    })
    const byField = Object.fromEntries(errors.map((e) => [e.field, [e.line, e.message]]))
    expect(byField['security.bans.action']).toEqual([9, 'must be one of: drop, reject'])
    expect(byField['security.flood.maxRequests']).toEqual([11, 'must be >= 1'])
    expect(byField['security.bruteForce.windowSeconds']).toEqual([13, 'must be an integer (got a number with a fraction)'])
    // Semantic checks run once the schema is satisfied.
    const semantic = errorsOf({
      'gateway.yaml': 'proxy:\n  trustedSources: [192.0.2.1, pbx.example.org, 10.0.0.0/8]\nsecurity:\n  allowList:\n    - 198.51.100.0/24\n    - office.example.org\n    - 203.0.113.0/33\n',
    }).errors
    expect(semantic.map((e) => [e.line, e.field])).toEqual([
      [2, 'proxy.trustedSources[1]'], [2, 'proxy.trustedSources[2]'], [6, 'security.allowList[1]'], [7, 'security.allowList[2]'],
    ])
    expect(semantic[0]!.message).toBe('must be an IP address (e.g. 192.0.2.10 or 2001:db8::10)')
    expect(semantic[2]!.message).toMatch(/^must be an IP address or a CIDR prefix/)
  })

  test('a directory that does not exist', () => {
    const r = loadConfig(join(root, 'missing'))
    expect(r.ok).toBe(false)
    if (!r.ok) expect(r.errors[0]!.message).toBe('configuration directory not found')
  })
})

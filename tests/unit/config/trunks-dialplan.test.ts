import { afterAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatConfigError, loadConfig, type LoadResult } from '../../../gateway/src/config/loader.ts'
import { defaultConfig } from '../../../gateway/src/config/defaults.ts'
import { DialPlan } from '../../../gateway/src/sip/dialplan/dial-plan.ts'
import { ha1 } from '../../../gateway/src/sip/auth/digest.ts'

const REPO_CONFIG = join(import.meta.dir, '../../../sip-config')
const root = mkdtempSync(join(tmpdir(), 'patchbay-dialplan-config-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let n = 0

const user = (name: string) =>
  `  - username: ${name}\n    ha1: "${ha1('MD5', name, 'patchbay.test', 'pw')}"\n    ha1Sha256: "${ha1('SHA-256', name, 'patchbay.test', 'pw')}"\n`
const USERS = `users:\n${user('alice')}${user('bob')}${user('carol')}`

function load(files: Record<string, string>, env: Record<string, string> = {}): { dir: string; r: LoadResult } {
  const dir = join(root, `c${n++}`)
  mkdirSync(dir)
  for (const [name, text] of Object.entries({ 'users.yaml': USERS, ...files })) writeFileSync(join(dir, name), text)
  return { dir, r: loadConfig(dir, env) }
}

/** The errors as `name:line field: message`, the directory cut off. */
function errors(files: Record<string, string>, env: Record<string, string> = {}): string[] {
  const { dir, r } = load(files, env)
  if (r.ok) throw new Error('expected the configuration to be refused')
  return r.errors.map((e) => formatConfigError(e).slice(dir.length + 1))
}

const TRUNKS = `trunks:
  - name: carrier-a
    type: registration
    host: sip.carrier-a.example
    username: "4930123456"
    password: secret
  - name: pbx
    type: peer
    host: 192.0.2.50
    transport: tcp
    inbound:
      addresses: [192.0.2.50, 198.51.100.0/24]
    trusted: true
    class: national
`

const DIALPLAN = `classes: [internal, national, international]
userClasses:
  alice: international
numbering:
  countryCode: "49"
  internationalPrefix: "00"
ringGroups:
  - name: sales
    strategy: sequential
    members: [alice, bob]
outbound:
  - name: intl
    prefix: ["00"]
    minLength: 8
    class: international
    e164: true
    trunks: [carrier-a, pbx]
  - name: sales
    pattern: "2[0-9]{2}"
    ringGroup: sales
inbound:
  - trunk: carrier-a
    did: ["+4930123456"]
    user: carol
`

describe('loading trunks.yaml and dialplan.yaml', () => {
  test('absent files: no trunks, a dial plan without rules (the defaults)', () => {
    const { r } = load({})
    if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'))
    expect(r.config.trunks).toEqual([])
    expect(r.config.dialPlan).toEqual({ ...defaultConfig().dialPlan })
    expect(defaultConfig().dialPlan).toMatchObject({ classes: ['internal', 'national', 'international'], defaultClass: 'internal', outbound: [], inbound: [], users: ['alice', 'bob', 'carol'] })
  })

  test('a full pair converts to plain definitions, defaults applied', () => {
    const { r } = load({ 'trunks.yaml': TRUNKS, 'dialplan.yaml': DIALPLAN })
    if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'))
    expect(r.config.trunks[0]).toEqual({
      name: 'carrier-a', type: 'registration', host: 'sip.carrier-a.example', transport: 'udp', register: true, expires: 600,
      codecs: [], maxCalls: 0, qualifySeconds: 30, inbound: { addresses: [] }, trusted: false,
      username: '4930123456', credentials: { authUsername: '4930123456', password: 'secret' },
    })
    expect(r.config.trunks[1]).toMatchObject({ name: 'pbx', type: 'peer', register: false, transport: 'tcp', trusted: true, class: 'national', inbound: { addresses: ['192.0.2.50', '198.51.100.0/24'] } })
    const dp = r.config.dialPlan
    expect(dp.numbering).toEqual({ countryCode: '49', nationalPrefix: '0', internationalPrefix: '00' })
    expect(dp.ringGroups).toEqual([{ name: 'sales', strategy: 'sequential', members: ['alice', 'bob'], ringSeconds: 20 }])
    expect(dp.outbound[0]).toEqual({ name: 'intl', match: { prefixes: ['00'], minLength: 8 }, class: 'international', rewrite: { strip: 0, prepend: '', e164: true }, target: { kind: 'trunks', trunks: ['carrier-a', 'pbx'] } })
    expect(dp.outbound[1]!.class).toBe('internal')
    expect(dp.inbound).toEqual([{ name: 'inbound[0]', trunk: 'carrier-a', dids: ['+4930123456'], target: { kind: 'user', user: 'carol' } }])
    expect(dp.trunks).toEqual([{ name: 'carrier-a', trusted: false }, { name: 'pbx', trusted: true, class: 'national' }])
    const plan = new DialPlan(dp)
    expect(plan.route({ caller: { kind: 'user', username: 'alice' }, dialed: '00442079460000' })).toMatchObject({ outcome: 'route', rewritten: '+442079460000' })
  })

  test('passwordEnv is read from the environment given', () => {
    const trunks = TRUNKS.replace('password: secret', 'passwordEnv: CARRIER_PW')
    const { r } = load({ 'trunks.yaml': trunks }, { CARRIER_PW: 'from-env' })
    if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'))
    expect(r.config.trunks[0]!.credentials).toEqual({ authUsername: '4930123456', password: 'from-env' })
    expect(errors({ 'trunks.yaml': trunks })).toEqual(['trunks.yaml:6 trunks[0].passwordEnv: environment variable CARRIER_PW is not set'])
  })

  test('the shipped sip-config/ defines no trunks and no rules, and loads to the defaults', () => {
    const r = loadConfig(REPO_CONFIG, {})
    if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'))
    expect(r.config.trunks).toEqual([])
    expect(r.config.dialPlan).toEqual(defaultConfig().dialPlan)
  })

  test('the shipped examples, uncommented, load and route as their comments say', () => {
    const uncomment = (name: string) => readFileSync(join(REPO_CONFIG, name), 'utf8').split('\n').map((l) => (l.startsWith('##') ? l : l.replace(/^# ?/, ''))).join('\n')
    const { r } = load({ 'users.yaml': readFileSync(join(REPO_CONFIG, 'users.yaml'), 'utf8'), 'trunks.yaml': uncomment('trunks.yaml'), 'dialplan.yaml': uncomment('dialplan.yaml') }, { CARRIER_A_PASSWORD: 'x' })
    if (!r.ok) throw new Error(r.errors.map(formatConfigError).join('\n'))
    expect(r.config.trunks.map((t) => t.name)).toEqual(['carrier-a', 'carrier-b', 'office-pbx'])
    expect(r.config.dialPlan.outbound.map((x) => x.name)).toEqual(['emergency', 'sales-line', 'extensions', 'premium', 'international', 'national'])
    const plan = new DialPlan(r.config.dialPlan)
    expect(plan.route({ caller: { kind: 'user', username: 'bob' }, dialed: '0900123456' }).outcome).toBe('forbidden')
    expect(plan.route({ caller: { kind: 'user', username: 'bob' }, dialed: '030123456' })).toMatchObject({ outcome: 'route', rewritten: '+4930123456' })
    expect(plan.route({ caller: { kind: 'trunk', trunk: 'carrier-a' }, dialed: '+4930123456' }).target).toMatchObject({ kind: 'ring-group', group: 'sales' })
  })
})

describe('errors as file:line field: message', () => {
  test('a broken dialplan.yaml (schema and semantics) is refused with file:line errors', () => {
    const broken = `classes: [internal, national]
defaultClass: national
userClasses:
  alice: premium
  dave: internal
ringGroups:
  - name: sales
    members: [alice, zed]
outbound:
  - name: intl
    prefix: ["00"]
    pattern: "([0-9]"
    minLength: 9
    maxLength: 4
    class: international
    e164: true
    trunks: [carrier-a, nowhere, carrier-a]
  - name: intl
    user: ghost
  - name: both
    user: alice
    ringGroup: sales
  - name: none
    prefix: ["1"]
inbound:
  - trunk: carrier-x
    user: alice
  - trunk: carrier-a
    did: ["100"]
    ringGroup: nope
  - trunk: carrier-a
    did: ["100"]
    user: bob
    pattern: "*"
`
    expect(errors({ 'trunks.yaml': TRUNKS, 'dialplan.yaml': broken })).toEqual([
      'dialplan.yaml:4 userClasses.alice: unknown class "premium": must be one of: internal, national',
      'dialplan.yaml:5 userClasses.dave: unknown user "dave" (not in users.yaml)',
      'dialplan.yaml:8 ringGroups[0].members[1]: unknown user "zed" (not in users.yaml)',
      'dialplan.yaml:12 outbound[0].pattern: not a regular expression: Invalid regular expression: missing )',
      'dialplan.yaml:13 outbound[0].minLength: must be <= maxLength (4)',
      'dialplan.yaml:15 outbound[0].class: unknown class "international": must be one of: internal, national',
      'dialplan.yaml:16 outbound[0].e164: needs numbering (countryCode, nationalPrefix, internationalPrefix) at the top of dialplan.yaml',
      'dialplan.yaml:17 outbound[0].trunks[1]: unknown trunk "nowhere" (not in trunks.yaml)',
      'dialplan.yaml:17 outbound[0].trunks[2]: trunk "carrier-a" is listed twice',
      'dialplan.yaml:18 outbound[1].name: duplicate rule name "intl" (also outbound[0])',
      'dialplan.yaml:19 outbound[1].user: unknown user "ghost" (not in users.yaml)',
      'dialplan.yaml:20 outbound[2]: give exactly one target of user, ringGroup or trunks',
      'dialplan.yaml:23 outbound[3]: needs a target: user, ringGroup or trunks',
      'dialplan.yaml:26 inbound[0].trunk: unknown trunk "carrier-x" (not in trunks.yaml)',
      'dialplan.yaml:26 inbound[0]: needs did (a list of numbers) or pattern',
      'dialplan.yaml:30 inbound[1].ringGroup: unknown ring group "nope"',
      'dialplan.yaml:34 inbound[2].pattern: not a regular expression: Invalid regular expression: nothing to repeat',
      'dialplan.yaml:32 inbound[2].did[0]: DID 100 of trunk carrier-a is already mapped by inbound[1]',
    ])
  })

  test('schema errors: unquoted numbers, unknown keys, wrong values, duplicate keys, YAML syntax', () => {
    const dp = `classes: [internal, internal]
numbering:
  countryCode: 49
  internationalPrefix: "00"
ringGroups:
  - name: sales
    strategy: round-robin
    members: []
outbound:
  - name: x
    prefix: [00]
    stripp: 1
    user: alice
    user: bob
`
    expect(errors({ 'dialplan.yaml': dp })).toEqual([
      'dialplan.yaml:14 outbound[0].user: duplicate key (first written at line 13)',
      'dialplan.yaml:3 numbering.countryCode: must be a string (got a number): write it in quotes',
      'dialplan.yaml:7 ringGroups[0].strategy: must be one of: parallel, sequential',
      'dialplan.yaml:8 ringGroups[0].members: must have at least 1 item',
      'dialplan.yaml:12 outbound[0].stripp: unknown key',
      'dialplan.yaml:11 outbound[0].prefix[0]: must be a string (got a number): write it in quotes',
    ])
    expect(errors({ 'dialplan.yaml': 'classes: [internal, internal]\n' })).toEqual(['dialplan.yaml:1 classes[1]: duplicate class "internal"'])
    expect(errors({ 'dialplan.yaml': 'outbound:\n  - name: a\n    prefix: ["0"\n' })[0]).toMatch(/^dialplan\.yaml:\d+ YAML syntax error: /)
  })

  test('trunks.yaml: schema and semantic errors, and a trunk class unknown to the dial plan', () => {
    const t = `trunks:
  - name: a
    type: registration
    host: "sip://carrier.example:5060"
    outboundProxy: "proxy.example"
    password: x
    passwordEnv: X_PW
    ha1: "${'0'.repeat(32)}"
  - name: a
    type: peer
    host: 2001:db8::1
    register: true
    ha1Sha256: "${'1'.repeat(64)}"
    realm: carrier
    inbound:
      addresses: [192.0.2.1, carrier.example, 10.0.0.0/33]
    class: gold
  - name: c
    type: tunnel
    host: h
    transport: sctp
    qualifySeconds: -1
`
    expect(errors({ 'trunks.yaml': t }, { X_PW: 'pw' })).toEqual([
      'trunks.yaml:19 trunks[2].type: must be one of: registration, peer',
      'trunks.yaml:21 trunks[2].transport: must be one of: udp, tcp, tls',
      'trunks.yaml:22 trunks[2].qualifySeconds: must be >= 0',
    ])
    expect(errors({ 'trunks.yaml': t.split('  - name: c')[0]! }, { X_PW: 'pw' })).toEqual([
      'trunks.yaml:4 trunks[0].host: must be an IP address or a DNS name (no scheme, no port: use port)',
      'trunks.yaml:5 trunks[0].outboundProxy: must be a sip: or sips: URI, e.g. sip:proxy.example.net;lr',
      'trunks.yaml:7 trunks[0].passwordEnv: give password or passwordEnv, not both',
      'trunks.yaml:8 trunks[0].ha1: needs realm (the realm the hash was computed for)',
      'trunks.yaml:2 trunks[0].username: is required for a registration trunk (the user to register)',
      'trunks.yaml:9 trunks[1].name: duplicate trunk name "a" (also trunks[0])',
      'trunks.yaml:12 trunks[1].register: only registration trunks register (type: registration)',
      'trunks.yaml:9 trunks[1].authUsername: credentials need authUsername (or username)',
      'trunks.yaml:16 trunks[1].inbound.addresses[1]: must be an IP address or a CIDR prefix (e.g. 192.0.2.10, 198.51.100.0/24)',
      'trunks.yaml:16 trunks[1].inbound.addresses[2]: must be an IP address or a CIDR prefix (e.g. 192.0.2.10, 198.51.100.0/24)',
      'trunks.yaml:17 trunks[1].class: unknown class "gold": must be one of: internal, national, international (dialplan.yaml classes)',
    ])
    expect(errors({ 'trunks.yaml': 'trunks:\n  - name: r\n    type: registration\n    host: 192.0.2.1\n    username: u\n' })).toEqual([
      'trunks.yaml:2 trunks[0].password: a registration trunk needs password, passwordEnv, ha1 or ha1Sha256',
    ])
  })

  test('reload safety: a broken dialplan.yaml next to good files refuses the whole directory', () => {
    const good = load({ 'trunks.yaml': TRUNKS, 'dialplan.yaml': DIALPLAN })
    expect(good.r.ok).toBe(true)
    writeFileSync(join(good.dir, 'dialplan.yaml'), DIALPLAN.replace('ringGroup: sales', 'ringGroup: salez'))
    const again = loadConfig(good.dir, {})
    expect(again.ok).toBe(false)
    if (again.ok) return
    expect(again.errors.map(formatConfigError)).toEqual([`${good.dir}/dialplan.yaml:20 outbound[1].ringGroup: unknown ring group "salez"`])
  })
})

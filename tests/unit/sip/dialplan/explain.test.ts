import { describe, expect, test } from 'bun:test'
import { DialPlan } from '../../../../gateway/src/sip/dialplan/dial-plan.ts'
import { explainRoute, parseCaller, parseDialed, type TrunkStatusSource } from '../../../../gateway/src/sip/dialplan/explain.ts'
import { formatExplanation } from '../../../../gateway/src/sip/dialplan/explain-format.ts'
import { fixturePlan } from './plan-fixture.ts'

const plan = new DialPlan(fixturePlan())

describe('parseCaller / parseDialed', () => {
  test('from: username, AOR, user@host, trunk:NAME, anonymous, a stranger', () => {
    expect(parseCaller('alice', plan)).toEqual({ caller: { kind: 'user', username: 'alice' }, note: null })
    expect(parseCaller('sip:bob@patchbay.test', plan).caller).toEqual({ kind: 'user', username: 'bob' })
    expect(parseCaller('carol@patchbay.test', plan).caller).toEqual({ kind: 'user', username: 'carol' })
    expect(parseCaller('trunk:carrier-a', plan).caller).toEqual({ kind: 'trunk', trunk: 'carrier-a' })
    expect(parseCaller('anonymous', plan)).toEqual({ caller: { kind: 'anonymous' }, note: null })
    const s = parseCaller('sip:mallory@evil.example', plan)
    expect(s.caller).toEqual({ kind: 'anonymous' })
    expect(s.note).toBe('sip:mallory@evil.example is not a local user: explained as an anonymous (unauthenticated) caller')
  })

  test('to: number, number with spaces, sip: and tel: URIs (escapes resolved)', () => {
    expect(parseDialed('0301234567')).toBe('0301234567')
    expect(parseDialed(' 030 1234 567 ')).toBe('0301234567')
    expect(parseDialed('sip:%2B4930123456@patchbay.test;user=phone')).toBe('+4930123456')
    expect(parseDialed('tel:+49-30-123456')).toBe('+49-30-123456')
    expect(parseDialed('bob@patchbay.test')).toBe('bob')
  })
})

describe('explainRoute', () => {
  const states: Record<string, { state: 'registered' | 'down'; detail: string }> = {
    'carrier-a': { state: 'registered', detail: 'expires in 512 s' },
    'carrier-b': { state: 'down', detail: 'no answer to OPTIONS for 96 s' },
  }
  const status: TrunkStatusSource = { status: (n) => states[n] ?? { state: 'unknown', detail: 'not running' } }

  test('trunk targets in order, each with its state', () => {
    const e = explainRoute(plan, 'alice', '00442079460000', status)
    expect(e.decision.outcome).toBe('route')
    expect(e.targets).toEqual([
      { kind: 'trunk', name: 'carrier-a', state: 'registered', detail: 'expires in 512 s' },
      { kind: 'trunk', name: 'carrier-b', state: 'down', detail: 'no answer to OPTIONS for 96 s' },
    ])
    expect(e.notes).toEqual([])
  })

  test('without a status source: unknown (no gateway asked)', () => {
    expect(explainRoute(plan, 'alice', '0900123').targets).toEqual([{ kind: 'trunk', name: 'carrier-a', state: 'unknown', detail: 'no gateway asked' }])
  })

  test('a note when every target trunk is down', () => {
    const e = explainRoute(plan, 'bob', '0301234567', { status: () => ({ state: 'down', detail: 'x' }) })
    expect(e.notes).toEqual(['every target trunk is down: the call would fail (503)'])
  })

  test('ring group members are the targets; a note explains transit from a trusted trunk', () => {
    expect(explainRoute(plan, 'carol', '200').targets).toEqual([{ kind: 'user', name: 'alice' }, { kind: 'user', name: 'bob' }])
    expect(explainRoute(plan, 'trunk:office-pbx', '0301234567').notes).toEqual(['trunk office-pbx is trusted: no DID rule matched, so the call transits with class national'])
  })

  test('the explanation is plain JSON (the admin API returns it as is)', () => {
    const e = explainRoute(plan, 'bob', '0900123456', status)
    expect(JSON.parse(JSON.stringify(e))).toEqual(e)
  })
})

describe('formatExplanation', () => {
  test('a routed call: rules with reasons, permission, rewrite, targets with state', () => {
    const states: TrunkStatusSource = {
      status: (n) => n === 'carrier-a' ? { state: 'registered', detail: 'expires in 512 s' } : { state: 'up', detail: 'OPTIONS 200 in 12 ms' },
    }
    expect(formatExplanation(explainRoute(plan, 'alice', '0044 20 7946 0000', states))).toBe([
      'explain alice -> 0044 20 7946 0000',
      'caller:      user alice (class international)',
      'dialed:      00442079460000',
      'rules:',
      '  1. emergency      no match: does not match /11[02]/',
      '  2. sales-line     no match: does not start with "200"; length 14 > 3',
      '  3. reception      no match: does not start with "9"; length 14 not in 1..1',
      '  4. premium        no match: does not match /0900[0-9]+/',
      '  5. international  MATCH     prefix "00", length 14 in 8..17',
      'permission:  allowed (user alice has class international >= international)',
      'rewritten:   00442079460000 -> +442079460000 (E.164: international prefix 00 -> +)',
      'outcome:     route: rule international -> trunks carrier-a, carrier-b',
      'targets:     trunks in failover order',
      '  1. carrier-a  registered (expires in 512 s)',
      '  2. carrier-b  up (OPTIONS 200 in 12 ms)',
    ].join('\n'))
  })

  test('a refused call: DENIED, 403, no targets', () => {
    const text = formatExplanation(explainRoute(plan, 'bob', '0900123456'))
    expect(text).toContain('  4. premium     MATCH     matches /0900[0-9]+/')
    expect(text).toContain('permission:  DENIED (user bob has class national < international)')
    expect(text).toContain('outcome:     forbidden 403: rule premium: user bob has class national < international')
    expect(text).not.toContain('targets:')
  })

  test('an unknown DID: 404 with the DID rules tried', () => {
    expect(formatExplanation(explainRoute(plan, 'trunk:carrier-a', '+4930999'))).toBe([
      'explain trunk:carrier-a -> +4930999',
      'caller:      trunk carrier-a',
      'dialed:      +4930999',
      'rules:',
      '  did 1. main-number   no match: not +4930123456 or 4930123456',
      '  did 2. alice-direct  no match: does not match /\\+49301234561[0-9]/',
      'outcome:     not-found 404: no DID rule of trunk carrier-a matches +4930999 (an untrusted trunk reaches DIDs only)',
    ].join('\n'))
  })

  test('a ring group and a local user', () => {
    const g = formatExplanation(explainRoute(plan, 'carol', '200'))
    expect(g).toContain('targets:     ring group sales, sequential, 15 s each\n  1. alice  user\n  2. bob    user')
    const u = formatExplanation(explainRoute(plan, 'anonymous', 'bob'))
    expect(u).toContain('  user bob  MATCH     a local username, dialed directly')
    expect(u).toContain('caller:      anonymous (unauthenticated)')
  })
})

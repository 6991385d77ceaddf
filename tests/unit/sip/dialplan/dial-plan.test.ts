import { describe, expect, test } from 'bun:test'
import { DialPlan } from '../../../../gateway/src/sip/dialplan/dial-plan.ts'
import { emptyDialPlan } from '../../../../gateway/src/sip/dialplan/dialplan-definition.ts'
import type { Caller } from '../../../../gateway/src/sip/dialplan/route-decision.ts'
import { fixturePlan } from './plan-fixture.ts'

const plan = new DialPlan(fixturePlan())
const alice: Caller = { kind: 'user', username: 'alice' }
const bob: Caller = { kind: 'user', username: 'bob' }
const carol: Caller = { kind: 'user', username: 'carol' }
const anonymous: Caller = { kind: 'anonymous' }

describe('outbound rules: order and conditions', () => {
  test('the first matching rule decides; the trace lists every rule above it with why it failed', () => {
    const d = plan.route({ caller: alice, dialed: '00442079460000' })
    expect(d.outcome).toBe('route')
    expect(d.status).toBeNull()
    expect(d.rule).toEqual({ kind: 'outbound', name: 'international', index: 4, reasons: ['prefix "00"', 'length 14 in 8..17'] })
    expect(d.trace.map((s) => [s.name, s.matched])).toEqual([
      ['emergency', false], ['sales-line', false], ['reception', false], ['premium', false], ['international', true],
    ])
    expect(d.trace[0]!.reasons).toEqual(['does not match /11[02]/'])
    expect(d.trace[1]!.reasons).toEqual(['does not start with "200"', 'length 14 > 3'])
    expect(d.trace[2]!.reasons).toEqual(['does not start with "9"', 'length 14 not in 1..1'])
    expect(d.target).toEqual({ kind: 'trunks', trunks: ['carrier-a', 'carrier-b'] })
  })

  test('patterns are anchored: 0900 inside a longer number does not match the premium rule', () => {
    const d = plan.route({ caller: bob, dialed: '03009001234' })
    expect(d.rule?.name).toBe('national')
    expect(d.trace.find((s) => s.name === 'premium')?.matched).toBe(false)
  })

  test('length range: 200 reaches the ring group, 2001 does not (no rule: 404)', () => {
    expect(plan.route({ caller: carol, dialed: '200' }).rule?.name).toBe('sales-line')
    const d = plan.route({ caller: carol, dialed: '2001' })
    expect(d.outcome).toBe('not-found')
    expect(d.status).toBe(404)
    expect(d.trace).toHaveLength(7)
    expect(d.trace.every((s) => !s.matched)).toBe(true)
    expect(d.reason).toBe('no rule matches 2001')
  })

  test('a rule without conditions matches everything', () => {
    const def = emptyDialPlan(['alice'])
    def.outbound.push({ name: 'catch-all', match: { prefixes: [] }, class: 'internal', rewrite: { strip: 0, prepend: '', e164: false }, target: { kind: 'user', user: 'alice' } })
    const d = new DialPlan(def).route({ caller: anonymous, dialed: 'whatever' })
    expect(d.rule?.reasons).toEqual(['no conditions: matches every number'])
    expect(d.target).toEqual({ kind: 'user', user: 'alice' })
  })

  test('visual separators are removed before matching (RFC 3966)', () => {
    const d = plan.route({ caller: bob, dialed: '030-1234.56(7)' })
    expect(d.number).toBe('0301234567')
    expect(d.rule?.name).toBe('national')
    expect(d.rewritten).toBe('+49301234567')
  })
})

describe('normalization', () => {
  test('E.164 from the international prefix and from the national prefix', () => {
    expect(plan.route({ caller: alice, dialed: '00442079460000' }).rewritten).toBe('+442079460000')
    const d = plan.route({ caller: bob, dialed: '0301234567' })
    expect(d.rewritten).toBe('+49301234567')
    expect(d.rewriteSteps).toEqual([{ step: 'e164', from: '0301234567', to: '+49301234567', detail: 'E.164: national prefix 0 -> +49' }])
  })

  test('a number already in E.164 stays', () => {
    expect(plan.route({ caller: alice, dialed: '+442079460000' }).rewritten).toBe('+442079460000')
  })

  test('strip, prepend, then E.164, in that order', () => {
    const d = plan.route({ caller: bob, dialed: '8301234567' })
    expect(d.rule?.name).toBe('outside-line')
    expect(d.rewriteSteps.map((s) => `${s.step}:${s.from}->${s.to}`)).toEqual([
      'strip:8301234567->301234567', 'prepend:301234567->0301234567', 'e164:0301234567->+49301234567',
    ])
    expect(d.rewritten).toBe('+49301234567')
  })

  test('no rewrite: rewritten equals the number', () => {
    const d = plan.route({ caller: carol, dialed: '112' })
    expect(d.rewritten).toBe('112')
    expect(d.rewriteSteps).toEqual([])
  })
})

describe('permissions', () => {
  test('a class below the rule class gets 403 and later rules are not tried', () => {
    const d = plan.route({ caller: bob, dialed: '0900123456' })
    expect(d.outcome).toBe('forbidden')
    expect(d.status).toBe(403)
    expect(d.target).toBeNull()
    expect(d.permission).toEqual({ callerClass: 'national', requiredClass: 'international', allowed: false, reason: 'user bob has class national < international' })
    expect(d.trace.at(-1)!.name).toBe('premium')
    expect(d.trace.some((s) => s.name === 'national')).toBe(false)
  })

  test('the same number is allowed to a user of the class', () => {
    const d = plan.route({ caller: alice, dialed: '0900123456' })
    expect(d.outcome).toBe('route')
    expect(d.permission).toMatchObject({ callerClass: 'international', requiredClass: 'international', allowed: true })
  })

  test('users without a class get the default class', () => {
    expect(plan.classOf('carol')).toBe('internal')
    const d = plan.route({ caller: carol, dialed: '0301234567' })
    expect(d.outcome).toBe('forbidden')
    expect(d.permission?.callerClass).toBe('internal')
    expect(plan.route({ caller: carol, dialed: '110' }).outcome).toBe('route')
  })

  test('anonymous callers never reach a trunk, even through a rule of the lowest class', () => {
    const d = plan.route({ caller: anonymous, dialed: '112' })
    expect(d.outcome).toBe('forbidden')
    expect(d.status).toBe(403)
    expect(d.permission).toMatchObject({ callerClass: null, allowed: false, reason: 'anonymous (unauthenticated) callers never reach a trunk' })
    for (const n of ['00442079460000', '0301234567', '0900123456', '8301234567']) {
      const x = plan.route({ caller: anonymous, dialed: n })
      expect(x.outcome).toBe('forbidden')
      expect(x.target).toBeNull()
    }
  })

  test('anonymous callers reach local targets through rules of the lowest class, and users by name', () => {
    expect(plan.route({ caller: anonymous, dialed: '200' }).target).toMatchObject({ kind: 'ring-group', group: 'sales' })
    expect(plan.route({ caller: anonymous, dialed: 'bob' }).target).toEqual({ kind: 'user', user: 'bob' })
  })

  test('anonymous callers may not use a local-target rule of a higher class', () => {
    const def = fixturePlan()
    def.outbound.unshift({ name: 'boss', match: { prefixes: ['777'] }, class: 'national', rewrite: { strip: 0, prepend: '', e164: false }, target: { kind: 'user', user: 'alice' } })
    const p = new DialPlan(def)
    expect(p.route({ caller: anonymous, dialed: '777' })).toMatchObject({ outcome: 'forbidden', status: 403 })
    expect(p.route({ caller: bob, dialed: '777' })).toMatchObject({ outcome: 'route', target: { kind: 'user', user: 'alice' } })
  })
})

describe('local users dialed directly', () => {
  test('a local username reaches the user without a rule, before the rules', () => {
    const d = plan.route({ caller: alice, dialed: 'bob' })
    expect(d.outcome).toBe('route')
    expect(d.rule).toEqual({ kind: 'local-user', name: 'bob', index: -1, reasons: ['a local username, dialed directly'] })
    expect(d.target).toEqual({ kind: 'user', user: 'bob' })
    expect(d.trace).toHaveLength(1)
  })

  test('an empty dial plan keeps today\'s behaviour: users by name, 404 otherwise', () => {
    const p = new DialPlan(emptyDialPlan(['alice', 'bob']))
    expect(p.route({ caller: alice, dialed: 'bob' }).target).toEqual({ kind: 'user', user: 'bob' })
    const d = p.route({ caller: alice, dialed: '0301234567' })
    expect(d).toMatchObject({ outcome: 'not-found', status: 404, rule: null, target: null, permission: null, rewritten: null })
    expect(d.reason).toContain('no outbound rules')
  })
})

describe('ring groups', () => {
  test('the target carries members in order, strategy and ring time', () => {
    expect(plan.route({ caller: carol, dialed: '200' }).target).toEqual({ kind: 'ring-group', group: 'sales', strategy: 'sequential', members: ['alice', 'bob'], ringSeconds: 15 })
    expect(plan.route({ caller: { kind: 'trunk', trunk: 'office-pbx' }, dialed: '500' }).target).toEqual({ kind: 'ring-group', group: 'support', strategy: 'parallel', members: ['bob', 'carol'], ringSeconds: 30 })
  })

  test('the decision is a copy: changing it does not change the plan', () => {
    const t = plan.route({ caller: carol, dialed: '200' }).target
    if (t?.kind !== 'ring-group') throw new Error('expected a ring group')
    t.members.push('mallory')
    expect(plan.route({ caller: carol, dialed: '200' }).target).toMatchObject({ members: ['alice', 'bob'] })
  })
})

describe('inbound: DIDs per trunk', () => {
  const carrierA: Caller = { kind: 'trunk', trunk: 'carrier-a' }

  test('an exact DID reaches its ring group; the DID rules are the trunk\'s own', () => {
    const d = plan.route({ caller: carrierA, dialed: '+4930123456' })
    expect(d.outcome).toBe('route')
    expect(d.rule).toMatchObject({ kind: 'inbound', name: 'main-number', index: 0 })
    expect(d.target).toMatchObject({ kind: 'ring-group', group: 'sales' })
    expect(d.permission).toMatchObject({ allowed: true, reason: 'DID rule of trunk carrier-a' })
    expect(plan.route({ caller: carrierA, dialed: '4930123456' }).rule?.name).toBe('main-number')
  })

  test('a DID pattern, with the rules above it in the trace', () => {
    const d = plan.route({ caller: carrierA, dialed: '+493012345617' })
    expect(d.target).toEqual({ kind: 'user', user: 'alice' })
    expect(d.trace).toEqual([
      { kind: 'inbound', name: 'main-number', index: 0, matched: false, reasons: ['not +4930123456 or 4930123456'] },
      { kind: 'inbound', name: 'alice-direct', index: 1, matched: true, reasons: ['matches /\\+49301234561[0-9]/'] },
    ])
  })

  test('an unknown DID from an untrusted trunk is 404, and never reaches outbound rules or users by name', () => {
    for (const n of ['+4930999', '00442079460000', 'alice', '112']) {
      const d = plan.route({ caller: carrierA, dialed: n })
      expect(d.outcome).toBe('not-found')
      expect(d.status).toBe(404)
      expect(d.trace.every((s) => s.kind === 'inbound')).toBe(true)
    }
  })

  test('another trunk\'s DID is not this trunk\'s', () => {
    expect(plan.route({ caller: { kind: 'trunk', trunk: 'carrier-b' }, dialed: '+4930123456' }).outcome).toBe('not-found')
  })

  test('an unknown trunk is 404', () => {
    expect(plan.route({ caller: { kind: 'trunk', trunk: 'nope' }, dialed: '+4930123456' })).toMatchObject({ outcome: 'not-found', reason: 'unknown trunk nope' })
  })
})

describe('transit from trusted trunks', () => {
  const pbx: Caller = { kind: 'trunk', trunk: 'office-pbx' }

  test('a trusted trunk transits with its class: national yes, international 403', () => {
    const d = plan.route({ caller: pbx, dialed: '0301234567' })
    expect(d.outcome).toBe('route')
    expect(d.target).toEqual({ kind: 'trunks', trunks: ['carrier-b', 'carrier-a'] })
    expect(d.permission).toMatchObject({ callerClass: 'national', allowed: true, reason: 'trusted trunk office-pbx has class national >= national' })
    expect(d.trace[0]).toMatchObject({ kind: 'inbound', name: 'support-line', matched: false })
    expect(plan.route({ caller: pbx, dialed: '00442079460000' })).toMatchObject({ outcome: 'forbidden', status: 403 })
  })

  test('a trusted trunk without a class gets the default class', () => {
    const d = plan.route({ caller: { kind: 'trunk', trunk: 'partner' }, dialed: '0301234567' })
    expect(d.outcome).toBe('forbidden')
    expect(d.permission?.callerClass).toBe('internal')
    expect(plan.route({ caller: { kind: 'trunk', trunk: 'partner' }, dialed: '112' }).outcome).toBe('route')
  })
})

describe('definition errors', () => {
  test('a class, ring group or numbering plan the definition lacks throws', () => {
    const a = fixturePlan()
    a.outbound[0]!.class = 'premium'
    expect(() => new DialPlan(a)).toThrow(/unknown calling class premium/)
    const b = fixturePlan()
    b.ringGroups = []
    expect(() => new DialPlan(b)).toThrow(/unknown ring group sales/)
    const c = fixturePlan()
    delete c.numbering
    expect(() => new DialPlan(c)).toThrow(/numbering plan/)
    const e = fixturePlan()
    e.outbound[0]!.match.pattern = '(['
    expect(() => new DialPlan(e)).toThrow(SyntaxError)
  })
})

describe('DIDs written with visual separators', () => {
  test('a configured DID matches the cleaned dialed number', () => {
    const def = fixturePlan()
    def.inbound[0]!.dids = ['+49-30-123456']
    const p = new DialPlan(def)
    expect(p.route({ caller: { kind: 'trunk', trunk: 'carrier-a' }, dialed: '+4930123456' }).rule?.name).toBe('main-number')
    expect(p.route({ caller: { kind: 'trunk', trunk: 'carrier-a' }, dialed: '+49(30)123456' }).rule?.name).toBe('main-number')
  })
})

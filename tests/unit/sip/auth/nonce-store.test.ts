import { describe, expect, test } from 'bun:test'
import { NonceStore } from '../../../../gateway/src/sip/auth/nonce-store.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'

function store(lifetime = 300, extra: { secret?: Uint8Array; maxTracked?: number } = {}) {
  const scheduler = new FakeScheduler()
  return { scheduler, nonces: new NonceStore({ scheduler, lifetime, ...extra }) }
}

function flipChar(s: string, i: number): string {
  const c = s[i] === 'A' ? 'B' : 'A'
  return s.slice(0, i) + c + s.slice(i + 1)
}

describe('NonceStore', () => {
  test('a fresh nonce is 43 base64url characters, unique, and checks ok with its timestamp', () => {
    const { scheduler, nonces } = store()
    const a = nonces.create()
    const b = nonces.create()
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(a).not.toBe(b)
    expect(nonces.check(a)).toEqual({ ok: true, issuedAt: scheduler.unixSeconds() })
  })

  test('a changed timestamp, random part or MAC is forged; junk is malformed', () => {
    const { nonces } = store()
    const n = nonces.create()
    expect(nonces.check(flipChar(n, 0))).toEqual({ ok: false, reason: 'forged' })
    expect(nonces.check(flipChar(n, 10))).toEqual({ ok: false, reason: 'forged' })
    expect(nonces.check(flipChar(n, 30))).toEqual({ ok: false, reason: 'forged' })
    expect(nonces.check('')).toEqual({ ok: false, reason: 'malformed' })
    expect(nonces.check(n + 'A')).toEqual({ ok: false, reason: 'malformed' })
    expect(nonces.check('7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v')).toEqual({ ok: false, reason: 'malformed' })
  })

  test('stale exactly after the lifetime', () => {
    const { scheduler, nonces } = store(300)
    const n = nonces.create()
    scheduler.advance(300_000)
    expect(nonces.check(n).ok).toBe(true)
    scheduler.advance(1_000)
    expect(nonces.check(n)).toEqual({ ok: false, reason: 'stale' })
  })

  test('workers sharing the secret verify each other; another secret does not', () => {
    const secret = new Uint8Array(32).fill(7)
    const scheduler = new FakeScheduler()
    const w1 = new NonceStore({ scheduler, lifetime: 60, secret })
    const w2 = new NonceStore({ scheduler, lifetime: 60, secret: secret.slice() })
    const other = new NonceStore({ scheduler, lifetime: 60 })
    const n = w1.create()
    expect(w2.check(n).ok).toBe(true)
    expect(other.check(n)).toEqual({ ok: false, reason: 'forged' })
  })

  test('nonce-count must grow: equal or lower counts are replays', () => {
    const { nonces } = store()
    const n = nonces.create()
    const c = nonces.check(n)
    if (!c.ok) throw new Error('fresh nonce refused')
    expect(nonces.acceptCount(n, c.issuedAt, 0)).toBe(false)
    expect(nonces.acceptCount(n, c.issuedAt, 1)).toBe(true)
    expect(nonces.acceptCount(n, c.issuedAt, 1)).toBe(false)
    expect(nonces.acceptCount(n, c.issuedAt, 3)).toBe(true)
    expect(nonces.acceptCount(n, c.issuedAt, 2)).toBe(false)
    expect(nonces.acceptCount(n, c.issuedAt, 4)).toBe(true)
  })

  test('counts of expired nonces are swept without a timer', () => {
    const { scheduler, nonces } = store(60)
    for (let i = 0; i < 5; i++) {
      const n = nonces.create()
      nonces.acceptCount(n, scheduler.unixSeconds(), 1)
    }
    expect(nonces.trackedCount).toBe(5)
    expect(scheduler.pendingCount).toBe(0)
    scheduler.advance(61_000)
    const fresh = nonces.create()
    nonces.acceptCount(fresh, scheduler.unixSeconds(), 1)
    expect(nonces.trackedCount).toBe(1)
  })

  test('over the cap the oldest counts go, and their nonces become stale instead of replayable', () => {
    const { scheduler, nonces } = store(300, { maxTracked: 2 })
    const a = nonces.create()
    nonces.acceptCount(a, scheduler.unixSeconds(), 1)
    scheduler.advance(1_000)
    const b = nonces.create()
    nonces.acceptCount(b, scheduler.unixSeconds(), 1)
    scheduler.advance(1_000)
    const c = nonces.create()
    nonces.acceptCount(c, scheduler.unixSeconds(), 1)
    expect(nonces.trackedCount).toBe(2)
    expect(nonces.check(a)).toEqual({ ok: false, reason: 'stale' })
    expect(nonces.check(b).ok).toBe(true)
    expect(nonces.check(c).ok).toBe(true)
  })

  test('bad options throw at construction (programming errors)', () => {
    const scheduler = new FakeScheduler()
    expect(() => new NonceStore({ scheduler, lifetime: 0 })).toThrow(RangeError)
    expect(() => new NonceStore({ scheduler, lifetime: 10, secret: new Uint8Array(4) })).toThrow(RangeError)
  })
})

test('only the canonical base64url spelling is accepted (padding bits of the last character are zero)', () => {
  const { nonces } = store()
  const n = nonces.create()
  const last = n[42]!
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  const sibling = alphabet[alphabet.indexOf(last) + 1]! // same 4 data bits, a padding bit set
  expect(nonces.check(n).ok).toBe(true)
  expect(nonces.check(n.slice(0, 42) + sibling)).toEqual({ ok: false, reason: 'malformed' })
})

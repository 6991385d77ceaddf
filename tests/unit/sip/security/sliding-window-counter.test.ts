import { describe, expect, test } from 'bun:test'
import { SlidingWindowCounter } from '../../../../gateway/src/sip/security/sliding-window-counter.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'

function counter(windowMs = 1000, maxKeys = 100) {
  const scheduler = new FakeScheduler()
  return { scheduler, c: new SlidingWindowCounter({ scheduler, windowMs, maxKeys }) }
}

describe('SlidingWindowCounter', () => {
  test('counts per key within one window', () => {
    const { c } = counter()
    expect(c.hit('a')).toBe(1)
    expect(c.hit('a')).toBe(2)
    expect(c.hit('b')).toBe(1)
    expect(c.hit('a', 3)).toBe(5)
    expect(c.count('a')).toBe(5)
    expect(c.count('b')).toBe(1)
    expect(c.count('nobody')).toBe(0)
  })

  test('events leave the window when it slides past them (sub-bucket precision)', () => {
    const { scheduler, c } = counter(1000) // 8 slots of 125 ms
    for (let i = 0; i < 10; i++) c.hit('a') // 10 events at t = 0, in slot [0, 125)
    scheduler.advance(999)
    expect(c.count('a')).toBe(10)
    scheduler.advance(1) // t = 1000: slot [0, 125) is the oldest, still wholly inside the window
    expect(c.count('a')).toBe(10)
    scheduler.advance(62.5) // half of it has left the window (assumed spread evenly)
    expect(c.count('a')).toBeCloseTo(5, 6)
    scheduler.advance(62.5)
    expect(c.count('a')).toBe(0)
  })

  test('a burst from nothing is counted exactly while it lasts less than a window', () => {
    const { scheduler, c } = counter(2000)
    scheduler.advance(1700) // the burst starts late in a slot and late in any fixed window
    let n = 0
    for (let i = 0; i < 2000; i++) { // 3000 events/s for 0.67 s
      n = c.hit('flood')
      scheduler.advance(1000 / 3000)
    }
    expect(n).toBe(2000)
  })

  test('the oldest sub-bucket is weighted by its overlap with the window ending now', () => {
    const { scheduler, c } = counter(1000, 100) // slots of 125 ms
    scheduler.advance(100)
    for (let i = 0; i < 8; i++) c.hit('a') // 8 events in slot 0 [0, 125)
    scheduler.advance(925) // t = 1025: window [25, 1025]; slot 0 is taken as 80 % inside
    expect(c.count('a')).toBeCloseTo(8 * 0.8, 6)
    expect(c.hit('a')).toBeCloseTo(8 * 0.8 + 1, 6)
  })

  test('a steady rate reads as that rate per window, whatever the phase', () => {
    const { scheduler, c } = counter(1000)
    let last = 0
    // 100 events per second, one every 10 ms, for 5 s.
    for (let i = 0; i < 500; i++) {
      last = c.hit('a')
      scheduler.advance(10)
    }
    expect(last).toBeGreaterThan(99)
    expect(last).toBeLessThanOrEqual(101)
  })

  test('the table never holds more than maxKeys: a flood of new keys evicts idle keys, never one in use', () => {
    const { c } = counter(60_000, 64)
    let busyHits = 0
    for (let i = 0; i < 10_000; i++) {
      if (i % 20 === 0) { c.hit('busy'); busyHits++ } // in use: touched every 20 new keys (a generation is 32)
      c.hit(`10.0.${i >> 8}.${i & 255}`)
      expect(c.size).toBeLessThanOrEqual(64)
    }
    expect(c.evicted).toBeGreaterThan(9_000)
    expect(c.count('busy')).toBe(busyHits) // never evicted: its count was never reset
    expect(c.count('10.0.0.0')).toBe(0) // idle: gone
  })

  test('eviction: two generations of maxKeys / 2; a key in use moves back to the young one and stays', () => {
    const { c } = counter(1000, 4) // generations of 2
    c.hit('a', 5)
    c.hit('b') // young {a, b}
    c.hit('c') // young full: old {a, b}, young {c}
    c.hit('a') // found in old: back into young {c, a}
    c.hit('d') // young full: old {c, a} (b dropped), young {d}
    expect(c.count('b')).toBe(0)
    expect(c.count('a')).toBe(6)
    expect(c.evicted).toBe(1)
    c.hit('e')
    c.hit('f') // young full: old {d, e}, young {f}: c and a dropped (a was idle since)
    expect(c.count('a')).toBe(0)
    expect(c.size).toBeLessThanOrEqual(4)
  })

  test('delete and clear forget keys; bad options throw', () => {
    const { c } = counter()
    c.hit('a')
    expect(c.delete('a')).toBe(true)
    expect(c.count('a')).toBe(0)
    c.hit('b')
    c.clear()
    expect(c.size).toBe(0)
    const scheduler = new FakeScheduler()
    expect(() => new SlidingWindowCounter({ scheduler, windowMs: 0, maxKeys: 1 })).toThrow(RangeError)
    expect(() => new SlidingWindowCounter({ scheduler, windowMs: 1, maxKeys: 1 })).toThrow(RangeError)
    expect(() => new SlidingWindowCounter({ scheduler, windowMs: 1, maxKeys: 2, slots: 0 })).toThrow(RangeError)
    expect(() => new SlidingWindowCounter({ scheduler, windowMs: 1, maxKeys: 2, slots: 1.5 })).toThrow(RangeError)
  })
})

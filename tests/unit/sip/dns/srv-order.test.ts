/**
 * RFC 2782 target order: priority groups ascending, weighted random order inside a group
 * (running sum with weight-0 records first), driven by injected random numbers.
 */
import { describe, expect, test } from 'bun:test'
import type { SrvRecord } from '../../../../gateway/src/sip/dns/dns-client.ts'
import { orderSrv } from '../../../../gateway/src/sip/dns/srv-order.ts'
import { sequence } from './fake-dns-client.ts'

const srv = (name: string, priority: number, weight: number, port = 5060): SrvRecord => ({ name, priority, weight, port })

/** mulberry32: a seeded uniform [0, 1) source, so the distribution test is reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('orderSrv (RFC 2782)', () => {
  test('lower priority values come first, whatever the answer order', () => {
    const out = orderSrv([srv('c', 30, 5), srv('a', 10, 5), srv('b', 20, 5)], sequence(0.5))
    expect(out.map((r) => r.name)).toEqual(['a', 'b', 'c'])
  })

  test('within a priority, the running sum picks by weight', () => {
    const group = [srv('a', 10, 60), srv('b', 10, 40)]
    // threshold floor(0 * 101) = 0: the first record whose running sum >= 0 is a.
    expect(orderSrv(group, sequence(0)).map((r) => r.name)).toEqual(['a', 'b'])
    // threshold floor(0.7 * 101) = 70: a's running sum 60 < 70, b's 100 >= 70.
    expect(orderSrv(group, sequence(0.7)).map((r) => r.name)).toEqual(['b', 'a'])
  })

  test('weight-0 records go first in the running sum, so they win only on threshold 0', () => {
    const group = [srv('heavy', 1, 10), srv('zero', 1, 0)]
    expect(orderSrv(group, sequence(0)).map((r) => r.name)).toEqual(['zero', 'heavy'])
    expect(orderSrv(group, sequence(0.5)).map((r) => r.name)).toEqual(['heavy', 'zero'])
  })

  test('all-zero weights keep every record', () => {
    const out = orderSrv([srv('a', 1, 0), srv('b', 1, 0), srv('c', 1, 0)], sequence(0.3, 0.9))
    expect(out.map((r) => r.name).sort()).toEqual(['a', 'b', 'c'])
  })

  test('first picks follow the weights (60/40 over 20000 seeded draws)', () => {
    const random = seeded(42)
    let aFirst = 0
    const runs = 20_000
    for (let i = 0; i < runs; i++) if (orderSrv([srv('a', 5, 60), srv('b', 5, 40)], random)[0]!.name === 'a') aFirst++
    expect(aFirst / runs).toBeGreaterThan(0.57)
    expect(aFirst / runs).toBeLessThan(0.63)
  })

  test('the input array is left as it was', () => {
    const input = [srv('b', 2, 1), srv('a', 1, 1)]
    orderSrv(input, sequence(0))
    expect(input.map((r) => r.name)).toEqual(['b', 'a'])
  })
})

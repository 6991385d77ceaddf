import { expect, test } from 'bun:test'
import { reconnectDelayMs } from '../../../../softphone/src/signaling/reconnect-backoff.ts'

test('back-off doubles from 1 s, is capped at 30 s and jittered by ±20 %', () => {
  expect([1, 2, 3, 4, 5, 6, 7].map((n) => reconnectDelayMs(n, 0.5))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000])
  expect(reconnectDelayMs(1, 0)).toBe(800)
  expect(reconnectDelayMs(1, 0.999999)).toBe(1200)
  expect(reconnectDelayMs(10, 0)).toBe(24000)
})

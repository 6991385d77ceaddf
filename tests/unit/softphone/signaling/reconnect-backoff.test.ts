import { expect, test } from 'bun:test'
import { ReconnectSchedule, reconnectDelayMs } from '../../../../softphone/src/signaling/reconnect-backoff.ts'

test('back-off doubles from 1 s, is capped at 30 s and jittered by ±20 %', () => {
  expect([1, 2, 3, 4, 5, 6, 7].map((n) => reconnectDelayMs(n, 0.5))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000])
  expect(reconnectDelayMs(1, 0)).toBe(800)
  expect(reconnectDelayMs(1, 0.999999)).toBe(1200)
  expect(reconnectDelayMs(10, 0)).toBe(24000)
})

test('ReconnectSchedule counts attempts, fires after the back-off, and a cleared attempt never fires', async () => {
  const schedule = new ReconnectSchedule(() => 0) // jitter 0: 800 ms, 1600 ms, ...
  let fired = 0
  const before = Date.now()
  const at = schedule.next(() => fired++)
  expect(schedule.attempt).toBe(1)
  expect(at - before).toBeGreaterThanOrEqual(800)
  expect(at - before).toBeLessThan(900)
  schedule.clear()
  const at2 = schedule.next(() => fired++) // replaces nothing pending; counts on
  expect(schedule.attempt).toBe(2)
  expect(at2 - Date.now()).toBeGreaterThan(1500)
  schedule.clear()
  await Bun.sleep(900)
  expect(fired).toBe(0)
})

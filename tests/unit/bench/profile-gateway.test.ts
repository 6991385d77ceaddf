import { describe, expect, test } from 'bun:test'
import { threadCpu, threadCpuDelta } from '../../../bench/lib/profile-gateway.ts'

describe('threadCpu (per-thread CPU from /proc for the bench profile)', () => {
  // /proc is Linux's, as is every machine the project runs and is tested on.
  test('counts the CPU this thread burns, by thread name, in seconds', () => {
    const before = threadCpu(process.pid)
    expect(before.size).toBeGreaterThan(0)
    const start = performance.now()
    let x = 0
    while (performance.now() - start < 300) x += Math.sqrt(x + 1) // ~0.3 s of user time on the JS thread
    const rows = threadCpuDelta(before, threadCpu(process.pid))
    const total = rows.reduce((s, r) => s + r.user + r.system, 0)
    // /proc counts in 10 ms ticks: 0.3 s busy shows as 0.2..0.6 s (other threads may add a little).
    expect(total).toBeGreaterThanOrEqual(0.2)
    expect(total).toBeLessThan(0.6)
    const js = rows[0]!
    expect(js.user).toBeGreaterThanOrEqual(0.2)
    expect(js.name).not.toMatch(/\d$/)
    expect(x).toBeGreaterThan(0)
  })

  test('a process that does not exist has no threads', () => {
    expect(threadCpu(2 ** 22 + 12345).size).toBe(0)
  })

  test('the delta keeps threads that used CPU, largest first, and drops idle ones', () => {
    const a = new Map([['bun', { name: 'bun', user: 1, system: 0.5 }], ['HeapHelper', { name: 'HeapHelper', user: 0.2, system: 0 }]])
    const b = new Map([
      ['bun', { name: 'bun', user: 1.5, system: 0.6 }],
      ['HeapHelper', { name: 'HeapHelper', user: 0.2, system: 0 }],
      ['JITWorker', { name: 'JITWorker', user: 0.9, system: 0 }],
    ])
    expect(threadCpuDelta(a, b)).toEqual([
      { name: 'JITWorker', user: 0.9, system: 0 },
      { name: 'bun', user: 0.5, system: 0.1 },
    ])
  })
})

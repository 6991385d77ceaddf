import { describe, expect, test } from 'bun:test'
import { combineTrunkStatus, trunkUsable, type TrunkStatus } from '../../../../gateway/src/sip/trunks/trunk-status.ts'

const reg: TrunkStatus = { name: 't', state: 'registered', detail: 'registered, expires in 40 s', since: 100, lastStatus: 200, expiresAt: 200, nextAttemptAt: 150 }
const up: TrunkStatus = { name: 't', state: 'up', detail: 'answered 200 OK in 3 ms', since: 90, lastStatus: 200, rttMs: 3 }
const down: TrunkStatus = { name: 't', state: 'down', detail: '3 OPTIONS unanswered (last: 408 Request Timeout)', since: 120, lastStatus: 408 }

describe('TrunkStatus', () => {
  test('trunkUsable: down and failed are not', () => {
    expect(['up', 'registered', 'unknown', 'registering', 'unregistered'].every((s) => trunkUsable(s as TrunkStatus['state']))).toBe(true)
    expect(trunkUsable('down')).toBe(false)
    expect(trunkUsable('failed')).toBe(false)
  })

  test('combineTrunkStatus: the worse state wins, details joined, rtt from qualify', () => {
    expect(combineTrunkStatus(reg, up)).toEqual({ ...reg, detail: 'registered, expires in 40 s; OPTIONS: answered 200 OK in 3 ms', rttMs: 3 })
    expect(combineTrunkStatus(reg, down)).toMatchObject({ state: 'down', since: 120, lastStatus: 408, expiresAt: 200 })
    const failed: TrunkStatus = { name: 't', state: 'failed', detail: '401 Unauthorized', since: 130, lastStatus: 401, nextAttemptAt: 140 }
    expect(combineTrunkStatus(failed, up)).toMatchObject({ state: 'failed', lastStatus: 401, rttMs: 3, nextAttemptAt: 140 })
    expect(combineTrunkStatus(undefined, up)).toBe(up)
    expect(combineTrunkStatus(reg, undefined)).toBe(reg)
    expect(combineTrunkStatus(undefined, undefined)).toBeUndefined()
  })
})

import { describe, expect, test } from 'bun:test'
import { endMessage, formatDuration, initials, isFailureEnd, partyName, partySubtitle } from '../../../../softphone/src/components/format.ts'
import { describeRegistration } from '../../../../softphone/src/components/pb-status.ts'
import { sparklinePoints } from '../../../../softphone/src/components/pb-quality-chart.ts'

describe('format helpers', () => {
  test('durations', () => {
    expect(formatDuration(0)).toBe('0:00')
    expect(formatDuration(75.9)).toBe('1:15')
    expect(formatDuration(3725)).toBe('1:02:05')
  })

  test('names, initials and the line under the name', () => {
    expect(partyName('', 'alice')).toBe('Alice')
    expect(partyName('  Bob Builder ', 'bob')).toBe('Bob Builder')
    expect(partyName('', '+15550100')).toBe('+15550100')
    expect(initials('Bob Builder')).toBe('BB')
    expect(initials('carol')).toBe('C')
    expect(initials('+1555')).toBe('#')
    expect(partySubtitle({ user: '+15550100', uri: 'sip:+15550100@d' })).toBe('+15550100')
    expect(partySubtitle({ user: 'bob', uri: 'sip:bob@patchbay.test;transport=ws' })).toBe('bob@patchbay.test')
  })

  test('why a call ended, with the display name', () => {
    expect(endMessage({ reason: 'busy', message: 'bob is busy.' }, 'Bob', 'outgoing')).toBe('Bob is busy.')
    expect(endMessage({ reason: 'declined', message: '' }, 'Bob', 'incoming')).toBe('You declined the call.')
    expect(endMessage({ reason: 'transferred', message: 'Transferred to carol.' }, 'Bob', 'outgoing')).toBe('Transferred to carol.')
    expect(isFailureEnd({ reason: 'remote-hangup' }, 'outgoing')).toBe(false)
    expect(isFailureEnd({ reason: 'not-found' }, 'outgoing')).toBe(true)
  })
})

describe('status pill text', () => {
  test('each registration state in words', () => {
    expect(describeRegistration({ status: 'registered', aor: 'sip:alice@patchbay.test', since: 0 }, 0)).toEqual({ tone: 'ok', label: 'Registered', detail: 'alice@patchbay.test' })
    expect(describeRegistration({ status: 'connecting', attempt: 0 }, 0).label).toBe('Connecting…')
    expect(describeRegistration({ status: 'failed', reason: 'unknown-user', message: 'Unknown user.' }, 0)).toEqual({ tone: 'error', label: 'Unknown user', detail: 'Not registered' })
    expect(describeRegistration({ status: 'reconnecting', reason: 'unreachable', message: 'Server unreachable.', attempt: 1, retryAt: 10_500 }, 6_000))
      .toEqual({ tone: 'error', label: 'Server unreachable', detail: 'Retrying in 5 s' })
  })
})

test('sparkline points are right-aligned and scaled to the larger of max and floor', () => {
  expect(sparklinePoints([{ t: 0, rttMs: 0 }, { t: 1, rttMs: 100 }], 'rttMs', 50, 3)).toBe('60.0,30.0 120.0,2.0')
  expect(sparklinePoints([{ t: 0 }, { t: 1, jitterMs: 10 }], 'jitterMs', 20, 2)).toBe('120.0,16.0')
})

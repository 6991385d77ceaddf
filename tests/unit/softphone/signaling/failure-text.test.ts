import { describe, expect, test } from 'bun:test'
import { describeCallFailure, describeRegistrationFailure } from '../../../../softphone/src/signaling/failure-text.ts'

describe('describeCallFailure', () => {
  test.each([
    [486, 'busy', 'Bob is busy.'],
    [600, 'busy', 'Bob is busy.'],
    [603, 'declined', 'Bob declined the call.'],
    [404, 'not-found', 'Bob was not found. Check the name or number.'],
    [604, 'not-found', 'Bob was not found. Check the name or number.'],
    [480, 'unavailable', 'Bob is not available right now.'],
    [408, 'no-answer', 'Bob did not answer.'],
    [488, 'incompatible', "Bob's phone cannot handle this call's audio."],
    [403, 'forbidden', 'You are not allowed to make this call.'],
    [503, 'network', 'The phone service is unavailable. Try again in a moment.'],
    [502, 'network', 'Bob could not be reached.'],
    [504, 'network', 'Bob could not be reached.'],
    [500, 'network', 'The phone service failed (500).'],
    [606, 'incompatible', "Bob's phone cannot handle this call's audio."],
    [600, 'busy', 'Bob is busy.'],
    [499, 'failed', 'The call failed (499).'],
  ] as const)('%i -> %s', (code, reason, message) => {
    expect(describeCallFailure(code, 'Bob')).toEqual({ reason, statusCode: code, message })
  })

  test('no name: a neutral subject', () => {
    expect(describeCallFailure(486, '').message).toBe('The other party is busy.')
  })
})

describe('describeRegistrationFailure', () => {
  test('credentials rejected after the challenge: wrong password, permanent', () => {
    for (const code of [401, 403, 407]) {
      expect(describeRegistrationFailure(code)).toEqual({ reason: 'wrong-password', message: 'Wrong password.', permanent: true })
    }
  })

  test('404: unknown user, permanent', () => {
    expect(describeRegistrationFailure(404)).toEqual({ reason: 'unknown-user', message: 'Unknown user.', permanent: true })
  })

  test('timeouts and 5xx are transient', () => {
    expect(describeRegistrationFailure(408).permanent).toBe(false)
    expect(describeRegistrationFailure(503)).toMatchObject({ reason: 'server-error', permanent: false })
  })
})

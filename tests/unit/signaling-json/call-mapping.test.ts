/**
 * The small pure mappings of the JSON leg: what a SIP final status means to the user
 * (`ended.cause`), and which SIP URI a JSON `to` names.
 */
import { describe, expect, test } from 'bun:test'
import { endCauseOf } from '../../../gateway/src/signaling-json/sip-leg/end-cause.ts'
import { targetUri } from '../../../gateway/src/signaling-json/json-session.ts'

describe('endCauseOf (RFC 3261 §21 statuses as a phone shows them)', () => {
  test.each([
    [200, 'hangup'], [486, 'busy'], [600, 'busy'], [603, 'declined'], [403, 'declined'], [404, 'not-found'],
    [484, 'not-found'], [604, 'not-found'], [480, 'unavailable'], [408, 'no-answer'], [487, 'cancelled'],
    [488, 'incompatible-media'], [606, 'incompatible-media'], [503, 'unreachable'], [500, 'unreachable'],
    [482, 'failed'], [401, 'failed'],
  ] as const)('%i -> %s', (status, cause) => {
    expect(endCauseOf(status)).toBe(cause)
  })
})

describe('targetUri', () => {
  test('a user, a user@host, a SIP URI; junk refused', () => {
    expect(targetUri('bob', 'patchbay.test')).toBe('sip:bob@patchbay.test')
    expect(targetUri(' 1001 ', 'patchbay.test')).toBe('sip:1001@patchbay.test')
    expect(targetUri('bob@pbx.example', 'patchbay.test')).toBe('sip:bob@pbx.example')
    expect(targetUri('sips:bob@pbx.example;transport=tls', 'patchbay.test')).toBe('sips:bob@pbx.example;transport=tls')
    expect(targetUri('bob smith', 'patchbay.test')).toBeNull()
    expect(targetUri('<sip:bob@x>', 'patchbay.test')).toBeNull()
    expect(targetUri('', 'patchbay.test')).toBeNull()
  })
})

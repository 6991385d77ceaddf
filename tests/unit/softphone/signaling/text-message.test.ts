import { describe, expect, test } from 'bun:test'
import { describeMessageFailure, incomingTextMessage, prepareMessage } from '../../../../softphone/src/signaling/text-message.ts'

describe('text messages, protocol-neutral parts', () => {
  test('final responses map to offline / not-found / failed with a sentence', () => {
    expect(describeMessageFailure(480, 'bob')).toEqual({ ok: false, reason: 'offline', statusCode: 480, message: 'bob is offline.' })
    expect(describeMessageFailure(404, 'zed')).toEqual({ ok: false, reason: 'not-found', statusCode: 404, message: 'No such user: zed.' })
    expect(describeMessageFailure(604, 'zed')).toMatchObject({ reason: 'not-found' })
    expect(describeMessageFailure(415, 'bob')).toMatchObject({ reason: 'failed', message: 'bob cannot receive text messages.' })
    expect(describeMessageFailure(503, 'bob')).toMatchObject({ reason: 'failed', statusCode: 503 })
  })

  test('prepareMessage resolves the address and refuses empty or oversized text', () => {
    expect(prepareMessage('bob', 'hi', 'patchbay.test')).toEqual({ ok: true, uri: 'sip:bob@patchbay.test', user: 'bob' })
    expect(prepareMessage('sip:carol@pbx.example', 'hi', 'patchbay.test')).toEqual({ ok: true, uri: 'sip:carol@pbx.example', user: 'carol' })
    expect(prepareMessage('bob', ' \n ', 'patchbay.test').ok).toBe(false)
    expect(prepareMessage('bob', 'x'.repeat(4097), 'patchbay.test').ok).toBe(false)
    expect(prepareMessage('not an address', 'hi', 'patchbay.test').ok).toBe(false)
  })

  test('incomingTextMessage reads a name-addr or a URI with parameters', () => {
    expect(incomingTextMessage('"Bob" <sip:bob@patchbay.test;transport=ws>', 'Bob', 'hi', 5)).toEqual({
      from: 'sip:bob@patchbay.test', user: 'bob', displayName: 'Bob', text: 'hi', at: 5,
    })
    expect(incomingTextMessage('sip:%2B1555@patchbay.test', '', 'x', 1).user).toBe('+1555')
    expect(incomingTextMessage('sip:%zz@patchbay.test', '', 'x', 1).user).toBe('%zz')
  })
})

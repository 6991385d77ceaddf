/**
 * Frame decoding of the JSON signaling protocol (gateway/src/signaling-json/decode.ts): every
 * refusal names its code and, for a bad field, the field's JSON pointer; accepted messages
 * lose unknown properties.
 */
import { describe, expect, test } from 'bun:test'
import { decodeClientFrame } from '../../../gateway/src/signaling-json/decode.ts'
import { ClientMessages, MAX_FRAME_BYTES } from '../../../gateway/src/signaling-json/protocol.ts'

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n'

function refused(frame: string | Uint8Array) {
  const r = decodeClientFrame(frame)
  if (r.ok) throw new Error(`accepted: ${JSON.stringify(r.message)}`)
  return r.error
}

describe('decodeClientFrame', () => {
  test('a valid message of every client type is accepted', () => {
    const samples: Record<keyof typeof ClientMessages, object> = {
      login: { type: 'login', id: '1', username: 'alice', proof: 'a'.repeat(64) },
      attach: { type: 'attach', id: '2', token: 't'.repeat(32) },
      call: { type: 'call', callId: 'c1', to: 'bob', sdp: SDP },
      answer: { type: 'answer', callId: 'c1', sdp: SDP },
      reject: { type: 'reject', callId: 'c1', status: 603 },
      hangup: { type: 'hangup', callId: 'c1' },
      reoffer: { type: 'reoffer', callId: 'c1', sdp: SDP },
      transfer: { type: 'transfer', callId: 'c1', to: 'carol' },
      candidate: { type: 'candidate', callId: 'c1', candidate: '', sdpMid: null },
      message: { type: 'message', id: 'm', to: 'bob', text: 'hi' },
      ping: { type: 'ping' },
      logout: { type: 'logout' },
    }
    for (const [type, sample] of Object.entries(samples)) {
      const r = decodeClientFrame(JSON.stringify(sample))
      expect(r.ok, `${type}: ${JSON.stringify(r)}`).toBe(true)
    }
  })

  test('unknown properties are dropped (forward compatibility without passing junk on)', () => {
    const r = decodeClientFrame(JSON.stringify({ type: 'hangup', callId: 'c1', extra: { deep: 1 } }))
    expect(r.ok && r.message).toEqual({ type: 'hangup', callId: 'c1' })
  })

  test('not JSON, binary, arrays and primitives are bad-json', () => {
    expect(refused('{"type":').code).toBe('bad-json')
    expect(refused(new Uint8Array([123, 125])).code).toBe('bad-json')
    expect(refused('[]').code).toBe('bad-json')
    expect(refused('42').code).toBe('bad-json')
    expect(refused('null').code).toBe('bad-json')
  })

  test('too large by characters or by UTF-8 bytes', () => {
    expect(refused('{"type":"ping","p":"' + 'x'.repeat(MAX_FRAME_BYTES) + '"}').code).toBe('too-large')
    // 30,000 three-byte characters: under the limit in characters, over it in bytes.
    expect(refused('{"type":"ping","p":"' + '€'.repeat(30_000) + '"}').code).toBe('too-large')
  })

  test('missing or unknown type names /type and echoes id and callId', () => {
    expect(refused('{"id":"x"}')).toMatchObject({ code: 'unknown-type', field: '/type', id: 'x' })
    expect(refused('{"type":"fax","callId":"c9"}')).toMatchObject({ code: 'unknown-type', field: '/type', callId: 'c9' })
    expect(refused('{"type":"__proto__"}').code).toBe('unknown-type')
    expect(refused('{"type":"toString"}').code).toBe('unknown-type')
  })

  test('a missing field is named as required; a malformed one with what is wrong', () => {
    const missing = refused(JSON.stringify({ type: 'call', callId: 'c1', to: 'bob' }))
    expect(missing).toMatchObject({ code: 'invalid-field', field: '/sdp', callId: 'c1' })
    expect(missing.message).toContain('sdp is required')
    const badStatus = refused(JSON.stringify({ type: 'reject', callId: 'c1', status: 500 }))
    expect(badStatus).toMatchObject({ code: 'invalid-field', field: '/status' })
    const badCallId = refused(JSON.stringify({ type: 'hangup', callId: 'has space' }))
    expect(badCallId).toMatchObject({ code: 'invalid-field', field: '/callId' })
    const emptyText = refused(JSON.stringify({ type: 'message', id: 'm', to: 'bob', text: '' }))
    expect(emptyText).toMatchObject({ code: 'invalid-field', field: '/text', id: 'm' })
  })
})

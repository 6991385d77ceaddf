/**
 * The JSON client's pure parts: the login proof against node:crypto, the `ended` cause table,
 * the server frame checks, the signaling mode choice and the client-config field.
 */
import { describe, expect, test } from 'bun:test'
import { createHash, createHmac } from 'node:crypto'
import { loginProof } from '../../../../../softphone/src/signaling/json/login-proof.ts'
import { describeJsonCallEnd, transferErrorText } from '../../../../../softphone/src/signaling/json/json-call-end.ts'
import { parseServerFrame } from '../../../../../softphone/src/signaling/json/json-protocol.ts'
import { remoteParty } from '../../../../../softphone/src/signaling/json/json-call.ts'
import { parseClientConfig } from '../../../../../softphone/src/signaling/client-config.ts'
import { chooseSignalingMode, SettingsStore } from '../../../../../softphone/src/storage/settings-store.ts'
import { MemoryStorage } from './fakes.ts'

describe('login proof', () => {
  test.each([
    ['alice', 'patchbay.test', 'alice-demo', 'kW2q-nonce'],
    ['bøb', 'réalm', 'pässwörd ✓', 'ñonce/+=='],
  ])('%s@%s equals the node:crypto computation', async (user, realm, password, nonce) => {
    const ha1 = createHash('sha256').update(`${user}:${realm}:${password}`).digest('hex')
    const expected = createHmac('sha256', ha1).update(nonce).digest('hex')
    const proof = await loginProof(user, realm, password, nonce)
    expect(proof).toBe(expected)
    expect(proof).toMatch(/^[0-9a-f]{64}$/)
    expect(await loginProof(user, realm, `${password}x`, nonce)).not.toBe(expected)
    expect(await loginProof(user, realm, password, `${nonce}x`)).not.toBe(expected)
  })
})

describe('ended -> CallEnd', () => {
  const out = { who: 'Bob', direction: 'outgoing', wasConnected: false } as const
  const ended = (cause: string, status: number, by: 'local' | 'remote' | 'gateway' = 'remote') =>
    ({ type: 'ended', callId: 'c1', status, cause, by }) as Parameters<typeof describeJsonCallEnd>[0]

  test.each([
    ['hangup', 200, 'local', 'local-hangup'],
    ['hangup', 200, 'remote', 'remote-hangup'],
    ['hangup', 200, 'gateway', 'remote-hangup'],
    ['cancelled', 487, 'local', 'cancelled'],
    ['busy', 486, 'remote', 'busy'],
    ['busy', 600, 'remote', 'busy'],
    ['declined', 603, 'remote', 'declined'],
    ['unavailable', 480, 'remote', 'unavailable'],
    ['not-found', 404, 'remote', 'not-found'],
    ['no-answer', 408, 'remote', 'no-answer'],
    ['incompatible-media', 488, 'remote', 'incompatible'],
    ['unreachable', 503, 'gateway', 'network'],
    ['failed', 500, 'remote', 'failed'],
    ['failed', 408, 'gateway', 'failed'],
    ['something-new', 499, 'remote', 'failed'],
  ] as const)('%s %i by %s -> %s', (cause, status, by, reason) => {
    const end = describeJsonCallEnd(ended(cause, status, by), out)
    expect(end.reason).toBe(reason)
    expect(end.statusCode).toBe(status)
    expect(end.message.length).toBeGreaterThan(5)
  })

  test('sentences name the other party', () => {
    expect(describeJsonCallEnd(ended('busy', 486), out).message).toBe('Bob is busy.')
    expect(describeJsonCallEnd(ended('hangup', 200), out).message).toBe('Bob hung up.')
    expect(describeJsonCallEnd(ended('failed', 408, 'gateway'), out).message).toBe('The call failed (408).')
  })

  test('every failure a user can meet says why: busy, declined, not found, unreachable, no common codec', () => {
    expect(describeJsonCallEnd(ended('busy', 600), out).message).toBe('Bob is busy.')
    expect(describeJsonCallEnd(ended('declined', 603), out).message).toBe('Bob declined the call.')
    expect(describeJsonCallEnd(ended('declined', 403), out).message).toBe('Bob declined the call.')
    expect(describeJsonCallEnd(ended('not-found', 404), out).message).toBe('Bob was not found. Check the name or number.')
    expect(describeJsonCallEnd(ended('not-found', 484), out).message).toBe('The number is incomplete.')
    expect(describeJsonCallEnd(ended('unreachable', 504, 'gateway'), out).message).toBe('Bob could not be reached.')
    expect(describeJsonCallEnd(ended('unreachable', 502, 'gateway'), out).message).toBe('Bob could not be reached.')
    expect(describeJsonCallEnd(ended('unreachable', 503, 'gateway'), out).message).toBe('The phone service is unavailable. Try again in a moment.')
    for (const status of [488, 606, 415]) {
      expect(describeJsonCallEnd(ended('incompatible-media', status), out)).toMatchObject({ reason: 'incompatible', message: "Bob's phone cannot handle this call's audio." })
    }
  })

  test('a failed transfer says why', () => {
    const error = (code: string, status?: number) => ({ type: 'error', code, message: 'x', callId: 'c1', ...(status !== undefined ? { status } : {}) }) as Parameters<typeof transferErrorText>[0]
    expect(transferErrorText(error('transfer-failed', 486), 'carol')).toBe('Transfer failed: carol is busy.')
    expect(transferErrorText(error('transfer-failed', 404), 'carol')).toBe('Transfer failed: carol was not found. Check the name or number.')
    expect(transferErrorText(error('transfer-failed'), 'carol')).toBe('Transfer failed.')
    expect(transferErrorText(error('invalid-field'), 'x y')).toBe('Transfer failed: “x y” is not a valid address.')
  })

  test('an incoming call the caller cancelled is missed; one we declined says so', () => {
    const incoming = { who: 'Carol', direction: 'incoming', wasConnected: false } as const
    expect(describeJsonCallEnd(ended('cancelled', 487), incoming)).toMatchObject({ reason: 'missed', message: 'Missed call from Carol.' })
    expect(describeJsonCallEnd(ended('declined', 603, 'local'), incoming)).toMatchObject({ reason: 'declined', message: 'You declined the call.' })
  })
})

describe('server frames', () => {
  test('good frames parse; extra fields are kept harmlessly', () => {
    expect(parseServerFrame('{"type":"pong"}')).toEqual({ type: 'pong' })
    expect(parseServerFrame(JSON.stringify({ type: 'answered', callId: 'c1', sdp: 'v=0', x: 1 }))).toMatchObject({ type: 'answered', callId: 'c1' })
  })

  test.each([
    ['binary', new Uint8Array([123, 125])],
    ['not JSON', '{'],
    ['array', '[]'],
    ['unknown type', '{"type":"teleport"}'],
    ['prototype key as type', '{"type":"toString"}'],
    ['answered without sdp', '{"type":"answered","callId":"c1"}'],
    ['ended with a bad by', '{"type":"ended","callId":"c1","status":200,"cause":"hangup","by":"me"}'],
    ['challenge of another version', '{"type":"challenge","version":2,"realm":"r","nonce":"n","algorithm":"HMAC-SHA-256"}'],
    ['session with a bad call', '{"type":"session","id":"1","username":"a","aor":"sip:a@b","token":"t","graceSeconds":30,"calls":[{"callId":"c"}]}'],
  ])('%s is dropped', (_name, frame) => {
    expect(parseServerFrame(frame)).toBeUndefined()
  })
})

describe('remote party from a peer URI', () => {
  test('user part, URI and display name', () => {
    expect(remoteParty('sip:bob@patchbay.test')).toEqual({ user: 'bob', uri: 'sip:bob@patchbay.test', displayName: '' })
    expect(remoteParty('"Bob" <sip:bob@host;transport=ws>', 'Bob')).toEqual({ user: 'bob', uri: 'sip:bob@host;transport=ws', displayName: 'Bob' })
  })
})

describe('signaling mode and client-config', () => {
  test('the URL parameter wins over the stored preference; SIP by default', () => {
    expect(chooseSignalingMode('', undefined)).toBe('sip')
    expect(chooseSignalingMode('', 'json')).toBe('json')
    expect(chooseSignalingMode('?signaling=json&test=1', 'sip')).toBe('json')
    expect(chooseSignalingMode('?signaling=sip', 'json')).toBe('sip')
    expect(chooseSignalingMode('?signaling=carrier-pigeon', 'json')).toBe('json')
  })

  test('the preference is stored and read back; junk is ignored', () => {
    const storage = new MemoryStorage()
    const store = new SettingsStore(storage as unknown as Storage)
    expect(store.savePreferences({ signaling: 'json' }).signaling).toBe('json')
    storage.setItem('pb.preferences', JSON.stringify({ signaling: 'xml' }))
    expect(store.loadPreferences().signaling).toBeUndefined()
  })

  test('jsonWebSocketPath is optional: a path, null (off), or absent', () => {
    const base = { domain: 'patchbay.test', sipWebSocketPath: '/sip', iceServersPath: '/api/ice-servers' }
    expect(parseClientConfig({ ...base, jsonWebSocketPath: '/json' })).toEqual({ ...base, jsonWebSocketPath: '/json' })
    expect(parseClientConfig({ ...base, jsonWebSocketPath: null })).toEqual({ ...base, jsonWebSocketPath: null })
    expect(parseClientConfig(base)).toEqual(base)
    expect(parseClientConfig({ ...base, jsonWebSocketPath: 'json' })).toEqual(base)
  })
})

import { describe, expect, test } from 'bun:test'
import { candidateTypeOf, IceGatheringPolicy } from '../../../../softphone/src/signaling/ice-gathering-policy.ts'

describe('candidateTypeOf', () => {
  test('reads RTCIceCandidate.type or the typ of the candidate line (RFC 8445 §5.1.1)', () => {
    expect(candidateTypeOf({ type: 'srflx' })).toBe('srflx')
    expect(candidateTypeOf({ candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0' })).toBe('host')
    expect(candidateTypeOf({ type: null, candidate: 'candidate:2 1 udp 41885439 10.0.0.1 3478 typ relay raddr 0.0.0.0 rport 0' })).toBe('relay')
    expect(candidateTypeOf({ candidate: '' })).toBeUndefined()
  })
})

describe('IceGatheringPolicy', () => {
  test('no ICE servers: one host candidate is enough', () => {
    const p = IceGatheringPolicy.fromConfiguration({ iceServers: [] })
    expect(p.usable).toBe(false)
    expect(p.add('host')).toBe(true)
  })

  test('with STUN: waits for a srflx candidate', () => {
    const p = IceGatheringPolicy.fromConfiguration({ iceServers: [{ urls: 'stun:127.0.0.1:3478' }] })
    expect(p.add('host')).toBe(false)
    expect(p.add('srflx')).toBe(true)
  })

  test('with TURN: host plus relay (or srflx)', () => {
    const p = IceGatheringPolicy.fromConfiguration({ iceServers: [{ urls: ['turn:127.0.0.1:3479?transport=udp'], username: 'u', credential: 'c' }] })
    expect(p.add('host')).toBe(false)
    expect(p.add('relay')).toBe(true)
    const q = IceGatheringPolicy.fromConfiguration({ iceServers: [{ urls: ['stun:a', 'turn:b'] }] })
    q.add('srflx')
    expect(q.usable).toBe(false)
    expect(q.add('host')).toBe(true)
  })

  test('relay-only policy: nothing but a relay candidate counts', () => {
    const p = IceGatheringPolicy.fromConfiguration({ iceServers: [{ urls: 'turn:b' }], iceTransportPolicy: 'relay' })
    expect(p.add('host')).toBe(false)
    expect(p.add('srflx')).toBe(false)
    expect(p.add('relay')).toBe(true)
  })
})

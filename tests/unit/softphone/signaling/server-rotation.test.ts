/**
 * Failover between gateway nodes (issue 14): which WebSocket URL a softphone connects to next
 * (ServerRotation), and the node lists of the client-config (parseClientConfig).
 */
import { describe, expect, test } from 'bun:test'
import { ServerRotation } from '../../../../softphone/src/signaling/server-rotation.ts'
import { parseClientConfig } from '../../../../softphone/src/signaling/client-config.ts'

const B = 'ws://127.0.0.1:8002/sip'
const A = 'ws://127.0.0.1:8001/sip'
const C = 'wss://c.example.com/sip'

describe('ServerRotation', () => {
  test('starts on the first URL and stays there while it works', () => {
    const r = new ServerRotation([B, A])
    expect(r.current).toBe(B)
    r.succeeded()
    expect(r.current).toBe(B)
  })

  test('one failed reconnect to the same node moves on to the next', () => {
    const r = new ServerRotation([B, A])
    // The connection to B was lost: the first retry goes to B again; it fails.
    expect(r.failed()).toBe(true)
    expect(r.current).toBe(A)
  })

  test('keeps cycling through the list, wrapping round', () => {
    const r = new ServerRotation([B, A, C])
    const seen = [r.current]
    for (let i = 0; i < 4; i++) {
      r.failed()
      seen.push(r.current)
    }
    expect(seen).toEqual([B, A, C, B, A])
  })

  test('a success resets the count of failures on the current node', () => {
    const r = new ServerRotation([B, A], 2)
    expect(r.failed()).toBe(false)
    r.succeeded()
    expect(r.failed()).toBe(false)
    expect(r.current).toBe(B)
    expect(r.failed()).toBe(true)
    expect(r.current).toBe(A)
  })

  test('a single URL never moves', () => {
    const r = new ServerRotation([B])
    expect(r.failed()).toBe(false)
    expect(r.failed()).toBe(false)
    expect(r.current).toBe(B)
    expect(r.size).toBe(1)
  })

  test('an empty list is refused', () => {
    expect(() => new ServerRotation([])).toThrow(RangeError)
  })
})

describe('parseClientConfig node lists', () => {
  const base = { domain: 'patchbay.test', sipWebSocketPath: '/sip', iceServersPath: '/api/ice-servers' }

  test('keeps the ws:/wss: URLs in order', () => {
    const c = parseClientConfig({ ...base, sipWebSocketUrls: [B, A, C], jsonWebSocketUrls: ['ws://127.0.0.1:8002/json'] })
    expect(c?.sipWebSocketUrls).toEqual([B, A, C])
    expect(c?.jsonWebSocketUrls).toEqual(['ws://127.0.0.1:8002/json'])
  })

  test('drops entries that are not WebSocket URLs; an empty or missing list is absent', () => {
    const c = parseClientConfig({ ...base, sipWebSocketUrls: ['http://x/sip', 7, 'not a url', A], jsonWebSocketUrls: [] })
    expect(c?.sipWebSocketUrls).toEqual([A])
    expect(c && 'jsonWebSocketUrls' in c).toBe(false)
    const old = parseClientConfig(base)
    expect(old && 'sipWebSocketUrls' in old).toBe(false)
    expect(old?.domain).toBe('patchbay.test')
  })
})

import { describe, expect, test } from 'bun:test'
import {
  basicAuthorization,
  fetchIceServers,
  hasTurnServer,
  loadClientConfig,
  normaliseServer,
  parseClientConfig,
  parseIceServers,
  webSocketUrl,
} from '../../../../softphone/src/signaling/client-config.ts'

describe('server address', () => {
  test('empty means the page origin; bare hosts take the page scheme', () => {
    expect(normaliseServer('', 'https://pbx.example')).toBe('https://pbx.example')
    expect(normaliseServer('other.example:8443', 'https://pbx.example')).toBe('https://other.example:8443')
    expect(normaliseServer('http://127.0.0.1:8080/some/path', 'https://x')).toBe('http://127.0.0.1:8080')
    expect(normaliseServer('ftp://x', 'https://x')).toBeUndefined()
    expect(normaliseServer('http://[bad', 'https://x')).toBeUndefined()
  })

  test('WebSocket URL follows the page scheme (RFC 7118: ws / wss)', () => {
    expect(webSocketUrl('http://127.0.0.1:8080', '/sip')).toBe('ws://127.0.0.1:8080/sip')
    expect(webSocketUrl('https://pbx.example', '/sip')).toBe('wss://pbx.example/sip')
  })
})

describe('parsing', () => {
  test('client config needs all three fields', () => {
    const good = { domain: 'patchbay.test', sipWebSocketPath: '/sip', iceServersPath: '/api/ice-servers' }
    expect(parseClientConfig(good)).toEqual(good)
    expect(parseClientConfig({ ...good, domain: '' })).toBeUndefined()
    expect(parseClientConfig({ ...good, sipWebSocketPath: 'sip' })).toBeUndefined()
    expect(parseClientConfig([])).toBeUndefined()
  })

  test('ICE servers: malformed entries are dropped, urls normalised to arrays', () => {
    const list = parseIceServers({
      iceServers: [{ urls: 'stun:127.0.0.1:3478' }, { urls: ['turn:127.0.0.1:3479'], username: '1:alice', credential: 'x' }, { nope: 1 }, 'junk'],
      ttlSeconds: 600,
    })
    expect(list).toEqual({
      iceServers: [{ urls: ['stun:127.0.0.1:3478'] }, { urls: ['turn:127.0.0.1:3479'], username: '1:alice', credential: 'x' }],
      ttlSeconds: 600,
    })
    expect(hasTurnServer(list!.iceServers)).toBe(true)
    expect(hasTurnServer([{ urls: 'stun:a' }])).toBe(false)
    expect(parseIceServers({})).toBeUndefined()
  })

  test('Basic credentials are UTF-8 (RFC 7617 §2.1)', () => {
    expect(basicAuthorization('alice', 'alice-demo')).toBe(`Basic ${btoa('alice:alice-demo')}`)
    expect(basicAuthorization('zoë', 'pässword')).toBe(`Basic ${Buffer.from('zoë:pässword', 'utf8').toString('base64')}`)
  })
})

describe('fetching', () => {
  test('client config: unreachable vs invalid', async () => {
    const down = await loadClientConfig('http://x', async () => { throw new TypeError('fetch failed') })
    expect(down).toMatchObject({ ok: false, kind: 'unreachable' })
    const notOurs = await loadClientConfig('http://x', async () => new Response('nope', { status: 404 }))
    expect(notOurs).toMatchObject({ ok: false, kind: 'invalid' })
    const ok = await loadClientConfig('http://x', async (url) => {
      expect(url).toBe('http://x/api/client-config')
      return Response.json({ domain: 'd', sipWebSocketPath: '/sip', iceServersPath: '/ice' })
    })
    expect(ok).toEqual({ ok: true, config: { domain: 'd', sipWebSocketPath: '/sip', iceServersPath: '/ice' } })
  })

  test('ICE servers are fetched with Basic auth; errors are results', async () => {
    let seen = ''
    const ok = await fetchIceServers('http://x', '/api/ice-servers', 'alice', 'pw', async (url, init) => {
      // 'omit': a 401 + WWW-Authenticate: Basic must not open the browser's sign-in dialog.
      expect(init?.credentials).toBe('omit')
      seen = `${url} ${new Headers(init?.headers).get('authorization')}`
      return Response.json({ iceServers: [{ urls: 'turn:t' }], ttlSeconds: 60 })
    })
    expect(seen).toBe(`http://x/api/ice-servers Basic ${btoa('alice:pw')}`)
    expect(ok).toEqual({ ok: true, list: { iceServers: [{ urls: ['turn:t'] }], ttlSeconds: 60 } })
    const denied = await fetchIceServers('http://x', '/i', 'a', 'b', async () => new Response('', { status: 401 }))
    expect(denied).toEqual({ ok: false, message: 'ICE servers: HTTP 401' })
  })
})

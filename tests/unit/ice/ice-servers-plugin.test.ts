import { describe, expect, test } from 'bun:test'
import { Elysia } from 'elysia'
import { Value } from '@sinclair/typebox/value'
import { emptyDialPlan } from '../../../gateway/src/sip/dialplan/dialplan-definition.ts'
import { GatewayFileSchema, type GatewayConfig, type GatewayFile } from '../../../gateway/src/config/schema.ts'
import { iceServersPlugin, parseBasicAuthorization } from '../../../gateway/src/http/ice-servers-plugin.ts'
import { turnRestCredentials } from '../../../gateway/src/ice/turn-rest-credentials.ts'

const SECRET = 'plugin-test-turn-secret'
const NOW_MS = 1_800_000_000_123

function configWith(file: Record<string, unknown>): GatewayConfig {
  const gw = Value.Default(GatewayFileSchema, structuredClone(file)) as GatewayFile
  if (!Value.Check(GatewayFileSchema, gw)) throw new Error('bad test config')
  return { ...gw, users: [], realm: gw.domain, usesDemoPasswords: false, sources: [], trunks: [], dialPlan: emptyDialPlan() }
}

const config = configWith({
  ice: {
    stunUrls: ['stun:stun.example.test:3478'],
    turn: { urls: ['turn:127.0.0.1:3479?transport=udp'], secretEnv: 'PB_TEST_TURN_SECRET', ttlSeconds: 3600 },
  },
})

const passwords: Record<string, string> = { alice: 'wonderland', 'bob.b': 'pa:ss:word' }
const authenticate = (u: string, p: string) => passwords[u] !== undefined && passwords[u] === p

function app(env: Record<string, string | undefined> = { PB_TEST_TURN_SECRET: SECRET }) {
  return new Elysia().use(iceServersPlugin({ config, authenticate, now: () => NOW_MS, env, stunPort: () => 40001 }))
}

const basic = (user: string, pass: string) => 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64')
const get = (headers: Record<string, string> = {}) => new Request('http://localhost/api/ice-servers', { headers })

describe('GET /api/ice-servers', () => {
  test('401 with a Basic challenge without credentials', async () => {
    const res = await app().handle(get())
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="patchbay"')
    expect(res.headers.get('cache-control')).toBe('no-store')
    expect(await res.text()).not.toContain(SECRET)
  })

  test.each([
    ['wrong password', basic('alice', 'wrong')],
    ['unknown user', basic('mallory', 'wonderland')],
    ['bearer scheme', 'Bearer abcdefabcdefabcdef'],
    ['not base64', 'Basic !!!!'],
    ['no colon', 'Basic ' + Buffer.from('alice').toString('base64')],
  ])('401 for %s', async (_name, authorization) => {
    const res = await app().handle(get({ authorization }))
    expect(res.status).toBe(401)
    expect(res.headers.get('www-authenticate')).toBe('Basic realm="patchbay"')
  })

  test('200 with the user\'s ICE servers and TURN REST credentials; no-store; no secret in the body', async () => {
    const res = await app().handle(get({ authorization: basic('alice', 'wonderland') }))
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    const text = await res.text()
    expect(text).not.toContain(SECRET)
    const body = JSON.parse(text)
    const now = Math.floor(NOW_MS / 1000)
    const creds = turnRestCredentials({ secret: SECRET, userId: 'alice', ttlSeconds: 3600, nowUnixSeconds: now })
    expect(body).toEqual({
      iceServers: [
        { urls: 'stun:127.0.0.1:40001' },
        { urls: 'stun:stun.example.test:3478' },
        { urls: ['turn:127.0.0.1:3479?transport=udp'], username: `${now + 3600}:alice`, credential: creds.credential },
      ],
      ttlSeconds: 3600,
    })
  })

  test('password containing colons (only the first colon splits, RFC 7617 §2)', async () => {
    const res = await app().handle(get({ authorization: basic('bob.b', 'pa:ss:word') }))
    expect(res.status).toBe(200)
    const body = (await res.json()) as { iceServers: Array<{ username?: string }> }
    expect(body.iceServers[2]!.username).toBe(`${Math.floor(NOW_MS / 1000) + 3600}:bob.b`)
  })

  test('no secret in the environment: STUN only', async () => {
    const res = await app({}).handle(get({ authorization: basic('alice', 'wonderland') }))
    expect(res.status).toBe(200)
    const body = (await res.json()) as { iceServers: unknown[] }
    expect(body.iceServers).toEqual([{ urls: 'stun:127.0.0.1:40001' }, { urls: 'stun:stun.example.test:3478' }])
  })
})

describe('parseBasicAuthorization', () => {
  test('scheme is case-insensitive; user-id must not be empty', () => {
    expect(parseBasicAuthorization('basic ' + Buffer.from('a:b').toString('base64'))).toEqual({ username: 'a', password: 'b' })
    expect(parseBasicAuthorization('BASIC ' + Buffer.from('a:').toString('base64'))).toEqual({ username: 'a', password: '' })
    expect(parseBasicAuthorization('Basic ' + Buffer.from(':b').toString('base64'))).toBeNull()
    expect(parseBasicAuthorization(null)).toBeNull()
    expect(parseBasicAuthorization('Basic')).toBeNull()
  })
})

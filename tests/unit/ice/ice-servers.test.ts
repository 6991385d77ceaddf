import { describe, expect, test } from 'bun:test'
import { Value } from '@sinclair/typebox/value'
import { emptyDialPlan } from '../../../gateway/src/sip/dialplan/dialplan-definition.ts'
import { GatewayFileSchema, type GatewayConfig, type GatewayFile } from '../../../gateway/src/config/schema.ts'
import { buildIceServers, ownStunUrl, resolveTurnSecret } from '../../../gateway/src/ice/ice-servers.ts'
import { turnRestCredentials } from '../../../gateway/src/ice/turn-rest-credentials.ts'

const SECRET = 'turn-secret-for-tests'
const NOW = 1_800_000_000

/** A GatewayConfig from the schema defaults plus `file` (as the loader would produce it). */
function configWith(file: Record<string, unknown>): GatewayConfig {
  const gw = Value.Default(GatewayFileSchema, structuredClone(file)) as GatewayFile
  if (!Value.Check(GatewayFileSchema, gw)) throw new Error(`bad test config: ${[...Value.Errors(GatewayFileSchema, gw)].map((e) => e.path + ' ' + e.message).join('; ')}`)
  return { ...gw, users: [], realm: gw.auth.realm ?? gw.domain, usesDemoPasswords: false, sources: [], trunks: [], dialPlan: emptyDialPlan() }
}

const turnUrls = ['turn:turn.example.test:3478?transport=udp', 'turns:turn.example.test:5349']

describe('resolveTurnSecret', () => {
  test('secretEnv wins when set, else secret, else undefined', () => {
    const both = configWith({ ice: { turn: { secret: 'from-file-secret', secretEnv: 'PB_TURN' } } })
    expect(resolveTurnSecret(both, { PB_TURN: 'from-env-secret' })).toBe('from-env-secret')
    expect(resolveTurnSecret(both, {})).toBe('from-file-secret')
    expect(resolveTurnSecret(both, { PB_TURN: '' })).toBe('from-file-secret')
    const envOnly = configWith({ ice: { turn: { secretEnv: 'PB_TURN' } } })
    expect(resolveTurnSecret(envOnly, { PB_TURN: 'from-env-secret' })).toBe('from-env-secret')
    expect(resolveTurnSecret(envOnly, { OTHER: 'x' })).toBeUndefined()
    expect(resolveTurnSecret(configWith({}), { PB_TURN: 'x' })).toBeUndefined()
  })
})

describe('ownStunUrl', () => {
  test('publicAddress, then ice.stun.host, then sip.host; wildcards skipped; IPv6 bracketed', () => {
    expect(ownStunUrl(configWith({}))).toBe('stun:127.0.0.1:3478')
    expect(ownStunUrl(configWith({ sip: { host: '192.0.2.1' }, ice: { stun: { host: '192.0.2.2', port: 3479 } } }))).toBe('stun:192.0.2.2:3479')
    expect(ownStunUrl(configWith({ sip: { host: '0.0.0.0', publicAddress: 'gw.example.test' }, ice: { stun: { host: '0.0.0.0' } } }))).toBe(
      'stun:gw.example.test:3478',
    )
    expect(ownStunUrl(configWith({ sip: { host: '192.0.2.1' }, ice: { stun: { host: '0.0.0.0' } } }))).toBe('stun:192.0.2.1:3478')
    expect(ownStunUrl(configWith({ sip: { host: '::' }, ice: { stun: { host: '::' } } }))).toBeUndefined()
    expect(ownStunUrl(configWith({ sip: { host: '2001:db8::5' } }))).toBe('stun:[2001:db8::5]:3478')
    expect(ownStunUrl(configWith({ ice: { stun: { enabled: false } } }))).toBeUndefined()
    expect(ownStunUrl(configWith({ ice: { stun: { port: 0 } } }))).toBeUndefined()
    expect(ownStunUrl(configWith({ ice: { stun: { port: 0 } } }), 40000)).toBe('stun:127.0.0.1:40000')
  })
})

describe('buildIceServers', () => {
  test('defaults: only the gateway STUN service', () => {
    expect(buildIceServers({ config: configWith({}), userId: 'alice', nowUnixSeconds: NOW, secret: undefined })).toEqual({
      iceServers: [{ urls: 'stun:127.0.0.1:3478' }],
      ttlSeconds: 86400,
    })
  })

  test('own STUN first, configured STUN URLs (deduplicated), then TURN with REST credentials', () => {
    const config = configWith({
      ice: {
        stunUrls: ['stun:stun.example.test:3478', 'stun:127.0.0.1:3478'],
        turn: { urls: turnUrls, ttlSeconds: 600 },
      },
    })
    const r = buildIceServers({ config, userId: 'alice', nowUnixSeconds: NOW, secret: SECRET })
    const expected = turnRestCredentials({ secret: SECRET, userId: 'alice', ttlSeconds: 600, nowUnixSeconds: NOW })
    expect(r).toEqual({
      iceServers: [
        { urls: 'stun:127.0.0.1:3478' },
        { urls: 'stun:stun.example.test:3478' },
        { urls: turnUrls, username: `${NOW + 600}:alice`, credential: expected.credential },
      ],
      ttlSeconds: 600,
    })
    expect(JSON.stringify(r)).not.toContain(SECRET)
  })

  test('TURN URLs without a secret: no TURN entry', () => {
    const config = configWith({ ice: { turn: { urls: turnUrls } } })
    const r = buildIceServers({ config, userId: 'alice', nowUnixSeconds: NOW, secret: undefined })
    expect(r.iceServers).toEqual([{ urls: 'stun:127.0.0.1:3478' }])
  })

  test('secret via secretEnv', () => {
    const config = configWith({ ice: { stun: { enabled: false }, turn: { urls: turnUrls, secretEnv: 'PATCHBAY_TURN_SECRET' } } })
    const secret = resolveTurnSecret(config, { PATCHBAY_TURN_SECRET: SECRET })
    const r = buildIceServers({ config, userId: 'bob', nowUnixSeconds: NOW, secret })
    expect(r.iceServers).toHaveLength(1)
    expect(r.iceServers[0]).toMatchObject({ urls: turnUrls, username: `${NOW + 86400}:bob` })
    expect(r.iceServers[0]!.credential).toBe(turnRestCredentials({ secret: SECRET, userId: 'bob', ttlSeconds: 86400, nowUnixSeconds: NOW }).credential)
  })

  test('the returned URL list is a copy (callers cannot change the config through it)', () => {
    const config = configWith({ ice: { turn: { urls: turnUrls } } })
    const r = buildIceServers({ config, userId: 'a', nowUnixSeconds: NOW, secret: SECRET })
    ;(r.iceServers[1]!.urls as string[]).push('turn:evil')
    expect(config.ice.turn.urls).toEqual(turnUrls)
  })
})

import { describe, expect, test } from 'bun:test'
import { checkListenPolicy, isLoopbackHost } from '../../../gateway/src/config/listen-policy.ts'
import { defaultConfig } from '../../../gateway/src/config/defaults.ts'
import { ha1 } from '../../../gateway/src/sip/auth/digest.ts'
import type { GatewayConfig } from '../../../gateway/src/config/schema.ts'

function withRealUsers(c: GatewayConfig): GatewayConfig {
  c.users = [{ username: 'dave', ha1: ha1('MD5', 'dave', c.realm, 'x9!long'), ha1Sha256: ha1('SHA-256', 'dave', c.realm, 'x9!long') }]
  c.usesDemoPasswords = false
  return c
}

describe('isLoopbackHost', () => {
  test('loopback spellings', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      expect(isLoopbackHost(h)).toBe(true)
    }
  })

  test('everything else', () => {
    for (const h of ['0.0.0.0', '::', '[::]', '192.168.1.10', '10.0.0.1', '128.0.0.1', '127.0.0.256', 'example.org', '::2', '::ffff:10.0.0.1', '']) {
      expect(isLoopbackHost(h)).toBe(false)
    }
  })
})

describe('checkListenPolicy', () => {
  test('the defaults (demo users on 127.0.0.1) may start', () => {
    expect(checkListenPolicy(defaultConfig())).toBeNull()
  })

  test('0.0.0.0 with the demo users is refused, naming the listener and the users', () => {
    const c = defaultConfig()
    c.sip.host = '0.0.0.0'
    const err = checkListenPolicy(c)
    expect(err).not.toBeNull()
    expect(err!).toContain('sip.host 0.0.0.0')
    expect(err!).toContain('alice, bob, carol')
    expect(err!).not.toContain('http.host')
    const h = defaultConfig()
    h.http.host = '192.168.1.10'
    expect(checkListenPolicy(h)).toContain('http.host 192.168.1.10')
  })

  test('0.0.0.0 with non-demo users is accepted', () => {
    const c = withRealUsers(defaultConfig())
    c.sip.host = '0.0.0.0'
    c.http.host = '::'
    expect(checkListenPolicy(c)).toBeNull()
  })

  test('an explicit STUN listen address counts as a listener', () => {
    const c = defaultConfig()
    c.ice.stun.host = '0.0.0.0'
    expect(checkListenPolicy(c)).toContain('ice.stun.host 0.0.0.0')
    c.ice.stun.enabled = false
    expect(checkListenPolicy(c)).toBeNull()
  })
})

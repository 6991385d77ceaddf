import { describe, expect, test } from 'bun:test'
import { turnRestCredentials } from '../../../gateway/src/ice/turn-rest-credentials.ts'

/** base64(HMAC-SHA1(key, data)) computed by the openssl CLI, independently of node:crypto. */
function opensslHmacSha1Base64(key: string, data: string): string {
  const which = Bun.spawnSync(['which', 'openssl'])
  if (which.exitCode !== 0) throw new Error('openssl not found: apt-get install -y openssl')
  const dgst = Bun.spawnSync(['openssl', 'dgst', '-sha1', '-hmac', key, '-binary'], { stdin: new TextEncoder().encode(data) })
  if (dgst.exitCode !== 0) throw new Error(`openssl failed: ${dgst.stderr.toString()}`)
  return Buffer.from(dgst.stdout).toString('base64')
}

describe('turnRestCredentials (draft-uberti-behave-turn-rest-00, coturn use-auth-secret)', () => {
  /*
   * Known answer, computed on 2026-11-21 twice, independently:
   *   printf %s "1700003600:alice" | openssl dgst -sha1 -hmac "patchbay-turn-secret" -binary | base64
   *   node -e 'console.log(require("crypto").createHmac("sha1","patchbay-turn-secret")
   *            .update("1700003600:alice").digest("base64"))'
   * both print X6H1FRlXyfOYu5H0fVVXZv/xtqQ=
   */
  test('known answer', () => {
    const c = turnRestCredentials({ secret: 'patchbay-turn-secret', userId: 'alice', ttlSeconds: 3600, nowUnixSeconds: 1700000000 })
    expect(c).toEqual({ username: '1700003600:alice', credential: 'X6H1FRlXyfOYu5H0fVVXZv/xtqQ=', expiresAt: 1700003600 })
  })

  test('matches openssl for other inputs (computed at test time)', () => {
    for (const [secret, userId, ttl, now] of [
      ['s3cr3t-with-unicode-é', 'bob', 86400, 1767225600.9],
      ['k'.repeat(100), 'carol.smith+1', 60, 2000000000],
    ] as const) {
      const c = turnRestCredentials({ secret, userId, ttlSeconds: ttl, nowUnixSeconds: now })
      expect(c.username).toBe(`${Math.floor(now) + ttl}:${userId}`)
      expect(c.expiresAt).toBe(Math.floor(now) + ttl)
      expect(c.credential).toBe(opensslHmacSha1Base64(secret, c.username))
    }
  })

  test('a different secret, user or time gives a different credential', () => {
    const base = { secret: 'patchbay-turn-secret', userId: 'alice', ttlSeconds: 3600, nowUnixSeconds: 1700000000 }
    const c0 = turnRestCredentials(base).credential
    expect(turnRestCredentials({ ...base, secret: 'patchbay-turn-secreT' }).credential).not.toBe(c0)
    expect(turnRestCredentials({ ...base, userId: 'bob' }).credential).not.toBe(c0)
    expect(turnRestCredentials({ ...base, nowUnixSeconds: 1700000001 }).credential).not.toBe(c0)
  })

  test('the secret does not appear in the output', () => {
    const c = turnRestCredentials({ secret: 'patchbay-turn-secret', userId: 'alice', ttlSeconds: 3600, nowUnixSeconds: 1700000000 })
    expect(JSON.stringify(c)).not.toContain('patchbay-turn-secret')
  })

  test('programming errors throw RangeError', () => {
    expect(() => turnRestCredentials({ secret: '', userId: 'a', ttlSeconds: 60, nowUnixSeconds: 0 })).toThrow(RangeError)
    expect(() => turnRestCredentials({ secret: 'x', userId: 'a', ttlSeconds: Number.NaN, nowUnixSeconds: 0 })).toThrow(RangeError)
  })
})

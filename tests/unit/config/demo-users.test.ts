import { describe, expect, test } from 'bun:test'
import { DEMO_CREDENTIALS, isDemoCredential } from '../../../gateway/src/config/demo-users.ts'
import { ha1 } from '../../../gateway/src/sip/auth/digest.ts'

function entry(username: string, password: string, realm = 'patchbay.test') {
  return { username, ha1: ha1('MD5', username, realm, password), ha1Sha256: ha1('SHA-256', username, realm, password) }
}

describe('demo users', () => {
  test('alice / bob / carol with their published passwords', () => {
    expect(DEMO_CREDENTIALS.map((c) => `${c.username}:${c.password}:${c.displayName}`)).toEqual([
      'alice:alice-demo:Alice Archer', 'bob:bob-demo:Bob Baker', 'carol:carol-demo:Carol Cooper',
    ])
  })

  test('isDemoCredential: any demo password, for any username, in the given realm', () => {
    expect(isDemoCredential(entry('alice', 'alice-demo'), 'patchbay.test')).toBe(true)
    expect(isDemoCredential(entry('dave', 'carol-demo'), 'patchbay.test')).toBe(true)
    expect(isDemoCredential(entry('alice', 'something else'), 'patchbay.test')).toBe(false)
    // Hashes made for another realm are not demo hashes for this one.
    expect(isDemoCredential(entry('alice', 'alice-demo', 'other.example'), 'patchbay.test')).toBe(false)
    expect(isDemoCredential(entry('alice', 'alice-demo', 'other.example'), 'other.example')).toBe(true)
  })

  test('either hash alone is enough', () => {
    const e = entry('bob', 'bob-demo')
    expect(isDemoCredential({ ...e, ha1Sha256: 'f'.repeat(64) }, 'patchbay.test')).toBe(true)
    expect(isDemoCredential({ ...e, ha1: 'f'.repeat(32) }, 'patchbay.test')).toBe(true)
  })
})

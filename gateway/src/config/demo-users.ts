/**
 * The demo accounts of the README (alice / bob / carol) and their published passwords.
 *
 * These passwords are public, so a gateway that accepts them must not be reachable from
 * other machines: the loader sets `usesDemoPasswords` and `listen-policy.ts` refuses
 * non-loopback listeners while any user's HA1 is the hash of one of these passwords.
 */
import type { UserEntry } from './schema.ts'
import { ha1 } from '../sip/auth/digest.ts'

export interface DemoCredential {
  username: string
  displayName: string
  /** Published in the README: never use outside a demo on 127.0.0.1. */
  password: string
}

/** alice / bob / carol with their demo passwords. */
export const DEMO_CREDENTIALS: readonly DemoCredential[] = [
  { username: 'alice', displayName: 'Alice Archer', password: 'alice-demo' },
  { username: 'bob', displayName: 'Bob Baker', password: 'bob-demo' },
  { username: 'carol', displayName: 'Carol Cooper', password: 'carol-demo' },
]

/** The demo passwords alone (any user with one of them counts as a demo credential). */
export const DEMO_PASSWORDS: readonly string[] = DEMO_CREDENTIALS.map((c) => c.password)

/**
 * True when the user's MD5 or SHA-256 HA1 (RFC 7616 §3.4.2, H(username:realm:password))
 * equals the HA1 of any demo password for this username and realm — that is, when the
 * account can be used by anyone who has read the README.
 * @param realm the digest realm the HA1s were computed for (config `realm`).
 */
export function isDemoCredential(user: Pick<UserEntry, 'username' | 'ha1' | 'ha1Sha256'>, realm: string): boolean {
  for (const password of DEMO_PASSWORDS) {
    if (user.ha1 === ha1('MD5', user.username, realm, password)) return true
    if (user.ha1Sha256 === ha1('SHA-256', user.username, realm, password)) return true
  }
  return false
}

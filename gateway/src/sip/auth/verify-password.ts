/**
 * Checks a clear-text SIP password against a user's stored MD5 HA1 (RFC 7616 §3.4.2), in
 * constant time: for HTTP endpoints that take the SIP credentials over HTTP Basic
 * (RFC 7617), such as `GET /api/ice-servers`.
 */
import { timingSafeEqual } from 'node:crypto'
import type { UserCredentials } from '../../base/user-credentials.ts'
import { ha1 } from './digest.ts'

/**
 * @param user the account, or undefined when the username is unknown (then false)
 * @param realm the digest realm the HA1 was computed for
 * @returns true when `password` is the user's SIP password
 */
export function verifyPassword(user: UserCredentials | undefined, realm: string, password: string): boolean {
  if (!user) return false
  const a = Buffer.from(ha1('MD5', user.username, realm, password))
  const b = Buffer.from(user.ha1)
  return a.length === b.length && timingSafeEqual(a, b)
}

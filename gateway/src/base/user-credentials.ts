/**
 * A SIP account as every layer sees it: the username and its stored HA1 hashes
 * (RFC 7616 §3.4.2: H(username ":" realm ":" password), one per algorithm). Passwords are
 * never kept. The configuration's user entries (config/schema.ts) satisfy this shape.
 */
export interface UserCredentials {
  readonly username: string
  /** hex MD5(username:realm:password) */
  readonly ha1: string
  /** hex SHA-256(username:realm:password) (RFC 8760) */
  readonly ha1Sha256: string
  /** Name shown to the other side of a call, when configured. */
  readonly displayName?: string
  /** Overrides media.anchor for calls from or to this user. */
  readonly mediaAnchor?: 'auto' | 'always' | 'never'
}

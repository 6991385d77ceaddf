/**
 * TURN REST API credentials (draft-uberti-behave-turn-rest-00 §2.2), the ephemeral
 * credentials coturn accepts with `use-auth-secret` + `static-auth-secret`.
 *
 * A pure function: the same inputs give the same credentials, so it is pinned by a
 * known-answer test (tests/unit/ice/turn-rest-credentials.test.ts). The secret never
 * leaves this function; callers must not log the returned credential either.
 */
import { createHmac } from 'node:crypto'

export interface TurnRestCredentialsInput {
  /** The secret shared with the TURN server (coturn `static-auth-secret`). */
  secret: string
  /** Who the credentials are for (the SIP username); ends up readable in the TURN username. */
  userId: string
  /** Lifetime in seconds (> 0). */
  ttlSeconds: number
  /** Current time, UNIX seconds (fractions are dropped). */
  nowUnixSeconds: number
}

export interface TurnRestCredentials {
  /** `"<expiry>:<userId>"` */
  username: string
  /** base64(HMAC-SHA1(secret, username)) */
  credential: string
  /** The expiry, UNIX seconds (the number in `username`). */
  expiresAt: number
}

/**
 * Computes TURN REST credentials.
 *
 * draft-uberti-behave-turn-rest-00 §2.2: "username: the TURN username to use, which is a
 * colon-delimited combination of the expiration timestamp and the username parameter from
 * the request (if specified).  The timestamp is intended to be a UNIX timestamp (seconds
 * since epoch)."  "password: the TURN password to use; this value is computed from the a
 * secret key shared with the TURN server and the returned username value, by performing
 * base64(hmac(secret key, username))."  The draft leaves the hmac to the TURN server;
 * coturn's `use-auth-secret` mode uses HMAC-SHA1, and tests/integration/ice/coturn.test.ts
 * shows a real coturn accepting what this function computes.
 *
 * @throws RangeError when ttlSeconds or nowUnixSeconds is not a finite number, or the
 *   secret is empty (a programming/config error, never wire input).
 */
export function turnRestCredentials(input: TurnRestCredentialsInput): TurnRestCredentials {
  const { secret, userId, ttlSeconds, nowUnixSeconds } = input
  if (secret.length === 0) throw new RangeError('TURN REST secret is empty')
  if (!Number.isFinite(ttlSeconds) || !Number.isFinite(nowUnixSeconds)) {
    throw new RangeError('ttlSeconds and nowUnixSeconds must be finite numbers')
  }
  const expiresAt = Math.floor(nowUnixSeconds) + Math.floor(ttlSeconds)
  const username = `${expiresAt}:${userId}`
  const credential = createHmac('sha1', secret).update(username, 'utf8').digest('base64')
  return { username, credential, expiresAt }
}

/**
 * The digest authentication errors table: every way `DigestAuthenticator.verify` can
 * refuse a request, mapped in one place to what the gateway answers (like Kamailio's
 * `auth` return codes mapped to replies in one switch).
 *
 * "challenge" outcomes are answered with a fresh challenge: 401 + WWW-Authenticate when
 * the gateway acts as registrar/UAS, 407 + Proxy-Authenticate when it acts as a proxy
 * (RFC 3261 §22.2, §22.3). The reason text is for logs; it never carries a digest
 * response, an HA1 or a password.
 */

/** Why a request was not authenticated. */
export type AuthFailure =
  /** No Digest credentials for our realm (none at all, another scheme, another realm). */
  | 'no-credentials'
  /** Digest credentials for our realm lacking a required parameter, or a bad nc/qop combination. */
  | 'malformed-credentials'
  /** `algorithm` other than the ones offered (e.g. MD5-sess, SHA-512-256). */
  | 'unsupported-algorithm'
  /** `qop` other than "auth" (auth-int is not offered). */
  | 'unsupported-qop'
  /** The nonce is not one we issued (bad shape or HMAC). */
  | 'bad-nonce'
  /** The nonce is ours and the digest right, but the nonce is older than its lifetime. */
  | 'stale-nonce'
  /** The nonce-count was not greater than one already accepted for this nonce. */
  | 'nc-replay'
  /** The `uri` parameter is not the Request-URI (RFC 7616 §3.4.6). */
  | 'uri-mismatch'
  /**
   * No such user in users.yaml. Answered exactly like a wrong password, after the same digest
   * computation (Asterisk's `alwaysauthreject`; Kamailio answers both with a new challenge):
   * the reason is for logs only.
   */
  | 'unknown-user'
  /** The response does not match. */
  | 'wrong-password'
  /** Authenticated, but the user may not act for this identity (e.g. AOR of another user); for callers. */
  | 'identity-mismatch'

/** What the gateway answers for one AuthFailure. */
export type AuthFailureOutcome =
  /** Answer with a new challenge (401 or 407); `stale` sets stale=true in it. */
  | { kind: 'challenge'; stale: boolean; reason: string }
  /** Answer with a fixed final status, no challenge. */
  | { kind: 'reject'; status: 400 | 403; reason: string }

/** The table. */
export const AUTH_FAILURES: Readonly<Record<AuthFailure, AuthFailureOutcome>> = {
  'no-credentials': { kind: 'challenge', stale: false, reason: 'no credentials' },
  'malformed-credentials': { kind: 'reject', status: 400, reason: 'malformed credentials' },
  'unsupported-algorithm': { kind: 'challenge', stale: false, reason: 'unsupported algorithm' },
  'unsupported-qop': { kind: 'challenge', stale: false, reason: 'unsupported qop' },
  'bad-nonce': { kind: 'challenge', stale: false, reason: 'invalid nonce' },
  // RFC 2617 §3.2.1 (stale): "The server should only set stale to TRUE if it receives a
  // request for which the nonce is invalid but with a valid digest for that nonce
  // (indicating that the client knows the correct username/password)."
  'stale-nonce': { kind: 'challenge', stale: true, reason: 'stale nonce' },
  // A replayed count comes with a valid digest for that nonce too: stale=true lets an honest
  // client that reused a count retry at once with the new nonce, without asking its user.
  'nc-replay': { kind: 'challenge', stale: true, reason: 'nonce count replayed' },
  'uri-mismatch': { kind: 'reject', status: 400, reason: 'digest uri does not match Request-URI' },
  'unknown-user': { kind: 'challenge', stale: false, reason: 'unknown user' },
  'wrong-password': { kind: 'challenge', stale: false, reason: 'wrong password' },
  'identity-mismatch': { kind: 'reject', status: 403, reason: 'user not allowed for this identity' },
}

/** Result of `DigestAuthenticator.verify`. */
export type AuthResult =
  | { ok: true; username: string }
  | {
      ok: false
      /** 401/407 mean: answer with `challenge(request, { proxy, stale })`. */
      status: 401 | 407 | 403 | 400
      /** Text for logs (see AUTH_FAILURES); safe to log. */
      reason: string
      stale?: boolean
      /** The AuthFailure behind this result. */
      failure: AuthFailure
      /** The username the credentials claimed, when there was one (for logs). */
      username?: string
    }

/**
 * Builds the failed AuthResult for `failure` from the table.
 * @param proxy true when the gateway authenticates as a proxy (challenges are 407).
 */
export function authFailure(failure: AuthFailure, proxy: boolean, username?: string): AuthResult & { ok: false } {
  const o = AUTH_FAILURES[failure]
  const base = o.kind === 'challenge'
    ? { ok: false as const, status: proxy ? (407 as const) : (401 as const), reason: o.reason, stale: o.stale, failure }
    : { ok: false as const, status: o.status, reason: o.reason, failure }
  return username === undefined ? base : { ...base, username }
}

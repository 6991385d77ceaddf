/**
 * Digest authentication of SIP requests (RFC 3261 §22, RFC 7616, RFC 8760): builds
 * challenges (401 + WWW-Authenticate as registrar/UAS, 407 + Proxy-Authenticate as proxy)
 * and verifies the credentials of the retried request.
 *
 * Nothing here logs. Results carry a reason that is safe to log; digest responses and
 * HA1s never leave this module.
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import { createResponse } from '../message/create-response.ts'
import type { HeaderField } from '../syntax/types.ts'
import type { Scheduler } from '../../base/scheduler.ts'
import type { UserCredentials } from '../../base/user-credentials.ts'
import { digestResponse, hexDigestEquals, parseDigestAlgorithm, type DigestAlgorithm } from './digest.ts'
import { parseCredentials, type DigestCredentials } from './parse-credentials.ts'
import { NonceStore } from './nonce-store.ts'
import { authFailure, type AuthResult } from './auth-errors.ts'

export type { AuthResult } from './auth-errors.ts'

export interface DigestAuthenticatorOptions {
  /** Digest realm in challenges; credentials for other realms are ignored. */
  realm: string
  /** The user's stored HA1s, or undefined when there is no such user. */
  lookupUser(username: string): UserCredentials | undefined
  /** Clock for nonce timestamps and lifetime. */
  scheduler: Scheduler
  /** Seconds a nonce stays valid before it is stale. */
  nonceLifetime: number
  /** Algorithms offered, one challenge header each, in this order (RFC 8760 §2.4). */
  algorithms: readonly DigestAlgorithm[]
  /** Nonce HMAC key shared by workers (default: random per process). */
  secret?: Uint8Array
  /** Check the `uri` parameter against the Request-URI (default true; see verify). */
  checkDigestUri?: boolean
  /**
   * User-Agent patterns (tested against the request's User-Agent, "" when it has none) that
   * are challenged with MD5 alone: clients that fail on a SHA-256 challenge instead of
   * skipping it. Debian 12's baresip 1.0 refuses a 401 that contains any SHA-256 challenge;
   * SIPp 3.6.1 (no User-Agent) gives up when SHA-256 comes first.
   */
  md5OnlyUserAgents?: readonly RegExp[]
}

export interface ChallengeOptions {
  /** true: 407 with Proxy-Authenticate (proxy); false: 401 with WWW-Authenticate (UAS/registrar). */
  proxy: boolean
  /** Sets stale=true (RFC 7616 §3.3): the client may retry with the new nonce without asking its user again. */
  stale?: boolean
  /** To tag of the response (default: random). */
  toTag?: string
}

export interface VerifyOptions {
  /** true: read Proxy-Authorization (challenges are 407); false: Authorization (401). */
  proxy: boolean
}

const NC_RE = /^[0-9A-Fa-f]{8}$/
const MD5_ONLY: readonly DigestAlgorithm[] = ['MD5']

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`
}

function randomTag(): string {
  const b = crypto.getRandomValues(new Uint8Array(8))
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

/** Challenges and verifies Digest credentials for one realm. */
export class DigestAuthenticator {
  readonly realm: string
  readonly nonces: NonceStore
  private readonly lookupUser: (username: string) => UserCredentials | undefined
  private readonly algorithms: readonly DigestAlgorithm[]
  /**
   * Random per authenticator. RFC 7616 §3.3 lets the server put state in `opaque`; ours is
   * in the self-validating nonce, so the opaque a client returns is not checked (workers
   * that share the nonce secret have different opaques and must still accept each other).
   */
  private readonly opaque: string
  private readonly checkDigestUri: boolean
  private readonly md5OnlyUserAgents: readonly RegExp[]
  /** HA1s verified against for a user name that does not exist (random: nothing matches them). */
  private readonly unknownUser: { ha1: string; ha1Sha256: string }

  constructor(options: DigestAuthenticatorOptions) {
    if (options.algorithms.length === 0) throw new RangeError('at least one digest algorithm is needed')
    this.realm = options.realm
    this.lookupUser = options.lookupUser
    this.algorithms = [...options.algorithms]
    this.checkDigestUri = options.checkDigestUri ?? true
    this.md5OnlyUserAgents = options.md5OnlyUserAgents ?? []
    this.nonces = new NonceStore({ scheduler: options.scheduler, lifetime: options.nonceLifetime, secret: options.secret })
    const o = crypto.getRandomValues(new Uint8Array(12))
    this.opaque = Buffer.from(o.buffer, o.byteOffset, o.byteLength).toString('base64url')
    const r = crypto.getRandomValues(new Uint8Array(48))
    const hex = Buffer.from(r.buffer, r.byteOffset, r.byteLength).toString('hex')
    this.unknownUser = { ha1: hex.slice(0, 32), ha1Sha256: hex.slice(32, 96) }
  }

  /**
   * Builds the challenge response to `request`: 401 with one WWW-Authenticate per
   * configured algorithm, or 407 with Proxy-Authenticate when `proxy`.
   *
   * RFC 3261 §22.2 / §22.3: a UAS or registrar that wants the originator's identity
   * answers 401 (Unauthorized) with WWW-Authenticate; a proxy answers 407 (Proxy
   * Authentication Required) with Proxy-Authenticate.
   *
   * RFC 8760 §2.4 (UAS behaviour, paraphrased): with several challenges for one realm,
   * each uses a different algorithm, and they are added in the server's order of
   * preference, most preferred first. SHA-256 goes first so that clients that know it pick
   * it; SIP.js and JsSIP, which answer only MD5, skip to the MD5 one.
   *
   * All challenge headers of one response share one fresh nonce; qop="auth" is offered
   * (RFC 8760 §2.1 makes qop mandatory in SIP).
   */
  challenge(request: SipRequest, options: ChallengeOptions): SipResponse {
    const nonce = this.nonces.create()
    const name = options.proxy ? 'proxy-authenticate' : 'www-authenticate'
    const tail = options.stale === true ? ', stale=true' : ''
    const headers: HeaderField[] = this.algorithmsFor(request).map((alg) => ({
      name,
      value: `Digest realm=${quote(this.realm)}, nonce="${nonce}", opaque="${this.opaque}", algorithm=${alg}, qop="auth"${tail}`,
    }))
    return createResponse(request, options.proxy ? 407 : 401, { toTag: options.toTag ?? randomTag(), headers })
  }

  /**
   * The algorithms to offer this client: all configured ones, or MD5 alone for a User-Agent
   * matched by `md5OnlyUserAgents` (when MD5 is configured at all).
   */
  private algorithmsFor(request: SipRequest): readonly DigestAlgorithm[] {
    if (this.md5OnlyUserAgents.length === 0 || !this.algorithms.includes('MD5')) return this.algorithms
    const ua = request.get('user-agent') ?? ''
    for (const re of this.md5OnlyUserAgents) if (re.test(ua)) return MD5_ONLY
    return this.algorithms
  }

  /**
   * Verifies the Digest credentials of `request` for this realm.
   *
   * Outcomes (the table is AUTH_FAILURES in auth-errors.ts):
   * - no Authorization / Proxy-Authorization with Digest credentials for our realm (other
   *   schemes such as RFC 4475 regaut01's are ignored) -> challenge;
   * - unknown user or wrong response -> challenge again (reason 'unknown user' /
   *   'wrong password'), as Kamailio does; an unknown user is verified against random HA1s
   *   on the same code path as a known one (Asterisk's `alwaysauthreject`), so the answer
   *   and its timing are the same;
   * - right response on an expired nonce -> challenge with stale=true;
   * - nonce-count not greater than one already accepted -> challenge with stale=true;
   * - `uri` not the Request-URI -> 400; credentials lacking username/nonce/uri/response,
   *   or qop without a valid nc and cnonce -> 400.
   * Never throws on wire input.
   */
  verify(request: SipRequest, options: VerifyOptions): AuthResult {
    const proxy = options.proxy
    const creds = this.findCredentials(request.getAll(proxy ? 'proxy-authorization' : 'authorization'))
    if (creds === null) return authFailure('no-credentials', proxy)

    const { username, nonce, uri, response } = creds
    if (username === undefined || nonce === undefined || uri === undefined || response === undefined) {
      return authFailure('malformed-credentials', proxy, username)
    }

    const algorithm = parseDigestAlgorithm(creds.algorithm)
    if (algorithm === null || !this.algorithms.includes(algorithm)) {
      return authFailure('unsupported-algorithm', proxy, username)
    }

    // RFC 7616 §3.4: "qop ... Indicates what "quality of protection" the client has applied
    // to the message. Its value MUST be one of the alternatives the server indicated it
    // supports in the WWW-Authenticate header field." ... "cnonce ... This parameter MUST be
    // used by all implementations." ... "nc ... The nc value is the hexadecimal count of the
    // number of requests (including the current request) that the client has sent with the
    // nonce value in this request."
    let qop: string | null = null
    let nc = 1
    if (creds.qop !== undefined) {
      if (creds.qop.toLowerCase() !== 'auth') return authFailure('unsupported-qop', proxy, username)
      qop = creds.qop
      if (creds.nc === undefined || !NC_RE.test(creds.nc) || creds.cnonce === undefined) {
        return authFailure('malformed-credentials', proxy, username)
      }
      nc = parseInt(creds.nc, 16)
    }
    // Without qop (RFC 2617 §3.2.2.1 compatibility) there is no count: the nonce is good for
    // one request (counted as nc=1), after which the client gets a stale challenge.

    // RFC 7616 §3.4.6: "The authenticating server MUST assure that the resource designated by
    // the "uri" parameter is the same as the resource specified in the Request-Line; if they
    // are not, the server SHOULD return a 400 Bad Request error."
    // (RFC 3261 §22.4 item 7 relaxes this for SIP, where a proxy may have retargeted the
    // request; `checkDigestUri: false` turns the check off for such deployments.)
    if (this.checkDigestUri && !sameUri(uri, request.uri)) return authFailure('uri-mismatch', proxy, username)

    const nonceCheck = this.nonces.check(nonce)
    if (!nonceCheck.ok && nonceCheck.reason !== 'stale') return authFailure('bad-nonce', proxy, username)

    // Asterisk's `alwaysauthreject`: an unknown user takes the very path of a known one, with
    // HA1s nobody can know (random per authenticator), so that neither the answer nor the
    // time it takes tells a scanner which user names exist. Both end in the same challenge
    // (AUTH_FAILURES: 'unknown-user' and 'wrong-password' are answered alike).
    const user = this.lookupUser(username)
    const known = user !== undefined
    const stored = known ? user : this.unknownUser
    const expected = digestResponse({
      algorithm,
      ha1: algorithm === 'MD5' ? stored.ha1 : stored.ha1Sha256,
      nonce,
      nc: creds.nc,
      cnonce: creds.cnonce,
      qop,
      method: request.method,
      uri,
    })
    const matches = hexDigestEquals(expected, response)
    if (!known || !matches) return authFailure(known ? 'wrong-password' : 'unknown-user', proxy, username)

    // The digest is right: only now may the nonce be called stale (RFC 2617 §3.2.1: stale
    // is set only for "a request for which the nonce is invalid but with a valid digest").
    if (!nonceCheck.ok) return authFailure('stale-nonce', proxy, username)
    if (!this.nonces.acceptCount(nonce, nonceCheck.issuedAt, nc)) return authFailure('nc-replay', proxy, username)

    return { ok: true, username }
  }

  /**
   * The first Digest credentials whose realm is ours. RFC 3261 §22.3: a UAC may send
   * several Authorization / Proxy-Authorization values, one per realm; each proxy uses the
   * one for its realm.
   */
  private findCredentials(values: string[]): DigestCredentials | null {
    for (const v of values) {
      const c = parseCredentials(v)
      if (c !== null && c.realm === this.realm) return c
    }
    return null
  }
}

/**
 * Whether the digest `uri` designates the Request-URI. Equal strings, or equal when
 * compared case-insensitively (scheme and host are case-insensitive, RFC 3261 §19.1.4; the
 * digest still covers the exact string the client hashed).
 */
function sameUri(digestUri: string, requestUri: string): boolean {
  return digestUri === requestUri || digestUri.toLowerCase() === requestUri.toLowerCase()
}

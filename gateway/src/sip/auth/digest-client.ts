/**
 * Digest authentication as a UAC (RFC 3261 §22.2-§22.4, RFC 7616 §3.3-§3.4, RFC 8760): reads
 * the challenges of a 401 (WWW-Authenticate) or 407 (Proxy-Authenticate), picks the one to
 * answer, and builds the Authorization / Proxy-Authorization value of the retried request.
 *
 * Pure functions over strings, plus `NonceCounter`, the per-nonce nonce-count (nc) a client
 * keeps (RFC 7616 §3.4: "the hexadecimal count of the number of requests (including the
 * current request) that the client has sent with the nonce value"). The same code answers a
 * registrar's 401 (trunk registration) and a trunk's 401/407 on an INVITE the proxy sends.
 *
 * Hashing is digest.ts's (the server side's): one implementation of H, KD, A1 and A2.
 */
import { digestResponse, ha1 as computeHa1, type DigestAlgorithm } from './digest.ts'
import { parseCredentials } from './parse-credentials.ts'

/** One digest challenge (a WWW-Authenticate or Proxy-Authenticate value), RFC 7616 §3.3. */
export interface DigestChallenge {
  realm: string
  nonce: string
  algorithm: DigestAlgorithm
  /** 'auth' when the server offers qop=auth; null when it sent no qop (RFC 2069 form). */
  qop: 'auth' | null
  opaque?: string
  /** stale=true: the nonce expired but the previous credentials were right (§3.3). */
  stale: boolean
}

/**
 * What the client authenticates with. Either `password` (HA1 computed for the challenge's
 * realm), or stored HA1s (`ha1` MD5, `ha1Sha256` SHA-256, RFC 7616 §3.4.2) that are only
 * valid for `realm` (required with them). With both, the password is used for other realms.
 */
export interface DigestClientCredentials {
  /** The authentication user name (Asterisk `username` / Kamailio uac `auth_username`). */
  username: string
  password?: string
  /** MD5 HA1 = MD5(username:realm:password), 32 lower-case hex digits. */
  ha1?: string
  /** SHA-256 HA1, 64 lower-case hex digits. */
  ha1Sha256?: string
  /** The realm the stored HA1s were computed for. */
  realm?: string
}

/** Algorithms answered, strongest first (RFC 8760 §2.4: the client picks the one it prefers). */
const PREFERENCE: readonly DigestAlgorithm[] = ['SHA-256', 'MD5']

/**
 * Parses one WWW-Authenticate / Proxy-Authenticate value (RFC 3261 §25.1 `challenge`):
 * `Digest realm="..", nonce="..", algorithm=SHA-256, qop="auth,auth-int", opaque=".."`.
 *
 * @returns null for another scheme, unreadable syntax, a missing realm or nonce, an
 *   algorithm we do not implement ("-sess" variants, SHA-512-256: RFC 8760 §3), or a qop
 *   list that does not contain "auth" (auth-int only). Never throws.
 */
export function parseChallenge(value: string): DigestChallenge | null {
  // The challenge's auth-param list has the grammar of the credentials' (RFC 7235 §2.1).
  const c = parseCredentials(value)
  if (c === null || c.realm === undefined || c.nonce === undefined) return null
  let algorithm: DigestAlgorithm
  const alg = c.algorithm?.toUpperCase()
  if (alg === undefined || alg === 'MD5') algorithm = 'MD5' // §3.3: absent means MD5
  else if (alg === 'SHA-256') algorithm = 'SHA-256'
  else return null
  let qop: 'auth' | null = null
  if (c.qop !== undefined) {
    // §3.3: "qop ... a quoted string of one or more tokens indicating the "quality of
    // protection" values supported by the server".
    const offered = c.qop.split(',').map((q) => q.trim().toLowerCase())
    if (!offered.includes('auth')) return null
    qop = 'auth'
  }
  const stale = (c.params['stale'] ?? '').toLowerCase() === 'true'
  return { realm: c.realm, nonce: c.nonce, algorithm, qop, ...(c.opaque !== undefined ? { opaque: c.opaque } : {}), stale }
}

/**
 * The challenge to answer among the values of one response's WWW-Authenticate (or
 * Proxy-Authenticate) headers: the strongest algorithm we implement and can compute an HA1
 * for (SHA-256 over MD5, RFC 8760 §2.4 — each header carries one algorithm), in the first
 * realm that has a usable challenge. `credentials` limits the choice to realms and
 * algorithms it can answer (stored HA1s are for one realm and one algorithm each).
 *
 * @returns null when no challenge is usable
 */
export function selectChallenge(values: readonly string[], credentials: DigestClientCredentials): DigestChallenge | null {
  const usable: DigestChallenge[] = []
  for (const v of values) {
    const c = parseChallenge(v)
    if (c !== null && ha1For(credentials, c.algorithm, c.realm) !== null) usable.push(c)
  }
  if (usable.length === 0) return null
  const realm = usable[0]!.realm
  for (const alg of PREFERENCE) {
    const c = usable.find((u) => u.realm === realm && u.algorithm === alg)
    if (c !== undefined) return c
  }
  return null
}

/**
 * HA1 for `algorithm` and `realm` (RFC 7616 §3.4.2: H(username ":" realm ":" passwd)), from
 * the stored HA1 when it was computed for this realm, else from the password.
 *
 * @returns lower-case hex, or null when the credentials cannot answer this realm/algorithm
 */
export function ha1For(credentials: DigestClientCredentials, algorithm: DigestAlgorithm, realm: string): string | null {
  if (credentials.realm === undefined || credentials.realm === realm) {
    const stored = algorithm === 'MD5' ? credentials.ha1 : credentials.ha1Sha256
    if (stored !== undefined && credentials.realm !== undefined) return stored.toLowerCase()
  }
  if (credentials.password !== undefined) return computeHa1(algorithm, credentials.username, realm, credentials.password)
  return null
}

/** Inputs of one answer to a challenge. */
export interface DigestAnswerInput {
  challenge: DigestChallenge
  credentials: DigestClientCredentials
  /** Method of the request being retried (A2 = Method ":" digest-uri, RFC 7616 §3.4.3). */
  method: string
  /** digest-uri: the Request-URI of the retried request (RFC 3261 §22.4 item 5). */
  uri: string
  /** nonce-count for this nonce, 1 for the first request that uses it (see NonceCounter). */
  nc: number
  /** Client nonce; a fresh random one when omitted (RFC 7616 §3.4: "MUST be used by all implementations"). */
  cnonce?: string
}

/**
 * The credentials value answering `challenge` (RFC 7616 §3.4; RFC 3261 §22.4):
 * `Digest username="..", realm="..", nonce="..", uri="..", response="..", algorithm=..,
 * [cnonce="..", qop=auth, nc=00000001,] [opaque=".."]`. Without qop in the challenge the
 * RFC 2069 form is sent (no cnonce/nc, RFC 2617 §3.2.2.1).
 *
 * @throws RangeError when the credentials cannot answer this challenge (check with
 *   `ha1For` / `selectChallenge` first), or nc is not in 1..2^32-1
 */
export function digestAuthorization(input: DigestAnswerInput): string {
  const { challenge: ch, credentials } = input
  const h1 = ha1For(credentials, ch.algorithm, ch.realm)
  if (h1 === null) throw new RangeError(`no ${ch.algorithm} credentials for realm ${ch.realm}`)
  if (!Number.isInteger(input.nc) || input.nc < 1 || input.nc > 0xffffffff) throw new RangeError(`nonce-count out of range: ${input.nc}`)
  const nc = input.nc.toString(16).padStart(8, '0')
  const cnonce = input.cnonce ?? newCnonce()
  const response = digestResponse({
    algorithm: ch.algorithm, ha1: h1, nonce: ch.nonce, method: input.method, uri: input.uri,
    qop: ch.qop, nc: ch.qop === null ? undefined : nc, cnonce: ch.qop === null ? undefined : cnonce,
  })
  let v = `Digest username=${quote(credentials.username)}, realm=${quote(ch.realm)}, nonce=${quote(ch.nonce)}, uri=${quote(input.uri)}, response="${response}", algorithm=${ch.algorithm}`
  if (ch.qop !== null) v += `, cnonce=${quote(cnonce)}, qop=auth, nc=${nc}`
  if (ch.opaque !== undefined) v += `, opaque=${quote(ch.opaque)}`
  return v
}

/** The header a challenge response is answered in (RFC 3261 §22.2: 401 -> Authorization, §22.3: 407 -> Proxy-Authorization). */
export interface AuthorizationHeader {
  name: 'authorization' | 'proxy-authorization'
  value: string
  /** The challenge answered (realm, nonce, stale). */
  challenge: DigestChallenge
}

/** The parts of a 401/407 response `answerChallenge` reads (SipResponse has them). */
export interface ChallengeResponse {
  readonly status: number
  getAll(name: string): string[]
}

/**
 * Answers a 401 or 407 (RFC 3261 §22.2 / §22.3) for a request with `method` and Request-URI
 * `uri`: picks the challenge (`selectChallenge`), counts the nonce in `counter`, and builds
 * the header the retried request carries (with a new CSeq and branch — the caller's part).
 *
 * @returns null when the response is not a 401/407 or has no challenge we can answer
 */
export function answerChallenge(
  response: ChallengeResponse, method: string, uri: string,
  credentials: DigestClientCredentials, counter: NonceCounter, cnonce?: string,
): AuthorizationHeader | null {
  if (response.status !== 401 && response.status !== 407) return null
  const proxy = response.status === 407
  const challenge = selectChallenge(response.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate'), credentials)
  if (challenge === null) return null
  const value = digestAuthorization({ challenge, credentials, method, uri, nc: counter.next(challenge.nonce), ...(cnonce !== undefined ? { cnonce } : {}) })
  return { name: proxy ? 'proxy-authorization' : 'authorization', value, challenge }
}

/**
 * The nonce-count per nonce (RFC 7616 §3.4: nc counts the requests sent with that nonce,
 * starting at 00000001). Keeps the `capacity` most recently used nonces (servers issue a new
 * one per challenge; old ones are not reused), so it never grows without bound.
 */
export class NonceCounter {
  private readonly counts = new Map<string, number>()

  constructor(private readonly capacity = 64) {}

  /** The nc for the next request with `nonce`: 1, 2, 3, ... */
  next(nonce: string): number {
    const n = (this.counts.get(nonce) ?? 0) + 1
    this.counts.delete(nonce) // re-insert: the Map's order is the use order
    this.counts.set(nonce, n)
    if (this.counts.size > this.capacity) this.counts.delete(this.counts.keys().next().value!)
    return n
  }

  /** Forgets every nonce. */
  clear(): void {
    this.counts.clear()
  }
}

/** A random client nonce: 16 bytes, hex. */
export function newCnonce(): string {
  const b = crypto.getRandomValues(new Uint8Array(16))
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`
}

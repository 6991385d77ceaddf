/**
 * HTTP Digest computations for SIP (RFC 7616 §3.4, as used by SIP through RFC 3261 §22.4
 * and RFC 8760): H, KD, A1/HA1, A2/HA2 and the request-digest ("response" parameter).
 *
 * Pure functions over strings; hashes are lower-case hex. Credentials are stored as HA1
 * (never as passwords), so `digestResponse` takes the HA1 and never the password.
 */

/** The digest algorithms the gateway implements (RFC 7616 §6.1 registry names). */
export type DigestAlgorithm = 'MD5' | 'SHA-256'

/** Every algorithm this module implements, in the gateway's order of preference (RFC 8760). */
export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['SHA-256', 'MD5']

/**
 * One hasher per algorithm, reused: `digest()` resets a (non-HMAC) Bun.CryptoHasher, and
 * each use below is a synchronous update+digest, so calls cannot interleave. Reuse halves
 * the cost of a hash compared with a new hasher each time (bench/digest.ts).
 */
const HASHERS: Readonly<Record<DigestAlgorithm, Bun.CryptoHasher>> = {
  MD5: new Bun.CryptoHasher('md5'),
  'SHA-256': new Bun.CryptoHasher('sha256'),
}

/**
 * Maps an `algorithm` parameter value as written on the wire to a DigestAlgorithm.
 * RFC 7616 §3.3: "If the parameter is not present, it is assumed to be "MD5"." Tokens are
 * compared case-insensitively. "-sess" variants and unknown tokens give null.
 */
export function parseDigestAlgorithm(value: string | undefined): DigestAlgorithm | null {
  if (value === undefined) return 'MD5'
  const v = value.toUpperCase()
  if (v === 'MD5') return 'MD5'
  if (v === 'SHA-256') return 'SHA-256'
  return null
}

/**
 * H(data) as lower-case hex (RFC 7616 §3.3: "the hash algorithm ... H(data)").
 * Strings are hashed as their UTF-8 bytes (RFC 7616 §4: UTF-8 for username and password
 * when the server sends charset=UTF-8; plain ASCII is the same either way).
 */
export function hashHex(algorithm: DigestAlgorithm, data: string): string {
  const h = HASHERS[algorithm]
  h.update(data)
  return h.digest('hex')
}

/**
 * HA1 = H(A1), RFC 7616 §3.4.2:
 *
 * > If the "algorithm" parameter's value is "<algorithm>", e.g., "SHA-256", then A1 is:
 * >    A1       = unq(username) ":" unq(realm) ":" passwd
 *
 * @param algorithm 'MD5' (32 hex digits) or 'SHA-256' (64 hex digits)
 * @returns lower-case hex; this is what users.yaml stores as `ha1` / `ha1Sha256`.
 */
export function ha1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return hashHex(algorithm, `${username}:${realm}:${password}`)
}

/** Inputs of the request-digest. All values unquoted, exactly as the client sent them. */
export interface DigestResponseInput {
  algorithm: DigestAlgorithm
  /** H(A1) in lower-case hex (see `ha1`). */
  ha1: string
  nonce: string
  /** nonce-count, 8 hex digits as sent (e.g. "00000001"); required when qop is set. */
  nc?: string
  cnonce?: string
  /** "auth", or undefined/null for the RFC 2617 §3.2.2.1 (RFC 2069) compatibility form. */
  qop?: string | null
  /** Request method (A2 uses the method of the request, RFC 3261 §22.4). */
  method: string
  /** The `uri` parameter of the credentials (digest-uri), as sent. */
  uri: string
}

/**
 * The request-digest ("response" parameter) in lower-case hex.
 *
 * RFC 7616 §3.4.1:
 * > If the qop value is "auth" or "auth-int":
 * >    response = <"> < KD ( H(A1), unq(nonce)
 * >                             ":" nc
 * >                             ":" unq(cnonce)
 * >                             ":" unq(qop)
 * >                             ":" H(A2)
 * >                    ) <">
 *
 * RFC 2617 §3.2.2.1 (kept for clients that answer without qop):
 * > If the "qop" directive is not present (this construction is for compatibility with
 * > RFC 2069):
 * >    request-digest  = <"> < KD ( H(A1), unq(nonce-value) ":" H(A2) ) > <">
 *
 * RFC 7616 §3.4.3:
 * > If the "qop" parameter's value is "auth" or is unspecified, then A2 is:
 * >    A2       = Method ":" request-uri
 *
 * RFC 7616 §3.3: KD(secret, data) = H(concat(secret, ":", data)).
 *
 * Only qop=auth is implemented (auth-int needs H(entity-body), which the gateway never
 * offers); callers must reject other qop values before calling.
 */
export function digestResponse(input: DigestResponseInput): string {
  const alg = input.algorithm
  const ha2 = hashHex(alg, `${input.method}:${input.uri}`)
  if (input.qop === undefined || input.qop === null) {
    return hashHex(alg, `${input.ha1}:${input.nonce}:${ha2}`)
  }
  return hashHex(alg, `${input.ha1}:${input.nonce}:${input.nc ?? ''}:${input.cnonce ?? ''}:${input.qop}:${ha2}`)
}

/**
 * Compares two hex digests in time independent of where they differ (hex digits compared
 * case-insensitively, RFC 7616 §3.4: "32LHEX"/"64LHEX" are lower-case, but some clients
 * send upper case). Different lengths compare unequal at once (the length is public).
 */
export function hexDigestEquals(expected: string, received: string): boolean {
  if (expected.length !== received.length) return false
  let diff = 0
  for (let i = 0; i < expected.length; i++) {
    let c = received.charCodeAt(i)
    if (c >= 65 && c <= 70) c += 32 // 'A'..'F' -> 'a'..'f'
    diff |= expected.charCodeAt(i) ^ c
  }
  return diff === 0
}

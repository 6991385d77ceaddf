/**
 * HTTP Digest for the test side (RFC 2617, RFC 7616, used by SIP per RFC 3261 §22.4 and
 * RFC 8760): HA1 values for the users a test puts in the gateway's config, challenge
 * parsing and the client's credentials. Written independently of gateway/src/sip/auth so
 * that the gateway is checked against a second implementation.
 */

export type DigestAlgorithm = 'MD5' | 'SHA-256'

/** Hex digest of UTF-8 `text` with `algorithm` (Bun.CryptoHasher). */
export function digestHex(algorithm: DigestAlgorithm, text: string): string {
  const hasher = new Bun.CryptoHasher(algorithm === 'MD5' ? 'md5' : 'sha256')
  hasher.update(text)
  return hasher.digest('hex')
}

/**
 * RFC 7616 §3.4.2: "A1 = unq(username) ":" unq(realm) ":" passwd" for a non-session
 * algorithm, and HA1 = H(A1).
 */
export function ha1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return digestHex(algorithm, `${username}:${realm}:${password}`)
}

/** One challenge from a WWW-Authenticate or Proxy-Authenticate value. */
export interface DigestChallenge {
  realm: string
  nonce: string
  /** Upper-case algorithm name; 'MD5' when the challenge names none (RFC 7616 §3.3). */
  algorithm: string
  /** The qop options offered (e.g. ['auth']); empty for an RFC 2069 challenge. */
  qop: string[]
  opaque: string | null
  stale: boolean
  /** All auth-params, lower-case names, quotes removed. */
  params: Record<string, string>
}

/**
 * Parses `Digest realm="x", nonce="y", qop="auth", algorithm=MD5`. Returns null (never
 * throws) for another scheme or a challenge without realm or nonce.
 */
export function parseDigestChallenge(value: string): DigestChallenge | null {
  const match = /^\s*Digest\s+(.*)$/is.exec(value)
  if (!match) return null
  const params: Record<string, string> = {}
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))\s*,?/g
  let m: RegExpExecArray | null
  while ((m = re.exec(match[1]!)) !== null) {
    params[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!
  }
  if (params.realm === undefined || params.nonce === undefined) return null
  return {
    realm: params.realm,
    nonce: params.nonce,
    algorithm: (params.algorithm ?? 'MD5').toUpperCase(),
    qop: (params.qop ?? '').split(',').map((q) => q.trim().toLowerCase()).filter((q) => q.length > 0),
    opaque: params.opaque ?? null,
    stale: (params.stale ?? '').toLowerCase() === 'true',
    params,
  }
}

export interface DigestCredentialsInput {
  challenge: DigestChallenge
  username: string
  password: string
  method: string
  /** digest-uri: the Request-URI of the request being authorized (RFC 3261 §22.4). */
  uri: string
  /** Nonce count, 1 for the first use of a nonce. */
  nc?: number
  /** Client nonce; random when absent. */
  cnonce?: string
}

/**
 * The value of an Authorization / Proxy-Authorization header answering `challenge`.
 *
 * RFC 7616 §3.4.1: with qop=auth,
 *   response = <"> < KD ( H(A1), unq(nonce) ":" nc ":" unq(cnonce) ":" unq(qop) ":" H(A2) ) <">
 * and RFC 2617 §3.2.2.1 without qop: request-digest = KD(H(A1), unq(nonce-value) ":" H(A2)).
 * RFC 7616 §3.4.3: "If the qop parameter's value is "auth" or is unspecified, then A2 is:
 *   A2 = Method ":" request-uri".
 *
 * @throws Error when the challenge names an algorithm other than MD5 or SHA-256 (a test
 *   that gets one should fail loudly, not send garbage)
 */
export function digestCredentials(input: DigestCredentialsInput): string {
  const { challenge, username, password, method, uri } = input
  const algorithm = challenge.algorithm as DigestAlgorithm
  if (algorithm !== 'MD5' && algorithm !== 'SHA-256') {
    throw new Error(`digestCredentials: unsupported algorithm ${challenge.algorithm}`)
  }
  const h1 = ha1(algorithm, username, challenge.realm, password)
  const h2 = digestHex(algorithm, `${method}:${uri}`)
  const parts = [
    `username="${username}"`,
    `realm="${challenge.realm}"`,
    `nonce="${challenge.nonce}"`,
    `uri="${uri}"`,
  ]
  if (challenge.qop.includes('auth')) {
    const nc = (input.nc ?? 1).toString(16).padStart(8, '0')
    const cnonce = input.cnonce ?? crypto.randomUUID().replaceAll('-', '').slice(0, 16)
    const response = digestHex(algorithm, `${h1}:${challenge.nonce}:${nc}:${cnonce}:auth:${h2}`)
    parts.push(`response="${response}"`, `algorithm=${algorithm}`, `cnonce="${cnonce}"`, 'qop=auth', `nc=${nc}`)
  } else {
    const response = digestHex(algorithm, `${h1}:${challenge.nonce}:${h2}`)
    parts.push(`response="${response}"`, `algorithm=${algorithm}`)
  }
  if (challenge.opaque !== null) parts.push(`opaque="${challenge.opaque}"`)
  return `Digest ${parts.join(', ')}`
}

/**
 * The JSON signaling login proof (docs/json-signaling.md, "Login without sending the
 * password"), computed with WebCrypto so that the password never leaves the page:
 *
 *   ha1   = lower-case hex SHA-256(`username:realm:password`)   (RFC 7616 §3.4.2)
 *   proof = lower-case hex HMAC-SHA-256(key = UTF-8 bytes of ha1, message = UTF-8 nonce)
 */

const utf8 = (text: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(text) as Uint8Array<ArrayBuffer>

function hex(buffer: ArrayBuffer): string {
  return [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/**
 * The `proof` of a `login` message for the `challenge`'s `realm` and `nonce`.
 *
 * @returns 64 lower-case hex digits
 * @throws when WebCrypto is unavailable (crypto.subtle needs a secure context: https or localhost)
 */
export async function loginProof(username: string, realm: string, password: string, nonce: string, subtle: SubtleCrypto = crypto.subtle): Promise<string> {
  const ha1 = hex(await subtle.digest('SHA-256', utf8(`${username}:${realm}:${password}`)))
  const key = await subtle.importKey('raw', utf8(ha1), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign'])
  return hex(await subtle.sign('HMAC', key, utf8(nonce)))
}

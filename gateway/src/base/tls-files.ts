/**
 * Reading a TLS certificate and key from PEM files, checked before a listener uses them, so
 * that a certificate reload (SIGHUP, a renewed Let's Encrypt certificate) can refuse a
 * missing, truncated or mismatched file and name it, keeping the running certificate.
 */
import { readFileSync } from 'node:fs'
import { X509Certificate, createPrivateKey } from 'node:crypto'

/** Paths of a PEM certificate (chain) and its private key (config `sip.tls`, `http.tls`). */
export interface TlsFiles {
  cert: string
  key: string
}

/** The PEM text of a certificate and key that belong together. */
export interface TlsCredentials {
  cert: string
  key: string
}

export type TlsReadResult =
  | { ok: true; credentials: TlsCredentials }
  | { ok: false; file: string; error: string }

/**
 * Reads and checks `files`: the certificate parses (its first PEM block), the key parses and
 * is the certificate's key. Never throws; the key's text is never part of an error.
 */
export function readTlsFiles(files: TlsFiles): TlsReadResult {
  let cert: string
  let key: string
  try {
    cert = readFileSync(files.cert, 'utf8')
  } catch (e) {
    return { ok: false, file: files.cert, error: errorText(e) }
  }
  try {
    key = readFileSync(files.key, 'utf8')
  } catch (e) {
    return { ok: false, file: files.key, error: errorText(e) }
  }
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch (e) {
    return { ok: false, file: files.cert, error: `not a PEM certificate (${errorText(e)})` }
  }
  let privateKey: ReturnType<typeof createPrivateKey>
  try {
    privateKey = createPrivateKey(key)
  } catch {
    return { ok: false, file: files.key, error: 'not a PEM private key' }
  }
  if (!x509.checkPrivateKey(privateKey)) {
    return { ok: false, file: files.key, error: `the key does not match the certificate ${files.cert}` }
  }
  return { ok: true, credentials: { cert, key } }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e)
}

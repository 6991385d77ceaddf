/**
 * The SIP side of the small scripted registrars the softphone's SIP.js tests run (RFC 7118 over
 * Bun.serve): header reading, responses built from a request, and a Digest (MD5, qop=auth)
 * exchange for REGISTER with the demo password.
 */
import { createHash } from 'node:crypto'

const md5 = (s: string): string => createHash('md5').update(s).digest('hex')
/** The password every scripted registrar accepts. */
export const PASSWORD = 'alice-demo'

/** A header field's value in a SIP message text (first occurrence, case-insensitive name). */
export function header(message: string, name: string): string | undefined {
  return new RegExp(`^${name}\\s*:\\s*(.*)$`, 'im').exec(message)?.[1]?.trim()
}

/** A response to `request` with `status` (`200 OK`) and extra header lines. */
export function respond(request: string, status: string, extra: string[] = []): string {
  const lines = [`SIP/2.0 ${status}`]
  for (const name of ['Via', 'From', 'Call-ID', 'CSeq']) lines.push(`${name}: ${header(request, name)}`)
  const to = header(request, 'To') ?? ''
  lines.push(`To: ${to}${/;tag=/.test(to) ? '' : ';tag=registrar1'}`, ...extra, 'Content-Length: 0', '', '')
  return lines.join('\r\n')
}

/** The Digest exchange for a REGISTER: 401 without credentials, 200 for the right ones, else 403. */
export function digestAnswer(msg: string): string {
  const auth = header(msg, 'Authorization')
  if (!auth) return respond(msg, '401 Unauthorized', ['WWW-Authenticate: Digest realm="patchbay.test", nonce="n0nce", algorithm=MD5, qop="auth"'])
  const p = Object.fromEntries([...auth.matchAll(/(\w+)=("([^"]*)"|[^,\s]+)/g)].map((m) => [m[1]!, m[3] ?? m[2]!]))
  const ha1 = md5(`${p.username}:patchbay.test:${PASSWORD}`)
  const expected = md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:${p.qop}:${md5(`REGISTER:${p.uri}`)}`)
  if (p.response !== expected) return respond(msg, '403 Forbidden')
  const contact = header(msg, 'Contact') ?? ''
  return respond(msg, '200 OK', [`Contact: ${contact}${/expires=/.test(contact) ? '' : ';expires=600'}`])
}

/**
 * Prints a users.yaml entry with the HA1 hashes of a password (RFC 7616 §3.4.2:
 * H(username ":" realm ":" password), MD5 and SHA-256), so that no password is ever stored.
 *
 * Usage:
 *   bun gateway/src/config/hash-password.ts USER PASSWORD [REALM]
 *   bun gateway/src/config/hash-password.ts USER - [REALM]     (password read from stdin)
 *
 * REALM defaults to `patchbay.test`; it must be the gateway's realm (`auth.realm`, else
 * `domain` in gateway.yaml), or the hashes will not match. Exit status 2 on bad arguments.
 */
import { ha1 } from '../sip/auth/digest.ts'
import { UserSchema } from './schema.ts'
import { DEFAULT_DOMAIN } from './defaults.ts'

const USERNAME_RE = new RegExp(UserSchema.properties.username.pattern ?? '^.+$')

/**
 * The users.yaml list item for one user, two-space indented under `users:`.
 * @throws RangeError when the username is not allowed by the schema (not wire input).
 */
export function usersYamlEntry(username: string, password: string, realm: string = DEFAULT_DOMAIN, displayName?: string): string {
  if (!USERNAME_RE.test(username)) throw new RangeError(`username must match ${USERNAME_RE.source}`)
  const lines = [
    `  # realm ${JSON.stringify(realm)}`,
    `  - username: ${JSON.stringify(username)}`,
  ]
  if (displayName !== undefined) lines.push(`    displayName: ${JSON.stringify(displayName)}`)
  // Quoted: an all-digit or "123e4..." hash would otherwise be read as a YAML number.
  lines.push(`    ha1: "${ha1('MD5', username, realm, password)}"`)
  lines.push(`    ha1Sha256: "${ha1('SHA-256', username, realm, password)}"`)
  return lines.join('\n') + '\n'
}

async function main(argv: string[]): Promise<number> {
  if (argv.length < 2 || argv.length > 3 || argv[0] === '-h' || argv[0] === '--help') {
    process.stderr.write('usage: bun gateway/src/config/hash-password.ts USER PASSWORD|- [REALM]\n')
    return 2
  }
  const [user, pw, realm] = argv as [string, string, string | undefined]
  let password = pw
  if (pw === '-') {
    password = (await Bun.stdin.text()).replace(/\r?\n$/, '')
  }
  try {
    process.stdout.write(usersYamlEntry(user, password, realm ?? DEFAULT_DOMAIN))
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`)
    return 2
  }
  return 0
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2))
}

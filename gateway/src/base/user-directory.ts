/**
 * The configured SIP accounts, by username, replaced as a whole when the configuration is
 * reloaded (SIGHUP). Every layer that asks "does this user exist, what are its HA1s?" reads
 * the same directory, so a reload reaches all of them at once.
 */
import type { UserCredentials } from './user-credentials.ts'

export class UserDirectory<U extends UserCredentials = UserCredentials> {
  private byName = new Map<string, U>()

  constructor(users: Iterable<U> = []) {
    this.replace(users)
  }

  /** The user named `username` (case-sensitive, as digest usernames are), or undefined. */
  get(username: string): U | undefined {
    return this.byName.get(username)
  }

  has(username: string): boolean {
    return this.byName.has(username)
  }

  get size(): number {
    return this.byName.size
  }

  /** Replaces every account at once (configuration reload). */
  replace(users: Iterable<U>): void {
    const next = new Map<string, U>()
    for (const u of users) next.set(u.username, u)
    this.byName = next
  }
}

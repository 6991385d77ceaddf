/**
 * The display name of a network-asserted identity (RFC 3325 §9.1 P-Asserted-Identity). The
 * gateway adds `"Display Name" <sip:user@domain>` (the users.yaml name) to the requests of
 * authenticated users and strips the ones callers put there themselves, so in SIP mode the
 * softphone prefers it over the From display name, which the caller chooses freely. Pure:
 * the SIP.js code passes the header's text in.
 */

/**
 * Splits a header value at the commas that separate values (not those inside quotes or
 * angle brackets): RFC 3325 allows two identities, e.g. a SIP URI and a tel URI.
 */
function splitValues(value: string): string[] {
  const parts: string[] = []
  let start = 0
  let quoted = false
  let angle = false
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]
    if (quoted && ch === '\\') i++
    else if (ch === '"') quoted = !quoted
    else if (!quoted && ch === '<') angle = true
    else if (!quoted && ch === '>') angle = false
    else if (!quoted && !angle && ch === ',') {
      parts.push(value.slice(start, i))
      start = i + 1
    }
  }
  parts.push(value.slice(start))
  return parts.map((p) => p.trim()).filter((p) => p !== '')
}

/** The display name of one name-addr (RFC 3261 §25.1: quoted-string or tokens before `<`), or ''. */
function displayNameOf(nameAddr: string): string {
  const quoted = /^"((?:[^"\\]|\\.)*)"\s*</.exec(nameAddr)
  if (quoted) return quoted[1]!.replace(/\\(.)/g, '$1').trim()
  const tokens = /^([^"<]+?)\s*</.exec(nameAddr)
  return tokens ? tokens[1]!.trim() : ''
}

/**
 * The display name in a P-Asserted-Identity header value (`"Alice Archer" <sip:alice@x>`,
 * possibly followed by a second identity), or '' when there is none or it names nobody.
 */
export function assertedDisplayName(header: string | undefined): string {
  if (!header) return ''
  for (const value of splitValues(header)) {
    const name = displayNameOf(value)
    if (name) return name
  }
  return ''
}

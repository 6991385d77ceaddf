/**
 * Turns what the user typed in the dial field into a SIP request-URI.
 *
 * Accepted forms (surrounding spaces ignored):
 * - a user name: `bob` -> `sip:bob@DOMAIN`
 * - a number, with the usual punctuation: `+1 (555) 010-2030` -> `sip:+15550102030@DOMAIN`;
 *   `*` and `#` are kept (feature codes); `#` is escaped as `%23` (RFC 3261 §25.1: `#` is
 *   not an unreserved or user-unreserved character)
 * - `user@host` -> `sip:user@host`
 * - a full `sip:` / `sips:` URI, kept as typed
 *
 * Never throws: returns `{ ok: false, message }` for input that is not a callable target.
 */
export type DialTarget =
  | { readonly ok: true; readonly uri: string; readonly user: string; readonly host: string }
  | { readonly ok: false; readonly message: string }

/**
 * RFC 3261 §25.1:
 *   user             =  1*( unreserved / escaped / user-unreserved )
 *   user-unreserved  =  "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
 *   unreserved       =  alphanum / mark
 *   mark             =  "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
 */
const USER_PART = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/
const HOST_PART = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/
const PHONE_LIKE = /^\+?[\d*#][\d*#\s().-]*$/

export function parseDialTarget(input: string, domain: string): DialTarget {
  const text = input.trim()
  if (text === '') return { ok: false, message: 'Type a name or number to call.' }

  if (/^sips?:/i.test(text)) {
    const scheme = text.slice(0, text.indexOf(':') + 1).toLowerCase()
    const rest = text.slice(scheme.length)
    const at = rest.lastIndexOf('@')
    const user = at >= 0 ? rest.slice(0, at) : ''
    const hostAndParams = at >= 0 ? rest.slice(at + 1) : rest
    const host = hostAndParams.split(/[;?]/)[0] ?? ''
    if (!HOST_PART.test(host) || (user !== '' && !USER_PART.test(user))) {
      return { ok: false, message: `“${text}” is not a valid SIP address.` }
    }
    return { ok: true, uri: scheme + rest, user: user || host, host }
  }

  if (text.includes('@')) {
    const at = text.lastIndexOf('@')
    const user = text.slice(0, at)
    const host = text.slice(at + 1)
    if (!USER_PART.test(user) || !HOST_PART.test(host)) {
      return { ok: false, message: `“${text}” is not a valid address. Use name@domain.` }
    }
    return { ok: true, uri: `sip:${user}@${host}`, user, host }
  }

  if (PHONE_LIKE.test(text)) {
    const digits = text.replace(/[\s().-]/g, '')
    const escaped = digits.replace(/#/g, '%23')
    return { ok: true, uri: `sip:${escaped}@${domain}`, user: digits, host: domain }
  }

  if (!USER_PART.test(text)) {
    return { ok: false, message: `“${text}” is not a user name or number.` }
  }
  return { ok: true, uri: `sip:${text}@${domain}`, user: text, host: domain }
}

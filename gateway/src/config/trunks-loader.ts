/**
 * Semantic checks of `trunks.yaml` (what the schema cannot say) and its conversion to the
 * plain TrunkDefinition list (sip/dialplan/trunk-definition.ts):
 * unique names; `host` an IP address or DNS name; `outboundProxy` a sip:/sips: URI;
 * registration trunks have `username` and one secret (`password`, `passwordEnv`, `ha1`,
 * `ha1Sha256`); `ha1`/`ha1Sha256` need `realm`; `password` xor `passwordEnv`, whose
 * variable must be set; peers do not `register`; `inbound.addresses` are IP addresses or
 * CIDR prefixes. The calling `class` is checked against dialplan.yaml by dialplan-loader.ts.
 */
import { isIP } from 'node:net'
import type { TrunkDefinition } from '../sip/dialplan/trunk-definition.ts'
import { parseAllowListEntry } from '../sip/security/source-allow-list.ts'
import { parseUri } from '../sip/syntax/uri.ts'
import type { TrunksFile } from './trunks-schema.ts'
import type { ConfigError, LoadedFile } from './yaml-file.ts'

const DNS_NAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/

/** True for an IPv4/IPv6 address (IPv6 with or without brackets) or a DNS host name. */
export function isHostName(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (isIP(bare) !== 0) return true
  return !host.startsWith('[') && DNS_NAME.test(host) && !/^[0-9.]+$/.test(host)
}

/**
 * Checks the trunks of `file` and converts them. Problems are pushed to `errors` (located
 * in trunks.yaml); the result is meaningful only when none were pushed.
 * @param env where `passwordEnv` is looked up (process.env).
 */
export function loadTrunks(file: LoadedFile<TrunksFile>, env: Record<string, string | undefined>, errors: ConfigError[]): TrunkDefinition[] {
  const seen = new Map<string, number>()
  const out: TrunkDefinition[] = []
  file.value.trunks.forEach((t, i) => {
    const at = (field: string, message: string) => errors.push(file.error(['trunks', i, field], message))
    const first = seen.get(t.name)
    if (first !== undefined) at('name', `duplicate trunk name "${t.name}" (also trunks[${first}])`)
    else seen.set(t.name, i)

    if (!isHostName(t.host)) at('host', 'must be an IP address or a DNS name (no scheme, no port: use port)')
    if (t.outboundProxy !== undefined) {
      const u = parseUri(t.outboundProxy)
      if (u === null || (u.scheme !== 'sip' && u.scheme !== 'sips') || u.host === '') at('outboundProxy', 'must be a sip: or sips: URI, e.g. sip:proxy.example.net;lr')
    }
    if (t.password !== undefined && t.passwordEnv !== undefined) at('passwordEnv', 'give password or passwordEnv, not both')
    let password = t.password
    if (t.passwordEnv !== undefined) {
      password = env[t.passwordEnv]
      if (password === undefined || password === '') at('passwordEnv', `environment variable ${t.passwordEnv} is not set`)
    }
    if ((t.ha1 !== undefined || t.ha1Sha256 !== undefined) && t.realm === undefined) {
      at(t.ha1 !== undefined ? 'ha1' : 'ha1Sha256', 'needs realm (the realm the hash was computed for)')
    }
    const hasSecret = t.password !== undefined || t.passwordEnv !== undefined || t.ha1 !== undefined || t.ha1Sha256 !== undefined
    const authUser = t.authUsername ?? t.username
    if (t.type === 'registration') {
      if (t.username === undefined) at('username', 'is required for a registration trunk (the user to register)')
      if (!hasSecret) at('password', 'a registration trunk needs password, passwordEnv, ha1 or ha1Sha256')
    } else {
      if (t.register === true) at('register', 'only registration trunks register (type: registration)')
      if (hasSecret && authUser === undefined) at('authUsername', 'credentials need authUsername (or username)')
    }
    t.inbound.addresses.forEach((a, k) => {
      if (parseAllowListEntry(a) === null) {
        errors.push(file.error(['trunks', i, 'inbound', 'addresses', k], 'must be an IP address or a CIDR prefix (e.g. 192.0.2.10, 198.51.100.0/24)'))
      }
    })

    const def: TrunkDefinition = {
      name: t.name,
      type: t.type,
      host: t.host,
      transport: t.transport,
      register: t.type === 'registration' && t.register !== false,
      expires: t.expires,
      codecs: [...t.codecs],
      maxCalls: t.maxCalls,
      qualifySeconds: t.qualifySeconds,
      inbound: { addresses: [...t.inbound.addresses], ...(t.inbound.header !== undefined ? { header: { ...t.inbound.header } } : {}) },
      trusted: t.trusted,
    }
    if (t.port !== undefined) def.port = t.port
    if (t.outboundProxy !== undefined) def.outboundProxy = t.outboundProxy
    if (t.username !== undefined) def.username = t.username
    if (hasSecret && authUser !== undefined) {
      def.credentials = { authUsername: authUser }
      if (password !== undefined) def.credentials.password = password
      if (t.ha1 !== undefined) def.credentials.ha1 = t.ha1
      if (t.ha1Sha256 !== undefined) def.credentials.ha1Sha256 = t.ha1Sha256
      if (t.realm !== undefined) def.credentials.realm = t.realm
    }
    if (t.fromUser !== undefined) def.fromUser = t.fromUser
    if (t.fromDomain !== undefined) def.fromDomain = t.fromDomain
    if (t.callerId !== undefined) def.callerId = { ...t.callerId }
    if (t.class !== undefined) def.class = t.class
    out.push(def)
  })
  return out
}

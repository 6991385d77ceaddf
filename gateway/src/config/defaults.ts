/**
 * The embedded default configuration: what the gateway runs with when no `sip-config/`
 * directory is given (`loadConfig(null)`). It equals `sip-config/gateway.yaml` +
 * `sip-config/users.yaml` as shipped:
 *
 * - domain (and digest realm) `patchbay.test`;
 * - HTTP + WebSocket on 127.0.0.1:8080; SIP over UDP and TCP on 127.0.0.1:5060;
 * - the demo users alice / bob / carol (demo-users.ts), stored as HA1 hashes computed here
 *   at module load for realm `patchbay.test`;
 * - log level info; store `.data/patchbay.sqlite`;
 * - no trunks and a dial plan without rules (local users reachable by name).
 *
 * Every other value is the schema default (schema.ts).
 */
import { Value } from '@sinclair/typebox/value'
import { GatewayFileSchema, type GatewayConfig, type GatewayFile, type UserEntry } from './schema.ts'
import { DEMO_CREDENTIALS } from './demo-users.ts'
import { ha1 } from '../sip/auth/digest.ts'
import { emptyDialPlan } from '../sip/dialplan/dialplan-definition.ts'

/** Domain and realm of the embedded defaults. */
export const DEFAULT_DOMAIN = 'patchbay.test'

/** The demo users as users.yaml entries (HA1s for realm `patchbay.test`). */
export const DEFAULT_USERS: readonly UserEntry[] = DEMO_CREDENTIALS.map((c) => ({
  username: c.username,
  displayName: c.displayName,
  ha1: ha1('MD5', c.username, DEFAULT_DOMAIN, c.password),
  ha1Sha256: ha1('SHA-256', c.username, DEFAULT_DOMAIN, c.password),
}))

/** gateway.yaml content of the defaults: the schema defaults with the values above pinned. */
function defaultGatewayFile(): GatewayFile {
  const file = Value.Default(GatewayFileSchema, {
    domain: DEFAULT_DOMAIN,
    http: { host: '127.0.0.1', port: 8080 },
    sip: { host: '127.0.0.1', udpPort: 5060, tcpPort: 5060 },
    store: { path: '.data/patchbay.sqlite' },
    log: { level: 'info' },
  }) as GatewayFile
  return file
}

/**
 * A fresh copy of the embedded default configuration (callers may mutate it).
 * `usesDemoPasswords` is true (the demo users), `sources` is empty.
 */
export function defaultConfig(): GatewayConfig {
  const file = defaultGatewayFile()
  return {
    ...file,
    users: DEFAULT_USERS.map((u) => ({ ...u })),
    trunks: [],
    dialPlan: emptyDialPlan(DEFAULT_USERS.map((u) => u.username)),
    realm: file.auth.realm ?? file.domain,
    usesDemoPasswords: true,
    sources: [],
  }
}

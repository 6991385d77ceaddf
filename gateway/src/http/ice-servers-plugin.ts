/**
 * `GET /api/ice-servers`: the ICE servers (STUN, and TURN with fresh TURN REST credentials)
 * for the signed-in softphone user. A thin controller over `buildIceServers`.
 *
 * - Auth: HTTP Basic (RFC 7617) with the user's SIP username and password; `authenticate`
 *   (supplied by the composition root) checks the password against the user's HA1.
 *   Missing or wrong credentials: 401 with `WWW-Authenticate: Basic realm="patchbay"`.
 * - 200: `{ iceServers, ttlSeconds }`. Every answer carries `Cache-Control: no-store`:
 *   the credentials are per user and short-lived.
 * - The TURN secret is resolved per request from `config` and `env` (resolveTurnSecret);
 *   it is never logged nor put in a body.
 */
import { Elysia } from 'elysia'
import type { GatewayConfig } from '../config/schema.ts'
import { buildIceServers, resolveTurnSecret } from '../ice/ice-servers.ts'

export interface IceServersPluginDeps {
  config: GatewayConfig
  /** True when `password` is the SIP password of `username`. */
  authenticate: (username: string, password: string) => boolean
  /** Clock in milliseconds since the UNIX epoch (default Date.now). */
  now?: () => number
  /** Where `ice.turn.secretEnv` is looked up (default process.env). */
  env?: Record<string, string | undefined>
  /** The STUN binding service's bound port, when it differs from `ice.stun.port`. */
  stunPort?: () => number | undefined
}

/** Realm of the Basic challenge. */
export const ICE_SERVERS_REALM = 'patchbay'

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/**
 * Parses `Authorization: Basic base64(user-id ":" password)` (RFC 7617 §2). Returns null
 * when the header is absent or not Basic, or the token is not base64 of a `user:pass` pair.
 * RFC 7617 §2: "a user-id containing a colon character is invalid", so the first colon splits.
 */
export function parseBasicAuthorization(header: string | null): { username: string; password: string } | null {
  if (header === null) return null
  const m = /^\s*basic\s+(\S+)\s*$/i.exec(header)
  if (m === null) return null
  const token = m[1]!
  if (!BASE64.test(token) || token.length % 4 !== 0) return null
  const decoded = Buffer.from(token, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon <= 0) return null
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/** Elysia plugin serving `GET /api/ice-servers`. */
export function iceServersPlugin(deps: IceServersPluginDeps) {
  const now = deps.now ?? Date.now
  const env = deps.env ?? process.env
  return new Elysia({ name: 'ice-servers' }).get('/api/ice-servers', ({ request, set }) => {
    set.headers['cache-control'] = 'no-store'
    const creds = parseBasicAuthorization(request.headers.get('authorization'))
    if (creds === null || !deps.authenticate(creds.username, creds.password)) {
      set.status = 401
      set.headers['www-authenticate'] = `Basic realm="${ICE_SERVERS_REALM}"`
      return { error: 'SIP username and password required (HTTP Basic)' }
    }
    return buildIceServers({
      config: deps.config,
      userId: creds.username,
      nowUnixSeconds: Math.floor(now() / 1000),
      secret: resolveTurnSecret(deps.config, env),
      stunPort: deps.stunPort?.(),
    })
  })
}

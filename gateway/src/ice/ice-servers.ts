/**
 * The ICE server list handed to a signed-in softphone user (`GET /api/ice-servers`), in
 * the shape of WebRTC's `RTCIceServer` (`{ urls, username?, credential? }`):
 *
 * 1. the gateway's own STUN binding service, when `ice.stun.enabled`:
 *    `stun:<sip.publicAddress | ice.stun.host | sip.host>:<port>` (the first of those that
 *    is not a wildcard address; none: left out);
 * 2. the configured `ice.stunUrls`;
 * 3. the configured `ice.turn.urls` with fresh TURN REST credentials (username
 *    `expiry:user`, HMAC-SHA1 credential) — only when a secret is available.
 *
 * Pure functions; the secret is an input, never part of the output or of any log line.
 */
import type { GatewayConfig } from '../config/schema.ts'
import { turnRestCredentials } from './turn-rest-credentials.ts'

/** One entry of `RTCConfiguration.iceServers`. */
export interface IceServer {
  urls: string | string[]
  username?: string
  credential?: string
}

export interface IceServersResult {
  iceServers: IceServer[]
  /** Lifetime of the TURN credentials in seconds (`ice.turn.ttlSeconds`). */
  ttlSeconds: number
}

/** The parts of the configuration the ICE server list depends on. */
export type IceServersConfig = Pick<GatewayConfig, 'ice' | 'sip'>

export interface BuildIceServersInput {
  config: IceServersConfig
  /** The authenticated user (SIP username); becomes the `user` part of the TURN username. */
  userId: string
  /** Current time, UNIX seconds. */
  nowUnixSeconds: number
  /** The TURN REST secret (see resolveTurnSecret); undefined: no TURN entry. */
  secret: string | undefined
  /**
   * The port the STUN binding service actually bound (StunBindingService.start), when it
   * differs from `ice.stun.port` (e.g. port 0 in tests). Default: `ice.stun.port`.
   */
  stunPort?: number
}

const WILDCARDS = new Set(['', '0.0.0.0', '::', '[::]', '::0', '0:0:0:0:0:0:0:0'])

/** `host` as it goes into a URI: IPv6 literals in brackets (RFC 7064 §3.1 uses RFC 3986 host). */
function uriHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

/**
 * The TURN REST secret: the environment variable named by `ice.turn.secretEnv` when it is
 * set and not empty, else `ice.turn.secret`, else undefined.
 */
export function resolveTurnSecret(config: Pick<GatewayConfig, 'ice'>, env: Record<string, string | undefined>): string | undefined {
  const turn = config.ice.turn
  if (turn.secretEnv !== undefined) {
    const v = env[turn.secretEnv]
    if (v !== undefined && v !== '') return v
  }
  return turn.secret !== undefined && turn.secret !== '' ? turn.secret : undefined
}

/** The gateway's own STUN URL, or undefined when disabled or only wildcard hosts are known. */
export function ownStunUrl(config: IceServersConfig, stunPort?: number): string | undefined {
  if (!config.ice.stun.enabled) return undefined
  const port = stunPort ?? config.ice.stun.port
  if (port <= 0) return undefined
  const host = [config.sip.publicAddress, config.ice.stun.host, config.sip.host].find(
    (h): h is string => h !== undefined && !WILDCARDS.has(h.trim()),
  )
  if (host === undefined) return undefined
  return `stun:${uriHost(host.trim())}:${port}`
}

/**
 * Builds the ICE server list for one user (see the file comment for the order). TURN
 * credentials are minted with `turnRestCredentials` and expire `ice.turn.ttlSeconds`
 * after `nowUnixSeconds`. Duplicate STUN URLs are listed once.
 */
export function buildIceServers(input: BuildIceServersInput): IceServersResult {
  const { config, userId, nowUnixSeconds, secret, stunPort } = input
  const iceServers: IceServer[] = []
  const seen = new Set<string>()

  const own = ownStunUrl(config, stunPort)
  if (own !== undefined) {
    iceServers.push({ urls: own })
    seen.add(own)
  }
  for (const url of config.ice.stunUrls) {
    if (seen.has(url)) continue
    seen.add(url)
    iceServers.push({ urls: url })
  }

  const turn = config.ice.turn
  if (turn.urls.length > 0 && secret !== undefined && secret !== '') {
    const { username, credential } = turnRestCredentials({ secret, userId, ttlSeconds: turn.ttlSeconds, nowUnixSeconds })
    iceServers.push({ urls: [...turn.urls], username, credential })
  }
  return { iceServers, ttlSeconds: turn.ttlSeconds }
}

/** Lifetime of the gateway's own TURN credential, seconds: longer than any uptime. */
const MEDIA_ENGINE_TURN_TTL = 20 * 365 * 86400

/**
 * The TURN servers the gateway's own media engine (the embedded driver) uses towards
 * browsers: the same `ice.turn.urls` softphones get. Its credential never leaves this
 * process and lives as long as it, so it is minted once with a lifetime far beyond any
 * uptime (clients get short ones). Empty when no TURN secret is configured.
 */
export function mediaEngineTurnServers(config: IceServersConfig, secret: string | undefined, nowUnixSeconds: number): IceServer[] {
  const own = { ...config, ice: { ...config.ice, turn: { ...config.ice.turn, ttlSeconds: MEDIA_ENGINE_TURN_TTL } } }
  const result = buildIceServers({ config: own, userId: 'patchbay-media', nowUnixSeconds, secret })
  return result.iceServers.filter((s) => String(s.urls).startsWith('turn'))
}

/**
 * Loads the operator's `sip-config/` directory into the GatewayConfig the gateway runs with.
 *
 * - `gateway.yaml` (GatewayFileSchema), `users.yaml` (UsersFileSchema), `trunks.yaml`
 *   (TrunksFileSchema, trunks-schema.ts) and `dialplan.yaml` (DialPlanFileSchema,
 *   dialplan-schema.ts) are read when present; each is optional (a missing gateway.yaml
 *   means all defaults, a missing users.yaml means no users, missing trunks.yaml /
 *   dialplan.yaml mean no trunks and no rules). Other files in the directory are ignored.
 *   Reading one file: yaml-file.ts.
 * - Parsing uses Bun's built-in YAML; schema defaults are applied with TypeBox
 *   (Value.Default), then the result is validated (Value.Check / Value.Errors).
 * - Every error names the file, the line where the field (or its nearest written parent)
 *   is, and the field: `sip-config/users.yaml:12 users[2].ha1: must match ^[0-9a-f]{32}$`.
 * - Semantic checks: unique usernames; registrar minExpires <= defaultExpires <= maxExpires;
 *   sip.tlsPort needs sip.tls; duplicate keys in a mapping; auth.md5OnlyUserAgents are regular
 *   expressions; media ports form a range; the rtpengine driver has an instance;
 *   proxy.trustedSources are IP addresses; http.webSocketUrls are ws:// or wss:// URLs; security.allowList entries are IP addresses or
 *   CIDR prefixes; trunks (trunks-loader.ts) and the dial plan (dialplan-loader.ts), which
 *   may name only users, trunks, ring groups and classes that exist.
 *
 * Never throws for bad files: all problems come back as `{ ok: false, errors }`, so the
 * gateway can refuse to start (or, on reload, keep the old configuration).
 */
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { isIP } from 'node:net'
import {
  GatewayFileSchema,
  UsersFileSchema,
  type GatewayConfig,
  type GatewayFile,
  type UsersFile,
} from './schema.ts'
import { defaultConfig } from './defaults.ts'
import { isDemoCredential } from './demo-users.ts'
import { parseAllowListEntry } from '../sip/security/source-allow-list.ts'
import { readYamlFile, type ConfigError } from './yaml-file.ts'
import { TrunksFileSchema, type TrunksFile } from './trunks-schema.ts'
import { DialPlanFileSchema, type DialPlanFile } from './dialplan-schema.ts'
import { loadTrunks } from './trunks-loader.ts'
import { loadDialPlan } from './dialplan-loader.ts'

export { formatConfigError, type ConfigError } from './yaml-file.ts'

export type LoadResult = { ok: true; config: GatewayConfig } | { ok: false; errors: ConfigError[] }

/** The file names this loader reads; anything else in the directory is ignored. */
export const CONFIG_FILES = { gateway: 'gateway.yaml', users: 'users.yaml', trunks: 'trunks.yaml', dialPlan: 'dialplan.yaml' } as const

/**
 * Loads and validates the configuration in `dir`.
 * @param dir the sip-config directory, or null for the embedded defaults (defaults.ts).
 * @param env where trunks' `passwordEnv` variables are looked up (default process.env).
 */
export function loadConfig(dir: string | null, env: Record<string, string | undefined> = process.env): LoadResult {
  if (dir === null) return { ok: true, config: defaultConfig() }

  let isDir = false
  try {
    isDir = statSync(dir).isDirectory()
  } catch {
    isDir = false
  }
  if (!isDir) return { ok: false, errors: [{ file: dir, line: 0, field: '', message: 'configuration directory not found' }] }

  const errors: ConfigError[] = []
  const sources: string[] = []

  const gw = readYamlFile<GatewayFile>(join(dir, CONFIG_FILES.gateway), GatewayFileSchema, errors, sources)
  const us = readYamlFile<UsersFile>(join(dir, CONFIG_FILES.users), UsersFileSchema, errors, sources)
  const tr = readYamlFile<TrunksFile>(join(dir, CONFIG_FILES.trunks), TrunksFileSchema, errors, sources)
  const dp = readYamlFile<DialPlanFile>(join(dir, CONFIG_FILES.dialPlan), DialPlanFileSchema, errors, sources)
  if (errors.length > 0 || gw === null || us === null || tr === null || dp === null) return { ok: false, errors }

  const gateway = gw.value
  const users = us.value.users

  // Semantic checks (the schema cannot express them).
  const seen = new Map<string, number>()
  users.forEach((u, i) => {
    const first = seen.get(u.username)
    if (first === undefined) {
      seen.set(u.username, i)
      return
    }
    errors.push(us.error(['users', i, 'username'], `duplicate username "${u.username}" (also users[${first}])`))
  })

  const r = gateway.registrar
  if (r.minExpires > r.maxExpires) {
    errors.push(gw.error(['registrar', 'minExpires'], `must be <= registrar.maxExpires (${r.maxExpires})`))
  } else if (r.defaultExpires < r.minExpires || r.defaultExpires > r.maxExpires) {
    errors.push(gw.error(['registrar', 'defaultExpires'], `must be between registrar.minExpires (${r.minExpires}) and registrar.maxExpires (${r.maxExpires})`))
  }
  if (gateway.sip.tlsPort !== undefined && gateway.sip.tls === undefined) {
    errors.push(gw.error(['sip', 'tlsPort'], 'needs sip.tls (cert and key) for the SIP over TLS listener'))
  }
  gateway.auth.md5OnlyUserAgents.forEach((pattern, i) => {
    try {
      new RegExp(pattern, 'i')
    } catch (e) {
      errors.push(gw.error(['auth', 'md5OnlyUserAgents', i], `not a regular expression: ${(e as Error).message}`))
    }
  })
  gateway.proxy.trustedSources.forEach((entry, i) => {
    if (parseAllowListEntry(entry)?.kind !== 'address') {
      errors.push(gw.error(['proxy', 'trustedSources', i], 'must be an IP address (e.g. 192.0.2.10 or 2001:db8::10)'))
    }
  })
  gateway.http.webSocketUrls?.forEach((entry, i) => {
    if (!isWebSocketUrl(entry)) {
      errors.push(gw.error(['http', 'webSocketUrls', i], 'must be a ws:// or wss:// URL (e.g. wss://node-a.example.com/sip)'))
    }
  })
  gateway.dns.servers.forEach((entry, i) => {
    if (!isDnsServer(entry)) {
      errors.push(gw.error(['dns', 'servers', i], 'must be an IP address, optionally with a port (192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:53)'))
    }
  })
  gateway.security.allowList.forEach((entry, i) => {
    if (parseAllowListEntry(entry) === null) {
      errors.push(gw.error(['security', 'allowList', i], 'must be an IP address or a CIDR prefix (e.g. 192.0.2.10, 192.0.2.0/24, 2001:db8::/32)'))
    }
  })
  if (gateway.media.rtpPortMin >= gateway.media.rtpPortMax) {
    errors.push(gw.error(['media', 'rtpPortMin'], `must be below media.rtpPortMax (${gateway.media.rtpPortMax})`))
  }
  if (gateway.media.driver === 'rtpengine' && gateway.media.rtpengine.length === 0) {
    errors.push(gw.error(['media', 'rtpengine'], 'list at least one rtpengine ng address (host, port) when media.driver is rtpengine'))
  }
  const trunks = loadTrunks(tr, env, errors)
  const dialPlan = loadDialPlan(dp, users.map((u) => u.username), trunks, tr, errors)
  if (errors.length > 0) return { ok: false, errors }

  const realm = gateway.auth.realm ?? gateway.domain
  const config: GatewayConfig = {
    ...gateway,
    users,
    trunks,
    dialPlan,
    realm,
    usesDemoPasswords: users.some((u) => isDemoCredential(u, realm)),
    sources,
  }
  return { ok: true, config }
}

/** `address`, `address:port` or `[v6]:port` with an IP address (what node:dns setServers takes). */
function isDnsServer(text: string): boolean {
  const v6 = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text)
  if (v6) return isIP(v6[1]!) === 6 && (v6[2] === undefined || Number(v6[2]) <= 65535)
  if (isIP(text) !== 0) return true
  const m = /^([^:]+):(\d{1,5})$/.exec(text)
  return m !== null && isIP(m[1]!) === 4 && Number(m[2]) > 0 && Number(m[2]) <= 65535
}

/** `ws://` or `wss://` with a host (RFC 6455 §3), as a softphone's WebSocket constructor takes it. */
function isWebSocketUrl(text: string): boolean {
  try {
    const url = new URL(text)
    return (url.protocol === 'ws:' || url.protocol === 'wss:') && url.hostname !== ''
  } catch {
    return false
  }
}

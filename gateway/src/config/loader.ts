/**
 * Loads the operator's `sip-config/` directory into the GatewayConfig the gateway runs with.
 *
 * - `gateway.yaml` (GatewayFileSchema) and `users.yaml` (UsersFileSchema) are read when
 *   present; each is optional (a missing gateway.yaml means all defaults, a missing
 *   users.yaml means no users). Other files in the directory are ignored (trunks and the
 *   dial plan have their own loaders).
 * - Parsing uses Bun's built-in YAML; schema defaults are applied with TypeBox
 *   (Value.Default), then the result is validated (Value.Check / Value.Errors).
 * - Every error names the file, the line where the field (or its nearest written parent)
 *   is, and the field: `sip-config/users.yaml:12 users[2].ha1: must match ^[0-9a-f]{32}$`.
 * - Semantic checks: unique usernames; registrar minExpires <= defaultExpires <= maxExpires;
 *   sip.tlsPort needs sip.tls; duplicate keys in a mapping; auth.md5OnlyUserAgents are regular
 *   expressions; media ports form a range; the rtpengine driver has an instance;
 *   proxy.trustedSources are IP addresses; security.allowList entries are IP addresses or
 *   CIDR prefixes.
 *
 * Never throws for bad files: all problems come back as `{ ok: false, errors }`, so the
 * gateway can refuse to start (or, on reload, keep the old configuration).
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { TSchema } from '@sinclair/typebox'
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value'
import {
  GatewayFileSchema,
  UsersFileSchema,
  type GatewayConfig,
  type GatewayFile,
  type UsersFile,
} from './schema.ts'
import { defaultConfig } from './defaults.ts'
import { isDemoCredential } from './demo-users.ts'
import { YamlLocator, type YamlPath } from './yaml-locator.ts'
import { parseAllowListEntry } from '../sip/security/source-allow-list.ts'

/** One problem in one file. */
export interface ConfigError {
  /** The file as `dir/name` (dir as given to loadConfig). */
  file: string
  /** 1-based line; 0 when the problem is not in a line (unreadable file). */
  line: number
  /** The field as `users[2].ha1`; "" for the whole file. */
  field: string
  message: string
}

export type LoadResult = { ok: true; config: GatewayConfig } | { ok: false; errors: ConfigError[] }

/** `file:line field: message` (the field part left out when empty). */
export function formatConfigError(e: ConfigError): string {
  const where = e.line > 0 ? `${e.file}:${e.line}` : e.file
  return e.field === '' ? `${where} ${e.message}` : `${where} ${e.field}: ${e.message}`
}

/** The file names this loader reads; anything else in the directory is ignored. */
export const CONFIG_FILES = { gateway: 'gateway.yaml', users: 'users.yaml' } as const

/**
 * Loads and validates the configuration in `dir`.
 * @param dir the sip-config directory, or null for the embedded defaults (defaults.ts).
 */
export function loadConfig(dir: string | null): LoadResult {
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
  if (errors.length > 0 || gw === null || us === null) return { ok: false, errors }

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
  if (errors.length > 0) return { ok: false, errors }

  const realm = gateway.auth.realm ?? gateway.domain
  const config: GatewayConfig = {
    ...gateway,
    users,
    realm,
    usesDemoPasswords: users.some((u) => isDemoCredential(u, realm)),
    sources,
  }
  return { ok: true, config }
}

interface LoadedFile<T> {
  value: T
  /** Makes a ConfigError located at `path` in this file. */
  error(path: YamlPath, message: string): ConfigError
}

/**
 * Reads one YAML file (absent: the schema defaults of `{}`), applies defaults, validates.
 * Pushes problems to `errors`; returns null when the file could not be used at all.
 */
function readYamlFile<T>(file: string, schema: TSchema, errors: ConfigError[], sources: string[]): LoadedFile<T> | null {
  let text = ''
  let locator = new YamlLocator('')
  if (existsSync(file)) {
    try {
      text = readFileSync(file, 'utf8')
    } catch (e) {
      errors.push({ file, line: 0, field: '', message: `cannot read: ${(e as Error).message}` })
      return null
    }
    sources.push(file)
    locator = new YamlLocator(text)
  }
  const error = (path: YamlPath, message: string): ConfigError => ({
    file,
    line: locator.lineOf(path),
    field: formatPath(path),
    message,
  })

  let parsed: unknown
  try {
    parsed = text === '' ? null : Bun.YAML.parse(text)
  } catch (e) {
    const reason = ((e as Error).message ?? String(e)).replace(/^YAML Parse error:\s*/, '')
    errors.push({ file, line: syntaxErrorLine(text), field: '', message: `YAML syntax error: ${reason}` })
    return null
  }
  if (parsed === null || parsed === undefined) parsed = {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    errors.push({ file, line: locator.lineOf([]), field: '', message: 'must be a mapping of keys to values' })
    return null
  }

  let failed = false
  for (const d of locator.duplicateKeys()) {
    errors.push({ file, line: d.line, field: d.field, message: `duplicate key (first written at line ${d.firstLine})` })
    failed = true
  }

  dropNullSections(schema, parsed as Record<string, unknown>)
  const value = Value.Default(schema, parsed)
  if (!Value.Check(schema, value)) {
    const reported = new Set<string>()
    for (const e of Value.Errors(schema, value)) {
      if (reported.has(e.path)) continue
      reported.add(e.path)
      const path = parsePointer(e.path)
      errors.push(error(path, describeError(e)))
    }
    failed = true
  }
  if (failed) return null
  return { value: Value.Clean(schema, value) as T, error }
}

/**
 * `http:` with every child commented out parses as `http: null`; treat such an empty
 * section (an object or array in the schema) as absent so that its defaults apply.
 */
function dropNullSections(schema: TSchema, value: Record<string, unknown>): void {
  const props = (schema as { properties?: Record<string, TSchema> }).properties
  if (props === undefined) return
  for (const [key, sub] of Object.entries(props)) {
    const v = value[key]
    const type = (sub as { type?: string }).type
    if (v === null && (type === 'object' || type === 'array')) delete value[key]
    else if (type === 'object' && v !== null && typeof v === 'object' && !Array.isArray(v)) dropNullSections(sub, v as Record<string, unknown>)
  }
}

/** JSON pointer (`/users/2/ha1`) -> path (`['users', 2, 'ha1']`). */
function parsePointer(pointer: string): (string | number)[] {
  if (pointer === '') return []
  return pointer.slice(1).split('/').map((s) => {
    const k = s.replace(/~1/g, '/').replace(/~0/g, '~')
    return /^(0|[1-9][0-9]*)$/.test(k) ? Number(k) : k
  })
}

/** Path -> `users[2].ha1`. */
function formatPath(path: YamlPath): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else out += out === '' ? seg : `.${seg}`
  }
  return out
}

function kindOf(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a mapping'
  if (typeof v === 'string') return 'a string'
  if (typeof v === 'number') return 'a number'
  if (typeof v === 'boolean') return 'true/false'
  return typeof v
}

/** A short, operator-readable message for one TypeBox error (values are never echoed: they may be secrets). */
function describeError(e: ValueError): string {
  const s = e.schema as Record<string, unknown>
  switch (e.type) {
    case ValueErrorType.ObjectAdditionalProperties:
      return 'unknown key'
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required'
    case ValueErrorType.String:
      // An all-digit or exponent-looking hash (`ha1: 1234e5...`) parses as a YAML number.
      return typeof e.value === 'number' || typeof e.value === 'boolean'
        ? `must be a string (got ${kindOf(e.value)}): write it in quotes`
        : `must be a string (got ${kindOf(e.value)})`
    case ValueErrorType.StringPattern:
      return `must match ${String(s.pattern)}`
    case ValueErrorType.StringMinLength:
      return s.minLength === 1 ? 'must not be empty' : `must be at least ${String(s.minLength)} characters`
    case ValueErrorType.StringMaxLength:
      return `must be at most ${String(s.maxLength)} characters`
    case ValueErrorType.Integer:
      return `must be an integer (got ${kindOf(e.value)}${typeof e.value === 'number' ? ' with a fraction' : ''})`
    case ValueErrorType.Number:
      return `must be a number (got ${kindOf(e.value)})`
    case ValueErrorType.Boolean:
      return `must be true or false (got ${kindOf(e.value)})`
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `must be >= ${String(s.minimum)}`
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `must be <= ${String(s.maximum)}`
    case ValueErrorType.Object:
      return `must be a mapping (got ${kindOf(e.value)})`
    case ValueErrorType.Array:
      return `must be a list (got ${kindOf(e.value)})`
    case ValueErrorType.ArrayMinItems:
      return `must have at least ${String(s.minItems)} item${s.minItems === 1 ? '' : 's'}`
    case ValueErrorType.Union: {
      const options = (s.anyOf as Record<string, unknown>[] | undefined)?.map((o) => o.const)
      if (options !== undefined && options.every((o) => o !== undefined)) return `must be one of: ${options.join(', ')}`
      return 'has an unexpected value'
    }
    case ValueErrorType.Intersect: {
      // Port = Intersect([Integer 0..65535]): report what the inner schema says.
      const inner = e.errors.flatMap((it) => [...it]).find((x) => x.path === e.path)
      return inner !== undefined ? describeError(inner) : 'has an unexpected value'
    }
    default:
      return e.message.charAt(0).toLowerCase() + e.message.slice(1)
  }
}

/**
 * Line of a YAML syntax error (Bun's parser does not say): the line after the longest
 * prefix of the file that still parses.
 */
function syntaxErrorLine(text: string): number {
  const lines = text.split(/\r\n|\n|\r/)
  for (let k = lines.length - 1; k >= 0; k--) {
    try {
      Bun.YAML.parse(lines.slice(0, k).join('\n'))
      return Math.min(k + 1, lines.length)
    } catch {
      // keep shortening
    }
  }
  return 1
}

/**
 * The gateway as integration tests run it: in process, from the embedded default
 * configuration (`loadConfig(null)`: domain patchbay.test, demo users alice / bob / carol),
 * with every listener on a free port of 127.0.0.1, an in-memory store and quiet logs.
 *
 *   const gw = await startGateway(testConfig({}, { extraUsers: testUsers(50, 'load', 'pw') }))
 *   afterAll(() => gw.stop())
 */
import { loadConfig, formatConfigError } from '../../gateway/src/config/loader.ts'
import { startGateway, type RunningGateway } from '../../gateway/src/main.ts'
import type { GatewayConfig, UserEntry } from '../../gateway/src/config/schema.ts'
import { ha1 } from './digest.ts'

/** Every property optional, recursively; arrays are replaced, not merged. */
export type DeepPartial<T> = T extends unknown[]
  ? T
  : T extends object
    ? { [K in keyof T]?: DeepPartial<T[K]> }
    : T

/** The README's demo accounts (loadConfig(null) has them). */
export const DEMO_USERS = {
  alice: { username: 'alice', password: 'alice-demo' },
  bob: { username: 'bob', password: 'bob-demo' },
  carol: { username: 'carol', password: 'carol-demo' },
} as const

/** The domain (and realm) of the embedded defaults. */
export const TEST_DOMAIN = 'patchbay.test'

export interface TestConfigOptions {
  /** Users added after the demo users (or after `overrides.users` when given). */
  extraUsers?: UserEntry[]
  /**
   * Shorter SIP timers (T1 50 ms, T2 400 ms, T4 500 ms) for tests that wait for a timeout
   * (e.g. Timer B/F after 64*T1). Off by default: real peers like SIPp retransmit on the
   * RFC 3261 defaults.
   */
  shortTimers?: boolean
}

/**
 * A GatewayConfig for tests: the embedded defaults, then every port 0 (HTTP, SIP UDP/TCP,
 * STUN), store `:memory:`, log level `warn`, then `overrides` (deep merge; arrays replace).
 * `realm` is derived again from the merged `auth.realm ?? domain` unless overridden.
 *
 * @throws Error when the embedded defaults do not load (listing the loader's errors)
 */
export function testConfig(overrides: DeepPartial<GatewayConfig> = {}, options: TestConfigOptions = {}): GatewayConfig {
  const loaded = loadConfig(null)
  if (!loaded.ok) {
    throw new Error(`loadConfig(null) failed:\n${loaded.errors.map(formatConfigError).join('\n')}`)
  }
  const base = structuredClone(loaded.config)
  base.http.port = 0
  base.sip.udpPort = 0
  base.sip.tcpPort = 0
  base.ice.stun.port = 0
  base.store.path = ':memory:'
  base.log.level = 'warn'
  if (options.shortTimers) base.timers = { T1: 50, T2: 400, T4: 500 }
  const merged = deepMerge(base, overrides) as GatewayConfig
  if (overrides.realm === undefined) merged.realm = merged.auth.realm ?? merged.domain
  if (options.extraUsers) merged.users = [...merged.users, ...options.extraUsers]
  merged.dialPlan.users = merged.users.map((u) => u.username)
  return merged
}

/**
 * A GatewayConfig for tests (testConfig with `overrides`) whose users, trunks and dial plan
 * come from the sip-config folder `dir` (users.yaml, trunks.yaml, dialplan.yaml), loaded and
 * validated as the gateway does.
 *
 * @throws Error with the loader's `file:line field: message` lines when the folder is refused
 */
export function testConfigFromFolder(dir: string, overrides: DeepPartial<GatewayConfig> = {}): GatewayConfig {
  const loaded = loadConfig(dir)
  if (!loaded.ok) throw new Error(loaded.errors.map(formatConfigError).join('\n'))
  const c = testConfig(overrides)
  c.users = loaded.config.users
  c.trunks = loaded.config.trunks
  c.dialPlan = loaded.config.dialPlan
  return c
}

/**
 * A users.yaml entry for `username` with `password`, its MD5 and SHA-256 HA1s computed
 * for `realm` (RFC 7616 §3.4.2) by the test-side digest code.
 */
export function userEntry(username: string, password: string, realm: string = TEST_DOMAIN, displayName?: string): UserEntry {
  return {
    username,
    ...(displayName !== undefined ? { displayName } : {}),
    ha1: ha1('MD5', username, realm, password),
    ha1Sha256: ha1('SHA-256', username, realm, password),
  }
}

/**
 * `count` generated users `${prefix}000` .. with one shared `password` (SIPp's CSV
 * injection gives each its username; the password may be per user too, see sipp.ts).
 */
export function testUsers(count: number, prefix: string, password: string, realm: string = TEST_DOMAIN): UserEntry[] {
  return Array.from({ length: count }, (_, i) => userEntry(`${prefix}${String(i).padStart(3, '0')}`, password, realm))
}

/**
 * Starts a gateway with `config`, runs `fn`, and stops the gateway whatever `fn` did.
 *
 * @returns what `fn` returned
 */
export async function withGateway<T>(config: GatewayConfig, fn: (gateway: RunningGateway) => Promise<T>): Promise<T> {
  const gateway = await startGateway(config)
  try {
    return await fn(gateway)
  } finally {
    await gateway.stop()
  }
}

export { startGateway, type RunningGateway }

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function deepMerge(base: unknown, override: unknown): unknown {
  if (override === undefined) return base
  if (!isPlainObject(base) || !isPlainObject(override)) return structuredClone(override)
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(override)) {
    if (value === undefined) continue
    out[key] = deepMerge(base[key], value)
  }
  return out
}

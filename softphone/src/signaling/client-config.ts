/**
 * The two HTTP endpoints the softphone reads from the gateway before it signs in and before
 * each call:
 *
 * - `GET /api/client-config` -> `{ domain, sipWebSocketPath, iceServersPath, jsonWebSocketPath?,
 *   sipWebSocketUrls?, jsonWebSocketUrls? }`
 * - `GET <iceServersPath>` with HTTP Basic auth (RFC 7617) of the SIP user and password
 *   -> `{ iceServers: RTCIceServer[], ttlSeconds }` (TURN REST credentials, valid ttlSeconds)
 *
 * Both return result objects; nothing here throws.
 */
export interface ClientConfig {
  /** SIP domain; AORs are `sip:USER@domain`. */
  readonly domain: string
  /** Path of the SIP-over-WebSocket endpoint (RFC 7118) on the same origin, e.g. `/sip`. */
  readonly sipWebSocketPath: string
  /** Path of the ICE servers endpoint, e.g. `/api/ice-servers`. */
  readonly iceServersPath: string
  /**
   * Path of the JSON signaling WebSocket (docs/json-signaling.md), e.g. `/json`; null when the
   * gateway has it switched off; absent from older gateways (then `/json` is tried).
   */
  readonly jsonWebSocketPath?: string | null
  /**
   * Every gateway node's SIP-over-WebSocket URL (`ws://`/`wss://`), in the order to try them
   * when the current one goes away (issue 14); absent from older gateways (then only
   * `sipWebSocketPath` on the server's origin).
   */
  readonly sipWebSocketUrls?: readonly string[]
  /** The JSON signaling URLs of the same nodes, same order; absent as above. */
  readonly jsonWebSocketUrls?: readonly string[]
}

export type ClientConfigResult =
  | { readonly ok: true; readonly config: ClientConfig }
  /** `unreachable`: no HTTP answer at all; `invalid`: an answer that is not a client config. */
  | { readonly ok: false; readonly kind: 'unreachable' | 'invalid'; readonly message: string }

export interface IceServerList {
  readonly iceServers: RTCIceServer[]
  readonly ttlSeconds: number
}

export type IceServersResult =
  | { readonly ok: true; readonly list: IceServerList }
  | { readonly ok: false; readonly message: string }

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>

/** Normalises what the user typed as the server into an origin (`https://host:port`). */
export function normaliseServer(server: string, pageOrigin: string): string | undefined {
  const text = server.trim()
  if (text === '') return pageOrigin
  try {
    const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `${pageOrigin.startsWith('https:') ? 'https' : 'http'}://${text}`)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
    return url.origin
  } catch {
    return undefined
  }
}

/** `http://host` -> `ws://host/PATH`, `https://host` -> `wss://host/PATH`. */
export function webSocketUrl(origin: string, path: string): string {
  const url = new URL(path, origin)
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
  return url.toString()
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** Validates the JSON of `/api/client-config`; undefined when a required field is missing or malformed. */
export function parseClientConfig(json: unknown): ClientConfig | undefined {
  if (!isObject(json)) return undefined
  const { domain, sipWebSocketPath, iceServersPath, jsonWebSocketPath, sipWebSocketUrls, jsonWebSocketUrls } = json
  if (typeof domain !== 'string' || domain === '') return undefined
  if (typeof sipWebSocketPath !== 'string' || !sipWebSocketPath.startsWith('/')) return undefined
  if (typeof iceServersPath !== 'string' || !iceServersPath.startsWith('/')) return undefined
  // Optional: a path, or null (switched off); anything else is treated as absent.
  const jsonPath = typeof jsonWebSocketPath === 'string' && jsonWebSocketPath.startsWith('/') ? { jsonWebSocketPath }
    : jsonWebSocketPath === null ? { jsonWebSocketPath: null } : {}
  const sipUrls = webSocketUrlList(sipWebSocketUrls)
  const jsonUrls = webSocketUrlList(jsonWebSocketUrls)
  return {
    domain, sipWebSocketPath, iceServersPath, ...jsonPath,
    ...(sipUrls ? { sipWebSocketUrls: sipUrls } : {}),
    ...(jsonUrls ? { jsonWebSocketUrls: jsonUrls } : {}),
  }
}

/** The `ws:`/`wss:` URLs of a list (others dropped); undefined when none is left. */
function webSocketUrlList(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined
  const urls = value.filter((u): u is string => {
    if (typeof u !== 'string') return false
    try {
      const p = new URL(u).protocol
      return p === 'ws:' || p === 'wss:'
    } catch {
      return false
    }
  })
  return urls.length > 0 ? urls : undefined
}

/** Validates the JSON of the ICE servers endpoint; drops malformed entries. */
export function parseIceServers(json: unknown): IceServerList | undefined {
  if (!isObject(json) || !Array.isArray(json.iceServers)) return undefined
  const iceServers: RTCIceServer[] = []
  for (const entry of json.iceServers) {
    if (!isObject(entry)) continue
    const urls = typeof entry.urls === 'string' ? [entry.urls]
      : Array.isArray(entry.urls) ? entry.urls.filter((u): u is string => typeof u === 'string') : []
    if (urls.length === 0) continue
    const server: RTCIceServer = { urls }
    if (typeof entry.username === 'string') server.username = entry.username
    if (typeof entry.credential === 'string') server.credential = entry.credential
    iceServers.push(server)
  }
  const ttl = typeof json.ttlSeconds === 'number' && json.ttlSeconds > 0 ? json.ttlSeconds : 300
  return { iceServers, ttlSeconds: ttl }
}

/** True if any entry is a TURN server (`turn:` / `turns:`). */
export function hasTurnServer(servers: readonly RTCIceServer[]): boolean {
  return servers.some((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]).some((u) => /^turns?:/i.test(u)))
}

/** RFC 7617 §2: credentials = base64(user-id ":" password), UTF-8 (the `charset` we use). */
export function basicAuthorization(user: string, password: string): string {
  const bytes = new TextEncoder().encode(`${user}:${password}`)
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return `Basic ${btoa(binary)}`
}

async function fetchWithTimeout(fetchFn: FetchLike, url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  try {
    return await fetchFn(url, { ...init, signal: controller.signal })
  } finally {
    clearTimeout(timer)
  }
}

export async function loadClientConfig(origin: string, fetchFn: FetchLike, timeoutMs = 5000): Promise<ClientConfigResult> {
  let response: Response
  try {
    response = await fetchWithTimeout(fetchFn, new URL('/api/client-config', origin).toString(), {
      headers: { accept: 'application/json' },
      credentials: 'omit',
    }, timeoutMs)
  } catch {
    return { ok: false, kind: 'unreachable', message: 'Server unreachable.' }
  }
  if (response.status >= 500) return { ok: false, kind: 'unreachable', message: `Server unavailable (${response.status}).` }
  if (!response.ok) return { ok: false, kind: 'invalid', message: `This address is not a Patchbay server (${response.status}).` }
  let json: unknown
  try {
    json = await response.json()
  } catch {
    return { ok: false, kind: 'invalid', message: 'The server sent an unreadable configuration.' }
  }
  const config = parseClientConfig(json)
  return config ? { ok: true, config } : { ok: false, kind: 'invalid', message: 'The server sent an unreadable configuration.' }
}

export async function fetchIceServers(
  origin: string, path: string, user: string, password: string, fetchFn: FetchLike, timeoutMs = 3000,
): Promise<IceServersResult> {
  try {
    // credentials 'omit': our own Authorization header still goes out, but a 401 with
    // `WWW-Authenticate: Basic` can no longer make the browser open its modal sign-in dialog
    // (Fetch standard, HTTP-network-or-cache fetch: the prompt needs credentials mode "include"
    // — Chromium prompts for "same-origin" too).
    const response = await fetchWithTimeout(fetchFn, new URL(path, origin).toString(), {
      headers: { accept: 'application/json', authorization: basicAuthorization(user, password) },
      credentials: 'omit',
    }, timeoutMs)
    if (!response.ok) return { ok: false, message: `ICE servers: HTTP ${response.status}` }
    const list = parseIceServers(await response.json())
    return list ? { ok: true, list } : { ok: false, message: 'ICE servers: unreadable answer' }
  } catch (error) {
    return { ok: false, message: `ICE servers: ${(error as Error).message}` }
  }
}

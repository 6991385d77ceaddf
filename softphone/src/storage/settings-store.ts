/**
 * What the softphone remembers in localStorage (one JSON value per key, `pb.` prefix):
 *
 * - `pb.login`: server, user, "remember me" and — only when remember is ticked — the password
 * - `pb.preferences`: microphone, speaker, force relay, display name, signaling mode
 * - `pb.instance-id`: the RFC 5626 `+sip.instance` UUID, created once per browser profile
 *
 * Unreadable values are ignored (defaults are returned), never thrown.
 */
export interface StoredLogin {
  readonly server: string
  readonly user: string
  readonly remember: boolean
  /** Present only when `remember` is true. */
  readonly password?: string
}

/** Which signaling the softphone speaks: SIP over WebSocket (`/sip`) or JSON signaling (`/json`). */
export type SignalingMode = 'sip' | 'json'

export interface StoredPreferences {
  readonly inputDeviceId?: string
  readonly outputDeviceId?: string
  readonly forceRelay: boolean
  readonly displayName?: string
  /** The signaling for the next page load; absent means SIP. */
  readonly signaling?: SignalingMode
}

/**
 * The signaling mode of this page load: the URL parameter `signaling=json` / `signaling=sip`
 * wins over the stored preference; the default is SIP.
 *
 * @param search `location.search`, e.g. `?signaling=json&test=1`
 */
export function chooseSignalingMode(search: string, stored: SignalingMode | undefined): SignalingMode {
  const asked = new URLSearchParams(search).get('signaling')?.toLowerCase()
  if (asked === 'json' || asked === 'sip') return asked
  return stored ?? 'sip'
}

const LOGIN_KEY = 'pb.login'
const PREFERENCES_KEY = 'pb.preferences'
const INSTANCE_KEY = 'pb.instance-id'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

function readJson(storage: Storage, key: string): Record<string, unknown> | undefined {
  try {
    const raw = storage.getItem(key)
    if (raw === null) return undefined
    const value: unknown = JSON.parse(raw)
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

/** RFC 4122 version 4 UUID from crypto.getRandomValues (randomUUID needs a secure context). */
export function newUuid(random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b)): string {
  const b = random(new Uint8Array(16))
  b[6] = (b[6]! & 0x0f) | 0x40
  b[8] = (b[8]! & 0x3f) | 0x80
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

export class SettingsStore {
  constructor(private readonly storage: Storage) {}

  loadLogin(): StoredLogin | undefined {
    const v = readJson(this.storage, LOGIN_KEY)
    if (!v || typeof v.user !== 'string') return undefined
    const remember = v.remember === true
    const password = remember ? optionalString(v.password) : undefined
    return {
      server: typeof v.server === 'string' ? v.server : '',
      user: v.user,
      remember,
      ...(password !== undefined ? { password } : {}),
    }
  }

  /** Saves the login; the password is written only when `remember` is true. */
  saveLogin(login: { server: string; user: string; remember: boolean; password: string }): void {
    const value: StoredLogin = {
      server: login.server,
      user: login.user,
      remember: login.remember,
      ...(login.remember ? { password: login.password } : {}),
    }
    this.write(LOGIN_KEY, value)
  }

  /** Sign-out: forget the password (and auto sign-in) but keep server and user. */
  forgetPassword(): void {
    const login = this.loadLogin()
    if (login) this.write(LOGIN_KEY, { server: login.server, user: login.user, remember: false })
  }

  loadPreferences(): StoredPreferences {
    const v = readJson(this.storage, PREFERENCES_KEY) ?? {}
    const inputDeviceId = optionalString(v.inputDeviceId)
    const outputDeviceId = optionalString(v.outputDeviceId)
    const displayName = optionalString(v.displayName)
    const signaling = v.signaling === 'json' || v.signaling === 'sip' ? v.signaling : undefined
    return {
      forceRelay: v.forceRelay === true,
      ...(signaling !== undefined ? { signaling } : {}),
      ...(inputDeviceId !== undefined ? { inputDeviceId } : {}),
      ...(outputDeviceId !== undefined ? { outputDeviceId } : {}),
      ...(displayName !== undefined ? { displayName } : {}),
    }
  }

  savePreferences(patch: Partial<StoredPreferences>): StoredPreferences {
    const next = { ...this.loadPreferences(), ...patch }
    this.write(PREFERENCES_KEY, next)
    return this.loadPreferences()
  }

  /** The stable `+sip.instance` UUID; created and stored on first use. */
  instanceId(): string {
    try {
      const existing = this.storage.getItem(INSTANCE_KEY)
      if (existing && UUID.test(existing)) return existing.toLowerCase()
    } catch {
      // storage unavailable: fall through to a fresh id
    }
    const id = newUuid()
    try {
      this.storage.setItem(INSTANCE_KEY, id)
    } catch {
      // private mode: the id lives for this page only
    }
    return id
  }

  private write(key: string, value: unknown): void {
    try {
      this.storage.setItem(key, JSON.stringify(value))
    } catch {
      // quota or private mode: nothing to do
    }
  }
}

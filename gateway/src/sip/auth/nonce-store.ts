/**
 * Server nonces for digest challenges (RFC 7616 §3.3, §5.4; RFC 3261 §22.4).
 *
 * A nonce is self-validating, so no table of issued nonces is needed and any worker that
 * shares the secret can verify it:
 *
 * ```
 * nonce = base64url( issuedAt (4 bytes, unix seconds, big-endian)
 *                  || random (12 bytes)
 *                  || HMAC-SHA256(secret, issuedAt || random) truncated to 16 bytes )
 * ```
 * (32 bytes -> 43 characters). Truncating HMAC output to half its length follows RFC 2104 §5.
 *
 * RFC 7616 §3.3 on the nonce:
 * > The contents of the nonce are implementation dependent. The quality of the
 * > implementation depends on a good choice. A nonce might, for example, be constructed
 * > as the Base64 encoding of
 * >    time-stamp H(time-stamp ":" ETag ":" secret-data)
 * > ... The server would recalculate the hash portion after receiving the client
 * > Authorization header field and reject the request if it did not match the nonce from
 * > that header field or if the time-stamp value is not recent enough.
 *
 * Replay protection (RFC 7616 §3.4: "nc ... The server can use this count to detect
 * replays"): for each nonce that has been used, the highest nonce-count accepted so far is
 * kept; a request whose nc is not greater is refused. Entries die with their nonce: a lazy
 * sweep (no timer) drops expired ones, and a hard cap evicts the oldest; a nonce whose entry
 * was evicted early counts as stale from then on, so eviction never re-opens a replay.
 */
import type { Scheduler } from '../../base/scheduler.ts'

/** Outcome of checking a nonce's integrity and age. */
export type NonceCheck =
  | { ok: true; issuedAt: number }
  /** `malformed`: not one of ours by shape; `forged`: HMAC mismatch; `stale`: too old. */
  | { ok: false; reason: 'malformed' | 'forged' | 'stale' }

export interface NonceStoreOptions {
  /** Clock: `unixSeconds()` stamps and ages nonces. */
  scheduler: Scheduler
  /** Seconds a nonce stays valid; older ones are stale (RFC 7616 §3.3 stale=true). */
  lifetime: number
  /** HMAC key shared by the workers that must verify each other's nonces (>= 16 bytes). Default: 32 random bytes, per process. */
  secret?: Uint8Array
  /** Most nonces whose nonce-count is tracked at once (default 200,000). */
  maxTracked?: number
}

const RAW_LEN = 32
const SIGNED_LEN = 16
const MAC_LEN = 16
/** base64url alphabet value of each ASCII code, -1 for the others. */
const B64URL = new Int8Array(128).fill(-1)
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split('').forEach((c, i) => {
  B64URL[c.charCodeAt(0)] = i
})

/**
 * Decodes a 43-character base64url nonce into `out` (32 bytes). False for another length,
 * a character outside the alphabet, or non-zero padding bits in the last character (so
 * that each nonce has exactly one spelling).
 */
function decodeNonce(s: string, out: Uint8Array): boolean {
  if (s.length !== 43) return false
  let acc = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < 43; i++) {
    const c = s.charCodeAt(i)
    const v = c < 128 ? B64URL[c]! : -1
    if (v < 0) return false
    acc = ((acc << 6) | v) & 0xffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >>> bits) & 0xff
    }
  }
  return (acc & ((1 << bits) - 1)) === 0
}
/** Tolerated clock difference between workers for nonces stamped in the "future" (seconds). */
const FUTURE_SKEW = 5

interface Tracked {
  nc: number
  issuedAt: number
}

/** Issues and verifies digest nonces; tracks nonce-counts against replays. */
export class NonceStore {
  private readonly scheduler: Scheduler
  private readonly lifetime: number
  private readonly secret: Uint8Array
  private readonly maxTracked: number
  /** HMAC-SHA256 keyed with the secret, never updated itself: copied for each use. */
  private readonly hmac: Bun.CryptoHasher
  /** Scratch space for check(): the decoded nonce, its signed part, the MAC (Bun wants >= 64 bytes). */
  private readonly scratch = new Uint8Array(RAW_LEN)
  private readonly scratchSigned = this.scratch.subarray(0, SIGNED_LEN)
  private readonly macOut = new Uint8Array(64)
  /** nonce -> highest nc accepted (Map order = first use order, oldest first). */
  private readonly counts = new Map<string, Tracked>()
  private nextSweep = 0
  /** Nonces issued at or before this second that have no entry were evicted: treat as stale. */
  private evictedUpTo = -1

  constructor(options: NonceStoreOptions) {
    if (!(options.lifetime > 0)) throw new RangeError('nonce lifetime must be > 0 seconds')
    this.scheduler = options.scheduler
    this.lifetime = options.lifetime
    this.secret = options.secret ?? crypto.getRandomValues(new Uint8Array(32))
    if (this.secret.length < 16) throw new RangeError('nonce secret must be at least 16 bytes')
    this.maxTracked = options.maxTracked ?? 200_000
    this.hmac = new Bun.CryptoHasher('sha256', this.secret)
  }

  /** A fresh nonce stamped with the scheduler's current unix time. */
  create(): string {
    const raw = new Uint8Array(RAW_LEN)
    const now = this.scheduler.unixSeconds() >>> 0
    raw[0] = now >>> 24
    raw[1] = (now >>> 16) & 0xff
    raw[2] = (now >>> 8) & 0xff
    raw[3] = now & 0xff
    crypto.getRandomValues(raw.subarray(4, SIGNED_LEN))
    const mac = this.mac(raw.subarray(0, SIGNED_LEN))
    for (let i = 0; i < MAC_LEN; i++) raw[SIGNED_LEN + i] = mac[i]!
    return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url')
  }

  /**
   * Checks that `nonce` was issued with our secret and is not older than the lifetime.
   * Never throws (the nonce is wire input).
   */
  check(nonce: string): NonceCheck {
    const raw = this.scratch
    if (!decodeNonce(nonce, raw)) return { ok: false, reason: 'malformed' }
    const expected = this.mac(this.scratchSigned)
    let diff = 0
    for (let i = 0; i < MAC_LEN; i++) diff |= expected[i]! ^ raw[SIGNED_LEN + i]!
    if (diff !== 0) return { ok: false, reason: 'forged' }
    const issuedAt = ((raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!) >>> 0
    const now = this.scheduler.unixSeconds()
    if (now - issuedAt > this.lifetime || issuedAt - now > FUTURE_SKEW) return { ok: false, reason: 'stale' }
    if (issuedAt <= this.evictedUpTo && !this.counts.has(nonce)) return { ok: false, reason: 'stale' }
    return { ok: true, issuedAt }
  }

  /**
   * Records nonce-count `nc` for a nonce that passed `check` and whose response was right.
   * @returns false when `nc` is not greater than the highest count already accepted for
   *   this nonce (a replay, RFC 7616 §3.4 / §5.3), true otherwise (and it is recorded).
   */
  acceptCount(nonce: string, issuedAt: number, nc: number): boolean {
    this.maybeSweep()
    const t = this.counts.get(nonce)
    if (t !== undefined) {
      if (nc <= t.nc) return false
      t.nc = nc
      return true
    }
    if (nc < 1) return false
    this.counts.set(nonce, { nc, issuedAt })
    if (this.counts.size > this.maxTracked) this.evict()
    return true
  }

  /** Number of nonces whose count is tracked (for metrics and tests). */
  get trackedCount(): number {
    return this.counts.size
  }

  /**
   * HMAC-SHA256(secret, data); the first MAC_LEN bytes of the result count. Returns a
   * scratch buffer that the next call overwrites.
   */
  private mac(data: Uint8Array): Uint8Array {
    // A keyed HMAC hasher is single-use; copying a keyed one skips the key schedule.
    const h = this.hmac.copy()
    h.update(data)
    h.digest(this.macOut)
    return this.macOut
  }

  private maybeSweep(): void {
    const now = this.scheduler.unixSeconds()
    if (now < this.nextSweep) return
    this.nextSweep = now + Math.max(1, Math.ceil(this.lifetime / 4))
    this.sweep(now)
  }

  private sweep(now: number): void {
    for (const [nonce, t] of this.counts) {
      if (now - t.issuedAt > this.lifetime) this.counts.delete(nonce)
    }
  }

  /** Drops the oldest entries (first used first) down to the cap; O(number dropped). */
  private evict(): void {
    const now = this.scheduler.unixSeconds()
    for (const [nonce, t] of this.counts) {
      if (this.counts.size <= this.maxTracked) break
      this.counts.delete(nonce)
      // A still-valid nonce loses its count history: refuse it (and older ones) from now on.
      if (now - t.issuedAt <= this.lifetime && t.issuedAt > this.evictedUpTo) this.evictedUpTo = t.issuedAt
    }
  }
}

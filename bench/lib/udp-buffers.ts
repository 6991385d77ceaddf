/**
 * Kernel UDP receive-buffer defaults for the benchmark run.
 *
 * Bun's UDP socket has no receive-buffer option, so the gateway's socket gets
 * `net.core.rmem_default` (212,992 bytes on Debian). At 2,500 calls/s that buffer overflows
 * during bursts and datagrams are dropped (Kamailio's bench README: "give sockets a 4 MB
 * receive buffer"; Kamailio itself raises its own with `maxbuffer`, up to `rmem_max`). The
 * benchmark raises both for its duration (`sysctl -w`, needs root and a writable
 * /proc/sys/net in this network namespace) and puts the old values back at the end.
 */
import { readFileSync, writeFileSync } from 'node:fs'

const KEYS = {
  rmem_default: '/proc/sys/net/core/rmem_default',
  rmem_max: '/proc/sys/net/core/rmem_max',
} as const

export interface UdpBufferSetting {
  /** True when the wanted values are in effect (set now, or already at least that big). */
  applied: boolean
  /** Values found at start, bytes (null when unreadable). */
  before: { rmem_default: number | null; rmem_max: number | null }
  /** Values in effect for the run. */
  during: { rmem_default: number | null; rmem_max: number | null }
  /** One line for the output: what was done, or why not. */
  message: string
  /** Puts the values found at start back (idempotent). */
  restore(): void
}

function read(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim())
    return Number.isFinite(n) ? n : null
  } catch {
    return null
  }
}

function write(path: string, value: number): string | null {
  try {
    writeFileSync(path, `${value}\n`)
    return null
  } catch (e) {
    return (e as Error).message
  }
}

/**
 * Raises `net.core.rmem_default` to `rmemDefault` and `net.core.rmem_max` to `rmemMax`
 * (never lowers them). Never throws: when the kernel refuses, `applied` is false and
 * `message` says so (the run continues with the machine's defaults).
 */
export function raiseUdpReceiveBuffers(rmemDefault = 4194304, rmemMax = 8388608): UdpBufferSetting {
  const before = { rmem_default: read(KEYS.rmem_default), rmem_max: read(KEYS.rmem_max) }
  const errors: string[] = []
  const changed: Array<keyof typeof KEYS> = []
  // rmem_max first: some kernels clamp rmem_default to it.
  for (const [key, want] of [['rmem_max', rmemMax], ['rmem_default', rmemDefault]] as const) {
    const now = before[key]
    if (now !== null && now >= want) continue
    const err = write(KEYS[key], want)
    if (err === null) changed.push(key)
    else errors.push(`net.core.${key}: ${err}`)
  }
  const during = { rmem_default: read(KEYS.rmem_default), rmem_max: read(KEYS.rmem_max) }
  const applied = (during.rmem_default ?? 0) >= rmemDefault && (during.rmem_max ?? 0) >= rmemMax
  let restored = false
  // Put the values back even when the run is interrupted (process.exit runs 'exit' listeners).
  if (changed.length > 0) process.once('exit', () => setting.restore())
  const message = applied
    ? changed.length > 0
      ? `sysctl: net.core.rmem_default=${during.rmem_default} net.core.rmem_max=${during.rmem_max} for this run (were ${before.rmem_default} / ${before.rmem_max}; restored at the end)`
      : `sysctl: net.core.rmem_default=${during.rmem_default} net.core.rmem_max=${during.rmem_max} already large enough`
    : `sysctl: COULD NOT raise the UDP receive buffers (${errors.join('; ') || 'values did not stick'}); running with ` +
      `rmem_default=${during.rmem_default} rmem_max=${during.rmem_max}: the gateway's UDP socket may drop datagrams at high rates`
  const setting: UdpBufferSetting = {
    applied, before, during, message,
    restore() {
      if (restored) return
      restored = true
      // Reverse order: rmem_default back before rmem_max shrinks.
      for (const key of ['rmem_default', 'rmem_max'] as const) {
        const old = before[key]
        if (changed.includes(key) && old !== null) write(KEYS[key], old)
      }
    },
  }
  return setting
}

/**
 * What a benchmark client puts on its WebSocket and gets back: messages and payload bytes
 * each way, plus an estimate of the WebSocket framing around them (RFC 6455 §5.2: a 2-byte
 * header, 2 more for payloads of 126..65535 bytes, and a 4-byte mask on client->server frames).
 */
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

/** bench/fixtures/ */
export const FIXTURES_DIR = resolve(import.meta.dir, '..', 'fixtures')

/** The Chrome offer and answer of bench/fixtures (capture-chrome-sdp.ts), CRLF line ends. */
export function fixtureSdp(): { offer: string; answer: string } {
  return {
    offer: readFileSync(join(FIXTURES_DIR, 'chrome-offer.sdp'), 'utf8'),
    answer: readFileSync(join(FIXTURES_DIR, 'chrome-answer.sdp'), 'utf8'),
  }
}

/** Counts of one direction. */
export interface DirectionCount {
  messages: number
  /** Payload bytes (UTF-8 text of the frames). */
  bytes: number
  /** Payload plus WebSocket frame headers (and masks client->server). */
  frameBytes: number
}

/** Both directions of one client's WebSocket. */
export class WireCounter {
  readonly sent: DirectionCount = { messages: 0, bytes: 0, frameBytes: 0 }
  readonly received: DirectionCount = { messages: 0, bytes: 0, frameBytes: 0 }

  /** Counts a frame the client sent (masked). */
  countSent(text: string): void {
    add(this.sent, Buffer.byteLength(text), true)
  }

  /** Counts a frame the client received (unmasked). */
  countReceived(text: string): void {
    add(this.received, Buffer.byteLength(text), false)
  }

  /** Zeroes both directions. */
  reset(): void {
    for (const d of [this.sent, this.received]) {
      d.messages = 0
      d.bytes = 0
      d.frameBytes = 0
    }
  }

  /** A copy of the counts. */
  snapshot(): { sent: DirectionCount; received: DirectionCount } {
    return { sent: { ...this.sent }, received: { ...this.received } }
  }
}

function add(d: DirectionCount, bytes: number, masked: boolean): void {
  d.messages++
  d.bytes += bytes
  d.frameBytes += bytes + (bytes < 126 ? 2 : bytes < 65536 ? 4 : 10) + (masked ? 4 : 0)
}

/** Sums snapshots (caller + callee). */
export function sumCounts(list: Array<{ sent: DirectionCount; received: DirectionCount }>): { sent: DirectionCount; received: DirectionCount } {
  const out = { sent: { messages: 0, bytes: 0, frameBytes: 0 }, received: { messages: 0, bytes: 0, frameBytes: 0 } }
  for (const s of list) {
    for (const k of ['sent', 'received'] as const) {
      out[k].messages += s[k].messages
      out[k].bytes += s[k].bytes
      out[k].frameBytes += s[k].frameBytes
    }
  }
  return out
}

/** Percentile `p` (0-100) of `values` (nearest rank), null when empty. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return Math.round(sorted[rank]! * 10) / 10
}

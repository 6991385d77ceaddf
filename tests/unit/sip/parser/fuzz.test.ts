/**
 * Robustness: the parser never throws (and never needs its last-resort guard) on any prefix
 * of the RFC 4475 messages or on random mutations of them; whatever it accepts serializes and
 * parses back to the same fields. Deterministic (seeded PRNG), bounded to 20,000 mutations.
 */
import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseMessage, type ParseResult } from '../../../../gateway/src/sip/parser/message-parser.ts'
import { serializeMessage } from '../../../../gateway/src/sip/message/serialize.ts'
import type { SipMessage } from '../../../../gateway/src/sip/message/sip-message.ts'

const DIR = join(import.meta.dir, '../../../fixtures/rfc4475')
const fixtures: Uint8Array[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.dat'))
  .sort()
  .map((f) => new Uint8Array(readFileSync(join(DIR, f))))

/** mulberry32: small deterministic PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const INTERESTING = [13, 10, 32, 9, 58, 44, 59, 34, 60, 62, 92, 47, 64, 61, 37, 0, 0xff, 0xc3, 0x80, 48, 57, 45]

/** Checks the shape of a result and, for accepted messages, the serialize round trip. */
function checkResult(r: ParseResult, data: Uint8Array, stream: boolean): void {
  if (r.ok) {
    if (!(r.consumed > 0 && r.consumed <= data.length)) throw new Error(`bad consumed ${r.consumed}/${data.length}`)
    const again = parseMessage(serializeMessage(r.message))
    if (!again.ok) throw new Error(`accepted message does not round-trip: ${JSON.stringify(again)}`)
    const a = summary(r.message)
    const b = summary(again.message)
    if (a !== b) throw new Error(`round trip changed the message:\n${a}\n---\n${b}`)
    return
  }
  if (r.incomplete === true) {
    if (!stream) throw new Error('incomplete in datagram mode')
    return
  }
  if (r.reason.startsWith('internal parser error')) throw new Error(`parser threw: ${r.reason}`)
  if (typeof r.reason !== 'string' || !Array.isArray(r.headers)) throw new Error('bad failure shape')
  if (r.kind !== 'request' && r.status !== null) throw new Error('a status for something that is not a request')
}

function summary(m: SipMessage): string {
  const start = m.kind === 'request' ? `${m.method} ${m.uri}` : `${m.status} ${m.reason}`
  const hs = m.headers.filter((h) => h.name !== 'content-length').map((h) => `${h.name}: ${h.value}`)
  return [start, ...hs, Array.from(m.body).join(',')].join('\n')
}

describe('parser robustness', () => {
  test('every prefix of every fixture, datagram and stream mode', () => {
    let n = 0
    for (const data of fixtures) {
      for (let len = 0; len <= data.length; len++) {
        const part = data.subarray(0, len)
        checkResult(parseMessage(part), part, false)
        checkResult(parseMessage(part, { stream: true }), part, true)
        n += 2
      }
    }
    expect(n).toBe(2 * fixtures.reduce((sum, f) => sum + f.length + 1, 0))
  })

  test('20,000 random byte mutations never throw; accepted output round-trips', () => {
    const rand = rng(0x5eed4475)
    let accepted = 0
    for (let iter = 0; iter < 20_000; iter++) {
      const src = fixtures[Math.floor(rand() * fixtures.length)]!
      const bytes = Array.from(src)
      const edits = 1 + Math.floor(rand() * 6)
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rand() * (bytes.length + 1))
        const pick = rand()
        const value = rand() < 0.6 ? INTERESTING[Math.floor(rand() * INTERESTING.length)]! : Math.floor(rand() * 256)
        if (pick < 0.4) bytes[at] = value
        else if (pick < 0.7) bytes.splice(at, 0, value)
        else if (pick < 0.9) bytes.splice(at, 1 + Math.floor(rand() * 8))
        else bytes.splice(at, 0, ...Array.from(src.subarray(0, Math.floor(rand() * 40))))
      }
      const data = Uint8Array.from(bytes)
      const r = parseMessage(data)
      checkResult(r, data, false)
      if (r.ok) accepted++
      checkResult(parseMessage(data, { stream: true }), data, true)
    }
    // The mutations must leave a fair share of valid messages, or the round-trip check is idle.
    expect(accepted).toBeGreaterThan(1_500)
  })
})

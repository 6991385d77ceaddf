/**
 * CSeq header value (RFC 3261 §20.16):
 *
 * > CSeq  =  "CSeq" HCOLON 1*DIGIT LWS Method
 *
 * > The sequence number MUST be expressible as a 32-bit unsigned integer and MUST be less
 * > than 2**31.  (§8.1.1.5, for the UAC that generates it)
 *
 * A receiver accepts the full unsigned 32-bit range (RFC 4475 §3.1.2.4 scalar02: a value
 * above 2**32-1 is an error); leading zeros are legal (wsinv "0009").
 */
import type { CSeq } from './types.ts'
import { CHAR_CLASS, C_TOKEN } from './uri.ts'

const MAX_SEQ = 4294967295

/**
 * Parses a CSeq value such as `314159 INVITE` (LWS already unfolded to SP/HT).
 * @returns `{ seq, method }` with seq in 0..2^32-1 and the method case kept, or null.
 */
export function parseCSeq(value: string): CSeq | null {
  const n = value.length
  let i = 0
  while (i < n && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9)) i++
  const ds = i
  let seq = 0
  while (i < n) {
    const c = value.charCodeAt(i)
    if (c < 48 || c > 57) break
    seq = seq * 10 + (c - 48)
    if (seq > MAX_SEQ) return null
    i++
  }
  if (i === ds) return null
  // LWS between the number and the method is mandatory.
  const ws = i
  while (i < n && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9)) i++
  if (i === ws) return null
  const ms = i
  while (i < n) {
    const c = value.charCodeAt(i)
    if (c >= 128 || (CHAR_CLASS[c]! & C_TOKEN) === 0) break
    i++
  }
  if (i === ms) return null
  const me = i
  while (i < n && (value.charCodeAt(i) === 32 || value.charCodeAt(i) === 9)) i++
  if (i !== n) return null
  return { seq, method: value.slice(ms, me) }
}

/**
 * G.711 companding (ITU-T Recommendation G.711, 11/1988): mu-law (North America, Japan) and
 * A-law (Europe and the rest), the two codecs every legacy SIP phone speaks (RFC 3551 §4.5.14,
 * static RTP payload types PCMU 0 and PCMA 8).
 *
 * RFC 3551 §4.5.14: "PCMA and PCMU are specified in ITU-T Recommendation G.711. Audio data
 * is encoded as eight bits per sample, after logarithmic scaling."
 *
 * The relay itself never transcodes (it forwards payloads untouched); these functions serve
 * the tests and end-to-end checks that decode what arrived and measure a tone in it. Samples
 * are signed 16-bit linear PCM (-32768..32767); code words are octets as they appear on the
 * wire (the bit inversions of G.711 are included). The algorithms follow the classic
 * reference implementation (Sun Microsystems' g711.c, public domain).
 */

/** mu-law bias added before segment search (G.711 Table 2a: 33 in 14-bit units, 0x84 here). */
const MULAW_BIAS = 0x84
/** Largest magnitude mu-law can represent before the bias pushes it past 15 bits. */
const MULAW_CLIP = 32635

/** Segment end points of A-law, in 13-bit magnitudes (G.711 Table 1a). */
const ALAW_SEGMENT_END = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff] as const

/**
 * Encodes one linear sample to a mu-law octet.
 *
 * @param sample signed 16-bit sample; values outside -32768..32767 are clipped
 * @returns the wire octet (0x00..0xFF); 0 encodes as 0xFF
 */
export function muLawEncodeSample(sample: number): number {
  let pcm = sample | 0
  let sign = 0
  if (pcm < 0) {
    sign = 0x80
    pcm = -pcm
  }
  if (pcm > MULAW_CLIP) pcm = MULAW_CLIP
  pcm += MULAW_BIAS
  // The segment (exponent) is the position of the highest set bit above bit 7.
  let exponent = 7
  for (let mask = 0x4000; (pcm & mask) === 0 && exponent > 0; mask >>= 1) exponent--
  const mantissa = (pcm >> (exponent + 3)) & 0x0f
  return ~(sign | (exponent << 4) | mantissa) & 0xff
}

/**
 * Decodes one mu-law octet to a linear sample.
 *
 * @param code wire octet (only the low 8 bits are used)
 * @returns signed 16-bit sample in -32124..32124 (0xFF and 0x7F decode to 0)
 */
export function muLawDecodeSample(code: number): number {
  const u = ~code & 0xff
  const exponent = (u >> 4) & 0x07
  const magnitude = ((((u & 0x0f) << 3) + MULAW_BIAS) << exponent) - MULAW_BIAS
  return u & 0x80 ? -magnitude | 0 : magnitude
}

/**
 * Encodes one linear sample to an A-law octet (even bits inverted, as on the wire).
 *
 * @param sample signed 16-bit sample; values outside -32768..32767 are clipped
 * @returns the wire octet; 0 encodes as 0xD5
 */
export function aLawEncodeSample(sample: number): number {
  let pcm = Math.max(-32768, Math.min(32767, sample | 0)) >> 3 // 13-bit
  let mask: number
  if (pcm >= 0) {
    mask = 0xd5 // sign bit set (positive), then even-bit inversion 0x55
  } else {
    mask = 0x55
    pcm = -pcm - 1
  }
  let segment = 0
  while (segment < 8 && pcm > ALAW_SEGMENT_END[segment]!) segment++
  if (segment >= 8) return 0x7f ^ mask
  let code = segment << 4
  code |= segment < 2 ? (pcm >> 1) & 0x0f : (pcm >> segment) & 0x0f
  return code ^ mask
}

/**
 * Decodes one A-law octet to a linear sample.
 *
 * @param code wire octet (only the low 8 bits are used)
 * @returns signed 16-bit sample in -32256..32256 (never 0: 0xD5 is +8, 0x55 is -8)
 */
export function aLawDecodeSample(code: number): number {
  const a = (code & 0xff) ^ 0x55
  let t = (a & 0x0f) << 4
  const segment = (a & 0x70) >> 4
  if (segment === 0) t += 8
  else if (segment === 1) t += 0x108
  else t = (t + 0x108) << (segment - 1)
  return a & 0x80 ? t : -t
}

const MULAW_TABLE = new Int16Array(256)
const ALAW_TABLE = new Int16Array(256)
for (let i = 0; i < 256; i++) {
  MULAW_TABLE[i] = muLawDecodeSample(i)
  ALAW_TABLE[i] = aLawDecodeSample(i)
}

/** The G.711 variants, named like their RTP encodings (RFC 3551 Table 4). */
export type G711Law = 'PCMU' | 'PCMA'

/**
 * Encodes linear samples into G.711 octets.
 *
 * @param samples signed 16-bit samples (any numeric array; clipped)
 * @param law 'PCMU' (mu-law) or 'PCMA' (A-law)
 * @param out optional destination of at least `samples.length` octets (reused, no allocation)
 * @returns the octets (`out` when given)
 */
export function g711Encode(samples: ArrayLike<number>, law: G711Law, out?: Uint8Array): Uint8Array {
  const dst = out ?? new Uint8Array(samples.length)
  const encode = law === 'PCMU' ? muLawEncodeSample : aLawEncodeSample
  for (let i = 0; i < samples.length; i++) dst[i] = encode(samples[i]!)
  return dst
}

/**
 * Decodes G.711 octets into linear samples (table lookup).
 *
 * @param octets the payload of a PCMU or PCMA RTP packet
 * @param law 'PCMU' (mu-law) or 'PCMA' (A-law)
 * @param out optional destination of at least `octets.length` samples
 * @returns the samples (`out` when given)
 */
export function g711Decode(octets: ArrayLike<number>, law: G711Law, out?: Int16Array): Int16Array {
  const dst = out ?? new Int16Array(octets.length)
  const table = law === 'PCMU' ? MULAW_TABLE : ALAW_TABLE
  for (let i = 0; i < octets.length; i++) dst[i] = table[octets[i]! & 0xff]!
  return dst
}

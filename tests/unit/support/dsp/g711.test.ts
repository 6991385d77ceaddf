/**
 * G.711 known values and round-trip error bounds (ITU-T G.711 Tables 1a/2a; the code words
 * are the wire octets, bit inversions included).
 */
import { describe, expect, test } from 'bun:test'
import { aLawDecodeSample, aLawEncodeSample, g711Decode, g711Encode, muLawDecodeSample, muLawEncodeSample } from '../../../support/dsp/g711.ts'
import { sineTone } from '../../../support/dsp/goertzel.ts'

describe('mu-law (PCMU)', () => {
  test('silence: 0 encodes as 0xFF and 0xFF / 0x7F decode to 0', () => {
    expect(muLawEncodeSample(0)).toBe(0xff)
    expect(muLawDecodeSample(0xff)).toBe(0)
    expect(muLawDecodeSample(0x7f)).toBe(0)
    expect(Object.is(muLawDecodeSample(0x7f), -0)).toBe(false)
  })

  test('full scale: 0x80 is +32124, 0x00 is -32124, larger inputs clip there', () => {
    expect(muLawDecodeSample(0x80)).toBe(32124)
    expect(muLawDecodeSample(0x00)).toBe(-32124)
    expect(muLawEncodeSample(32767)).toBe(0x80)
    expect(muLawEncodeSample(-32768)).toBe(0x00)
  })

  test('worked example: 1000 -> 0xCE (exponent 3, mantissa 1), -1000 -> 0x4E', () => {
    expect(muLawEncodeSample(1000)).toBe(0xce)
    expect(muLawEncodeSample(-1000)).toBe(0x4e)
    expect(muLawDecodeSample(0xce)).toBe(988)
  })

  test('round trip error is at most half a quantisation step (|x|/32 + 4.125)', () => {
    let worst = 0
    for (let x = -32000; x <= 32000; x++) {
      const err = Math.abs(muLawDecodeSample(muLawEncodeSample(x)) - x)
      worst = Math.max(worst, err - Math.abs(x) / 32)
    }
    expect(worst).toBeLessThanOrEqual(4.125)
  })

  test('decoding is monotonic in the code order', () => {
    let prev = -Infinity
    for (let x = -32768; x <= 32767; x += 3) {
      const y = muLawDecodeSample(muLawEncodeSample(x))
      expect(y).toBeGreaterThanOrEqual(prev)
      prev = y
    }
  })
})

describe('A-law (PCMA)', () => {
  test('0 encodes as 0xD5; 0xD5 is +8 and 0x55 is -8 (A-law has no zero)', () => {
    expect(aLawEncodeSample(0)).toBe(0xd5)
    expect(aLawDecodeSample(0xd5)).toBe(8)
    expect(aLawDecodeSample(0x55)).toBe(-8)
  })

  test('full scale: 0xAA is +32256, 0x2A is -32256', () => {
    expect(aLawDecodeSample(0xaa)).toBe(32256)
    expect(aLawDecodeSample(0x2a)).toBe(-32256)
    expect(aLawEncodeSample(32767)).toBe(0xaa)
    expect(aLawEncodeSample(-32768)).toBe(0x2a)
  })

  test('worked example: 1000 -> 0xFA (segment 2), -1000 -> 0x7A', () => {
    expect(aLawEncodeSample(1000)).toBe(0xfa)
    expect(aLawEncodeSample(-1000)).toBe(0x7a)
  })

  test('round trip error is at most |x|/32 + 8', () => {
    let worst = 0
    for (let x = -32000; x <= 32000; x++) {
      const err = Math.abs(aLawDecodeSample(aLawEncodeSample(x)) - x)
      worst = Math.max(worst, err - Math.abs(x) / 32)
    }
    expect(worst).toBeLessThanOrEqual(8)
  })
})

describe('block codec', () => {
  for (const law of ['PCMU', 'PCMA'] as const) {
    test(`${law}: a 1 kHz sine survives with SNR above 30 dB`, () => {
      const tone = sineTone(new Int16Array(800), 8000, 1000, 12000)
      const decoded = g711Decode(g711Encode(tone, law), law)
      let signal = 0
      let noise = 0
      for (let i = 0; i < tone.length; i++) {
        signal += tone[i]! * tone[i]!
        noise += (decoded[i]! - tone[i]!) ** 2
      }
      expect(10 * Math.log10(signal / noise)).toBeGreaterThan(30)
    })
  }

  test('encode and decode write into caller buffers without allocating', () => {
    const out = new Uint8Array(4)
    expect(g711Encode([0, 0, 0, 0], 'PCMU', out)).toBe(out)
    expect([...out]).toEqual([0xff, 0xff, 0xff, 0xff])
    const pcm = new Int16Array(2)
    expect(g711Decode([0xd5, 0x55], 'PCMA', pcm)).toBe(pcm)
    expect([...pcm]).toEqual([8, -8])
  })
})

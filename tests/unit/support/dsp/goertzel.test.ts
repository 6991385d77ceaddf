/**
 * Goertzel tone power: the measurement the media tests rely on to prove that a tone crossed
 * the relay (1000 Hz one way, 440 Hz the other).
 */
import { describe, expect, test } from 'bun:test'
import { g711Decode, g711Encode } from '../../../support/dsp/g711.ts'
import { goertzelPower, sineTone } from '../../../support/dsp/goertzel.ts'

describe('goertzelPower', () => {
  test('a pure 1000 Hz sine of amplitude A measures A² at 1000 Hz and almost nothing at 440 Hz', () => {
    const tone = sineTone(new Int16Array(8000), 8000, 1000, 10000)
    const at1000 = goertzelPower(tone, 8000, 1000)
    const at440 = goertzelPower(tone, 8000, 440)
    expect(at1000 / 1e8).toBeCloseTo(1, 2)
    expect(at440).toBeLessThan(at1000 / 1000)
  })

  test('tells 440 Hz from 1000 Hz after G.711 coding, in 20 ms frames too', () => {
    const a = g711Decode(g711Encode(sineTone(new Int16Array(160), 8000, 440, 8000), 'PCMU'), 'PCMU')
    expect(goertzelPower(a, 8000, 440)).toBeGreaterThan(20 * goertzelPower(a, 8000, 1000))
    const b = g711Decode(g711Encode(sineTone(new Int16Array(160), 8000, 1000, 8000), 'PCMA'), 'PCMA')
    expect(goertzelPower(b, 8000, 1000)).toBeGreaterThan(20 * goertzelPower(b, 8000, 440))
  })

  test('silence and an empty block measure 0', () => {
    expect(goertzelPower(new Int16Array(160), 8000, 1000)).toBe(0)
    expect(goertzelPower([], 8000, 1000)).toBe(0)
  })

  test('sineTone continues the phase across frames', () => {
    const whole = sineTone(new Int16Array(320), 8000, 1000, 5000)
    const second = sineTone(new Int16Array(160), 8000, 1000, 5000, 160)
    expect([...second]).toEqual([...whole.subarray(160)])
  })
})

import { expect, test } from 'bun:test'
import { levelFromSamples, smoothLevel } from '../../../../softphone/src/controllers/audio-level-controller.ts'

test('RMS level maps -60..0 dBFS to 0..1', () => {
  expect(levelFromSamples(new Float32Array(128))).toBe(0)
  expect(levelFromSamples(new Float32Array(128).fill(1))).toBe(1)
  // RMS 0.01 = -40 dBFS -> 1/3
  expect(levelFromSamples(new Float32Array(128).fill(0.01))).toBeCloseTo(1 / 3, 5)
  expect(levelFromSamples(new Float32Array(128).fill(0.0001))).toBe(0)
  expect(levelFromSamples([])).toBe(0)
})

test('fast attack, slow release', () => {
  expect(smoothLevel(0.2, 0.9)).toBe(0.9)
  expect(smoothLevel(0.9, 0)).toBeCloseTo(0.72, 5)
  expect(smoothLevel(0.9, 0.8)).toBe(0.8)
})

/**
 * The Goertzel algorithm: the power of one frequency in a block of samples, in O(N) with two
 * state variables (G. Goertzel, "An Algorithm for the Evaluation of Finite Trigonometric
 * Series", 1958). Tests and end-to-end checks use it to prove that a known tone crossed the
 * relay (1000 Hz one way, 440 Hz the other, so that an echo cannot pass for the real thing).
 */

/**
 * Power of `frequency` in `samples`, normalised so that a pure sine of amplitude A that
 * completes a whole number of cycles in the block yields A² (a full-scale 16-bit sine:
 * about 1.07e9); other frequencies yield (close to) 0.
 *
 * The generalised form (non-integer bin) is used: coefficient 2·cos(2π·f/fs), recurrence
 * s[n] = x[n] + coeff·s[n-1] − s[n-2], power = s1² + s2² − coeff·s1·s2, scaled by 4/N².
 *
 * @param samples linear samples (any scale; 16-bit PCM from {@link g711Decode} in practice)
 * @param sampleRate samples per second (8000 for G.711)
 * @param frequency the frequency to measure, in Hz (0 < f < sampleRate / 2)
 * @returns the normalised power (≥ 0); 0 for an empty block
 */
export function goertzelPower(samples: ArrayLike<number>, sampleRate: number, frequency: number): number {
  const n = samples.length
  if (n === 0) return 0
  const coeff = 2 * Math.cos((2 * Math.PI * frequency) / sampleRate)
  let s1 = 0
  let s2 = 0
  for (let i = 0; i < n; i++) {
    const s = samples[i]! + coeff * s1 - s2
    s2 = s1
    s1 = s
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2
  return Math.max(0, (4 * power) / (n * n))
}

/**
 * Fills `out` with a sine tone (16-bit samples), continuing the phase from `startSample`, so
 * that consecutive 20 ms packets form one continuous tone.
 *
 * @param out destination (its length is the number of samples)
 * @param sampleRate samples per second
 * @param frequency tone frequency in Hz
 * @param amplitude peak amplitude (≤ 32767)
 * @param startSample index of the first sample since the tone began
 * @returns `out`
 */
export function sineTone(out: Int16Array, sampleRate: number, frequency: number, amplitude: number, startSample = 0): Int16Array {
  const w = (2 * Math.PI * frequency) / sampleRate
  for (let i = 0; i < out.length; i++) out[i] = Math.round(amplitude * Math.sin(w * (startSample + i)))
  return out
}

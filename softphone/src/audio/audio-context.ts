/**
 * One shared AudioContext for ringtones and level meters (browsers limit how many may run).
 * Returns undefined where WebAudio is missing (tests, old browsers).
 */
let shared: AudioContext | undefined

export function sharedAudioContext(): AudioContext | undefined {
  if (shared) return shared
  const Ctor = (globalThis as { AudioContext?: typeof AudioContext }).AudioContext
  if (!Ctor) return undefined
  try {
    shared = new Ctor({ latencyHint: 'interactive' })
  } catch {
    return undefined
  }
  return shared
}

/** Browsers start contexts suspended until a user gesture; call this from one. */
export function resumeAudio(): void {
  const ctx = sharedAudioContext()
  if (ctx && ctx.state === 'suspended') void ctx.resume().catch(() => undefined)
}

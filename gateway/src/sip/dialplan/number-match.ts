/**
 * Compiled number conditions of a rule (prefixes, anchored pattern, length range), with
 * the reason a number fails them: the dial plan's trace says why each rule above the match
 * did not match.
 */
import type { NumberMatch } from './dialplan-definition.ts'

/** The outcome of testing one number against one rule's conditions. */
export interface MatchResult {
  matched: boolean
  /** Why not (every failing condition), or what held (when matched). */
  reasons: string[]
}

/**
 * Compiles a regular expression anchored to the whole string (`^(?:src)$`), so that a
 * pattern `0900` cannot match inside `+4909001`.
 * @throws SyntaxError when `src` is not a valid JavaScript regular expression.
 */
export function anchoredRegExp(src: string): RegExp {
  return new RegExp(`^(?:${src})$`)
}

/** A NumberMatch ready to test numbers. */
export class NumberMatcher {
  private readonly regex: RegExp | null

  /** @throws SyntaxError for a bad pattern (the loader reports those with file:line first). */
  constructor(readonly def: NumberMatch) {
    this.regex = def.pattern === undefined ? null : anchoredRegExp(def.pattern)
  }

  /** True when the rule has no condition at all (matches every number). */
  get matchesAll(): boolean {
    return this.def.prefixes.length === 0 && this.regex === null && this.def.minLength === undefined && this.def.maxLength === undefined
  }

  /** Tests `number` (already cleaned, see cleanDialed) against every condition. */
  test(number: string): MatchResult {
    const fail: string[] = []
    const ok: string[] = []
    const d = this.def
    if (d.prefixes.length > 0) {
      const p = d.prefixes.find((x) => number.startsWith(x))
      if (p === undefined) fail.push(`does not start with ${d.prefixes.map((x) => JSON.stringify(x)).join(' or ')}`)
      else ok.push(`prefix ${JSON.stringify(p)}`)
    }
    if (d.minLength !== undefined || d.maxLength !== undefined) {
      const len = number.length
      const lo = d.minLength
      const hi = d.maxLength
      const tooShort = lo !== undefined && len < lo
      const tooLong = hi !== undefined && len > hi
      if (tooShort || tooLong) {
        fail.push(lo !== undefined && hi !== undefined ? `length ${len} not in ${lo}..${hi}` : tooShort ? `length ${len} < ${lo}` : `length ${len} > ${hi}`)
      } else {
        ok.push(lo !== undefined && hi !== undefined ? `length ${len} in ${lo}..${hi}` : lo !== undefined ? `length ${len} >= ${lo}` : `length ${len} <= ${hi}`)
      }
    }
    if (this.regex !== null) {
      if (!this.regex.test(number)) fail.push(`does not match /${d.pattern}/`)
      else ok.push(`matches /${d.pattern}/`)
    }
    if (fail.length > 0) return { matched: false, reasons: fail }
    return { matched: true, reasons: ok.length > 0 ? ok : ['no conditions: matches every number'] }
  }
}

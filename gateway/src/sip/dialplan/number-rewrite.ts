/**
 * Dialed-number clean-up and rewriting: visual separators (RFC 3966 §5.1.1), strip /
 * prepend (Asterisk `${EXTEN:n}`, Kamailio dialplan `subst_exp`), and conversion to
 * +E.164 (ITU-T E.164) with a numbering plan.
 */
import type { NumberRewrite, NumberingPlan } from './dialplan-definition.ts'

const PHONE_CHARS = /^\+?[0-9*#A-Da-d().\-]+$/

/**
 * The dialed user part as matched by the dial plan: a phone number written with RFC 3966
 * visual separators (`-`, `.`, `(`, `)`) loses them (`+49 (30) 1234-5` has no spaces in a
 * URI: `+49(30)1234-5` -> `+493012345`); anything else (a username) is returned as is.
 */
export function cleanDialed(dialed: string): string {
  if (!PHONE_CHARS.test(dialed) || !/[0-9]/.test(dialed)) return dialed
  return dialed.replace(/[().\-]/g, '')
}

/** One step of a rewrite, for the explanation (`strip 2: 00441... -> 441...`). */
export interface RewriteStep {
  step: 'strip' | 'prepend' | 'e164'
  from: string
  to: string
  /** e.g. `strip 2`, `prepend "+"`, `E.164: national prefix 0 -> +49`. */
  detail: string
}

/**
 * Converts a number to +E.164 with `plan`:
 * - `+...` stays (separators already removed);
 * - international prefix (`00`) + rest -> `+rest`;
 * - national prefix (`0`) + rest -> `+<countryCode>rest`;
 * - anything else is taken as a national significant number -> `+<countryCode>number`.
 * @returns the E.164 number and how it was recognised.
 */
export function toE164(number: string, plan: NumberingPlan): { number: string; how: string } {
  if (number.startsWith('+')) return { number, how: 'already E.164' }
  if (plan.internationalPrefix !== '' && number.startsWith(plan.internationalPrefix)) {
    return { number: `+${number.slice(plan.internationalPrefix.length)}`, how: `international prefix ${plan.internationalPrefix} -> +` }
  }
  if (plan.nationalPrefix !== '' && number.startsWith(plan.nationalPrefix)) {
    return { number: `+${plan.countryCode}${number.slice(plan.nationalPrefix.length)}`, how: `national prefix ${plan.nationalPrefix} -> +${plan.countryCode}` }
  }
  return { number: `+${plan.countryCode}${number}`, how: `national number -> +${plan.countryCode}` }
}

/**
 * Applies a rule's rewrite: strip `rewrite.strip` leading characters, prepend
 * `rewrite.prepend`, then convert to E.164 when `rewrite.e164`.
 * @param plan required when `rewrite.e164` (the loader checks it).
 * @throws TypeError when e164 is asked without a numbering plan (a definition error).
 * @returns the rewritten number and the steps applied, in order.
 */
export function rewriteNumber(number: string, rewrite: NumberRewrite, plan: NumberingPlan | undefined): { number: string; steps: RewriteStep[] } {
  const steps: RewriteStep[] = []
  let n = number
  if (rewrite.strip > 0) {
    const to = n.slice(rewrite.strip)
    steps.push({ step: 'strip', from: n, to, detail: `strip ${rewrite.strip}` })
    n = to
  }
  if (rewrite.prepend !== '') {
    const to = rewrite.prepend + n
    steps.push({ step: 'prepend', from: n, to, detail: `prepend ${JSON.stringify(rewrite.prepend)}` })
    n = to
  }
  if (rewrite.e164) {
    if (plan === undefined) throw new TypeError('E.164 conversion needs a numbering plan (numbering: in dialplan.yaml)')
    const r = toE164(n, plan)
    steps.push({ step: 'e164', from: n, to: r.number, detail: `E.164: ${r.how}` })
    n = r.number
  }
  return { number: n, steps }
}

/**
 * Semantic checks of `dialplan.yaml` (and of the trunks' `class` against it) and the
 * conversion to the plain DialPlanDefinition (sip/dialplan/dialplan-definition.ts).
 *
 * Checked: classes unique; defaultClass, userClasses values, rule classes and trunk classes
 * are listed classes; userClasses name known users; ring group names unique, members known
 * and not repeated; outbound rule names unique, patterns valid regular expressions,
 * minLength <= maxLength, exactly one target (user, ringGroup or trunks), targets known,
 * trunks not repeated, e164 needs `numbering`; inbound rules name a known trunk, give `did`
 * and/or `pattern`, one target, and no DID appears twice for one trunk.
 */
import type { DialPlanDefinition, InboundRuleDefinition, OutboundRuleDefinition, TargetDefinition } from '../sip/dialplan/dialplan-definition.ts'
import type { TrunkDefinition } from '../sip/dialplan/trunk-definition.ts'
import { DialPlan } from '../sip/dialplan/dial-plan.ts'
import { anchoredRegExp } from '../sip/dialplan/number-match.ts'
import type { DialPlanFile } from './dialplan-schema.ts'
import type { TrunksFile } from './trunks-schema.ts'
import type { ConfigError, LoadedFile } from './yaml-file.ts'
import type { YamlPath } from './yaml-locator.ts'

function regexError(src: string): string | null {
  try {
    anchoredRegExp(src)
    return null
  } catch (e) {
    return `not a regular expression: ${(e as Error).message}`
  }
}

/**
 * Checks `file` against the users and trunks and converts it. Problems are pushed to
 * `errors` (located in dialplan.yaml, or trunks.yaml for a trunk's class); the result is
 * meaningful only when none were pushed.
 */
export function loadDialPlan(
  file: LoadedFile<DialPlanFile>,
  users: readonly string[],
  trunks: readonly TrunkDefinition[],
  trunksFile: LoadedFile<TrunksFile>,
  errors: ConfigError[],
): DialPlanDefinition {
  const f = file.value
  const before = errors.length
  const err = (path: YamlPath, message: string) => errors.push(file.error(path, message))
  const userSet = new Set(users)
  const trunkSet = new Set(trunks.map((t) => t.name))

  const classes = new Set<string>()
  f.classes.forEach((c, i) => {
    if (classes.has(c)) err(['classes', i], `duplicate class "${c}"`)
    classes.add(c)
  })
  const classList = `one of: ${f.classes.join(', ')}`
  const defaultClass = f.defaultClass ?? f.classes[0]!
  if (!classes.has(defaultClass)) err(['defaultClass'], `unknown class "${defaultClass}": must be ${classList}`)
  for (const [user, cls] of Object.entries(f.userClasses)) {
    if (!userSet.has(user)) err(['userClasses', user], `unknown user "${user}" (not in users.yaml)`)
    if (!classes.has(cls)) err(['userClasses', user], `unknown class "${cls}": must be ${classList}`)
  }
  trunks.forEach((t, i) => {
    if (t.class !== undefined && !classes.has(t.class)) {
      errors.push(trunksFile.error(['trunks', i, 'class'], `unknown class "${t.class}": must be ${classList} (dialplan.yaml classes)`))
    }
  })

  const groups = new Set<string>()
  f.ringGroups.forEach((g, i) => {
    if (groups.has(g.name)) err(['ringGroups', i, 'name'], `duplicate ring group "${g.name}"`)
    groups.add(g.name)
    const members = new Set<string>()
    g.members.forEach((m, k) => {
      if (!userSet.has(m)) err(['ringGroups', i, 'members', k], `unknown user "${m}" (not in users.yaml)`)
      else if (members.has(m)) err(['ringGroups', i, 'members', k], `"${m}" is listed twice`)
      members.add(m)
    })
  })

  /** Exactly one target of user / ringGroup / trunks. */
  const target = (base: YamlPath, r: { user?: string; ringGroup?: string; trunks?: string[] }, allowTrunks: boolean): TargetDefinition | null => {
    const given = [r.user !== undefined, r.ringGroup !== undefined, r.trunks !== undefined].filter(Boolean).length
    const names = allowTrunks ? 'user, ringGroup or trunks' : 'user or ringGroup'
    if (given !== 1) {
      err(base, given === 0 ? `needs a target: ${names}` : `give exactly one target of ${names}`)
      return null
    }
    if (r.user !== undefined) {
      if (!userSet.has(r.user)) err([...base, 'user'], `unknown user "${r.user}" (not in users.yaml)`)
      return { kind: 'user', user: r.user }
    }
    if (r.ringGroup !== undefined) {
      if (!groups.has(r.ringGroup)) err([...base, 'ringGroup'], `unknown ring group "${r.ringGroup}"`)
      return { kind: 'ring-group', group: r.ringGroup }
    }
    const list = r.trunks!
    const seen = new Set<string>()
    list.forEach((t, k) => {
      if (!trunkSet.has(t)) err([...base, 'trunks', k], `unknown trunk "${t}" (not in trunks.yaml)`)
      else if (seen.has(t)) err([...base, 'trunks', k], `trunk "${t}" is listed twice`)
      seen.add(t)
    })
    return { kind: 'trunks', trunks: [...list] }
  }

  const outbound: OutboundRuleDefinition[] = []
  const ruleNames = new Map<string, number>()
  f.outbound.forEach((r, i) => {
    const base: YamlPath = ['outbound', i]
    const first = ruleNames.get(r.name)
    if (first !== undefined) err([...base, 'name'], `duplicate rule name "${r.name}" (also outbound[${first}])`)
    else ruleNames.set(r.name, i)
    if (r.pattern !== undefined) {
      const e = regexError(r.pattern)
      if (e !== null) err([...base, 'pattern'], e)
    }
    if (r.minLength !== undefined && r.maxLength !== undefined && r.minLength > r.maxLength) {
      err([...base, 'minLength'], `must be <= maxLength (${r.maxLength})`)
    }
    const cls = r.class ?? f.classes[0]!
    if (!classes.has(cls)) err([...base, 'class'], `unknown class "${cls}": must be ${classList}`)
    if (r.e164 && f.numbering === undefined) err([...base, 'e164'], 'needs numbering (countryCode, nationalPrefix, internationalPrefix) at the top of dialplan.yaml')
    const t = target(base, r, true)
    if (t === null) return
    const rule: OutboundRuleDefinition = {
      name: r.name,
      match: {
        prefixes: [...r.prefix],
        ...(r.pattern !== undefined ? { pattern: r.pattern } : {}),
        ...(r.minLength !== undefined ? { minLength: r.minLength } : {}),
        ...(r.maxLength !== undefined ? { maxLength: r.maxLength } : {}),
      },
      class: cls,
      rewrite: { strip: r.strip, prepend: r.prepend, e164: r.e164 },
      target: t,
    }
    outbound.push(rule)
  })

  const inbound: InboundRuleDefinition[] = []
  const didsSeen = new Map<string, string>()
  f.inbound.forEach((r, i) => {
    const base: YamlPath = ['inbound', i]
    if (!trunkSet.has(r.trunk)) err([...base, 'trunk'], `unknown trunk "${r.trunk}" (not in trunks.yaml)`)
    if (r.did.length === 0 && r.pattern === undefined) err(base, 'needs did (a list of numbers) or pattern')
    if (r.pattern !== undefined) {
      const e = regexError(r.pattern)
      if (e !== null) err([...base, 'pattern'], e)
    }
    r.did.forEach((d, k) => {
      const key = `${r.trunk}\u0000${d}`
      const where = didsSeen.get(key)
      if (where !== undefined) err([...base, 'did', k], `DID ${d} of trunk ${r.trunk} is already mapped by ${where}`)
      else didsSeen.set(key, `inbound[${i}]`)
    })
    const t = target(base, r, false)
    if (t === null || t.kind === 'trunks') return
    inbound.push({
      name: r.name ?? `inbound[${i}]`,
      trunk: r.trunk,
      dids: [...r.did],
      ...(r.pattern !== undefined ? { pattern: r.pattern } : {}),
      target: t,
    })
  })

  const def: DialPlanDefinition = {
    classes: [...f.classes],
    defaultClass,
    userClasses: { ...f.userClasses },
    ...(f.numbering !== undefined ? { numbering: { ...f.numbering } } : {}),
    ringGroups: f.ringGroups.map((g) => ({ name: g.name, strategy: g.strategy, members: [...g.members], ringSeconds: g.ringSeconds })),
    outbound,
    inbound,
    trunks: trunks.map((t) => ({ name: t.name, trusted: t.trusted, ...(t.class !== undefined ? { class: t.class } : {}) })),
    users: [...users],
  }
  if (errors.length === before) {
    try {
      new DialPlan(def)
    } catch (e) {
      err([], `cannot be compiled: ${(e as Error).message}`)
    }
  }
  return def
}

/**
 * Text rendering of a RouteExplanation, for the `route` CLI (and the admin page): which
 * rule matched and why the ones above did not, the permission check, the rewritten
 * number, the targets in order with their state.
 */
import type { RouteExplanation } from './explain.ts'
import type { Caller, RouteDecision } from './route-decision.ts'

function describeCaller(c: Caller, d: RouteDecision): string {
  if (c.kind === 'user') return `user ${c.username}${d.permission?.callerClass ? ` (class ${d.permission.callerClass})` : ''}`
  if (c.kind === 'trunk') return `trunk ${c.trunk}`
  return 'anonymous (unauthenticated)'
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length)
}

/** Multi-line text, no trailing newline. Pure; no colours. */
export function formatExplanation(e: RouteExplanation): string {
  const d = e.decision
  const out: string[] = []
  out.push(`explain ${e.from} -> ${e.to}`)
  out.push(`caller:      ${describeCaller(d.caller, d)}`)
  out.push(`dialed:      ${d.dialed}${d.number !== d.dialed ? ` (matched as ${d.number})` : ''}`)
  if (d.trace.length === 0) {
    out.push('rules:       none tried')
  } else {
    out.push('rules:')
    const labels = d.trace.map((s) => s.kind === 'local-user' ? 'user' : s.kind === 'inbound' ? `did ${s.index + 1}.` : `${s.index + 1}.`)
    const lw = Math.max(...labels.map((l) => l.length))
    const width = Math.max(...d.trace.map((s) => s.name.length))
    d.trace.forEach((s, i) => {
      const verdict = s.matched ? `MATCH     ${s.reasons.join(', ')}` : `no match: ${s.reasons.join('; ')}`
      out.push(`  ${pad(labels[i]!, lw)} ${pad(s.name, width)}  ${verdict}`)
    })
  }
  if (d.permission !== null) {
    out.push(`permission:  ${d.permission.allowed ? 'allowed' : 'DENIED'} (${d.permission.reason})`)
  }
  if (d.rewritten !== null) {
    if (d.rewriteSteps.length === 0) out.push(`rewritten:   ${d.rewritten} (unchanged)`)
    else out.push(`rewritten:   ${d.number} -> ${d.rewritten} (${d.rewriteSteps.map((s) => s.detail).join('; ')})`)
  }
  const code = d.status === null ? '' : ` ${d.status}`
  out.push(`outcome:     ${d.outcome}${code}: ${d.reason}`)
  const t = d.target
  if (t !== null) {
    if (t.kind === 'ring-group') out.push(`targets:     ring group ${t.group}, ${t.strategy}, ${t.ringSeconds} s${t.strategy === 'sequential' ? ' each' : ''}`)
    else if (t.kind === 'trunks') out.push('targets:     trunks in failover order')
    else out.push('targets:')
    const width = Math.max(...e.targets.map((x) => x.name.length))
    e.targets.forEach((x, i) => {
      if (x.kind === 'trunk') out.push(`  ${i + 1}. ${pad(x.name, width)}  ${x.state ?? 'unknown'}${x.detail ? ` (${x.detail})` : ''}`)
      else out.push(`  ${i + 1}. ${pad(x.name, width)}  user`)
    })
  }
  for (const n of e.notes) out.push(`note:        ${n}`)
  return out.join('\n')
}

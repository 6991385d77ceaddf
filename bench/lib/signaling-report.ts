/**
 * Tables and Markdown of bench:signaling, computed from the result object that
 * bench/signaling.ts writes as bench/results/signaling.json (so that a saved result can be
 * rendered again: `bun bench/signaling.ts --render bench/results/signaling.json`).
 */
import type { ChromiumResult } from './chromium-latency.ts'
import { markdownTable } from './markdown.ts'
import type { machineInfo } from './report.ts'
import type { idleMemory, LadderResult, Mode, recovery, wireCost } from './signaling-load.ts'
import { percentile } from './wire-counter.ts'

/** One mode's headless results. */
export interface ModeResult {
  mode: Mode
  wire: Awaited<ReturnType<typeof wireCost>>
  calls: LadderResult
  registrations: LadderResult
  memory: Awaited<ReturnType<typeof idleMemory>>
  recovery: Awaited<ReturnType<typeof recovery>>
  gatewayWarnings: string[]
}

/** What bench/signaling.ts writes as JSON. */
export interface SignalingData {
  date: string
  quick: boolean
  machine: ReturnType<typeof machineInfo>
  loadAverage: { start: number[]; end: number[] }
  settings: { recoveryClients: number; callRates: number[]; registrationRates: number[] }
  modes: ModeResult[]
  browser: ChromiumResult[]
}

/** Display names of the modes. */
export const NAMES: Record<Mode, string> = { sip: 'SIP over WebSocket', json: 'JSON' }

type Row = Record<string, string | number | null>

/** The headline table, the detail tables (title, rows) and the Markdown text. */
export function renderSignaling(data: SignalingData): { headline: Row[]; sections: Array<[string, Row[]]>; markdown: string } {
  const results = data.modes
  const browser = data.browser
  const MODES = results.map((r) => r.mode)
  const { callRates, registrationRates, recoveryClients } = data.settings
  const quick = data.quick
  const loadStart = data.loadAverage.start
  const loadEnd = data.loadAverage.end
  const k = (bytes: number) => bytes.toLocaleString('en-US')
  const wireRows = results.flatMap((r) => [
    ['register/login (2 clients)', r.wire.register] as const,
    ['call + hang-up (caller + callee)', r.wire.call] as const,
  ].map(([what, c]) => ({
    mode: NAMES[r.mode], what,
    'msgs c->g': c.sent.messages, 'bytes c->g': c.sent.bytes, 'msgs g->c': c.received.messages, 'bytes g->c': c.received.bytes,
    'total bytes (+WS framing)': `${k(c.sent.bytes + c.received.bytes)} (${k(c.sent.frameBytes + c.received.frameBytes)})`,
  })))
  const browserWireRows = browser.flatMap((b) => [['sign-in (2 pages)', b.wire.signIn] as const, ['per call (2 pages)', b.wire.perCall] as const].map(([what, c]) => ({
    mode: NAMES[b.mode], what, 'msgs c->g': c.sent.messages, 'bytes c->g': c.sent.bytes, 'msgs g->c': c.received.messages, 'bytes g->c': c.received.bytes,
  })))
  const stepRows = (kind: 'calls' | 'registrations') => results.flatMap((r) => r[kind].steps.map((s) => ({
    mode: NAMES[r.mode], 'target/s': s.rate, 'achieved/s': s.achievedRate, failed: s.failed,
    'p50 ms': s.p50, 'p95 ms': s.p95, 'p99 ms': s.p99,
    'gateway CPU %': s.gatewayCpuPercent, [`CPU µs/${kind === 'calls' ? 'call' : 'reg'}`]: s.cpuMicrosPerOp,
    'generator CPU %': s.generatorCpuPercent, 'machine CPU %': s.usage.machineCpuPercent, 'gateway PSS MB': s.usage.pssMB,
  })))
  const memoryRows = results.map((r) => ({
    mode: NAMES[r.mode], clients: r.memory.clients, registered: r.memory.registered, 'PSS before MB': r.memory.pssBeforeMB,
    'PSS after MB': r.memory.pssAfterMB, 'KB per client': r.memory.kbPerClient, 'connect+register s': r.memory.connectSeconds,
  }))
  const recoveryRows = results.map((r) => ({
    mode: NAMES[r.mode], clients: r.recovery.clients, 'gateway stopped ms': r.recovery.stoppedMs, 'gateway ready ms': r.recovery.readyMs,
    're-registered': r.recovery.reRegistered, 'p50 ms': r.recovery.p50Ms, 'p95 ms': r.recovery.p95Ms, 'all registered ms': r.recovery.allRegisteredMs,
  }))
  const med = (xs: Array<number | null>) => percentile(xs.filter((x): x is number => x !== null && Number.isFinite(x)), 50)
  const p95 = (xs: Array<number | null>) => percentile(xs.filter((x): x is number => x !== null && Number.isFinite(x)), 95)
  const browserRows = browser.map((b) => ({
    mode: NAMES[b.mode], calls: b.calls.length,
    'click->ringing p50': med(b.calls.map((c) => c.clickToRinging)), 'click->ringing p95': p95(b.calls.map((c) => c.clickToRinging)),
    'answer->audio p50': med(b.calls.map((c) => c.answerToAudio)), 'answer->audio p95': p95(b.calls.map((c) => c.answerToAudio)),
  }))
  const breakdownRows = browser.map((b) => ({
    mode: NAMES[b.mode],
    getUserMedia: med(b.calls.map((c) => c.gumDone)), 'ICE servers': med(b.calls.map((c) => c.iceServersFetched)),
    'PeerConnection': med(b.calls.map((c) => c.peerConnectionCreated)), 'first candidate': med(b.calls.map((c) => c.firstCandidate)),
    'offer sent': med(b.calls.map((c) => c.offerSent)), 'INVITE with credentials': med(b.calls.map((c) => c.secondOfferSent)),
    ringing: med(b.calls.map((c) => c.clickToRinging)), 'gathering complete': med(b.calls.map((c) => c.gatheringComplete)),
  }))

  // The headline: one row per measure, one column per mode.
  const byMode = new Map(results.map((r) => [r.mode, r]))
  const common = (kind: 'calls' | 'registrations') => {
    const passedRates = results.map((r) => new Set(r[kind].steps.filter((s) => s.rate <= r[kind].maxRate).map((s) => s.rate)))
    const rates = (kind === 'calls' ? callRates : registrationRates).filter((x) => passedRates.every((s) => s.has(x)))
    return rates.at(-1) ?? null
  }
  const commonCalls = common('calls')
  const commonRegs = common('registrations')
  const at = (m: Mode, kind: 'calls' | 'registrations', rate: number | null) => byMode.get(m)?.[kind].steps.find((s) => s.rate === rate)
  const bw = new Map(browser.map((b) => [b.mode, b]))
  const cell = (f: (m: Mode) => string | number | null | undefined) => Object.fromEntries(MODES.map((m) => [NAMES[m], f(m) ?? null]))
  const headline: Array<Record<string, string | number | null>> = [
    { measure: 'register/login, 2 clients: messages (c->g / g->c)', ...cell((m) => { const w = byMode.get(m)!.wire.register; return `${w.sent.messages} / ${w.received.messages}` }) },
    { measure: 'register/login, 2 clients: bytes (c->g / g->c)', ...cell((m) => { const w = byMode.get(m)!.wire.register; return `${k(w.sent.bytes)} / ${k(w.received.bytes)}` }) },
    { measure: 'call + hang-up, both ends: messages (c->g / g->c)', ...cell((m) => { const w = byMode.get(m)!.wire.call; return `${w.sent.messages} / ${w.received.messages}` }) },
    { measure: 'call + hang-up, both ends: bytes (c->g / g->c)', ...cell((m) => { const w = byMode.get(m)!.wire.call; return `${k(w.sent.bytes)} / ${k(w.received.bytes)}` }) },
    { measure: 'same, real softphone in Chromium: messages / bytes per call', ...cell((m) => { const w = bw.get(m)?.wire.perCall; return w ? `${w.sent.messages + w.received.messages} / ${k(w.sent.bytes + w.received.bytes)}` : null }) },
    { measure: 'highest calls/s passed (ladder stop)', ...cell((m) => `${byMode.get(m)!.calls.maxRate.toLocaleString('en-US')} (${byMode.get(m)!.calls.stoppedBecause})`) },
    { measure: `gateway CPU µs per call at ${commonCalls ?? '-'}/s`, ...cell((m) => at(m, 'calls', commonCalls)?.cpuMicrosPerOp) },
    { measure: `setup latency p50 / p95 / p99 ms at ${commonCalls ?? '-'} calls/s`, ...cell((m) => { const s = at(m, 'calls', commonCalls); return s ? `${s.p50} / ${s.p95} / ${s.p99}` : null }) },
    { measure: 'highest registrations/s passed (ladder stop)', ...cell((m) => `${byMode.get(m)!.registrations.maxRate.toLocaleString('en-US')} (${byMode.get(m)!.registrations.stoppedBecause})`) },
    { measure: `gateway CPU µs per registration at ${commonRegs ?? '-'}/s`, ...cell((m) => at(m, 'registrations', commonRegs)?.cpuMicrosPerOp) },
    { measure: `registration latency p50 / p99 ms at ${commonRegs ?? '-'}/s`, ...cell((m) => { const s = at(m, 'registrations', commonRegs); return s ? `${s.p50} / ${s.p99}` : null }) },
    { measure: `gateway PSS per idle client (N reached)`, ...cell((m) => { const x = byMode.get(m)!.memory; return `${x.kbPerClient ?? '-'} KB (${x.registered.toLocaleString('en-US')})` }) },
    { measure: `recovery: all ${recoveryClients.toLocaleString('en-US')} registered again, s after SIGTERM (gateway up at)`, ...cell((m) => { const x = byMode.get(m)!.recovery; return `${x.allRegisteredMs === null ? `not all (${x.reRegistered})` : (x.allRegisteredMs / 1000).toFixed(1)} (${(x.readyMs / 1000).toFixed(1)})` }) },
    { measure: 'Chromium click -> ringing, p50 / p95 ms', ...cell((m) => { const b = browserRows.find((r) => r.mode === NAMES[m]); return b ? `${b['click->ringing p50']} / ${b['click->ringing p95']}` : null }) },
    { measure: 'Chromium answer -> first audio, p50 / p95 ms', ...cell((m) => { const b = browserRows.find((r) => r.mode === NAMES[m]); return b ? `${b['answer->audio p50']} / ${b['answer->audio p95']}` : null }) },
  ]

  // Measures where one mode did at least 10 % better in this run.
  const measures: Array<[string, (m: Mode) => number | null | undefined, 'lower' | 'higher', string]> = [
    ['bytes per call', (m) => { const w = byMode.get(m)?.wire.call; return w ? w.sent.bytes + w.received.bytes : null }, 'lower', ' B'],
    [`gateway CPU per call at ${commonCalls}/s`, (m) => at(m, 'calls', commonCalls)?.cpuMicrosPerOp, 'lower', ' µs'],
    ['highest calls/s passed', (m) => byMode.get(m)?.calls.maxRate, 'higher', ''],
    [`gateway CPU per registration at ${commonRegs}/s`, (m) => at(m, 'registrations', commonRegs)?.cpuMicrosPerOp, 'lower', ' µs'],
    ['highest registrations/s passed', (m) => byMode.get(m)?.registrations.maxRate, 'higher', ''],
    ['gateway memory per idle client', (m) => byMode.get(m)?.memory.kbPerClient, 'lower', ' KB'],
    ['Chromium click -> ringing (p50)', (m) => med((bw.get(m)?.calls ?? []).map((c) => c.clickToRinging)), 'lower', ' ms'],
  ]
  const measuredWins = (mode: Mode): string => {
    const other = MODES.find((m) => m !== mode)
    if (other === undefined) return ''
    const wins = measures.flatMap(([name, f, better, unit]) => {
      const a = f(mode)
      const b = f(other)
      if (a === null || a === undefined || b === null || b === undefined || a === b) return []
      const ok = better === 'lower' ? a <= b * 0.9 : a >= b * 1.1
      return ok ? [`${name} (${a.toLocaleString('en-US')}${unit} against ${b.toLocaleString('en-US')}${unit})`] : []
    })
    return wins.length === 0 ? '' : ` Measured in this run: ${wins.join('; ')}.`
  }
  const machine = data.machine
  const date = data.date.slice(0, 10)
  const md = [
    `### SIP over WebSocket vs JSON signaling (\`bun run bench:signaling\`${quick ? ' --quick' : ''})`,
    '',
    `${date}, ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGB} GB, Bun ${machine.bun}, Chromium ${browser[0]?.chromium ?? '-'}; ` +
    `load average ${loadStart.join(' ')} at start, ${loadEnd.join(' ')} at end (the generator and the gateway share the machine's cores; other work may run beside them). ` +
    `Authentication as deployed: SIP digest (REGISTER 401, INVITE 407), JSON HMAC challenge; SDP: the Chrome offer/answer of bench/fixtures/chrome-*.sdp (1.7-1.8 KB each, host, srflx and relay candidates).`,
    '',
    markdownTable(headline),
    'Where SIP over WebSocket wins: it is the standard (RFC 7118), so the browser interoperates with every SIP peer, registrar and proxy as it is; ' +
    'the gateway only proxies it (no B2BUA, no per-user state beyond the registration and the transactions); no Patchbay-specific protocol to maintain.' + measuredWins('sip'),
    '',
    'Where JSON wins: fewer messages and bytes on the browser\'s link (no digest round trips, no Via/Record-Route/Contact headers, no ACK), ' +
    're-attach after a page reload (the session and its calls outlive the socket by `graceSeconds`; SIP over WebSocket loses them, RFC 5626 §5), ' +
    'and a much simpler client. It costs a B2BUA leg per JSON user on the gateway.' + measuredWins('json'),
    '',
    'The softphone in SIP mode gathers before sending its SDP (it stops waiting once the candidate set is usable); in JSON mode it trickles ICE (RFC 8838): ' +
    'the `call` goes right after setLocalDescription, and the gateway relays the candidates by INFO (RFC 8840) to a callee whose bindings all trickle ' +
    '(full trickle, JSON to JSON), else folds them into the INVITE (half trickle, docs/json-signaling.md "Trickle ICE"). JSON sessions do not survive a gateway restart: after one, JSON clients log in again, as SIP clients register again.',
    '',
    '<details><summary>Details</summary>\n',
    ...[
      ['Wire cost, generator', wireRows], ['Wire cost, softphone in Chromium', browserWireRows],
      ['Calls/s steps', stepRows('calls')], ['Registrations/s steps', stepRows('registrations')],
      ['Idle clients', memoryRows], ['Recovery (ms from SIGTERM)', recoveryRows],
      ['Chromium setup latency (ms)', browserRows], ['Chromium: medians in ms after the click on Call', breakdownRows],
    ].flatMap(([title, rows]) => ((rows as unknown[]).length === 0 ? [] : [`**${title as string}**\n`, markdownTable(rows as Array<Record<string, string | number | null>>)])),
    '</details>',
    '',
  ].join('\n')
  const sections: Array<[string, Row[]]> = [
    ['Wire cost, generator (payload bytes; c->g = client to gateway)', wireRows],
    ['Wire cost, softphone in Chromium (its own SDP: host candidates only)', browserWireRows],
    ['Calls/s steps', stepRows('calls')],
    ['Registrations/s steps (each = new WebSocket + register/login, then leave)', stepRows('registrations')],
    ['Idle clients', memoryRows],
    ['Recovery after a gateway restart (ms from SIGTERM)', recoveryRows],
    ['Chromium setup latency (ms)', browserRows],
    ['Chromium click -> ... medians, ms after the click on Call', breakdownRows],
  ]
  return { headline, sections, markdown: md }
}

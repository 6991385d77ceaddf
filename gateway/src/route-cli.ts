/**
 * `bun run route -- explain <from> <to>`: explains how the dial plan routes a call, without
 * placing it — which rule matched and why the ones above did not, the permission check, the
 * rewritten number, the targets in order with their current state (sip/dialplan/explain.ts,
 * explain-format.ts).
 *
 *   bun run route -- explain alice 00442079460000
 *   bun run route -- explain trunk:carrier-a +4930123456 --config sip-config
 *   bun run route -- explain bob 0900123456 --url http://127.0.0.1:8080 --token "$TOKEN"
 *
 * `from`: a username (`alice`, taken as authenticated), an AOR (`sip:alice@patchbay.test`),
 * `trunk:NAME` (a call arriving on that trunk) or `anonymous`. `to`: the number or name
 * dialed, or a sip:/tel: URI.
 *
 * Options:
 *   --config DIR   the configuration to explain offline (default: ./sip-config when it
 *                  exists, else the embedded defaults); trunk states are then
 *                  `unknown (no gateway asked)`.
 *   --url URL      ask a running gateway (GET /api/route/explain, http/route-plugin.ts):
 *                  its running dial plan and live trunk states. Default $PATCHBAY_URL.
 *   --token TOKEN  its adminToken (Bearer). Default $PATCHBAY_ADMIN_TOKEN.
 *   --json         print the explanation as JSON instead of text.
 *
 * Exit status: 0 explained (whatever the outcome), 1 configuration refused or gateway
 * error, 2 bad arguments.
 */
import { existsSync } from 'node:fs'
import { formatConfigError, loadConfig } from './config/loader.ts'
import { DialPlan } from './sip/dialplan/dial-plan.ts'
import { explainRoute, type RouteExplanation } from './sip/dialplan/explain.ts'
import { formatExplanation } from './sip/dialplan/explain-format.ts'

const USAGE = 'usage: bun run route -- explain <from> <to> [--config DIR] [--url URL --token TOKEN] [--json]\n' +
  '  from: username | sip:user@domain | trunk:NAME | anonymous;  to: number, username or URI'

/** Where the CLI writes (injectable for tests). */
export interface CliIo {
  out(text: string): void
  err(text: string): void
  env: Record<string, string | undefined>
  fetch: typeof fetch
}

interface Args {
  from: string
  to: string
  config?: string
  url?: string
  token?: string
  json: boolean
}

function parseArgs(argv: string[]): Args | string {
  const pos: string[] = []
  const a: Partial<Args> & { json: boolean } = { json: false }
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!
    const value = (name: string): string | undefined => {
      if (x.startsWith(`--${name}=`)) return x.slice(name.length + 3)
      const v = argv[++i]
      return v
    }
    if (x === '--json') a.json = true
    else if (x === '--config' || x.startsWith('--config=')) a.config = value('config')
    else if (x === '--url' || x.startsWith('--url=')) a.url = value('url')
    else if (x === '--token' || x.startsWith('--token=')) a.token = value('token')
    else if (x === '-h' || x === '--help') return USAGE
    else if (x.startsWith('--')) return `unknown option ${x}\n${USAGE}`
    else pos.push(x)
    if ((x === '--config' || x === '--url' || x === '--token') && argv[i] === undefined) return `${x} needs a value\n${USAGE}`
  }
  if (pos[0] !== 'explain' || pos.length !== 3) return USAGE
  return { ...a, from: pos[1]!, to: pos[2]! }
}

/** Asks a running gateway; throws Error with a readable message on failure. */
async function explainRemote(url: string, token: string, from: string, to: string, f: typeof fetch): Promise<RouteExplanation> {
  const u = new URL('/api/route/explain', url)
  u.searchParams.set('from', from)
  u.searchParams.set('to', to)
  let res: Response
  try {
    res = await f(u, { headers: { authorization: `Bearer ${token}` } })
  } catch (e) {
    throw new Error(`cannot reach the gateway at ${url}: ${(e as Error).message}`)
  }
  const body = await res.json().catch(() => null) as (RouteExplanation & { error?: string }) | null
  if (!res.ok || body === null) throw new Error(`gateway answered ${res.status}${body?.error ? `: ${body.error}` : ''}`)
  return body
}

/** Runs the CLI; returns the exit status. */
export async function runRouteCli(argv: string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv)
  if (typeof args === 'string') {
    io.err(args + '\n')
    return 2
  }
  const url = args.url ?? io.env.PATCHBAY_URL
  const token = args.token ?? io.env.PATCHBAY_ADMIN_TOKEN
  let explanation: RouteExplanation
  if (url !== undefined && url !== '') {
    if (token === undefined || token === '') {
      io.err('--url needs --token (or PATCHBAY_ADMIN_TOKEN): the gateway\'s adminToken\n')
      return 2
    }
    try {
      explanation = await explainRemote(url, token, args.from, args.to, io.fetch)
    } catch (e) {
      io.err(`${(e as Error).message}\n`)
      return 1
    }
  } else {
    const dir = args.config ?? (existsSync('sip-config') ? 'sip-config' : null)
    const r = loadConfig(dir, io.env)
    if (!r.ok) {
      io.err(`configuration refused:\n${r.errors.map(formatConfigError).join('\n')}\n`)
      return 1
    }
    explanation = explainRoute(new DialPlan(r.config.dialPlan), args.from, args.to)
    explanation.notes.push(`offline: dial plan of ${dir ?? 'the embedded defaults'}, no gateway asked for trunk states (--url)`)
  }
  io.out(args.json ? JSON.stringify(explanation, null, 2) + '\n' : formatExplanation(explanation) + '\n')
  return 0
}

if (import.meta.main) {
  process.exitCode = await runRouteCli(process.argv.slice(2), {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    env: process.env,
    fetch,
  })
}

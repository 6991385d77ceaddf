import { afterAll, describe, expect, test } from 'bun:test'
import { resolve } from 'node:path'
import { routePlugin } from '../../../gateway/src/http/route-plugin.ts'
import { DialPlan } from '../../../gateway/src/sip/dialplan/dial-plan.ts'
import { explainRoute, type RouteExplanation, type TrunkStatusSource } from '../../../gateway/src/sip/dialplan/explain.ts'
import { fixturePlan } from '../sip/dialplan/plan-fixture.ts'

const TOKEN = 'admin-token-0123456789'
const REPO = resolve(import.meta.dir, '../../..')
const plan = new DialPlan(fixturePlan())
const status: TrunkStatusSource = {
  status: (n) => n === 'carrier-a' ? { state: 'registered', detail: 'expires in 300 s' } : { state: 'down', detail: 'OPTIONS timed out' },
}
const asked: [string, string][] = []
const app = routePlugin({
  adminToken: TOKEN,
  explain: (from, to) => {
    asked.push([from, to])
    return explainRoute(plan, from, to, status)
  },
})

async function get(path: string, token: string | null = TOKEN) {
  const res = await app.handle(new Request(`http://gateway${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } }))
  return { status: res.status, headers: res.headers, body: await res.json() as Record<string, unknown> }
}

describe('GET /api/route/explain', () => {
  test('answers the explanation as JSON, with trunk states', async () => {
    const r = await get('/api/route/explain?from=alice&to=%2B442079460000')
    expect(r.status).toBe(200)
    const e = r.body as unknown as RouteExplanation
    expect(asked.at(-1)).toEqual(['alice', '+442079460000'])
    expect(e.decision).toMatchObject({ outcome: 'route', rewritten: '+442079460000', rule: { name: 'international' } })
    expect(e.targets).toEqual([
      { kind: 'trunk', name: 'carrier-a', state: 'registered', detail: 'expires in 300 s' },
      { kind: 'trunk', name: 'carrier-b', state: 'down', detail: 'OPTIONS timed out' },
    ])
  })

  test('401 without the admin token or with a wrong one; 401 when no token is configured', async () => {
    const n = asked.length
    const none = await get('/api/route/explain?from=alice&to=bob', null)
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="patchbay-admin"')
    expect((await get('/api/route/explain?from=alice&to=bob', 'wrong-token-0123456789')).status).toBe(401)
    const disabled = routePlugin({ adminToken: undefined, explain: () => { throw new Error('not called') } })
    const res = await disabled.handle(new Request('http://gateway/api/route/explain?from=a&to=b', { headers: { authorization: `Bearer ${TOKEN}` } }))
    expect(res.status).toBe(401)
    expect(asked.length).toBe(n)
  })

  test('400 when from or to is missing or blank', async () => {
    expect((await get('/api/route/explain?from=alice')).status).toBe(400)
    expect((await get('/api/route/explain?to=123')).status).toBe(400)
    const r = await get('/api/route/explain?from=%20&to=123')
    expect(r.status).toBe(400)
    expect(r.body.error).toContain('give from')
  })
})

describe('the route CLI against a running endpoint (--url, --token)', () => {
  const server = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: (req) => app.handle(req) })
  afterAll(() => server.stop(true))
  const url = `http://127.0.0.1:${server.port}`

  async function cli(...args: string[]) {
    const p = Bun.spawn(['bun', 'run', '--silent', 'route', '--', ...args], { cwd: REPO, stdout: 'pipe', stderr: 'pipe', env: { ...process.env, PATCHBAY_URL: '', PATCHBAY_ADMIN_TOKEN: '' } })
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited])
    return { out, err, code }
  }

  test('prints the running gateway\'s decision with live trunk states', async () => {
    const r = await cli('explain', 'bob', '0301234567', '--url', url, '--token', TOKEN)
    expect(r.err).toBe('')
    expect(r.code).toBe(0)
    expect(r.out).toContain('outcome:     route: rule national -> trunks carrier-b, carrier-a')
    expect(r.out).toContain('  1. carrier-b  down (OPTIONS timed out)\n  2. carrier-a  registered (expires in 300 s)\n')
    expect(r.out).not.toContain('no gateway asked')
  })

  test('a wrong token: the gateway\'s 401 and exit status 1; --url without a token: 2', async () => {
    const r = await cli('explain', 'bob', '0301234567', '--url', url, '--token', 'nope-nope-nope-nope')
    expect(r.code).toBe(1)
    expect(r.err).toBe('gateway answered 401: admin token required\n')
    expect((await cli('explain', 'bob', '1', '--url', url)).code).toBe(2)
  })
})

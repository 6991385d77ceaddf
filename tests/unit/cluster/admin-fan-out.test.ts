/**
 * The workers' admin fan-out (cluster/admin-fan-out.ts) against real HTTP servers standing in
 * for two workers' private ports: merged answers, a worker that is gone, a refused token, and
 * requests that are answered locally.
 */
import { afterAll, describe, expect, test } from 'bun:test'
import { adminFanOut, LOCAL_HEADER } from '../../../gateway/src/cluster/admin-fan-out.ts'

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })

function worker(calls: Array<{ callId: string; since: string }>, trunks: Array<{ name: string; state: string; activeCalls: number }>) {
  return Bun.serve({
    hostname: '127.0.0.1', port: 0,
    fetch(req) {
      if (req.headers.get(LOCAL_HEADER) !== '1') return json({ error: 'not local' }, 500)
      if (req.headers.get('authorization') !== 'Bearer good') return json({ error: 'unauthorized' }, 401)
      const path = new URL(req.url).pathname
      if (path === '/api/calls') return json({ total: calls.length, calls })
      if (path === '/api/trunks') return json({ trunks })
      if (req.method === 'DELETE' && path === '/api/calls/c2') return calls.some((c) => c.callId === 'c2') ? new Response(null, { status: 204 }) : json({ error: 'no such call' }, 404)
      return json({ error: 'no such call' }, 404)
    },
  })
}

const w0 = worker([{ callId: 'c1', since: '2026-12-05T00:00:01.000Z' }], [{ name: 'carrier', state: 'registered', activeCalls: 1 }])
const w1 = worker([{ callId: 'c2', since: '2026-12-05T00:00:02.000Z' }], [{ name: 'carrier', state: 'unknown', activeCalls: 2 }])
// A port nothing listens on: a worker that is gone (restarting).
const gone = (() => {
  const s = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response('') })
  const port = s.port!
  s.stop(true)
  return port
})()
afterAll(() => {
  w0.stop(true)
  w1.stop(true)
})

const request = (method: string, path: string, token = 'good') =>
  new Request(`http://127.0.0.1:1${path}`, { method, headers: { authorization: `Bearer ${token}` } })

describe('adminFanOut', () => {
  const fanOut = adminFanOut([w0.port!, w1.port!, gone])

  test('calls in progress: every worker\'s, newest first, totals summed; a worker that is gone is left out', async () => {
    const res = await fanOut(request('GET', '/api/calls'))!
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      total: 2,
      calls: [{ callId: 'c2', since: '2026-12-05T00:00:02.000Z' }, { callId: 'c1', since: '2026-12-05T00:00:01.000Z' }],
    })
  })

  test('trunks: worker 0\'s state (it REGISTERs them), calls summed', async () => {
    const res = await fanOut(request('GET', '/api/trunks'))!
    expect(await res.json()).toEqual({ trunks: [{ name: 'carrier', state: 'registered', activeCalls: 3 }] })
  })

  test('a hang-up is done when any worker holds the call; 404 when none does', async () => {
    expect((await fanOut(request('DELETE', '/api/calls/c2'))!).status).toBe(204)
    expect((await fanOut(request('DELETE', '/api/calls/c9'))!).status).toBe(404)
  })

  test('a refused token is passed on as every worker answered it', async () => {
    const res = await fanOut(request('GET', '/api/calls', 'bad'))!
    expect(res.status).toBe(401)
  })

  test('other requests, and those a sibling sent, are answered locally (no fan-out)', () => {
    expect(fanOut(request('GET', '/api/registrations'))).toBeNull()
    expect(fanOut(new Request('http://127.0.0.1:1/api/calls', { headers: { [LOCAL_HEADER]: '1' } }))).toBeNull()
  })
})

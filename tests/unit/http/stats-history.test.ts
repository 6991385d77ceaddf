/**
 * The admin page's load history (gateway/src/http/stats-history.ts) on a fake scheduler:
 * sampling period, gauges as read, counters as growth per interval, the ring buffer's
 * capacity, `since` filtering, start/stop; and `GET /api/stats/history` (admin token, 400 on
 * a bad `since`), plus the admin page's own routes (admin-page-plugin.ts).
 */
import { describe, expect, test } from 'bun:test'
import { StatsHistory } from '../../../gateway/src/http/stats-history.ts'
import { statsHistoryPlugin } from '../../../gateway/src/http/stats-history-plugin.ts'
import { adminPagePlugin } from '../../../gateway/src/http/admin-page-plugin.ts'
import { FakeScheduler } from '../../support/fake-scheduler.ts'

const TOKEN = 'admin-token-0123456789'

function rig(options: { capacity?: number } = {}) {
  const scheduler = new FakeScheduler(1_800_000_000)
  const live = { calls: 0, bindings: 0, started: 0 }
  const history = new StatsHistory({
    scheduler,
    gauges: { activeCalls: () => live.calls, registrations: () => live.bindings },
    counters: { callsStarted: () => live.started },
    ...(options.capacity !== undefined ? { capacity: options.capacity } : {}),
  })
  return { scheduler, live, history }
}

describe('StatsHistory', () => {
  test('samples at start and every 10 s; gauges as read, counters as growth per interval', () => {
    const { scheduler, live, history } = rig()
    live.bindings = 3
    live.started = 40
    history.start()
    expect(history.size).toBe(1)
    live.calls = 2
    live.started = 45
    scheduler.advance(9_999)
    expect(history.size, 'no sample before the period is over').toBe(1)
    scheduler.advance(1)
    live.calls = 1
    live.bindings = 4
    live.started = 52
    scheduler.advance(10_000)
    const s = history.samples()
    expect(s.map((x) => x.t)).toEqual([1_800_000_000_000, 1_800_000_010_000, 1_800_000_020_000])
    expect(s.map((x) => x.values)).toEqual([
      { activeCalls: 0, registrations: 3, callsStarted: 0 },
      { activeCalls: 2, registrations: 3, callsStarted: 5 },
      { activeCalls: 1, registrations: 4, callsStarted: 7 },
    ])
  })

  test('keeps the last `capacity` samples, oldest first (6 h at 10 s by default)', () => {
    expect(rig().history.capacity).toBe(2_160)
    const { scheduler, live, history } = rig({ capacity: 4 })
    history.start()
    for (let i = 1; i <= 9; i++) {
      live.calls = i
      scheduler.advance(10_000)
    }
    expect(history.size).toBe(4)
    expect(history.samples().map((x) => x.values.activeCalls)).toEqual([6, 7, 8, 9])
  })

  test('`since` returns only the newer samples; a counter that goes down counts 0; a throwing reader counts 0', () => {
    const scheduler = new FakeScheduler(1_000)
    let total = 10
    const history = new StatsHistory({
      scheduler,
      gauges: { broken: () => { throw new Error('no') } },
      counters: { c: () => total },
    })
    history.start()
    total = 3
    scheduler.advance(10_000)
    total = 8
    scheduler.advance(10_000)
    expect(history.samples().map((x) => x.values)).toEqual([{ broken: 0, c: 0 }, { broken: 0, c: 0 }, { broken: 0, c: 5 }])
    expect(history.samples(1_010_000).map((x) => x.t)).toEqual([1_020_000])
    expect(history.snapshot(1_020_000)).toEqual({ intervalMs: 10_000, capacity: 2_160, gauges: ['broken'], counters: ['c'], samples: [] })
  })

  test('stop() disarms the timer and start() is idempotent', () => {
    const { scheduler, history } = rig()
    history.start()
    history.start()
    expect(scheduler.pendingCount).toBe(1)
    expect(history.running).toBe(true)
    history.stop()
    expect(scheduler.pendingCount).toBe(0)
    scheduler.advance(60_000)
    expect(history.size).toBe(1)
    expect(history.running).toBe(false)
  })
})

describe('GET /api/stats/history', () => {
  const { scheduler, live, history } = rig()
  history.start()
  live.calls = 3
  scheduler.advance(10_000)
  const app = statsHistoryPlugin({ adminToken: TOKEN, history })
  const get = (path: string, token: string | null = TOKEN) =>
    app.handle(new Request(`http://gateway${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } }))

  test('answers the samples with the series names; `since` filters', async () => {
    const res = await get('/api/stats/history')
    expect(res.status).toBe(200)
    const body = await res.json() as ReturnType<StatsHistory['snapshot']>
    expect(body.gauges).toEqual(['activeCalls', 'registrations'])
    expect(body.counters).toEqual(['callsStarted'])
    expect(body.samples.map((s) => s.values.activeCalls)).toEqual([0, 3])
    const newer = await (await get(`/api/stats/history?since=${body.samples[0]!.t}`)).json() as typeof body
    expect(newer.samples.length).toBe(1)
  })

  test('401 without the token, 400 for a malformed since', async () => {
    expect((await get('/api/stats/history', null)).status).toBe(401)
    expect((await get('/api/stats/history', 'wrong-token-0123456789')).status).toBe(401)
    const bad = await get('/api/stats/history?since=yesterday')
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: string }).error).toContain('since')
  })
})

describe('admin page routes', () => {
  const asset = { contentType: 'text/html; charset=utf-8', body: new TextEncoder().encode('<pb-admin-app></pb-admin-app>') }

  test('/admin and /admin/ serve admin.html without framing; /api/admin/status says whether a token is set', async () => {
    const app = adminPagePlugin({ assets: new Map([['/admin.html', asset]]), adminTokenConfigured: true })
    for (const path of ['/admin', '/admin/']) {
      const res = await app.handle(new Request(`http://gateway${path}`))
      expect(res.status).toBe(200)
      expect(res.headers.get('x-frame-options')).toBe('DENY')
      expect(await res.text()).toContain('<pb-admin-app>')
    }
    expect(await (await app.handle(new Request('http://gateway/api/admin/status'))).json()).toEqual({ adminApi: 'enabled' })
    const off = adminPagePlugin({ assets: null, adminTokenConfigured: false })
    expect(await (await off.handle(new Request('http://gateway/api/admin/status'))).json()).toEqual({ adminApi: 'disabled' })
    const unbuilt = await off.handle(new Request('http://gateway/admin'))
    expect(unbuilt.status).toBe(503)
    expect(await unbuilt.text()).toContain('bun run build')
  })
})

import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { setLogSink } from '../../../gateway/src/base/log.ts'
import { CallRecorder } from '../../../gateway/src/cdr/call-recorder.ts'
import { CDR_CSV_COLUMNS } from '../../../gateway/src/cdr/cdr-csv.ts'
import { inlineCdrReader } from '../../../gateway/src/cdr/cdr-reader.ts'
import { cdrPlugin, parseCdrQuery } from '../../../gateway/src/http/cdr-plugin.ts'
import { CdrStore, openCdrDatabase, type CdrRecord } from '../../../gateway/src/store/cdr-store.ts'
import { FakeScheduler } from '../../support/fake-scheduler.ts'

let prevSink: ((line: string) => void) | null = null
beforeAll(() => { prevSink = setLogSink(() => undefined) })
afterAll(() => { if (prevSink) setLogSink(prevSink) })

const TOKEN = 'admin-token-0123456789'
const T0 = Date.UTC(2026, 11, 4, 20, 0, 0)
const cleanup: (() => void)[] = []
afterEach(() => { while (cleanup.length > 0) cleanup.pop()!() })

function cdr(over: Partial<CdrRecord>): CdrRecord {
  return {
    callId: 'c', fromTag: 'ft', start: T0, answer: T0 + 1000, end: T0 + 31_000, durationS: 30, ringS: 1,
    caller: 'sip:alice@patchbay.test', callerUser: 'alice', dialed: 'sip:bob@patchbay.test', routed: 'sip:bob@192.0.2.7',
    direction: 'internal', trunk: null, rule: null, status: 200, reason: 'BYE', endedBy: 'caller', mediaPath: 'peer-to-peer',
    codec: 'opus', ...over,
  }
}

function setup(adminToken: string | null = TOKEN) {
  const scheduler = new FakeScheduler()
  const db = openCdrDatabase(':memory:')
  const store = new CdrStore(db, { scheduler, maxAgeDays: 0 })
  const recorder = new CallRecorder({ store, scheduler, wallClockMs: () => T0 })
  cleanup.push(() => { recorder.shutdown(); store.close(); db.close() })
  store.write(cdr({ callId: 'a1', start: T0 }))
  store.write(cdr({ callId: 'a2', start: T0 + 60_000, caller: 'sip:+15551234@carrier.example', callerUser: null, direction: 'inbound',
    trunk: 'carrier', dialed: 'sip:100@patchbay.test', routed: 'sip:carol@10.0.0.3', answer: null, durationS: 0, status: 486,
    reason: 'Busy, "really"', endedBy: 'callee', mediaPath: null, codec: null }))
  store.write(cdr({ callId: 'a3', start: T0 + 120_000, dialed: 'sip:+4930123@patchbay.test', routed: 'sip:+4930123@carrier.example',
    direction: 'outbound', trunk: 'carrier', durationS: 5 }))
  store.flush()
  const app = cdrPlugin({ adminToken: adminToken ?? undefined, cdrs: inlineCdrReader(store), calls: recorder, now: () => T0 })
  const get = async (path: string, token: string | null = TOKEN) => {
    const res = await app.handle(new Request(`http://gateway${path}`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } }))
    return { status: res.status, headers: res.headers, text: await res.text() }
  }
  const json = async (path: string, token: string | null = TOKEN) => {
    const r = await get(path, token)
    return { ...r, body: JSON.parse(r.text) as Record<string, any> }
  }
  return { store, recorder, get, json }
}

describe('GET /api/cdrs', () => {
  test('401 with WWW-Authenticate without the token, with a wrong one, or when none is configured — before the query is looked at', async () => {
    const { json } = setup()
    for (const path of ['/api/cdrs', '/api/cdrs?limit=banana', '/api/cdrs.csv', '/api/calls']) {
      for (const token of [null, 'wrong-token-0123456789']) {
        const r = await json(path, token)
        expect(r.status).toBe(401)
        expect(r.headers.get('www-authenticate')).toBe('Bearer realm="patchbay-admin"')
        expect(r.body.cdrs).toBeUndefined()
      }
    }
    const off = setup(null)
    expect((await off.json('/api/cdrs', TOKEN)).body.error).toMatch(/admin API disabled/)
  })

  test('newest first, with total, paging fields and ISO 8601 times', async () => {
    const { json } = setup()
    const r = await json('/api/cdrs')
    expect(r.status).toBe(200)
    expect(r.headers.get('cache-control')).toBe('no-store')
    expect(r.body).toMatchObject({ total: 3, limit: 100, offset: 0, nextCursor: null })
    expect(r.body.cdrs.map((c: { callId: string }) => c.callId)).toEqual(['a3', 'a2', 'a1'])
    expect(r.body.cdrs[2]).toEqual({
      id: 1, callId: 'a1', fromTag: 'ft', start: '2026-12-04T20:00:00.000Z', answer: '2026-12-04T20:00:01.000Z',
      end: '2026-12-04T20:00:31.000Z', durationS: 30, ringS: 1, caller: 'sip:alice@patchbay.test', callerUser: 'alice',
      dialed: 'sip:bob@patchbay.test', routed: 'sip:bob@192.0.2.7', direction: 'internal', trunk: null, rule: null,
      status: 200, reason: 'BYE', endedBy: 'caller', mediaPath: 'peer-to-peer', codec: 'opus',
    })
    expect(r.body.cdrs[1].answer).toBeNull()
  })

  test('filters: time range (ISO or epoch ms), caller, callee, direction, trunk, status, minDuration; paging', async () => {
    const { json } = setup()
    const ids = async (qs: string) => {
      const r = await json(`/api/cdrs?${qs}`)
      expect(r.status).toBe(200)
      return { ids: r.body.cdrs.map((c: { callId: string }) => c.callId), total: r.body.total, next: r.body.nextCursor }
    }
    expect(await ids('from=2026-12-04T20:01:00Z')).toMatchObject({ ids: ['a3', 'a2'], total: 2 })
    expect(await ids(`from=${T0}&to=${T0 + 60_000}`)).toMatchObject({ ids: ['a1'], total: 1 })
    expect((await ids('caller=%2B1555')).ids).toEqual(['a2'])
    expect((await ids('callee=carol')).ids).toEqual(['a2'])
    expect((await ids('callee=%2B4930')).ids).toEqual(['a3'])
    expect((await ids('direction=outbound')).ids).toEqual(['a3'])
    expect((await ids('trunk=carrier')).ids).toEqual(['a3', 'a2'])
    expect((await ids('status=answered')).ids).toEqual(['a3', 'a1'])
    expect((await ids('status=failed')).ids).toEqual(['a2'])
    expect((await ids('status=4xx')).ids).toEqual(['a2'])
    expect((await ids('status=486')).ids).toEqual(['a2'])
    expect((await ids('minDuration=10')).ids).toEqual(['a1'])
    expect((await ids('trunk=carrier&status=answered')).ids).toEqual(['a3'])
    const p1 = await ids('limit=2')
    expect(p1).toMatchObject({ ids: ['a3', 'a2'], total: 3 })
    expect(typeof p1.next).toBe('string')
    expect((await ids(`limit=2&cursor=${p1.next}`)).ids).toEqual(['a1'])
    expect((await ids('limit=2&offset=2')).ids).toEqual(['a1'])
  })

  test('400 naming the parameter: malformed, out of range, unknown or repeated', async () => {
    const { json } = setup()
    const cases: [string, RegExp][] = [
      ['limit=banana', /limit: expected an integer from 1 to 1000/],
      ['limit=1001', /limit/],
      ['limit=0', /limit/],
      ['limit=2.5', /limit/],
      ['limit=1e3', /limit/],
      ['limit=', /limit/],
      ['minDuration=abc', /minDuration: expected a number of seconds/],
      ['offset=-1', /offset/],
      ['from=yesterday', /from: expected an ISO 8601 time/],
      ['to=2026-13-45T99:00:00Z', /\bto: expected/],
      ['direction=sideways', /direction: expected internal, outbound, inbound or transit/],
      ['status=busy', /status: expected answered, failed/],
      ['status=700', /status/],
      ['minDuration=-3', /minDuration/],
      ['cursor=abc', /cursor/],
      ['format=xml', /format/],
      ['form=2026-12-04', /unknown query parameter form/],
      ['trunk=a&trunk=b', /trunk given more than once/],
      [`caller=${'x'.repeat(300)}`, /caller/],
    ]
    for (const [qs, message] of cases) {
      const r = await json(`/api/cdrs?${qs}`)
      expect({ qs, status: r.status }).toEqual({ qs, status: 400 })
      expect(r.body.error).toMatch(message)
      expect((await get400(`/api/cdrs.csv?${qs}`)).status).toBe(400)
    }
    async function get400(path: string) { return await json(path) }
  })

  test('parseCdrQuery maps parameters to the store query', () => {
    expect(parseCdrQuery(new URLSearchParams('from=2026-12-04T20:00:00Z&to=1796414460000&status=503&minDuration=1.5&limit=10&format=csv')))
      .toEqual({ ok: true, format: 'csv', query: { from: T0, to: T0 + 60_000, status: 503, minDurationS: 1.5, limit: 10 } })
    expect(parseCdrQuery(new URLSearchParams(''))).toEqual({ ok: true, format: 'json', query: {} })
    for (const from of ['2026-12-04T20:00:00', '2026-12-04T20:00', '2026-12-04T21:00:00+01:00', '2026-12-04T20:00:00.000Z', String(T0)]) {
      expect(parseCdrQuery(new URLSearchParams({ from }))).toEqual({ ok: true, format: 'json', query: { from: T0 } })
    }
    expect(parseCdrQuery(new URLSearchParams({ to: '2026-12-05' }))).toEqual({ ok: true, format: 'json', query: { to: Date.UTC(2026, 11, 5) } })
    expect(parseCdrQuery(new URLSearchParams({ to: 'Dec 5 2026' }))).toMatchObject({ ok: false, error: expect.stringMatching(/^invalid query parameter to/) })
  })
})

describe('CSV export', () => {
  test('GET /api/cdrs.csv and ?format=csv: text/csv attachment named with the date, header row, quoted fields', async () => {
    const { get } = setup()
    for (const path of ['/api/cdrs.csv?trunk=carrier', '/api/cdrs?trunk=carrier&format=csv']) {
      const r = await get(path)
      expect(r.status).toBe(200)
      expect(r.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/)
      expect(r.headers.get('content-disposition')).toBe('attachment; filename="cdrs-2026-12-04.csv"')
      const lines = r.text.split('\r\n')
      expect(lines[0]).toBe(CDR_CSV_COLUMNS.join(','))
      expect(lines).toHaveLength(4) // header, a3, a2, and the empty string after the last CRLF
      expect(lines[1]).toStartWith('3,a3,ft,2026-12-04T20:02:00.000Z,')
      expect(lines[2]).toContain(',486,"Busy, ""really""",callee,,')
      expect(lines[3]).toBe('')
    }
  })

  test('the CSV export is not capped at 1000 rows unless a limit is given', async () => {
    const { get, store } = setup()
    for (let i = 0; i < 1500; i++) store.write(cdr({ callId: `bulk-${i}`, start: T0 - 1000 - i }))
    store.flush()
    expect((await get('/api/cdrs.csv')).text.split('\r\n')).toHaveLength(1 + 1503 + 1)
    expect((await get('/api/cdrs.csv?limit=5')).text.split('\r\n')).toHaveLength(1 + 5 + 1)
  })
})

describe('GET /api/calls', () => {
  test('the calls in progress, with ISO times', async () => {
    const { json, recorder } = setup()
    recorder.callStarted({ callId: 'live', fromTag: 'f', at: T0, from: 'sip:alice@patchbay.test', callerUser: 'alice',
      dialed: 'sip:+4930123@patchbay.test', routed: ['sip:+4930123@carrier.example'], direction: 'outbound', trunk: 'carrier', rule: 'national' })
    recorder.callAnswered({ callId: 'live', fromTag: 'f', at: T0 + 4000, answeredBy: 'sip:+4930123@carrier.example', trunk: 'carrier', mediaPath: 'anchored', codec: 'PCMU' })
    const r = await json('/api/calls')
    expect(r.status).toBe(200)
    expect(r.body).toEqual({ total: 1, calls: [{
      callId: 'live', fromTag: 'f', caller: 'sip:alice@patchbay.test', callerUser: 'alice', callee: 'sip:+4930123@patchbay.test',
      routed: ['sip:+4930123@carrier.example'], direction: 'outbound', trunk: 'carrier', since: '2026-12-04T20:00:00.000Z',
      answered: true, answeredAt: '2026-12-04T20:00:04.000Z',
    }] })
    for (let i = 0; i < 4; i++) {
      recorder.callStarted({ callId: `more${i}`, fromTag: 'f', at: T0 + i, from: 'sip:a@h', callerUser: null, dialed: 'sip:b@h', routed: [],
        direction: 'internal', trunk: null, rule: null })
    }
    const limited = await json('/api/calls?limit=2')
    expect(limited.body.total).toBe(5)
    expect(limited.body.calls.map((c: { callId: string }) => c.callId)).toEqual(['live', 'more0'])
    for (const qs of ['limit=0', 'limit=10001', 'limit=x', 'sort=asc']) {
      const bad = await json(`/api/calls?${qs}`)
      expect(bad.status).toBe(400)
      expect(bad.body.error).toMatch(qs.startsWith('sort') ? /unknown query parameter sort/ : /limit/)
    }
  })
})

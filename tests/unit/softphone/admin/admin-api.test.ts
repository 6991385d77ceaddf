/**
 * The admin page's API client (softphone/src/admin/admin-api.ts) over a recording fetch:
 * the Bearer header, errors with the gateway's `error` text, a 401 after sign-in reported
 * once, the token check not reporting, the CSV export's file name, the hang-up URL; and the
 * token's place in sessionStorage (admin-session.ts).
 */
import { describe, expect, test } from 'bun:test'
import { AdminApi, AdminApiError } from '../../../../softphone/src/admin/admin-api.ts'
import { clearAdminToken, loadAdminToken, saveAdminToken } from '../../../../softphone/src/admin/admin-session.ts'

interface Sent {
  url: string
  method: string
  authorization: string | null
}

function rig(answer: (url: string) => Response, token: string | null = 'tok-0123456789abcdef') {
  const sent: Sent[] = []
  let unauthorized = 0
  const api = new AdminApi({
    fetch: async (url, init) => {
      sent.push({ url, method: init?.method ?? 'GET', authorization: new Headers(init?.headers).get('authorization') })
      return answer(url)
    },
    token: () => token,
    onUnauthorized: () => { unauthorized++ },
  })
  return { api, sent, unauthorized: () => unauthorized }
}

describe('AdminApi', () => {
  test('sends the token as a Bearer header and reads the JSON', async () => {
    const { api, sent } = rig(() => Response.json({ registrations: [{ aor: 'sip:alice@x' }] }))
    expect((await api.registrations()).map((r) => r.aor)).toEqual(['sip:alice@x'])
    expect(sent).toEqual([{ url: '/api/registrations', method: 'GET', authorization: 'Bearer tok-0123456789abcdef' }])
  })

  test('a refusal rejects with the status and the gateway\'s error; a 401 with a token is reported', async () => {
    const { api, unauthorized } = rig(() => Response.json({ error: 'admin token required' }, { status: 401 }))
    const e = await api.trunks().catch((x: unknown) => x) as AdminApiError
    expect(e).toBeInstanceOf(AdminApiError)
    expect(e.status).toBe(401)
    expect(e.unauthorized).toBe(true)
    expect(e.message).toBe('admin token required')
    expect(unauthorized()).toBe(1)
  })

  test('checkToken tries the given token and does not report its 401', async () => {
    const { api, sent, unauthorized } = rig(() => new Response('{"error":"admin token required"}', { status: 401 }), null)
    await expect(api.checkToken('guess-0123456789abcdef')).rejects.toBeInstanceOf(AdminApiError)
    expect(sent[0]!.authorization).toBe('Bearer guess-0123456789abcdef')
    expect(unauthorized()).toBe(0)
  })

  test('an unreachable gateway is status 0 with a sentence', async () => {
    const api = new AdminApi({ fetch: () => Promise.reject(new TypeError('Failed to fetch')), token: () => 't' })
    const e = await api.health().catch((x: unknown) => x) as AdminApiError
    expect(e.status).toBe(0)
    expect(e.message).toContain('did not answer')
  })

  test('the CSV export carries the filters and the header, and takes the file name from Content-Disposition', async () => {
    const { api, sent } = rig(() => new Response('id,caller\n1,alice\n', {
      headers: { 'content-type': 'text/csv', 'content-disposition': 'attachment; filename="cdrs-2026-12-04.csv"' },
    }))
    const { blob, fileName } = await api.cdrsCsv('caller=alice&status=answered')
    expect(fileName).toBe('cdrs-2026-12-04.csv')
    expect(await blob.text()).toContain('1,alice')
    expect(sent[0]).toMatchObject({ url: '/api/cdrs.csv?caller=alice&status=answered', authorization: 'Bearer tok-0123456789abcdef' })
  })

  test('hang-up and ban lifting are DELETEs on the escaped id', async () => {
    const { api, sent } = rig(() => new Response(null, { status: 204 }))
    await api.hangUp('a b@c/d')
    await api.liftBan('2001:db8::1')
    expect(sent.map((s) => `${s.method} ${s.url}`)).toEqual(['DELETE /api/calls/a%20b%40c%2Fd', 'DELETE /api/security/bans/2001%3Adb8%3A%3A1'])
  })
})

describe('admin session', () => {
  test('the token lives under one sessionStorage key and is removed on sign-out', () => {
    const m = new Map<string, string>()
    const storage = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), removeItem: (k: string) => void m.delete(k) }
    expect(loadAdminToken(storage)).toBeNull()
    saveAdminToken(storage, 'tok')
    expect(loadAdminToken(storage)).toBe('tok')
    expect([...m.keys()]).toEqual(['patchbay.admin.token'])
    clearAdminToken(storage)
    expect(loadAdminToken(storage)).toBeNull()
  })
})

/**
 * The gateway's REST API: health, registrations (admin), the softphone's client config, and
 * Prometheus metrics. Thin controllers over values the composition root passes in.
 */
import { Elysia } from 'elysia'
import type { Binding } from '../sip/registrar/binding.ts'

export interface ApiDeps {
  domain: string
  /** Bearer token for admin endpoints; undefined: admin endpoints always answer 401. */
  adminToken: string | undefined
  startedAt: number
  bindings(): Binding[]
  /** Counters for /metrics: name -> value. */
  metrics(): Record<string, number>
}

/** Constant-time comparison of two strings (admin token check). */
function safeEqual(a: string, b: string): boolean {
  const ea = new TextEncoder().encode(a)
  const eb = new TextEncoder().encode(b)
  if (ea.length !== eb.length) return false
  let d = 0
  for (let i = 0; i < ea.length; i++) d |= ea[i]! ^ eb[i]!
  return d === 0
}

export function apiPlugin(deps: ApiDeps) {
  return new Elysia({ name: 'api' })
    .get('/api/health', () => ({
      status: 'ok',
      domain: deps.domain,
      uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
    }))
    .get('/api/client-config', () => ({
      domain: deps.domain,
      sipWebSocketPath: '/sip',
      iceServersPath: '/api/ice-servers',
    }))
    .get('/api/registrations', ({ request, set }) => {
      const auth = request.headers.get('authorization') ?? ''
      const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : ''
      if (deps.adminToken === undefined || token === '' || !safeEqual(token, deps.adminToken)) {
        set.status = 401
        set.headers['www-authenticate'] = 'Bearer realm="patchbay-admin"'
        return { error: deps.adminToken === undefined ? 'admin API disabled: set adminToken in gateway.yaml' : 'admin token required' }
      }
      const now = Math.floor(Date.now() / 1000)
      return {
        registrations: deps.bindings().map((b) => ({
          aor: b.aor,
          contact: b.contact,
          expiresIn: Math.max(0, b.expiresAt - now),
          q: b.q,
          transport: b.transport,
          source: `${b.sourceAddress}:${b.sourcePort}`,
          instanceId: b.instanceId,
          regId: b.regId,
          userAgent: b.userAgent,
          registeredAt: new Date(b.registeredAt * 1000).toISOString(),
        })),
      }
    })
    .get('/metrics', ({ set }) => {
      set.headers['content-type'] = 'text/plain; version=0.0.4'
      const m = deps.metrics()
      let out = ''
      for (const k of Object.keys(m).sort()) out += `patchbay_${k} ${m[k]}\n`
      return out
    })
}

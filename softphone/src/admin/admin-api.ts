/**
 * The admin page's client for the gateway's admin API: every request carries
 * `Authorization: Bearer <admin token>` (RFC 6750 §2.1); a non-2xx answer rejects with an
 * AdminApiError holding the status and the gateway's `error` text. The CSV export is fetched
 * the same way (a plain link could not send the header) and handed back as a Blob.
 */
import type {
  ActiveCall, AdminStatus, Ban, CallRecordPage, Health, Registration, RouteExplanation, StatsHistory, TrunkStatus,
} from './api-types.ts'

/** A refused or failed request: `status` is the HTTP status (0 when the gateway was unreachable). */
export class AdminApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message)
    this.name = 'AdminApiError'
  }

  /** 401: no token, a wrong one, or the admin API is disabled. */
  get unauthorized(): boolean {
    return this.status === 401
  }
}

/** What the client needs of `fetch`: a URL string and options. */
export type FetchFunction = (url: string, init?: RequestInit) => Promise<Response>

export interface AdminApiOptions {
  /** `fetch` (tests pass a fake). */
  fetch: FetchFunction
  /** The current token, or null before sign-in. */
  token(): string | null
  /** Called on a 401 to a request that carried a token (the token was changed or revoked). */
  onUnauthorized?(): void
  /** Prefix of every URL (default '': this page's origin). */
  baseUrl?: string
}

export class AdminApi {
  constructor(private readonly options: AdminApiOptions) {}

  private async request(path: string, init: RequestInit = {}, token = this.options.token(), reportUnauthorized = true): Promise<Response> {
    const headers = new Headers(init.headers)
    if (token !== null) headers.set('authorization', `Bearer ${token}`)
    let res: Response
    try {
      res = await this.options.fetch(`${this.options.baseUrl ?? ''}${path}`, { ...init, headers, cache: 'no-store' })
    } catch {
      throw new AdminApiError(0, 'The gateway did not answer. Is it running?')
    }
    if (res.ok) return res
    let message = `${res.status} ${res.statusText}`.trim()
    try {
      const body = await res.clone().json() as { error?: unknown }
      if (typeof body.error === 'string') message = body.error
    } catch {
      // not JSON: keep the status line
    }
    if (res.status === 401 && token !== null && reportUnauthorized) this.options.onUnauthorized?.()
    throw new AdminApiError(res.status, message)
  }

  private async json<T>(path: string, init?: RequestInit): Promise<T> {
    return await (await this.request(path, init)).json() as T
  }

  /** Whether the gateway has an admin token configured (no token needed). */
  status(): Promise<AdminStatus> {
    return this.json('/api/admin/status')
  }

  health(): Promise<Health> {
    return this.json('/api/health')
  }

  /**
   * Resolves when the gateway accepts `token` (GET /api/registrations answers 200).
   * @throws AdminApiError 401 when it does not
   */
  async checkToken(token: string): Promise<void> {
    const res = await this.request('/api/registrations', {}, token, false)
    await res.body?.cancel()
  }

  async registrations(): Promise<Registration[]> {
    return (await this.json<{ registrations: Registration[] }>('/api/registrations')).registrations
  }

  /** Calls in progress, oldest first, and how many there are in all. */
  calls(limit = 500): Promise<{ total: number; calls: ActiveCall[] }> {
    return this.json(`/api/calls?limit=${limit}`)
  }

  /**
   * Ends a call in progress (`DELETE /api/calls/:id`: 204 when ended).
   * @throws AdminApiError 404 when the gateway no longer knows the call
   */
  async hangUp(id: string): Promise<void> {
    await this.request(`/api/calls/${encodeURIComponent(id)}`, { method: 'DELETE' })
  }

  async trunks(): Promise<TrunkStatus[]> {
    return (await this.json<{ trunks: TrunkStatus[] }>('/api/trunks')).trunks
  }

  /** `query`: the query string of cdr-filters.ts `cdrQueryString`. */
  cdrs(query: string): Promise<CallRecordPage> {
    return this.json(`/api/cdrs${query === '' ? '' : `?${query}`}`)
  }

  /** The CSV export of the records matching `query`, and the file name the gateway chose. */
  async cdrsCsv(query: string): Promise<{ blob: Blob; fileName: string }> {
    const res = await this.request(`/api/cdrs.csv${query === '' ? '' : `?${query}`}`)
    const disposition = res.headers.get('content-disposition') ?? ''
    const fileName = /filename="([^"]+)"/.exec(disposition)?.[1] ?? 'cdrs.csv'
    return { blob: await res.blob(), fileName }
  }

  explain(from: string, to: string): Promise<RouteExplanation> {
    return this.json(`/api/route/explain?${new URLSearchParams({ from, to })}`)
  }

  async bans(): Promise<Ban[]> {
    return (await this.json<{ bans: Ban[] }>('/api/security/bans')).bans
  }

  async liftBan(source: string): Promise<void> {
    await this.request(`/api/security/bans/${encodeURIComponent(source)}`, { method: 'DELETE' })
  }

  /** The Prometheus exposition text (no token needed, sent anyway). */
  async metrics(): Promise<string> {
    return await (await this.request('/metrics')).text()
  }

  /** The gateway's load history; with `since` (epoch ms) only newer samples. */
  statsHistory(since?: number): Promise<StatsHistory> {
    return this.json(`/api/stats/history${since === undefined ? '' : `?since=${since}`}`)
  }
}

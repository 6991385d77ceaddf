/**
 * Where the admin page keeps the admin token: sessionStorage, so it lives as long as the tab
 * (a reload keeps the session, closing the tab signs out) and never reaches localStorage.
 */

const KEY = 'patchbay.admin.token'

/** The stored token, or null. */
export function loadAdminToken(storage: Pick<Storage, 'getItem'>): string | null {
  const t = storage.getItem(KEY)
  return t === null || t === '' ? null : t
}

export function saveAdminToken(storage: Pick<Storage, 'setItem'>, token: string): void {
  storage.setItem(KEY, token)
}

export function clearAdminToken(storage: Pick<Storage, 'removeItem'>): void {
  storage.removeItem(KEY)
}

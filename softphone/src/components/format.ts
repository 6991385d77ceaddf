/** Small display helpers shared by components. Pure. */

/** `75` -> `1:15`, `3725` -> `1:02:05`. */
export function formatDuration(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = String(s % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`
}

/** Up to two initials for an avatar: "Bob Builder" -> "BB", "carol" -> "C", "+1555" -> "#". */
export function initials(name: string): string {
  const words = name.trim().split(/[\s._-]+/).filter((w) => /^\p{L}/u.test(w))
  if (words.length === 0) return '#'
  const first = words[0]!.charAt(0)
  const second = words.length > 1 ? words[words.length - 1]!.charAt(0) : ''
  return (first + second).toUpperCase()
}

/** The name to show for a party: display name, else the user part with a capital letter if it is a name. */
export function partyName(displayName: string, user: string): string {
  if (displayName.trim()) return displayName.trim()
  if (/^[a-z][a-z0-9._-]*$/i.test(user)) return user.charAt(0).toUpperCase() + user.slice(1)
  return user
}

/** "Today 14:05", "Yesterday 09:12", "Mon 3 Mar 11:00" in the user's locale. */
export function formatWhen(epochMs: number, now: number, locale?: string): string {
  const d = new Date(epochMs)
  const time = d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' })
  const startOfToday = new Date(now)
  startOfToday.setHours(0, 0, 0, 0)
  const dayMs = 86_400_000
  if (epochMs >= startOfToday.getTime()) return time
  if (epochMs >= startOfToday.getTime() - dayMs) return `Yesterday ${time}`
  return `${d.toLocaleDateString(locale, { weekday: 'short', day: 'numeric', month: 'short' })} ${time}`
}

/** The line under a party's name: the number for numbers, else the SIP address (no scheme). */
export function partySubtitle(remote: { user: string; uri: string }): string {
  if (/^\+?[\d*#]+$/.test(remote.user)) return remote.user
  return remote.uri.replace(/^sips?:/, '').replace(/[;?].*$/, '') || remote.user
}

const NEUTRAL_ENDS = new Set(['local-hangup', 'remote-hangup', 'transferred', 'cancelled', 'answered-elsewhere'])

/** True when an ended call's reason is a failure worth colouring (busy, declined, not found...). */
export function isFailureEnd(end: { reason: string } | undefined, direction: 'incoming' | 'outgoing'): boolean {
  if (!end) return false
  if (end.reason === 'declined' && direction === 'incoming') return false
  return !NEUTRAL_ENDS.has(end.reason)
}

/** Why a call ended, with the party's display name. Falls back to the client's own sentence. */
export function endMessage(
  end: { reason: string; statusCode?: number; message: string } | undefined,
  name: string,
  direction: 'incoming' | 'outgoing',
): string {
  if (!end) return 'Call ended.'
  switch (end.reason) {
    case 'local-hangup': return 'Call ended.'
    case 'remote-hangup': return `${name} hung up.`
    case 'busy': return `${name} is busy.`
    case 'declined': return direction === 'outgoing' ? `${name} declined the call.` : 'You declined the call.'
    case 'no-answer': return `${name} did not answer.`
    case 'not-found': return end.statusCode === 484 ? end.message : `${name} was not found. Check the name or number.`
    case 'unavailable': return `${name} is not available right now.`
    case 'missed': return `Missed call from ${name}.`
    default: return end.message
  }
}

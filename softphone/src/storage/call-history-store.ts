/**
 * Call history in localStorage (`pb.history`), newest first, at most `limit` entries.
 * Entries are plain data (no SIP objects); unreadable storage yields an empty list.
 */
import type { CallDirection, CallEndReason, CallSnapshot } from '../signaling/signaling-client.ts'

export type CallOutcome = 'answered' | 'missed' | 'declined' | 'busy' | 'no-answer' | 'cancelled' | 'failed'

export interface CallHistoryEntry {
  readonly id: string
  readonly direction: CallDirection
  /** User part / number, what redial dials. */
  readonly user: string
  readonly uri: string
  readonly displayName: string
  /** Epoch ms. */
  readonly startedAt: number
  /** Seconds connected; 0 if never connected. */
  readonly durationSeconds: number
  readonly outcome: CallOutcome
  /** The sentence shown when the call ended. */
  readonly message: string
}

const KEY = 'pb.history'

/** Classifies an ended call for the history list. */
export function outcomeOf(snapshot: CallSnapshot): CallOutcome {
  if (snapshot.connectedAt !== undefined) return 'answered'
  const reason: CallEndReason | undefined = snapshot.end?.reason
  switch (reason) {
    case 'missed':
    case 'answered-elsewhere':
      return 'missed'
    case 'declined':
      return 'declined'
    case 'busy':
      return 'busy'
    case 'no-answer':
      return 'no-answer'
    case 'cancelled':
    case 'local-hangup':
      return snapshot.direction === 'incoming' ? 'missed' : 'cancelled'
    default:
      return 'failed'
  }
}

/** Builds the history entry for an ended call. */
export function historyEntryOf(snapshot: CallSnapshot): CallHistoryEntry {
  const connected = snapshot.connectedAt
  const ended = snapshot.endedAt ?? snapshot.connectedAt ?? snapshot.createdAt
  return {
    id: snapshot.id,
    direction: snapshot.direction,
    user: snapshot.remote.user,
    uri: snapshot.remote.uri,
    displayName: snapshot.remote.displayName,
    startedAt: snapshot.createdAt,
    durationSeconds: connected !== undefined ? Math.max(0, Math.round((ended - connected) / 1000)) : 0,
    outcome: outcomeOf(snapshot),
    message: snapshot.end?.message ?? '',
  }
}

function isEntry(v: unknown): v is CallHistoryEntry {
  if (typeof v !== 'object' || v === null) return false
  const e = v as Record<string, unknown>
  return typeof e.id === 'string' && (e.direction === 'incoming' || e.direction === 'outgoing')
    && typeof e.user === 'string' && typeof e.startedAt === 'number' && typeof e.outcome === 'string'
}

export class CallHistoryStore {
  constructor(private readonly storage: Storage, private readonly limit = 200) {}

  list(): CallHistoryEntry[] {
    try {
      const raw = this.storage.getItem(KEY)
      if (!raw) return []
      const value: unknown = JSON.parse(raw)
      return Array.isArray(value) ? value.filter(isEntry) : []
    } catch {
      return []
    }
  }

  /** Adds (or replaces, by id) an entry at the top; returns the new list. */
  add(entry: CallHistoryEntry): CallHistoryEntry[] {
    const next = [entry, ...this.list().filter((e) => e.id !== entry.id)].slice(0, this.limit)
    this.write(next)
    return next
  }

  remove(id: string): CallHistoryEntry[] {
    const next = this.list().filter((e) => e.id !== id)
    this.write(next)
    return next
  }

  clear(): void {
    this.write([])
  }

  private write(list: CallHistoryEntry[]): void {
    try {
      this.storage.setItem(KEY, JSON.stringify(list))
    } catch {
      // quota exceeded / private mode
    }
  }
}

import { describe, expect, test } from 'bun:test'
import { CallHistoryStore, historyEntryOf, outcomeOf } from '../../../../softphone/src/storage/call-history-store.ts'
import { FakeSignalingClient, MemoryStorage } from '../fake-signaling-client.ts'

const snap = FakeSignalingClient.snapshot

describe('call history', () => {
  test('an answered call records its duration', () => {
    const e = historyEntryOf(snap({ id: 'a', state: 'ended', createdAt: 1_000, connectedAt: 3_000, endedAt: 65_400, end: { reason: 'local-hangup', message: 'Call ended.' } }))
    expect(e).toMatchObject({ id: 'a', outcome: 'answered', durationSeconds: 62, user: 'bob', startedAt: 1_000 })
  })

  test('outcomes of unanswered calls', () => {
    const ended = (reason: string, direction: 'incoming' | 'outgoing' = 'outgoing') =>
      outcomeOf(snap({ id: 'x', state: 'ended', direction, end: { reason: reason as never, message: '' } }))
    expect(ended('missed', 'incoming')).toBe('missed')
    expect(ended('declined')).toBe('declined')
    expect(ended('busy')).toBe('busy')
    expect(ended('no-answer')).toBe('no-answer')
    expect(ended('cancelled')).toBe('cancelled')
    expect(ended('cancelled', 'incoming')).toBe('missed')
    expect(ended('not-found')).toBe('failed')
  })

  test('newest first, replace by id, bounded, survives garbage', () => {
    const storage = new MemoryStorage()
    const store = new CallHistoryStore(storage, 3)
    for (const id of ['1', '2', '3', '4']) store.add(historyEntryOf(snap({ id, state: 'ended' })))
    expect(store.list().map((e) => e.id)).toEqual(['4', '3', '2'])
    store.add({ ...store.list()[2]!, displayName: 'Bob B' })
    expect(store.list().map((e) => e.id)).toEqual(['2', '4', '3'])
    expect(store.remove('4').map((e) => e.id)).toEqual(['2', '3'])
    storage.setItem('pb.history', '[{"id":1},{"bad":true}]')
    expect(store.list()).toEqual([])
    store.clear()
    expect(store.list()).toEqual([])
  })
})

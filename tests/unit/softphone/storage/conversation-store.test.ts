import { describe, expect, test } from 'bun:test'
import { conversationKey, ConversationStore, type ChatMessage } from '../../../../softphone/src/storage/conversation-store.ts'
import { MemoryStorage } from '../fake-signaling-client.ts'

const bob = { uri: 'sip:bob@patchbay.test', user: 'bob', displayName: '' }
const carol = { uri: 'sip:carol@patchbay.test', user: 'carol', displayName: 'Carol' }
const msg = (id: string, at: number, patch: Partial<ChatMessage> = {}): ChatMessage => ({ id, direction: 'out', text: `text ${id}`, at, status: 'sent', ...patch })

describe('ConversationStore', () => {
  test('keys conversations by user@host, case and scheme insensitive', () => {
    expect(conversationKey('sip:Bob@Patchbay.test;transport=ws')).toBe('bob@patchbay.test')
    expect(conversationKey('sips:bob@patchbay.test')).toBe('bob@patchbay.test')
  })

  test('appends messages per contact, most recent conversation first, and persists them', () => {
    const storage = new MemoryStorage()
    const store = new ConversationStore(storage)
    store.add(bob, msg('1', 10))
    store.add(carol, msg('2', 20, { direction: 'in', status: 'received' }), { unread: true })
    store.add({ ...bob, uri: 'sip:BOB@patchbay.test' }, msg('3', 30))
    expect(store.list().map((c) => c.user)).toEqual(['bob', 'carol'])
    expect(store.get('bob@patchbay.test')!.messages.map((m) => m.id)).toEqual(['1', '3'])
    expect(store.unreadTotal).toBe(1)
    const again = new ConversationStore(storage)
    expect(again.list().map((c) => [c.user, c.messages.length, c.unread])).toEqual([['bob', 2, 0], ['carol', 1, 1]])
    expect(again.get('carol@patchbay.test')!.displayName).toBe('Carol')
  })

  test('is bounded: oldest messages and oldest conversations go', () => {
    const store = new ConversationStore(new MemoryStorage(), { maxConversations: 2, maxMessages: 3 })
    for (let i = 1; i <= 5; i++) store.add(bob, msg(String(i), i))
    expect(store.get('bob@patchbay.test')!.messages.map((m) => m.id)).toEqual(['3', '4', '5'])
    store.add(carol, msg('c', 10))
    store.add({ uri: 'sip:dave@patchbay.test', user: 'dave', displayName: '' }, msg('d', 11))
    expect(store.list().map((c) => c.user)).toEqual(['dave', 'carol'])
  })

  test('update sets a status and error; markRead clears unread; a message still sending at load shows as failed', () => {
    const storage = new MemoryStorage()
    const store = new ConversationStore(storage)
    store.add(bob, msg('1', 1, { status: 'sending' }))
    store.add(bob, msg('2', 2, { status: 'sending' }))
    store.add(bob, msg('3', 3, { direction: 'in', status: 'received' }), { unread: true })
    expect(store.update('bob@patchbay.test', '1', { status: 'failed', error: 'bob is offline.' })).toBe(true)
    expect(store.update('bob@patchbay.test', 'nope', { status: 'sent' })).toBe(false)
    store.markRead('bob@patchbay.test')
    const c = store.get('bob@patchbay.test')!
    expect(c.messages[0]).toMatchObject({ status: 'failed', error: 'bob is offline.' })
    expect(c.unread).toBe(0)
    const reloaded = new ConversationStore(storage).get('bob@patchbay.test')!
    expect(reloaded.messages[1]).toMatchObject({ status: 'failed' })
    expect(reloaded.messages[1]!.error).toContain('Not sent')
  })

  test('unreadable or foreign storage content yields no conversations; remove and clear', () => {
    const storage = new MemoryStorage()
    storage.setItem('pb.conversations', '{not json')
    expect(new ConversationStore(storage).list()).toEqual([])
    storage.setItem('pb.conversations', JSON.stringify([{ uri: 'sip:x@y', user: 'x', messages: [{ id: 1 }] }, 42]))
    const store = new ConversationStore(storage)
    expect(store.list()).toHaveLength(1)
    expect(store.list()[0]!.messages).toEqual([])
    store.add(bob, msg('1', 1))
    store.remove('x@y')
    expect(store.list().map((c) => c.user)).toEqual(['bob'])
    store.clear()
    expect(new ConversationStore(storage).list()).toEqual([])
  })
})

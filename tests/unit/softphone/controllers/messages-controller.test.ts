import { beforeEach, describe, expect, test } from 'bun:test'
import { MessagesController } from '../../../../softphone/src/controllers/messages-controller.ts'
import type { MessageSendResult } from '../../../../softphone/src/signaling/signaling-client.ts'
import { ConversationStore } from '../../../../softphone/src/storage/conversation-store.ts'
import { FakeHost } from '../fake-host.ts'
import { FakeSignalingClient, MemoryStorage } from '../fake-signaling-client.ts'

let client: FakeSignalingClient
let host: FakeHost
let store: ConversationStore
let ctl: MessagesController

beforeEach(() => {
  client = new FakeSignalingClient()
  host = new FakeHost()
  store = new ConversationStore(new MemoryStorage())
  ctl = new MessagesController(host, client, store, () => 1_000)
  host.connect()
  client.setRegistration({ status: 'registered', aor: 'sip:alice@patchbay.test', since: 1 })
})

describe('MessagesController', () => {
  test('a typed address opens an empty conversation that is stored only with its first message', async () => {
    expect(ctl.openTarget('bob')).toEqual({ ok: true })
    expect(ctl.active).toMatchObject({ key: 'bob@patchbay.test', uri: 'sip:bob@patchbay.test', messages: [] })
    expect(store.list()).toHaveLength(0)
    expect(await ctl.send('hello')).toBe(true)
    expect(client.sentMessages).toEqual([{ target: 'sip:bob@patchbay.test', text: 'hello' }])
    expect(store.get('bob@patchbay.test')!.messages).toMatchObject([{ direction: 'out', text: 'hello', status: 'sent' }])
  })

  test('shows the message as sending at once, then failed with the reason', async () => {
    let answer!: (r: MessageSendResult) => void
    client.messageResult = new Promise((r) => (answer = r))
    ctl.openTarget('bob')
    const sending = ctl.send('are you there?')
    await Promise.resolve()
    expect(ctl.active!.messages).toMatchObject([{ text: 'are you there?', status: 'sending' }])
    answer({ ok: false, reason: 'offline', statusCode: 480, message: 'bob is offline.' })
    expect(await sending).toBe(false)
    expect(ctl.active!.messages).toMatchObject([{ status: 'failed', error: 'bob is offline.' }])
  })

  test('incoming messages count as unread unless their conversation is open and visible', () => {
    const updates = host.updates
    client.emitMessage({ text: 'one' })
    expect(host.updates).toBeGreaterThan(updates)
    expect(ctl.unreadTotal).toBe(1)
    ctl.open('bob@patchbay.test')
    expect(ctl.unreadTotal).toBe(1) // not visible yet
    ctl.setVisible(true)
    expect(ctl.unreadTotal).toBe(0)
    client.emitMessage({ text: 'two' })
    expect(ctl.unreadTotal).toBe(0)
    client.emitMessage({ from: 'sip:carol@patchbay.test', user: 'carol', displayName: 'Carol', text: 'hey' })
    expect(ctl.unreadTotal).toBe(1)
    expect(ctl.conversations.map((c) => c.user)).toEqual(['carol', 'bob'])
    expect(ctl.active!.messages.map((m) => m.text)).toEqual(['one', 'two'])
  })

  test('a reply to a draft conversation lands in it; bad addresses and offline are refused', () => {
    ctl.openTarget('carol')
    client.emitMessage({ from: 'sip:carol@patchbay.test', user: 'carol', text: 'already here' })
    expect(ctl.active!.messages.map((m) => m.text)).toEqual(['already here'])
    expect(ctl.openTarget('not valid!')).toMatchObject({ ok: false })
    const offline = new MessagesController(new FakeHost(), new FakeSignalingClient(), store)
    expect(offline.openTarget('bob')).toMatchObject({ ok: false, message: expect.stringContaining('offline') })
  })

  test('remove deletes the conversation and closes it; after disconnect events are ignored', () => {
    client.emitMessage({ text: 'hi' })
    ctl.open('bob@patchbay.test')
    ctl.remove('bob@patchbay.test')
    expect(ctl.active).toBeUndefined()
    expect(ctl.conversations).toHaveLength(0)
    host.disconnect()
    client.emitMessage({ text: 'late' })
    expect(ctl.conversations).toHaveLength(0)
  })
})

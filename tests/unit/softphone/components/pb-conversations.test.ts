/**
 * Text messages in the UI: <pb-conversations> on its own (list, thread, composer, inline
 * errors) and inside <pb-app> (the Messages tab with its unread badge, the history's
 * "Message" action, sending through the SignalingClient, a 480 shown in the thread).
 */
import { deepQuery, deepQueryAll, deepText, settle, useDom } from '../../../support/happy-dom.ts'
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import type { AppServices, PbApp } from '../../../../softphone/src/components/pb-app.ts'
import '../../../../softphone/src/components/pb-app.ts'
import type { PbConversations } from '../../../../softphone/src/components/pb-conversations.ts'
import '../../../../softphone/src/components/pb-conversations.ts'
import type { MessageSendResult } from '../../../../softphone/src/signaling/signaling-client.ts'
import { CallHistoryStore } from '../../../../softphone/src/storage/call-history-store.ts'
import type { Conversation } from '../../../../softphone/src/storage/conversation-store.ts'
import { ConversationStore } from '../../../../softphone/src/storage/conversation-store.ts'
import { SettingsStore } from '../../../../softphone/src/storage/settings-store.ts'
import { FakeSignalingClient, MemoryStorage } from '../fake-signaling-client.ts'

useDom()

const bobThread: Conversation = {
  key: 'bob@patchbay.test', uri: 'sip:bob@patchbay.test', user: 'bob', displayName: 'Bob Builder', unread: 2, updatedAt: 3,
  messages: [
    { id: '1', direction: 'in', text: 'hi alice', at: 1, status: 'received' },
    { id: '2', direction: 'out', text: 'hi bob', at: 2, status: 'sent' },
    { id: '3', direction: 'out', text: 'still there?', at: 3, status: 'failed', error: 'bob is offline.' },
  ],
}

function byLabel<T extends HTMLElement>(root: Element, label: string): T {
  const el = deepQueryAll<T>(root, '[aria-label]').find((e) => e.getAttribute('aria-label') === label)
  if (!el) throw new Error(`nothing labelled "${label}"`)
  return el
}

afterEach(() => {
  document.body.innerHTML = ''
})

describe('<pb-conversations>', () => {
  test('lists conversations with the last message and unread count; a click opens one', async () => {
    const el = document.createElement('pb-conversations') as PbConversations
    el.conversations = [bobThread]
    document.body.append(el)
    await settle()
    const row = byLabel(el, 'Conversation with Bob Builder, 2 unread')
    expect(deepText(row)).toContain('You: still there?')
    const opened: string[] = []
    el.addEventListener('pb-open-conversation', (e) => opened.push((e as CustomEvent<{ key: string }>).detail.key))
    row.click()
    expect(opened).toEqual(['bob@patchbay.test'])
  })

  test('a thread shows both directions, the failure inline, and sends with Enter or the Send button', async () => {
    const el = document.createElement('pb-conversations') as PbConversations
    el.active = bobThread
    document.body.append(el)
    await settle()
    const log = deepQuery(el, '[role="log"]')!
    expect(log.getAttribute('aria-label')).toBe('Messages with Bob Builder')
    const items = deepQueryAll(el, 'li.msg')
    expect(items.map((li) => li.className.replace(/\s+/g, ' ').trim())).toEqual(['msg in received', 'msg out sent', 'msg out failed'])
    expect(deepText(items[1]!)).toContain('Delivered')
    const alert = deepQuery(el, '[role="alert"]')!
    expect(deepText(alert)).toContain('Not delivered: bob is offline.')
    const sent: string[] = []
    el.addEventListener('pb-send-message', (e) => sent.push((e as CustomEvent<{ text: string }>).detail.text))
    const box = byLabel<HTMLTextAreaElement>(el, 'Message to Bob Builder')
    box.value = 'typed'
    box.dispatchEvent(new Event('input'))
    box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }))
    await settle()
    expect(sent).toEqual(['typed'])
    expect(box.value).toBe('')
    box.value = '   '
    byLabel(el, 'Send message').click()
    box.value = 'second'
    byLabel(el, 'Send message').click()
    expect(sent).toEqual(['typed', 'second'])
  })

  test('offline: the Send button is disabled and says why', async () => {
    const el = document.createElement('pb-conversations') as PbConversations
    el.active = bobThread
    el.disabled = true
    document.body.append(el)
    await settle()
    expect(byLabel<HTMLButtonElement>(el, 'Send message').disabled).toBe(true)
    expect(deepText(el)).toContain('You are offline')
  })
})

describe('messages in <pb-app>', () => {
  let client: FakeSignalingClient
  let storage: MemoryStorage
  let app: PbApp

  beforeEach(async () => {
    client = new FakeSignalingClient()
    storage = new MemoryStorage()
    new SettingsStore(storage).saveLogin({ server: '', user: 'alice', password: 'pw', remember: true })
    const services: AppServices = {
      client, settings: new SettingsStore(storage), history: new CallHistoryStore(storage), conversations: new ConversationStore(storage),
      timers: new FakeScheduler(), audio: { playTone: () => {}, playRemote: () => {} }, sinks: [], devices: undefined,
      canSelectOutput: false, pageOrigin: 'http://localhost:8080',
    }
    app = document.createElement('pb-app')
    app.services = services
    document.body.append(app)
    await settle()
    client.setRegistration({ status: 'registered', aor: 'sip:alice@patchbay.test', since: 1 })
    await settle()
  })

  afterEach(() => app.remove())

  test('an incoming message raises the unread badge on the Messages tab until it is read', async () => {
    const tab = deepQuery<HTMLElement>(app, '#tab-messages')!
    expect(tab.getAttribute('role')).toBe('tab')
    expect(deepText(tab)).not.toContain('unread')
    client.emitMessage({ text: 'ping from bob' })
    await settle()
    expect(deepText(tab).replace(/\s+/g, ' ')).toContain('1 unread')
    expect(document.title).toBe('(1) Patchbay')
    tab.click()
    await settle()
    expect(tab.getAttribute('aria-selected')).toBe('true')
    byLabel(app, 'Conversation with Bob, 1 unread').click()
    await settle()
    expect(deepText(deepQuery(app, '[role="log"]')!)).toContain('ping from bob')
    expect(deepText(tab)).not.toContain('unread')
  })

  test('"Message" in the history opens the conversation; a 480 shows "bob is offline" in the thread', async () => {
    client.emitCall(FakeSignalingClient.snapshot({ id: 'c1', state: 'ended', endedAt: 2_000, end: { reason: 'remote-hangup', message: 'Bob hung up.' } }))
    await settle()
    byLabel(app, 'Message Bob').click()
    await settle()
    expect(deepQuery(app, '#tab-messages')!.getAttribute('aria-selected')).toBe('true')
    let answer!: (r: MessageSendResult) => void
    client.messageResult = new Promise((r) => (answer = r))
    const box = byLabel<HTMLTextAreaElement>(app, 'Message to Bob')
    box.value = 'call me'
    byLabel(app, 'Send message').click()
    await settle()
    expect(client.sentMessages).toEqual([{ target: 'sip:bob@patchbay.test', text: 'call me' }])
    expect(deepText(deepQuery(app, '[role="log"]')!)).toContain('Sending…')
    answer({ ok: false, reason: 'offline', statusCode: 480, message: 'bob is offline.' })
    await settle()
    expect(deepText(deepQuery(app, 'pb-conversations [role="alert"]')!)).toContain('bob is offline.')
  })

  test('a new conversation from a typed address; a bad address is explained', async () => {
    deepQuery<HTMLElement>(app, '#tab-messages')!.click()
    await settle()
    const to = byLabel<HTMLInputElement>(app, 'New message to')
    to.value = 'not valid!'
    deepQuery<HTMLFormElement>(app, 'pb-conversations form.new')!.dispatchEvent(new Event('submit', { cancelable: true }))
    await settle()
    expect(deepText(deepQuery(app, 'pb-conversations [role="alert"]')!)).toContain('not valid!')
    const to2 = byLabel<HTMLInputElement>(app, 'New message to')
    to2.value = 'carol'
    deepQuery<HTMLFormElement>(app, 'pb-conversations form.new')!.dispatchEvent(new Event('submit', { cancelable: true }))
    await settle()
    expect(deepText(deepQuery(app, 'pb-conversations h2')!)).toBe('Carol')
    byLabel(app, 'Back to conversations').click()
    await settle()
    expect(byLabel(app, 'New message to')).toBeTruthy()
  })
})

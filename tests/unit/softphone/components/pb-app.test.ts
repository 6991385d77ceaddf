import { deepQuery, deepQueryAll, deepText, settle, useDom } from '../../../support/happy-dom.ts'
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import type { AppServices, PbApp } from '../../../../softphone/src/components/pb-app.ts'
import '../../../../softphone/src/components/pb-app.ts'
import type { ToneKind } from '../../../../softphone/src/audio/ringtone.ts'
import { CallHistoryStore } from '../../../../softphone/src/storage/call-history-store.ts'
import { ConversationStore } from '../../../../softphone/src/storage/conversation-store.ts'
import { SettingsStore } from '../../../../softphone/src/storage/settings-store.ts'
import { FakeSignalingClient, MemoryStorage } from '../fake-signaling-client.ts'

useDom()

const snap = FakeSignalingClient.snapshot
let client: FakeSignalingClient
let app: PbApp
let storage: MemoryStorage
let tones: Array<ToneKind | undefined>

function mount(): PbApp {
  const services: AppServices = {
    client,
    settings: new SettingsStore(storage),
    history: new CallHistoryStore(storage),
    conversations: new ConversationStore(storage),
    timers: new FakeScheduler(),
    audio: { playTone: (k) => { tones.push(k) }, playRemote: () => {} },
    sinks: [],
    devices: undefined,
    canSelectOutput: false,
    pageOrigin: 'http://localhost:8080',
  }
  const el = document.createElement('pb-app')
  el.services = services
  document.body.append(el)
  return el
}

async function registered(): Promise<void> {
  client.setRegistration({ status: 'registered', aor: 'sip:alice@patchbay.test', since: 1 })
  await settle()
}

function click(selector: string): void {
  const el = deepQuery<HTMLElement>(app, selector)
  if (!el) throw new Error(`no ${selector}`)
  el.click()
}

beforeEach(() => {
  client = new FakeSignalingClient()
  storage = new MemoryStorage()
  tones = []
})

afterEach(() => {
  app?.remove()
  document.body.innerHTML = ''
})

describe('<pb-app>', () => {
  test('signs in from the form and shows the phone once registered', async () => {
    app = mount()
    await settle()
    expect(deepQuery(app, 'pb-login')).not.toBeNull()
    const login = deepQuery(app, 'pb-login')!
    ;(deepQuery<HTMLInputElement>(login, 'input[name="user"]')!).value = 'alice'
    ;(deepQuery<HTMLInputElement>(login, 'input[name="password"]')!).value = 'alice-demo'
    const form = deepQuery<HTMLFormElement>(login, 'form')!
    form.dispatchEvent(new Event('submit', { cancelable: true }))
    await settle()
    expect(client.log).toContain('register alice')
    expect(client.lastCredentials?.password).toBe('alice-demo')
    await registered()
    expect(deepQuery(app, 'pb-login')).toBeNull()
    expect(deepQuery(app, 'pb-dialer')).not.toBeNull()
    expect(deepText(app)).toContain('Registered')
  })

  test('a wrong password shows the reason on the form', async () => {
    app = mount()
    await settle()
    client.setRegistration({ status: 'failed', reason: 'wrong-password', message: 'Wrong password.', statusCode: 403 })
    await settle()
    expect(deepText(deepQuery(app, 'pb-login')!)).toContain('Wrong password.')
    expect(deepQuery(app, 'pb-login [role="alert"]')).not.toBeNull()
  })

  test('a remembered password signs in on load', async () => {
    new SettingsStore(storage).saveLogin({ server: '', user: 'bob', password: 'bob-demo', remember: true })
    app = mount()
    await settle()
    expect(client.log).toContain('register bob')
  })

  async function signedIn(): Promise<void> {
    new SettingsStore(storage).saveLogin({ server: '', user: 'alice', password: 'pw', remember: true })
    app = mount()
    await settle()
    await registered()
  }

  test('dials what was typed', async () => {
    await signedIn()
    const dialer = deepQuery<HTMLElement & { value: string }>(app, 'pb-dialer')!
    dialer.value = 'bob'
    await settle()
    click('pb-dialer button.call')
    await settle()
    expect(client.log).toContain('call bob')
  })

  test('the dial pad types into the field; keyboard digits too when nothing has focus', async () => {
    await signedIn()
    click('pb-dialpad button[data-index="1"]')
    click('pb-dialpad button[data-index="10"]')
    document.dispatchEvent(new KeyboardEvent('keydown', { key: '7', bubbles: true }))
    await settle()
    expect(deepQuery<HTMLElement & { value: string }>(app, 'pb-dialer')!.value).toBe('207')
  })

  test('an incoming call shows name and number; answer and decline reach the client', async () => {
    await signedIn()
    client.emitCall(snap({ id: 'in1', direction: 'incoming', state: 'incoming', remote: { user: 'carol', uri: 'sip:carol@patchbay.test', displayName: 'Carol Jones' } }))
    await settle()
    const card = deepQuery(app, 'pb-incoming-call')!
    expect(deepText(card)).toContain('Carol Jones')
    expect(deepText(card)).toContain('carol@patchbay.test')
    expect(tones.at(-1)).toBe('ring')
    click('pb-incoming-call button[part="answer"]')
    await settle()
    expect(client.log).toContain('answer in1')
    click('pb-incoming-call button[part="decline"]')
    await settle()
    expect(client.log).toContain('decline in1')
  })

  test('in a call: timer, controls and DTMF; a second caller shows call waiting', async () => {
    await signedIn()
    client.emitCall(snap({ id: 'c1', state: 'connected', connectedAt: Date.now() - 65_000, remote: { user: 'bob', uri: 'sip:bob@patchbay.test', displayName: 'Bob' } }))
    await settle()
    const card = deepQuery(app, 'pb-call-card')!
    expect(deepText(card)).toContain('Bob')
    expect(deepText(card)).toMatch(/1:0[5-6]/)
    click('pb-call-card button[aria-label="Mute"]')
    click('pb-call-card button[aria-label="Hold"]')
    click('pb-call-card button[aria-label="Keypad"]')
    await settle()
    const keys = deepQueryAll<HTMLButtonElement>(card, 'pb-dialpad button.key')
    expect(keys.length).toBe(12)
    keys[11]!.click() // #
    await settle()
    expect(client.log).toEqual(expect.arrayContaining(['mute c1 true', 'hold c1', 'dtmf c1 #']))

    client.emitCall(snap({ id: 'w1', direction: 'incoming', state: 'incoming', remote: { user: 'carol', uri: 'sip:carol@patchbay.test', displayName: '' } }))
    await settle()
    const waiting = deepQuery<HTMLElement>(app, 'pb-incoming-call')!
    expect(waiting.hasAttribute('waiting')).toBe(true)
    expect(deepText(waiting)).toContain('Call waiting')
    expect(deepText(waiting)).toContain('Hold & answer')
    expect(tones.at(-1)).toBe('waiting')
  })

  test('blind transfer from the call card', async () => {
    await signedIn()
    client.emitCall(snap({ id: 'c1', state: 'connected', connectedAt: Date.now() }))
    await settle()
    click('pb-call-card button[aria-label="Transfer"]')
    await settle()
    const input = deepQuery<HTMLInputElement>(app, 'pb-call-card input[name="transfer"]')!
    input.value = 'carol'
    input.dispatchEvent(new Event('input', { bubbles: true }))
    await settle()
    deepQuery<HTMLFormElement>(app, 'pb-call-card form.transfer')!.dispatchEvent(new Event('submit', { cancelable: true }))
    await settle()
    expect(client.log).toContain('transfer c1 carol')
  })

  test('a declined call says so and lands in the history with redial', async () => {
    await signedIn()
    client.emitCall(snap({ id: 'o1', state: 'ringing', remote: { user: 'bob', uri: 'sip:bob@patchbay.test', displayName: '' } }))
    client.emitCall(snap({ id: 'o1', state: 'ended', remote: { user: 'bob', uri: 'sip:bob@patchbay.test', displayName: '' }, end: { reason: 'declined', statusCode: 603, message: 'bob declined the call.' } }))
    await settle()
    expect(deepText(deepQuery(app, 'pb-call-card')!)).toContain('Bob declined the call.')
    const history = deepQuery(app, 'pb-history')!
    expect(deepText(history)).toContain('Outgoing · Declined')
    click('pb-history button[aria-label="Call Bob"]')
    await settle()
    expect(client.log).toContain('call bob@patchbay.test')
  })

  test('while reconnecting the pill says why and offers to retry', async () => {
    await signedIn()
    client.setRegistration({ status: 'reconnecting', reason: 'unreachable', message: 'Server unreachable.', attempt: 2, retryAt: Date.now() + 4_000 })
    await settle()
    const status = deepQuery(app, 'pb-status')!
    expect(deepText(status)).toMatch(/Server unreachable · Retrying in [45] s/)
    click('pb-status button.retry')
    expect(client.log).toContain('reconnectNow')
    expect(deepQuery<HTMLButtonElement>(app, 'pb-dialer button.call')!.disabled).toBe(true)
  })

  test('settings: force relay is saved and passed to the client; sign out', async () => {
    await signedIn()
    click('button[aria-label="Settings"]')
    await settle()
    const settings = deepQuery(app, 'pb-settings')!
    expect(deepQuery(settings, '[role="dialog"][aria-modal="true"]')).not.toBeNull()
    const relay = deepQuery<HTMLInputElement>(settings, 'input[type="checkbox"]')!
    relay.checked = true
    relay.dispatchEvent(new Event('change', { bubbles: true }))
    await settle()
    expect(client.preferences.forceRelay).toBe(true)
    expect(new SettingsStore(storage).loadPreferences().forceRelay).toBe(true)
    click('pb-settings button.danger')
    await settle()
    expect(client.log).toContain('unregister')
    expect(deepQuery(app, 'pb-login')).not.toBeNull()
  })

  test('the header names the account (display name and address) and signs out from its menu', async () => {
    new SettingsStore(storage).saveLogin({ server: '', user: 'alice', password: 'pw', remember: true })
    app = mount()
    await settle()
    client.setRegistration({ status: 'registered', aor: 'sip:alice@patchbay.test', since: 1, displayName: 'Alice Archer' })
    await settle()
    const chip = deepQuery<HTMLButtonElement>(app, 'pb-account-menu button.chip')!
    expect(chip.getAttribute('aria-label')).toBe('Account: Alice Archer, alice@patchbay.test')
    expect(chip.getAttribute('aria-haspopup')).toBe('menu')
    expect(chip.getAttribute('aria-expanded')).toBe('false')
    expect(deepText(chip)).toContain('Alice Archer')
    expect(deepText(chip)).toContain('alice@patchbay.test')
    chip.click()
    await settle()
    expect(chip.getAttribute('aria-expanded')).toBe('true')
    const items = deepQueryAll<HTMLButtonElement>(app, 'pb-account-menu [role="menuitem"]')
    expect(items.map((i) => deepText(i).trim())).toEqual(['Settings', 'Sign out'])
    items[1]!.click()
    await settle()
    expect(client.log).toContain('unregister')
    expect(deepQuery(app, 'pb-login')).not.toBeNull()
  })

  test('the account menu: the Settings display name when the server gives none; Escape closes; Settings opens the sheet', async () => {
    new SettingsStore(storage).savePreferences({ displayName: 'Ali' })
    await signedIn()
    const chip = deepQuery<HTMLButtonElement>(app, 'pb-account-menu button.chip')!
    expect(chip.getAttribute('aria-label')).toBe('Account: Ali, alice@patchbay.test')
    chip.click()
    await settle()
    const menu = deepQuery<HTMLElement>(app, 'pb-account-menu [role="menu"]')!
    menu.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true, composed: true }))
    await settle()
    expect(deepQuery(app, 'pb-account-menu [role="menu"]')).toBeNull()
    chip.click()
    await settle()
    deepQueryAll<HTMLButtonElement>(app, 'pb-account-menu [role="menuitem"]')[0]!.click()
    await settle()
    expect(deepQuery(app, 'pb-settings')).not.toBeNull()
  })

  test('the Settings button has a visible label, an accessible name and a tooltip', async () => {
    await signedIn()
    const settings = deepQuery<HTMLButtonElement>(app, 'header button[aria-label="Settings"]')!
    expect(settings.getAttribute('title')).toBe('Settings')
    expect(deepText(settings).trim()).toBe('Settings')
  })
})

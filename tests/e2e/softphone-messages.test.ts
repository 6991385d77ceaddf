/**
 * End to end: text messages (issue 12, item 3) in Debian's Chromium against a real gateway,
 * driven through accessible names like a user would.
 *
 * alice uses SIP over WebSocket (MESSAGE, RFC 3428, through SIP.js), bob JSON signaling
 * (`message` / `delivered`); carol is baresip, a desk phone registered over UDP. Messages
 * cross the modes both ways and reach baresip and come back from it; each side checks the
 * text in its conversation view, and the frames on the wire prove which protocol carried it.
 * A message to a known user who is not registered (dave) shows "dave is offline." (480),
 * one to an unknown user "No such user" (404).
 *
 * Needs Debian's Chromium and baresip-core (tests/setup/install-peers.sh).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { startGateway, type RunningGateway } from '../../gateway/src/main.ts'
import { testConfig, userEntry } from '../support/gateway.ts'
import { Baresip } from '../support/baresip.ts'
import { launchChromium, openSoftphone, signIn, type SoftphonePage } from './softphone-helpers.ts'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

const ARTIFACTS = join(import.meta.dir, '..', 'artifacts')

const TIMEOUT_MS = 60_000

let gateway: RunningGateway
let browser: Browser
let alice: SoftphonePage
let bob: SoftphonePage
let carol: Baresip
/** Every WebSocket frame each page sent, as text. */
const framesSent = new Map<Page, string[]>()

/** Opens the softphone in signaling `mode` and records the frames it sends. */
async function openPhone(label: string, mode: 'sip' | 'json', toneHz: number): Promise<SoftphonePage> {
  const phone = await openSoftphone(browser, gateway.httpUrl, { toneHz, label, signaling: mode })
  const frames: string[] = []
  framesSent.set(phone.page, frames)
  phone.page.on('websocket', (ws) => ws.on('framesent', (f) => frames.push(String(f.payload))))
  return phone
}

/** The Messages tab, whatever its unread badge says. */
function messagesTab(page: Page) {
  return page.getByRole('tab', { name: /^Messages/ })
}

/** Opens the Messages tab and starts (or reopens) the conversation with `target`. */
async function startConversation(page: Page, target: string): Promise<void> {
  await messagesTab(page).click()
  const back = page.getByRole('button', { name: 'Back to conversations', exact: true })
  if (await back.count()) await back.click()
  await page.getByRole('textbox', { name: 'New message to', exact: true }).fill(target)
  await page.getByRole('button', { name: 'New message', exact: true }).click()
}

/**
 * Names start with the contact's name as typed ("Bob") and may go on with the display name
 * learnt from its messages ("Bob Baker"): match the start.
 */
function named(prefix: string, name: string): RegExp {
  return new RegExp(`^${prefix}${name}\\b`)
}

/** Types `text` in the open conversation (whose contact shows as `name`) and presses Send. */
async function send(page: Page, name: string, text: string): Promise<void> {
  await page.getByRole('textbox', { name: named('Message to ', name) }).fill(text)
  await page.getByRole('button', { name: 'Send message', exact: true }).click()
}

/** The open thread with `name`. */
function thread(page: Page, name: string) {
  return page.getByRole('log', { name: named('Messages with ', name) })
}

/** Waits until the last message of the thread with `name` is `text` and shows `status`. */
async function expectLast(page: Page, name: string, text: string, status: RegExp): Promise<void> {
  const last = thread(page, name).locator('li.msg').last()
  await last.getByText(text, { exact: true }).waitFor({ timeout: 15_000 })
  await last.getByText(status).first().waitFor({ timeout: 15_000 })
}

describe('text messages across signaling modes and to a desk phone', () => {
  beforeAll(async () => {
    gateway = await startGateway(testConfig({}, { extraUsers: [userEntry('dave', 'dave-demo')] }))
    carol = await Baresip.start({
      user: 'carol', password: 'carol-demo', domain: 'patchbay.test', gatewayUdpPort: gateway.udpPort, toneHz: 1000,
      textContact: 'sip:alice@patchbay.test',
    })
    browser = await launchChromium()
    alice = await openPhone('alice', 'sip', 1000)
    bob = await openPhone('bob', 'json', 440)
    await signIn(alice.page, 'alice', 'alice-demo')
    await signIn(bob.page, 'bob', 'bob-demo')
  }, TIMEOUT_MS)

  afterAll(async () => {
    await browser?.close()
    await carol?.stop()
    await gateway?.stop()
  }, TIMEOUT_MS)

  test('alice (SIP) writes to bob (JSON): delivered, and bob sees it with an unread badge', async () => {
    await startConversation(alice.page, 'bob')
    await send(alice.page, 'Bob', 'Hello Bob, this is SIP')
    await expectLast(alice.page, 'Bob', 'Hello Bob, this is SIP', /Delivered/)
    expect(framesSent.get(alice.page)!.some((f) => f.startsWith('MESSAGE sip:bob@patchbay.test') && f.includes('Hello Bob, this is SIP'))).toBe(true)

    await messagesTab(bob.page).filter({ hasText: '1 unread' }).waitFor({ timeout: 10_000 })
    await messagesTab(bob.page).click()
    await bob.page.getByRole('button', { name: /^Conversation with Alice\b.*, 1 unread$/ }).click()
    await thread(bob.page, 'Alice').getByText('Hello Bob, this is SIP', { exact: true }).waitFor()
    await expect(messagesTab(bob.page).textContent()).resolves.not.toContain('unread')
  }, TIMEOUT_MS)

  test('bob (JSON) answers alice (SIP) in the same conversation', async () => {
    await send(bob.page, 'Alice', 'Hi Alice, JSON here')
    await expectLast(bob.page, 'Alice', 'Hi Alice, JSON here', /Delivered/)
    const json = framesSent.get(bob.page)!.map((f) => { try { return JSON.parse(f) as Record<string, unknown> } catch { return {} } })
    expect(json.some((m) => m.type === 'message' && m.to === 'sip:alice@patchbay.test' && m.text === 'Hi Alice, JSON here')).toBe(true)
    // alice has the conversation open: the reply appears in it, received (no "Delivered" line).
    const last = thread(alice.page, 'Bob').locator('li.msg').last()
    await last.getByText('Hi Alice, JSON here', { exact: true }).waitFor({ timeout: 10_000 })
    expect(await last.getAttribute('class')).toMatch(/\bin\b/)
    expect(await thread(alice.page, 'Bob').locator('li.msg').count()).toBe(2)
    // For people reviewing the UI: the conversation view as alice sees it (CI keeps tests/artifacts/).
    mkdirSync(ARTIFACTS, { recursive: true })
    await alice.page.screenshot({ path: join(ARTIFACTS, 'softphone-conversation.png') })
  }, TIMEOUT_MS)

  test('a message to a user who is not registered says so (480); to an unknown user (404) too', async () => {
    await startConversation(alice.page, 'dave')
    await send(alice.page, 'Dave', 'Are you there, Dave?')
    const aliceAlert = alice.page.getByRole('alert').filter({ hasText: 'dave is offline.' })
    await aliceAlert.waitFor({ timeout: 15_000 })
    expect(await aliceAlert.textContent()).toContain('Not delivered: dave is offline.')

    await startConversation(bob.page, 'nobody')
    await send(bob.page, 'Nobody', 'Hello?')
    const bobAlert = bob.page.getByRole('alert').filter({ hasText: 'No such user: nobody.' })
    await bobAlert.waitFor({ timeout: 15_000 })
  }, TIMEOUT_MS)

  test('bob (JSON) writes to the desk phone: baresip receives the MESSAGE', async () => {
    await startConversation(bob.page, 'carol')
    await send(bob.page, 'Carol', 'Hello desk phone')
    await expectLast(bob.page, 'Carol', 'Hello desk phone', /Delivered/)
    const seen = await carol.receivedMessage('Hello desk phone')
    expect(seen).toContain('Content-Type: text/plain')
  }, TIMEOUT_MS)

  test('the desk phone writes to alice (SIP): it shows up with an unread badge', async () => {
    await alice.page.getByRole('button', { name: 'Back to conversations', exact: true }).click()
    await carol.sendMessage('Hello from the desk phone')
    await messagesTab(alice.page).filter({ hasText: '1 unread' }).waitFor({ timeout: 10_000 })
    await alice.page.getByRole('button', { name: /^Conversation with Carol\b.*, 1 unread$/ }).click()
    await thread(alice.page, 'Carol').getByText('Hello from the desk phone', { exact: true }).waitFor({ timeout: 10_000 })
  }, TIMEOUT_MS)
})

/**
 * End to end: the softphone in JSON signaling mode (`?signaling=json`, docs/json-signaling.md)
 * in Debian's Chromium against a real gateway.
 *
 * alice (1000 Hz) and bob (440 Hz) use JSON signaling; carol (1500 Hz) uses SIP over
 * WebSocket. Each side checks the far end's tone with an AnalyserNode, DTMF is detected in
 * the far end's audio by Goertzel filters (softphone-helpers.ts), so a call that only
 * "connected" fails. The JSON-only feature is checked too: alice reloads her page during a
 * call; the tab re-attaches to its session (token in sessionStorage), re-offers on a new
 * RTCPeerConnection, and the tones flow again both ways without the call ever ending.
 *
 * Needs Debian's Chromium: `apt-get install -y chromium` (or CHROMIUM_PATH).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Browser, Page } from 'playwright-core'
import { startGateway, type RunningGateway } from '../../gateway/src/main.ts'
import { testConfig } from '../support/gateway.ts'
import {
  callControl,
  calls,
  dial,
  holdAndResume,
  launchChromium,
  openSoftphone,
  sendDtmf123Pound,
  signIn,
  waitForCall,
  waitForIdle,
  waitForRegistration,
  waitForText,
  waitForTone,
  type SoftphonePage,
} from './softphone-helpers.ts'

const PASSWORDS = { alice: 'alice-demo', bob: 'bob-demo', carol: 'carol-demo' } as const
const TONE = { alice: 1000, bob: 440, carol: 1500 } as const
const TIMEOUT_MS = 60_000

let gateway: RunningGateway
let browser: Browser
let alice: SoftphonePage
let bob: SoftphonePage
let carol: SoftphonePage
/** WebSocket URLs each page opened. */
const sockets = new Map<Page, string[]>()
/** The `type` of every JSON frame each page sent. */
const sentTypes = new Map<Page, string[]>()

/** Opens the softphone (tone microphone, `?test=1&signaling=MODE`) and records its WebSocket frames. */
async function openPhone(label: keyof typeof TONE, mode: 'json' | 'sip'): Promise<SoftphonePage> {
  const phone = await openSoftphone(browser, gateway.httpUrl, { toneHz: TONE[label], label, signaling: mode })
  const urls: string[] = []
  sockets.set(phone.page, urls)
  const types: string[] = []
  sentTypes.set(phone.page, types)
  phone.page.on('websocket', (ws) => {
    urls.push(ws.url())
    ws.on('framesent', (f) => {
      try {
        types.push(String((JSON.parse(String(f.payload)) as { type?: unknown }).type))
      } catch {
        types.push('(not json)')
      }
    })
  })
  return phone
}

/** `caller` dials `callee`'s user, the callee answers, tones both ways. */
async function connect(caller: SoftphonePage, callee: SoftphonePage, calleeUser: string): Promise<void> {
  await dial(caller.page, calleeUser)
  await waitForCall(callee.page, (c) => c.state === 'incoming')
  await callee.page.locator('pb-incoming-call button[part="answer"]').click()
  await waitForCall(caller.page, (c) => c.state === 'connected')
  await Promise.all([waitForTone(caller.page, callee.toneHz), waitForTone(callee.page, caller.toneHz)])
}

describe('softphone over JSON signaling', () => {
  beforeAll(async () => {
    gateway = await startGateway(testConfig())
    browser = await launchChromium()
    alice = await openPhone('alice', 'json')
    bob = await openPhone('bob', 'json')
    carol = await openPhone('carol', 'sip')
  }, TIMEOUT_MS)

  afterAll(async () => {
    await browser?.close()
    await gateway?.stop()
  }, TIMEOUT_MS)

  test('alice and bob sign in over /json, carol over /sip', async () => {
    await signIn(alice.page, 'alice', PASSWORDS.alice)
    await signIn(bob.page, 'bob', PASSWORDS.bob)
    await signIn(carol.page, 'carol', PASSWORDS.carol)
    await waitForText(alice.page, /Registered/)
    expect(sockets.get(alice.page)!.some((u) => u.endsWith('/json'))).toBe(true)
    expect(sockets.get(alice.page)!.some((u) => u.endsWith('/sip'))).toBe(false)
    expect(sockets.get(carol.page)!.some((u) => u.endsWith('/sip'))).toBe(true)
    expect(sockets.get(carol.page)!.some((u) => u.endsWith('/json'))).toBe(false)
  }, TIMEOUT_MS)

  test('alice calls bob, bob answers, each hears the other', async () => {
    await connect(alice, bob, 'bob')
    const atBob = await waitForTone(bob.page, TONE.alice)
    const atAlice = await waitForTone(alice.page, TONE.bob)
    expect(Math.abs(atBob.peakHz - TONE.alice)).toBeLessThan(6)
    expect(Math.abs(atAlice.peakHz - TONE.bob)).toBeLessThan(6)
  }, TIMEOUT_MS)

  test('DTMF 123# goes out as RFC 4733 events and bob hears the tones', async () => {
    expect(await sendDtmf123Pound(alice, bob)).toEqual({ sent: '123#', heard: '123#', recorded: '123#' })
  }, TIMEOUT_MS)

  test('hold silences both ways (reoffer a=sendonly), resume brings the audio back', async () => {
    await holdAndResume(alice, bob)
  }, TIMEOUT_MS)

  test("reloading alice's page keeps the call: attach, reoffer on a new peer connection, audio both ways", async () => {
    const [before] = await calls(alice.page)
    const [atBob] = await calls(bob.page)
    expect(before?.state).toBe('connected')
    const sentBefore = sentTypes.get(alice.page)!.length
    await alice.page.reload()
    await alice.page.waitForFunction(() => Boolean((window as unknown as { __pb?: unknown }).__pb))
    await waitForRegistration(alice.page, 'registered')
    const after = await waitForCall(alice.page, (c) => c.id === before!.id && c.state === 'connected')
    expect(after.remoteUser).toBe('bob')
    await Promise.all([waitForTone(alice.page, TONE.bob, 15_000), waitForTone(bob.page, TONE.alice, 15_000)])
    // The new page attached (no second login) and re-offered the call on its new connection.
    const sentAfter = sentTypes.get(alice.page)!.slice(sentBefore)
    expect(sentAfter).toContain('attach')
    expect(sentAfter).toContain('reoffer')
    expect(sentAfter).not.toContain('login')
    // bob's side never ended: the same call, still connected.
    expect((await calls(bob.page)).map((c) => [c.id, c.state])).toEqual([[atBob!.id, 'connected']])
    // alice's page shows the call, not the sign-in form.
    await waitForText(alice.page, /bob/i)
    expect(await alice.page.locator('pb-login').count()).toBe(0)
  }, TIMEOUT_MS)

  test('alice hangs up: both pages go idle', async () => {
    await callControl(alice, 'Hang up')
    await Promise.all([waitForIdle(alice.page), waitForIdle(bob.page)])
    await waitForText(bob.page, /hung up/)
  }, TIMEOUT_MS)

  test('mixed modes: JSON alice calls SIP carol, audio both ways', async () => {
    await connect(alice, carol, 'carol')
    await callControl(carol, 'Hang up')
    await Promise.all([waitForIdle(alice.page), waitForIdle(carol.page)])
    await waitForText(alice.page, /hung up/)
  }, TIMEOUT_MS)

  test('mixed modes: SIP carol calls JSON bob, audio both ways', async () => {
    await connect(carol, bob, 'bob')
    await callControl(bob, 'Hang up')
    await Promise.all([waitForIdle(bob.page), waitForIdle(carol.page)])
  }, TIMEOUT_MS)
})

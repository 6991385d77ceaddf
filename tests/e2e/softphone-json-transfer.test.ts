/**
 * End to end: blind transfer (RFC 3515) with the softphone's JSON signaling mode
 * (docs/json-signaling.md "Blind transfer") in Debian's Chromium against a real gateway.
 *
 * alice (1000 Hz) uses JSON signaling, bob (440 Hz) SIP over WebSocket, carol (1500 Hz) JSON.
 * 1. alice (JSON) transfers bob (SIP) to carol: alice sends `transfer`, the gateway REFERs
 *    bob, bob's SIP.js calls carol with Referred-By, the NOTIFY 200 ends alice's call
 *    (`ended` cause `transferred`); bob and carol hear each other.
 * 2. bob (SIP) transfers alice (JSON) to carol: bob's REFER reaches alice as a `transfer`
 *    request, her client places `call` with `transferOf`, carol answers, the gateway NOTIFYs
 *    bob 200 and bob hangs up; alice and carol hear each other.
 * Each page's call snapshots are recorded, so the transfer states each side went through
 * (trying -> succeeded, referredBy, ended `transferred`) are checked, not only the outcome.
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
  launchChromium,
  openSoftphone,
  signIn,
  waitForCall,
  waitForIdle,
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

/** What the page's client reported about one call (recorded by `recordCalls`). */
interface Seen {
  readonly id: string
  readonly state: string
  readonly remoteUser: string
  readonly transfer?: string
  readonly referredBy?: string
  readonly end?: string
}

/** Opens the softphone in signaling `mode`. */
async function openPhone(label: keyof typeof TONE, mode: 'json' | 'sip'): Promise<SoftphonePage> {
  const phone = await openSoftphone(browser, gateway.httpUrl, { toneHz: TONE[label], label, signaling: mode })
  return phone
}

/** Records every call snapshot the page's client emits, from now on (`seen(page)` reads them). */
async function recordCalls(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = window as unknown as { __seen: unknown[]; __pb: { client: { on(t: 'call', l: (s: Record<string, any>) => void): void } } } // eslint-disable-line @typescript-eslint/no-explicit-any
    w.__seen = []
    w.__pb.client.on('call', (s) => {
      w.__seen.push({ id: s.id, state: s.state, remoteUser: s.remote.user, transfer: s.transfer?.state, referredBy: s.referredBy, end: s.end?.reason })
    })
  })
}

async function seen(page: Page): Promise<Seen[]> {
  return page.evaluate(() => (window as unknown as { __seen: Seen[] }).__seen)
}

/** The distinct values of `field` a call went through, in order. */
function path(records: Seen[], id: string, field: 'state' | 'transfer'): string[] {
  const values = records.filter((r) => r.id === id && r[field] !== undefined).map((r) => r[field]!)
  return values.filter((v, i) => values[i - 1] !== v)
}

/** `caller` dials `calleeUser`, the callee answers; tones both ways. Returns the caller's call id. */
async function connect(caller: SoftphonePage, callee: SoftphonePage, calleeUser: string): Promise<string> {
  await dial(caller.page, calleeUser)
  await waitForCall(callee.page, (c) => c.state === 'incoming')
  await callee.page.locator('pb-incoming-call button[part="answer"]').click()
  const call = await waitForCall(caller.page, (c) => c.state === 'connected')
  await Promise.all([waitForTone(caller.page, callee.toneHz), waitForTone(callee.page, caller.toneHz)])
  return call.id
}

/** `from` transfers its active call to `target` through the call card's Transfer panel. */
async function transferTo(from: SoftphonePage, target: string): Promise<void> {
  await callControl(from, 'Transfer')
  await from.page.getByLabel('Transfer to').fill(target)
  await from.page.locator('pb-call-card form.transfer').getByRole('button', { name: 'Transfer' }).click()
}

describe('blind transfer with JSON signaling', () => {
  beforeAll(async () => {
    gateway = await startGateway(testConfig())
    browser = await launchChromium()
    alice = await openPhone('alice', 'json')
    bob = await openPhone('bob', 'sip')
    carol = await openPhone('carol', 'json')
    await signIn(alice.page, 'alice', PASSWORDS.alice)
    await signIn(bob.page, 'bob', PASSWORDS.bob)
    await signIn(carol.page, 'carol', PASSWORDS.carol)
    for (const phone of [alice, bob, carol]) await recordCalls(phone.page)
  }, TIMEOUT_MS)

  afterAll(async () => {
    await browser?.close()
    await gateway?.stop()
  }, TIMEOUT_MS)

  test('alice (JSON) transfers bob (SIP) to carol (JSON): bob and carol talk, alice is free', async () => {
    const aliceCall = await connect(alice, bob, 'bob')
    await transferTo(alice, 'carol')
    await waitForCall(carol.page, (c) => c.state === 'incoming' && c.remoteUser === 'bob')
    await carol.page.locator('pb-incoming-call button[part="answer"]').click()
    await waitForIdle(alice.page, 20_000)
    const atBob = await waitForCall(bob.page, (c) => c.state === 'connected' && c.remoteUser === 'carol')
    await Promise.all([waitForTone(bob.page, TONE.carol), waitForTone(carol.page, TONE.bob)])
    expect((await calls(bob.page)).length).toBe(1)

    const aliceSaw = await seen(alice.page)
    expect(path(aliceSaw, aliceCall, 'transfer')).toEqual(['trying', 'succeeded'])
    expect(aliceSaw.findLast((r) => r.id === aliceCall)).toMatchObject({ state: 'ended', end: 'transferred' })
    const bobSaw = await seen(bob.page)
    expect(bobSaw.find((r) => r.id === atBob.id)?.referredBy).toBe('Alice Archer')
    expect(bobSaw.find((r) => r.remoteUser === 'alice' && r.state === 'ended')?.end).toBe('transferred')
    await bob.page.getByText('Transferred by Alice Archer').waitFor()

    await callControl(bob, 'Hang up')
    await Promise.all([waitForIdle(bob.page), waitForIdle(carol.page)])
  }, TIMEOUT_MS)

  test('bob (SIP) transfers alice (JSON) to carol (JSON): alice calls carol with transferOf, bob is free', async () => {
    for (const phone of [alice, bob, carol]) await recordCalls(phone.page)
    await connect(bob, alice, 'alice')
    const oldAtAlice = (await calls(alice.page))[0]!.id
    await transferTo(bob, 'carol')
    await waitForCall(carol.page, (c) => c.state === 'incoming' && c.remoteUser === 'alice')
    await carol.page.locator('pb-incoming-call button[part="answer"]').click()
    await waitForIdle(bob.page, 20_000)
    const atAlice = await waitForCall(alice.page, (c) => c.state === 'connected' && c.remoteUser === 'carol')
    await Promise.all([waitForTone(alice.page, TONE.carol), waitForTone(carol.page, TONE.alice)])
    expect((await calls(alice.page)).map((c) => c.id)).toEqual([atAlice.id])

    const aliceSaw = await seen(alice.page)
    expect(aliceSaw.find((r) => r.id === atAlice.id)?.referredBy).toBe('Bob Baker')
    const states = path(aliceSaw, atAlice.id, 'state')
    expect([states[0], states.at(-1)]).toEqual(['dialing', 'connected'])
    expect(aliceSaw.findLast((r) => r.id === oldAtAlice)).toMatchObject({ state: 'ended', end: 'transferred' })
    const bobSaw = await seen(bob.page)
    const bobCall = bobSaw.find((r) => r.remoteUser === 'alice')!.id
    expect(path(bobSaw, bobCall, 'transfer')).toEqual(['trying', 'accepted', 'succeeded'])
    await alice.page.getByText('Transferred by Bob Baker').waitFor()

    await callControl(alice, 'Hang up')
    await Promise.all([waitForIdle(alice.page), waitForIdle(carol.page)])
  }, TIMEOUT_MS)

  test('a transfer the target declines fails with the reason at alice (JSON); her call with bob stays', async () => {
    for (const phone of [alice, bob, carol]) await recordCalls(phone.page)
    const aliceCall = await connect(alice, bob, 'bob')
    await transferTo(alice, 'carol')
    await waitForCall(carol.page, (c) => c.state === 'incoming' && c.remoteUser === 'bob')
    await carol.page.getByRole('button', { name: /^Decline call from / }).click()
    await alice.page.getByRole('alert').filter({ hasText: 'Transfer failed: carol declined the call.' }).waitFor()
    // bob's own call to carol failed too, and he is told why although his call with alice is on screen.
    await bob.page.getByRole('alert').filter({ hasText: /declined the call/ }).waitFor()
    expect(path(await seen(alice.page), aliceCall, 'transfer')).toEqual(['trying', 'failed'])
    expect((await calls(alice.page)).map((c) => c.state)).toEqual(['connected'])
    await callControl(alice, 'Hang up')
    await Promise.all([waitForIdle(alice.page), waitForIdle(bob.page)])
  }, TIMEOUT_MS)

  test('a JSON call that is declined or goes to an unknown user says why', async () => {
    await dial(alice.page, 'carol')
    await waitForCall(carol.page, (c) => c.state === 'incoming')
    await carol.page.getByRole('button', { name: /^Decline call from / }).click()
    await waitForIdle(alice.page)
    await alice.page.getByRole('status').filter({ hasText: /declined the call\./ }).waitFor()
    await dial(alice.page, 'nobody')
    await waitForIdle(alice.page)
    await alice.page.getByRole('status').filter({ hasText: /was not found/ }).waitFor()
  }, TIMEOUT_MS)
})

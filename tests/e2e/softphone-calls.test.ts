/**
 * End to end: three Chromium pages running the softphone against a real gateway.
 *
 * alice's microphone is a 1000 Hz tone, bob's 440 Hz and carol's 1500 Hz; each side checks the
 * far end's audio with an AnalyserNode (the peak must be within a few Hz), so a call that only
 * "connected" but carries no audio, or carries its own echo, fails.
 *
 * Needs Debian's Chromium: `apt-get install -y chromium` (or CHROMIUM_PATH).
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { startGateway } from '../../gateway/src/main.ts'
import { testConfig } from '../support/gateway.ts'
import {
  callControl,
  calls,
  dial,
  holdAndResume,
  launchChromium,
  openSoftphone,
  registration,
  sendDtmf123Pound,
  signIn,
  waitForCall,
  waitForIdle,
  waitForRegistration,
  waitForSilence,
  waitForText,
  waitForTone,
  type SoftphonePage,
} from './softphone-helpers.ts'

const PASSWORDS = { alice: 'alice-demo', bob: 'bob-demo', carol: 'carol-demo' } as const
const TONE = { alice: 1000, bob: 440, carol: 1500 } as const
const ARTIFACTS = join(import.meta.dir, '..', 'artifacts')
/** Per test: real browsers and a real gateway (bun's default is 5 s). */
const TIMEOUT_MS = 60_000

interface Environment {
  readonly baseUrl: string
  stop(): Promise<void>
}

async function startEnvironment(): Promise<Environment> {
  const gateway = await startGateway(testConfig())
  return { baseUrl: gateway.httpUrl, stop: () => gateway.stop() }
}

let env: Environment
let browser: Browser
let alice: SoftphonePage
let bob: SoftphonePage
let carol: SoftphonePage

/** Clicks a button inside the active call card by its accessible name. */
/** alice dials bob and bob answers; returns setup times (ms). */
async function connectAliceToBob(): Promise<{ ringingMs: number; mediaMs: number }> {
  const clicked = Date.now()
  await dial(alice.page, 'bob')
  await waitForCall(alice.page, (c) => c.state === 'ringing' || c.state === 'early-media')
  const ringingMs = Date.now() - clicked
  await waitForCall(bob.page, (c) => c.state === 'incoming')
  const answered = Date.now()
  await bob.page.locator('pb-incoming-call button[part="answer"]').click()
  await waitForCall(alice.page, (c) => c.state === 'connected')
  await Promise.all([waitForTone(alice.page, TONE.bob), waitForTone(bob.page, TONE.alice)])
  return { ringingMs, mediaMs: Date.now() - answered }
}

describe('softphone calls through the gateway', () => {
  beforeAll(async () => {
    env = await startEnvironment()
    browser = await launchChromium()
    alice = await openSoftphone(browser, env.baseUrl, { toneHz: TONE.alice, label: 'alice' })
    bob = await openSoftphone(browser, env.baseUrl, { toneHz: TONE.bob, label: 'bob' })
    carol = await openSoftphone(browser, env.baseUrl, { toneHz: TONE.carol, label: 'carol' })
  }, TIMEOUT_MS)

  afterAll(async () => {
    await browser?.close()
    await env?.stop()
  }, TIMEOUT_MS)

  test('a wrong password says so', async () => {
    await signIn(carol.page, 'carol', 'not-the-password', 'none')
    await waitForRegistration(carol.page, 'failed')
    const state = await registration(carol.page)
    expect(state.reason).toBe('wrong-password')
    await waitForText(carol.page, /Wrong password/)
    // The form is still there and the right password works.
    await signIn(carol.page, 'carol', PASSWORDS.carol)
  }, TIMEOUT_MS)

  test('alice and bob sign in and register', async () => {
    await signIn(alice.page, 'alice', PASSWORDS.alice)
    await signIn(bob.page, 'bob', PASSWORDS.bob)
    await waitForText(alice.page, /Registered/)
    expect((await registration(bob.page)).status).toBe('registered')
  }, TIMEOUT_MS)

  test('bob sees alice by her users.yaml name (P-Asserted-Identity), not the name she set in Settings', async () => {
    // alice calls herself "Ali Fake" in Settings: that goes in her From display name.
    await alice.page.getByRole('button', { name: 'Settings', exact: true }).click()
    await alice.page.getByLabel('Your name').fill('Ali Fake')
    await alice.page.getByLabel('Your name').press('Tab')
    await alice.page.locator('pb-settings footer button').click()
    await alice.page.locator('pb-settings').waitFor({ state: 'detached' })
    await dial(alice.page, 'bob')
    await waitForCall(bob.page, (c) => c.state === 'incoming')
    await bob.page.getByRole('button', { name: 'Answer call from Alice Archer' }).waitFor()
    expect(await bob.page.getByRole('button', { name: /Ali Fake/ }).count()).toBe(0)
    await alice.page.getByRole('button', { name: 'Cancel call' }).click()
    await Promise.all([waitForIdle(alice.page), waitForIdle(bob.page)])
  }, TIMEOUT_MS)

  test('alice calls bob, bob answers, each hears the other', async () => {
    const { ringingMs, mediaMs } = await connectAliceToBob()
    console.log(`call setup: click -> ringing ${ringingMs} ms, answer -> media both ways ${mediaMs} ms`)
    const atBob = await waitForTone(bob.page, TONE.alice)
    const atAlice = await waitForTone(alice.page, TONE.bob)
    expect(Math.abs(atBob.peakHz - TONE.alice)).toBeLessThan(6)
    expect(Math.abs(atAlice.peakHz - TONE.bob)).toBeLessThan(6)
    await waitForText(alice.page, /\d:\d\d/)
    await alice.page.waitForTimeout(2500) // let the meters and quality chart fill
    await alice.page.mouse.move(0, 0) // no hover effect in the picture
    await mkdir(ARTIFACTS, { recursive: true })
    await alice.page.screenshot({ path: join(ARTIFACTS, 'softphone-in-call.png') })
    await alice.page.setViewportSize({ width: 390, height: 844 })
    await alice.page.screenshot({ path: join(ARTIFACTS, 'softphone-in-call-phone.png'), fullPage: true })
    await alice.page.setViewportSize({ width: 1280, height: 800 })
  }, TIMEOUT_MS)

  test('mute silences alice at bob, unmute brings her back', async () => {
    await callControl(alice, 'Mute')
    await waitForSilence(bob.page)
    expect((await calls(alice.page))[0]?.muted).toBe(true)
    // bob still reaches alice
    await waitForTone(alice.page, TONE.bob)
    await callControl(alice, 'Unmute')
    await waitForTone(bob.page, TONE.alice)
  }, TIMEOUT_MS)

  test('hold silences both ways, resume brings the audio back', async () => {
    await holdAndResume(alice, bob)
  }, TIMEOUT_MS)

  test('DTMF 123# goes out as RFC 4733 events and bob hears the tones', async () => {
    expect(await sendDtmf123Pound(alice, bob)).toEqual({ sent: '123#', heard: '123#', recorded: '123#' })
  }, TIMEOUT_MS)

  test('alice hangs up: both pages go idle', async () => {
    await callControl(alice, 'Hang up')
    await Promise.all([waitForIdle(alice.page), waitForIdle(bob.page)])
    await waitForText(bob.page, /hung up/)
  }, TIMEOUT_MS)

  test('bob declines: alice is told', async () => {
    await dial(alice.page, 'bob')
    await waitForCall(bob.page, (c) => c.state === 'incoming')
    await bob.page.locator('pb-incoming-call button[part="decline"]').click()
    await waitForIdle(alice.page)
    await waitForText(alice.page, /declined/)
  }, TIMEOUT_MS)

  test('a call to bob while he is in a call shows call waiting', async () => {
    await connectAliceToBob()
    await dial(carol.page, 'bob')
    await waitForCall(bob.page, (c) => c.state === 'incoming')
    await waitForText(bob.page, /Call waiting/)
    expect(await bob.page.locator('pb-incoming-call[waiting]').count()).toBe(1)
    await bob.page.locator('pb-incoming-call button[part="decline"]').click()
    await waitForIdle(carol.page)
    await waitForText(carol.page, /declined/)
    // bob's call with alice is untouched
    await waitForTone(bob.page, TONE.alice)
  }, TIMEOUT_MS)

  test('a call to bob while he has two calls: busy, and carol is told why', async () => {
    // bob talks with alice; alice's second call to bob rings there as a waiting call.
    await alice.page.evaluate(() => (window as unknown as { __pb: { client: { call(t: string): Promise<unknown> } } }).__pb.client.call('bob'))
    await waitForCall(bob.page, (c) => c.state === 'incoming')
    // carol's call is the third: bob's phone answers 486 Busy Here by itself.
    await dial(carol.page, 'bob')
    await waitForIdle(carol.page)
    await carol.page.getByRole('status').filter({ hasText: 'Bob is busy.' }).waitFor()
    // alice gives up her second call and resumes the first.
    await alice.page.getByRole('button', { name: 'Cancel call' }).click()
    await waitForCall(alice.page, (c) => c.onHold)
    await alice.page.getByRole('button', { name: 'Resume' }).click()
    await waitForCall(alice.page, (c) => c.state === 'connected' && !c.onHold)
    expect((await calls(bob.page)).length).toBe(1)
    await Promise.all([waitForTone(bob.page, TONE.alice), waitForTone(alice.page, TONE.bob)])
  }, TIMEOUT_MS)

  test('alice transfers bob to carol (REFER): bob and carol talk, alice is free', async () => {
    await callControl(alice, 'Transfer')
    await alice.page.locator('pb-call-card input[name="transfer"]').fill('carol')
    await alice.page.locator('pb-call-card form.transfer button[type="submit"]').click()
    await waitForCall(carol.page, (c) => c.state === 'incoming')
    await carol.page.locator('pb-incoming-call button[part="answer"]').click()
    await waitForIdle(alice.page, 20_000)
    await waitForCall(bob.page, (c) => c.state === 'connected' && c.remoteUser === 'carol')
    await waitForTone(bob.page, TONE.carol)
    await waitForTone(carol.page, TONE.bob)
    expect((await calls(bob.page)).length).toBe(1)
    await callControl(bob, 'Hang up')
    await Promise.all([waitForIdle(bob.page), waitForIdle(carol.page)])
  }, TIMEOUT_MS)

  test('carol signs out from the main screen through her account menu', async () => {
    const account = carol.page.getByRole('button', { name: /^Account: .*carol@patchbay\.test$/ })
    await account.click()
    await carol.page.getByRole('menuitem', { name: 'Sign out' }).click()
    await waitForRegistration(carol.page, 'signed-out')
    await carol.page.getByRole('button', { name: 'Sign in' }).waitFor()
    expect(await account.count()).toBe(0)
  }, TIMEOUT_MS)
})

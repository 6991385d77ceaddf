/**
 * Mixed-mode calls proven by audio (issue 12): the softphone in JSON mode against the other
 * peers a user brings — JsSIP in a browser page (SIP over WebSocket, media peer to peer) and
 * baresip (SIP over UDP, G.711, media anchored by the gateway) — each direction, each side
 * hearing the other's tone (not its own).
 *
 * Needs chromium and baresip (tests/setup/install-peers.sh installs them).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { startGateway, type RunningGateway } from '../../gateway/src/main.ts'
import { testConfig, TEST_DOMAIN } from '../support/gateway.ts'
import { openHarnessPage, serveSipHarness, type HarnessPage, type HarnessServer } from '../support/browser.ts'
import { Baresip } from '../support/baresip.ts'
import {
  dial, launchChromium, openSoftphone, signIn, waitForCall, waitForIdle, waitForTone, type SoftphonePage,
} from './softphone-helpers.ts'
import type { Browser } from 'playwright-core'

setDefaultTimeout(60_000)

const JSON_PAGE_HZ = 440
const JSSIP_HZ = 1500
const PHONE_HZ = 1000

let gateway: RunningGateway
let browser: Browser
let server: HarnessServer
let alice: SoftphonePage
let jssip: HarnessPage
let carol: Baresip

/** Opens the softphone in JSON mode and signs in. */
async function jsonSoftphone(user: string, password: string, hz: number): Promise<SoftphonePage> {
  const page = await openSoftphone(browser, gateway.httpUrl, { toneHz: hz, label: `${user}-json`, signaling: 'json' })
  await signIn(page.page, user, password)
  return page
}

beforeAll(async () => {
  gateway = await startGateway(testConfig())
  browser = await launchChromium()
  server = await serveSipHarness()
  alice = await jsonSoftphone('alice', 'alice-demo', JSON_PAGE_HZ)
  jssip = await openHarnessPage(browser, server, 'jssip:bob', { toneHz: JSSIP_HZ })
  await jssip.start({ lib: 'jssip', wsUrl: gateway.wsUrl, username: 'bob', password: 'bob-demo', domain: TEST_DOMAIN, autoAnswer: true })
  carol = await Baresip.start({ user: 'carol', password: 'carol-demo', domain: TEST_DOMAIN, gatewayUdpPort: gateway.udpPort, toneHz: PHONE_HZ })
})

afterAll(async () => {
  await jssip?.close().catch(() => undefined)
  await browser?.close().catch(() => undefined)
  await server?.stop()
  await carol?.stop()
  await gateway?.stop()
})

describe('JSON softphone <-> JsSIP (SIP over WebSocket, media peer to peer)', () => {
  test('the JSON page calls JsSIP (auto-answer): each hears the other', async () => {
    await dial(alice.page, 'bob')
    await waitForCall(alice.page, (c) => c.state === 'connected')
    await jssip.waitForState((s) => s.callState === 'established', 'JsSIP established')
    const atAlice = await waitForTone(alice.page, JSSIP_HZ, 15_000)
    const atJssip = await waitForTone(jssip.page, JSON_PAGE_HZ, 15_000)
    expect(Math.abs(atAlice.peakHz - JSSIP_HZ)).toBeLessThan(8)
    expect(Math.abs(atJssip.peakHz - JSON_PAGE_HZ)).toBeLessThan(8)
    expect(gateway.internals.anchoredCalls?.size ?? 0).toBe(0) // browser to browser: not anchored
    await alice.page.locator('pb-call-card button[aria-label="Hang up"]').click()
    await waitForIdle(alice.page)
    const end = await jssip.waitForState((s) => s.callState === 'terminated', 'JsSIP terminated by BYE')
    expect(end.callEndedBy).toBe('remote')
  })

  test('JsSIP calls the JSON page: it answers, each hears the other, JsSIP hangs up', async () => {
    await jssip.call(`sip:alice@${TEST_DOMAIN}`)
    await waitForCall(alice.page, (c) => c.state === 'incoming')
    await alice.page.locator('pb-incoming-call button[part="answer"]').click()
    await waitForCall(alice.page, (c) => c.state === 'connected')
    await jssip.waitForState((s) => s.callState === 'established', 'JsSIP established')
    await waitForTone(alice.page, JSSIP_HZ, 15_000)
    await waitForTone(jssip.page, JSON_PAGE_HZ, 15_000)
    await jssip.hangup()
    await waitForIdle(alice.page)
  })
})

describe('JSON softphone <-> baresip (SIP over UDP, media anchored)', () => {
  test('the JSON page calls the desk phone: each hears the other through the anchor', async () => {
    const before = carol.recordings().length
    await dial(alice.page, 'carol')
    await waitForCall(alice.page, (c) => c.state === 'connected')
    await waitForTone(alice.page, PHONE_HZ, 15_000)
    expect(gateway.internals.anchoredCalls!.size).toBe(1)
    await Bun.sleep(1500) // let baresip record the browser's tone
    await alice.page.locator('pb-call-card button[aria-label="Hang up"]').click()
    await waitForIdle(alice.page)
    await Bun.sleep(500)
    const heard = carol.newestRecordingTone(before, JSON_PAGE_HZ, PHONE_HZ)
    expect(heard.target).toBeGreaterThan(heard.other * 10)
    expect(gateway.internals.anchoredCalls!.size).toBe(0)
  })

  test('the desk phone calls the JSON page: each hears the other', async () => {
    const before = carol.recordings().length
    await carol.dial(`sip:alice@${TEST_DOMAIN}`)
    await waitForCall(alice.page, (c) => c.state === 'incoming')
    await alice.page.locator('pb-incoming-call button[part="answer"]').click()
    await waitForCall(alice.page, (c) => c.state === 'connected')
    await waitForTone(alice.page, PHONE_HZ, 15_000)
    await Bun.sleep(1500)
    await alice.page.locator('pb-call-card button[aria-label="Hang up"]').click()
    await waitForIdle(alice.page)
    await Bun.sleep(500)
    const heard = carol.newestRecordingTone(before, JSON_PAGE_HZ, PHONE_HZ)
    expect(heard.target).toBeGreaterThan(heard.other * 10)
  })
})

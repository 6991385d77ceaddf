/**
 * JsSIP 3 and SIP.js 0.21 — the two browser SIP libraries — against the gateway, each in
 * its own Chromium page (playwright-core + Debian chromium, fake audio devices):
 * registration with digest over SIP-over-WebSocket (RFC 7118), MESSAGE (RFC 3428) both
 * ways, then a JsSIP <-> SIP.js call each way: confirmed on both sides, RTP flowing
 * browser to browser (the gateway only signals), ended by BYE.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { launchChromium, openHarnessPage, serveSipHarness, type Browser, type HarnessServer } from '../../support/browser.ts'
import type { HarnessPage } from '../../support/browser.ts'
import { DEMO_USERS, TEST_DOMAIN, startGateway, testConfig, type RunningGateway } from '../../support/gateway.ts'

setDefaultTimeout(60_000)

let gateway: RunningGateway
let browser: Browser
let server: HarnessServer
const pages: HarnessPage[] = []

beforeAll(async () => {
  browser = await launchChromium()
  server = await serveSipHarness()
  gateway = await startGateway(testConfig())
})

afterAll(async () => {
  for (const page of pages.splice(0)) await page.close().catch(() => undefined)
  await browser?.close().catch(() => undefined)
  await server?.stop()
  await gateway?.stop()
})

async function openUa(lib: 'jssip' | 'sipjs', user: keyof typeof DEMO_USERS, autoAnswer = false): Promise<HarnessPage> {
  const page = await openHarnessPage(browser, server, `${lib}:${user}`)
  pages.push(page)
  const { username, password } = DEMO_USERS[user]
  await page.start({ lib, wsUrl: gateway.wsUrl, username, password, domain: TEST_DOMAIN, autoAnswer })
  return page
}

async function closeUa(page: HarnessPage): Promise<void> {
  await page.page.evaluate(() => (window as unknown as { pbHarness: { stop(): Promise<void> } }).pbHarness.stop()).catch(() => undefined)
  await page.close()
  pages.splice(pages.indexOf(page), 1)
}

describe('JsSIP and SIP.js through the gateway', () => {
  test('both register with digest and exchange MESSAGE requests both ways', async () => {
    const jssip = await openUa('jssip', 'alice')
    const sipjs = await openUa('sipjs', 'bob')
    try {
      expect((await jssip.state()).registered).toBe(true)
      expect((await sipjs.state()).registered).toBe(true)

      const toBob = await jssip.sendMessage(`sip:bob@${TEST_DOMAIN}`, 'hello from JsSIP')
      expect(toBob).toBe(200)
      const bobState = await sipjs.waitForState((s) => s.messages.length >= 1, 'MESSAGE at SIP.js')
      expect(bobState.messages[0]!.body).toBe('hello from JsSIP')
      expect(bobState.messages[0]!.from).toBe(`sip:alice@${TEST_DOMAIN}`)

      const toAlice = await sipjs.sendMessage(`sip:alice@${TEST_DOMAIN}`, 'hello from SIP.js')
      expect(toAlice).toBe(200)
      const aliceState = await jssip.waitForState((s) => s.messages.length >= 1, 'MESSAGE at JsSIP')
      expect(aliceState.messages[0]!.body).toBe('hello from SIP.js')
      expect(aliceState.messages[0]!.from).toBe(`sip:bob@${TEST_DOMAIN}`)
    } finally {
      await closeUa(jssip)
      await closeUa(sipjs)
    }
  })

  for (const [callerLib, calleeLib] of [['jssip', 'sipjs'], ['sipjs', 'jssip']] as const) {
    test(`${callerLib} calls ${calleeLib}: confirmed on both sides, audio flows, BYE ends it`, async () => {
      const caller = await openUa(callerLib, 'alice')
      const callee = await openUa(calleeLib, 'bob', true)
      try {
        await caller.call(`sip:bob@${TEST_DOMAIN}`)
        await caller.waitForState((s) => s.callState === 'established', 'caller established', 20_000)
        await callee.waitForState((s) => s.callState === 'established', 'callee established', 20_000)

        // Browser-to-browser media (the gateway stays out of the path): RTP arrives both ways.
        const deadline = Date.now() + 10_000
        let callerMedia = await caller.mediaCounters()
        let calleeMedia = await callee.mediaCounters()
        while ((callerMedia.packetsReceived < 10 || calleeMedia.packetsReceived < 10) && Date.now() < deadline) {
          await Bun.sleep(200)
          callerMedia = await caller.mediaCounters()
          calleeMedia = await callee.mediaCounters()
        }
        expect(callerMedia.packetsReceived, JSON.stringify(callerMedia)).toBeGreaterThanOrEqual(10)
        expect(calleeMedia.packetsReceived, JSON.stringify(calleeMedia)).toBeGreaterThanOrEqual(10)

        await caller.hangup()
        const calleeEnd = await callee.waitForState((s) => s.callState === 'terminated', 'callee terminated by BYE')
        expect(calleeEnd.events).toContain('bye-received')
        expect(calleeEnd.callEndedBy).toBe('remote')
        const callerEnd = await caller.waitForState((s) => s.callState === 'terminated', 'caller terminated')
        expect(callerEnd.callEndedBy).toBe('local')
      } finally {
        await closeUa(caller)
        await closeUa(callee)
      }
    })
  }
})

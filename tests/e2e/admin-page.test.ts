/**
 * End to end: the operator's admin page (`/admin`, issue 13 item 6) in Debian's Chromium
 * against a real gateway with an admin token, a trunk and a dial plan, driven through
 * accessible names like a person would: a wrong token is refused, sign-in, a user registered
 * over SIP/WebSocket appears under Registrations, a call in progress is listed and hung up
 * with its button, the explain form shows the matching rule, call records appear after a call
 * and the CSV download (fetched with the Bearer token) holds them, the trunk is listed with
 * its state, sign-out forgets the token; a gateway without adminToken explains how to set one.
 * Screenshots of the Overview and of Call records go to /tmp/admin-*.png.
 *
 * Needs Debian's Chromium: `apt-get install -y chromium` (or CHROMIUM_PATH).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core'
import type { GatewayConfig } from '../../gateway/src/config/schema.ts'
import { TEST_DOMAIN, startGateway, testConfig, testConfigFromFolder, userEntry, type RunningGateway } from '../support/gateway.ts'
import { freePortRange } from '../support/ports.ts'
import { WsSipClient, fakeAnswerFor, fakeSdp } from '../support/ws-sip-client.ts'
import { launchChromium } from './softphone-helpers.ts'

setDefaultTimeout(60_000)

const TOKEN = 'admin-e2e-token-0123456789abcdef'
const PASSWORD = 'admin-page-password'
const USERS = ['adm-alice', 'adm-bob']

let dir: string
let gateway: RunningGateway
let browser: Browser
let context: BrowserContext
let page: Page
const clients: WsSipClient[] = []
const pageErrors: string[] = []

function yaml(value: unknown): string {
  return Bun.YAML.stringify(value, null, 2)
}

/** users.yaml, trunks.yaml (one static peer, not qualified) and dialplan.yaml in `dir`, loaded like the gateway does. */
async function writeConfig(): Promise<GatewayConfig> {
  const carrierPort = await freePortRange(1)
  writeFileSync(join(dir, 'users.yaml'), yaml({ users: USERS.map((u) => userEntry(u, PASSWORD)) }))
  writeFileSync(join(dir, 'trunks.yaml'), yaml({
    trunks: [{ name: 'carrier-a', type: 'peer', host: '127.0.0.1', port: carrierPort, qualifySeconds: 0, inbound: { addresses: ['127.0.0.11'] } }],
  }))
  writeFileSync(join(dir, 'dialplan.yaml'), yaml({
    classes: ['internal', 'national', 'international'],
    defaultClass: 'internal',
    userClasses: { 'adm-alice': 'international' },
    numbering: { countryCode: '49', nationalPrefix: '0', internationalPrefix: '00' },
    outbound: [
      { name: 'emergency', prefix: ['112'], maxLength: 3, class: 'internal', trunks: ['carrier-a'] },
      { name: 'international', prefix: ['00'], minLength: 6, class: 'international', e164: true, trunks: ['carrier-a'] },
    ],
  }))
  return testConfigFromFolder(dir, { adminToken: TOKEN })
}

async function registered(name: string): Promise<WsSipClient> {
  const c = await WsSipClient.connect({ url: gateway.wsUrl, username: name, password: PASSWORD, domain: TEST_DOMAIN })
  clients.push(c)
  const { final } = await c.register()
  expect(final.status, final.raw).toBe(200)
  return c
}

/** adm-alice calls adm-bob, who answers; returns what ends the call. */
async function answeredCall(alice: WsSipClient, bob: WsSipClient) {
  const { call } = await alice.inviteWithAuth(bob.aor, { body: fakeSdp('webrtc', 'offer') })
  const invite = await bob.waitForRequest('INVITE', call.callId)
  bob.respond(invite, 200, 'OK', { body: fakeAnswerFor(invite.body) })
  const ok = await alice.waitForResponse({ status: 200, callId: call.callId, method: 'INVITE' })
  alice.ack2xx(call, ok)
  await bob.waitForRequest('ACK', call.callId)
  return { call, invite }
}

/** Waits until `locator` (its first match) contains `text`. */
async function seeText(locator: Locator, text: string | RegExp, timeout = 10_000): Promise<void> {
  try {
    await locator.filter({ hasText: text }).first().waitFor({ timeout })
  } catch {
    throw new Error(`expected ${String(locator)} to contain ${String(text)}; it holds: ${JSON.stringify(await locator.first().textContent().catch(() => null))}`)
  }
}

function tab(name: string) {
  return page.getByRole('tab', { name, exact: true })
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'patchbay-admin-page-'))
  gateway = await startGateway(await writeConfig())
  browser = await launchChromium()
  context = await browser.newContext({ viewport: { width: 1360, height: 900 }, acceptDownloads: true })
  page = await context.newPage()
  page.on('pageerror', (e) => pageErrors.push(e.message))
  await page.goto(`${gateway.httpUrl}/admin`)
})

afterAll(async () => {
  for (const c of clients) c.close()
  await context?.close()
  await browser?.close()
  await gateway?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('the admin page', () => {
  test('/admin/ serves the same page; a wrong token shows an error and stays signed out', async () => {
    const slash = await fetch(`${gateway.httpUrl}/admin/`)
    expect(slash.status).toBe(200)
    expect(await slash.text()).toContain('/admin.js')
    await page.getByLabel('Admin token').fill('not-the-token-0123456789')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await seeText(page.getByRole('alert'), 'not accepted')
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0)
  })

  test('the right token signs in to the Overview, kept in sessionStorage across a reload', async () => {
    await page.getByLabel('Admin token').fill(TOKEN)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    expect(await tab('Overview').getAttribute('aria-selected')).toBe('true')
    await page.getByRole('img', { name: /^Calls over the last/ }).waitFor()
    await page.reload()
    await page.getByRole('heading', { name: 'Overview' }).waitFor()
    expect(await page.evaluate(() => Object.values(sessionStorage))).toEqual([TOKEN])
  })

  test('a user registered over SIP/WebSocket appears under Registrations', async () => {
    const alice = await registered('adm-alice')
    await tab('Registrations').click()
    const table = page.getByRole('table', { name: 'Registered contacts' })
    const row = table.getByRole('row').filter({ hasText: `adm-alice@${TEST_DOMAIN}` })
    await row.waitFor()
    await seeText(row, 'WS')
    await seeText(row, alice.viaHost)
  })

  test('a call in progress is listed under Active calls and its Hang up button ends it (DELETE /api/calls/:id)', async () => {
    const alice = clients.find((c) => c.options.username === 'adm-alice')!
    const bob = await registered('adm-bob')
    const { call } = await answeredCall(alice, bob)
    await tab('Active calls').click()
    const row = page.getByRole('table', { name: 'Calls in progress' }).getByRole('row').filter({ hasText: 'adm-bob' })
    await row.waitFor()
    await seeText(row, 'Answered')
    await seeText(row, 'adm-alice')
    await row.getByRole('button', { name: /^Hang up the call from adm-alice/ }).click()
    await row.getByRole('button', { name: /^Confirm hang-up/ }).click()
    // The contract: 204 and the gateway sends BYE to both parties.
    const [byeToBob, byeToAlice] = await Promise.all([bob.waitForRequest('BYE', call.callId, 10_000), alice.waitForRequest('BYE', call.callId, 10_000)])
    bob.respond(byeToBob, 200)
    alice.respond(byeToAlice, 200)
    await page.getByRole('status').filter({ hasText: 'Hung up the call' }).waitFor()
    await page.getByText('No call in progress').waitFor()
  })

  test('the explain form shows the matching rule, the trace, the rewrite and the trunk target', async () => {
    await tab('Explain').click()
    await page.getByLabel('From', { exact: true }).fill('adm-alice')
    await page.getByLabel('To', { exact: true }).fill('00442079460000')
    await page.getByRole('button', { name: 'Explain' }).click()
    const result = page.getByRole('region', { name: 'Explanation' })
    await seeText(result.getByRole('status'), 'Routed by rule “international”')
    const trace = result.getByRole('region', { name: 'Rules tried' })
    await seeText(trace.getByRole('listitem').filter({ hasText: 'emergency' }), 'No match')
    await seeText(trace.getByRole('listitem').filter({ hasText: 'international' }), 'Match')
    await seeText(result, '+442079460000')
    await seeText(result.getByRole('region', { name: 'Targets' }), 'carrier-a')
    await seeText(result, 'Allowed')
    await page.screenshot({ path: '/tmp/admin-explain.png', fullPage: true })
  })

  test('call records appear after a call, filter by caller, and the CSV download holds them', async () => {
    const alice = clients.find((c) => c.options.username === 'adm-alice')!
    const bob = clients.find((c) => c.options.username === 'adm-bob')!
    const { call } = await answeredCall(alice, bob)
    alice.byeAsCaller(call)
    bob.respond(await bob.waitForRequest('BYE', call.callId), 200)
    await alice.waitForResponse({ status: 200, callId: call.callId, method: 'BYE' })

    await tab('Call records').click()
    const table = page.getByRole('table', { name: 'Call records' })
    // Records are written behind (batched): refresh until both calls are there.
    for (let i = 0; i < 40 && (await table.getByRole('row').filter({ hasText: 'adm-bob' }).count()) < 2; i++) {
      await page.waitForTimeout(250)
      await page.getByRole('button', { name: 'Refresh' }).click()
    }
    const rows = table.getByRole('row').filter({ hasText: 'adm-bob' })
    expect(await rows.count()).toBe(2)
    await seeText(rows.first(), '200')
    await seeText(rows.first(), 'internal')

    await page.getByLabel('Caller', { exact: true }).fill('adm-alice')
    await page.getByLabel('Status', { exact: true }).selectOption('answered')
    await page.getByRole('button', { name: 'Apply filters' }).click()
    await page.getByRole('status').filter({ hasText: /of 2$/ }).waitFor()
    await page.getByLabel('Caller', { exact: true }).fill('nobody-at-all')
    await page.getByRole('button', { name: 'Apply filters' }).click()
    await page.getByText('No call matches the filters').waitFor()
    await page.getByLabel('Caller', { exact: true }).fill('adm-alice')
    await page.getByRole('button', { name: 'Apply filters' }).click()
    await rows.first().waitFor()
    await page.screenshot({ path: '/tmp/admin-call-records.png', fullPage: true })

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()])
    expect(download.suggestedFilename()).toMatch(/^cdrs-\d{4}-\d{2}-\d{2}\.csv$/)
    const csv = readFileSync((await download.path())!, 'utf8')
    const lines = csv.trim().split(/\r?\n/)
    expect(lines[0]).toContain('caller')
    expect(lines.length, csv).toBe(3)
    expect(lines.slice(1).every((l) => l.includes('adm-alice') && l.includes('adm-bob')), csv).toBe(true)
  })

  test('the trunks tab lists the configured trunk with its state', async () => {
    await tab('Trunks').click()
    const row = page.getByRole('table', { name: 'Trunks' }).getByRole('row').filter({ hasText: 'carrier-a' })
    await row.waitFor()
    await seeText(row, 'Static peer')
    await seeText(row, 'Unknown')
    await seeText(row, 'not monitored')
    await page.screenshot({ path: '/tmp/admin-trunks.png', fullPage: true })
  })

  test('the Overview charts calls and registrations from the history and the metrics', async () => {
    await tab('Overview').click()
    await page.getByRole('button', { name: '15 min' }).click()
    const calls = page.getByRole('group', { name: 'Calls in progress' })
    await seeText(calls, '0')
    const registrations = page.getByRole('group', { name: 'Registered contacts' })
    await seeText(registrations, '2')
    await page.getByRole('img', { name: /^Registrations over the last 15 min; latest: Registered contacts 2/ }).waitFor()
    const history = await (await fetch(`${gateway.httpUrl}/api/stats/history`, { headers: { authorization: `Bearer ${TOKEN}` } })).json() as { samples: unknown[] }
    expect(history.samples.length).toBeGreaterThan(0)
    // Live sampling of /metrics: a message rate needs two samples 5 s apart.
    await seeText(page.getByRole('group', { name: 'SIP messages' }), '/s', 15_000)
    await page.screenshot({ path: '/tmp/admin-overview.png', fullPage: true })
  })

  test('Sign out forgets the token and shows the sign-in form', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByLabel('Admin token').waitFor()
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0)
    expect(pageErrors).toEqual([])
  })
})

describe('a gateway without adminToken', () => {
  test('the page says how to set adminToken in gateway.yaml', async () => {
    const plain = await startGateway(testConfig())
    const p = await context.newPage()
    try {
      await p.goto(`${plain.httpUrl}/admin`)
      await p.getByRole('heading', { name: 'The admin page is switched off' }).waitFor()
      await p.getByText('adminToken: "paste-the-token-here"').waitFor()
      expect(await p.getByLabel('Admin token').count()).toBe(0)
    } finally {
      await p.close()
      await plain.stop()
    }
  })
})

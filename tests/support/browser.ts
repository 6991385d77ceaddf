/**
 * Chromium for integration tests: Debian's /usr/bin/chromium driven by playwright-core
 * (`npx playwright install` cannot run here), with the flags of
 * /work/shared/testing-with-real-peers.md (fake audio devices, loopback ICE candidates).
 *
 * The SIP libraries run in real pages: {@link serveSipHarness} bundles
 * tests/support/browser/sip-ua-harness.ts (which imports `jssip` and `sip.js`) with
 * Bun.build in memory and serves it from a throwaway Bun.serve on 127.0.0.1 (a secure
 * context, so navigator.mediaDevices exists). {@link openHarnessPage} opens a page where
 * `window.pbHarness` drives either library.
 */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { join } from 'node:path'
import { LOOPBACK } from './ports.ts'
import { requireBinary } from './processes.ts'
import type { HarnessStartOptions, HarnessState, MediaCounters, SipUaHarness } from './browser/sip-ua-harness.ts'
import { capturePeerConnections, installToneMicrophone } from './browser/page-scripts.ts'

/** Exactly the flags of testing-with-real-peers.md. */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
]

/**
 * Launches headless Chromium.
 *
 * @throws Error "chromium not found: install with apt-get install -y chromium ..." when the
 *   Debian package is missing
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = requireBinary('chromium', 'chromium')
  return chromium.launch({ executablePath, args: [...CHROMIUM_ARGS], headless: true, timeout: 30_000 })
}

const HARNESS_ENTRY = join(import.meta.dir, 'browser', 'sip-ua-harness.ts')

let harnessBundle: Promise<string> | null = null

/**
 * The harness bundled for the browser (ES module text, JsSIP and SIP.js included). Built
 * once per process.
 *
 * @throws Error with Bun's build log when the bundle fails
 */
export function harnessScript(): Promise<string> {
  harnessBundle ??= (async () => {
    const result = await Bun.build({ entrypoints: [HARNESS_ENTRY], target: 'browser', format: 'esm', minify: false, sourcemap: 'none' })
    if (!result.success || result.outputs.length === 0) {
      harnessBundle = null
      throw new Error(`Bun.build of ${HARNESS_ENTRY} failed:\n${result.logs.map(String).join('\n')}`)
    }
    return await result.outputs[0]!.text()
  })()
  return harnessBundle
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>patchbay SIP harness</title></head>
<body><script type="module" src="/harness.js"></script></body></html>
`

export interface HarnessServer {
  /** `http://127.0.0.1:PORT/` */
  url: string
  stop(): Promise<void>
}

/**
 * Serves the harness page on a free port of 127.0.0.1: `/` (HTML) and `/harness.js`
 * (the bundle). Stop it in afterAll.
 */
export async function serveSipHarness(): Promise<HarnessServer> {
  const script = await harnessScript()
  const server = Bun.serve({
    hostname: LOOPBACK,
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname
      if (path === '/' || path === '/index.html') return new Response(PAGE, { headers: { 'content-type': 'text/html; charset=utf-8' } })
      if (path === '/harness.js') return new Response(script, { headers: { 'content-type': 'text/javascript; charset=utf-8' } })
      return new Response('not found', { status: 404 })
    },
  })
  return {
    url: `http://${LOOPBACK}:${server.port}/`,
    async stop() {
      await server.stop(true)
    },
  }
}

/** A page with the harness loaded, plus what it logged (for assertion messages). */
export interface HarnessPage {
  page: Page
  context: BrowserContext
  /** Console messages and page errors, in order. */
  console: string[]
  /** `pbHarness.start(options)` in the page (registers; rejects when registration fails). */
  start(options: HarnessStartOptions): Promise<void>
  /** A copy of `pbHarness.state`. */
  state(): Promise<HarnessState>
  sendMessage(target: string, body: string): Promise<number>
  call(target: string): Promise<void>
  hangup(): Promise<void>
  mediaCounters(): Promise<MediaCounters>
  /** Waits until `predicate(state)` holds in the page (polled), or throws with the state and console. */
  waitForState(predicate: (state: HarnessState) => boolean, description: string, timeoutMs?: number): Promise<HarnessState>
  close(): Promise<void>
}

type HarnessWindow = { pbHarness: SipUaHarness }

/**
 * Opens a new context (microphone granted) and page on the harness server and waits until
 * `window.pbHarness` exists. With `toneHz` the microphone is a sine tone at that frequency
 * and the page's peer connections are recorded (to measure the far end's audio).
 */
export async function openHarnessPage(browser: Browser, server: HarnessServer, label = 'page', options: { toneHz?: number } = {}): Promise<HarnessPage> {
  const context = await browser.newContext({ permissions: ['microphone'] })
  if (options.toneHz !== undefined) {
    // A known tone as microphone, and the page's peer connections kept, so that a test can
    // tell what each side hears (tests/e2e/softphone-helpers.ts remoteSpectrum).
    await context.addInitScript(installToneMicrophone, options.toneHz)
    await context.addInitScript(capturePeerConnections)
  }
  const page = await context.newPage()
  const consoleLines: string[] = []
  page.on('console', (message) => consoleLines.push(`[${label} ${message.type()}] ${message.text()}`))
  page.on('pageerror', (error) => consoleLines.push(`[${label} pageerror] ${error.message}`))
  await page.goto(server.url)
  await page.waitForFunction(() => 'pbHarness' in window, undefined, { timeout: 10_000 })
  const harness: HarnessPage = {
    page,
    context,
    console: consoleLines,
    start: (options) => page.evaluate((o) => (window as unknown as HarnessWindow).pbHarness.start(o), options),
    state: () => page.evaluate(() => structuredClone((window as unknown as HarnessWindow).pbHarness.state)),
    sendMessage: (target, body) => page.evaluate(([t, b]) => (window as unknown as HarnessWindow).pbHarness.sendMessage(t, b), [target, body] as const),
    call: (target) => page.evaluate((t) => (window as unknown as HarnessWindow).pbHarness.call(t), target),
    hangup: () => page.evaluate(() => (window as unknown as HarnessWindow).pbHarness.hangup()),
    mediaCounters: () => page.evaluate(() => (window as unknown as HarnessWindow).pbHarness.mediaCounters()),
    async waitForState(predicate, description, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs
      let last = await harness.state()
      while (!predicate(last)) {
        if (Date.now() > deadline) {
          throw new Error(`${label}: timed out after ${timeoutMs} ms waiting for ${description}\nstate: ${JSON.stringify(last)}\n` +
            `console:\n${consoleLines.slice(-30).join('\n')}`)
        }
        await Bun.sleep(50)
        last = await harness.state()
      }
      return last
    },
    async close() {
      await context.close()
    },
  }
  return harness
}

export type { Browser, HarnessStartOptions, HarnessState }

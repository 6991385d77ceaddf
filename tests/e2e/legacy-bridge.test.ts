/**
 * Browser softphone <-> legacy SIP phone through the gateway's media anchoring (issue 4),
 * once with each media driver: the embedded one (werift in process) and rtpengine.
 *
 * The legacy phone is baresip (G.711 only, no ICE, auto-answer) sending a 1000 Hz sine and
 * recording what it hears; the browser sends 440 Hz and checks the far end with its
 * analyser. A call passes only when each side hears the other's tone (not its own echo).
 * A SIPp `uac_pcap` call (G.711 + RFC 4733 DTMF from its pcap) checks audio and DTMF into
 * the browser. Needs: chromium, baresip-core, rtpengine-daemon, sip-tester
 * (tests/setup/install-peers.sh installs them).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { startGateway, type RunningGateway } from '../../gateway/src/main.ts'
import { testConfig } from '../support/gateway.ts'
import { Baresip } from '../support/baresip.ts'
import { startRtpengine, type RunningRtpengine } from '../support/rtpengine.ts'
import { PeerProcess, requireBinary } from '../support/processes.ts'
import { freeUdpPort } from '../support/ports.ts'
import {
  dial, dtmfTonesHeard, launchChromium, openSoftphone, remoteSpectrum, signIn, waitForCall, waitForIdle,
  waitForSilence, waitForTone, watchDtmfTones, type SoftphonePage,
} from './softphone-helpers.ts'

setDefaultTimeout(60_000)

const BROWSER_HZ = 440
const PHONE_HZ = 1000

for (const driver of ['embedded', 'rtpengine'] as const) {
  describe(`browser <-> baresip through the ${driver} media driver`, () => {
    let gateway: RunningGateway
    let rtpengine: RunningRtpengine | null = null
    let browser: Browser
    let alice: SoftphonePage
    let carol: Baresip

    beforeAll(async () => {
      if (driver === 'rtpengine') rtpengine = await startRtpengine()
      gateway = await startGateway(testConfig({
        media: { driver, ...(rtpengine ? { rtpengine: [{ host: '127.0.0.1', port: rtpengine.ngPort }] } : {}) },
      }))
      carol = await Baresip.start({ user: 'carol', password: 'carol-demo', domain: 'patchbay.test', gatewayUdpPort: gateway.udpPort, toneHz: PHONE_HZ })
      browser = await launchChromium()
      alice = await openSoftphone(browser, gateway.httpUrl, { toneHz: BROWSER_HZ, label: `alice-${driver}` })
      await signIn(alice.page, 'alice', 'alice-demo')
    })

    afterAll(async () => {
      await browser?.close()
      await carol?.stop()
      await gateway?.stop()
      await rtpengine?.stop()
    })

    test('the browser calls the desk phone: each hears the other', async () => {
      const before = carol.recordings().length
      const t0 = Date.now()
      await dial(alice.page, 'carol')
      await waitForCall(alice.page, (c) => c.state === 'connected')
      await waitForTone(alice.page, PHONE_HZ, 15_000)
      console.log(`[${driver}] browser -> baresip: dial to ${PHONE_HZ} Hz heard in ${Date.now() - t0} ms`)
      expect(gateway.internals.anchoredCalls!.size).toBe(1)
      await Bun.sleep(1500) // let baresip record the browser's tone
      await alice.page.locator('pb-call-card button[aria-label="Hang up"]').click()
      await waitForIdle(alice.page)
      await Bun.sleep(500)
      const heard = carol.newestRecordingTone(before, BROWSER_HZ, PHONE_HZ)
      expect(heard.target).toBeGreaterThan(heard.other * 10)
      expect(gateway.internals.anchoredCalls!.size).toBe(0)
      expect(gateway.internals.media?.activeSessions ?? -1).toBe(0)
    })

    test('the desk phone calls the browser: each hears the other', async () => {
      const before = carol.recordings().length
      await carol.dial('sip:alice@patchbay.test')
      await waitForCall(alice.page, (c) => c.state === 'incoming')
      await alice.page.locator('pb-incoming-call button[part="answer"]').click()
      await waitForCall(alice.page, (c) => c.state === 'connected')
      await waitForTone(alice.page, PHONE_HZ, 15_000)
      await Bun.sleep(1500)
      await alice.page.locator('pb-call-card button[aria-label="Hang up"]').click()
      await waitForIdle(alice.page)
      await Bun.sleep(500)
      const heard = carol.newestRecordingTone(before, BROWSER_HZ, PHONE_HZ)
      expect(heard.target).toBeGreaterThan(heard.other * 10)
      expect(gateway.internals.media?.activeSessions ?? -1).toBe(0)
    })

    test('hold and resume from the browser: the phone falls silent, then its tone returns', async () => {
      await dial(alice.page, 'carol')
      await waitForCall(alice.page, (c) => c.state === 'connected')
      await waitForTone(alice.page, PHONE_HZ, 15_000)
      await alice.page.locator('pb-call-card button[aria-label="Hold"]').click()
      await waitForSilence(alice.page)
      await alice.page.locator('pb-call-card button[aria-label="Resume"]').click()
      await waitForTone(alice.page, PHONE_HZ, 15_000)
      await alice.page.locator('pb-call-card button[aria-label="Hang up"]').click()
      await waitForIdle(alice.page)
    })

    test('the browser\'s WebSocket drops mid-call: baresip gets a BYE and no media session is left', async () => {
      await dial(alice.page, 'carol')
      await waitForCall(alice.page, (c) => c.state === 'connected')
      await waitForTone(alice.page, PHONE_HZ, 15_000)
      const mark = carol.process.output().length
      const closedAt = Date.now()
      await alice.page.close() // the page's WebSocket goes with it
      const deadline = Date.now() + 5000
      while (Date.now() < deadline && !/BYE|closed|terminated/i.test(carol.process.output().slice(mark))) await Bun.sleep(100)
      expect(carol.process.output().slice(mark)).toMatch(/BYE|closed|terminated/i)
      console.log(`[${driver}] WebSocket closed -> baresip saw the call end in ${Date.now() - closedAt} ms`)
      expect(gateway.internals.anchoredCalls!.size).toBe(0)
      expect(gateway.internals.media?.activeSessions ?? -1).toBe(0)
      alice = await openSoftphone(browser, gateway.httpUrl, { toneHz: BROWSER_HZ, label: `alice-${driver}-2` })
      await signIn(alice.page, 'alice', 'alice-demo')
    })

    test('SIPp uac_pcap (G.711 + RFC 4733 DTMF) calls the browser: audio and DTMF arrive', async () => {
      const sipp = requireBinary('sipp', 'sip-tester')
      const dir = mkdtempSync(join(tmpdir(), 'patchbay-pcap-'))
      try {
        const scenario = Bun.spawnSync([sipp, '-sd', 'uac_pcap']).stdout.toString()
          .replaceAll('pcap/', '/usr/share/sip-tester/')
          // a caller from another domain: not a local user, so not challenged
          .replaceAll('<sip:sipp@[local_ip]:[local_port]>', '<sip:sipp@example.org>')
        writeFileSync(join(dir, 'uac_pcap.xml'), scenario)
        const port = await freeUdpPort()
        const run = new PeerProcess('sipp-pcap', [sipp, `127.0.0.1:${gateway.udpPort}`, '-sf', join(dir, 'uac_pcap.xml'), '-s', 'alice',
          '-i', '127.0.0.1', '-ci', '127.0.0.1', '-p', String(port), '-mi', '127.0.0.1', '-m', '1', '-nostdin', '-timeout', '40'], { cwd: dir })
        await waitForCall(alice.page, (c) => c.state === 'incoming', 10_000).catch(async (e: Error) => {
          await run.kill()
          throw new Error(`${e.message}\n--- sipp ---\n${run.tail(30)}`)
        })
        await alice.page.locator('pb-incoming-call button[part="answer"]').click()
        await waitForCall(alice.page, (c) => c.state === 'connected')
        await watchDtmfTones(alice.page)
        // the pcap carries speech-band audio: the analyser must see a level far above silence
        let loudest = -200
        const until = Date.now() + 8000
        while (Date.now() < until && loudest < -60) {
          loudest = Math.max(loudest, (await remoteSpectrum(alice.page, 250).catch(() => ({ peakDb: -200 }))).peakDb)
        }
        expect(loudest).toBeGreaterThan(-60)
        const code = await run.exited
        expect(code, run.tail()).toBe(0)
        const digits = await dtmfTonesHeard(alice.page)
        expect(digits.length, `DTMF heard: "${digits}"`).toBeGreaterThan(0)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
}

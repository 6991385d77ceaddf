/**
 * Flood defence against real traffic (issue 11, item 4): SIPp floods the gateway with
 * REGISTERs from 127.0.0.2 (3,000/s, well past the default per-source limit of 2,000 per 2 s)
 * while a call between two other peers runs through it: alice in Chromium (the softphone,
 * WebRTC, 440 Hz) and carol, a baresip desk phone (G.711, 1000 Hz), with the media anchored
 * in the gateway's own event loop by the embedded driver. The flooder must be banned, and the
 * call must keep its audio both ways through the flood and end with a BYE that is answered.
 *
 * Needs SIPp, baresip and Chromium (tests/setup/install-peers.sh).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { TEST_DOMAIN, startGateway, testConfig, type RunningGateway } from '../../support/gateway.ts'
import { Baresip, readWav } from '../../support/baresip.ts'
import { goertzelPower } from '../../support/dsp/goertzel.ts'
import { requireBinary } from '../../support/processes.ts'
import { startSipp } from '../../support/sipp.ts'
import {
  dial, launchChromium, openSoftphone, remoteSpectrum, signIn, waitForCall, waitForIdle, waitForTone, watchSipFrames,
  type SipFrames, type SoftphonePage,
} from '../../e2e/softphone-helpers.ts'

setDefaultTimeout(120_000)

const ADMIN_TOKEN = 'security-test-admin-token'
const BROWSER_HZ = 440
const PHONE_HZ = 1000
const FLOOD_IP = '127.0.0.2'
const FLOOD_RATE = 3000
const FLOOD_REQUESTS = 15_000

let gateway: RunningGateway
let carol: Baresip
let browser: Browser
let alice: SoftphonePage
let frames: SipFrames

beforeAll(async () => {
  requireBinary('sipp', 'sip-tester')
  gateway = await startGateway(testConfig({ media: { driver: 'embedded' }, adminToken: ADMIN_TOKEN, log: { level: 'error' } }))
  carol = await Baresip.start({ user: 'carol', password: 'carol-demo', domain: TEST_DOMAIN, gatewayUdpPort: gateway.udpPort, toneHz: PHONE_HZ })
  browser = await launchChromium()
  alice = await openSoftphone(browser, gateway.httpUrl, { toneHz: BROWSER_HZ, label: 'alice-flood' })
  frames = watchSipFrames(alice.page) // before the WebSocket opens (sign-in)
  await signIn(alice.page, 'alice', 'alice-demo')
})

afterAll(async () => {
  await browser?.close().catch(() => undefined)
  await carol?.stop().catch(() => undefined)
  await gateway?.stop()
})

/** A cumulative counter from SIPp's -trace_stat CSV (last row). */
function sippCounter(dir: string, name: string): number {
  const lines = readFileSync(join(dir, 'stat.csv'), 'utf8').trim().split('\n')
  const header = lines[0]!.split(';')
  return Number(lines[lines.length - 1]!.split(';')[header.indexOf(name)])
}

async function admin(path: string): Promise<any> {
  const res = await fetch(`${gateway.httpUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  return res.json()
}

/**
 * Share of 200 ms windows of a recording (8 kHz mono) in which `hz` is present and clearly
 * above `otherHz`, between `fromS` and `toS` seconds.
 */
function toneCoverage(path: string, hz: number, otherHz: number, fromS: number, toS: number): { windows: number; withTone: number } {
  const { rate, samples } = readWav(path)
  const win = Math.round(rate / 5)
  let windows = 0
  let withTone = 0
  for (let start = Math.round(fromS * rate); start + win <= Math.min(samples.length, Math.round(toS * rate)); start += win) {
    const w = samples.subarray(start, start + win)
    const target = goertzelPower(w, rate, hz)
    const other = goertzelPower(w, rate, otherHz)
    let energy = 0
    for (let i = 0; i < w.length; i++) energy += w[i]! * w[i]!
    windows++
    // goertzelPower gives a sine's squared amplitude, twice its mean square: the tone carries at
    // least half the window's power, is audible (amplitude > 100) and beats the other tone tenfold.
    if (target > other * 10 && target >= energy / w.length && target > 100 * 100) withTone++
  }
  return { windows, withTone }
}

describe('a REGISTER flood from one address while a call runs', () => {
  test('the flooder is banned; the call keeps its audio both ways and its BYE is answered', async () => {
    const before = carol.recordings().length
    await dial(alice.page, 'carol')
    await waitForCall(alice.page, (c) => c.state === 'connected')
    await waitForTone(alice.page, PHONE_HZ, 15_000)
    const callStart = Date.now()
    await Bun.sleep(1000)

    // The flood: 3,000 REGISTERs/s from 127.0.0.2 for 5 s, answers never waited for.
    const floodStart = Date.now()
    const receivedBefore = gateway.internals.transport.stats.received
    const flooder = await startSipp({
      name: 'flood', scenarioFile: join(import.meta.dir, 'sipp-flood-register.xml'), remote: `127.0.0.1:${gateway.udpPort}`,
      calls: FLOOD_REQUESTS, rate: FLOOD_RATE, keys: { domain: TEST_DOMAIN }, traceMessages: false,
      extraArgs: ['-i', FLOOD_IP, '-mi', FLOOD_IP],
    })
    // While it runs, alice's far end is sampled every ~300 ms: carol's 1000 Hz must be there.
    const samples: Array<{ peakHz: number; peakDb: number }> = []
    let floodEnded = false
    const finished = flooder.finish(60_000).then((r) => { floodEnded = true; return r })
    // Time to ban, from the admin API, polled beside the audio sampling.
    const banned = (async () => {
      while (!floodEnded) {
        const { bans } = await admin('/api/security/bans')
        if (bans.some((b: { source: string }) => b.source === FLOOD_IP)) return Date.now() - floodStart
        await Bun.sleep(25)
      }
      return -1
    })()
    while (!floodEnded) samples.push(await remoteSpectrum(alice.page, 250))
    const flood = await finished
    const banMs = await banned
    const floodEnd = Date.now()
    const receivedDuringFlood = gateway.internals.transport.stats.received - receivedBefore
    await Bun.sleep(1000)

    // Hang up from the browser: the BYE goes through the gateway to carol (UDP) and is answered.
    await alice.page.locator('pb-call-card button[aria-label="Hang up"]').click()
    await waitForIdle(alice.page)
    const callEnd = Date.now()
    const byeSent = frames.sent.find((m) => m.startsWith('BYE '))
    expect(byeSent, 'the page sent no BYE').toBeDefined()
    const byeCallId = /^Call-ID:\s*(.+)$/im.exec(byeSent!)?.[1]?.trim()
    const deadline = Date.now() + 5000
    const byeAnswered = () => frames.received.find((m) => /^SIP\/2\.0 200 /.test(m) && /^CSeq:\s*\d+ BYE/im.test(m) && m.includes(byeCallId!))
    while (!byeAnswered() && Date.now() < deadline) await Bun.sleep(50)
    expect(byeAnswered(), 'the BYE got no 200 OK').toBeDefined()
    const carolDeadline = Date.now() + 5000
    while (Date.now() < carolDeadline && !/terminated|closed/i.test(carol.process.output())) await Bun.sleep(100)
    expect(carol.process.output()).toMatch(/terminated|closed/i)
    expect(gateway.internals.anchoredCalls!.size).toBe(0)
    expect(gateway.internals.media?.activeSessions ?? -1).toBe(0)

    // The flooder: banned for flooding, its requests counted and refused.
    const { bans, stats } = await admin('/api/security/bans')
    const ban = bans.find((b: { source: string }) => b.source === FLOOD_IP)
    expect(ban).toMatchObject({ source: FLOOD_IP, reason: 'flood' })
    expect(bans.some((b: { source: string }) => b.source === '127.0.0.1')).toBe(false)
    expect(stats.floodBans).toBe(1)
    expect(banMs).toBeGreaterThan(0)
    const sent = flood.stats?.created ?? 0
    // Answers to calls SIPp had already ended (its scenario only sends): DeadCallMsgs.
    const answered = sippCounter(flood.dir, 'DeadCallMsgs(C)')
    expect(sent).toBe(FLOOD_REQUESTS)
    // At most the per-source limit (2,000 per 2 s) got an answer; everything else that reached
    // the gateway was dropped (a few dozen datagrams of the call itself aside).
    expect(answered).toBeLessThanOrEqual(2000)
    expect(answered).toBeGreaterThan(0)
    expect(receivedDuringFlood).toBeGreaterThan(FLOOD_REQUESTS * 0.8)
    expect(stats.refusedWhileBanned).toBeGreaterThanOrEqual(receivedDuringFlood - 2000 - 100)

    // Audio browser <- phone during the flood: every sample carries carol's tone.
    const withTone = samples.filter((s) => s.peakDb > -70 && Math.abs(s.peakHz - PHONE_HZ) <= 8).length
    expect(samples.length).toBeGreaterThan(5)
    expect(withTone).toBe(samples.length)
    // Audio phone <- browser: carol's recording carries alice's tone throughout the flood.
    await Bun.sleep(500)
    const recs = carol.recordings()
    expect(recs.length).toBeGreaterThan(before)
    const rec = recs[recs.length - 1]!
    const recSeconds = readWav(rec).samples.length / 8000
    // The recording starts with the call (give or take setup): the flood window in it.
    const offset = Math.max(0, recSeconds - (callEnd - callStart) / 1000)
    const cov = toneCoverage(rec, BROWSER_HZ, PHONE_HZ, offset + (floodStart - callStart) / 1000, offset + (floodEnd - callStart) / 1000)
    if (cov.withTone / cov.windows <= 0.95) console.log(`tone windows at carol: ${JSON.stringify(cov)}; recording ${recSeconds.toFixed(1)} s, call ${((callEnd - callStart) / 1000).toFixed(1)} s`)
    expect(cov.windows).toBeGreaterThan(10)
    expect(cov.withTone / cov.windows).toBeGreaterThan(0.95)

    console.log(`flood: SIPp sent ${sent} REGISTERs from ${FLOOD_IP} at ${FLOOD_RATE}/s in ${((floodEnd - floodStart) / 1000).toFixed(1)} s; ` +
      `the gateway received ${receivedDuringFlood} messages meanwhile; ${answered} answers (401) reached SIPp before the ban, ` +
      `${stats.refusedWhileBanned} requests refused (dropped); banned ${banMs} ms after SIPp started (incl. its start-up); ban ${JSON.stringify(ban)}. ` +
      `Call alice (browser) <-> carol (baresip), anchored: far end tone in ${withTone}/${samples.length} samples at alice, ` +
      `${cov.withTone}/${cov.windows} 200 ms windows at carol during the flood; BYE answered 200.`)
  })
})

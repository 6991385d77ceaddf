/**
 * Peer isolation (issue 11, deliver item 1; RFC 3261 §18.4, §17): peers that vanish must not
 * cost anybody else their answers.
 *
 * Vanishing clients send an INVITE the gateway rejects (407: no credentials) and close their
 * socket at once, so that the gateway's final response and every retransmission of it
 * (Timer G, §17.2.1) meet an ICMP port-unreachable. Linux hands such an error to the *next*
 * send on the gateway's socket, whatever its destination: Bun throws ECONNREFUSED from
 * send(), and sendmmsg(2) (Bun's sendMany) stops the batch there and returns a short count.
 * Meanwhile a healthy client sends OPTIONS one at a time and every single one must be
 * answered. The same over TCP, with clients that connect, send an INVITE and reset (RST) or
 * close (FIN) the connection at once.
 *
 * Rounds of vanishing clients run in the background all along (their 407s are retransmitted
 * every 50-400 ms: short timers), and one more round goes out in the same turn as each
 * OPTIONS, so that the gateway reads both together and answers them in one batch: the
 * healthy client's answer then sits behind datagrams to vanished peers, the case that lost
 * it (before the fix, 300 of 300 answers were lost this way; see the report of issue 11).
 *
 * The vanishing clients use the source addresses 127.0.0.2 .. 127.0.0.21 and the healthy one
 * 127.0.0.1, as many phones and one other phone would: the per-source flood limit (pike) then
 * treats each as a separate source and cannot be what separates them.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import net from 'node:net'
import type { Socket } from 'bun'
import { TEST_DOMAIN, startGateway, testConfig, type RunningGateway } from '../../support/gateway.ts'
import { SipText, formatSipText } from '../../support/sip-text.ts'
import { UdpPhone } from './udp-phone.ts'

setDefaultTimeout(120_000)

/** OPTIONS the healthy client sends, one after the other. */
const HEALTHY_REQUESTS = 300
/** How long the healthy client waits for each answer before counting it lost (it does not retransmit). */
const ANSWER_WAIT_MS = 2_000
/** Vanishing clients per round, and the pause between background rounds. */
const VANISHERS_PER_ROUND = 4
const ROUND_MS = 5
/** Pause between one answer and the next OPTIONS. */
const HEALTHY_GAP_MS = 10
/** Source addresses of the vanishing clients: 127.0.0.2 .. 127.0.0.(1 + VANISHING_SOURCES). */
const VANISHING_SOURCES = 20
/** A trusted caller (proxy.trustedSources: not challenged) for the call to a vanished phone. */
const TRUSTED_CALLER = '127.0.0.50'
/** Short timers: T1 50 ms, so Timer B (64*T1) fires after 3.2 s. */
const TIMER_B_MS = 64 * 50

const encoder = new TextEncoder()
const decoder = new TextDecoder()

let gateway: RunningGateway

beforeAll(async () => {
  // Short timers (T1 50 ms): the rejected INVITEs' 407s are retransmitted often (Timer G),
  // so that ICMP errors keep arriving all through the healthy client's run.
  gateway = await startGateway(testConfig(
    { media: { driver: 'none' }, log: { level: 'error' }, proxy: { trustedSources: [TRUSTED_CALLER] } },
    { shortTimers: true },
  ))
})

afterAll(async () => {
  await gateway?.stop()
})

function vanishingSource(n: number): string {
  return `127.0.0.${2 + (n % VANISHING_SOURCES)}`
}

function invite(transport: 'UDP' | 'TCP', host: string, port: number, n: number): string {
  return formatSipText({
    startLine: `INVITE sip:bob@${TEST_DOMAIN} SIP/2.0`,
    headers: [
      ['Via', `SIP/2.0/${transport} ${host}:${port};branch=z9hG4bK-vanish-${transport}-${n};rport`],
      ['Max-Forwards', '70'],
      ['From', `<sip:mallory@${TEST_DOMAIN}>;tag=v${n}`],
      ['To', `<sip:bob@${TEST_DOMAIN}>`],
      ['Call-ID', `vanish-${transport}-${n}`],
      ['CSeq', '1 INVITE'],
      ['Contact', `<sip:mallory@${host}:${port}>`],
    ],
  })
}

function options(transport: 'UDP' | 'TCP', port: number, n: number): string {
  return formatSipText({
    startLine: `OPTIONS sip:${TEST_DOMAIN} SIP/2.0`,
    headers: [
      ['Via', `SIP/2.0/${transport} 127.0.0.1:${port};branch=z9hG4bK-healthy-${transport}-${n};rport`],
      ['Max-Forwards', '70'],
      ['From', `<sip:healthy@${TEST_DOMAIN}>;tag=h${n}`],
      ['To', `<sip:${TEST_DOMAIN}>`],
      ['Call-ID', `healthy-${transport}-${n}`],
      ['CSeq', `${n + 1} OPTIONS`],
    ],
  })
}

/** Final answers by Call-ID, handed to whoever waits for them. */
class Answers {
  private readonly waiting = new Map<string, (status: number) => void>()

  arrived(m: SipText | null): void {
    if (m === null || !m.isResponse || m.status < 200) return
    this.waiting.get(m.callId)?.(m.status)
  }

  /** The status of the final answer to `callId`, or null after `ms`. */
  wait(callId: string, ms: number): Promise<number | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(callId)
        resolve(null)
      }, ms)
      this.waiting.set(callId, (status) => {
        clearTimeout(timer)
        this.waiting.delete(callId)
        resolve(status)
      })
    })
  }
}

/** Splits a TCP byte stream into messages by Content-Length (RFC 3261 §18.3). */
function streamFramer(onMessage: (m: SipText | null) => void): (chunk: Uint8Array) => void {
  let buffered = ''
  return (chunk) => {
    buffered += decoder.decode(chunk)
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n')
      if (end < 0) return
      const length = Number(/\r\n(?:content-length|l)\s*:\s*(\d+)/i.exec(buffered.slice(0, end + 2))?.[1] ?? 0)
      if (buffered.length < end + 4 + length) return
      onMessage(SipText.parse(buffered.slice(0, end + 4 + length)))
      buffered = buffered.slice(end + 4 + length)
    }
  }
}

interface Run {
  answered: number
  lost: number
  vanished: number
  seconds: number
}

/**
 * Vanishing clients, in two steps: the promise opens their sockets (asynchronous), and the
 * function it gives sends each one's INVITE and closes (or resets) it at once, returning how
 * many vanished.
 */
type Vanishers = () => Promise<() => number>

/**
 * Sends HEALTHY_REQUESTS OPTIONS one at a time through `send` while rounds of vanishing
 * clients run every ROUND_MS in the background, and one more round goes out right before
 * each OPTIONS, in the same turn; counts the answers.
 */
async function healthyWhileVanishing(transport: 'UDP' | 'TCP', send: (n: number) => void, answers: Answers,
  prepare: Vanishers): Promise<Run> {
  let running = true
  let vanished = 0
  const storm = (async () => {
    while (running) {
      const fire = await prepare()
      vanished += fire()
      await Bun.sleep(ROUND_MS)
    }
  })()
  // Let the storm build up: ICMP errors are arriving before the first OPTIONS goes out.
  await Bun.sleep(300)
  const started = performance.now()
  let answered = 0
  let lost = 0
  for (let n = 0; n < HEALTHY_REQUESTS; n++) {
    const answer = answers.wait(`healthy-${transport}-${n}`, ANSWER_WAIT_MS)
    const fire = await prepare()
    vanished += fire()
    send(n)
    if ((await answer) === 200) answered++
    else lost++
    await Bun.sleep(HEALTHY_GAP_MS)
  }
  running = false
  await storm
  return { answered, lost, vanished, seconds: (performance.now() - started) / 1000 }
}

function report(what: string, run: Run): Record<string, number> {
  const t = gateway.internals.transport.stats
  console.log(`[peer-isolation] ${what}: ${run.answered} of ${HEALTHY_REQUESTS} answered, ${run.lost} lost, ` +
    `${run.vanished} vanishing clients in ${run.seconds.toFixed(1)} s; send errors ${t.sendErrors} ` +
    `${JSON.stringify(t.sendErrorsByCause)}, ${t.sendRetries} datagrams sent again after another peer's ICMP error`)
  return { ...t.sendErrorsByCause }
}

describe('one vanished peer costs nobody else an answer', () => {
  test(`UDP: ${HEALTHY_REQUESTS} OPTIONS one at a time, all answered while clients vanish after their INVITE`, async () => {
    const answers = new Answers()
    const healthy = await Bun.udpSocket({
      hostname: '127.0.0.1',
      port: 0,
      socket: { data: (_s, data) => answers.arrived(SipText.parse(decoder.decode(data))) },
    })
    let next = 0
    const vanish: Vanishers = async () => {
      const hosts = Array.from({ length: VANISHERS_PER_ROUND }, (_, i) => vanishingSource(next + i))
      const sockets = await Promise.all(hosts.map((hostname) => Bun.udpSocket({ hostname, port: 0 })))
      return () => {
        for (const [i, s] of sockets.entries()) {
          s.send(invite('UDP', hosts[i]!, s.port, next++), gateway.udpPort, '127.0.0.1')
          s.close()
        }
        return sockets.length
      }
    }
    try {
      const before = gateway.internals.transport.stats.sendErrorsByCause.econnrefused
      const run = await healthyWhileVanishing('UDP',
        (n) => healthy.send(options('UDP', healthy.port, n), gateway.udpPort, '127.0.0.1'), answers, vanish)
      const causes = report('UDP', run)
      expect(run.vanished).toBeGreaterThan(1_000)
      // The vanished peers' 407s did meet ICMP port-unreachable, thousands of times ...
      expect(causes.econnrefused! - before).toBeGreaterThan(1_000)
      // ... and the healthy client lost nothing.
      expect(run.lost).toBe(0)
      expect(run.answered).toBe(HEALTHY_REQUESTS)
    } finally {
      healthy.close()
    }
  })

  test(`TCP: ${HEALTHY_REQUESTS} OPTIONS over one connection, all answered while clients connect, send an INVITE and reset or close`, async () => {
    const answers = new Answers()
    const frame = streamFramer((m) => answers.arrived(m))
    const healthy: Socket<undefined> = await Bun.connect({
      hostname: '127.0.0.1',
      port: gateway.tcpPort,
      socket: { data: (_s, chunk) => frame(chunk) },
    })
    let next = 0
    const vanish: Vanishers = async () => {
      const sockets = await Promise.all(Array.from({ length: VANISHERS_PER_ROUND }, (_, i) => new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port: gateway.tcpPort, localAddress: vanishingSource(next + i) }, () => resolve(s))
        s.on('error', reject)
      })))
      return () => {
        for (const s of sockets) {
          const n = next++
          s.on('error', () => {})
          s.write(invite('TCP', s.localAddress!, s.localPort!, n))
          // Half the clients reset the connection (RST), the others close it (FIN).
          if (n % 2 === 0) s.resetAndDestroy()
          else s.destroy()
        }
        return sockets.length
      }
    }
    try {
      const before = gateway.internals.transport.stats.sendErrorsByCause['closed-connection']
      const run = await healthyWhileVanishing('TCP',
        (n) => healthy.write(encoder.encode(options('TCP', healthy.localPort, n))), answers, vanish)
      const causes = report('TCP', run)
      expect(run.vanished).toBeGreaterThan(1_000)
      // Answers to reset connections failed (counted), ...
      expect(causes['closed-connection']! - before).toBeGreaterThan(0)
      // ... and the healthy client lost nothing.
      expect(run.lost).toBe(0)
      expect(run.answered).toBe(HEALTHY_REQUESTS)
    } finally {
      healthy.end()
    }
  })

  test('a call to a UDP phone that vanished ends the RFC 3261 way: Timer B, 408 upstream; its ICMP errors are counted', async () => {
    const phone = await UdpPhone.open('bob', 'bob-demo', TEST_DOMAIN)
    expect((await phone.register(gateway.udpPort)).status).toBe(200)
    phone.close()
    const received: SipText[] = []
    const caller = await Bun.udpSocket({
      hostname: TRUSTED_CALLER,
      port: 0,
      socket: { data: (_s, d) => { const m = SipText.parse(decoder.decode(d)); if (m) received.push(m) } },
    })
    const icmpBefore = gateway.internals.transport.stats.sendErrorsByCause.econnrefused
    try {
      const started = performance.now()
      caller.send(formatSipText({
        startLine: `INVITE sip:bob@${TEST_DOMAIN} SIP/2.0`,
        headers: [
          ['Via', `SIP/2.0/UDP ${TRUSTED_CALLER}:${caller.port};branch=z9hG4bK-to-vanished;rport`],
          ['Max-Forwards', '70'],
          ['From', `<sip:carol@${TEST_DOMAIN}>;tag=c1`],
          ['To', `<sip:bob@${TEST_DOMAIN}>`],
          ['Call-ID', 'call-to-vanished'],
          ['CSeq', '1 INVITE'],
          ['Contact', `<sip:carol@${TRUSTED_CALLER}:${caller.port}>`],
        ],
      }), gateway.udpPort, '127.0.0.1')
      const deadline = Date.now() + TIMER_B_MS + 5_000
      while (!received.some((m) => m.isResponse && m.status >= 200) && Date.now() < deadline) await Bun.sleep(20)
      const elapsed = performance.now() - started
      const final = received.find((m) => m.isResponse && m.status >= 200)
      expect(received.map((m) => m.status)).toContain(100)
      expect(final?.status).toBe(408)
      // The branch ended at Timer B, not earlier (no ICMP can be matched to it) and not later.
      expect(elapsed).toBeGreaterThanOrEqual(TIMER_B_MS - 100)
      // The INVITE and its retransmissions (Timer A) met the closed port.
      expect(gateway.internals.transport.stats.sendErrorsByCause.econnrefused - icmpBefore).toBeGreaterThanOrEqual(3)
    } finally {
      caller.close()
    }
  })
})

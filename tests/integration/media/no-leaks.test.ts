/**
 * No leaks across many anchored calls, through a REAL gateway (startGateway, media driver
 * `embedded`): 30 calls in a row between a WebSocket client (alice, RFC 7118) whose SDP is a
 * werift RTCPeerConnection's offer (ICE + DTLS-SRTP, like Chrome) and a plain UDP SIP phone
 * (bob, registered over UDP with digest, answering with G.711 RTP/AVP from a real RTP socket
 * pair). Every call ends in one of five ways, in rotation:
 *
 *   1. BYE from the caller          (RFC 3261 §15.1)
 *   2. BYE from the callee          (through the Record-Route, §12.2.1.1)
 *   3. CANCEL before the answer     (§9.1; 200 for the CANCEL, 487 for the INVITE)
 *   4. 486 Busy Here from the callee
 *   5. the caller's WebSocket closed mid-call (the gateway BYEs the callee)
 *
 * Each call checks mid-call that there is something to leak (a media session, an anchored
 * dialog or a pending INVITE, a bound relay port, live transactions); afterwards the test
 * asserts that everything is back to zero: media.activeSessions, proxy.anchored,
 * proxy.pendingInvites, the relay's RTP/RTCP ports, this process's UDP sockets (werift's ICE
 * sockets included), and, once the transaction timers ran out, the transaction table.
 *
 * Timers: T1 50 ms, T2 400 ms, T4 500 ms (testConfig shortTimers). Timer D is not derived from
 * T1 for UDP (RFC 3261 §17.1.1.2: "at least 32 seconds for unreliable transports"), so the
 * gateway runs on a {@link WarpScheduler}: real timers, plus a jump forward at the end that
 * fires what would fire in the next 33 s (instead of sitting through them).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'
import { parse } from 'sdp-transform'
import type { Scheduler, TimerHandle } from '../../../gateway/src/base/scheduler.ts'
import { DEMO_USERS, TEST_DOMAIN, startGateway, testConfig, type RunningGateway } from '../../support/gateway.ts'
import { digestCredentials, parseDigestChallenge } from '../../support/digest.ts'
import { freePortRange, isUdpPortBound } from '../../support/ports.ts'
import { SipText, formatSipText, uriOf } from '../../support/sip-text.ts'
import { WsSipClient, newBranch, randomToken, type OutgoingCall } from '../../support/ws-sip-client.ts'
import { LOOPBACK, UdpPhone, WeriftBrowser } from './fake-peers.ts'

setDefaultTimeout(60_000)

const CALLS = 30
const ENDINGS = ['bye-caller', 'bye-callee', 'cancel', 'busy', 'ws-close'] as const
type Ending = (typeof ENDINGS)[number]

/**
 * Real timers (setTimeout), plus {@link warp}: moves the clock forward and fires, in due order,
 * every timer that falls due meanwhile (including timers those set).
 */
class WarpScheduler implements Scheduler {
  private offset = 0
  private nextId = 1
  private readonly timers = new Map<number, { due: number; fn: () => void; timeout: ReturnType<typeof setTimeout> }>()

  now(): number {
    return performance.now() + this.offset
  }

  unixSeconds(): number {
    return Math.floor((Date.now() + this.offset) / 1000)
  }

  setTimer<T>(ms: number, fn: (arg?: T) => void, arg?: T): TimerHandle {
    const id = this.nextId++
    const run = () => fn(arg)
    const timeout = setTimeout(() => {
      this.timers.delete(id)
      run()
    }, ms)
    this.timers.set(id, { due: this.now() + Math.max(0, ms), fn: run, timeout })
    return { id }
  }

  clearTimer(handle: TimerHandle): void {
    const id = (handle as { id: number }).id
    const t = this.timers.get(id)
    if (!t) return
    clearTimeout(t.timeout)
    this.timers.delete(id)
  }

  get pendingCount(): number {
    return this.timers.size
  }

  warp(ms: number): void {
    this.offset += ms
    for (;;) {
      let next: [number, { due: number; fn: () => void; timeout: ReturnType<typeof setTimeout> }] | null = null
      for (const entry of this.timers) if (entry[1].due <= this.now() && (next === null || entry[1].due < next[1].due)) next = entry
      if (next === null) return
      clearTimeout(next[1].timeout)
      this.timers.delete(next[0])
      next[1].fn()
    }
  }
}

/** The UDP sockets this process holds (inodes of its socket fds found in /proc/net/udp). */
function ownUdpSockets(): number {
  const inodes = new Set<string>()
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))
      if (m) inodes.add(m[1]!)
    } catch {}
  }
  let n = 0
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = ''
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9]
      if (inode && inodes.has(inode)) n++
    }
  }
  return n
}

async function until(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = performance.now() + timeoutMs
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await Bun.sleep(10)
  }
}

/** One INVITE as the UDP phone sees it, with what it answered last (for retransmissions). */
interface CalleeDialog {
  invite: SipText
  tag: string
  last: string | null
  rtp: UdpPhone | null
}

/**
 * A legacy SIP phone on one UDP socket: REGISTERs with digest (RFC 3261 §10.2, §22), rings
 * (180) on a new INVITE and answers it when the test says so ({@link UdpCallee.answer}),
 * absorbs retransmissions (re-sends its last answer),
 * answers CANCEL (200, then 487 for the INVITE, §9.2) and BYE (200), and sends BYE itself
 * through the route set (§12.2.1.1: the UAS route set is the Record-Route in order).
 */
class UdpCallee {
  readonly received: SipText[] = []
  readonly dialogs = new Map<string, CalleeDialog>()
  private waiters: Array<{ predicate: (m: SipText) => boolean; resolve: (m: SipText) => void }> = []
  private gatewayPort = 0

  private constructor(private readonly socket: Bun.udp.Socket<'buffer'>, readonly username: string, readonly password: string) {}

  static async open(username: string, password: string): Promise<UdpCallee> {
    let callee: UdpCallee | null = null
    const socket = await Bun.udpSocket({
      hostname: LOOPBACK,
      port: 0,
      socket: {
        data(_s, data) {
          callee?.onDatagram(data.toString('utf8'))
        },
      },
    })
    callee = new UdpCallee(socket, username, password)
    return callee
  }

  get port(): number {
    return this.socket.port
  }

  get contact(): string {
    return `sip:${this.username}@${LOOPBACK}:${this.port}`
  }

  close(): void {
    this.socket.close()
    for (const d of this.dialogs.values()) d.rtp?.close()
  }

  waitFor(predicate: (m: SipText) => boolean, what: string, timeoutMs = 5_000): Promise<SipText> {
    const found = this.received.find(predicate)
    if (found) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const waiter = { predicate, resolve: (m: SipText) => (clearTimeout(timer), resolve(m)) }
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(new Error(`${this.username} (UDP): timed out waiting for ${what}; got ${this.received.slice(-8).map((m) => m.describe()).join(', ')}`))
      }, timeoutMs)
      this.waiters.push(waiter)
    })
  }

  async register(gatewayPort: number): Promise<SipText> {
    this.gatewayPort = gatewayPort
    const uri = `sip:${TEST_DOMAIN}`
    const callId = randomToken(16)
    const send = (cseq: number, auth?: [string, string]) =>
      this.send(formatSipText({
        startLine: `REGISTER ${uri} SIP/2.0`,
        headers: [
          ['Via', `SIP/2.0/UDP ${LOOPBACK}:${this.port};branch=${newBranch()};rport`],
          ['Max-Forwards', '70'],
          ['From', `<sip:${this.username}@${TEST_DOMAIN}>;tag=${randomToken(8)}`],
          ['To', `<sip:${this.username}@${TEST_DOMAIN}>`],
          ['Call-ID', callId],
          ['CSeq', `${cseq} REGISTER`],
          ['Contact', `<${this.contact}>`],
          ['Expires', '600'],
          ...(auth ? [auth] : []),
        ],
      }))
    send(1)
    const first = await this.waitFor((m) => m.isResponse && m.callId === callId && m.cseq.seq === 1 && m.status >= 200, 'the REGISTER response')
    if (first.status !== 401) return first
    const challenge = first.getAll('www-authenticate').map(parseDigestChallenge).find((c) => c?.algorithm === 'MD5')
    if (!challenge) throw new Error(`no MD5 challenge in ${first.raw}`)
    send(2, ['Authorization', digestCredentials({ challenge, username: this.username, password: this.password, method: 'REGISTER', uri })])
    return this.waitFor((m) => m.isResponse && m.callId === callId && m.cseq.seq === 2 && m.status >= 200, 'the authenticated REGISTER response')
  }

  /** Answers the INVITE of `callId` (200 with its RTP SDP, or `status` without a body). */
  answer(callId: string, status: number, reason: string, body?: string): void {
    const d = this.dialogs.get(callId)
    if (!d) throw new Error(`no INVITE for ${callId}`)
    d.last = this.response(d.invite, status, reason, d.tag, body)
    this.send(d.last)
  }

  /** BYE from this phone in the dialog of `callId` (§12.2.1.1, §15.1.1). */
  bye(callId: string): string {
    const d = this.dialogs.get(callId)
    if (!d) throw new Error(`no dialog for ${callId}`)
    const invite = d.invite
    const contact = invite.getAll('contact')[0]
    if (!contact) throw new Error('INVITE without Contact')
    this.send(formatSipText({
      startLine: `BYE ${uriOf(contact)} SIP/2.0`,
      headers: [
        ['Via', `SIP/2.0/UDP ${LOOPBACK}:${this.port};branch=${newBranch()};rport`],
        ['Max-Forwards', '70'],
        ...invite.getAll('record-route').map((r): [string, string] => ['Route', r]),
        ['From', `${invite.get('to')};tag=${d.tag}`],
        ['To', invite.get('from') ?? ''],
        ['Call-ID', callId],
        ['CSeq', '1 BYE'],
      ],
    }))
    return callId
  }

  private send(text: string): void {
    this.socket.send(text, this.gatewayPort, LOOPBACK)
  }

  /** §8.2.6.2: Via (all), From, Call-ID, CSeq copied; To with our tag; Record-Route + Contact on 18x/2xx to INVITE. */
  private response(request: SipText, status: number, reason: string, tag: string | null, body?: string): string {
    const headers: Array<[string, string]> = request.fields('via').map((f): [string, string] => ['Via', f.value])
    const to = request.get('to') ?? ''
    headers.push(['From', request.get('from') ?? ''], ['To', request.toTag === null && tag ? `${to};tag=${tag}` : to])
    headers.push(['Call-ID', request.callId], ['CSeq', request.get('cseq') ?? ''])
    if (request.method === 'INVITE' && status > 100 && status < 300) {
      for (const rr of request.getAll('record-route')) headers.push(['Record-Route', rr])
      headers.push(['Contact', `<${this.contact}>`])
    }
    if (body) headers.push(['Content-Type', 'application/sdp'])
    return formatSipText({ startLine: `SIP/2.0 ${status} ${reason}`, headers, body })
  }

  private onDatagram(text: string): void {
    const m = SipText.parse(text)
    if (!m) return
    this.received.push(m)
    if (m.isRequest) this.onRequest(m)
    for (const w of [...this.waiters]) {
      if (w.predicate(m)) {
        this.waiters = this.waiters.filter((x) => x !== w)
        w.resolve(m)
      }
    }
  }

  private onRequest(m: SipText): void {
    switch (m.method) {
      case 'INVITE': {
        const known = this.dialogs.get(m.callId)
        if (known) {
          // A retransmission (§17.2.1): the last response again.
          if (known.last) this.send(known.last)
          return
        }
        const d: CalleeDialog = { invite: m, tag: randomToken(10), last: null, rtp: null }
        this.dialogs.set(m.callId, d)
        d.last = this.response(m, 180, 'Ringing', d.tag)
        this.send(d.last)
        return
      }
      case 'ACK':
        return
      case 'CANCEL': {
        this.send(this.response(m, 200, 'OK', null))
        const d = this.dialogs.get(m.callId)
        if (d && d.last && /^SIP\/2\.0 1/.test(d.last)) this.answer(m.callId, 487, 'Request Terminated')
        else if (d?.last) this.send(d.last)
        return
      }
      default:
        this.send(this.response(m, 200, 'OK', null))
    }
  }
}

// -------------------------------------------------------------------------------------------

let gateway: RunningGateway
let scheduler: WarpScheduler
let callee: UdpCallee
let portMin = 0
let portMax = 0
let baselineUdpSockets = 0
let baselineTimers = 0
const closers: Array<() => unknown> = []

beforeAll(async () => {
  portMin = await freePortRange(64)
  portMax = portMin + 63
  scheduler = new WarpScheduler()
  gateway = await startGateway(
    testConfig({ media: { driver: 'embedded', rtpPortMin: portMin, rtpPortMax: portMax }, log: { level: 'error' } }, { shortTimers: true }),
    { scheduler },
  )
  expect(gateway.config.timers).toEqual({ T1: 50, T2: 400, T4: 500 })
  callee = await UdpCallee.open(DEMO_USERS.bob.username, DEMO_USERS.bob.password)
  const registered = await callee.register(gateway.udpPort)
  expect(registered.status, registered.raw).toBe(200)
  // The gateway's own periodic timers (bob's binding expiry, CDR retention and sweep, stats
  // history), once the REGISTER's transactions are gone: every call must leave exactly these.
  scheduler.warp(33_000)
  baselineTimers = scheduler.pendingCount
  // Let the REGISTER transactions finish, then count this process's UDP sockets (gateway
  // SIP/STUN sockets, the phone's SIP socket): every call must give back what it took.
  await Bun.sleep(100)
  baselineUdpSockets = ownUdpSockets()
})

afterAll(async () => {
  for (const close of closers.reverse()) {
    try {
      await close()
    } catch {}
  }
  callee?.close()
  await gateway?.stop()
})

async function connectAlice(): Promise<WsSipClient> {
  const client = await WsSipClient.connect({ url: gateway.wsUrl, username: DEMO_USERS.alice.username, password: DEMO_USERS.alice.password, domain: TEST_DOMAIN })
  closers.push(() => client.close())
  const { final } = await client.register()
  expect(final.status, final.raw).toBe(200)
  return client
}

/** Counts seen while calls were up: each leak assertion below is shown to be able to fail. */
const seen = { activeSessions: 0, anchored: 0, pendingInvites: 0, transactions: 0, relayPortsBound: 0, extraUdpSockets: 0 }
const endings: Record<Ending, number> = { 'bye-caller': 0, 'bye-callee': 0, cancel: 0, busy: 0, 'ws-close': 0 }

function note(relayPort: number): void {
  const i = gateway.internals
  seen.activeSessions = Math.max(seen.activeSessions, i.media!.activeSessions)
  seen.anchored = Math.max(seen.anchored, i.anchoredCalls!.size)
  seen.pendingInvites = Math.max(seen.pendingInvites, i.proxy.pendingInvites)
  seen.transactions = Math.max(seen.transactions, i.transactions.size)
  seen.extraUdpSockets = Math.max(seen.extraUdpSockets, ownUdpSockets() - baselineUdpSockets)
  if (isUdpPortBound(relayPort) && isUdpPortBound(relayPort + 1)) seen.relayPortsBound++
}

/** One anchored call from alice (WebSocket, werift SDP) to bob (UDP), ended by `ending`. */
async function oneCall(alice: WsSipClient, ending: Ending): Promise<void> {
  const browser = new WeriftBrowser(1000)
  try {
    const { call, challenge } = await alice.inviteWithAuth(`sip:bob@${TEST_DOMAIN}`, { body: await browser.offer() })
    expect(challenge?.status).toBe(407)
    const invite = await callee.waitFor((m) => m.isRequest && m.method === 'INVITE' && m.callId === call.callId, 'the INVITE')
    // The phone gets a plain RTP/AVP offer pointing at the relay.
    const offer = parse(invite.body)
    expect(offer.media[0]!.protocol).toBe('RTP/AVP')
    const relayPort = offer.media[0]!.port
    expect(relayPort).toBeGreaterThanOrEqual(portMin)
    expect(relayPort).toBeLessThanOrEqual(portMax)
    await alice.waitForResponse({ status: 180, callId: call.callId, method: 'INVITE' })

    if (ending === 'cancel' || ending === 'busy') {
      // Ringing: the INVITE is pending and its relay is allocated.
      note(relayPort)
      expect(gateway.internals.proxy.pendingInvites).toBeGreaterThan(0)
      expect(gateway.internals.media!.activeSessions).toBeGreaterThan(0)
      if (ending === 'cancel') {
        alice.cancel(call)
        await alice.waitForResponse({ status: 200, callId: call.callId, method: 'CANCEL' })
        await callee.waitFor((m) => m.isRequest && m.method === 'CANCEL' && m.callId === call.callId, 'the CANCEL')
      } else {
        callee.answer(call.callId, 486, 'Busy Here')
      }
      const final = await alice.waitForResponse({ status: ending === 'cancel' ? 487 : 486, callId: call.callId, method: 'INVITE' })
      alice.ackNon2xx(call, final)
      await callee.waitFor((m) => m.isRequest && m.method === 'ACK' && m.callId === call.callId, 'the hop-by-hop ACK')
      return
    }

    // Answered: a real RTP socket pair on the phone side, G.711 answer.
    const rtp = await UdpPhone.open(await freePortRange(2), 440)
    callee.dialogs.get(call.callId)!.rtp = rtp
    callee.answer(call.callId, 200, 'OK', rtp.sdp('sendrecv', 1, [0]))
    const ok = await alice.waitForResponse({ status: 200, callId: call.callId, method: 'INVITE' })
    alice.ack2xx(call, ok)
    await callee.waitFor((m) => m.isRequest && m.method === 'ACK' && m.callId === call.callId, 'the ACK')
    await browser.applyAnswer(ok.body)
    await browser.connected()
    // Media crosses the relay both ways before the call ends (20 ms frames until it has).
    const deadline = performance.now() + 3_000
    while (browser.received.length === 0 || rtp.received.length === 0) {
      if (performance.now() > deadline) {
        throw new Error(`no RTP through the relay within 3 s: browser got ${browser.received.length}, phone got ${rtp.received.length}`)
      }
      rtp.sendTone(relayPort)
      browser.sendTone()
      await Bun.sleep(20)
    }
    note(relayPort)
    expect(gateway.internals.anchoredCalls!.size).toBeGreaterThan(0)
    expect(gateway.internals.media!.activeSessions).toBeGreaterThan(0)

    switch (ending) {
      case 'bye-caller':
        await hangUpAsCaller(alice, call)
        break
      case 'bye-callee': {
        callee.bye(call.callId)
        const bye = await alice.waitForRequest('BYE', call.callId)
        alice.respond(bye, 200)
        await callee.waitFor((m) => m.isResponse && m.status === 200 && m.cseq.method === 'BYE' && m.callId === call.callId, '200 for its BYE')
        break
      }
      case 'ws-close':
        alice.close()
        await browser.close()
        // The gateway ends the call on the other leg (the dialog's flow is gone).
        await callee.waitFor((m) => m.isRequest && m.method === 'BYE' && m.callId === call.callId, 'the gateway\'s BYE after the WebSocket closed')
        break
    }
  } finally {
    await browser.close()
  }
}

async function hangUpAsCaller(alice: WsSipClient, call: OutgoingCall): Promise<void> {
  alice.byeAsCaller(call)
  await callee.waitFor((m) => m.isRequest && m.method === 'BYE' && m.callId === call.callId, 'the caller\'s BYE')
  await alice.waitForResponse({ status: 200, callId: call.callId, method: 'BYE' })
}

describe('many anchored calls through the gateway (embedded driver) leave nothing behind', () => {
  test(`${CALLS} calls, five endings in rotation; then no media session, dialog, pending INVITE, port, socket or transaction is left`, async () => {
    let alice = await connectAlice()
    for (let i = 0; i < CALLS; i++) {
      const ending = ENDINGS[i % ENDINGS.length]!
      if (alice.isClosed) alice = await connectAlice()
      await oneCall(alice, ending)
      endings[ending]++
      for (const d of callee.dialogs.values()) {
        d.rtp?.close()
        d.rtp = null
      }
    }
    alice.close()
    expect(Object.values(endings)).toEqual(ENDINGS.map(() => CALLS / ENDINGS.length))

    // There was something to leak: each count was above zero while calls were up.
    expect(seen.activeSessions).toBeGreaterThan(0)
    expect(seen.anchored).toBeGreaterThan(0)
    expect(seen.pendingInvites).toBeGreaterThan(0)
    expect(seen.transactions).toBeGreaterThan(0)
    expect(seen.extraUdpSockets).toBeGreaterThan(0)
    expect(seen.relayPortsBound).toBe(CALLS)

    const i = gateway.internals
    // Releases are asynchronous (driver.delete closes werift's peer connection).
    await until(() => i.media!.activeSessions === 0 && i.anchoredCalls!.size === 0 && i.proxy.pendingInvites === 0, 'sessions, dialogs and pending INVITEs to go', 5_000)
      .catch(() => {})
    expect(i.media!.activeSessions).toBe(0)
    expect(i.anchoredCalls!.size).toBe(0)
    expect(i.proxy.pendingInvites).toBe(0)

    // Every RTP/RTCP port of the driver's range is free again, and so is every UDP socket
    // this process opened for the calls (werift's ICE sockets, the relay pairs).
    await until(() => ownUdpSockets() === baselineUdpSockets, 'the UDP sockets to close', 3_000).catch(() => {})
    const bound: number[] = []
    for (let port = portMin; port <= portMax; port++) if (isUdpPortBound(port)) bound.push(port)
    expect(bound).toEqual([])
    expect(ownUdpSockets()).toBe(baselineUdpSockets)

    // Transactions: after 64*T1 (3.2 s) only INVITE client transactions in Completed are left
    // (Timer D, >= 32 s over UDP: the 486 and 487 calls' transactions towards the phone).
    await Bun.sleep(64 * 50 + 500)
    const counts = i.transactions.transactionCounts
    expect(counts.nonInviteClient + counts.nonInviteServer + counts.inviteServer).toBe(0)
    expect(counts.inviteClient).toBeGreaterThan(0)
    expect(counts.inviteClient).toBeLessThanOrEqual((CALLS / ENDINGS.length) * 2)
    scheduler.warp(33_000)
    expect(i.transactions.size).toBe(0)
    // No per-call timer (Timer C, session timeout, CANCEL guard) is left on the gateway's
    // clock: only its periodic ones, as before the first call (bob's binding expiry among them).
    expect(i.location.size).toBe(1)
    expect(scheduler.pendingCount).toBe(baselineTimers)
    console.log(`[no-leaks] ${CALLS} calls; peaks while calls were up: ${JSON.stringify(seen)}; gateway timers left after the warp: ${scheduler.pendingCount}`)
  }, 60_000)
})

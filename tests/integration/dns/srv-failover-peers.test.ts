/**
 * The SRV failover peer set (tests/support/srv-failover.ts) checked without the proxy: the
 * locator, asking the set's dnsmasq, lists the 503-answering SIPp (priority 10) before the
 * answering one (priority 20); a UDP client walks that list the way RFC 3263 §4.3 tells the
 * proxy to — INVITE to the first, 503 (+ ACK), INVITE to the next, 180/200 (+ ACK, BYE).
 */
import { afterAll, beforeAll, expect, test } from 'bun:test'
import type { udp } from 'bun'
import { setLogSink } from '../../../gateway/src/base/log.ts'
import { RealScheduler } from '../../../gateway/src/base/scheduler.ts'
import { createServerLocator } from '../../../gateway/src/sip/dns/server-locator.ts'
import { parseUri } from '../../../gateway/src/sip/syntax/uri.ts'
import { LOOPBACK } from '../../support/ports.ts'
import { startSrvFailoverPeers, type SrvFailoverPeers } from '../../support/srv-failover.ts'

let peers: SrvFailoverPeers
let socket: udp.Socket<'buffer'>
const received: string[] = []
let prevSink: ((line: string) => void) | null = null

beforeAll(async () => {
  prevSink = setLogSink(() => {})
  peers = await startSrvFailoverPeers({ primary: '503' })
  socket = await Bun.udpSocket({
    hostname: LOOPBACK,
    socket: { data: (_s, data) => { received.push(data.toString('utf8')) } },
  })
})

afterAll(async () => {
  socket?.close()
  await peers?.stop()
  if (prevSink) setLogSink(prevSink)
})

/** Waits for a response whose first line matches `status` and whose CSeq method is `method`, received since index `from`. */
async function waitForStatus(status: RegExp, from: number, method = 'INVITE', timeoutMs = 5_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  const cseq = new RegExp(`^CSeq:\\s*\\d+\\s+${method}\\s*$`, 'im')
  for (;;) {
    const hit = received.slice(from).find((m) => status.test(m.split('\r\n', 1)[0]!) && cseq.test(m))
    if (hit) return hit
    if (Date.now() > deadline) throw new Error(`no ${status} within ${timeoutMs} ms; received:\n${received.join('\n---\n')}`)
    await Bun.sleep(10)
  }
}

function request(method: string, port: number, branch: string, cseq: number, toTag = '', body = ''): string {
  return [
    `${method} ${peers.uri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${LOOPBACK}:${socket.port};branch=${branch}`,
    'Max-Forwards: 70',
    `From: <sip:caller@${LOOPBACK}>;tag=caller1`,
    `To: <${peers.uri}>${toTag ? `;tag=${toTag}` : ''}`,
    `Call-ID: failover-${port}@${LOOPBACK}`,
    `CSeq: ${cseq} ${method}`,
    `Contact: <sip:caller@${LOOPBACK}:${socket.port}>`,
    `Record-Route: <sip:${LOOPBACK}:${socket.port};lr>`,
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n')
}

function toTagOf(message: string): string {
  return /^To:.*;tag=([^;\s]+)/im.exec(message)?.[1] ?? ''
}

const SDP = ['v=0', `o=- 1 1 IN IP4 ${LOOPBACK}`, 's=-', `c=IN IP4 ${LOOPBACK}`, 't=0 0', 'm=audio 40000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', ''].join('\r\n')

test('the locator orders the 503 target first; walking the list reaches the answering one', async () => {
  const locator = createServerLocator({ servers: [peers.dns.server], timeoutMs: 1_000, tries: 1, scheduler: new RealScheduler() })
  const hops = await locator.locate(parseUri(peers.uri)!)
  expect(hops.map((h) => `${h.transport} ${h.address}:${h.port} p${h.priority}`)).toEqual([
    `UDP ${LOOPBACK}:${peers.primaryPort} p10`,
    `UDP ${LOOPBACK}:${peers.backup.localPort} p20`,
  ])

  // First hop: 503, then the ACK for the non-2xx final response (RFC 3261 §17.1.1.3).
  let mark = received.length
  socket.send(request('INVITE', hops[0]!.port, 'z9hG4bK-first', 1, '', SDP), hops[0]!.port, hops[0]!.address)
  const refused = await waitForStatus(/^SIP\/2\.0 503 /, mark)
  socket.send(request('ACK', hops[0]!.port, 'z9hG4bK-first', 1, toTagOf(refused)), hops[0]!.port, hops[0]!.address)

  // Next hop (RFC 3263 §4.3): answered.
  mark = received.length
  socket.send(request('INVITE', hops[1]!.port, 'z9hG4bK-second', 1, '', SDP), hops[1]!.port, hops[1]!.address)
  await waitForStatus(/^SIP\/2\.0 180 /, mark)
  const ok = await waitForStatus(/^SIP\/2\.0 200 /, mark)
  const tag = toTagOf(ok)
  socket.send(request('ACK', hops[1]!.port, 'z9hG4bK-ack', 1, tag), hops[1]!.port, hops[1]!.address)
  mark = received.length
  socket.send(request('BYE', hops[1]!.port, 'z9hG4bK-bye', 2, tag), hops[1]!.port, hops[1]!.address)
  await waitForStatus(/^SIP\/2\.0 200 /, mark, 'BYE')

  const primary = await peers.primary!.finish(10_000)
  const backup = await peers.backup.finish(10_000)
  expect(primary.stats?.successful, primary.summary()).toBe(1)
  expect(backup.stats?.successful, backup.summary()).toBe(1)
})

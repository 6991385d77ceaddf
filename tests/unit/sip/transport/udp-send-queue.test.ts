/**
 * Peer isolation on the UDP send path (RFC 3261 §18.4; issue 11): UdpSendQueue over a socket
 * double that behaves as Linux does with IP_RECVERR (Bun sets it), as seen with strace:
 *
 * - a datagram to a closed port brings back an ICMP port-unreachable, on loopback while the
 *   send is still running: the socket then holds a pending error (sk_err);
 * - the next send on the socket, *whatever its destination*, fails with that error and
 *   consumes it: send() throws ECONNREFUSED, and sendmmsg(2) stops at that datagram and
 *   returns how many went out (it throws only when the first one fails);
 * - the ICMP is also queued on the socket's error queue, which Bun reads and reports to the
 *   socket's error handler (one per ICMP).
 *
 * Then the TransportLayer's counters (sendErrorsByCause, sendRetries) and its send-error log,
 * at most one line per cause and destination per minute.
 */
import { describe, expect, test } from 'bun:test'
import { LocalAddresses } from '../../../../gateway/src/base/local-addresses.ts'
import { SipRequest } from '../../../../gateway/src/sip/message/sip-message.ts'
import { SEND_ERROR_LOG_INTERVAL_MS, TransportLayer } from '../../../../gateway/src/sip/transport/transport-layer.ts'
import { UdpSendQueue, UdpTransport, type DatagramSocket, type UdpSendEvent } from '../../../../gateway/src/sip/transport/udp-transport.ts'
import { captureLogs, layerWithRecorder, recordingFlow } from './helpers.ts'

const logs = captureLogs()

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function errno(code: string): Error {
  return Object.assign(new Error(`${code}: send failed`), { code })
}

/** A UDP socket as Linux + Bun behave (see the file comment), recording what went out. */
class KernelLikeSocket implements DatagramSocket {
  closed = false
  /** Ports where nobody listens: a datagram there sets the pending error. */
  readonly dead = new Set<number>()
  /** Ports whose datagrams fail on their own, every time (e.g. EMSGSIZE). */
  readonly failing = new Map<number, string>()
  /** Send buffer space, in datagrams (Infinity: never full). */
  room = Infinity
  pending: string | null = null
  /** Datagrams that went out, as "port:text". */
  readonly wire: string[] = []
  sendManyCalls = 0
  sendCalls = 0

  private one(data: Uint8Array, port: number): boolean {
    if (this.pending !== null) {
      const code = this.pending
      this.pending = null
      throw errno(code)
    }
    const own = this.failing.get(port)
    if (own !== undefined) throw errno(own)
    if (this.room <= 0) return false
    this.room--
    this.wire.push(`${port}:${decoder.decode(data)}`)
    if (this.dead.has(port)) this.pending = 'ECONNREFUSED'
    return true
  }

  send(data: Uint8Array, port: number, _address: string): boolean {
    this.sendCalls++
    return this.one(data, port)
  }

  sendMany(packets: ReadonlyArray<Uint8Array | number | string>): number {
    this.sendManyCalls++
    let sent = 0
    for (let i = 0; i < packets.length; i += 3) {
      try {
        if (!this.one(packets[i] as Uint8Array, packets[i + 1] as number)) return sent
      } catch (e) {
        if (sent === 0) throw e
        return sent
      }
      sent++
    }
    return sent
  }
}

function setup() {
  const socket = new KernelLikeSocket()
  const queue = new UdpSendQueue(socket)
  const events: Array<{ event: UdpSendEvent; code: string; address: string | null; port: number }> = []
  queue.onError = (event, code, address, port) => events.push({ event, code, address, port })
  const enqueue = (port: number, text: string) => queue.enqueue(encoder.encode(text), port, '127.0.0.1')
  return { socket, queue, events, enqueue }
}

/** What the healthy peers (ports other than `dead`) received, in order. */
function healthyWire(socket: KernelLikeSocket): string[] {
  return socket.wire.filter((w) => !socket.dead.has(Number(w.split(':')[0])))
}

describe('UdpSendQueue: a send failing for one destination costs no other destination anything', () => {
  test('nothing failing: one sendmmsg per turn, nothing reported', () => {
    const { socket, queue, events, enqueue } = setup()
    for (let i = 0; i < 5; i++) enqueue(6000 + i, `m${i}`)
    queue.flush()
    expect(socket.sendManyCalls).toBe(1)
    expect(socket.sendCalls).toBe(0)
    expect(socket.wire).toEqual(['6000:m0', '6001:m1', '6002:m2', '6003:m3', '6004:m4'])
    expect(events).toEqual([])
    expect(queue.queued).toBe(0)
  })

  test('the batch stops behind a datagram to a vanished peer (short sendmmsg): the rest still goes out, in order', () => {
    const { socket, queue, events, enqueue } = setup()
    socket.dead.add(7000)
    enqueue(6000, 'a')
    enqueue(7000, 'to-vanished')
    enqueue(6001, 'b')
    enqueue(6002, 'c')
    enqueue(6001, 'd')
    queue.flush()
    expect(socket.wire).toEqual(['6000:a', '7000:to-vanished', '6001:b', '6002:c', '6001:d'])
    // b met the vanished peer's error and went out on a retry; nobody lost anything.
    expect(events).toEqual([{ event: 'retried', code: '', address: '127.0.0.1', port: 6001 }])
  })

  test('an error pending from an earlier turn fails the first datagram (sendmmsg throws): it is sent again', () => {
    const { socket, queue, events, enqueue } = setup()
    socket.pending = 'ECONNREFUSED'
    enqueue(6000, 'a')
    enqueue(6001, 'b')
    queue.flush()
    expect(socket.wire).toEqual(['6000:a', '6001:b'])
    expect(events).toEqual([{ event: 'retried', code: 'ECONNREFUSED', address: '127.0.0.1', port: 6000 }])
  })

  test('many vanished peers interleaved with healthy ones: every healthy datagram goes out, in order', () => {
    const { socket, queue, events, enqueue } = setup()
    const expected: string[] = []
    for (let i = 0; i < 200; i++) {
      socket.dead.add(10_000 + i)
      enqueue(10_000 + i, `dead${i}`)
      if (i % 3 === 0) enqueue(10_000 + i, `dead${i}-again`)
      enqueue(6000 + (i % 7), `h${i}`)
      expected.push(`${6000 + (i % 7)}:h${i}`)
    }
    queue.flush()
    expect(healthyWire(socket)).toEqual(expected)
    expect(events.every((e) => e.event === 'retried')).toBe(true)
    expect(queue.queued).toBe(0)
  })

  test('a datagram failing for its own destination every time is dropped and reported with it; the others go out', () => {
    const { socket, queue, events, enqueue } = setup()
    socket.failing.set(6500, 'EMSGSIZE')
    enqueue(6000, 'a')
    enqueue(6500, 'too-big')
    enqueue(6001, 'b')
    queue.flush()
    expect(socket.wire).toEqual(['6000:a', '6001:b'])
    expect(events).toEqual([{ event: 'dropped', code: 'EMSGSIZE', address: '127.0.0.1', port: 6500 }])
  })

  test('a full send buffer keeps the rest queued, in order, ahead of later datagrams, until the socket drains', () => {
    const { socket, queue, events, enqueue } = setup()
    socket.room = 2
    enqueue(6000, 'a')
    enqueue(6001, 'b')
    enqueue(6002, 'c')
    enqueue(6003, 'd')
    queue.flush()
    expect(socket.wire).toEqual(['6000:a', '6001:b'])
    expect(queue.queued).toBe(2)
    enqueue(6004, 'e')
    socket.room = Infinity
    queue.drained()
    expect(socket.wire).toEqual(['6000:a', '6001:b', '6002:c', '6003:d', '6004:e'])
    expect(events).toEqual([])
    expect(queue.queued).toBe(0)
  })

  test('a closed socket sends nothing and throws nothing', () => {
    const { socket, queue, enqueue } = setup()
    enqueue(6000, 'a')
    socket.closed = true
    queue.flush()
    expect(socket.wire).toEqual([])
    expect(queue.queued).toBe(0)
  })

  test('with a real socket: a healthy peer behind datagrams to a closed port gets every datagram, in order', async () => {
    const gone = await Bun.udpSocket({ hostname: '127.0.0.1', port: 0 })
    const gonePort = gone.port
    gone.close()
    const got: string[] = []
    const healthy = await Bun.udpSocket({ hostname: '127.0.0.1', port: 0, socket: { data: (_s, d) => { got.push(decoder.decode(d)) } } })
    const events: UdpSendEvent[] = []
    const udp = new UdpTransport()
    await udp.start({ host: '127.0.0.1', port: 0, onDatagram: () => {} })
    udp.sendErrorListener = (event) => events.push(event)
    try {
      const toGone = udp.flowTo('127.0.0.1', gonePort)!
      const toHealthy = udp.flowTo('127.0.0.1', healthy.port)!
      for (let i = 0; i < 50; i++) {
        toGone.send(encoder.encode(`gone${i}`))
        toHealthy.send(encoder.encode(`h${i}`))
      }
      for (let i = 0; i < 200 && got.length < 50; i++) await Bun.sleep(5)
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => `h${i}`))
      // The kernel did report the closed port: ICMP errors, and retries of healthy datagrams.
      for (let i = 0; i < 100 && !events.includes('icmp'); i++) await Bun.sleep(5)
      expect(events).toContain('icmp')
      expect(events).toContain('retried')
      expect(events).not.toContain('dropped')
    } finally {
      udp.stop()
      healthy.close()
    }
  })
})

describe('TransportLayer: send errors counted by cause, logged once per destination per minute', () => {
  function layerWithClock() {
    let now = 1_000_000
    const layer = new TransportLayer({
      advertisedHost: '127.0.0.1',
      local: new LocalAddresses('patchbay.test', ['127.0.0.1', 'localhost']),
      now: () => now,
    })
    let listener: ((event: UdpSendEvent, code: string, address: string | null, port: number) => void) | null = null
    const udp = { port: 5060, set sendErrorListener(l: typeof listener) { listener = l } } as unknown as UdpTransport
    layer.attachUdp(udp)
    return { layer, udp: (e: UdpSendEvent, code: string, address: string | null, port: number) => listener!(e, code, address, port), advance: (ms: number) => { now += ms } }
  }

  function linesSince(start: number, text: string): string[] {
    return logs.slice(start).filter((l) => l.includes(text))
  }

  test('ICMP errors count as econnrefused / unreachable; retries are not errors; one log line a minute', () => {
    const { layer, udp, advance } = layerWithClock()
    const start = logs.length
    for (let i = 0; i < 1000; i++) udp('icmp', 'ECONNREFUSED', null, 0)
    udp('icmp', 'EHOSTUNREACH', null, 0)
    for (let i = 0; i < 10; i++) udp('retried', 'ECONNREFUSED', '127.0.0.1', 6000 + i)
    expect(layer.stats.sendErrorsByCause).toEqual({ econnrefused: 1000, unreachable: 1, 'no-flow': 0, 'closed-connection': 0, other: 0 })
    expect(layer.stats.sendErrors).toBe(1001)
    expect(layer.stats.sendRetries).toBe(10)
    expect(linesSince(start, 'ICMP error')).toHaveLength(2) // one per cause
    advance(SEND_ERROR_LOG_INTERVAL_MS - 1)
    udp('icmp', 'ECONNREFUSED', null, 0)
    expect(linesSince(start, 'ICMP error')).toHaveLength(2)
    advance(1)
    udp('icmp', 'ECONNREFUSED', null, 0)
    const lines = linesSince(start, '"cause":"econnrefused"')
    expect(lines).toHaveLength(2)
    expect(JSON.parse(lines[1]!).notLoggedSinceLast).toBe(1000)
  })

  test('a dropped datagram is an error of its destination: logged once per destination host per minute', () => {
    const { layer, udp } = layerWithClock()
    const start = logs.length
    for (let i = 0; i < 5; i++) udp('dropped', 'EMSGSIZE', '192.0.2.7', 5060 + i)
    udp('dropped', 'EMSGSIZE', '192.0.2.8', 5060)
    expect(layer.stats.sendErrorsByCause.other).toBe(6)
    const lines = linesSince(start, 'send failed, message dropped')
    expect(lines).toHaveLength(2)
    expect(JSON.parse(lines[0]!)).toMatchObject({ cause: 'other', code: 'EMSGSIZE', address: '192.0.2.7', port: 5060 })
    expect(JSON.parse(lines[1]!)).toMatchObject({ address: '192.0.2.8' })
  })

  test('no flow, and a closed connection, are counted apart', () => {
    const { layer } = layerWithRecorder()
    const request = new SipRequest('OPTIONS', 'sip:bob@patchbay.test', [
      { name: 'via', value: 'SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-c1' },
      { name: 'call-id', value: 'c1' }, { name: 'cseq', value: '1 OPTIONS' },
    ])
    expect(layer.send(request, { transport: 'WS', address: '127.0.0.1', port: 40123 })).toBeNull()
    const tcp = recordingFlow('TCP', '192.0.2.20', 34567)
    tcp.open = false
    expect(layer.send(request, { transport: 'WS', address: '127.0.0.1', port: 40123, flow: tcp })).toBeNull()
    const reset = recordingFlow('TCP', '192.0.2.21', 34568)
    reset.send = () => false // the write failed: the peer reset the connection
    expect(layer.send(request, { transport: 'TCP', address: '192.0.2.21', port: 34568, flow: reset })).toBeNull()
    expect(layer.stats.sendErrorsByCause).toMatchObject({ 'no-flow': 1, 'closed-connection': 2 })
    expect(layer.stats.sendErrors).toBe(3)
  })
})

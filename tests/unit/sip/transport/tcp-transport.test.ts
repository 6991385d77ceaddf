/**
 * SIP over TCP framing (RFC 3261 §18.3: Content-Length frames a stream) with a real
 * TcpTransport on port 0 and real Bun.connect clients: messages split at every byte, several
 * messages in one write, CRLF keepalives (RFC 5626 §3.5.1), byte-exact bodies, bad messages
 * in intact frames (answered, stream goes on), broken framing (RFC 4475 mcl01: closed) and
 * an oversized header section (closed). Also outbound connections and connection reuse.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import type { Socket } from 'bun'
import { SipRequest, type SipMessage } from '../../../../gateway/src/sip/message/sip-message.ts'
import { TcpTransport, type TcpFlow } from '../../../../gateway/src/sip/transport/tcp-transport.ts'
import type { TransportLayer } from '../../../../gateway/src/sip/transport/transport-layer.ts'
import { asResponse, bytes, captureLogs, fixtureBytes, layerWithRecorder, text, wireRequest } from './helpers.ts'

captureLogs()

/** Polls `predicate` every 2 ms; throws `what` after `timeoutMs`. */
async function until(predicate: () => boolean, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(2)
  }
}

interface Server {
  layer: TransportLayer
  received: Array<{ message: SipMessage }>
  tcp: TcpTransport
  port: number
  opened: TcpFlow[]
  closed: TcpFlow[]
}

const servers: TcpTransport[] = []
const clients: Array<Socket<unknown>> = []

afterEach(() => {
  for (const c of clients.splice(0)) c.end()
  for (const s of servers.splice(0)) s.stop()
})

/** A TcpTransport wired to a TransportLayer the way gateway.ts wires it. */
async function startServer(maxMessageBytes?: number): Promise<Server> {
  const { layer, received } = layerWithRecorder()
  const tcp = new TcpTransport()
  const opened: TcpFlow[] = []
  const closed: TcpFlow[] = []
  const port = await tcp.start({
    host: '127.0.0.1', port: 0, transport: 'TCP',
    frame: layer.frame,
    onMessage: (d, m, f) => layer.receiveFramed(d, m, f),
    onFramingError: layer.framingError,
    onFlowOpen: (f) => {
      opened.push(f)
      layer.tcpOpened(f)
    },
    onFlowClosed: (f) => {
      closed.push(f)
      layer.tcpClosed(f)
    },
    ...(maxMessageBytes !== undefined ? { maxMessageBytes } : {}),
  })
  layer.attachTcp(tcp, 'TCP')
  servers.push(tcp)
  return { layer, received, tcp, port, opened, closed }
}

interface Client {
  socket: Socket<unknown>
  /** Everything received, as text. */
  readonly text: string
  readonly closed: boolean
  write(data: string | Uint8Array): void
}

async function connect(port: number): Promise<Client> {
  let received = ''
  let closed = false
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port,
    socket: {
      data(_s, d) {
        received += text(d)
      },
      close() {
        closed = true
      },
      error() {},
    },
  })
  clients.push(socket)
  return {
    socket,
    get text() {
      return received
    },
    get closed() {
      return closed
    },
    write(data) {
      const b = typeof data === 'string' ? bytes(data) : data
      expect(socket.write(b)).toBe(b.length)
    },
  }
}

/** The server-side flow of the one connection made so far. */
async function serverFlow(s: Server): Promise<TcpFlow> {
  await until(() => s.opened.length === 1, 'the server to see the connection')
  return s.opened[0]!
}

// A body with CRLFs, an empty line and multi-byte UTF-8 inside, so that only Content-Length
// (in bytes) can tell where it ends.
const BODY = 'v=0\r\n\r\ns=caf\u00e9 \u2603\r\nlast line without CRLF'

describe('TcpTransport framing (RFC 3261 §18.3)', () => {
  test('a message split in two at every byte boundary is read once, body byte-exact', async () => {
    const s = await startServer()
    const c = await connect(s.port)
    const flow = await serverFlow(s)
    const msg = bytes(wireRequest({ method: 'MESSAGE', body: BODY, extra: ['Content-Type: text/plain'] }))
    const bodyBytes = bytes(BODY)
    expect(bodyBytes.length).toBeGreaterThan(BODY.length) // multi-byte characters in it
    for (let i = 1; i < msg.length; i++) {
      c.write(msg.subarray(0, i))
      // The first part is in the server's buffer before the second is written (two chunks).
      await until(() => flow.buffer.length === i, `the first ${i} bytes at the server`)
      expect(s.received).toHaveLength(i - 1)
      c.write(msg.subarray(i))
      await until(() => s.received.length === i, `message ${i}`)
      expect(flow.buffer.length).toBe(0)
    }
    for (const { message } of s.received) {
      expect(message.kind).toBe('request')
      expect(Array.from(message.body)).toEqual(Array.from(bodyBytes))
    }
    expect(c.closed).toBe(false)
    expect(s.layer.stats.parseErrors).toBe(0)
  })

  test('two messages in one write are two messages, in order; a third split after them completes later', async () => {
    const s = await startServer()
    const c = await connect(s.port)
    const flow = await serverFlow(s)
    const a = wireRequest({ callId: 'two-a', body: 'first body' })
    const b = wireRequest({ callId: 'two-b', body: BODY })
    const third = wireRequest({ callId: 'two-c', body: 'x' })
    c.write(a + b + third.slice(0, 40))
    await until(() => s.received.length === 2, 'two messages')
    expect(s.received.map((r) => r.message.get('call-id'))).toEqual(['two-a', 'two-b'])
    expect(text(s.received[1]!.message.body)).toBe(BODY)
    await until(() => flow.buffer.length === 40, 'the partial third message buffered')
    c.write(third.slice(40))
    await until(() => s.received.length === 3, 'the third message')
    expect(s.received[2]!.message.get('call-id')).toBe('two-c')
  })

  test('CRLFCRLF ping is answered with one CRLF pong, also when split across chunks and between messages', async () => {
    const s = await startServer()
    const c = await connect(s.port)
    const flow = await serverFlow(s)
    c.write('\r\n\r\n')
    await until(() => c.text === '\r\n', 'pong 1')
    for (const [first, second] of [['\r\n', '\r\n'], ['\r', '\n\r\n'], ['\r\n\r', '\n']] as const) {
      const before = c.text.length
      c.write(first)
      await until(() => flow.buffer.length === first.length, `"${JSON.stringify(first)}" buffered`)
      expect(c.text.length).toBe(before) // half a ping is not answered
      c.write(second)
      await until(() => c.text.length === before + 2, 'a pong for a split ping')
    }
    expect(c.text).toBe('\r\n'.repeat(4))
    // ping, message, ping in one write: two pongs, one message.
    c.write('\r\n\r\n' + wireRequest({ callId: 'between-pings' }) + '\r\n\r\n')
    await until(() => s.received.length === 1 && c.text.length === 12, 'message and two pongs')
    expect(s.received[0]!.message.get('call-id')).toBe('between-pings')
    expect(c.text).toBe('\r\n'.repeat(6))
    expect(s.layer.stats.parseErrors).toBe(0)
  })

  test('a bad request in an intact frame gets 400 and the next message on the stream is still read', async () => {
    const s = await startServer()
    const c = await connect(s.port)
    const bad = text(await fixtureBytes('mismatch01')) // CSeq method differs; Content-Length valid
    c.write(bad + wireRequest({ callId: 'after-the-bad-one' }))
    await until(() => s.received.length === 1, 'the good message')
    expect(s.received[0]!.message.get('call-id')).toBe('after-the-bad-one')
    await until(() => c.text.length > 0, 'the 400')
    const res = asResponse(bytes(c.text))
    expect(res.status).toBe(400)
    expect(res.callId).toBe('mismatch01.dj0234sxdfl3')
    await Bun.sleep(30)
    expect(c.closed).toBe(false)
    // Still usable afterwards.
    c.write(wireRequest({ callId: 'still-open' }))
    await until(() => s.received.length === 2, 'a message after the 400')
  })

  test('mcl01 (conflicting Content-Length: framing lost): 400, then the connection is closed', async () => {
    const s = await startServer()
    const c = await connect(s.port)
    const flow = await serverFlow(s)
    c.write(await fixtureBytes('mcl01'))
    await until(() => c.closed, 'the connection to close')
    expect(asResponse(bytes(c.text)).status).toBe(400)
    expect(s.received).toHaveLength(0)
    expect(flow.open).toBe(false)
    await until(() => s.closed.length === 1, 'the flow-closed callback')
    expect(s.layer.flow(flow.id)).toBeUndefined()
  })

  test('ncl (negative Content-Length) on a stream: 400 and close', async () => {
    const s = await startServer()
    const c = await connect(s.port)
    c.write(await fixtureBytes('ncl'))
    await until(() => c.closed, 'the connection to close')
    expect(asResponse(bytes(c.text)).status).toBe(400)
  })

  test('a header section that never ends (over maxMessageBytes) closes the connection; nothing is read or answered', async () => {
    const s = await startServer(4096)
    const c = await connect(s.port)
    const head = wireRequest().replace(/Content-Length: 0\r\n\r\n$/, '')
    c.write(head)
    for (let i = 0; i < 60 && !c.closed; i++) c.write(`X-Pad-${i}: ${'p'.repeat(90)}\r\n`)
    await until(() => c.closed, 'the connection to close')
    expect(s.received).toHaveLength(0)
    expect(c.text).toBe('')
    expect(s.layer.stats.parseErrors).toBe(1)
  })

  test('a message without Content-Length cannot be framed on a stream: 400 and close', async () => {
    const s = await startServer()
    const c = await connect(s.port)
    c.write(wireRequest({ noContentLength: true }))
    await until(() => c.closed, 'the connection to close')
    expect(asResponse(bytes(c.text)).status).toBe(400)
    expect(s.received).toHaveLength(0)
  })
})

describe('TcpTransport connections', () => {
  test('a response to a request received over TCP goes back over the same connection (§18.2.2)', async () => {
    const s = await startServer()
    const c = await connect(s.port)
    c.write(wireRequest({ via: 'SIP/2.0/TCP 10.0.0.1:5070;branch=z9hG4bK-tcpresp', callId: 'tcp-resp' }))
    await until(() => s.received.length === 1, 'the request')
    const req = s.received[0]!.message as SipRequest
    const flow = s.opened[0]!
    const dest = s.layer.responseDestination(req, flow)
    expect(dest.flow).toBe(flow)
    const { SipResponse } = await import('../../../../gateway/src/sip/message/sip-message.ts')
    const res = new SipResponse(200, 'OK', req.headers.filter((h) => h.name !== 'max-forwards'))
    expect(s.layer.send(res, dest)).toBe(flow)
    await until(() => c.text.includes('\r\n\r\n'), 'the 200')
    expect(asResponse(bytes(c.text)).status).toBe(200)
  })

  test('send() to a TCP address opens one connection and reuses it (RFC 5923 style)', async () => {
    const s = await startServer()
    const got: string[] = []
    let accepted = 0
    const peer = Bun.listen({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        open() {
          accepted++
        },
        data(_s, d) {
          got.push(text(d))
        },
      },
    })
    try {
      const msg = new SipRequest('OPTIONS', `sip:peer@127.0.0.1:${peer.port};transport=tcp`, [
        { name: 'via', value: `SIP/2.0/TCP 127.0.0.1:${s.port};branch=z9hG4bK-out1` },
        { name: 'max-forwards', value: '70' },
        { name: 'to', value: '<sip:peer@127.0.0.1>' },
        { name: 'from', value: '<sip:gw@127.0.0.1>;tag=1' },
        { name: 'call-id', value: 'out-1' },
        { name: 'cseq', value: '1 OPTIONS' },
      ])
      const dest = { transport: 'TCP' as const, address: '127.0.0.1', port: peer.port }
      const f1 = s.layer.send(msg, dest)
      expect(f1).not.toBeNull()
      const f2 = s.layer.send(msg, dest) // queued or sent over the same connection
      expect(f2).toBe(f1)
      await until(() => got.join('').split('OPTIONS sip:').length === 3, 'two requests at the peer')
      expect(accepted).toBe(1)
      expect(s.layer.flow(f1!.id)).toBe(f1!)
    } finally {
      peer.stop(true)
    }
  })

  test('a connect to a closed port closes the flow and reports it', async () => {
    const s = await startServer()
    const unused = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
    const port = unused.port
    unused.stop(true)
    const msg = new SipRequest('OPTIONS', `sip:x@127.0.0.1:${port}`, [
      { name: 'via', value: 'SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-refused' },
      { name: 'call-id', value: 'refused' },
      { name: 'cseq', value: '1 OPTIONS' },
    ])
    const f = s.layer.send(msg, { transport: 'TCP', address: '127.0.0.1', port })
    expect(f).not.toBeNull()
    await until(() => s.closed.length === 1, 'the failed connection reported closed')
    await Bun.sleep(20)
    expect(s.closed).toEqual([f as TcpFlow]) // once, although Bun reports the failure twice
    expect(f!.open).toBe(false)
    expect(s.layer.flow(f!.id)).toBeUndefined()
  })
})

/**
 * TransportLayer (RFC 3261 §18) with recording flows: the §18.2.1 receive rules (received,
 * RFC 3581 rport), §18.2.2 response destinations, stateless answers to malformed requests,
 * §18.1.2 discarding of responses that are not ours, keepalives (RFC 5626 §3.5.1) and sends.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { SipRequest, SipResponse, type SipMessage } from '../../../../gateway/src/sip/message/sip-message.ts'
import { parseMessage } from '../../../../gateway/src/sip/parser/message-parser.ts'
import type { Flow } from '../../../../gateway/src/sip/transport/flow.ts'
import { WsFlow } from '../../../../gateway/src/sip/transport/ws-flow.ts'
import { UdpTransport } from '../../../../gateway/src/sip/transport/udp-transport.ts'
import {
  asResponse, bytes, captureLogs, fixtureBytes, layerWithRecorder, recordingFlow, text, wireRequest, wireResponse,
} from './helpers.ts'

captureLogs()

/** The single request the layer passed up. */
function onlyRequest(received: Array<{ message: { kind: string } }>): SipRequest {
  expect(received).toHaveLength(1)
  const m = received[0]!.message
  if (!(m instanceof SipRequest)) throw new Error('expected a request')
  return m
}

/** A WsFlow whose sends are recorded (the HTTP layer's sendText replaced by an array). */
function recordingWsFlow(transport: 'WS' | 'WSS' = 'WS'): { flow: WsFlow; frames: string[] } {
  const frames: string[] = []
  const flow = new WsFlow(transport, '127.0.0.1', 40123, '127.0.0.1', 8080, (t) => {
    frames.push(t)
    return true
  }, () => {})
  return { flow, frames }
}

describe('RFC 3261 §18.2.1: received and rport on requests', () => {
  test('a domain name in sent-by gets received=<source address>; the forwarded Via text carries it', () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP', '192.0.2.10', 5062)
    layer.receiveDatagram(bytes(wireRequest({ via: 'SIP/2.0/UDP pc33.example.com:5062;branch=z9hG4bK-d1' })), flow)
    const req = onlyRequest(received)
    expect(req.topVia.params.received).toBe('192.0.2.10')
    expect(req.topVia.params.rport).toBeUndefined()
    expect(req.get('via')).toBe('SIP/2.0/UDP pc33.example.com:5062;branch=z9hG4bK-d1;received=192.0.2.10')
    expect(received[0]!.flow).toBe(flow)
  })

  test('an IP address other than the source gets received; the same IP does not', () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP', '192.0.2.10', 5062)
    layer.receiveDatagram(bytes(wireRequest({ via: 'SIP/2.0/UDP 10.0.0.7:5062;branch=z9hG4bK-d2' })), flow)
    layer.receiveDatagram(bytes(wireRequest({ via: 'SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-d3' })), flow)
    expect(received).toHaveLength(2)
    const [natted, direct] = received.map((r) => r.message as SipRequest)
    expect(natted!.topVia.params.received).toBe('192.0.2.10')
    expect(direct!.topVia.params.received).toBeUndefined()
    expect(direct!.get('via')).toBe('SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-d3')
  })

  test('an IPv6 sent-by in brackets matches the unbracketed source address', () => {
    const { layer, received } = layerWithRecorder()
    layer.receiveDatagram(bytes(wireRequest({ via: 'SIP/2.0/UDP [2001:db8::9]:5062;branch=z9hG4bK-d4' })),
      recordingFlow('UDP', '2001:db8::9', 5062))
    expect(onlyRequest(received).topVia.params.received).toBeUndefined()
  })

  test('RFC 3581 §4: an empty rport is set to the source port (received added too); lower Vias untouched', () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP', '192.0.2.10', 40000)
    const req = wireRequest({
      via: 'SIP/2.0/UDP 192.0.2.10:5062;rport;branch=z9hG4bK-r1',
      extra: ['Via: SIP/2.0/UDP 198.51.100.1:5060;rport;branch=z9hG4bK-lower'],
    })
    layer.receiveDatagram(bytes(req), flow)
    const m = onlyRequest(received)
    expect(m.topVia.params.rport).toBe('40000')
    expect(m.topVia.params.received).toBe('192.0.2.10')
    const vias = m.getAll('via')
    expect(vias[0]).toContain('rport=40000')
    expect(vias[0]).toContain('received=192.0.2.10')
    expect(vias[1]).toBe('SIP/2.0/UDP 198.51.100.1:5060;rport;branch=z9hG4bK-lower')
  })

  test('an rport that already has a value is left as it is', () => {
    const { layer, received } = layerWithRecorder()
    layer.receiveDatagram(bytes(wireRequest({ via: 'SIP/2.0/UDP 192.0.2.10:5062;rport=7777;branch=z9hG4bK-r2' })),
      recordingFlow('UDP', '192.0.2.10', 40000))
    const m = onlyRequest(received)
    expect(m.topVia.params.rport).toBe('7777')
    expect(m.topVia.params.received).toBeUndefined()
  })

  test('a WebSocket request (RFC 7118 .invalid sent-by) gets received and rport from its flow', () => {
    const { layer, received } = layerWithRecorder()
    const { flow } = recordingWsFlow()
    layer.wsOpened(flow)
    layer.wsMessage(flow, wireRequest({ via: 'SIP/2.0/WS df7jal23ls0d.invalid;rport;branch=z9hG4bK-ws1' }))
    const m = onlyRequest(received)
    expect(m.topVia.params.received).toBe('127.0.0.1')
    expect(m.topVia.params.rport).toBe('40123')
    expect(received[0]!.flow).toBe(flow)
  })
})

describe('RFC 3261 §18.2.2: where a response goes', () => {
  function requestVia(via: string): SipRequest {
    const r = parseMessage(bytes(wireRequest({ via })))
    if (!r.ok || r.message.kind !== 'request') throw new Error('bad test request')
    return r.message
  }

  test('reliable transports: the same connection (TCP and WS)', () => {
    const { layer } = layerWithRecorder()
    const tcp = recordingFlow('TCP', '192.0.2.20', 34567)
    const d = layer.responseDestination(requestVia('SIP/2.0/TCP 10.1.1.1:5060;branch=z9hG4bK-t'), tcp)
    expect(d).toEqual({ transport: 'TCP', address: '192.0.2.20', port: 34567, flow: tcp })
    const { flow: ws } = recordingWsFlow('WSS')
    const dw = layer.responseDestination(requestVia('SIP/2.0/WSS x.invalid;branch=z9hG4bK-w'), ws)
    expect(dw.flow).toBe(ws)
    expect(dw.transport).toBe('WSS')
  })

  test('UDP with rport (RFC 3581): received address, rport port, over the source flow', () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP', '192.0.2.10', 40000)
    layer.receiveDatagram(bytes(wireRequest({ via: 'SIP/2.0/UDP 10.0.0.7:5062;rport;branch=z9hG4bK-u1' })), flow)
    const d = layer.responseDestination(onlyRequest(received), flow)
    expect(d).toEqual({ transport: 'UDP', address: '192.0.2.10', port: 40000, flow })
  })

  test('UDP with received but no rport: received address, sent-by port (not the source port)', () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP', '192.0.2.10', 40000)
    layer.receiveDatagram(bytes(wireRequest({ via: 'SIP/2.0/UDP phone.example.com:5070;branch=z9hG4bK-u2' })), flow)
    const d = layer.responseDestination(onlyRequest(received), flow)
    expect(d.address).toBe('192.0.2.10')
    expect(d.port).toBe(5070)
    expect(d.flow).toBeUndefined()
  })

  test('UDP sent-by without a port: port 5060', () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP', '192.0.2.10', 40000)
    layer.receiveDatagram(bytes(wireRequest({ via: 'SIP/2.0/UDP phone.example.com;branch=z9hG4bK-u3' })), flow)
    const d = layer.responseDestination(onlyRequest(received), flow)
    expect(d).toEqual({ transport: 'UDP', address: '192.0.2.10', port: 5060 })
  })

  test('UDP sent-by equal to the source: that address and port, over the source flow', () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP', '192.0.2.10', 5062)
    layer.receiveDatagram(bytes(wireRequest({ via: 'SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-u4' })), flow)
    expect(layer.responseDestination(onlyRequest(received), flow)).toEqual({ transport: 'UDP', address: '192.0.2.10', port: 5062, flow })
  })
})

describe('malformed requests: a stateless answer when the Via is readable (RFC 3261 §18.3, RFC 4475)', () => {
  test('badvers (SIP/7.0): 505 with a Warning, the Via, a To tag; nothing passed up', async () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP', '192.0.2.10', 5062)
    layer.receiveDatagram(await fixtureBytes('badvers'), flow)
    expect(received).toHaveLength(0)
    expect(flow.sent).toHaveLength(1)
    const res = asResponse(flow.sent[0]!)
    expect(res.status).toBe(505)
    expect(res.get('warning')).toMatch(/^399 patchbay "[^"]*version[^"]*"$/i)
    expect(res.get('via')).toBe('SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw')
    expect(res.toTag).toBeTruthy()
    expect(res.callId).toBe('badvers.31417@c.example.com')
    expect(layer.stats.stateless400).toBe(1)
    expect(layer.stats.parseErrors).toBe(1)
  })

  test('ncl (negative Content-Length): 400 naming the cause in the Warning', async () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP')
    layer.receiveDatagram(await fixtureBytes('ncl'), flow)
    expect(received).toHaveLength(0)
    const res = asResponse(flow.sent[0]!)
    expect(res.status).toBe(400)
    expect(res.get('warning')).toContain('Content-Length')
    expect(res.cseq.method).toBe('INVITE')
    expect(res.get('content-length')).toBe('0')
  })

  test('insuf (no From / To / Call-ID): still 400, with what could be copied', async () => {
    const { layer } = layerWithRecorder()
    const flow = recordingFlow('UDP')
    layer.receiveDatagram(await fixtureBytes('insuf'), flow)
    const res = asResponse(flow.sent[0]!)
    expect(res.status).toBe(400)
    expect(res.get('via')).toContain('z9hG4bKkdj.insuf')
  })

  test('a WebSocket frame with a bad request is answered over the WebSocket', async () => {
    const { layer, received } = layerWithRecorder()
    const { flow, frames } = recordingWsFlow()
    layer.wsMessage(flow, text(await fixtureBytes('mismatch01')))
    expect(received).toHaveLength(0)
    expect(frames).toHaveLength(1)
    expect(frames[0]).toStartWith('SIP/2.0 400 ')
  })

  test('a bad ACK is never answered (RFC 3261 §17: no response to ACK)', () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP')
    // CSeq method differs from the Request-Line: 400 for any other method.
    layer.receiveDatagram(bytes(wireRequest({ method: 'ACK' }).replace('CSeq: 1 ACK', 'CSeq: 1 INVITE')), flow)
    expect(received).toHaveLength(0)
    expect(flow.sent).toHaveLength(0)
    expect(layer.stats.parseErrors).toBe(1)
  })

  test('a bad request without any Via is dropped (nowhere to answer)', () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP')
    const noVia = wireRequest().split('\r\n').filter((l) => !l.startsWith('Via:')).join('\r\n')
    layer.receiveDatagram(bytes(noVia), flow)
    expect(received).toHaveLength(0)
    expect(flow.sent).toHaveLength(0)
    expect(layer.stats.stateless400).toBe(0)
  })

  test('malformed responses (bigcode, scalarlg) and garbage are dropped: nothing sent, nothing passed up', async () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP')
    layer.receiveDatagram(await fixtureBytes('bigcode'), flow)
    layer.receiveDatagram(await fixtureBytes('scalarlg'), flow)
    layer.receiveDatagram(bytes('\u0016\u0003\u0001 hello there, not SIP at all\r\n\r\n'), flow)
    layer.receiveDatagram(new Uint8Array([0, 1, 0, 0x10, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), flow)
    expect(received).toHaveLength(0)
    expect(flow.sent).toHaveLength(0)
    expect(layer.stats.parseErrors).toBe(4)
    expect(layer.stats.stateless400).toBe(0)
  })
})

describe('RFC 3261 §18.1.2: responses', () => {
  test('a response whose top Via names us is passed up; one for another sent-by is discarded', () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP', '192.0.2.30', 5060)
    layer.receiveDatagram(bytes(wireResponse(200, 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-pbours')), flow)
    layer.receiveDatagram(bytes(wireResponse(200, 'SIP/2.0/UDP patchbay.test;branch=z9hG4bK-pbours2')), flow)
    layer.receiveDatagram(bytes(wireResponse(200, 'SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bK-theirs')), flow)
    expect(received).toHaveLength(2)
    expect(received.every((r) => r.message instanceof SipResponse)).toBe(true)
    expect(layer.stats.discardedResponses).toBe(1)
    expect(flow.sent).toHaveLength(0)
  })

  test('bcast (a 200 with Via 255.255.255.255) is discarded', async () => {
    const { layer, received } = layerWithRecorder()
    layer.receiveDatagram(await fixtureBytes('bcast'), recordingFlow('UDP'))
    expect(received).toHaveLength(0)
    expect(layer.stats.discardedResponses).toBe(1)
  })
})

describe('keepalives (RFC 5626 §3.5.1)', () => {
  test('WebSocket "\\r\\n\\r\\n" ping is answered with "\\r\\n", as text or binary; a lone "\\r\\n" is not', () => {
    const { layer, received } = layerWithRecorder()
    const { flow, frames } = recordingWsFlow()
    layer.wsOpened(flow)
    layer.wsMessage(flow, '\r\n\r\n')
    layer.wsMessage(flow, bytes('\r\n\r\n'))
    layer.wsMessage(flow, '\r\n')
    expect(frames).toEqual(['\r\n', '\r\n'])
    expect(received).toHaveLength(0)
    expect(layer.stats.parseErrors).toBe(0)
  })

  test('UDP CRLF keepalives are ignored: no answer, not counted as messages', () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('UDP')
    layer.receiveDatagram(bytes('\r\n\r\n'), flow)
    layer.receiveDatagram(bytes('\r\n'), flow)
    layer.receiveDatagram(bytes('\n'), flow)
    expect(flow.sent).toHaveLength(0)
    expect(received).toHaveLength(0)
    expect(layer.stats.received).toBe(0)
    expect(layer.stats.parseErrors).toBe(0)
  })
})

describe('stream framing (frame / framingError)', () => {
  test('frame: a message, incomplete bytes, a bad message in an intact frame (consumed), broken framing (no consumed)', async () => {
    const { layer } = layerWithRecorder()
    const good = bytes(wireRequest({ body: 'hello' }))
    expect(layer.frame(good)).toMatchObject({ kind: 'message', consumed: good.length })
    // The framed message comes parsed (TCP messages are parsed once).
    expect((layer.frame(good) as { message: SipMessage }).message.kind).toBe('request')
    expect(layer.frame(good.subarray(0, good.length - 1))).toEqual({ kind: 'incomplete' })
    const mismatch = await fixtureBytes('mismatch01')
    expect(layer.frame(mismatch)).toEqual({ kind: 'error', consumed: mismatch.length })
    expect(layer.frame(await fixtureBytes('mcl01'))).toEqual({ kind: 'error', consumed: null })
  })

  test('framingError answers a well-framed bad request with 400 over the connection', async () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('TCP')
    layer.framingError(await fixtureBytes('mismatch01'), flow as never)
    expect(received).toHaveLength(0)
    expect(asResponse(flow.sent[0]!).status).toBe(400)
  })

  test('framingError never passes up an oversized header section, even one that would parse as a datagram', () => {
    const { layer, received } = layerWithRecorder()
    const flow = recordingFlow('TCP')
    // A valid request head with 70 kB of extra headers and no empty line: as a datagram it
    // would be read to its end and accepted; on a stream it is an unfinished message.
    const head = wireRequest().replace(/Content-Length: 0\r\n\r\n$/, '') + 'X-Pad: ' + 'a'.repeat(100) + '\r\n'
    const oversized = bytes(head + ('X-Pad: ' + 'b'.repeat(100) + '\r\n').repeat(700))
    expect(parseMessage(oversized).ok).toBe(true)
    layer.framingError(oversized, flow as never)
    expect(received).toHaveLength(0)
    expect(flow.sent).toHaveLength(0)
  })
})

describe('flows and sending', () => {
  let udp: UdpTransport | null = null
  afterEach(() => {
    udp?.stop()
    udp = null
  })

  test('send() to a WS destination without an open flow fails (browsers cannot be dialled)', () => {
    const { layer } = layerWithRecorder()
    const r = parseMessage(bytes(wireRequest()))
    if (!r.ok) throw new Error('bad test message')
    const msg = r.message
    expect(layer.send(msg, { transport: 'WS', address: '127.0.0.1', port: 40123 })).toBeNull()
    const { flow } = recordingWsFlow()
    flow.markClosed()
    expect(layer.send(msg, { transport: 'WS', address: '127.0.0.1', port: 40123, flow })).toBeNull()
    expect(layer.send(msg, { transport: 'TCP', address: '127.0.0.1', port: 5060 })).toBeNull() // no TCP transport attached
    expect(layer.stats.sendErrors).toBe(3)
    expect(layer.stats.sent).toBe(0)
  })

  test('send() over an open flow writes the serialized message and returns that flow', () => {
    const { layer } = layerWithRecorder()
    const { flow, frames } = recordingWsFlow()
    const r = parseMessage(bytes(wireRequest({ body: 'abc' })))
    if (!r.ok) throw new Error('bad test message')
    expect(layer.send(r.message, { transport: 'WS', address: '127.0.0.1', port: 1, flow })).toBe(flow)
    expect(frames).toHaveLength(1)
    expect(frames[0]).toStartWith('OPTIONS sip:bob@patchbay.test SIP/2.0\r\n')
    expect(frames[0]).toEndWith('\r\n\r\nabc')
    expect(layer.stats.sent).toBe(1)
  })

  test('flow(id) knows open connection flows only; flowClosed tells the listeners once', () => {
    const { layer } = layerWithRecorder()
    const closed: Flow[] = []
    layer.onFlowClosed((f) => closed.push(f))
    const { flow } = recordingWsFlow()
    layer.wsOpened(flow)
    expect(layer.flow(flow.id)).toBe(flow)
    flow.markClosed()
    expect(layer.flow(flow.id)).toBeUndefined()
    layer.flowClosed(flow)
    layer.flowClosed(flow)
    expect(closed).toEqual([flow])
  })

  test('a real UdpTransport on port 0: a datagram gets rport/received from its real source, and send() reaches the peer', async () => {
    const { layer, received } = layerWithRecorder()
    udp = new UdpTransport()
    const port = await udp.start({ host: '127.0.0.1', port: 0, onDatagram: (d, f) => layer.receiveDatagram(d, f) })
    layer.attachUdp(udp)
    expect(port).toBeGreaterThan(0)
    expect(layer.sentBy('UDP')).toEqual({ host: '127.0.0.1', port })

    const got: string[] = []
    const peer = await Bun.udpSocket({ hostname: '127.0.0.1', port: 0, socket: { data: (_s, d) => { got.push(text(d)) } } })
    try {
      peer.send(wireRequest({ via: 'SIP/2.0/UDP 10.9.9.9:5062;rport;branch=z9hG4bK-real' }), port, '127.0.0.1')
      peer.send('\r\n\r\n', port, '127.0.0.1')
      for (let i = 0; i < 100 && received.length === 0; i++) await Bun.sleep(5)
      const req = onlyRequest(received)
      expect(req.topVia.params.rport).toBe(String(peer.port))
      expect(req.topVia.params.received).toBe('127.0.0.1')

      const dest = layer.responseDestination(req, received[0]!.flow)
      expect(dest.port).toBe(peer.port)
      const res = new SipResponse(200, 'OK', req.headers.filter((h) => h.name !== 'max-forwards'))
      expect(layer.send(res, dest)).not.toBeNull()
      for (let i = 0; i < 100 && got.length === 0; i++) await Bun.sleep(5)
      expect(got).toHaveLength(1) // the CRLF keepalive got no answer
      expect(got[0]).toStartWith('SIP/2.0 200 OK\r\n')
      expect(got[0]).toContain(`rport=${peer.port}`)
    } finally {
      peer.close()
    }
  })
})

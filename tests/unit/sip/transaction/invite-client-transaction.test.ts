import { describe, expect, test } from 'bun:test'
import { makeRequest, makeResponse, setup, times } from './helpers.ts'
import { serializeMessage } from '../../../../gateway/src/sip/message/serialize.ts'

const T1 = 500

function startInvite(reliable: boolean, routes: string[] = []) {
  const s = setup({ reliable })
  const invite = makeRequest('INVITE', { branch: 'z9hG4bK-ict-1', routes, cseq: 314 })
  const tx = s.layer.sendRequest(invite, s.destination, s.handler)
  return { ...s, invite, tx }
}

describe('InviteClientTransaction (RFC 3261 §17.1.1, RFC 6026)', () => {
  test('Calling over UDP: Timer A retransmits at 500, 1500, 3500, 7500, 15500, 31500; Timer B times out once at 64*T1', () => {
    const { scheduler, sender, handler, tx, layer } = startInvite(false)
    expect(tx.state).toBe('Calling')
    scheduler.advance(64 * T1 - 1)
    expect(times(sender.requests('INVITE'))).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500])
    expect(handler.timeouts).toBe(0)
    scheduler.advance(1)
    expect(handler.timeouts).toBe(1)
    expect(handler.events).toEqual([{ what: 'timeout', at: 32000 }])
    expect(tx.state).toBe('Terminated')
    // > The client transaction MUST NOT generate an ACK.
    expect(sender.requests('ACK')).toHaveLength(0)
    scheduler.advance(100_000)
    expect(handler.timeouts).toBe(1)
    expect(sender.requests('INVITE')).toHaveLength(7)
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('Calling over TCP: no Timer A, Timer B still times out at 64*T1', () => {
    const { scheduler, sender, handler, tx } = startInvite(true)
    scheduler.advance(31_999)
    expect(sender.requests('INVITE')).toHaveLength(1)
    expect(handler.timeouts).toBe(0)
    scheduler.advance(1)
    expect(handler.timeouts).toBe(1)
    expect(tx.state).toBe('Terminated')
    expect(scheduler.pendingCount).toBe(0)
  })

  test('Timer A follows T1 from the timer values', () => {
    const s = setup({ timers: { T1: 100, T2: 4000, T4: 5000 } })
    s.layer.sendRequest(makeRequest('INVITE'), s.destination, s.handler)
    s.scheduler.advance(6400)
    expect(times(s.sender.requests('INVITE'))).toEqual([0, 100, 300, 700, 1500, 3100, 6300])
    expect(s.handler.events).toEqual([{ what: 'timeout', at: 6400 }])
  })

  test('a 1xx moves to Proceeding, stops retransmissions and Timer B, and is passed up', () => {
    const { scheduler, sender, handler, tx, invite, layer, flow } = startInvite(false)
    scheduler.advance(600)
    layer.receive(makeResponse(invite, 180), flow)
    expect(tx.state).toBe('Proceeding')
    expect(handler.responses.map((r) => r.status)).toEqual([180])
    expect(scheduler.pendingCount).toBe(0) // Timers A and B stopped at once
    layer.receive(makeResponse(invite, 183), flow)
    expect(handler.responses.map((r) => r.status)).toEqual([180, 183])
    scheduler.advance(120_000)
    expect(times(sender.requests('INVITE'))).toEqual([0, 500])
    expect(handler.timeouts).toBe(0)
    expect(tx.state).toBe('Proceeding')
    expect(scheduler.pendingCount).toBe(0)
    tx.terminate()
    expect(layer.size).toBe(0)
  })

  test('a non-2xx final: ACK built per §17.1.1.3, response passed up once, Completed for Timer D = 32 s', () => {
    const routes = ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']
    const { scheduler, sender, handler, tx, invite, layer, flow, user } = startInvite(false, routes)
    layer.receive(makeResponse(invite, 100, null), flow)
    scheduler.advance(1000)
    const busy = makeResponse(invite, 486, 'callee-tag')
    layer.receive(busy, flow)
    expect(tx.state).toBe('Completed')
    expect(handler.responses.map((r) => r.status)).toEqual([100, 486])
    const acks = sender.requests('ACK')
    expect(acks).toHaveLength(1)
    const ack = acks[0]!.message
    if (ack.kind !== 'request') throw new Error('not a request')
    expect(ack.uri).toBe(invite.uri)
    expect(ack.getAll('via')).toEqual([invite.get('via')!])
    expect(ack.get('call-id')).toBe(invite.get('call-id'))
    expect(ack.get('from')).toBe(invite.get('from'))
    expect(ack.get('to')).toBe('<sip:bob@example.com>;tag=callee-tag')
    expect(ack.get('cseq')).toBe('314 ACK')
    expect(ack.getAll('route')).toEqual(routes)
    expect(ack.get('contact')).toBeUndefined()
    // > The ACK MUST be sent to the same address, port, and transport to which the original request was sent.
    expect(acks[0]!.destination.address).toBe(sender.sent[0]!.destination.address)
    expect(acks[0]!.destination.port).toBe(sender.sent[0]!.destination.port)

    // Retransmitted finals re-send the ACK and are not passed up.
    scheduler.advance(2000)
    layer.receive(makeResponse(invite, 486, 'callee-tag'), flow)
    layer.receive(makeResponse(invite, 486, 'callee-tag'), flow)
    expect(sender.requests('ACK')).toHaveLength(3)
    expect(handler.responses).toHaveLength(2)
    // Completed keeps the ACK as bytes and lets go of the INVITE: every ACK is the same message.
    expect(tx.request).toBeNull()
    const ackTexts = sender.requests('ACK').map((r) => new TextDecoder().decode(serializeMessage(r.message)))
    expect(new Set(ackTexts).size).toBe(1)

    scheduler.advance(32_000 - 2000 - 1)
    expect(tx.state).toBe('Completed')
    scheduler.advance(1)
    expect(tx.state).toBe('Terminated')
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
    // After Timer D, a late retransmission matches nothing: it goes to the core.
    layer.receive(makeResponse(invite, 486, 'callee-tag'), flow)
    expect(user.strays.map((r) => r.status)).toEqual([486])
  })

  test('a non-2xx final over TCP: ACK sent, Timer D = 0 terminates at once', () => {
    const { scheduler, sender, tx, invite, layer, flow } = startInvite(true)
    layer.receive(makeResponse(invite, 603), flow)
    expect(sender.requests('ACK')).toHaveLength(1)
    expect(tx.state).toBe('Terminated')
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('a 2xx moves to Accepted (RFC 6026): retransmitted and forked 2xx passed up without ACK; Timer M ends it', () => {
    const { scheduler, sender, handler, tx, invite, layer, flow, user } = startInvite(false)
    scheduler.advance(700)
    layer.receive(makeResponse(invite, 200, 'uas-a'), flow)
    expect(tx.state).toBe('Accepted')
    expect(tx.request).toBeNull() // Accepted sends nothing itself: the INVITE is let go
    scheduler.advance(5000)
    layer.receive(makeResponse(invite, 200, 'uas-a'), flow)
    layer.receive(makeResponse(invite, 200, 'uas-b'), flow)
    layer.receive(makeResponse(invite, 180, 'uas-c'), flow) // absorbed
    layer.receive(makeResponse(invite, 486, 'uas-c'), flow) // absorbed
    expect(handler.responses.map((r) => r.status)).toEqual([200, 200, 200])
    expect(sender.requests('ACK')).toHaveLength(0)
    expect(times(sender.requests('INVITE'))).toEqual([0, 500])
    expect(user.strays).toHaveLength(0)
    scheduler.advance(64 * T1 - 5000 - 1)
    expect(tx.state).toBe('Accepted')
    scheduler.advance(1)
    expect(tx.state).toBe('Terminated')
    expect(handler.timeouts).toBe(0)
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
    // Once Terminated, a further 2xx is stray (the core handles it).
    layer.receive(makeResponse(invite, 200, 'uas-a'), flow)
    expect(user.strays.map((r) => r.status)).toEqual([200])
  })

  test('a 2xx in Proceeding also moves to Accepted', () => {
    const { handler, tx, invite, layer, flow } = startInvite(true)
    layer.receive(makeResponse(invite, 180), flow)
    layer.receive(makeResponse(invite, 200), flow)
    expect(tx.state).toBe('Accepted')
    expect(handler.responses.map((r) => r.status)).toEqual([180, 200])
  })

  test('transport error on the first send: onTransportError once, on the next tick; nothing left behind', () => {
    const s = setup()
    s.sender.fail = true
    const tx = s.layer.sendRequest(makeRequest('INVITE'), s.destination, s.handler)
    expect(s.handler.transportErrors).toBe(0)
    s.scheduler.advance(0)
    expect(s.handler.transportErrors).toBe(1)
    expect(tx.state).toBe('Terminated')
    s.scheduler.advance(100_000)
    expect(s.handler.transportErrors).toBe(1)
    expect(s.handler.timeouts).toBe(0)
    expect(s.layer.size).toBe(0)
    expect(s.scheduler.pendingCount).toBe(0)
  })

  test('transport error on a Timer A retransmission: onTransportError, no timeout', () => {
    const { scheduler, sender, handler, tx, layer } = startInvite(false)
    scheduler.advance(600)
    sender.fail = true
    scheduler.advance(1000)
    expect(handler.events).toEqual([{ what: 'transport error', at: 1500 }])
    expect(tx.state).toBe('Terminated')
    scheduler.advance(100_000)
    expect(handler.timeouts).toBe(0)
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('transport error sending the ACK: onTransportError after the response', () => {
    const { sender, handler, tx, invite, layer, flow } = startInvite(false)
    sender.fail = true
    layer.receive(makeResponse(invite, 404), flow)
    expect(handler.events.map((e) => e.what)).toEqual(['404', 'transport error'])
    expect(tx.state).toBe('Terminated')
  })

  test('responses with another CSeq method (the CANCEL sharing the branch) do not match', () => {
    const { handler, invite, layer, flow, user } = startInvite(false)
    const r = makeResponse(invite, 200)
    r.set('cseq', `${invite.cseq.seq} CANCEL`)
    layer.receive(r, flow)
    expect(handler.responses).toHaveLength(0)
    expect(user.strays).toHaveLength(1)
  })

  test('terminate() stops retransmissions and timers without telling the handler', () => {
    const { scheduler, sender, handler, tx, layer } = startInvite(false)
    tx.terminate()
    scheduler.advance(100_000)
    expect(sender.requests('INVITE')).toHaveLength(1)
    expect(handler.events).toHaveLength(0)
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })
})


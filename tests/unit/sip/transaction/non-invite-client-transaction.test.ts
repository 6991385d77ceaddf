import { describe, expect, test } from 'bun:test'
import { RecordingHandler, makeRequest, makeResponse, setup, times } from './helpers.ts'

function startOptions(reliable: boolean, method = 'OPTIONS') {
  const s = setup({ reliable })
  const request = makeRequest(method, { branch: 'z9hG4bK-nict-1' })
  const tx = s.layer.sendRequest(request, s.destination, s.handler)
  return { ...s, request, tx }
}

describe('NonInviteClientTransaction (RFC 3261 §17.1.2)', () => {
  test('Trying over UDP: Timer E doubles from T1 and caps at T2; Timer F times out once at 64*T1', () => {
    const { scheduler, sender, handler, tx, layer } = startOptions(false)
    expect(tx.state).toBe('Trying')
    scheduler.advance(31_999)
    // > For the default values of T1 and T2, this results in intervals of 500 ms, 1 s, 2 s, 4 s, 4 s, 4 s, etc.
    expect(times(sender.requests('OPTIONS'))).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500])
    expect(handler.timeouts).toBe(0)
    scheduler.advance(1)
    expect(handler.events).toEqual([{ what: 'timeout', at: 32000 }])
    expect(tx.state).toBe('Terminated')
    scheduler.advance(100_000)
    expect(handler.timeouts).toBe(1)
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('Timer E caps at a smaller T2', () => {
    const s = setup({ timers: { T1: 500, T2: 1000, T4: 5000 } })
    s.layer.sendRequest(makeRequest('REGISTER'), s.destination, s.handler)
    s.scheduler.advance(5000)
    expect(times(s.sender.requests('REGISTER'))).toEqual([0, 500, 1500, 2500, 3500, 4500])
  })

  test('Proceeding: Timer E keeps retransmitting every T2; Timer F still times out', () => {
    const { scheduler, sender, handler, tx, request, layer, flow } = startOptions(false, 'BYE')
    scheduler.advance(600)
    layer.receive(makeResponse(request, 100, null), flow)
    expect(tx.state).toBe('Proceeding')
    expect(handler.responses.map((r) => r.status)).toEqual([100])
    scheduler.advance(31_400)
    // 0, 500 in Trying; the Timer E armed at 500 (MIN(2*T1, T2) = 1 s) fires at 1500, then every T2.
    expect(times(sender.requests('BYE'))).toEqual([0, 500, 1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500])
    expect(handler.events.at(-1)).toEqual({ what: 'timeout', at: 32000 })
    expect(handler.timeouts).toBe(1)
    expect(tx.state).toBe('Terminated')
    expect(scheduler.pendingCount).toBe(0)
  })

  test('a final in Trying: passed up once, Completed absorbs retransmissions, Timer K = T4 over UDP', () => {
    const { scheduler, sender, handler, tx, request, layer, flow } = startOptions(false)
    scheduler.advance(800)
    layer.receive(makeResponse(request, 200), flow)
    expect(tx.state).toBe('Completed')
    expect(handler.responses.map((r) => r.status)).toEqual([200])
    expect(tx.request).toBeNull() // Completed only absorbs: the request is let go
    layer.receive(makeResponse(request, 200), flow)
    layer.receive(makeResponse(request, 100), flow)
    expect(handler.responses).toHaveLength(1)
    scheduler.advance(4999)
    expect(tx.state).toBe('Completed')
    expect(times(sender.requests('OPTIONS'))).toEqual([0, 500]) // retransmissions stopped
    scheduler.advance(1)
    expect(tx.state).toBe('Terminated')
    expect(handler.timeouts).toBe(0)
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('a final in Proceeding moves to Completed as well', () => {
    const { handler, tx, request, layer, flow } = startOptions(false)
    layer.receive(makeResponse(request, 180), flow)
    layer.receive(makeResponse(request, 183), flow)
    layer.receive(makeResponse(request, 404), flow)
    expect(tx.state).toBe('Completed')
    expect(handler.responses.map((r) => r.status)).toEqual([180, 183, 404])
  })

  test('over TCP: no Timer E; a final terminates at once (Timer K = 0)', () => {
    const { scheduler, sender, handler, tx, request, layer, flow } = startOptions(true)
    scheduler.advance(10_000)
    expect(sender.requests('OPTIONS')).toHaveLength(1)
    layer.receive(makeResponse(request, 200), flow)
    expect(handler.responses.map((r) => r.status)).toEqual([200])
    expect(tx.state).toBe('Terminated')
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('over TCP without an answer: Timer F times out once at 64*T1', () => {
    const { scheduler, handler, sender } = startOptions(true)
    scheduler.advance(40_000)
    expect(handler.events).toEqual([{ what: 'timeout', at: 32000 }])
    expect(sender.sent).toHaveLength(1)
  })

  test('transport error on the first send or on a Timer E retransmission: onTransportError once', () => {
    const a = setup()
    a.sender.fail = true
    const txA = a.layer.sendRequest(makeRequest('MESSAGE'), a.destination, a.handler)
    a.scheduler.advance(100_000)
    expect(a.handler.events).toEqual([{ what: 'transport error', at: 0 }])
    expect(txA.state).toBe('Terminated')
    expect(a.scheduler.pendingCount).toBe(0)

    const b = startOptions(false)
    b.scheduler.advance(1000)
    b.sender.fail = true
    b.scheduler.advance(100_000)
    expect(b.handler.events).toEqual([{ what: 'transport error', at: 1500 }])
    expect(b.layer.size).toBe(0)
    expect(b.scheduler.pendingCount).toBe(0)
  })

  test('a CANCEL client transaction shares the INVITE branch but matches only CANCEL responses', () => {
    const s = setup()
    const invite = makeRequest('INVITE', { branch: 'z9hG4bK-shared' })
    const cancel = makeRequest('CANCEL', { branch: 'z9hG4bK-shared' })
    const inviteHandler = s.handler
    const cancelHandler = new RecordingHandler(s.scheduler)
    s.layer.sendRequest(invite, s.destination, inviteHandler)
    s.layer.sendRequest(cancel, s.destination, cancelHandler)
    expect(s.layer.size).toBe(2)
    s.layer.receive(makeResponse(cancel, 200), s.flow)
    s.layer.receive(makeResponse(invite, 487), s.flow)
    expect(cancelHandler.responses.map((r) => r.status)).toEqual([200])
    expect(inviteHandler.responses.map((r) => r.status)).toEqual([487])
  })
})

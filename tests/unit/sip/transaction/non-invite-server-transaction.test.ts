import { describe, expect, test } from 'bun:test'
import type { ServerTransaction } from '../../../../gateway/src/sip/transaction/transaction-user.ts'
import { captureLogs, makeRequest, makeResponse, setup, type SentRecord } from './helpers.ts'

captureLogs()

function receive(method: string, reliable = false) {
  const s = setup({ reliable })
  const request = makeRequest(method, { branch: 'z9hG4bK-nist-1' })
  s.layer.receive(request, s.flow)
  const tx = s.user.requests[0]!.tx as ServerTransaction
  return { ...s, request, tx }
}

function statuses(sent: SentRecord[]): number[] {
  return sent.map((r) => (r.message.kind === 'response' ? r.message.status : 0))
}

describe('NonInviteServerTransaction (RFC 3261 §17.2.2)', () => {
  test('Trying: passed to the TU once; retransmissions are discarded; no 100 Trying of its own', () => {
    const { scheduler, sender, tx, request, layer, flow, user } = receive('OPTIONS')
    expect(tx.state).toBe('Trying')
    expect(user.requests).toEqual([{ request, tx, flow }])
    scheduler.advance(500)
    layer.receive(makeRequest('OPTIONS', { branch: 'z9hG4bK-nist-1' }), flow)
    scheduler.advance(5000)
    expect(sender.sent).toHaveLength(0)
    expect(user.requests).toHaveLength(1)
    expect(layer.transactionCounts.nonInviteServer).toBe(1)
  })

  test('Proceeding: provisionals sent; a retransmission gets the latest provisional again', () => {
    const { sender, tx, request, layer, flow } = receive('REGISTER')
    expect(tx.respond(makeResponse(request, 100, null))).toBe(true)
    expect(tx.state).toBe('Proceeding')
    expect(tx.respond(makeResponse(request, 183))).toBe(true)
    layer.receive(request, flow)
    expect(statuses(sender.sent)).toEqual([100, 183, 183])
  })

  test('Completed over UDP: the final is re-sent for each retransmission, others are discarded, Timer J = 64*T1', () => {
    const { scheduler, sender, tx, request, layer, flow, user } = receive('BYE')
    const ok = makeResponse(request, 200)
    expect(tx.respond(ok)).toBe(true)
    expect(tx.state).toBe('Completed')
    expect(tx.finalStatus).toBe(200)
    expect(tx.request).toBeNull()
    layer.receive(request, flow)
    layer.receive(request, flow)
    expect(statuses(sender.sent)).toEqual([200, 200, 200])
    expect(tx.respond(makeResponse(request, 500))).toBe(false)
    expect(tx.respond(makeResponse(request, 180))).toBe(false)
    expect(statuses(sender.sent)).toEqual([200, 200, 200])
    expect(user.requests).toHaveLength(1)
    scheduler.advance(31_999)
    expect(tx.state).toBe('Completed')
    scheduler.advance(1)
    expect(tx.state).toBe('Terminated')
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
    // After Timer J a retransmission would be a new transaction.
    layer.receive(request, flow)
    expect(user.requests).toHaveLength(2)
  })

  test('Completed over TCP: Timer J = 0 terminates at once', () => {
    const { scheduler, tx, request, layer } = receive('MESSAGE', true)
    tx.respond(makeResponse(request, 202))
    expect(tx.state).toBe('Terminated')
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('Timer J follows T1', () => {
    const s = setup({ timers: { T1: 100, T2: 4000, T4: 5000 } })
    const req = makeRequest('INFO')
    s.layer.receive(req, s.flow)
    const tx = s.user.requests[0]!.tx!
    tx.respond(makeResponse(req, 200))
    s.scheduler.advance(6399)
    expect(tx.state).toBe('Completed')
    s.scheduler.advance(1)
    expect(tx.state).toBe('Terminated')
  })

  test('transport error: respond returns false, Terminated, failure reported', () => {
    const { sender, tx, request, layer, user } = receive('OPTIONS')
    sender.fail = true
    expect(tx.respond(makeResponse(request, 200))).toBe(false)
    expect(tx.state).toBe('Terminated')
    expect(user.failures.map((f) => [f.cause, f.tx])).toEqual([['transport-error', tx]])
    expect(layer.size).toBe(0)
  })

  test('transport error re-sending the final for a retransmission: Terminated, failure reported', () => {
    const { sender, tx, request, layer, flow, user, scheduler } = receive('OPTIONS')
    tx.respond(makeResponse(request, 200))
    sender.fail = true
    layer.receive(request, flow)
    expect(tx.state).toBe('Terminated')
    expect(user.failures.map((f) => f.cause)).toEqual(['transport-error'])
    expect(scheduler.pendingCount).toBe(0)
  })
})

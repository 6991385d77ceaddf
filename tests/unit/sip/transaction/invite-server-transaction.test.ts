import { describe, expect, test } from 'bun:test'
import type { ServerTransaction } from '../../../../gateway/src/sip/transaction/transaction-user.ts'
import { captureLogs, makeNon2xxAck, makeRequest, makeResponse, setup, times } from './helpers.ts'

const logs = captureLogs()

function receiveInvite(options: { reliable?: boolean; autoTrying?: boolean } = {}) {
  const s = setup(options)
  const invite = makeRequest('INVITE', { branch: 'z9hG4bK-ist-1' })
  s.layer.receive(invite, s.flow)
  expect(s.user.requests).toHaveLength(1)
  const tx = s.user.requests[0]!.tx as ServerTransaction
  return { ...s, invite, tx }
}

describe('InviteServerTransaction (RFC 3261 §17.2.1, RFC 6026)', () => {
  test('a new INVITE creates the transaction in Proceeding and is passed to the TU with it', () => {
    const { tx, invite, flow, user, layer } = receiveInvite()
    expect(tx.state).toBe('Proceeding')
    expect(tx.request).toBe(invite)
    expect(tx.flow).toBe(flow)
    expect(user.requests[0]!.flow).toBe(flow)
    expect(layer.size).toBe(1)
    expect(layer.transactionCounts.inviteServer).toBe(1)
  })

  test('100 Trying is sent after 200 ms when the TU has not answered', () => {
    const { scheduler, sender, tx } = receiveInvite()
    scheduler.advance(199)
    expect(sender.sent).toHaveLength(0)
    scheduler.advance(1)
    expect(times(sender.responses(100))).toEqual([200])
    const trying = sender.responses(100)[0]!.message
    // §17.2.1: a To tag in 100 (Trying) is "downgraded from MAY to SHOULD NOT".
    expect(trying.get('to')).toBe('<sip:bob@example.com>')
    expect(tx.state).toBe('Proceeding')
  })

  test('no 100 Trying when the TU sends a provisional within 200 ms', () => {
    const { scheduler, sender, tx, invite } = receiveInvite()
    scheduler.advance(50)
    expect(tx.respond(makeResponse(invite, 180))).toBe(true)
    scheduler.advance(1000)
    expect(sender.sent.map((r) => (r.message.kind === 'response' ? r.message.status : 0))).toEqual([180])
  })

  test('autoTrying: false never sends 100 Trying itself', () => {
    const { scheduler, sender, layer, invite, flow } = receiveInvite({ autoTrying: false })
    scheduler.advance(1000)
    layer.receive(invite, flow) // retransmission
    expect(sender.sent).toHaveLength(0)
  })

  test('a retransmitted INVITE in Proceeding re-sends the latest provisional and is not passed up', () => {
    const { scheduler, sender, tx, invite, layer, flow, user } = receiveInvite()
    tx.respond(makeResponse(invite, 180))
    tx.respond(makeResponse(invite, 183))
    expect(tx.state).toBe('Proceeding')
    scheduler.advance(500)
    layer.receive(makeRequest('INVITE', { branch: 'z9hG4bK-ist-1' }), flow)
    expect(sender.sent.map((r) => (r.message.kind === 'response' ? r.message.status : 0))).toEqual([180, 183, 183])
    expect(user.requests).toHaveLength(1)
  })

  test('a retransmitted INVITE before any response brings the 100 Trying forward', () => {
    const { scheduler, sender, layer, invite, flow } = receiveInvite()
    scheduler.advance(100)
    layer.receive(invite, flow)
    expect(times(sender.responses(100))).toEqual([100])
    scheduler.advance(1000)
    expect(sender.responses(100)).toHaveLength(1)
  })

  test('a non-2xx final over UDP: Timer G doubles from T1 capped at T2, re-send on INVITE, ACK -> Confirmed, Timer I = T4', () => {
    const { scheduler, sender, tx, invite, layer, flow, user } = receiveInvite()
    const busy = makeResponse(invite, 486)
    expect(tx.respond(busy)).toBe(true)
    expect(tx.state).toBe('Completed')
    expect(tx.finalStatus).toBe(486)
    expect(tx.request).toBeNull() // Completed keeps the response's bytes, not the parsed request
    scheduler.advance(11_500)
    expect(times(sender.responses(486))).toEqual([0, 500, 1500, 3500, 7500, 11500])
    layer.receive(invite, flow) // retransmitted INVITE: answered with the final response
    expect(sender.responses(486)).toHaveLength(7)
    // Responding again in Completed is ignored.
    expect(tx.respond(makeResponse(invite, 500))).toBe(false)
    expect(sender.responses(500)).toHaveLength(0)

    scheduler.advance(1000)
    layer.receive(makeNon2xxAck(invite, busy), flow)
    expect(tx.state).toBe('Confirmed')
    expect(user.requests).toHaveLength(1) // the ACK is absorbed
    layer.receive(makeNon2xxAck(invite, busy), flow) // retransmitted ACK: absorbed as well
    expect(user.requests).toHaveLength(1)
    scheduler.advance(4999)
    expect(sender.responses(486)).toHaveLength(7) // Timer G stopped
    expect(tx.state).toBe('Confirmed')
    scheduler.advance(1)
    expect(tx.state).toBe('Terminated')
    expect(user.failures).toHaveLength(0)
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('Timer H: no ACK within 64*T1 -> Terminated and a transaction failure for the TU', () => {
    const { scheduler, sender, tx, invite, user, layer } = receiveInvite()
    tx.respond(makeResponse(invite, 404))
    scheduler.advance(31_999)
    expect(times(sender.responses(404))).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500])
    expect(user.failures).toHaveLength(0)
    scheduler.advance(1)
    expect(tx.state).toBe('Terminated')
    expect(user.failures.map((f) => [f.cause, f.at, f.tx])).toEqual([['timer-h', 32000, tx]])
    expect(logs.some((l) => l.includes('"cause":"timer-h"'))).toBe(true)
    scheduler.advance(100_000)
    expect(user.failures).toHaveLength(1)
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('a non-2xx final over TCP: no Timer G; ACK terminates at once (Timer I = 0); Timer H still guards', () => {
    const a = receiveInvite({ reliable: true })
    const r = makeResponse(a.invite, 480)
    a.tx.respond(r)
    a.scheduler.advance(10_000)
    expect(a.sender.responses(480)).toHaveLength(1)
    a.layer.receive(makeNon2xxAck(a.invite, r), a.flow)
    expect(a.tx.state).toBe('Terminated')
    expect(a.layer.size).toBe(0)
    expect(a.scheduler.pendingCount).toBe(0)

    const b = receiveInvite({ reliable: true })
    b.tx.respond(makeResponse(b.invite, 480))
    b.scheduler.advance(32_000)
    expect(b.user.failures.map((f) => f.cause)).toEqual(['timer-h'])
    expect(b.sender.responses(480)).toHaveLength(1)
  })

  test('a 2xx moves to Accepted (RFC 6026): INVITE retransmissions absorbed, ACK and further 2xx go through, Timer L ends it', () => {
    const { scheduler, sender, tx, invite, layer, flow, user } = receiveInvite()
    const ok = makeResponse(invite, 200, 'uas-a')
    expect(tx.respond(ok)).toBe(true)
    expect(tx.state).toBe('Accepted')
    expect(tx.finalStatus).toBe(200)
    expect(tx.request).toBeNull()
    scheduler.advance(1000)
    layer.receive(invite, flow)
    expect(sender.responses(200)).toHaveLength(1) // not retransmitted by the transaction
    expect(user.requests).toHaveLength(1) // nor passed up
    // A 2xx from another fork is sent through the transaction.
    expect(tx.respond(makeResponse(invite, 200, 'uas-b'))).toBe(true)
    expect(sender.responses(200)).toHaveLength(2)
    // Non-2xx in Accepted: ignored.
    expect(tx.respond(makeResponse(invite, 486))).toBe(false)
    // An ACK that reuses the INVITE's branch is passed to the TU (without a transaction).
    layer.receive(makeNon2xxAck(invite, ok), flow)
    expect(user.requests.map((r) => [r.request.method, r.tx])).toEqual([['INVITE', tx], ['ACK', null]])
    expect(tx.state).toBe('Accepted')
    scheduler.advance(32_000 - 1000 - 1)
    expect(tx.state).toBe('Accepted')
    scheduler.advance(1)
    expect(tx.state).toBe('Terminated')
    expect(user.failures).toHaveLength(0)
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('the ACK for a 2xx (new branch) matches no transaction and goes to the TU', () => {
    const { tx, invite, layer, flow, user } = receiveInvite()
    tx.respond(makeResponse(invite, 200))
    const ack = makeRequest('ACK', { branch: 'z9hG4bK-ack-2xx', toTag: 'tt-1' })
    layer.receive(ack, flow)
    expect(user.requests.at(-1)).toEqual({ request: ack, tx: null, flow })
  })

  test('transport error on respond: returns false, Terminated, failure reported', () => {
    const { sender, tx, invite, user, layer, scheduler } = receiveInvite()
    sender.fail = true
    expect(tx.respond(makeResponse(invite, 180))).toBe(false)
    expect(tx.state).toBe('Terminated')
    expect(user.failures.map((f) => f.cause)).toEqual(['transport-error'])
    expect(layer.size).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('transport error on a Timer G retransmission: Terminated, failure reported once', () => {
    const { sender, tx, invite, user, scheduler } = receiveInvite()
    tx.respond(makeResponse(invite, 503))
    scheduler.advance(600)
    sender.fail = true
    scheduler.advance(100_000)
    expect(user.failures.map((f) => [f.cause, f.at])).toEqual([['transport-error', 1500]])
    expect(tx.state).toBe('Terminated')
    expect(scheduler.pendingCount).toBe(0)
  })
})

/**
 * The shared bases of the four transaction machines: every instance of one class keeps the
 * property set it had right after construction, through all its states (no field is added
 * later, which would give instances of one class different shapes on the hot path).
 */
import { describe, expect, test } from 'bun:test'
import { ClientTransactionBase } from '../../../../gateway/src/sip/transaction/client-transaction-base.ts'
import { ServerTransactionBase } from '../../../../gateway/src/sip/transaction/server-transaction-base.ts'
import { InviteClientTransaction } from '../../../../gateway/src/sip/transaction/invite-client-transaction.ts'
import { NonInviteClientTransaction } from '../../../../gateway/src/sip/transaction/non-invite-client-transaction.ts'
import { InviteServerTransaction } from '../../../../gateway/src/sip/transaction/invite-server-transaction.ts'
import { NonInviteServerTransaction } from '../../../../gateway/src/sip/transaction/non-invite-server-transaction.ts'
import { captureLogs, makeNon2xxAck, makeRequest, makeResponse, setup } from './helpers.ts'

captureLogs()

const keys = (o: object): string[] => Object.keys(o)

describe('transaction bases', () => {
  test('client transactions: one property set per class, from construction to Terminated', () => {
    const { layer, scheduler, handler, destination, flow } = setup()
    const invite = makeRequest('INVITE', { branch: 'z9hG4bK-ict-shape' })
    const ict = layer.sendRequest(invite, destination, handler)
    const options = makeRequest('OPTIONS', { branch: 'z9hG4bK-nict-shape' })
    const nict = layer.sendRequest(options, destination, handler)
    expect(ict).toBeInstanceOf(InviteClientTransaction)
    expect(nict).toBeInstanceOf(NonInviteClientTransaction)
    expect(ict).toBeInstanceOf(ClientTransactionBase)
    expect(nict).toBeInstanceOf(ClientTransactionBase)
    const ictKeys = keys(ict)
    const nictKeys = keys(nict)

    scheduler.advance(500) // Timer A and Timer E fire
    layer.receive(makeResponse(invite, 180), flow)
    layer.receive(makeResponse(invite, 486), flow) // Completed: ACK built
    layer.receive(makeResponse(options, 200), flow)
    scheduler.advance(64_000)
    expect([ict.state, nict.state]).toEqual(['Terminated', 'Terminated'])
    expect(keys(ict)).toEqual(ictKeys)
    expect(keys(nict)).toEqual(nictKeys)

    const again = layer.sendRequest(makeRequest('INVITE', { branch: 'z9hG4bK-ict-shape-2' }), destination, handler)
    expect(keys(again)).toEqual(ictKeys)
  })

  test('server transactions: one property set per class, from construction to Terminated', () => {
    const { layer, scheduler, user, flow } = setup()
    const invite = makeRequest('INVITE', { branch: 'z9hG4bK-ist-shape' })
    layer.receive(invite, flow)
    const register = makeRequest('REGISTER', { branch: 'z9hG4bK-nist-shape' })
    layer.receive(register, flow)
    const ist = user.requests[0]!.tx!
    const nist = user.requests[1]!.tx!
    expect(ist).toBeInstanceOf(InviteServerTransaction)
    expect(nist).toBeInstanceOf(NonInviteServerTransaction)
    expect(ist).toBeInstanceOf(ServerTransactionBase)
    expect(nist).toBeInstanceOf(ServerTransactionBase)
    const istKeys = keys(ist)
    const nistKeys = keys(nist)

    scheduler.advance(200) // 100 (Trying)
    const busy = makeResponse(invite, 486)
    ist.respond(busy)
    nist.respond(makeResponse(register, 100, null))
    nist.respond(makeResponse(register, 200))
    layer.receive(makeNon2xxAck(invite, busy), flow)
    scheduler.advance(64_000)
    expect([ist.state, nist.state]).toEqual(['Terminated', 'Terminated'])
    expect(keys(ist)).toEqual(istKeys)
    expect(keys(nist)).toEqual(nistKeys)
  })
})

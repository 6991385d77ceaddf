/**
 * ProxiedDialogs (sip/proxy/proxied-dialogs.ts): the dialog of an answered, not anchored call —
 * the operator's hang-up (BYE to both sides with Reason), a leg's connection closing (BYE to the
 * other leg only), and a call whose BYE never passes (a phone that vanished over UDP) forgotten
 * after maxAgeMs without sending anything.
 */
import { describe, expect, test } from 'bun:test'
import { createResponse } from '../../../../gateway/src/sip/message/create-response.ts'
import { LocalAddresses } from '../../../../gateway/src/base/local-addresses.ts'
import { ProxiedDialogs } from '../../../../gateway/src/sip/proxy/proxied-dialogs.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import { FakeTransactions, recordingFlow, transportLayer, uacRequest } from './helpers.ts'

function setup(maxAgeMs = 60_000) {
  const scheduler = new FakeScheduler()
  const transactions = new FakeTransactions()
  const dialogs = new ProxiedDialogs({
    local: new LocalAddresses('patchbay.test', ['127.0.0.1', 'localhost']), transport: transportLayer(), transactions, scheduler, maxAgeMs,
  })
  return { scheduler, transactions, dialogs }
}

/** An answered call: the caller over a WebSocket, the callee over UDP. */
function answered(s: ReturnType<typeof setup>) {
  const invite = uacRequest()
  invite.set('contact', '<sip:alice@caller.invalid;transport=ws>')
  const ok = createResponse(invite, 200, { toTag: 'callee-tag' })
  ok.set('contact', '<sip:bob@198.51.100.1:5060>')
  const callerFlow = recordingFlow('WS', '192.0.2.10', 40000)
  s.dialogs.record({
    invite, ok,
    callerDestination: { transport: 'WS', address: '192.0.2.10', port: 40000, flow: callerFlow }, callerFlow,
    calleeDestination: { transport: 'UDP', address: '198.51.100.1', port: 5060 }, calleeFlow: null,
  })
  return { invite, callerFlow }
}

describe('ProxiedDialogs', () => {
  test('hang-up: a BYE to each side with the dialog tags and the Reason; a second hang-up finds nothing', () => {
    const s = setup()
    const { invite } = answered(s)
    expect(s.dialogs.hangUp(invite.callId, 'SIP;cause=200;text="operator"')).toBe(true)
    const byes = s.transactions.sent('BYE')
    expect(byes.map((b) => b.request.uri)).toEqual(['sip:bob@198.51.100.1:5060', 'sip:alice@caller.invalid;transport=ws'])
    expect(byes.every((b) => b.request.get('reason') === 'SIP;cause=200;text="operator"')).toBe(true)
    expect(byes[0]!.request.get('to')).toContain('tag=callee-tag')
    expect(s.dialogs.hangUp(invite.callId, 'x')).toBe(false)
    expect(s.dialogs.size).toBe(0)
  })

  test('the caller\'s connection closes: one BYE, to the callee', () => {
    const s = setup()
    const { invite, callerFlow } = answered(s)
    expect(s.dialogs.endOnFlow(callerFlow)).toEqual([invite.callId])
    expect(s.transactions.sent('BYE').map((b) => b.request.uri)).toEqual(['sip:bob@198.51.100.1:5060'])
    expect(s.dialogs.size).toBe(0)
  })

  test('a call whose BYE never passes is forgotten after maxAgeMs, silently; the sweep timer stops when empty', () => {
    const s = setup(60_000)
    answered(s)
    expect(s.dialogs.size).toBe(1)
    s.scheduler.advance(59_999)
    expect(s.dialogs.size).toBe(1)
    s.scheduler.advance(1) // the sweep (once a minute) finds it maxAge old
    expect(s.dialogs.size).toBe(0)
    expect(s.transactions.sent('BYE')).toHaveLength(0)
    expect(s.scheduler.pendingCount).toBe(0)
  })

  test('a BYE passing through ends the dialog', () => {
    const s = setup()
    const { invite } = answered(s)
    const bye = uacRequest({ method: 'BYE', callId: invite.callId })
    s.dialogs.noteRequest(bye)
    expect(s.dialogs.size).toBe(0)
  })
})

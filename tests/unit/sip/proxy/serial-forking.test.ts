/**
 * Serial forking in the stateful proxy (ForwardOptions.onFailure, RFC 3261 §16.6 "forward to
 * the next target after the previous one failed"; Kamailio's failure_route): trunk failover,
 * sequential ring groups (Target.ringTimeoutMs), CANCEL while the next target is looked up,
 * and the call events the proxy reports (sip/proxy/call-events.ts).
 */
import { describe, expect, test } from 'bun:test'
import type { SipResponse } from '../../../../gateway/src/sip/message/sip-message.ts'
import type { FailedBranch, Target } from '../../../../gateway/src/sip/proxy/target.ts'
import type { CallAnswered, CallEventSink, CallFailed } from '../../../../gateway/src/sip/proxy/call-events.ts'
import { captureLogs, recordingFlow, setupProxy, uacCancel, uacRequest, udpTarget } from './helpers.ts'

captureLogs()

/** Fails over on 408 and 5xx (a trunk list), stops on anything else. */
function trunkFailover(next: Target[][]): (best: SipResponse, failed: readonly FailedBranch[]) => Target[] | null {
  return (best) => (best.status === 408 || best.status >= 500) && next.length > 0 ? next.shift()! : null
}

function events() {
  const answered: CallAnswered[] = []
  const failed: CallFailed[] = []
  const sink: CallEventSink = { callStarted() {}, callAnswered: (e) => answered.push(e), callFailed: (e) => failed.push(e), callEnded() {} }
  return { sink, answered, failed }
}

describe('serial forking (ForwardOptions.onFailure)', () => {
  test('503 on the first trunk: the second is tried in the same context and its 200 goes upstream once', () => {
    const ev = events()
    const s = setupProxy({ callEvents: ev.sink })
    const inFlow = recordingFlow('UDP')
    const invite = uacRequest()
    const tx = s.serverTx(invite, inFlow)
    const second = { ...udpTarget('198.51.100.2', 5060), trunk: 'carrier-b' }
    s.proxy.forward(invite, tx, inFlow, [{ ...udpTarget('198.51.100.1', 5060), trunk: 'carrier-a' }], {
      recordRoute: true, onFailure: trunkFailover([[second]]), reportCall: true,
    })
    const [a] = s.transactions.sent('INVITE')
    a!.respond(503)
    const branches = s.transactions.sent('INVITE')
    expect(branches).toHaveLength(2)
    expect(branches[1]!.request.uri).toBe(second.requestUri)
    expect(tx.finals).toHaveLength(0)
    branches[1]!.respond(180)
    branches[1]!.respond(200, { toTag: 'callee' })
    expect(tx.finals.map((r) => r.status)).toEqual([200])
    expect(ev.answered).toHaveLength(1)
    expect(ev.answered[0]!.trunk).toBe('carrier-b')
    expect(ev.failed).toHaveLength(0)
    expect(s.proxy.pendingInvites).toBe(0)
  })

  test('486 stops the search: no next target, the 486 goes upstream and is reported as failed by the callee', () => {
    const ev = events()
    const s = setupProxy({ callEvents: ev.sink })
    const inFlow = recordingFlow('UDP')
    const invite = uacRequest()
    const tx = s.serverTx(invite, inFlow)
    s.proxy.forward(invite, tx, inFlow, [udpTarget('198.51.100.1', 5060)], {
      recordRoute: true, onFailure: trunkFailover([[udpTarget('198.51.100.2', 5060)]]), reportCall: true,
    })
    s.transactions.sent('INVITE')[0]!.respond(486)
    expect(s.transactions.sent('INVITE')).toHaveLength(1)
    expect(tx.finals.map((r) => r.status)).toEqual([486])
    expect(ev.failed.map((f) => [f.status, f.endedBy])).toEqual([[486, 'callee']])
  })

  test('every trunk times out: the last answer is 408 made by the gateway', () => {
    const ev = events()
    const s = setupProxy({ callEvents: ev.sink })
    const inFlow = recordingFlow('UDP')
    const invite = uacRequest()
    const tx = s.serverTx(invite, inFlow)
    s.proxy.forward(invite, tx, inFlow, [udpTarget('198.51.100.1', 5060)], {
      recordRoute: true, onFailure: trunkFailover([[udpTarget('198.51.100.2', 5060)]]), reportCall: true,
    })
    s.transactions.sent('INVITE')[0]!.timeout()
    s.transactions.sent('INVITE')[1]!.timeout()
    expect(tx.finals.map((r) => r.status)).toEqual([408])
    expect(ev.failed.map((f) => f.endedBy)).toEqual(['gateway'])
    expect(s.proxy.pendingInvites).toBe(0)
    expect(s.scheduler.pendingCount).toBe(0)
  })

  test('sequential ring group: the first member rings for its ring time, is CANCELled, the next rings; all unanswered ends 480', () => {
    const s = setupProxy()
    const inFlow = recordingFlow('UDP')
    const invite = uacRequest()
    const tx = s.serverTx(invite, inFlow)
    const members = [[{ ...udpTarget('198.51.100.2', 5060, 'bob'), ringTimeoutMs: 10_000 }]]
    s.proxy.forward(invite, tx, inFlow, [{ ...udpTarget('198.51.100.1', 5060, 'alice'), ringTimeoutMs: 10_000 }], {
      recordRoute: true, onFailure: (best) => (best.status === 480 ? members.shift() ?? null : null),
    })
    const first = s.transactions.sent('INVITE')[0]!
    first.respond(180)
    s.scheduler.advance(10_000)
    const cancels = s.transactions.sent('CANCEL')
    expect(cancels).toHaveLength(1)
    first.respond(487)
    const second = s.transactions.sent('INVITE')[1]
    expect(second).toBeDefined()
    expect(tx.finals).toHaveLength(0)
    second!.respond(180)
    s.scheduler.advance(10_000)
    second!.respond(487)
    expect(tx.finals.map((r) => `${r.status} ${r.reason}`)).toEqual(['480 No Answer'])
    expect(s.proxy.pendingInvites).toBe(0)
  })

  test('async failover (a DNS look-up): the caller CANCELs meanwhile, no new branch starts and 487 goes upstream', async () => {
    const ev = events()
    const s = setupProxy({ callEvents: ev.sink })
    const inFlow = recordingFlow('UDP')
    const invite = uacRequest()
    const tx = s.serverTx(invite, inFlow)
    let resolve!: (t: Target[]) => void
    s.proxy.forward(invite, tx, inFlow, [udpTarget('198.51.100.1', 5060)], {
      recordRoute: true, reportCall: true,
      onFailure: () => new Promise<Target[]>((r) => { resolve = r }),
    })
    s.transactions.sent('INVITE')[0]!.respond(503)
    expect(s.proxy.pendingInvites).toBe(1)
    s.proxy.cancel(uacCancel(invite), s.serverTx(uacCancel(invite), inFlow))
    resolve([udpTarget('198.51.100.2', 5060)])
    await Promise.resolve()
    await Promise.resolve()
    expect(s.transactions.sent('INVITE')).toHaveLength(1)
    expect(tx.finals.map((r) => r.status)).toEqual([487])
    expect(ev.failed.map((f) => [f.status, f.endedBy])).toEqual([[487, 'caller']])
    expect(s.proxy.pendingInvites).toBe(0)
  })

  test('per-target headers go on that branch only', () => {
    const s = setupProxy()
    const inFlow = recordingFlow('UDP')
    const invite = uacRequest({ method: 'MESSAGE' })
    s.proxy.forward(invite, s.serverTx(invite, inFlow), inFlow, [
      { ...udpTarget('198.51.100.1', 5060), headers: [{ name: 'p-asserted-identity', value: '<sip:+4930123@carrier.example>' }] },
      udpTarget('198.51.100.2', 5060),
    ], { recordRoute: false })
    const [a, b] = s.transactions.sent('MESSAGE')
    expect(a!.request.get('p-asserted-identity')).toBe('<sip:+4930123@carrier.example>')
    expect(b!.request.get('p-asserted-identity')).toBeUndefined()
  })
})

describe('call events', () => {
  test('an answered call reports the codec of the answer and peer-to-peer media', () => {
    const ev = events()
    const s = setupProxy({ callEvents: ev.sink })
    const inFlow = recordingFlow('UDP')
    const invite = uacRequest()
    const tx = s.serverTx(invite, inFlow)
    s.proxy.forward(invite, tx, inFlow, [udpTarget('198.51.100.1', 5060)], { recordRoute: true, reportCall: true })
    const sdp = 'v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 198.51.100.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n'
    s.transactions.sent('INVITE')[0]!.respond(200, { toTag: 'b', body: sdp })
    expect(ev.answered).toHaveLength(1)
    expect(ev.answered[0]!.codec).toBe('PCMA')
    expect(ev.answered[0]!.mediaPath).toBe('peer-to-peer')
    expect(ev.answered[0]!.callId).toBe(invite.get('call-id')!)
    expect(ev.answered[0]!.fromTag).toBe(invite.from.params.tag!)
  })
})

/**
 * StatefulProxy (RFC 3261 §16) over fake transactions, a real TransportLayer and a
 * FakeScheduler: §16.6 request forwarding (Max-Forwards, double Record-Route per RFC 5658, Via
 * with the loop-detection hash), parallel forking with CANCEL of the other branches (only after
 * a provisional, §9.1), best-response selection (§16.7 item 6), 6xx, timeouts, CANCEL from
 * upstream (§16.10), Timer C (§16.8) and that no response context is left behind.
 */
import { describe, expect, test } from 'bun:test'
import type { SipRequest } from '../../../../gateway/src/sip/message/sip-message.ts'
import { branchLoopHash, loopHash } from '../../../../gateway/src/sip/proxy/branch.ts'
import { parseNameAddr } from '../../../../gateway/src/sip/syntax/name-addr.ts'
import {
  CANCEL_TIMEOUT, PORTS, TIMER_C, captureLogs, flowTarget, recordingFlow, setupProxy, uacCancel, uacRequest, udpTarget,
  type FakeClientTx,
} from './helpers.ts'

captureLogs()

/** The Record-Route URIs of a forwarded request, top first, with their parameters. */
function recordRoutes(req: SipRequest): Array<{ scheme: string; host: string; port: number | null; params: Record<string, string | null> }> {
  return req.getAll('record-route').map((v) => {
    const na = parseNameAddr(v)
    if (!na) throw new Error(`unreadable Record-Route ${v}`)
    return { scheme: na.uri.scheme, host: na.uri.host, port: na.uri.port, params: na.uri.params }
  })
}

/** INVITE forwarded from a UDP UAC to `n` UDP contacts; returns the pieces. */
function forkedInvite(n: number) {
  const s = setupProxy()
  const inFlow = recordingFlow('UDP', '192.0.2.10', 5062)
  const invite = uacRequest()
  const tx = s.serverTx(invite, inFlow)
  const targets = Array.from({ length: n }, (_, i) => udpTarget(`198.51.100.${i + 1}`, 5060 + i))
  s.proxy.forward(invite, tx, inFlow, targets, { recordRoute: true, onFinal: s.onFinal })
  const branches = s.transactions.sent('INVITE')
  expect(branches).toHaveLength(n)
  return { ...s, inFlow, invite, tx, targets, branches }
}

/** No context, no timer left (Timer C and CANCEL timers all cleared). */
function expectNoLeak(s: { proxy: { pendingInvites: number }; scheduler: { pendingCount: number } }): void {
  expect(s.proxy.pendingInvites).toBe(0)
  expect(s.scheduler.pendingCount).toBe(0)
}

describe('§16.6 request forwarding', () => {
  test('Max-Forwards is decremented; the Request-URI is the target; the original Vias stay below ours', () => {
    const s = setupProxy()
    const inFlow = recordingFlow('UDP')
    const req = uacRequest({ method: 'MESSAGE' })
    s.proxy.forward(req, s.serverTx(req, inFlow), inFlow, [udpTarget('198.51.100.1', 5070)], { recordRoute: false })
    const [branch] = s.transactions.sent('MESSAGE')
    const copy = branch!.request
    expect(copy.get('max-forwards')).toBe('69')
    expect(req.get('max-forwards')).toBe('70') // the original is not modified
    expect(copy.uri).toBe('sip:bob@198.51.100.1:5070')
    const vias = copy.getAll('via')
    expect(vias).toHaveLength(3)
    expect(vias.slice(1)).toEqual(req.getAll('via'))
    expect(copy.getAll('record-route')).toEqual([])
    expect(branch!.destination).toEqual({ transport: 'UDP', address: '198.51.100.1', port: 5070 })
  })

  test('a request without Max-Forwards gets Max-Forwards: 70', () => {
    const s = setupProxy()
    const inFlow = recordingFlow('UDP')
    const req = uacRequest({ method: 'OPTIONS', maxForwards: null })
    s.proxy.forward(req, s.serverTx(req, inFlow), inFlow, [udpTarget('198.51.100.1', 5060)], { recordRoute: false })
    expect(s.transactions.clients[0]!.request.get('max-forwards')).toBe('70')
  })

  test('item 8: our Via on top, the transport of the outgoing leg, rport, a branch carrying the loop hash', () => {
    const s = setupProxy()
    const inFlow = recordingFlow('UDP')
    const ws = recordingFlow('WS', '127.0.0.1', 40001)
    const req = uacRequest()
    s.proxy.forward(req, s.serverTx(req, inFlow), inFlow, [flowTarget(ws), udpTarget('198.51.100.1', 5060)], { recordRoute: true })
    const [a, b] = s.transactions.sent('INVITE')
    const viaA = a!.request.topVia
    const viaB = b!.request.topVia
    expect(viaA.transport).toBe('WS')
    expect(viaA.host).toBe('127.0.0.1')
    expect(viaA.port).toBe(PORTS.WS)
    expect('rport' in viaA.params).toBe(true)
    expect(viaB.transport).toBe('UDP')
    expect(viaB.port).toBe(PORTS.UDP)
    // Both copies carry the hash of the incoming request (§16.6 item 8 / §16.3 item 4) and
    // differ in the unique part.
    const hash = loopHash(req, req.uri)
    expect(branchLoopHash(viaA.branch)).toBe(hash)
    expect(branchLoopHash(viaB.branch)).toBe(hash)
    expect(viaA.branch).not.toBe(viaB.branch)
    expect(viaA.branch!.startsWith('z9hG4bK')).toBe(true)
    // A different request gets a different hash.
    expect(loopHash(uacRequest({ callId: 'another-call' }), req.uri)).not.toBe(hash)
  })

  test('RFC 5658 double Record-Route: outbound-facing entry on top, inbound-facing below, pb-flow for reliable legs, the caller\'s From tag as ftag', () => {
    const s = setupProxy()
    const inFlow = recordingFlow('UDP', '192.0.2.10', 5062)
    const ws = recordingFlow('WS', '127.0.0.1', 40001)
    const req = uacRequest()
    const ftag = req.from.params.tag!
    s.proxy.forward(req, s.serverTx(req, inFlow), inFlow, [flowTarget(ws)], { recordRoute: true })
    const rr = recordRoutes(s.transactions.clients[0]!.request)
    expect(rr).toHaveLength(2)
    expect(rr[0]).toEqual({ scheme: 'sip', host: '127.0.0.1', port: PORTS.WS, params: { transport: 'ws', lr: null, 'pb-flow': ws.id, ftag } })
    expect(rr[1]).toEqual({ scheme: 'sip', host: '127.0.0.1', port: PORTS.UDP, params: { lr: null, ftag } })
  })

  test('Record-Route for TLS and WSS legs uses sips: with transport=tls / wss', () => {
    const s = setupProxy()
    const wss = recordingFlow('WSS', '127.0.0.1', 40002)
    const tls = recordingFlow('TLS', '127.0.0.1', 40003)
    const req = uacRequest()
    s.proxy.forward(req, s.serverTx(req, wss), wss, [flowTarget(tls)], { recordRoute: true })
    const rr = recordRoutes(s.transactions.clients[0]!.request)
    expect(rr.map((r) => `${r.scheme}:${r.port};${r.params.transport};${r.params['pb-flow']}`)).toEqual([
      `sips:${PORTS.TLS};tls;${tls.id}`,
      `sips:${PORTS.WSS};wss;${wss.id}`,
    ])
    expect(s.transactions.clients[0]!.request.topVia.transport).toBe('TLS')
  })

  test('forwardStateless (2xx ACK, §16.11): our Via, Max-Forwards - 1, no Record-Route, sent over the target flow', () => {
    const s = setupProxy()
    const ws = recordingFlow('WS', '127.0.0.1', 40001)
    const ack = uacRequest({ method: 'ACK', toTag: 'bob-tag' })
    expect(s.proxy.forwardStateless(ack, flowTarget(ws))).toBe(true)
    expect(s.transactions.clients).toHaveLength(0) // no transaction for ACK
    expect(ws.sent).toHaveLength(1)
    const wire = new TextDecoder().decode(ws.sent[0]!)
    expect(wire).toStartWith('ACK sip:bob@x7k2.invalid;transport=ws SIP/2.0\r\n')
    expect(wire).toMatch(/\r\nVia: SIP\/2\.0\/WS 127\.0\.0\.1:8080;branch=z9hG4bK-pb[^\r]*\r\nVia: SIP\/2\.0\/UDP 192\.0\.2\.10:5062/)
    expect(wire).toContain('\r\nMax-Forwards: 69\r\n')
    expect(wire).not.toContain('Record-Route')
    ws.open = false
    expect(s.proxy.forwardStateless(ack, flowTarget(ws))).toBe(false)
  })
})

describe('INVITE forking and §16.7 response processing', () => {
  test('100 Trying goes upstream at once; a 180 is forwarded without our Via; 100s from downstream are not', () => {
    const s = forkedInvite(2)
    expect(s.tx.statuses()).toEqual([100])
    expect(s.proxy.pendingInvites).toBe(1)
    s.branches[0]!.respond(100)
    expect(s.tx.statuses()).toEqual([100])
    s.branches[0]!.respond(180)
    expect(s.tx.statuses()).toEqual([100, 180])
    const ringing = s.tx.responses[1]!
    expect(ringing.getAll('via')).toEqual(s.invite.getAll('via'))
  })

  test('3 targets: the first 2xx goes upstream at once, the others are CANCELled, each only after a provisional (§9.1)', () => {
    const s = forkedInvite(3)
    const [a, b, c] = s.branches as [FakeClientTx, FakeClientTx, FakeClientTx]
    a.respond(180)
    b.respond(100)
    const ok = a.respond(200)
    expect(s.tx.finals).toEqual([ok])
    expect(ok.getAll('via')).toEqual(s.invite.getAll('via'))
    let cancels = s.transactions.sent('CANCEL')
    expect(cancels).toHaveLength(1) // b had a provisional, c had nothing yet
    const cancelB = cancels[0]!.request
    expect(cancelB.uri).toBe(b.request.uri)
    expect(cancelB.getAll('via')).toEqual([b.request.getAll('via')[0]!])
    expect(cancelB.get('cseq')).toBe('7 CANCEL')
    for (const h of ['call-id', 'from', 'to']) expect(cancelB.get(h)).toBe(b.request.get(h))
    expect(cancels[0]!.destination).toEqual(b.destination)

    c.respond(180) // now c may be CANCELled; its 180 is not forwarded after the 2xx
    cancels = s.transactions.sent('CANCEL')
    expect(cancels).toHaveLength(2)
    expect(cancels[1]!.request.topVia.branch).toBe(c.request.topVia.branch)
    expect(s.tx.statuses()).toEqual([100, 180, 200])

    b.respond(487)
    expect(s.proxy.pendingInvites).toBe(1)
    c.respond(487)
    expect(s.tx.finals).toHaveLength(1) // nothing after the 2xx
    expect(s.finals).toEqual([200])
    expectNoLeak(s)
  })

  test('a retransmitted 2xx and a 2xx from a second branch are forwarded too (§16.7 item 5, RFC 6026)', () => {
    const s = forkedInvite(2)
    const [a, b] = s.branches as [FakeClientTx, FakeClientTx]
    b.respond(180)
    a.respond(200)
    a.respond(200)
    b.respond(200) // raced with the CANCEL
    expect(s.tx.statuses()).toEqual([100, 180, 200, 200, 200])
    expect(s.finals).toEqual([200])
    expectNoLeak(s)
  })

  test('once the context is finished a branch keeps only the server transaction: late 2xx relayed, the rest dropped', () => {
    const s = forkedInvite(2)
    const [a, b] = s.branches as [FakeClientTx, FakeClientTx]
    a.respond(200)
    b.respond(487) // the CANCEL's answer: every branch final, the context is finished
    expect(s.proxy.pendingInvites).toBe(0)
    for (const branch of [a, b]) {
      // An INVITE client transaction lingers 64*T1 in Accepted with this handler (RFC 6026 §8.4):
      // it must not keep the response context (the INVITE, the other branches) alive.
      const held = Object.values(branch.handler as object)
      expect(held.some((v) => v === s.invite || (typeof v === 'object' && v !== null && 'branches' in v))).toBe(false)
    }
    a.respond(200) // retransmission
    b.respond(180) // late provisional: nothing to do
    b.respond(200) // a 2xx that crossed the CANCEL
    expect(s.tx.statuses()).toEqual([100, 200, 200, 200])
    expect(s.tx.finals.every((r) => r.getAll('via').join() === s.invite.getAll('via').join())).toBe(true)
    expectNoLeak(s)
  })

  test('a 6xx ends the search: the other branches are CANCELled and the 6xx goes up once all are final', () => {
    const s = forkedInvite(3)
    const [a, b, c] = s.branches as [FakeClientTx, FakeClientTx, FakeClientTx]
    a.respond(180)
    b.respond(603)
    expect(s.tx.finals).toHaveLength(0) // §16.7 item 6: not forwarded immediately
    expect(s.transactions.sent('CANCEL').map((t) => t.request.topVia.branch)).toEqual([a.request.topVia.branch])
    c.respond(486) // a 4xx after the 6xx does not beat it
    a.respond(487)
    expect(s.tx.finals.map((r) => r.status)).toEqual([603])
    expect(s.tx.finals[0]!.getAll('via')).toEqual(s.invite.getAll('via'))
    expect(s.finals).toEqual([603])
    expectNoLeak(s)
  })

  test('best response (§16.7 item 6): 486 beats 408 and a transport error; 3xx beats 4xx; a lone 503 becomes 500', () => {
    {
      const s = forkedInvite(2)
      s.branches[0]!.timeout()
      s.branches[1]!.respond(486)
      expect(s.tx.finals.map((r) => r.status)).toEqual([486])
      expectNoLeak(s)
    }
    {
      const s = forkedInvite(2)
      s.branches[0]!.respond(486)
      s.branches[1]!.respond(302, { headers: [{ name: 'contact', value: '<sip:bob@elsewhere.example>' }] })
      expect(s.tx.finals.map((r) => r.status)).toEqual([302])
      expect(s.tx.finals[0]!.get('contact')).toBe('<sip:bob@elsewhere.example>')
    }
    {
      const s = forkedInvite(1)
      s.branches[0]!.respond(503)
      expect(s.tx.finals.map((r) => `${r.status} ${r.reason}`)).toEqual(['500 Server Internal Error'])
      expectNoLeak(s)
    }
    {
      const s = forkedInvite(2)
      s.branches[0]!.transportError() // no flow: treated as 503 (§8.1.3.1), a 5xx
      s.branches[1]!.respond(486)
      expect(s.tx.finals.map((r) => r.status)).toEqual([486])
      expectNoLeak(s)
    }
  })

  test('401 and 407 are preferred over other 4xx (§16.7 item 6)', () => {
    const s = forkedInvite(3)
    s.branches[0]!.respond(486)
    s.branches[1]!.respond(407, { headers: [{ name: 'proxy-authenticate', value: 'Digest realm="b", nonce="2"' }] })
    s.branches[2]!.respond(404)
    expect(s.tx.finals.map((r) => r.status)).toEqual([407])
  })

  test('§16.7 item 7: a 401/407 sent upstream carries the challenges of every 401/407 of the context', () => {
    const s = forkedInvite(3)
    s.branches[0]!.respond(401, { headers: [{ name: 'www-authenticate', value: 'Digest realm="a", nonce="1"' }] })
    s.branches[1]!.respond(407, { headers: [{ name: 'proxy-authenticate', value: 'Digest realm="b", nonce="2"' }] })
    s.branches[2]!.respond(486)
    const [res] = s.tx.finals
    expect([401, 407]).toContain(res!.status)
    // "the proxy MUST collect any WWW-Authenticate and Proxy-Authenticate header field values
    // from all other 401 (Unauthorized) and 407 (Proxy Authentication Required) responses
    // received so far in this response context and add them to this response"
    expect(res!.getAll('www-authenticate')).toEqual(['Digest realm="a", nonce="1"'])
    expect(res!.getAll('proxy-authenticate')).toEqual(['Digest realm="b", nonce="2"'])
  })

  test('every branch timing out (Timer B) ends in 408 upstream', () => {
    const s = forkedInvite(3)
    for (const b of s.branches) b.timeout()
    expect(s.tx.finals.map((r) => r.status)).toEqual([408])
    expect(s.tx.finals[0]!.getAll('via')).toEqual(s.invite.getAll('via'))
    expect(s.finals).toEqual([408])
    expectNoLeak(s)
  })

  test('a transport error on a flow target counts as 480 (the contact\'s connection is gone)', () => {
    const s = setupProxy()
    const inFlow = recordingFlow('UDP')
    const ws = recordingFlow('WS', '127.0.0.1', 40001)
    const invite = uacRequest()
    const tx = s.serverTx(invite, inFlow)
    s.proxy.forward(invite, tx, inFlow, [flowTarget(ws)], { recordRoute: true })
    s.transactions.clients[0]!.transportError()
    expect(tx.finals.map((r) => r.status)).toEqual([480])
    expectNoLeak(s)
  })

  test('non-INVITE: no 100 Trying, no INVITE context, first 2xx forwarded and later finals dropped', () => {
    const s = setupProxy()
    const inFlow = recordingFlow('UDP')
    const req = uacRequest({ method: 'MESSAGE' })
    const tx = s.serverTx(req, inFlow)
    s.proxy.forward(req, tx, inFlow, [udpTarget('198.51.100.1', 5060), udpTarget('198.51.100.2', 5060)], { recordRoute: false, onFinal: s.onFinal })
    expect(tx.responses).toHaveLength(0)
    expect(s.proxy.pendingInvites).toBe(0)
    const [a, b] = s.transactions.sent('MESSAGE') as [FakeClientTx, FakeClientTx]
    a.respond(202)
    b.respond(200)
    expect(tx.statuses()).toEqual([202])
    expect(s.transactions.sent('CANCEL')).toHaveLength(0)
    expect(s.finals).toEqual([200])
    expect(s.scheduler.pendingCount).toBe(0) // no Timer C for non-INVITE
  })
})

describe('CANCEL from upstream (§16.10)', () => {
  test('200 for the CANCEL, CANCEL on every ringing branch, and the 487 goes upstream', () => {
    const s = forkedInvite(2)
    const [a, b] = s.branches as [FakeClientTx, FakeClientTx]
    a.respond(180)
    b.respond(183)
    const cancel = uacCancel(s.invite)
    const cancelTx = s.serverTx(cancel, s.inFlow)
    s.proxy.cancel(cancel, cancelTx)
    expect(cancelTx.statuses()).toEqual([200])
    const cancels = s.transactions.sent('CANCEL')
    expect(cancels.map((c) => c.request.topVia.branch).sort()).toEqual([a.request.topVia.branch, b.request.topVia.branch].sort())
    // Our CANCELs are hop by hop: our own Via, not the UAC's.
    expect(cancels[0]!.request.getAll('via')).toHaveLength(1)
    b.respond(183) // a late provisional is not forwarded any more
    a.respond(487)
    b.respond(487)
    expect(s.tx.statuses()).toEqual([100, 180, 183, 487])
    expect(s.finals).toEqual([487])
    expectNoLeak(s)
  })

  test('CANCEL before any provisional: the downstream CANCEL waits for one (§9.1)', () => {
    const s = forkedInvite(1)
    const [a] = s.branches as [FakeClientTx]
    const cancel = uacCancel(s.invite)
    s.proxy.cancel(cancel, s.serverTx(cancel, s.inFlow))
    expect(s.transactions.sent('CANCEL')).toHaveLength(0)
    a.respond(100)
    expect(s.transactions.sent('CANCEL')).toHaveLength(1)
    a.respond(487)
    expect(s.tx.finals.map((r) => r.status)).toEqual([487])
    expectNoLeak(s)
  })

  test('a CANCEL that matches no pending INVITE gets 481', () => {
    const s = setupProxy()
    const inFlow = recordingFlow('UDP')
    const cancel = uacCancel(uacRequest())
    const cancelTx = s.serverTx(cancel, inFlow)
    s.proxy.cancel(cancel, cancelTx)
    expect(cancelTx.statuses()).toEqual([481])
    expect(s.transactions.clients).toHaveLength(0)
  })

  test('a branch whose CANCEL never gets a 487 is given up after the cancel timeout (64*T1) and counts as 487', () => {
    const s = forkedInvite(1)
    const [a] = s.branches as [FakeClientTx]
    a.respond(180)
    const cancel = uacCancel(s.invite)
    s.proxy.cancel(cancel, s.serverTx(cancel, s.inFlow))
    s.scheduler.advance(CANCEL_TIMEOUT - 1)
    expect(s.tx.finals).toHaveLength(0)
    s.scheduler.advance(1)
    expect(a.terminated).toBe(true)
    expect(s.tx.finals.map((r) => r.status)).toEqual([487])
    expectNoLeak(s)
  })
})

describe('Timer C (§16.6 item 11, §16.8)', () => {
  test('fires after a provisional: the branch is CANCELled and its 487 goes upstream', () => {
    const s = forkedInvite(1)
    const [a] = s.branches as [FakeClientTx]
    a.respond(180)
    s.scheduler.advance(TIMER_C - 1)
    expect(s.transactions.sent('CANCEL')).toHaveLength(0)
    s.scheduler.advance(1)
    expect(s.transactions.sent('CANCEL')).toHaveLength(1)
    a.respond(487)
    expect(s.tx.finals.map((r) => r.status)).toEqual([487])
    expectNoLeak(s)
  })

  test('is reset by every provisional response', () => {
    const s = forkedInvite(1)
    const [a] = s.branches as [FakeClientTx]
    s.scheduler.advance(100_000)
    a.respond(180)
    s.scheduler.advance(100_000) // 200 s after the INVITE, 100 s after the 180
    expect(s.transactions.sent('CANCEL')).toHaveLength(0)
    a.respond(183)
    s.scheduler.advance(TIMER_C - 1)
    expect(s.transactions.sent('CANCEL')).toHaveLength(0)
    s.scheduler.advance(1)
    expect(s.transactions.sent('CANCEL')).toHaveLength(1)
  })

  test('fires with no provisional: the branch counts as 408 and its transaction is dropped', () => {
    const s = forkedInvite(1)
    const [a] = s.branches as [FakeClientTx]
    s.scheduler.advance(TIMER_C)
    expect(a.terminated).toBe(true)
    expect(s.transactions.sent('CANCEL')).toHaveLength(0)
    expect(s.tx.finals.map((r) => r.status)).toEqual([408])
    expectNoLeak(s)
  })
})

describe('no leaks', () => {
  test('100 forked INVITEs, ended by 2xx, 4xx, timeouts and CANCELs, leave no response context and no timer', () => {
    const s = setupProxy()
    const inFlow = recordingFlow('UDP')
    for (let i = 0; i < 100; i++) {
      const invite = uacRequest({ callId: `leak-${i}` })
      const tx = s.serverTx(invite, inFlow)
      const before = s.transactions.clients.length
      s.proxy.forward(invite, tx, inFlow, [udpTarget('198.51.100.1', 5060), udpTarget('198.51.100.2', 5060)], { recordRoute: true })
      const [a, b] = s.transactions.clients.slice(before) as [FakeClientTx, FakeClientTx]
      switch (i % 4) {
        case 0:
          a.respond(180)
          b.respond(200)
          a.respond(487)
          break
        case 1:
          a.respond(486)
          b.timeout()
          break
        case 2: {
          a.respond(180)
          b.respond(180)
          const cancel = uacCancel(invite)
          s.proxy.cancel(cancel, s.serverTx(cancel, inFlow))
          a.respond(487)
          b.respond(487)
          break
        }
        case 3:
          a.respond(180)
          s.scheduler.advance(TIMER_C) // a: CANCELled; b: 408
          a.respond(487)
          break
      }
      expect(tx.finals.length, `call ${i}`).toBeGreaterThanOrEqual(1)
    }
    expectNoLeak(s)
  })
})

describe('a caller whose connection closes while the callee rings', () => {
  test('its ringing branches are CANCELled and the context completes (no ringing until Timer C)', () => {
    const s = setupProxy()
    const callerFlow = recordingFlow('WS', '192.0.2.20', 50000)
    const invite = uacRequest()
    const tx = s.serverTx(invite, callerFlow)
    s.proxy.forward(invite, tx, callerFlow, [udpTarget('192.0.2.30', 5070)], { recordRoute: true, onFinal: s.onFinal })
    const [branch] = s.transactions.sent('INVITE') as [FakeClientTx]
    branch.respond(180)
    expect(s.transactions.sent('CANCEL')).toHaveLength(0)
    callerFlow.close()
    s.proxy.endDialogsOnFlow(callerFlow)
    const cancels = s.transactions.sent('CANCEL')
    expect(cancels).toHaveLength(1)
    expect(cancels[0]!.request.topVia.branch).toBe(branch.request.topVia.branch)
    branch.respond(487)
    expect(s.proxy.pendingInvites).toBe(0)
    expect(s.finals).toEqual([487])
  })
})

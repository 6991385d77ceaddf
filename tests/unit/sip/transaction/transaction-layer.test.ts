import { describe, expect, test } from 'bun:test'
import { SipRequest, type SipMessage } from '../../../../gateway/src/sip/message/sip-message.ts'
import { parseMessage } from '../../../../gateway/src/sip/parser/message-parser.ts'
import type { ServerTransaction } from '../../../../gateway/src/sip/transaction/transaction-user.ts'
import { MAGIC_COOKIE } from '../../../../gateway/src/sip/transaction/transaction-layer.ts'
import {
  RecordingHandler, captureLogs, makeCancel, makeNon2xxAck, makeRequest, makeResponse, setup,
} from './helpers.ts'

const logs = captureLogs()

/** Parses an RFC 4475 fixture (tests/fixtures/rfc4475) into a message; a fresh object each call. */
async function fixture(name: string): Promise<SipMessage> {
  const bytes = new Uint8Array(await Bun.file(new URL(`../../../fixtures/rfc4475/${name}.dat`, import.meta.url)).arrayBuffer())
  const r = parseMessage(bytes)
  if (!r.ok) throw new Error(`fixture ${name} did not parse`)
  return r.message
}

async function fixtureRequest(name: string): Promise<SipRequest> {
  const m = await fixture(name)
  if (m.kind !== 'request') throw new Error(`fixture ${name} is not a request`)
  return m
}

describe('TransactionLayer: server matching (RFC 3261 §17.2.3)', () => {
  test('same branch and sent-by, method INVITE: a retransmission; another sent-by: a new transaction', () => {
    const s = setup()
    s.layer.receive(makeRequest('INVITE', { branch: 'z9hG4bK-m1', sentBy: 'a.example.com:5060' }), s.flow)
    s.layer.receive(makeRequest('INVITE', { branch: 'z9hG4bK-m1', sentBy: 'a.example.com:5060' }), s.flow)
    expect(s.user.requests).toHaveLength(1)
    // > there could be accidental or malicious duplication of branch parameters from different clients.
    s.layer.receive(makeRequest('INVITE', { branch: 'z9hG4bK-m1', sentBy: 'b.example.com:5060' }), s.flow)
    s.layer.receive(makeRequest('INVITE', { branch: 'z9hG4bK-m1', sentBy: 'a.example.com' }), s.flow)
    expect(s.user.requests).toHaveLength(3)
    expect(s.layer.size).toBe(3)
  })

  test('CANCEL gets its own non-INVITE server transaction and finds the INVITE transaction (§9.2)', () => {
    const s = setup()
    const invite = makeRequest('INVITE', { branch: 'z9hG4bK-c1' })
    s.layer.receive(invite, s.flow)
    const inviteTx = s.user.requests[0]!.tx!
    const cancel = makeCancel(invite)
    s.layer.receive(cancel, s.flow)
    expect(s.user.requests).toHaveLength(2)
    const cancelTx = s.user.requests[1]!.tx!
    expect(cancelTx).not.toBe(inviteTx)
    expect(cancelTx.method).toBe('CANCEL')
    expect(cancelTx.state).toBe('Trying')
    expect(s.layer.transactionCounts).toEqual({ inviteClient: 0, nonInviteClient: 0, inviteServer: 1, nonInviteServer: 1 })
    expect(s.layer.findInviteServerTransaction(cancel)).toBe(inviteTx)
    // A retransmitted CANCEL is absorbed by its own transaction.
    s.layer.receive(makeCancel(invite), s.flow)
    expect(s.user.requests).toHaveLength(2)
    // Another branch or another sent-by finds nothing.
    expect(s.layer.findInviteServerTransaction(makeCancel(makeRequest('INVITE', { branch: 'z9hG4bK-c2' })))).toBeUndefined()
    expect(s.layer.findInviteServerTransaction(
      makeCancel(makeRequest('INVITE', { branch: 'z9hG4bK-c1', sentBy: 'other.example.com' })),
    )).toBeUndefined()
    // Once the INVITE transaction is over, the CANCEL finds nothing.
    inviteTx.respond(makeResponse(invite, 200))
    s.scheduler.advance(32_000)
    expect(s.layer.findInviteServerTransaction(cancel)).toBeUndefined()
  })

  test('an ACK matching no INVITE server transaction goes to the TU with tx = null', () => {
    const s = setup()
    const ack = makeRequest('ACK', { branch: 'z9hG4bK-lonely', toTag: 'x' })
    s.layer.receive(ack, s.flow)
    expect(s.user.requests).toEqual([{ request: ack, tx: null, flow: s.flow }])
    expect(s.layer.size).toBe(0)
    // An ACK never creates a transaction, even if the branch is an existing non-INVITE one.
    s.layer.receive(makeRequest('OPTIONS', { branch: 'z9hG4bK-o' }), s.flow)
    s.layer.receive(makeRequest('ACK', { branch: 'z9hG4bK-o' }), s.flow)
    expect(s.user.requests.map((r) => [r.request.method, r.tx === null])).toEqual([['ACK', true], ['OPTIONS', false], ['ACK', true]])
  })

  test('a message without a readable top Via is dropped with a warning, never thrown', () => {
    const s = setup()
    const bad = new SipRequest('OPTIONS', 'sip:x@example.com', [{ name: 'cseq', value: '1 OPTIONS' }])
    expect(() => s.layer.receive(bad, s.flow)).not.toThrow()
    expect(s.user.requests).toHaveLength(0)
    expect(logs.some((l) => l.includes('request dropped'))).toBe(true)
  })
})

describe('TransactionLayer: RFC 2543 matching (RFC 4475 §3.4.1 inv2543, §3.2.1 badbranch)', () => {
  test('inv2543: an INVITE without branch is matched by Request-URI, tags, Call-ID, CSeq and top Via', async () => {
    const s = setup()
    const invite = await fixtureRequest('inv2543')
    expect(invite.topVia.branch).toBeNull()
    s.layer.receive(invite, s.flow)
    expect(s.user.requests).toHaveLength(1)
    const tx = s.user.requests[0]!.tx as ServerTransaction
    expect(tx.key.startsWith('2543 ')).toBe(true)
    tx.respond(makeResponse(invite, 180, 'uas-1'))
    // The same bytes again: a retransmission, answered with the 180, not passed up.
    s.layer.receive(await fixtureRequest('inv2543'), s.flow)
    expect(s.user.requests).toHaveLength(1)
    expect(s.sender.responses(180)).toHaveLength(2)
    // Another CSeq: a new transaction.
    const next = await fixtureRequest('inv2543')
    next.set('cseq', '57 INVITE')
    s.layer.receive(next, s.flow)
    expect(s.user.requests).toHaveLength(2)

    // The ACK for a non-2xx matches when its To tag is the response's.
    const busy = makeResponse(invite, 486, 'uas-1')
    tx.respond(busy)
    const wrongAck = makeNon2xxAck(invite, makeResponse(invite, 486, 'someone-else'))
    s.layer.receive(wrongAck, s.flow)
    expect(tx.state).toBe('Completed')
    expect(s.user.requests.at(-1)).toEqual({ request: wrongAck, tx: null, flow: s.flow })
    s.layer.receive(makeNon2xxAck(invite, busy), s.flow)
    expect(tx.state).toBe('Confirmed')
    expect(s.user.requests).toHaveLength(3)
  })

  test('inv2543: CANCEL finds the INVITE by RFC 2543 rules', async () => {
    const s = setup()
    const invite = await fixtureRequest('inv2543')
    s.layer.receive(invite, s.flow)
    const inviteTx = s.user.requests[0]!.tx
    const cancel = makeCancel(invite)
    s.layer.receive(cancel, s.flow)
    expect(s.user.requests[1]!.tx!.method).toBe('CANCEL')
    expect(s.layer.findInviteServerTransaction(cancel)).toBe(inviteTx!)
  })

  test('RFC 2543 re-INVITE (To tag already set): the ACK carries the same tag and matches', () => {
    const s = setup()
    const reinvite = makeRequest('INVITE', { branch: null, toTag: 'dlg-b', cseq: 7 })
    s.layer.receive(reinvite, s.flow)
    const tx = s.user.requests[0]!.tx!
    const r = makeResponse(reinvite, 491)
    tx.respond(r)
    s.layer.receive(makeNon2xxAck(reinvite, r), s.flow)
    expect(tx.state).toBe('Confirmed')
    expect(s.user.requests).toHaveLength(1)
  })

  test('badbranch: a branch that is only the magic cookie falls back to RFC 2543 matching', async () => {
    const s = setup()
    const options = await fixtureRequest('badbranch')
    expect(options.topVia.branch).toBe(MAGIC_COOKIE)
    s.layer.receive(options, s.flow)
    const tx = s.user.requests[0]!.tx!
    expect(tx.key.startsWith('2543 ')).toBe(true)
    s.layer.receive(await fixtureRequest('badbranch'), s.flow) // retransmission
    expect(s.user.requests).toHaveLength(1)
    // Same bare-cookie branch from the same sent-by, another Call-ID: not the same transaction
    // (3261 matching by branch would have wrongly merged them).
    const other = await fixtureRequest('badbranch')
    other.set('call-id', 'another-call@192.0.2.1')
    s.layer.receive(other, s.flow)
    expect(s.user.requests).toHaveLength(2)
    expect(s.layer.size).toBe(2)
  })
})

describe('TransactionLayer: client side (RFC 3261 §17.1.3)', () => {
  test('a response matching no client transaction (or with no branch) goes to onStrayResponse', () => {
    const s = setup()
    const r = makeResponse(makeRequest('INVITE', { branch: 'z9hG4bK-never-sent' }), 200)
    s.layer.receive(r, s.flow)
    const r2 = makeResponse(makeRequest('INVITE', { branch: null }), 200)
    s.layer.receive(r2, s.flow)
    expect(s.user.strays).toEqual([r, r2])
  })

  test('sendRequest refuses ACK, a branch without the cookie, and a branch in use', () => {
    const s = setup()
    expect(() => s.layer.sendRequest(makeRequest('ACK'), s.destination, s.handler)).toThrow(/sendAck/)
    expect(() => s.layer.sendRequest(makeRequest('OPTIONS', { branch: 'abc' }), s.destination, s.handler)).toThrow()
    expect(() => s.layer.sendRequest(makeRequest('OPTIONS', { branch: MAGIC_COOKIE }), s.destination, s.handler)).toThrow()
    s.layer.sendRequest(makeRequest('OPTIONS', { branch: 'z9hG4bK-dup' }), s.destination, s.handler)
    expect(() => s.layer.sendRequest(makeRequest('OPTIONS', { branch: 'z9hG4bK-dup' }), s.destination, s.handler)).toThrow(/exists/)
    expect(s.layer.size).toBe(1)
  })

  test('sendAck and sendStateless pass straight to the transport, no transaction', () => {
    const s = setup()
    const ack = makeRequest('ACK', { branch: s.layer.newBranch() })
    expect(s.layer.sendAck(ack, s.destination)).toBe(s.flow)
    expect(() => s.layer.sendAck(makeRequest('BYE'), s.destination)).toThrow()
    const r = makeResponse(makeRequest('INVITE'), 200)
    expect(s.layer.sendStateless(r, s.destination)).toBe(s.flow)
    expect(s.sender.sent.map((x) => x.message)).toEqual([ack, r])
    expect(s.layer.size).toBe(0)
    expect(s.scheduler.pendingCount).toBe(0)
  })

  test('retransmissions and the ACK go over the flow the first send used', () => {
    const s = setup()
    const invite = makeRequest('INVITE', { branch: 'z9hG4bK-pin' })
    const tx = s.layer.sendRequest(invite, s.destination, s.handler)
    expect(tx.flow).toBe(s.flow)
    expect(s.destination.flow).toBeUndefined()
    s.scheduler.advance(500)
    s.layer.receive(makeResponse(invite, 500), s.flow)
    expect(s.sender.sent.slice(1).map((x) => x.destination.flow)).toEqual([s.flow, s.flow])
  })

  test('newBranch: magic cookie, unique, at least 64 random bits', () => {
    const s = setup()
    const seen = new Set<string>()
    for (let i = 0; i < 10_000; i++) seen.add(s.layer.newBranch())
    expect(seen.size).toBe(10_000)
    const b = s.layer.newBranch()
    expect(b.startsWith(MAGIC_COOKIE)).toBe(true)
    expect(b).toMatch(/^z9hG4bK[0-9a-z]+\.[0-9a-z]+\.[0-9a-z]+$/)
    // The two random parts are uint32 values in base 36: together 64 bits.
    const [, r1, r2] = b.slice(MAGIC_COOKIE.length).split('.')
    expect(parseInt(r1!, 36)).toBeLessThan(2 ** 32)
    expect(parseInt(r2!, 36)).toBeLessThan(2 ** 32)
    // Two layers never hand out the same branch.
    expect(setup().layer.newBranch()).not.toBe(s.layer.newBranch())
  })
})

describe('TransactionLayer: lifecycle', () => {
  for (const reliable of [false, true]) {
    test(`no leaks (${reliable ? 'TCP' : 'UDP'}): after N transactions of every kind complete and timers run out, size and pendingCount are 0`, () => {
      const s = setup({ reliable })
      const N = 50
      let n = 0
      const branch = () => `z9hG4bK-leak-${n++}`
      for (let i = 0; i < N; i++) {
        // Client INVITE -> 180 -> 200 (Accepted, Timer M)
        const h1 = new RecordingHandler(s.scheduler)
        const inv1 = makeRequest('INVITE', { branch: branch() })
        s.layer.sendRequest(inv1, s.destination, h1)
        s.layer.receive(makeResponse(inv1, 180), s.flow)
        s.layer.receive(makeResponse(inv1, 200), s.flow)
        // Client INVITE -> 486 (Completed, Timer D)
        const inv2 = makeRequest('INVITE', { branch: branch() })
        s.layer.sendRequest(inv2, s.destination, new RecordingHandler(s.scheduler))
        s.layer.receive(makeResponse(inv2, 486), s.flow)
        // Client INVITE with no answer (Timer B), client INVITE left ringing then terminated
        s.layer.sendRequest(makeRequest('INVITE', { branch: branch() }), s.destination, new RecordingHandler(s.scheduler))
        const inv3 = makeRequest('INVITE', { branch: branch() })
        const ringing = s.layer.sendRequest(inv3, s.destination, new RecordingHandler(s.scheduler))
        s.layer.receive(makeResponse(inv3, 180), s.flow)
        ringing.terminate()
        // Client OPTIONS -> 200 (Timer K), client OPTIONS with no answer (Timer F)
        const opt = makeRequest('OPTIONS', { branch: branch() })
        s.layer.sendRequest(opt, s.destination, new RecordingHandler(s.scheduler))
        s.layer.receive(makeResponse(opt, 200), s.flow)
        s.layer.sendRequest(makeRequest('OPTIONS', { branch: branch() }), s.destination, new RecordingHandler(s.scheduler))
        // Server INVITE -> 486 -> ACK (Confirmed, Timer I); -> 486 without ACK (Timer H); -> 200 (Timer L)
        const sInv1 = makeRequest('INVITE', { branch: branch() })
        s.layer.receive(sInv1, s.flow)
        const busy = makeResponse(sInv1, 486)
        s.user.requests.at(-1)!.tx!.respond(busy)
        s.layer.receive(makeNon2xxAck(sInv1, busy), s.flow)
        const sInv2 = makeRequest('INVITE', { branch: branch() })
        s.layer.receive(sInv2, s.flow)
        s.user.requests.at(-1)!.tx!.respond(makeResponse(sInv2, 486))
        const sInv3 = makeRequest('INVITE', { branch: branch() })
        s.layer.receive(sInv3, s.flow)
        s.user.requests.at(-1)!.tx!.respond(makeResponse(sInv3, 200))
        // Server BYE -> 200 (Timer J), CANCEL of a pending INVITE -> 200, the INVITE -> 487
        const bye = makeRequest('BYE', { branch: branch() })
        s.layer.receive(bye, s.flow)
        s.user.requests.at(-1)!.tx!.respond(makeResponse(bye, 200))
        const sInv4 = makeRequest('INVITE', { branch: branch() })
        s.layer.receive(sInv4, s.flow)
        const inviteTx = s.user.requests.at(-1)!.tx!
        const cancel = makeCancel(sInv4)
        s.layer.receive(cancel, s.flow)
        s.user.requests.at(-1)!.tx!.respond(makeResponse(cancel, 200))
        const terminated = makeResponse(sInv4, 487)
        s.layer.findInviteServerTransaction(cancel)!.respond(terminated)
        s.layer.receive(makeNon2xxAck(sInv4, terminated), s.flow)
        expect(inviteTx.state).toBe(reliable ? 'Terminated' : 'Confirmed')
        // A 2543 NIST as well
        const old = makeRequest('OPTIONS', { branch: null, callId: `old-${i}` })
        s.layer.receive(old, s.flow)
        s.user.requests.at(-1)!.tx!.respond(makeResponse(old, 200))
        s.scheduler.advance(10)
      }
      expect(s.layer.size).toBeGreaterThan(0)
      s.scheduler.advance(200_000)
      expect(s.layer.size).toBe(0)
      expect(s.layer.transactionCounts).toEqual({ inviteClient: 0, nonInviteClient: 0, inviteServer: 0, nonInviteServer: 0 })
      expect(s.scheduler.pendingCount).toBe(0)
    })
  }

  test('a handler may terminate its transaction from inside onResponse', () => {
    for (const reliable of [false, true]) {
      const s = setup({ reliable })
      const tx1 = s.layer.sendRequest(makeRequest('INVITE', { branch: 'z9hG4bK-re1' }), s.destination, {
        onResponse: (_r, tx) => tx.terminate(), onTimeout: () => {}, onTransportError: () => {},
      })
      const tx2 = s.layer.sendRequest(makeRequest('OPTIONS', { branch: 'z9hG4bK-re2' }), s.destination, {
        onResponse: (_r, tx) => tx.terminate(), onTimeout: () => {}, onTransportError: () => {},
      })
      s.layer.receive(makeResponse(tx1.request!, 486), s.flow)
      s.layer.receive(makeResponse(tx2.request!, 200), s.flow)
      expect([tx1.state, tx2.state]).toEqual(['Terminated', 'Terminated'])
      expect(s.sender.requests('ACK')).toHaveLength(1)
      expect(s.layer.size).toBe(0)
      expect(s.layer.transactionCounts).toEqual({ inviteClient: 0, nonInviteClient: 0, inviteServer: 0, nonInviteServer: 0 })
      expect(s.scheduler.pendingCount).toBe(0)
    }
  })

  test('close() terminates every transaction and clears every timer', () => {
    const s = setup()
    const h = new RecordingHandler(s.scheduler)
    s.layer.sendRequest(makeRequest('INVITE', { branch: 'z9hG4bK-x1' }), s.destination, h)
    s.layer.sendRequest(makeRequest('OPTIONS', { branch: 'z9hG4bK-x2' }), s.destination, h)
    s.layer.receive(makeRequest('INVITE', { branch: 'z9hG4bK-x3' }), s.flow)
    const inv = makeRequest('INVITE', { branch: 'z9hG4bK-x4' })
    s.layer.receive(inv, s.flow)
    s.user.requests.at(-1)!.tx!.respond(makeResponse(inv, 486))
    s.sender.fail = true
    s.layer.sendRequest(makeRequest('OPTIONS', { branch: 'z9hG4bK-x5' }), s.destination, h)
    expect(s.layer.size).toBe(5)
    expect(s.scheduler.pendingCount).toBeGreaterThan(0)
    s.layer.close()
    expect(s.layer.size).toBe(0)
    expect(s.scheduler.pendingCount).toBe(0)
    s.scheduler.advance(100_000)
    expect(h.events).toHaveLength(0)
    expect(s.user.failures).toHaveLength(0)
  })
})

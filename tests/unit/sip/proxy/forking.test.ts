/**
 * Forking correctness (issue 11, deliver item 8), over the proxy's fakes:
 *
 * - RFC 3261 §16.5: "any given URI MUST NOT be added to the set more than once": two
 *   bindings with the same Contact at the same address give one branch, not two (the phone
 *   answered the second with 486); two phones behind one NAT with the same private Contact
 *   at different addresses stay two branches.
 * - §16.7 items 5 and 10: no branch starts once a 2xx was forwarded (or arrived and is in the
 *   media driver), after a 6xx, or after a CANCEL — the case of an anchored branch whose
 *   media offer comes back late (a fake BranchMediaSeam whose offer the test resolves).
 */
import { describe, expect, test } from 'bun:test'
import type { SipResponse } from '../../../../gateway/src/sip/message/sip-message.ts'
import type { BranchMedia, BranchMediaSeam } from '../../../../gateway/src/sip/proxy/branch-media.ts'
import { StatefulProxy } from '../../../../gateway/src/sip/proxy/stateful-proxy.ts'
import { distinctTargets, sameTarget, type Target } from '../../../../gateway/src/sip/proxy/target.ts'
import type { ClientTransaction } from '../../../../gateway/src/sip/transaction/transaction-user.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import {
  CANCEL_TIMEOUT, FakeServerTx, FakeTransactions, TIMER_C, captureLogs, flowTarget, recordingFlow, setupProxy, transportLayer,
  uacCancel, uacRequest, udpTarget,
} from './helpers.ts'

const logs = captureLogs()

const encoder = new TextEncoder()
const decoder = new TextDecoder()

describe('RFC 3261 §16.5: no URI twice in the target set', () => {
  test('two bindings with one Contact at one address: one INVITE branch, and the call completes on it', () => {
    const { proxy, transactions, serverTx, onFinal, finals } = setupProxy()
    const inv = uacRequest()
    const tx = serverTx(inv, recordingFlow('UDP'))
    // The same phone, registered twice (a new +sip.instance, or a stale binding from the store).
    const phone = udpTarget('192.0.2.30', 5070)
    const again = udpTarget('192.0.2.30', 5070)
    proxy.forward(inv, tx, tx.flow, [phone, again], { recordRoute: true, onFinal })
    const branches = transactions.sent('INVITE')
    expect(branches).toHaveLength(1)
    expect(branches[0]!.request.uri).toBe('sip:bob@192.0.2.30:5070')
    branches[0]!.respond(180)
    branches[0]!.respond(200)
    expect(tx.statuses()).toEqual([100, 180, 200])
    expect(transactions.sent('CANCEL')).toHaveLength(0)
    expect(finals).toEqual([200])
    expect(proxy.pendingInvites).toBe(0)
    expect(logs.some((l) => l.includes('duplicate targets skipped'))).toBe(true)
  })

  test('§19.1.4 equivalence: case of host and scheme, escapes, and a parameter on one side only are the same URI', () => {
    const at = (requestUri: string): Target => ({ requestUri, destination: { transport: 'UDP', address: '192.0.2.30', port: 5070 } })
    expect(sameTarget(at('sip:bob@192.0.2.30:5070'), at('SIP:%62ob@192.0.2.30:5070;ob'))).toBe(true)
    expect(sameTarget(at('sip:bob@Phone.Example:5070'), at('sip:bob@phone.example:5070'))).toBe(true)
    // Different URIs (user, port, a transport parameter on one side) are different targets.
    expect(sameTarget(at('sip:bob@192.0.2.30:5070'), at('sip:BOB@192.0.2.30:5070'))).toBe(false)
    expect(sameTarget(at('sip:bob@192.0.2.30:5070'), at('sip:bob@192.0.2.30'))).toBe(false)
    expect(sameTarget(at('sip:bob@192.0.2.30:5070'), at('sip:bob@192.0.2.30:5070;transport=udp'))).toBe(false)
  })

  test('the same private Contact from two NATed phones (two source addresses) stays two branches', () => {
    const { proxy, transactions, serverTx } = setupProxy()
    const inv = uacRequest()
    const tx = serverTx(inv, recordingFlow('UDP'))
    const contact = 'sip:bob@192.168.1.10:5060'
    const first: Target = { requestUri: contact, destination: { transport: 'UDP', address: '198.51.100.1', port: 40001 } }
    const second: Target = { requestUri: contact, destination: { transport: 'UDP', address: '198.51.100.1', port: 40002 } }
    proxy.forward(inv, tx, tx.flow, [first, second], { recordRoute: true })
    expect(transactions.sent('INVITE').map((b) => b.destination.port)).toEqual([40001, 40002])
  })

  test('one Contact over two connections (two TCP flows) stays two branches; over one flow, one', () => {
    const a = recordingFlow('TCP', '192.0.2.40', 40000)
    const b = recordingFlow('TCP', '192.0.2.40', 40000)
    expect(distinctTargets([flowTarget(a), flowTarget(b)])).toHaveLength(2)
    const targets = [flowTarget(a), udpTarget('192.0.2.41', 5060), flowTarget(a), udpTarget('192.0.2.41', 5060)]
    expect(distinctTargets(targets)).toEqual([targets[0]!, targets[1]!])
  })

  test('a set without duplicates is passed on as it is (no copy on the usual path)', () => {
    const one = [udpTarget('192.0.2.30', 5070)]
    expect(distinctTargets(one)).toBe(one)
    const two = [udpTarget('192.0.2.30', 5070), udpTarget('192.0.2.31', 5070)]
    expect(distinctTargets(two)).toBe(two)
  })
})

/** A branch media handle whose offer the test resolves, and whose answer rewrite it may hold. */
class FakeBranchMedia implements BranchMedia {
  released = 0
  /** Hold answers until `releaseAnswers` (an answer rewrite in progress in the media driver). */
  holdAnswers = false
  private resolveOffer: ((sdp: Uint8Array) => void) | null = null
  private readonly held: Array<() => void> = []
  readonly offered: Promise<Uint8Array>

  constructor(readonly index: number) {
    this.offered = new Promise((resolve) => {
      this.resolveOffer = resolve
    })
  }

  offer(): Promise<Uint8Array> {
    return this.offered
  }

  /** The media driver finished this branch's offer. */
  finishOffer(): void {
    this.resolveOffer!(encoder.encode(`v=0\r\no=relay ${this.index} 1 IN IP4 127.0.0.1\r\n`))
  }

  onResponse(_res: SipResponse, _tx: ClientTransaction | null, next: () => void): void {
    if (this.holdAnswers) this.held.push(next)
    else next()
  }

  releaseAnswers(): void {
    this.holdAnswers = false
    for (const next of this.held.splice(0)) next()
  }

  release(): void {
    this.released++
  }
}

function anchoredProxy() {
  const scheduler = new FakeScheduler()
  const transactions = new FakeTransactions()
  const medias: FakeBranchMedia[] = []
  const seam: BranchMediaSeam = {
    beginForward: () => undefined,
    branch: (_req, _inFlow, _target, index) => {
      const m = new FakeBranchMedia(index)
      medias.push(m)
      return m
    },
    endOnFlow: () => [],
    hangUp: () => false,
  }
  const proxy = new StatefulProxy({ transport: transportLayer(), transactions, scheduler, timerC: TIMER_C, cancelTimeout: CANCEL_TIMEOUT, media: seam })
  const finals: number[] = []
  const inv = uacRequest({ body: 'v=0\r\no=caller 1 1 IN IP4 192.0.2.10\r\n' })
  const tx = new FakeServerTx(inv, recordingFlow('UDP'))
  transactions.servers.push(tx)
  proxy.forward(inv, tx, tx.flow, [udpTarget('192.0.2.30', 5070), udpTarget('192.0.2.31', 5070)], { recordRoute: true, onFinal: (s) => finals.push(s) })
  /** Lets the offers' promise callbacks run. */
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve))
  return { proxy, transactions, medias, finals, tx, inv, settle, scheduler }
}

describe('§16.7: no branch starts after a 2xx, a 6xx or a CANCEL (anchored branches with a late media offer)', () => {
  test('the first branch\'s 200 went upstream; the second branch\'s offer comes back later: that branch is never sent', async () => {
    const { proxy, transactions, medias, finals, tx, settle } = anchoredProxy()
    expect(medias).toHaveLength(2)
    medias[0]!.finishOffer()
    await settle()
    const invites = transactions.sent('INVITE')
    expect(invites).toHaveLength(1)
    expect(decoder.decode(invites[0]!.request.body)).toContain('o=relay 0')
    invites[0]!.respond(180)
    invites[0]!.respond(200)
    expect(tx.statuses()).toEqual([100, 180, 200])
    // ~60 ms later in the field: the second branch's offer is ready.
    medias[1]!.finishOffer()
    await settle()
    expect(transactions.sent('INVITE')).toHaveLength(1)
    expect(transactions.sent('CANCEL')).toHaveLength(0)
    expect(medias[1]!.released).toBeGreaterThanOrEqual(1)
    expect(tx.finals.map((r) => r.status)).toEqual([200])
    expect(finals).toEqual([200])
    expect(proxy.pendingInvites).toBe(0)
  })

  test('the 200 arrived and its answer is still in the media driver when the late offer comes back: not sent either', async () => {
    const { proxy, transactions, medias, finals, tx, settle } = anchoredProxy()
    medias[0]!.finishOffer()
    await settle()
    const first = transactions.sent('INVITE')[0]!
    medias[0]!.holdAnswers = true
    first.respond(200)
    expect(tx.finals).toHaveLength(0) // the answer is being rewritten
    medias[1]!.finishOffer()
    await settle()
    expect(transactions.sent('INVITE')).toHaveLength(1)
    medias[0]!.releaseAnswers()
    expect(tx.finals.map((r) => r.status)).toEqual([200])
    expect(finals).toEqual([200])
    expect(proxy.pendingInvites).toBe(0)
  })

  test('a 6xx on the first branch: the late branch is not sent and the 6xx goes upstream', async () => {
    const { transactions, medias, finals, tx, settle } = anchoredProxy()
    medias[0]!.finishOffer()
    await settle()
    transactions.sent('INVITE')[0]!.respond(603)
    medias[1]!.finishOffer()
    await settle()
    expect(transactions.sent('INVITE')).toHaveLength(1)
    expect(tx.finals.map((r) => r.status)).toEqual([603])
    expect(finals).toEqual([603])
  })

  test('a CANCEL from upstream while both offers are pending: no branch is ever sent, 487 upstream', async () => {
    const { proxy, transactions, medias, finals, tx, inv, settle } = anchoredProxy()
    const cancelTx = new FakeServerTx(uacCancel(inv), tx.flow)
    proxy.cancel(cancelTx.request, cancelTx)
    expect(cancelTx.statuses()).toEqual([200])
    medias[0]!.finishOffer()
    medias[1]!.finishOffer()
    await settle()
    expect(transactions.sent('INVITE')).toHaveLength(0)
    expect(tx.finals.map((r) => r.status)).toEqual([487])
    expect(finals).toEqual([487])
    expect(medias.every((m) => m.released >= 1)).toBe(true)
  })

  test('without a 2xx, a late offer still starts its branch (the fork goes on)', async () => {
    const { transactions, medias, tx, settle } = anchoredProxy()
    medias[0]!.finishOffer()
    await settle()
    transactions.sent('INVITE')[0]!.respond(180)
    medias[1]!.finishOffer()
    await settle()
    const invites = transactions.sent('INVITE')
    expect(invites).toHaveLength(2)
    expect(decoder.decode(invites[1]!.request.body)).toContain('o=relay 1')
    invites[1]!.respond(486)
    invites[0]!.respond(200)
    expect(tx.finals.map((r) => r.status)).toEqual([200])
  })
})

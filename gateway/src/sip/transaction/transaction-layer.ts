/**
 * The transaction layer (RFC 3261 §17): matches every message from the transport to its
 * client or server transaction, creates server transactions for new requests, and starts
 * client transactions for the TU's requests.
 *
 * Matching is one Map lookup per message, keyed by a string built once from the message:
 * - server transactions (§17.2.3): `branch sent-by method` (ACK looks for `INVITE`) when the
 *   top Via branch carries the magic cookie and something after it; otherwise the RFC 2543
 *   key `2543 Request-URI To-tag From-tag Call-ID CSeq-number method top-Via`;
 * - client transactions (§17.1.3): `branch CSeq-method`.
 * The parts are joined with a space, which none of them can contain.
 *
 * Timers are the injected Scheduler's; each transaction holds at most three at a time and
 * binds its timer callbacks once. Timers of zero length (D, I, J, K on reliable transports)
 * are not armed: the transaction moves on at once.
 */
import { SipMessageError } from '../message/sip-message.ts'
import type { SipMessage, SipRequest, SipResponse } from '../message/sip-message.ts'
import type { Via } from '../syntax/types.ts'
import type { Destination, Flow } from '../transport/flow.ts'
import type { Scheduler } from '../../base/scheduler.ts'
import type { ServerTransactionFailure, TransactionContext } from './transaction-context.ts'
import type {
  ClientTransaction, ClientTransactionHandler, ServerTransaction, TimerValues, TransactionUser,
} from './transaction-user.ts'
import type { TransportSender } from '../transport/transport-sender.ts'
import { ClientTransactionBase } from './client-transaction-base.ts'
import type { ServerTransactionBase } from './server-transaction-base.ts'
import { InviteClientTransaction } from './invite-client-transaction.ts'
import { NonInviteClientTransaction } from './non-invite-client-transaction.ts'
import { InviteServerTransaction } from './invite-server-transaction.ts'
import { NonInviteServerTransaction } from './non-invite-server-transaction.ts'
import { logger } from '../../base/log.ts'

const log = logger('sip.transaction')

/** The branch prefix of RFC 3261 clients (§8.1.1.7). */
export const MAGIC_COOKIE = 'z9hG4bK'

/**
 * An optional TU method the layer calls when a server transaction fails: Timer H fired
 * without an ACK (§17.2.1: "MUST indicate to the TU that a transaction failure has
 * occurred"), or a response could not be sent (§17.2.4). The transaction is already
 * Terminated when this runs.
 */
export interface ServerTransactionFailureListener {
  onServerTransactionFailure(tx: ServerTransaction, cause: ServerTransactionFailure): void
}

/** Transaction kinds, as the metrics name them. */
export type TransactionKind = 'invite_client' | 'non_invite_client' | 'invite_server' | 'non_invite_server'

export interface TransactionLayerOptions {
  sender: TransportSender
  /**
   * The TU (RFC 3261 §17). It may be set later with `setUser` (the TU is usually built on top
   * of this layer); no message may be received before it is set.
   */
  user?: TransactionUser & Partial<ServerTransactionFailureListener>
  scheduler: Scheduler
  timers: TimerValues
  /**
   * Send 100 (Trying) for an INVITE when the TU has sent no response within 200 ms
   * (§17.2.1). Default true.
   */
  autoTrying?: boolean
  /**
   * Reports the lifetime (seconds, creation to Terminated) of one transaction in 16, for the
   * transaction-duration histogram. Sampling keeps the hot path free of per-transaction
   * state: the other 15 cost one counter increment.
   */
  onSampledLifetime?: (kind: TransactionKind, seconds: number) => void
}

/** Live transactions by kind (for metrics and leak tests). */
export interface TransactionCounts {
  inviteClient: number
  nonInviteClient: number
  inviteServer: number
  nonInviteServer: number
}

/** Process-wide branch counter: branches stay unique even between two layers. */
let branchCounter = 0

/**
 * RFC 3261 §17 transaction layer. See the module comment for matching and timers.
 *
 * @example
 *   const layer = new TransactionLayer({ sender, user, scheduler: new RealScheduler(), timers: DEFAULT_TIMERS })
 *   transport.onMessage((msg, flow) => layer.receive(msg, flow))
 */
export class TransactionLayer {
  private readonly sender: TransportSender
  private user: TransactionUser & Partial<ServerTransactionFailureListener>
  private readonly autoTrying: boolean
  private readonly ctx: TransactionContext
  private readonly clients = new Map<string, ClientTransactionBase>()
  private readonly servers = new Map<string, ServerTransactionBase>()
  private readonly counts: TransactionCounts = { inviteClient: 0, nonInviteClient: 0, inviteServer: 0, nonInviteServer: 0 }
  private readonly randomPool = new Uint32Array(256)
  private randomPos = 256
  private readonly onSampledLifetime: ((kind: TransactionKind, seconds: number) => void) | null
  private readonly scheduler: Scheduler
  /** Creation times of the sampled transactions (one in 16), ms. */
  private readonly sampled = new Map<ClientTransaction | ServerTransaction, number>()
  private sampleSeq = 0

  constructor(options: TransactionLayerOptions) {
    this.sender = options.sender
    this.user = options.user ?? {
      onRequest: () => { throw new Error('TransactionLayer: a request arrived before setUser()') },
      onStrayResponse: () => {},
    }
    this.onSampledLifetime = options.onSampledLifetime ?? null
    this.scheduler = options.scheduler
    this.autoTrying = options.autoTrying ?? true
    this.ctx = {
      sender: options.sender,
      scheduler: options.scheduler,
      timers: options.timers,
      terminated: (tx) => this.forget(tx),
      serverFailure: (tx, cause) => {
        log.info('server transaction failed', { cause, key: tx.key, method: tx.method, flowId: tx.flow.id })
        this.user.onServerTransactionFailure?.(tx, cause)
      },
      ackToTu: (ack, flow) => this.user.onRequest(ack, null, flow),
    }
  }

  /** Registers the TU (the request pipeline), once, before any message is received. */
  setUser(user: TransactionUser & Partial<ServerTransactionFailureListener>): void {
    this.user = user
  }

  /** Notes the creation time of one transaction in 16 (see `onSampledLifetime`). */
  private sample(tx: ClientTransaction | ServerTransaction): void {
    if (this.onSampledLifetime !== null && (++this.sampleSeq & 15) === 0) this.sampled.set(tx, this.scheduler.now())
  }

  /**
   * Takes one parsed message from the transport (after its §18 checks) and routes it:
   * a response to its client transaction (§17.1.3) or to `user.onStrayResponse`; a request
   * to its server transaction (§17.2.3: a retransmission, absorbed or answered with the last
   * response), or to a new server transaction and then `user.onRequest(req, tx, flow)`.
   * An ACK that matches no INVITE server transaction goes to `user.onRequest(ack, null, flow)`.
   *
   * A message without a readable top Via or CSeq (which the parser should have refused) is
   * dropped. Never throws for wire input.
   */
  receive(message: SipMessage, flow: Flow): void {
    if (message.kind === 'response') this.receiveResponse(message, flow)
    else this.receiveRequest(message, flow)
  }

  /**
   * Starts a client transaction for `request` (§17.1): INVITE -> InviteClientTransaction,
   * anything else but ACK -> NonInviteClientTransaction. The request must already carry its
   * top Via with a unique branch (`newBranch()`). Responses, timeouts (408 meaning) and
   * transport errors (503 meaning) go to `handler`; a transport error on the very first send
   * is reported on a 0 ms timer, after this method has returned the transaction.
   *
   * @throws Error for an ACK (§17.1: "There is no client transaction for ACK"; use
   *   `sendAck`), for a request without a top Via branch, or for a branch already in use
   *   (programming errors).
   */
  sendRequest(request: SipRequest, destination: Destination, handler: ClientTransactionHandler): ClientTransaction {
    if (request.method === 'ACK') throw new Error('ACK has no client transaction (RFC 3261 §17.1): use sendAck')
    const branch = request.topVia.branch
    if (!hasCookie(branch)) {
      throw new Error(`request needs a top Via branch starting with ${MAGIC_COOKIE} (RFC 3261 §8.1.1.7)`)
    }
    const key = branch + ' ' + request.method
    if (this.clients.has(key)) throw new Error(`client transaction ${key} exists already`)
    let tx: ClientTransactionBase
    if (request.method === 'INVITE') {
      tx = new InviteClientTransaction(key, request, destination, handler, this.ctx)
      this.counts.inviteClient++
    } else {
      tx = new NonInviteClientTransaction(key, request, destination, handler, this.ctx)
      this.counts.nonInviteClient++
    }
    this.clients.set(key, tx)
    this.sample(tx)
    tx.start()
    return tx
  }

  /**
   * Sends an ACK for a 2xx, which is not part of any transaction (§17.1: "If the TU wishes to
   * send an ACK, it passes one directly to the transport layer for transmission"; §13.2.2.4).
   * Returns the flow used, or null on a transport error.
   */
  sendAck(ack: SipRequest, destination: Destination): Flow | null {
    if (ack.method !== 'ACK') throw new Error(`sendAck needs an ACK, got ${ack.method}`)
    return this.sender.send(ack, destination)
  }

  /**
   * Sends any message outside of a transaction: a stateless response (§8.2.7, §16.7 item 7
   * for a stray 2xx), or a forwarded end-to-end ACK. Returns the flow used, or null.
   */
  sendStateless(message: SipMessage, destination: Destination): Flow | null {
    return this.sender.send(message, destination)
  }

  /**
   * The INVITE server transaction a CANCEL refers to (§9.2):
   *
   * > The CANCEL method requests that the TU at the server side cancel a pending
   * > transaction. The TU determines the transaction to be cancelled by taking the CANCEL
   * > request, and then assuming that the request method is anything but CANCEL or ACK and
   * > applying the transaction matching procedures of Section 17.2.3. The matching
   * > transaction is the one to be cancelled.
   *
   * Only INVITE can be pending long enough to cancel, so the lookup uses method INVITE.
   */
  findInviteServerTransaction(cancel: SipRequest): ServerTransaction | undefined {
    let tx: ServerTransactionBase | undefined
    try {
      tx = this.servers.get(this.serverKey(cancel, 'INVITE'))
    } catch (e) {
      if (e instanceof SipMessageError) return undefined
      throw e
    }
    return tx instanceof InviteServerTransaction ? tx : undefined
  }

  /**
   * A new branch for a request this element sends (§8.1.1.7, §16.6 item 8): the magic cookie,
   * a process-wide counter (unique within the process) and 64 random bits (unique across
   * restarts and unguessable), e.g. `z9hG4bK1a.2lkq9e1.1f4cp0r`.
   */
  newBranch(): string {
    if (this.randomPos >= this.randomPool.length) {
      crypto.getRandomValues(this.randomPool)
      this.randomPos = 0
    }
    const a = this.randomPool[this.randomPos++]!
    const b = this.randomPool[this.randomPos++]!
    return MAGIC_COOKIE + (branchCounter++).toString(36) + '.' + a.toString(36) + '.' + b.toString(36)
  }

  /** Number of live (not yet Terminated) transactions, client and server. */
  get size(): number {
    return this.clients.size + this.servers.size
  }

  /** Live transactions by kind. */
  get transactionCounts(): Readonly<TransactionCounts> {
    return { ...this.counts }
  }

  /** Terminates every transaction at once, clearing all their timers; nobody is told. */
  close(): void {
    const all: Array<ClientTransactionBase | ServerTransactionBase> = [...this.clients.values(), ...this.servers.values()]
    for (const tx of all) tx.terminate()
    this.clients.clear()
    this.servers.clear()
    this.sampled.clear()
  }

  // ---- responses (§17.1.3) ----------------------------------------------------------------

  /**
   * > A response matches a client transaction under two conditions:
   * > 1. If the response has the same value of the branch parameter in the top Via header
   * >    field as the branch parameter in the top Via header field of the request that
   * >    created the transaction.
   * > 2. If the method parameter in the CSeq header field matches the method of the request
   * >    that created the transaction. The method is needed since a CANCEL request
   * >    constitutes a different transaction, but shares the same value of the branch
   * >    parameter.
   */
  private receiveResponse(response: SipResponse, flow: Flow): void {
    let key: string | null
    try {
      const branch = response.topVia.branch
      key = branch === null ? null : branch + ' ' + response.cseq.method
    } catch (e) {
      if (!(e instanceof SipMessageError)) throw e
      log.warn('response dropped: unreadable Via or CSeq', { flowId: flow.id, reason: e.message })
      return
    }
    const tx = key === null ? undefined : this.clients.get(key)
    if (tx !== undefined) tx.receiveResponse(response)
    // §17.1.1.2: "Whenever a response is received by the transport, if the transport layer
    // finds no matching client transaction (using the rules of Section 17.1.3), the response
    // is passed directly to the core."
    else this.user.onStrayResponse(response, flow)
  }

  // ---- requests (§17.2.3) -----------------------------------------------------------------

  private receiveRequest(request: SipRequest, flow: Flow): void {
    const isAck = request.method === 'ACK'
    let key: string
    let tx: ServerTransactionBase | undefined
    try {
      if (isAck && !hasCookie(request.topVia.branch)) {
        key = ''
        tx = this.matchAck2543(request)
      } else {
        key = this.serverKey(request, isAck ? 'INVITE' : request.method)
        tx = this.servers.get(key)
      }
    } catch (e) {
      if (!(e instanceof SipMessageError)) throw e
      log.warn('request dropped: unreadable transaction headers', { flowId: flow.id, method: request.method, reason: e.message })
      return
    }
    if (isAck) {
      if (tx instanceof InviteServerTransaction) tx.receiveAck(request, flow)
      // The ACK for a 2xx (§17.1.1.3: end to end), or a stray one: the TU decides.
      else this.user.onRequest(request, null, flow)
    } else if (tx !== undefined) {
      tx.receiveRequest(request)
    } else {
      this.createServerTransaction(key, request, flow)
    }
  }

  /**
   * RFC 2543 ACK matching (§17.2.3):
   *
   * > The ACK request matches a transaction if the Request-URI, From tag, Call-ID, CSeq
   * > number (not the method), and top Via header field match those of the INVITE request
   * > which created the transaction, and the To tag of the ACK matches the To tag of the
   * > response sent by the server transaction.
   *
   * The INVITE's own To tag is either the ACK's (a re-INVITE inside a dialog, answered with
   * the same tag) or empty (an initial INVITE, whose final response added the tag): two
   * lookups at most.
   *
   * @throws SipMessageError when a header the key needs is unreadable
   */
  private matchAck2543(ack: SipRequest): ServerTransactionBase | undefined {
    const ackToTag = tagOf(ack, 'to')
    const tx = this.servers.get(key2543(ack, ackToTag, 'INVITE'))
    if (tx !== undefined || ackToTag === '') return tx
    const candidate = this.servers.get(key2543(ack, '', 'INVITE'))
    return candidate instanceof InviteServerTransaction && candidate.finalStatus !== 0 && candidate.finalToTag === ackToTag
      ? candidate : undefined
  }

  /**
   * > When a server transaction is constructed for a request, it enters the "Proceeding"
   * > state. [...] The request MUST be passed to the TU.  (§17.2.1, likewise §17.2.2)
   */
  private createServerTransaction(key: string, request: SipRequest, flow: Flow): void {
    let tx: ServerTransactionBase
    if (request.method === 'INVITE') {
      const ist = new InviteServerTransaction(key, request, flow, this.ctx, this.autoTrying)
      this.counts.inviteServer++
      this.servers.set(key, ist)
      this.sample(ist)
      ist.start()
      tx = ist
    } else {
      tx = new NonInviteServerTransaction(key, request, flow, this.ctx)
      this.counts.nonInviteServer++
      this.servers.set(key, tx)
      this.sample(tx)
    }
    this.user.onRequest(request, tx, flow)
  }

  /**
   * The §17.2.3 key of a request, as if its method were `method`.
   *
   * > The branch parameter in the topmost Via header field of the request is examined. If it
   * > is present and begins with the magic cookie "z9hG4bK", the request was generated by a
   * > client transaction compliant to this specification. [...] The request matches a
   * > transaction if:
   * > 1. the branch parameter in the request is equal to the one in the top Via header field
   * >    of the request that created the transaction, and
   * > 2. the sent-by value in the top Via of the request is equal to the one in the request
   * >    that created the transaction, and
   * > 3. the method of the request matches the one that created the transaction, except for
   * >    ACK, where the method of the request that created the transaction is INVITE.
   *
   * A branch that is the bare cookie (RFC 4475 §3.2.1, badbranch) carries no identifier, so
   * it falls back to RFC 2543 matching:
   *
   * > If the branch parameter in the top Via header field is not present, or does not contain
   * > the magic cookie, the following procedures are used. [...] The INVITE request matches a
   * > transaction if the Request-URI, To tag, From tag, Call-ID, CSeq, and top Via header
   * > field match those of the INVITE request which created the transaction. [...] For all
   * > other request methods, a request is matched to a transaction if the Request-URI, To
   * > tag, From tag, Call-ID, CSeq (including the method), and top Via header field match
   * > those of the request that created the transaction.
   *
   * @throws SipMessageError when a header the key needs is unreadable
   */
  private serverKey(request: SipRequest, method: string): string {
    const via = request.topVia
    const branch = via.branch
    if (hasCookie(branch)) return branch + ' ' + sentBy(via) + ' ' + method
    return key2543(request, tagOf(request, 'to'), method)
  }

  /** Called once by each transaction entering Terminated. */
  private forget(tx: ClientTransaction | ServerTransaction): void {
    let kind: TransactionKind
    if (tx instanceof ClientTransactionBase) {
      if (this.clients.get(tx.key) !== tx) return
      this.clients.delete(tx.key)
      if (tx instanceof InviteClientTransaction) {
        this.counts.inviteClient--
        kind = 'invite_client'
      } else {
        this.counts.nonInviteClient--
        kind = 'non_invite_client'
      }
    } else {
      if (this.servers.get(tx.key) !== (tx as ServerTransactionBase)) return
      this.servers.delete(tx.key)
      if (tx instanceof InviteServerTransaction) {
        this.counts.inviteServer--
        kind = 'invite_server'
      } else {
        this.counts.nonInviteServer--
        kind = 'non_invite_server'
      }
    }
    if (this.sampled.size > 0) {
      const created = this.sampled.get(tx)
      if (created !== undefined) {
        this.sampled.delete(tx)
        this.onSampledLifetime!(kind, (this.scheduler.now() - created) / 1000)
      }
    }
  }
}

/** True for an RFC 3261 branch: the magic cookie followed by at least one character. */
function hasCookie(branch: string | null): branch is string {
  return branch !== null && branch.length > MAGIC_COOKIE.length && branch.startsWith(MAGIC_COOKIE)
}

function sentBy(via: Via): string {
  return via.port === null ? via.host : via.host + ':' + via.port
}

/**
 * The RFC 2543 matching key: Request-URI, To tag, From tag, Call-ID, CSeq number and method,
 * and the top Via's transport, sent-by and branch (the `received`/`rport` parameters that the
 * transport adds on arrival are left out; they are equal for retransmissions anyway).
 */
function key2543(request: SipRequest, toTag: string, method: string): string {
  const via = request.topVia
  return '2543 ' + request.uri + ' ' + toTag + ' ' + tagOf(request, 'from') + ' ' + request.callId + ' ' +
    request.cseq.seq + ' ' + method + ' ' + via.transport + ' ' + sentBy(via) + ' ' + (via.branch ?? '')
}

function tagOf(message: SipMessage, header: 'to' | 'from'): string {
  const tag = (header === 'to' ? message.to : message.from).params['tag']
  return tag ?? ''
}

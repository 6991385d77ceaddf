/**
 * OPTIONS keepalives to a trunk (RFC 3261 §11): is the PBX or carrier there? Kamailio's
 * dispatcher `ds_ping_interval` / `ds_probing_threshold`, Asterisk's `qualify_frequency` /
 * `qualify_timeout`.
 *
 * Every `intervalSeconds` one OPTIONS goes to the trunk through the transaction layer:
 * - any response, whatever its status (200, but also 404 or 405 from a peer that does not
 *   implement OPTIONS or does not know the Request-URI), means the peer is there: 'up', with
 *   the round-trip time to the first response;
 * - no response within `timeoutMs` (or the transaction's own Timer F), or a transport error,
 *   is a failure; after `failuresBeforeDown` consecutive failures the trunk is 'down'.
 *   A peer that answers with garbage is a timeout too: the parser drops what it cannot read.
 * The state starts 'unknown' (nothing answered, fewer failures than the threshold yet).
 *
 * Timers are the injected Scheduler's; `onChange` runs on every state change.
 */
import type { SipResponse } from '../message/sip-message.ts'
import type { Destination } from '../transport/flow.ts'
import type { ClientTransaction } from '../transaction/transaction-user.ts'
import type { Scheduler, TimerHandle } from '../../base/scheduler.ts'
import { logger } from '../../base/log.ts'
import type { TrunkStatus } from './trunk-status.ts'
import {
  buildUacRequest, randomHex, UAC_USER_AGENT, withDestination,
  type DestinationSource, type SentByLookup, type UacTransactions,
} from './uac-request.ts'

const log = logger('sip.trunks')

export type QualifyState = 'unknown' | 'up' | 'down'

export interface TrunkQualifierOptions {
  /** The trunk's name (status, logs). */
  name: string
  transactions: UacTransactions
  scheduler: Scheduler
  /** Where OPTIONS go (the trunk's address or outbound proxy); resolved before each probe (a failure counts as a transport error). */
  destination: DestinationSource
  /** Our Via sent-by for the destination's transport (TransportLayer.sentBy). */
  sentBy: SentByLookup
  /** Request-URI and To of the OPTIONS, e.g. `sip:pbx.example.com` (Kamailio pings the destination URI). */
  requestUri: string
  /** From URI, e.g. `sip:patchbay@gateway.example` (Kamailio `ds_ping_from`). */
  fromUri: string
  /** Seconds between probes (> 0). */
  intervalSeconds: number
  /** Consecutive failed probes after which the trunk is down (K, default 3; >= 1). */
  failuresBeforeDown?: number
  /** Milliseconds to wait for a response (default min(interval, 5 s)). */
  timeoutMs?: number
  /** Route header values (outbound proxy, §8.1.2). */
  route?: readonly string[]
  /** Called on every state change with the new status and the state left. */
  onChange?: (status: TrunkStatus, previous: QualifyState) => void
}

/** One OPTIONS in flight: settled by its first response, its timeout or a transport error. */
interface Probe {
  sentAt: number
  timer: TimerHandle | null
  tx: ClientTransaction | null
}

const DEFAULT_FAILURES_BEFORE_DOWN = 3
const DEFAULT_TIMEOUT_MS = 5_000

/** Sends OPTIONS to one trunk periodically and keeps its up/down state. */
export class TrunkQualifier {
  readonly name: string
  private readonly o: TrunkQualifierOptions
  private readonly threshold: number
  private readonly timeoutMs: number
  private readonly intervalMs: number
  private readonly fromTag = randomHex(6)
  private running = false
  private st: QualifyState = 'unknown'
  private since: number
  private failures = 0
  private lastStatus = 0
  private lastReason = ''
  private rttMs: number | null = null
  private probes = 0
  private cseq = 0
  private nextAt: number | null = null
  private probe: Probe | null = null
  private timer: TimerHandle | null = null

  constructor(options: TrunkQualifierOptions) {
    if (!(options.intervalSeconds > 0)) throw new RangeError(`intervalSeconds must be > 0, got ${options.intervalSeconds}`)
    const k = options.failuresBeforeDown ?? DEFAULT_FAILURES_BEFORE_DOWN
    if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`failuresBeforeDown must be an integer >= 1, got ${k}`)
    this.o = options
    this.name = options.name
    this.threshold = k
    this.intervalMs = options.intervalSeconds * 1000
    this.timeoutMs = options.timeoutMs ?? Math.min(this.intervalMs, DEFAULT_TIMEOUT_MS)
    this.since = options.scheduler.unixSeconds()
  }

  get state(): QualifyState {
    return this.st
  }

  /** Consecutive failed probes (0 after an answer). */
  get consecutiveFailures(): number {
    return this.failures
  }

  /** The state as a TrunkStatus (explain, admin page). */
  get status(): TrunkStatus {
    let detail: string
    if (this.st === 'up') detail = `answered ${this.lastStatus} ${this.lastReason} in ${this.rttMs} ms`
    else if (this.st === 'down') detail = `${this.failures} OPTIONS unanswered (last: ${this.lastStatus} ${this.lastReason})`
    else if (this.probes === 0) detail = 'not probed yet'
    else detail = `${this.failures} of ${this.threshold} OPTIONS unanswered`
    return {
      name: this.name, state: this.st, detail, since: this.since,
      ...(this.lastStatus !== 0 ? { lastStatus: this.lastStatus } : {}),
      ...(this.rttMs !== null && this.st === 'up' ? { rttMs: this.rttMs } : {}),
      ...(this.nextAt !== null ? { nextAttemptAt: this.nextAt } : {}),
    }
  }

  /** Starts probing at once (a no-op when running). */
  start(): void {
    if (this.running) return
    this.running = true
    this.sendProbe()
  }

  /** Stops probing; the state is kept (the last known). */
  stop(): void {
    this.running = false
    if (this.timer !== null) this.o.scheduler.clearTimer(this.timer)
    this.timer = null
    this.nextAt = null
    const p = this.probe
    this.probe = null
    if (p !== null) {
      if (p.timer !== null) this.o.scheduler.clearTimer(p.timer)
      p.tx?.terminate()
    }
  }

  private sendProbe(): void {
    this.timer = null
    if (!this.running) return
    this.probes++
    this.nextAt = null
    const probe: Probe = { sentAt: this.o.scheduler.now(), timer: null, tx: null }
    this.probe = probe
    probe.timer = this.o.scheduler.setTimer(this.timeoutMs, () => {
      probe.timer = null
      this.settle(probe, null, 408, 'Request Timeout')
    })
    withDestination(
      this.o.destination,
      (destination) => this.sendTo(probe, destination),
      (e: unknown) => this.settle(probe, null, 503, `Destination Not Resolved (${String(e)})`),
    )
  }

  private sendTo(probe: Probe, destination: Destination): void {
    if (this.probe !== probe) return
    const transport = destination.flow?.transport ?? destination.transport
    const o = this.o
    const request = buildUacRequest({
      method: 'OPTIONS', requestUri: o.requestUri, from: o.fromUri, fromTag: this.fromTag, to: o.requestUri,
      callId: `${randomHex(10)}@patchbay`, cseq: ++this.cseq, transport, sentBy: o.sentBy(transport),
      branch: o.transactions.newBranch(), ...(o.route ? { route: o.route } : {}),
      headers: [{ name: 'accept', value: 'application/sdp' }, { name: 'user-agent', value: UAC_USER_AGENT }],
    })
    probe.tx = o.transactions.sendRequest(request, destination, {
      onResponse: (res) => this.settle(probe, res, res.status, res.reason),
      onTimeout: () => this.settle(probe, null, 408, 'Request Timeout'),
      onTransportError: () => this.settle(probe, null, 503, 'Transport Error'),
    })
  }

  /** Ends a probe (the first outcome counts; later ones are ignored) and schedules the next. */
  private settle(probe: Probe, res: SipResponse | null, status: number, reason: string): void {
    if (this.probe !== probe) return
    this.probe = null
    if (probe.timer !== null) this.o.scheduler.clearTimer(probe.timer)
    const now = this.o.scheduler.now()
    const previous = this.st
    this.lastStatus = status
    this.lastReason = reason
    if (res !== null) {
      this.failures = 0
      this.rttMs = Math.round(now - probe.sentAt)
      this.st = 'up'
    } else {
      // Our own timeout fired first: the transaction would retransmit until Timer F; stop it.
      probe.tx?.terminate()
      this.failures++
      if (this.failures >= this.threshold) this.st = 'down'
    }
    if (this.running) {
      const delay = Math.max(0, probe.sentAt + this.intervalMs - now)
      this.timer = this.o.scheduler.setTimer(delay, () => this.sendProbe())
      this.nextAt = this.o.scheduler.unixSeconds() + Math.ceil(delay / 1000)
    }
    if (this.st !== previous) {
      this.since = this.o.scheduler.unixSeconds()
      const fields = { trunk: this.name, status, reason, rttMs: this.rttMs, failures: this.failures }
      if (this.st === 'down') log.warn('trunk down', fields)
      else log.info(`trunk ${this.st}`, fields)
      this.o.onChange?.(this.status, previous)
    }
  }
}

/**
 * The gateway registering to an upstream registrar (a PBX or carrier) as a UAC, RFC 3261
 * §10.2 — Asterisk's pjsip `registration`, Kamailio's `uac` registrations, FreeSWITCH's
 * gateway `register=true`.
 *
 * One client per registration trunk, sending through the gateway's TransactionLayer:
 * - one Call-ID for the client's lifetime and a CSeq that grows by one per REGISTER
 *   (§10.2: "A UA MUST increment the CSeq value by one for each REGISTER request with the
 *   same Call-ID"); a random Call-ID per process, so a restart never reuses a CSeq;
 * - Contact: the gateway's listener, with a user part naming the trunk (`trunkContactUri`),
 *   so that requests the registrar sends to the binding can be matched to the trunk;
 * - 401/407 answered with digest (digest-client.ts); the last challenge is reused on refreshes
 *   (nc counting up, RFC 7616 §3.4), a new one is answered when the registrar rejects it;
 * - refresh at max(expires/2, expires - 30 s) after the 2xx, where expires is what the 2xx
 *   granted (our Contact's `expires` parameter, else the Expires header, §10.2.4): half the
 *   interval for short registrations, 30 s ahead for long ones (Asterisk refreshes 10 s
 *   ahead; 30 s leaves room for a UDP retransmission or two before the binding lapses);
 * - 423 (Interval Too Brief): again at once with the Min-Expires value (§10.2.8);
 * - any other failure (a 401/407 to credentials just answered, other 4xx, 5xx, 6xx, a
 *   timeout counted as 408, a transport error as 503, §8.1.3.1): state 'failed', the next
 *   attempt after an exponential backoff (retry-backoff.ts), or after Retry-After when the
 *   response has one (§20.33, e.g. a 503 from an overloaded registrar).
 *
 * Timers are the injected Scheduler's, so tests drive the client with a fake clock.
 */
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import { parseNameAddr } from '../syntax/name-addr.ts'
import { parseUri } from '../syntax/uri.ts'
import type { Destination, TransportProtocol } from '../transport/flow.ts'
import type { ClientTransaction, ClientTransactionHandler } from '../transaction/transaction-user.ts'
import { digestAuthorization, NonceCounter, selectChallenge, type DigestChallenge, type DigestClientCredentials } from '../auth/digest-client.ts'
import type { Scheduler, TimerHandle } from '../../base/scheduler.ts'
import { logger } from '../../base/log.ts'
import type { TrunkStatus } from './trunk-status.ts'
import { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter, type RetryPolicy } from './retry-backoff.ts'
import {
  buildUacRequest, randomHex, UAC_USER_AGENT, withDestination,
  type DestinationSource, type SentByLookup, type UacTransactions,
} from './uac-request.ts'

const log = logger('sip.trunks')

/**
 * The registration's state (the admin page's registration table). Times are Unix seconds.
 * A refresh in flight keeps 'registered'; 'registering' is the first attempt and the
 * retries after a failure.
 */
export interface RegistrationState {
  state: 'unregistered' | 'registering' | 'registered' | 'failed'
  /** Status of the last final response (408: timeout, 503: transport error); 0 before any. */
  lastStatus: number
  /** Reason phrase of that response, or what went wrong. */
  lastReason: string
  /** When the binding expires at the registrar (registered only). */
  expiresAt: number | null
  /** When the next REGISTER goes (a refresh, or a retry after a failure). */
  nextAttemptAt: number | null
  /** REGISTER attempts since the last success (0 while registered, 1 during a refresh). */
  attempts: number
}

export interface RegistrationClientOptions {
  /** The trunk's name (status, logs). */
  name: string
  transactions: UacTransactions
  scheduler: Scheduler
  /** Where REGISTERs go: the registrar, or the trunk's outbound proxy; resolved before each attempt (a failure counts as a transport error). */
  destination: DestinationSource
  /** Our Via sent-by for the destination's transport (TransportLayer.sentBy). */
  sentBy: SentByLookup
  /** Request-URI: the registrar's domain, e.g. `sip:pbx.example.com` (§10.2: no user part). */
  registrarUri: string
  /** The address-of-record registered (To and From), e.g. `sip:1001@pbx.example.com`. */
  aor: string
  /** The Contact URI bound to the AOR (see `trunkContactUri`). */
  contactUri: string
  /** Seconds asked for (Expires header), > 0. */
  expires: number
  /** Digest credentials; without them a challenge fails the attempt. */
  credentials?: DigestClientCredentials
  /** Route header values (an outbound proxy, `<sip:proxy;lr>`, §8.1.2). */
  route?: readonly string[]
  retry?: Partial<RetryPolicy>
  /** Call-ID (default: random, per client). */
  callId?: string
  /** Random numbers in [0, 1) for the backoff jitter (default Math.random). */
  random?: () => number
  /** Called after every state change (and every final response). */
  onChange?: (status: TrunkStatus) => void
}

/** Refresh after the 2xx: max(granted/2, granted - REFRESH_AHEAD_S) seconds. */
const REFRESH_AHEAD_S = 30
/** How long `stop()` waits for the un-REGISTER's final response, ms. */
const STOP_WAIT_MS = 4_000
/** Rounds of 401/407 answered for one attempt: the challenge, then a stale one (RFC 7616 §3.3). */
const MAX_AUTH_ROUNDS = 2
/** 423s followed for one attempt. */
const MAX_423 = 2

/**
 * The Contact URI for a registration trunk: `sip:<user>@<host>:<port>[;transport=tcp]`, user
 * defaulting to the trunk's name (characters outside RFC 3261 `unreserved` escaped).
 * Requests the registrar sends to this binding carry it as Request-URI (unless the registrar
 * rewrites it), which identifies the trunk.
 */
export function trunkContactUri(user: string, sentBy: { host: string; port: number }, transport: TransportProtocol): string {
  const u = user.replace(/[^A-Za-z0-9\-_.!~*'()]/g, (c) => encodeURIComponent(c))
  const scheme = transport === 'TLS' ? 'sips' : 'sip'
  const t = transport === 'UDP' || transport === 'TLS' ? '' : `;transport=${transport.toLowerCase()}`
  return `${scheme}:${u}@${sentBy.host}:${sentBy.port}${t}`
}

/**
 * Keeps one AOR registered at an upstream registrar. See the module comment for the
 * behaviour; `start()` registers, `stop()` unregisters, `state` / `status` report.
 */
export class RegistrationClient {
  readonly name: string
  readonly callId: string
  private readonly o: RegistrationClientOptions
  private readonly policy: RetryPolicy
  private readonly fromTag = randomHex(6)
  private readonly nonces = new NonceCounter(8)
  private readonly random: () => number
  private readonly contact: ReturnType<typeof parseUri>
  private cseq = 0
  private expires: number
  private running = false
  /** Incremented by start/stop: responses of an older generation are ignored. */
  private generation = 0
  private timer: TimerHandle | null = null
  private tx: ClientTransaction | null = null
  /** The challenge last answered (reused on refreshes), and in which header. */
  private lastChallenge: { challenge: DigestChallenge; header: 'authorization' | 'proxy-authorization' } | null = null
  private failures = 0
  private st: RegistrationState = { state: 'unregistered', lastStatus: 0, lastReason: '', expiresAt: null, nextAttemptAt: null, attempts: 0 }
  private since: number

  constructor(options: RegistrationClientOptions) {
    if (!(options.expires > 0)) throw new RangeError(`expires must be > 0, got ${options.expires}`)
    this.o = options
    this.name = options.name
    this.expires = Math.floor(options.expires)
    this.policy = { ...DEFAULT_RETRY_POLICY, ...options.retry }
    this.random = options.random ?? Math.random
    this.callId = options.callId ?? `${randomHex(12)}@patchbay`
    this.contact = parseUri(options.contactUri)
    this.since = options.scheduler.unixSeconds()
  }

  /** A copy of the registration's state. */
  get state(): RegistrationState {
    return { ...this.st }
  }

  /** The state as a TrunkStatus (explain, admin page). */
  get status(): TrunkStatus {
    const s = this.st
    let detail: string
    switch (s.state) {
      case 'unregistered': detail = 'not registered'; break
      case 'registering': detail = `REGISTER sent (attempt ${s.attempts})`; break
      case 'registered': detail = `registered, expires in ${Math.max(0, (s.expiresAt ?? 0) - this.o.scheduler.unixSeconds())} s`; break
      case 'failed': detail = `${s.lastStatus} ${s.lastReason}, next attempt in ${Math.max(0, (s.nextAttemptAt ?? 0) - this.o.scheduler.unixSeconds())} s`; break
    }
    return {
      name: this.name, state: s.state, detail, since: this.since,
      ...(s.lastStatus !== 0 ? { lastStatus: s.lastStatus } : {}),
      ...(s.nextAttemptAt !== null ? { nextAttemptAt: s.nextAttemptAt } : {}),
      ...(s.expiresAt !== null ? { expiresAt: s.expiresAt } : {}),
    }
  }

  /** Starts registering (a no-op when running). */
  start(): void {
    if (this.running) return
    this.running = true
    this.generation++
    this.failures = 0
    this.attempt()
  }

  /**
   * Stops: no more refreshes or retries; when a binding may exist (registered, or a REGISTER
   * in flight), removes it with a REGISTER with Expires: 0 for our Contact (§10.2.2), best
   * effort (a challenge is answered; any other outcome, or nothing within 4 s, is accepted).
   * Resolves when that is done. State ends 'unregistered'.
   */
  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    const gen = ++this.generation
    this.clearTimer()
    const wasBound = this.st.state === 'registered' || this.st.state === 'registering' || this.st.expiresAt !== null
    this.tx?.terminate()
    this.tx = null
    if (wasBound) {
      await new Promise<void>((resolve) => {
        const timer = this.o.scheduler.setTimer(STOP_WAIT_MS, () => resolve())
        this.send(0, gen, 0, 0, (outcome) => {
          this.o.scheduler.clearTimer(timer)
          log.info('trunk unregistered', { trunk: this.name, status: outcome })
          resolve()
        })
      })
      // Unanswered after STOP_WAIT_MS: stop its retransmissions (the field was set by send()).
      ;(this.tx as ClientTransaction | null)?.terminate()
      this.tx = null
    }
    this.st = { state: 'unregistered', lastStatus: this.st.lastStatus, lastReason: this.st.lastReason, expiresAt: null, nextAttemptAt: null, attempts: 0 }
    this.changed(true)
  }

  // ---- one attempt ----------------------------------------------------------------------

  private attempt(): void {
    this.timer = null
    if (!this.running) return
    this.st.attempts++
    this.st.nextAttemptAt = null
    // A refresh keeps 'registered' (the binding holds until expiresAt), as Asterisk shows it.
    if (this.st.state === 'registered') {
      this.changed(false)
    } else {
      const entering = this.st.state !== 'registering'
      this.st.state = 'registering'
      this.changed(entering)
    }
    this.send(this.expires, this.generation, 0, 0, null)
  }

  /**
   * Sends one REGISTER asking for `expires` seconds. `authRounds` challenges and `rounds423`
   * 423s were already followed in this attempt. `done` (un-REGISTER only) receives the final
   * status instead of the state machine.
   */
  private send(expires: number, gen: number, authRounds: number, rounds423: number, done: ((status: number) => void) | null): void {
    withDestination(
      this.o.destination,
      (destination) => this.sendTo(destination, expires, gen, authRounds, rounds423, done),
      (e: unknown) => {
        if (gen !== this.generation) return
        log.warn('trunk registrar not resolved', { trunk: this.name, error: String(e) })
        if (done) done(503)
        else this.fail(503, 'Destination Not Resolved', null)
      },
    )
  }

  private sendTo(destination: Destination, expires: number, gen: number, authRounds: number, rounds423: number, done: ((status: number) => void) | null): void {
    if (gen !== this.generation) return
    const request = this.buildRegister(expires, destination.flow?.transport ?? destination.transport)
    const handler: ClientTransactionHandler = {
      onResponse: (res) => {
        if (res.status < 200 || gen !== this.generation) return
        this.tx = null
        this.onFinal(res, expires, gen, authRounds, rounds423, done)
      },
      onTimeout: () => {
        if (gen !== this.generation) return
        this.tx = null
        if (done) done(408)
        else this.fail(408, 'Request Timeout', null)
      },
      onTransportError: () => {
        if (gen !== this.generation) return
        this.tx = null
        if (done) done(503)
        else this.fail(503, 'Transport Error', null)
      },
    }
    this.tx = this.o.transactions.sendRequest(request, destination, handler)
  }

  private onFinal(res: SipResponse, expires: number, gen: number, authRounds: number, rounds423: number, done: ((status: number) => void) | null): void {
    const status = res.status
    if ((status === 401 || status === 407) && authRounds < MAX_AUTH_ROUNDS && this.o.credentials !== undefined) {
      // §22.2: answer the challenge in a new request (new CSeq, new branch). A request whose
      // credentials answered a challenge of this attempt is answered again only when the
      // registrar calls the nonce stale (RFC 7616 §3.3: the credentials were right); a first
      // challenge (to no credentials, or to a refresh that reused the last challenge) is
      // always answered.
      const header = status === 401 ? 'www-authenticate' : 'proxy-authenticate'
      const challenge = selectChallenge(res.getAll(header), this.o.credentials)
      if (challenge !== null && (authRounds === 0 || challenge.stale)) {
        this.lastChallenge = { challenge, header: status === 401 ? 'authorization' : 'proxy-authorization' }
        this.send(expires, gen, authRounds + 1, rounds423, done)
        return
      }
    }
    if (done) {
      done(status)
      return
    }
    if (status >= 200 && status < 300) {
      this.registered(res, expires)
      return
    }
    if (status === 423 && rounds423 < MAX_423) {
      // §10.2.8: "the UA MAY retry the registration with an expiration interval greater than
      // or equal to the one in the Min-Expires header field of the 423".
      const min = parseInt(res.get('min-expires') ?? '', 10)
      if (Number.isFinite(min) && min > expires) {
        log.info('trunk registration interval raised (423)', { trunk: this.name, minExpires: min })
        this.expires = min
        this.send(min, gen, authRounds, rounds423 + 1, null)
        return
      }
    }
    this.fail(status, res.reason, parseRetryAfter(res.get('retry-after')))
  }

  private registered(res: SipResponse, asked: number): void {
    const granted = this.grantedExpires(res, asked)
    if (granted <= 0) {
      this.fail(res.status, 'Binding Not Granted', null)
      return
    }
    const now = this.o.scheduler.unixSeconds()
    const refreshS = Math.max(granted / 2, granted - REFRESH_AHEAD_S)
    const entering = this.st.state !== 'registered'
    this.failures = 0
    this.st = {
      state: 'registered', lastStatus: res.status, lastReason: res.reason, expiresAt: now + granted,
      nextAttemptAt: now + Math.ceil(refreshS), attempts: 0,
    }
    if (entering) log.info('trunk registered', { trunk: this.name, expires: granted })
    this.changed(entering)
    this.arm(refreshS * 1000)
  }

  private fail(status: number, reason: string, retryAfterS: number | null): void {
    this.lastChallenge = null
    this.failures++
    const delayMs = retryAfterS !== null ? retryAfterS * 1000 : backoffDelay(this.policy, this.failures, this.random)
    const entering = this.st.state !== 'failed'
    const now = this.o.scheduler.unixSeconds()
    this.st = {
      state: 'failed', lastStatus: status, lastReason: reason, expiresAt: null,
      nextAttemptAt: now + Math.ceil(delayMs / 1000), attempts: this.st.attempts,
    }
    log.warn('trunk registration failed', { trunk: this.name, status, reason, retryInMs: delayMs, attempts: this.st.attempts })
    this.changed(entering)
    this.arm(delayMs)
  }

  /**
   * The expiry the registrar granted (§10.2.4, §10.3 step 8): the `expires` parameter of the
   * 2xx's Contact that is ours, else the Expires header, else what we asked for.
   */
  private grantedExpires(res: SipResponse, asked: number): number {
    for (const v of res.getAll('contact')) {
      const na = parseNameAddr(v)
      if (na === null || !this.isOurContact(na.uri)) continue
      const e = parseInt(na.params['expires'] ?? '', 10)
      if (Number.isFinite(e)) return e
    }
    const e = parseInt(res.get('expires') ?? '', 10)
    return Number.isFinite(e) ? e : asked
  }

  private isOurContact(uri: ReturnType<typeof parseUri>): boolean {
    const c = this.contact
    if (uri === null || c === null) return false
    return uri.user === c.user && uri.host === c.host && (uri.port ?? 5060) === (c.port ?? 5060)
  }

  /** A REGISTER for `expires` seconds, its Via for `transport`, with credentials for the last challenge when there is one. */
  private buildRegister(expires: number, transport: TransportProtocol): SipRequest {
    const o = this.o
    const headers = [
      { name: 'contact', value: `<${o.contactUri}>` },
      { name: 'expires', value: String(expires) },
      { name: 'user-agent', value: UAC_USER_AGENT },
    ]
    const req = buildUacRequest({
      method: 'REGISTER', requestUri: o.registrarUri, from: o.aor, fromTag: this.fromTag, to: o.aor,
      callId: this.callId, cseq: ++this.cseq, transport, sentBy: o.sentBy(transport),
      branch: o.transactions.newBranch(), ...(o.route ? { route: o.route } : {}), headers,
    })
    const last = this.lastChallenge
    if (last !== null && o.credentials !== undefined) {
      req.append(last.header, digestAuthorization({
        challenge: last.challenge, credentials: o.credentials, method: 'REGISTER', uri: o.registrarUri,
        nc: this.nonces.next(last.challenge.nonce),
      }))
    }
    return req
  }

  private arm(ms: number): void {
    this.clearTimer()
    this.timer = this.o.scheduler.setTimer(Math.max(0, ms), () => this.attempt())
  }

  private clearTimer(): void {
    if (this.timer !== null) this.o.scheduler.clearTimer(this.timer)
    this.timer = null
  }

  private changed(entering: boolean): void {
    if (entering) this.since = this.o.scheduler.unixSeconds()
    this.o.onChange?.(this.status)
  }
}

/**
 * The request pipeline: every request the transaction layer passes up runs through a fixed,
 * named sequence of stages, like Kamailio's request_route (docs/architecture.md):
 *
 *   flood -> sanity -> loop -> in-dialog -> preloaded-route -> cancel -> local -> trunk -> auth
 *     -> registrar -> location (call-stages.ts: location service, or the dial plan and trunks)
 *
 * `flood` comes first, as Kamailio's default REQINIT route checks the ipban table and pike
 * before sanity_check: a banned or flooding source gets no answer to anything (not even a
 * 400), and the server transaction cap answers 503 before any work is done
 * (sip/security/sip-security.ts). While the gateway shuts down (`startDraining`), `flood`
 * also answers new out-of-dialog requests 503 with Retry-After.
 * `local` (requests to the gateway itself, e.g. the OPTIONS health check PBXs send) runs
 * before `auth`, so that a health check needs no credentials; REGISTER passes it.
 * Each stage either answers the request (returns true) or passes it on (returns false).
 * Its own answers come from one table (routing-outcomes.ts); where a request goes next is
 * the NextHopResolver's business (next-hop-resolver.ts).
 * This class is the TransactionUser (RFC 3261 §17) of the gateway.
 */
import { SipRequest, type SipResponse } from '../message/sip-message.ts'
import { createResponse } from '../message/create-response.ts'
import { parseNameAddr } from '../syntax/name-addr.ts'
import { parseVia } from '../syntax/via.ts'
import { checkRequestSanity, type SanityContext } from './request-sanity.ts'
import type { ServerTransaction, TransactionUser } from '../transaction/transaction-user.ts'
import type { Flow } from '../transport/flow.ts'
import type { Target } from '../proxy/target.ts'
import { FLOW_PARAM, FTAG_PARAM } from '../proxy/record-route.ts'
import { branchLoopHash, loopHash } from '../proxy/branch.ts'
import { aorKey } from '../registrar/aor.ts'
import { logger } from '../../base/log.ts'
import type { LocalAddresses } from '../../base/local-addresses.ts'
import { routingOutcomeResponse, type RoutingOutcome } from './routing-outcomes.ts'
import { NextHopResolver } from './next-hop-resolver.ts'
import { assertIdentity, stripAssertedIdentity } from './asserted-identity.ts'
import { CallStages } from './call-stages.ts'
import { decodeUser, type RequestContext, type RequestPipelineOptions, type Stage } from './request-context.ts'

export type { RequestContext, RequestPipelineOptions, Stage } from './request-context.ts'

const log = logger('sip.routing')


/** Option tags the gateway understands (Proxy-Require / Require, RFC 3261 §8.2.2.3). */
const SUPPORTED_OPTIONS: ReadonlySet<string> = new Set(['outbound', 'path', 'gruu', 'replaces', 'timer', '100rel'])
const ACCEPTED_TYPES: ReadonlySet<string> = new Set(['application/sdp'])
/** Requests that end something: never refused at the transaction cap (they free resources). */
const ENDING: ReadonlySet<string> = new Set(['ACK', 'BYE', 'CANCEL'])

export class RequestPipeline implements TransactionUser {
  readonly stages: readonly Stage[]
  private readonly addresses: LocalAddresses
  private readonly nextHop: NextHopResolver
  private readonly calls: CallStages

  constructor(private readonly o: RequestPipelineOptions) {
    this.addresses = o.local
    this.nextHop = new NextHopResolver({ flow: (id) => o.transport.flow(id), location: o.location })
    this.calls = new CallStages(o, { reply: (c, outcome) => this.reply(c, outcome), replyStatus: (c, status, reason) => this.replyStatus(c, status, reason) }, this.nextHop)
    this.stages = [
      { name: 'flood', run: (c) => this.flood(c) },
      { name: 'sanity', run: (c) => this.sanity(c) },
      { name: 'loop', run: (c) => this.loop(c) },
      { name: 'in-dialog', run: (c) => this.inDialog(c) },
      { name: 'preloaded-route', run: (c) => this.preloadedRoute(c) },
      { name: 'cancel', run: (c) => this.cancel(c) },
      { name: 'local', run: (c) => this.local(c) },
      { name: 'trunk', run: (c) => this.calls.matchTrunk(c) },
      { name: 'auth', run: (c) => this.authenticate(c) },
      { name: 'registrar', run: (c) => this.register(c) },
      { name: 'location', run: (c) => this.calls.locate(c) },
    ]
  }

  /** Retry-After of the 503 while draining; -1: not draining. */
  private drainRetryAfter = -1

  /**
   * Graceful shutdown (SIGTERM): from now on, every new out-of-dialog request except ACK and
   * CANCEL is answered 503 with `Retry-After: retryAfterSeconds`, statelessly; in-dialog
   * requests (BYE, re-INVITE) and running transactions go on.
   */
  startDraining(retryAfterSeconds: number): void {
    this.drainRetryAfter = retryAfterSeconds
  }

  // ---- TransactionUser -------------------------------------------------------------------

  onRequest(request: SipRequest, tx: ServerTransaction | null, flow: Flow): void {
    const ctx: RequestContext = {
      request, tx, flow, ruri: null, user: null,
      trusted: this.o.trustedSources.has(flow.remoteAddress) || (this.o.trustedPeer?.(flow) ?? false),
      allowListed: false, trunk: null, routeFlow: null,
    }
    const stages = this.stages
    for (let i = 0; i < stages.length; i++) if (stages[i]!.run(ctx)) return
  }

  onStrayResponse(response: SipResponse, flow: Flow): void {
    // §16.7 / RFC 6026: the INVITE client transaction forwards 2xx retransmissions while in
    // Accepted; a response that matched nothing at all has no context to go to.
    log.debug('stray response dropped', { status: response.status, callId: response.get('call-id'), flowId: flow.id })
  }

  // ---- stages ----------------------------------------------------------------------------

  /** Answers one of the pipeline's own outcomes through the transaction (never for ACK). */
  private reply(ctx: RequestContext, outcome: RoutingOutcome): true {
    if (ctx.tx !== null && ctx.request.method !== 'ACK') ctx.tx.respond(routingOutcomeResponse(ctx.request, outcome))
    return true
  }

  /** Passes on another layer's answer (sanity, authentication) through the transaction (never for ACK). */
  private replyStatus(ctx: RequestContext, status: number, reason: string | undefined, headers?: { name: string; value: string }[]): true {
    if (ctx.tx !== null && ctx.request.method !== 'ACK') {
      ctx.tx.respond(createResponse(ctx.request, status, { toTag: 'pb-' + status, reason, headers }))
    }
    return true
  }

  /**
   * Answers statelessly: the response goes out through the transaction, which is then
   * dropped, so that a refused request keeps no state (like Kamailio's sl_send_reply). A
   * retransmitted request is refused again; the ACK of a refused INVITE ends in `flood`.
   */
  private replyStateless(ctx: RequestContext, response: SipResponse): true {
    const tx = ctx.tx
    if (tx !== null && ctx.request.method !== 'ACK') {
      tx.respond(response)
      tx.terminate()
    }
    return true
  }

  /** A request from a banned source: dropped, or 403 (security.bans.action), statelessly. */
  private refuseBanned(ctx: RequestContext): true {
    const tx = ctx.tx
    if (tx === null) return true
    if (this.o.security.banAction === 'reject') return this.replyStateless(ctx, routingOutcomeResponse(ctx.request, 'source-banned'))
    tx.terminate()
    return true
  }

  /**
   * Bans, per-source request rate and the server transaction cap (sip/security/), before
   * anything else looks at the request:
   *
   * 1. an ACK outside any transaction whose To tag is one of ours (`pb-...`) acknowledges a
   *    final response the gateway sent itself (statelessly, or after its transaction ended):
   *    the ACK for a non-2xx response is hop by hop (§17.1.1.3) and ends here;
   * 2. trusted and allow-listed sources pass (never banned, counted or capped);
   * 3. a banned source is refused (dropped or 403);
   * 4. the request counts against its source's rate (Kamailio pike); past the limit the
   *    source is banned and this request refused;
   * 5. past the server transaction cap, a new request is answered 503 with Retry-After
   *    (RFC 3261 §21.5.4), except ACK, BYE and CANCEL, which end calls and free resources.
   */
  private flood(ctx: RequestContext): boolean {
    const req = ctx.request
    if (this.drainRetryAfter >= 0 && ctx.tx !== null && !ENDING.has(req.method) && !req.to.params.tag) {
      return this.replyStateless(ctx, routingOutcomeResponse(req, 'shutting-down', [{ name: 'retry-after', value: String(this.drainRetryAfter) }]))
    }
    if (ctx.tx === null && req.method === 'ACK' && isOurToTag(req)) return true
    const source = ctx.flow.remoteAddress
    const security = this.o.security
    if (ctx.trusted || security.allowed(source)) {
      ctx.allowListed = true
      return false
    }
    if (security.refused(source)) return this.refuseBanned(ctx)
    if (!security.request(source)) return this.refuseBanned(ctx)
    if (ctx.tx !== null && !ENDING.has(req.method) && security.overCapacity()) {
      return this.replyStateless(ctx, routingOutcomeResponse(req, 'overloaded', [{ name: 'retry-after', value: String(security.retryAfterSeconds) }]))
    }
    return false
  }

  /** RFC 3261 §16.3 request validation (syntax was checked by the parser). */
  private sanity(ctx: RequestContext): boolean {
    const req = ctx.request
    ctx.ruri = req.requestUri
    const ruri = ctx.ruri
    const forMe = ruri !== null && (ruri.scheme === 'sip' || ruri.scheme === 'sips') && ruri.user === null &&
      this.addresses.isLocalHost(ruri.host) && req.getAll('route').length === 0
    const sctx: SanityContext = { isForMe: forMe, supportedOptions: SUPPORTED_OPTIONS, acceptedContentTypes: ACCEPTED_TYPES }
    const v = checkRequestSanity(req, sctx)
    if (!v.ok) {
      log.debug('request refused by sanity checks', { status: v.status, reason: v.reason, callId: req.get('call-id') })
      return this.replyStatus(ctx, v.status, v.reason, v.headers)
    }
    return ruri === null ? this.reply(ctx, 'unsupported-uri-scheme') : false
  }

  /**
   * §16.3 item 4: "If the request contains a Via header field with a sent-by value that
   * equals a value placed into previous requests by the proxy, the request has been
   * forwarded by this element before. [...] the proxy MUST compute the branch parameter [...]
   * and compare it to the parameter received in that Via header field. If the parameters
   * match, the proxy MUST return a 482 (Loop Detected)". Different hashes are a spiral.
   */
  private loop(ctx: RequestContext): boolean {
    const req = ctx.request
    let mine = false
    for (const h of req.headers) if (h.name === 'via' && h.value.includes('z9hG4bK-pb')) { mine = true; break }
    if (!mine || req.method === 'ACK' || req.method === 'CANCEL') return false
    const hash = loopHash(req, req.uri)
    // Lower Vias were not validated by the parser (only the top one is used): skip unreadable ones.
    for (const value of req.getAll('via')) {
      const v = parseVia(value)
      // Our own Vias always carry the port: with it, a sibling worker on this host (its own
      // private port, docs/architecture.md §4b) is another element, not this one.
      if (v && v.port !== null && this.addresses.isLocal(v.host, v.port) && branchLoopHash(v.branch) === hash) return this.reply(ctx, 'loop-detected')
    }
    return false
  }

  /**
   * In-dialog requests (To tag present), §16.4 + §16.12: pop every Route entry that is ours;
   * forward to the next Route, else to the Request-URI, over the flow our last Record-Route
   * entry named (pb-flow) when it is still open.
   */
  private inDialog(ctx: RequestContext): boolean {
    const req = ctx.request
    if (!req.to.params.tag) return false
    const local = this.addresses
    let flowHint: string | null = null
    let ftag: string | null = null
    // §16.4: a strict router before us put our Record-Route into the Request-URI.
    if (ctx.ruri && ctx.ruri.params.lr !== undefined && local.isLocal(ctx.ruri.host, ctx.ruri.port)) {
      const routes = req.getAll('route')
      const last = routes[routes.length - 1]
      if (last !== undefined) {
        const na = parseNameAddr(last)
        if (na) {
          req.uri = serializeRouteUri(last)
          ctx.ruri = na.uri
          req.headers.splice(req.headers.findLastIndex((h) => h.name === 'route'), 1)
        }
      }
    }
    for (;;) {
      const top = req.get('route')
      if (top === undefined) break
      const na = parseNameAddr(top)
      if (!na || !local.isLocal(na.uri.host, na.uri.port)) break
      flowHint = na.uri.params[FLOW_PARAM] ?? null
      ftag = na.uri.params[FTAG_PARAM] ?? ftag
      req.removeFirst('route')
    }
    if (req.method === 'BYE') this.calls.byeSeen(req, ftag)
    let target: Target | null = null
    const next = req.get('route')
    if (next !== undefined) {
      const na = parseNameAddr(next)
      const d = na ? this.nextHop.uri(na.uri) : null
      if (d) target = { requestUri: req.uri, destination: d }
    } else if (ctx.ruri) {
      const hinted = flowHint ? this.o.transport.flow(flowHint) : undefined
      if (hinted) {
        target = { requestUri: req.uri, destination: { transport: hinted.transport, address: hinted.remoteAddress, port: hinted.remotePort, flow: hinted } }
      } else if (ctx.ruri.user !== null && local.isOurUri(ctx.ruri.host, ctx.ruri.port)) {
        // An in-dialog request whose sender ignored our Record-Route (stock SIPp uac does)
        // still names the callee's AOR: find it in the location service, as Kamailio's
        // lookup("location") does for such requests (highest-q binding only).
        const aor = aorKey(ctx.ruri, local.domain, this.isLocalHost)
        const b = aor === null ? undefined : this.o.location.lookup(aor)[0]
        const d = b ? this.nextHop.binding(b) : null
        if (b && d) target = { requestUri: b.contact, destination: d }
      } else {
        const d = this.nextHop.contact(ctx.ruri, req.uri)
        if (d) target = { requestUri: req.uri, destination: d }
      }
    }
    if (req.method === 'ACK') {
      if (target) this.o.proxy.forwardStateless(req, target)
      else log.debug('ACK with no route dropped', { callId: req.get('call-id') })
      return true
    }
    if (req.method === 'CANCEL') return false // hop by hop: the cancel stage handles it
    if (!target || !ctx.tx) return this.reply(ctx, target ? 'in-dialog-without-transaction' : 'no-route-to-dialog-peer')
    this.o.proxy.forward(req, ctx.tx, ctx.flow, [target], { recordRoute: false })
    return true
  }

  /** CANCEL (§16.10): matched to the INVITE's response context by the proxy. */
  private cancel(ctx: RequestContext): boolean {
    if (ctx.request.method !== 'CANCEL') return false
    if (ctx.tx) this.o.proxy.cancel(ctx.request, ctx.tx)
    return true
  }

  /**
   * Digest authentication (RFC 3261 §22, §10.3 step 3: "A registrar SHOULD authenticate the
   * UAC"): REGISTER is challenged by the registrar (401); every other out-of-dialog request
   * claiming a local user in From is challenged by the proxy (407) unless it comes from a
   * trusted source. ACK and CANCEL cannot be challenged (§22.1: "the request cannot be
   * challenged").
   *
   * No user enumeration (Asterisk's `alwaysauthreject`): a REGISTER for a user name that does
   * not exist is challenged like any other, and credentials for it fail exactly as a wrong
   * password does (same answer, same code path and digest work: DigestAuthenticator.verify).
   * The registrar's §10.3 step 5 404 ("address-of-record is not valid for the domain") is
   * left to the domain check: an unknown user can never authenticate, so it never reaches the
   * registrar, and an authenticated user may only register its own AOR (step 4, 403).
   *
   * A failed digest response (wrong password or unknown user; not a missing credential, a
   * stale nonce or one we never issued) is logged with source and claimed user name and
   * counted by the brute-force guard, which may ban the source (then this request is refused
   * like any banned one).
   */
  private authenticate(ctx: RequestContext): boolean {
    const req = ctx.request
    if (req.method === 'ACK') return true // a stray ACK outside any transaction: nothing to do
    if (ctx.trusted || ctx.trunk !== null) return false
    stripAssertedIdentity(req)
    const isRegister = req.method === 'REGISTER'
    if (!isRegister && !this.addresses.isLocalHost(req.from.uri.host)) return false
    const proxy = !isRegister
    const pre = ctx.flow.authenticatedUser
    if (pre !== undefined) {
      // A flow the gateway made for a user it authenticated already (JSON signaling): that
      // user's own requests pass; a request in anyone else's name is challenged as usual.
      const claimed = (isRegister ? req.to : req.from).uri
      if (claimed.user !== null && decodeUser(claimed.user) === pre && this.addresses.isLocalHost(claimed.host)) {
        ctx.user = pre
        if (proxy) assertIdentity(req, pre, this.addresses.domain, this.o.displayNameOf?.(pre))
        return false
      }
    }
    const r = this.o.auth.verify(req, { proxy })
    if (r.ok) {
      ctx.user = r.username
      if (proxy) {
        consumeCredentials(req, this.o.auth.realm)
        assertIdentity(req, r.username, this.addresses.domain, this.o.displayNameOf?.(r.username))
      }
      return false
    }
    if (r.status === 401 || r.status === 407) {
      if (r.failure === 'wrong-password' || r.failure === 'unknown-user') {
        const source = ctx.flow.remoteAddress
        log.info('authentication failed', { source, username: r.username, reason: r.reason, method: req.method, callId: req.get('call-id'), flowId: ctx.flow.id })
        if (this.o.security.authFailure(source, r.username, ctx.allowListed)) return this.refuseBanned(ctx)
      } else if (r.failure !== 'no-credentials') {
        log.info('authentication failed', { source: ctx.flow.remoteAddress, username: r.username, reason: r.reason, method: req.method, callId: req.get('call-id'), flowId: ctx.flow.id })
      }
      ctx.tx?.respond(this.o.auth.challenge(req, { proxy, stale: r.stale }))
      return true
    }
    log.info('authentication refused', { source: ctx.flow.remoteAddress, username: r.username, status: r.status, reason: r.reason, callId: req.get('call-id') })
    return this.replyStatus(ctx, r.status, r.status === 403 ? 'Forbidden' : undefined)
  }

  /**
   * §16.4 outside a dialog: "If the first value in the Route header field indicates this
   * proxy, the proxy MUST remove that value from the request." A UA that has the gateway as
   * its outbound proxy (baresip's `outbound`, a PBX trunk) preloads such a Route. Never answers.
   */
  private preloadedRoute(ctx: RequestContext): boolean {
    const req = ctx.request
    for (let top = req.get('route'); top !== undefined; top = req.get('route')) {
      const na = parseNameAddr(top)
      if (!na || !this.addresses.isLocal(na.uri.host, na.uri.port)) break
      // Another node sharing the location service routes a call for one of our connections
      // through us, naming the flow (Binding.nodeRoute): the `location` stage sends it there.
      const flowId = na.uri.params[FLOW_PARAM]
      if (flowId) ctx.routeFlow = this.o.transport.flow(flowId) ?? null
      req.removeFirst('route')
    }
    return false
  }

  /** REGISTER for our domain goes to the registrar (RFC 3261 §10.3); we relay no REGISTER. */
  private register(ctx: RequestContext): boolean {
    const req = ctx.request
    if (req.method !== 'REGISTER') return false
    const ruri = ctx.ruri!
    if (!this.addresses.isOurUri(ruri.host, ruri.port)) return this.reply(ctx, 'not-a-domain-of-this-registrar')
    const res = this.o.registrar.handleRegister(req, ctx.flow, ctx.user)
    ctx.tx?.respond(res)
    return true
  }

  /** Requests to the gateway itself (no user part): OPTIONS is the PBX health check. */
  private local(ctx: RequestContext): boolean {
    const ruri = ctx.ruri!
    const req = ctx.request
    if (req.method === 'REGISTER' || ruri.user !== null || !this.addresses.isOurUri(ruri.host, ruri.port)) return false
    if (req.method === 'ACK') return true
    return this.reply(ctx, req.method === 'OPTIONS' ? 'options-to-gateway' : 'no-such-gateway-resource')
  }


  /** A host that names this gateway, whatever the port (for AOR normalization). */
  private readonly isLocalHost = (host: string): boolean => this.addresses.isLocalHost(host)
}

/**
 * Removes the Proxy-Authorization credentials for our realm before forwarding (like
 * Kamailio's consume_credentials): they were for us, and the next hop has no use for them.
 */
function consumeCredentials(req: SipRequest, realm: string): void {
  const needle = `realm="${realm}"`
  const hs = req.headers
  for (let i = hs.length - 1; i >= 0; i--) {
    if (hs[i]!.name === 'proxy-authorization' && hs[i]!.value.includes(needle)) req.headers.splice(i, 1)
  }
}

/** Whether the To tag is one the gateway gives its own final responses (`pb-<status>`). */
function isOurToTag(req: SipRequest): boolean {
  let tag: string | null | undefined
  try {
    tag = req.to.params.tag
  } catch {
    return false
  }
  return typeof tag === 'string' && tag.startsWith('pb-')
}

function serializeRouteUri(routeValue: string): string {
  const lt = routeValue.indexOf('<')
  const gt = routeValue.indexOf('>', lt + 1)
  return lt >= 0 && gt > lt ? routeValue.slice(lt + 1, gt) : routeValue.trim()
}

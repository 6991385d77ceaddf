/**
 * The pipeline's stages for calls beyond the registrar (request-pipeline.ts): `trunk` (which
 * trunk an out-of-dialog request comes from) and `location` (the location service for a
 * local user by name; the dial plan, trunks and RFC 3263 through CallRouter for numbers, DIDs
 * and other domains), plus the call events of BYEs seen in dialogs.
 */
import type { SipRequest } from '../message/sip-message.ts'
import type { Target } from '../proxy/target.ts'
import { NO_CALL_EVENTS, type CallDirection, type CallEventSink } from '../proxy/call-events.ts'
import type { Caller } from '../dialplan/route-decision.ts'
import { aorKey } from '../registrar/aor.ts'
import { logger } from '../../base/log.ts'
import type { RoutingOutcome } from './routing-outcomes.ts'
import type { NextHopResolver } from './next-hop-resolver.ts'
import type { RoutedCall } from './call-router.ts'
import { DIALOG_CREATING, decodeUser, type RequestContext, type RequestPipelineOptions } from './request-context.ts'

const log = logger('sip.routing')

/** How the stages answer (the pipeline's own reply helpers). */
export interface StageReplies {
  reply(ctx: RequestContext, outcome: RoutingOutcome): true
  replyStatus(ctx: RequestContext, status: number, reason: string | undefined): true
}

/** See the file comment. */
export class CallStages {
  private readonly events: CallEventSink

  constructor(private readonly o: RequestPipelineOptions, private readonly host: StageReplies, private readonly nextHop: NextHopResolver) {
    this.events = o.callEvents ?? NO_CALL_EVENTS
  }

  /**
   * Out-of-dialog requests from a trunk (Asterisk's `identify`): matched by source address
   * (and header) before `auth`, so that the trunk's calls are not challenged (a trunk has no
   * account here; its source address is its credential, like Kamailio's `allow_trusted`).
   * REGISTER is never a trunk's: it is challenged as always. Never answers.
   */
  matchTrunk(ctx: RequestContext): boolean {
    const trunks = this.o.trunks
    const req = ctx.request
    if (trunks === undefined || req.method === 'REGISTER' || req.method === 'ACK' || req.to.params.tag) return false
    const t = trunks().matchInbound(ctx.flow.remoteAddress, req)
    if (t !== null) ctx.trunk = t.name
    return false
  }

  /**
   * Calls (INVITE) and MESSAGE go through the dial plan (call-router.ts) when one is
   * configured: users, ring groups, trunks with failover, DIDs on trunks; a SIP URI of another
   * domain is located by RFC 3263. Other requests keep the location service / IP next hop.
   */
  locate(ctx: RequestContext): boolean {
    const router = this.o.router
    const req = ctx.request
    const via = ctx.routeFlow
    if (via !== null && via.open && ctx.tx !== null) {
      // Another node sent it through us to one of our connections (Binding.nodeRoute).
      const target: Target = { requestUri: req.uri, destination: { transport: via.transport, address: via.remoteAddress, port: via.remotePort, flow: via } }
      this.o.proxy.forward(req, ctx.tx, ctx.flow, [target], { recordRoute: DIALOG_CREATING.has(req.method), callerUser: ctx.user })
      return true
    }
    if (router === undefined || (req.method !== 'INVITE' && req.method !== 'MESSAGE')) return this.locateByName(ctx)
    const ruri = ctx.ruri!
    let routed: RoutedCall | Promise<RoutedCall>
    if (ctx.trunk !== null) {
      routed = router.route(req, { kind: 'trunk', trunk: ctx.trunk }, this.dialedFromTrunk(ctx))
    } else if (this.o.local.isOurUri(ruri.host, ruri.port)) {
      if (ruri.user === null) return this.host.reply(ctx, 'unknown-user')
      // A local user by name (users.yaml, live): the location service, as without a dial plan.
      if (this.o.userExists(decodeUser(ruri.user))) return this.locateByName(ctx)
      const caller: Caller = ctx.user !== null ? { kind: 'user', username: ctx.user } : { kind: 'anonymous' }
      routed = router.route(req, caller, decodeUser(ruri.user))
    } else {
      if (ctx.user === null && !ctx.trusted) return this.host.reply(ctx, 'relaying-denied')
      if (this.nextHop.uri(ruri) !== null) return this.locateByName(ctx)
      routed = router.routeUri(ruri, req.uri)
    }
    if (routed instanceof Promise) {
      routed.then((r) => this.forwardRouted(ctx, r), (e: unknown) => {
        log.error('routing failed', { callId: req.get('call-id'), error: String(e) })
        this.host.replyStatus(ctx, 500, 'Routing Failed')
      })
    } else {
      this.forwardRouted(ctx, routed)
    }
    return true
  }

  /**
   * The number a trunk's request is for: the Request-URI user part (a DID), unless the trunk
   * sends to the Contact the gateway registered (its account name): then the To user.
   */
  private dialedFromTrunk(ctx: RequestContext): string {
    const req = ctx.request
    const ruriUser = ctx.ruri!.user === null ? '' : decodeUser(ctx.ruri!.user)
    const account = this.o.trunks?.().definition(ctx.trunk!)?.username
    if (ruriUser !== '' && ruriUser !== account) return ruriUser
    const to = req.to.uri.user
    return to === null ? ruriUser : decodeUser(to)
  }

  private forwardRouted(ctx: RequestContext, r: RoutedCall): void {
    const req = ctx.request
    if (r.kind === 'refuse') {
      this.host.replyStatus(ctx, r.status, r.reason)
      return
    }
    const isInvite = req.method === 'INVITE'
    if (isInvite) this.callStarted(ctx, r.targets, r.direction, r.trunk ?? ctx.trunk, r.rule)
    const callId = req.get('call-id') ?? ''
    const trunks = this.o.trunks
    this.o.proxy.forward(req, ctx.tx!, ctx.flow, r.targets, {
      recordRoute: DIALOG_CREATING.has(req.method), callerUser: ctx.user,
      ...(r.onFailure ? { onFailure: r.onFailure } : {}),
      reportCall: isInvite,
      // A call that was not answered no longer counts against its trunk's cap.
      ...(trunks && (r.direction === 'outbound' || r.direction === 'transit')
        ? { onFinal: (status: number) => { if (status >= 300 || !isInvite) trunks().callEnded(callId) } }
        : {}),
    })
  }

  private callStarted(ctx: RequestContext, targets: Target[], direction: CallDirection, trunk: string | null, rule: string | null): void {
    const req = ctx.request
    this.events.callStarted({
      callId: req.get('call-id') ?? '', fromTag: req.from.params.tag ?? '', at: Date.now(),
      from: req.from.uri.user === null ? `sip:${req.from.uri.host}` : `sip:${req.from.uri.user}@${req.from.uri.host}`,
      callerUser: ctx.user, dialed: req.uri, routed: targets.map((t) => t.requestUri), direction, trunk, rule,
    })
  }

  /** A BYE passing through: the call ended (records, trunk caps); `ftag` from our Route tells who sent it. */
  byeSeen(req: SipRequest, ftag: string | null): void {
    const callId = req.get('call-id') ?? ''
    this.o.trunks?.().callEnded(callId)
    const fromTag = req.from.params.tag ?? null
    this.events.callEnded({
      callId, fromTag: ftag, at: Date.now(),
      endedBy: ftag === null ? 'caller' : fromTag === ftag ? 'caller' : 'callee', reason: 'BYE',
    })
  }

  /** Location service (§16.5 targets from bindings) or a non-local next hop. */
  private locateByName(ctx: RequestContext): boolean {
    const req = ctx.request
    const ruri = ctx.ruri!
    const tx = ctx.tx!
    let targets: Target[]
    if (this.o.local.isOurUri(ruri.host, ruri.port)) {
      if (req.method === 'OPTIONS' && ruri.user !== null && !this.o.userExists(decodeUser(ruri.user))) return this.host.reply(ctx, 'unknown-user')
      const aor = aorKey(ruri, this.o.local.domain, this.isLocalHost)
      if (aor === null || ruri.user === null || !this.o.userExists(decodeUser(ruri.user))) return this.host.reply(ctx, 'unknown-user')
      const bindings = this.o.location.lookup(aor)
      targets = []
      for (const b of bindings) {
        const d = this.nextHop.binding(b)
        const headers = this.nextHop.bindingHeaders(b)
        if (d) targets.push({ requestUri: b.contact, destination: d, user: decodeUser(ruri.user), ...(headers ? { headers } : {}) })
      }
      if (targets.length === 0) return this.host.reply(ctx, 'no-binding')
    } else {
      // Not our domain: only authenticated users and trusted sources may relay (no open relay).
      if (ctx.user === null && !ctx.trusted) return this.host.reply(ctx, 'relaying-denied')
      const d = this.nextHop.uri(ruri)
      if (!d) return this.host.reply(ctx, 'no-route')
      targets = [{ requestUri: req.uri, destination: d }]
    }
    const isInvite = req.method === 'INVITE'
    if (isInvite) this.callStarted(ctx, targets, targets[0]?.user !== undefined ? 'internal' : 'outbound', null, null)
    this.o.proxy.forward(req, tx, ctx.flow, targets, { recordRoute: DIALOG_CREATING.has(req.method), callerUser: ctx.user, reportCall: isInvite })
    return true
  }

  /** A host that names this gateway, whatever the port (for AOR normalization). */
  private readonly isLocalHost = (host: string): boolean => this.o.local.isLocalHost(host)
}

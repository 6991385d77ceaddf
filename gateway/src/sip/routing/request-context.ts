/**
 * What the request pipeline's stages share (request-pipeline.ts, call-stages.ts): the
 * per-request context, the stage shape, and the pipeline's options.
 */
import type { SipRequest } from '../message/sip-message.ts'
import type { SipUri } from '../syntax/types.ts'
import type { ServerTransaction } from '../transaction/transaction-user.ts'
import type { Flow } from '../transport/flow.ts'
import type { TransportLayer } from '../transport/transport-layer.ts'
import type { StatefulProxy } from '../proxy/stateful-proxy.ts'
import type { CallEventSink } from '../proxy/call-events.ts'
import type { DigestAuthenticator } from '../auth/digest-authenticator.ts'
import type { Registrar } from '../registrar/registrar.ts'
import type { LocationService } from '../registrar/location-service.ts'
import type { SipSecurity } from '../security/sip-security.ts'
import type { TrunkRegistry } from '../trunks/trunk-registry.ts'
import type { LocalAddresses } from '../../base/local-addresses.ts'
import type { CallRouter } from './call-router.ts'

/** Per-request state the stages share. */
export interface RequestContext {
  readonly request: SipRequest
  /** Null for an ACK that matched no INVITE server transaction (2xx ACK). */
  readonly tx: ServerTransaction | null
  readonly flow: Flow
  /** Parsed Request-URI (sanity stage guarantees non-null afterwards). */
  ruri: SipUri | null
  /** The user the request was authenticated as, or null. */
  user: string | null
  /** The source is in proxy.trustedSources. */
  trusted: boolean
  /** The source is trusted or on security.allowList: never banned, rate-limited or capped (set by `flood`). */
  allowListed: boolean
  /** The trunk an out-of-dialog request came from (set by `trunk`), or null. */
  trunk: string | null
  /** A connection of ours a preloaded Route of ours named (`pb-flow`, another node's route to it), or null. */
  routeFlow: Flow | null
}

/** A named pipeline stage. `run` returns true when it answered (or dropped) the request. */
export interface Stage {
  readonly name: string
  run(ctx: RequestContext): boolean
}

export interface RequestPipelineOptions {
  /** The gateway's domain and addresses (requests for us, loop check, Route popping). */
  local: LocalAddresses
  transport: TransportLayer
  proxy: StatefulProxy
  auth: DigestAuthenticator
  registrar: Registrar
  location: LocationService
  /** Known usernames (for 404 vs 480 at the location stage). */
  userExists(username: string): boolean
  /** users.yaml display name of a user, for the P-Asserted-Identity of its requests (RFC 3325). */
  displayNameOf?(username: string): string | undefined
  trustedSources: ReadonlySet<string>
  /**
   * True for a flow from another worker process of this gateway (docs/architecture.md §4b):
   * it authenticated the request already, as a node in proxy.trustedSources would have.
   */
  trustedPeer?(flow: Flow): boolean
  /** Bans, brute-force and flood defences (the `flood` stage, failed digest attempts). */
  security: SipSecurity
  /** Dial plan and trunks (call-router.ts); absent: users by name only, IP URIs for other domains. */
  router?: CallRouter
  /** The running trunks, for inbound matching and call counts; absent: no trunks. */
  trunks?: () => TrunkRegistry
  /** Call records (call-events.ts). */
  callEvents?: CallEventSink
}

/** Methods that create a dialog: the proxy Record-Routes them (§16.6 item 4). */
export const DIALOG_CREATING: ReadonlySet<string> = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY'])

/** A user part as written in a URI, unescaped (`%40` -> `@`); as is when the escapes are broken. */
export function decodeUser(user: string): string {
  if (user.indexOf('%') < 0) return user
  try {
    return decodeURIComponent(user)
  } catch {
    return user
  }
}


/**
 * What the routing pipeline hands the stateful proxy for one forwarded request: the target
 * set (RFC 3261 §16.5) and how to forward to it (§16.6).
 */
import type { HeaderField } from '../syntax/types.ts'
import type { Destination } from '../transport/flow.ts'

/** One element of a target set (§16.5): the Request-URI to use and where to send it. */
export interface Target {
  /** The new Request-URI (a binding's contact, or the original R-URI for in-dialog requests). */
  requestUri: string
  destination: Destination
  /** The local user this target belongs to (callee side of a media decision). */
  user?: string | null
}

/** How one request is forwarded (§16.6). */
export interface ForwardOptions {
  /** Insert our (double) Record-Route (dialog-creating requests, §16.6 item 4). */
  recordRoute: boolean
  /** Extra header fields to append to every forwarded copy. */
  extraHeaders?: HeaderField[]
  /** Called once when the context completes (for CDRs, media cleanup). */
  onFinal?: (status: number) => void
  /** The authenticated local user who sent the request (caller side of a media decision). */
  callerUser?: string | null
}

/**
 * Every way the request pipeline itself answers a request, and the response each one gets:
 * one table, as the registrar's (registrar-errors.ts, after Kamailio's `rerrno.h` +
 * `reply.c`). Answers that come from another layer's table pass through unchanged: request
 * sanity (request-sanity.ts, RFC 3261 §16.3 / §8.2) and digest authentication
 * (auth-errors.ts, §22).
 */
import { createResponse } from '../message/create-response.ts'
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { HeaderField } from '../syntax/types.ts'

/** Methods the gateway's own OPTIONS answer lists (RFC 3261 §11.2). */
export const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, INFO, UPDATE, REFER, NOTIFY, SUBSCRIBE, PRACK'

/** The pipeline's own outcomes, by the stage that reaches them. */
export type RoutingOutcome =
  // flood: a request from a banned source, with security.bans.action: reject (sip/security/).
  | 'source-banned'
  // flood: over the server transaction cap (security.overload); Retry-After added by the stage.
  | 'overloaded'
  // drain: the gateway is shutting down (SIGTERM); in-dialog requests still pass.
  | 'shutting-down'
  // sanity: a Request-URI the parser could not read as any URI (§8.2.2.1).
  | 'unsupported-uri-scheme'
  // loop: §16.3 item 4.
  | 'loop-detected'
  // in-dialog: no Route and no readable Request-URI destination (§16.12).
  | 'no-route-to-dialog-peer'
  | 'in-dialog-without-transaction'
  // registrar: §10.3 step 1.
  | 'not-a-domain-of-this-registrar'
  // local: requests to the gateway itself.
  | 'options-to-gateway'
  | 'no-such-gateway-resource'
  // location: §16.5 (no target), §10.3 (unknown user), open relay refusal, RFC 3263.
  | 'unknown-user'
  | 'no-binding'
  | 'relaying-denied'
  | 'no-route'

export interface RoutingOutcomeEntry {
  status: number
  /** Reason phrase; absent: the standard phrase of the status (create-response.ts). */
  reason?: string
  headers?: readonly HeaderField[]
}

/** Outcome -> response. */
export const ROUTING_OUTCOMES: Readonly<Record<RoutingOutcome, RoutingOutcomeEntry>> = {
  // §21.4.4: "The server understood the request, but is refusing to fulfill it." The reason
  // names no cause: a banned source learns nothing about which threshold it crossed.
  'source-banned': { status: 403 },
  // §21.5.4: "The server is temporarily unable to process the request due to a temporary
  // overloading [...] The server MAY indicate when the client should retry the request in a
  // Retry-After header field."
  'overloaded': { status: 503 },
  // §21.5.4: 503 with Retry-After: the client retries (the restarted gateway answers).
  'shutting-down': { status: 503, reason: 'Service Unavailable (shutting down)' },
  // §8.2.2.1: "If the Request-URI uses a scheme not supported by the UAS, it SHOULD reject the
  // request with a 416 (Unsupported URI Scheme) response."
  'unsupported-uri-scheme': { status: 416 },
  // §16.3 item 4: "If the parameters match, the proxy MUST return a 482 (Loop Detected)".
  'loop-detected': { status: 482 },
  'no-route-to-dialog-peer': { status: 404, reason: 'No Route To Dialog Peer' },
  'in-dialog-without-transaction': { status: 500 },
  // §10.3 step 1: the registrar serves only its own domain; we relay no REGISTER.
  'not-a-domain-of-this-registrar': { status: 403, reason: 'Not A Domain Of This Registrar' },
  // §11.2: the PBX health check.
  'options-to-gateway': {
    status: 200,
    headers: [
      { name: 'allow', value: ALLOW },
      { name: 'accept', value: 'application/sdp' },
      { name: 'supported', value: 'outbound, path' },
    ],
  },
  'no-such-gateway-resource': { status: 404 },
  'unknown-user': { status: 404 },
  // §16.5 / §21.4.18: the user exists but has no reachable binding.
  'no-binding': { status: 480 },
  // Not our domain: only authenticated users and trusted sources may relay (no open relay).
  'relaying-denied': { status: 403, reason: 'Relaying Denied' },
  'no-route': { status: 404, reason: 'No Route' },
}

/** The response for an outcome, with our To tag (`pb-<status>`) and `extraHeaders` after the table's. */
export function routingOutcomeResponse(request: SipRequest, outcome: RoutingOutcome, extraHeaders?: readonly HeaderField[]): SipResponse {
  const e = ROUTING_OUTCOMES[outcome]
  const headers = extraHeaders === undefined ? e.headers : [...(e.headers ?? []), ...extraHeaders]
  return createResponse(request, e.status, { toTag: 'pb-' + e.status, reason: e.reason, headers: headers as HeaderField[] | undefined })
}

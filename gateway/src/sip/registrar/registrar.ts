/**
 * The registrar (RFC 3261 §10.3) with Path (RFC 3327 §5.3) and SIP Outbound (RFC 5626 §6):
 * turns an authenticated REGISTER into binding changes in the LocationService and answers it.
 *
 * > A registrar has to know (for example, through configuration) the set of domain(s) for
 * > which it maintains bindings.  REGISTER requests MUST be processed by a registrar in the
 * > order that they are received.  REGISTER requests MUST also be processed atomically, meaning
 * > that a particular REGISTER request is either processed completely or not at all.  Each
 * > REGISTER message MUST be processed independently of any other registration or binding
 * > changes.
 *
 * handleRegister is synchronous: it validates every Contact first, computes the new binding
 * list of the AOR tentatively, and commits it with one LocationService.apply (atomic; the
 * sqlite write is queued behind it). Authentication (§10.3 step 3, digest) happens before, in
 * the routing pipeline; the registrar receives the authenticated user name or null.
 * Record-Route is never copied into responses ("Registrars MUST NOT include a Record-Route
 * header field in any response to a REGISTER request"): createResponse copies it only on demand.
 */
import { createResponse } from '../message/create-response.ts'
import type { SipRequest, SipResponse } from '../message/sip-message.ts'
import type { HeaderField, NameAddr, SipUri } from '../syntax/types.ts'
import { serializeUri } from '../message/serialize.ts'
import { parseNameAddr } from '../syntax/name-addr.ts'
import { parseUri, unescapeUriComponent } from '../syntax/uri.ts'
import type { Scheduler } from '../../base/scheduler.ts'
import type { LocalAddresses } from '../../base/local-addresses.ts'
import type { Flow } from '../transport/flow.ts'
import { aorKey } from './aor.ts'
import { instanceParam, normalizeInstanceId, sipUrisEquivalent, type Binding } from './binding.ts'
import type { LocationService } from './location-service.ts'
import { registrarErrorResponse, type RegistrarError, type RegistrarErrorContext } from './registrar-errors.ts'

export interface RegistrarOptions {
  location: LocationService
  /** The SIP domain this registrar serves (AORs sip:user@domain) and the names that mean this gateway. */
  local: LocalAddresses
  /** Seconds; 0 < requested < minExpires gets 423 with Min-Expires. */
  minExpires: number
  /** Seconds; longer requests are granted this. */
  maxExpires: number
  /** Seconds granted when the REGISTER names no expiry. */
  defaultExpires: number
  scheduler: Scheduler
  /** Local policy: most bindings one AOR may hold (503 beyond). Default 32. */
  maxBindingsPerAor?: number
}

/** Option tags the registrar understands in Require (§8.2.2.3). */
export const REGISTRAR_OPTION_TAGS: ReadonlySet<string> = new Set(['outbound', 'path'])

/** 2^32-1: "Implementations MAY treat values larger than 2**32-1 [...] as equivalent to 2**32-1." */
const MAX_DELTA = 4294967295
/** §10.2: "Malformed values SHOULD be treated as equivalent to 3600." */
const MALFORMED_EXPIRES = 3600
const MAX_REG_ID = 2147483647

/** One validated Contact of the request. */
interface ContactPlan {
  uri: SipUri
  text: string
  /** Granted seconds (0 = remove). */
  expires: number
  q: number
  instanceId: string | null
  regId: number | null
}

/** REGISTER processing per RFC 3261 §10.3 steps 1–8; see the file comment. */
export class Registrar {
  private readonly location: LocationService
  private readonly domain: string
  private readonly isLocalHost: (host: string) => boolean
  private readonly minExpires: number
  private readonly maxExpires: number
  private readonly defaultExpires: number
  private readonly scheduler: Scheduler
  private readonly maxBindings: number
  /** Parsed contact URIs of bindings, so matching does not re-parse stored text. */
  private readonly parsedContacts = new WeakMap<Binding, SipUri | null>()
  private readonly ruriChecks = new Map<string, RegistrarError | null>()
  private dateSecond = -1
  private dateValue = ''
  private readonly tagBytes = new Uint8Array(1536)
  private tagIndex = 1536

  constructor(options: RegistrarOptions) {
    this.location = options.location
    this.domain = options.local.domain
    const local = options.local
    this.isLocalHost = (h) => local.isLocalHost(h)
    this.minExpires = options.minExpires
    this.maxExpires = options.maxExpires
    this.defaultExpires = options.defaultExpires
    this.scheduler = options.scheduler
    this.maxBindings = options.maxBindingsPerAor ?? 32
  }

  /**
   * Processes one REGISTER and returns the response to send through its server transaction.
   * Never throws on wire input: every failure maps to a response from REGISTRAR_ERRORS.
   *
   * @param request the REGISTER (already past §18 checks, transaction matching, and digest auth)
   * @param flow the flow it arrived on: first-hop WS/WSS/TCP/TLS bindings route back over it
   * @param authenticatedUser the digest user name that authenticated the request, or null when
   *   the pipeline runs without authentication (then anyone may register any local AOR)
   * @returns 200 with the AOR's current bindings, or 400/403/404/420/423/439/503
   */
  handleRegister(request: SipRequest, flow: Flow, authenticatedUser: string | null): SipResponse {
    const toTag = this.newTag()

    // Step 1:
    // > The registrar inspects the Request-URI to determine whether it has access to bindings
    // > for the domain identified in the Request-URI.  If not, and if the server also acts as
    // > a proxy server, the server SHOULD forward the request to the addressed domain
    // The routing pipeline forwards REGISTERs for foreign domains; one that reaches us anyway
    // is answered 404.
    const ruriError = this.checkRequestUri(request.uri)
    if (ruriError !== null) return this.fail(request, toTag, ruriError)
    const h = scanHeaders(request)

    // Step 2:
    // > To guarantee that the registrar supports any necessary extensions, the registrar MUST
    // > process the Require header field values as described for UASs in Section 8.2.2.
    if (h.require !== null) {
      const unsupported = optionTags(h.require).filter((t) => !REGISTRAR_OPTION_TAGS.has(t.toLowerCase()))
      if (unsupported.length > 0) return this.fail(request, toTag, 'bad-extension', { unsupported })
    }

    // The To header: "This address-of-record MUST be a SIP URI or SIPS URI." (§10.2)
    let to: NameAddr
    try {
      to = request.to
    } catch {
      return this.fail(request, toTag, 'to-unreadable')
    }
    if (to.uri.scheme !== 'sip' && to.uri.scheme !== 'sips') return this.fail(request, toTag, 'to-not-sip')
    if (to.uri.user === null || to.uri.user === '') return this.fail(request, toTag, 'to-no-user')

    // Steps 3–4:
    // > The registrar SHOULD determine if the authenticated user is authorized to modify
    // > registrations for this address-of-record. [...] If the authenticated user is not
    // > authorized to modify bindings, the registrar MUST return a 403 (Forbidden) and skip the
    // > remaining steps.
    // Policy: a user may modify only the bindings of its own AOR (no third-party registration).
    if (authenticatedUser !== null && unescapeUriComponent(to.uri.user) !== authenticatedUser) {
      return this.fail(request, toTag, 'forbidden')
    }

    // Step 5:
    // > The registrar extracts the address-of-record from the To header field of the request.
    // > If the address-of-record is not valid for the domain in the Request-URI, the registrar
    // > MUST send a 404 (Not Found) response and skip the remaining steps.
    if (!this.isLocal(to.uri.host)) return this.fail(request, toTag, 'to-not-local')
    const aor = aorKey(to.uri, this.domain, this.isLocalHost)!

    let callId: string
    let cseq: number
    try {
      callId = request.callId
    } catch {
      return this.fail(request, toTag, 'call-id-missing')
    }
    try {
      cseq = request.cseq.seq
    } catch {
      return this.fail(request, toTag, 'cseq-unreadable')
    }

    const now = this.scheduler.unixSeconds()
    const paths = h.paths
    const contactValues = h.contacts
    const expiresHeader = parseDeltaSeconds(h.expires)

    // Step 6:
    // > The registrar checks whether the request contains the Contact header field.  If not, it
    // > skips to the last step.  If the Contact header field is present, the registrar checks
    // > if there is one Contact field value that contains the special value "*" and an Expires
    // > field.  If the request has additional Contact fields or an expiration time other than
    // > zero, the request is invalid, and the server MUST return a 400 (Invalid Request) and
    // > skip the remaining steps.  If not, the registrar checks whether the Call-ID agrees with
    // > the value stored for each binding.  If not, it MUST remove the binding.  If it does
    // > agree, it MUST remove the binding only if the CSeq in the request is higher than the
    // > value stored for that binding.  Otherwise, the update MUST be aborted and the request
    // > fails.
    let star = false
    for (let i = 0; i < contactValues.length; i++) if (contactValues[i]!.trim() === '*') star = true
    if (star) {
      if (contactValues.length !== 1) return this.fail(request, toTag, 'star-with-other-contacts')
      if (expiresHeader !== 0) return this.fail(request, toTag, 'star-without-expires-zero')
      const current = this.location.current(aor)
      for (const b of current) {
        if (b.expiresAt > now && b.callId === callId && cseq <= b.cseq) return this.fail(request, toTag, 'out-of-order')
      }
      if (current.length > 0) this.location.apply(aor, current.slice(), [])
      return this.ok(request, toTag, aor, now, false, paths)
    }

    // > If no Contact header field is present in a REGISTER request, the list of bindings is
    // > left unchanged. (§10.2.3: a query.)
    if (contactValues.length === 0) return this.ok(request, toTag, aor, now, false, paths)

    // RFC 5626 §6:
    // > When receiving a REGISTER request, the registrar MUST check from its Via header field if
    // > the registrar is the first hop or not.  If the registrar is not the first hop, it MUST
    // > examine the Path header of the request.  If the Path header field is missing or it
    // > exists but the first URI does not have an "ob" URI parameter, then outbound processing
    // > MUST NOT be applied to the registration.  In this case, the following processing
    // > applies: if the REGISTER request contains the reg-id and the outbound option tag in a
    // > Supported header field, then the registrar MUST respond to the REGISTER request with a
    // > 439 (First Hop Lacks Outbound Support) response; otherwise, the registrar MUST ignore
    // > the "reg-id" parameter of the Contact header.
    const firstHop = h.vias <= 1
    const outboundApplies = firstHop || (paths.length > 0 && pathHasOb(paths[0]!))
    const supportsOutbound = h.supported !== null && optionTags(h.supported).some((t) => t.toLowerCase() === 'outbound')

    // Step 7 (first half): every contact's expiration, validated before anything changes.
    const plans: ContactPlan[] = []
    let nonZero = 0
    let withRegId = 0
    for (let i = 0; i < contactValues.length; i++) {
      const na = parseNameAddr(contactValues[i]!)
      if (na === null) return this.fail(request, toTag, 'contact-unreadable')
      if (na.uri.scheme !== 'sip' && na.uri.scheme !== 'sips') return this.fail(request, toTag, 'contact-not-sip')
      const p = na.params

      // > -  If the field value has an "expires" parameter, that value MUST be taken as the
      // >    requested expiration.
      // > -  If there is no such parameter, but the request has an Expires header field, that
      // >    value MUST be taken as the requested expiration.
      // > -  If there is neither, a locally-configured default value MUST be taken as the
      // >    requested expiration.
      const param = p.expires
      const requested = param !== undefined ? parseDeltaSeconds(param) ?? MALFORMED_EXPIRES
        : expiresHeader ?? this.defaultExpires
      // > If and only if the requested expiration interval is greater than zero AND smaller than
      // > one hour AND less than a registrar-configured minimum, the registrar MAY reject the
      // > registration with a response of 423 (Interval Too Brief).  This response MUST contain
      // > a Min-Expires header field that states the minimum expiration interval the registrar
      // > is willing to honor.  It then skips the remaining steps.
      if (requested > 0 && requested < 3600 && requested < this.minExpires) {
        return this.fail(request, toTag, 'interval-too-brief', { minExpires: this.minExpires })
      }
      // > The registrar MAY choose an expiration less than the requested expiration interval.
      const expires = requested > this.maxExpires ? this.maxExpires : requested

      let q = 1
      if (p.q !== undefined) {
        const parsed = parseQValue(p.q)
        if (parsed === null) return this.fail(request, toTag, 'invalid-q')
        q = parsed
      }

      // RFC 5626 §6:
      // > A Contact header field value with an instance-id media feature tag but no "reg-id"
      // > header field parameter is valid [...], but one with a reg-id but no instance-id is
      // > not valid.  If the registrar processes a Contact header field value with a reg-id but
      // > no instance-id, it simply ignores the reg-id parameter.
      const instanceId = normalizeInstanceId(p['+sip.instance'])
      let regId: number | null = null
      if (instanceId !== null && p['reg-id'] !== undefined) {
        const r = parseRegId(p['reg-id'])
        if (r === null) return this.fail(request, toTag, 'invalid-reg-id')
        if (outboundApplies) regId = r
        else if (supportsOutbound) return this.fail(request, toTag, 'first-hop-lacks-outbound')
      }
      if (expires > 0) nonZero++
      if (regId !== null && expires > 0) withRegId++
      plans.push({ uri: na.uri, text: serializeUri(na.uri), expires, q, instanceId, regId })
    }

    // RFC 5626 §6:
    // > Therefore, if the Contact header field contains more than one header field value with a
    // > non-zero expiration and any of these header field values contain a "reg-id" Contact
    // > header field parameter, the entire registration SHOULD be rejected with a 400 (Bad
    // > Request) response.
    if (withRegId > 0 && nonZero > 1) return this.fail(request, toTag, 'reg-id-multiple-contacts')

    // Step 7 (second half):
    // > For each address, the registrar then searches the list of current bindings using the
    // > URI comparison rules.  If the binding does not exist, it is tentatively added.  If the
    // > binding does exist, the registrar checks the Call-ID value.  If the Call-ID value in the
    // > existing binding differs from the Call-ID value in the request, the binding MUST be
    // > removed if the expiration time is zero and updated otherwise.  If they are the same,
    // > the registrar compares the CSeq value.  If the value is higher than that of the
    // > existing binding, it MUST update or remove the binding as above.  If not, the update
    // > MUST be aborted and the request fails.
    //
    // RFC 5626 §6 changes what "the binding" is for outbound contacts:
    // > the corresponding binding is between an AOR and the combination of the instance-id
    // > (from the "+sip.instance" Contact header parameter) and the value of "reg-id" Contact
    // > header field parameter parameter.  The registrar MUST store in the binding the Contact
    // > URI, all the Contact header field parameters, and any Path header field values.
    // > [...]
    // > If the registrar receives a re-registration for a specific combination of AOR, and
    // > instance-id and reg-id values, the registrar MUST update any information that uniquely
    // > identifies the network flow over which the request arrived if that information has
    // > changed
    // So a REGISTER from a reloaded browser page (new Call-ID, same instance and reg-id)
    // replaces the stale binding instead of adding a second one. An instance-id without reg-id
    // identifies the binding the same way (by instance-id alone, as GRUU, RFC 5627, does).
    const current = this.location.current(aor)
    const working: Binding[] = current.slice()
    const fresh: Binding[] = []
    const flowId = flow.reliable && firstHop ? flow.id : null
    const userAgent = h.userAgent
    let outboundUsed = false
    for (const plan of plans) {
      const idx = this.findBinding(working, plan)
      const existing = idx >= 0 ? working[idx]! : null
      const live = existing !== null && existing.expiresAt > now
      if (existing !== null && live && !fresh.includes(existing) && existing.callId === callId && cseq <= existing.cseq) {
        return this.fail(request, toTag, 'out-of-order')
      }
      if (plan.expires === 0) {
        if (existing !== null) working.splice(idx, 1)
        continue
      }
      if (plan.regId !== null) outboundUsed = true
      const binding: Binding = {
        aor,
        contact: plan.text,
        q: plan.q,
        expiresAt: now + plan.expires,
        callId,
        cseq,
        instanceId: plan.instanceId,
        regId: plan.regId,
        flowId,
        transport: flow.transport,
        sourceAddress: flow.remoteAddress,
        sourcePort: flow.remotePort,
        userAgent,
        path: paths,
        registeredAt: existing !== null && live ? existing.registeredAt : now,
      }
      fresh.push(binding)
      if (existing !== null) working[idx] = binding
      else working.push(binding)
    }

    let liveCount = 0
    for (const b of working) if (b.expiresAt > now) liveCount++
    if (liveCount > this.maxBindings && liveCount > countLive(current, now)) return this.fail(request, toTag, 'too-many-bindings')

    // > The binding updates MUST be committed (that is, made visible to the proxy or redirect
    // > server) if and only if all binding updates and additions succeed.
    const removals: Binding[] = []
    for (const b of current) if (!working.includes(b)) removals.push(b)
    if (removals.length > 0 || fresh.length > 0) this.location.apply(aor, removals, fresh)

    // RFC 5626 §6:
    // > Provided that the UAC had included an outbound option-tag (defined in Section 11.4) in a
    // > Supported header field value in the REGISTER request, the registrar MUST include the
    // > outbound option-tag in a Require header field value in its response to that REGISTER
    // > request.
    // > [...] If the Contact header did not contain a "reg-id" Contact header field parameter or
    // > if that parameter was ignored (as described above), the registrar MUST NOT include the
    // > outbound option-tag in the Require header field of its response.
    return this.ok(request, toTag, aor, now, outboundUsed && supportsOutbound, paths)
  }

  /**
   * Step 8:
   * > The registrar returns a 200 (OK) response.  The response MUST contain Contact header
   * > field values enumerating all current bindings.  Each Contact value MUST feature an
   * > "expires" parameter indicating its expiration interval chosen by the registrar.  The
   * > response SHOULD include a Date header field.
   *
   * RFC 3327 §5.3: "The registrar copies the Path header field values into a Path header field
   * in the successful (200 class) REGISTER response."
   */
  private ok(request: SipRequest, toTag: string, aor: string, now: number, requireOutbound: boolean, paths: string[]): SipResponse {
    const headers: HeaderField[] = []
    const list = this.location.current(aor)
    for (let i = 0; i < list.length; i++) {
      const b = list[i]!
      if (b.expiresAt <= now) continue
      let v = `<${b.contact}>;expires=${b.expiresAt - now}`
      if (b.q !== 1) v += `;q=${formatQ(b.q)}`
      if (b.instanceId !== null) v += `;+sip.instance=${instanceParam(b.instanceId)}`
      if (b.regId !== null) v += `;reg-id=${b.regId}`
      headers.push({ name: 'contact', value: v })
    }
    if (requireOutbound) headers.push({ name: 'require', value: 'outbound' })
    for (const p of paths) headers.push({ name: 'path', value: p })
    headers.push({ name: 'date', value: this.httpDate(now) })
    return createResponse(request, 200, { toTag, headers })
  }

  /** Index in `list` of the binding a contact refers to, or -1. */
  private findBinding(list: Binding[], plan: ContactPlan): number {
    if (plan.instanceId !== null) {
      for (let i = 0; i < list.length; i++) {
        const b = list[i]!
        if (b.instanceId === plan.instanceId && b.regId === plan.regId) return i
      }
    } else {
      for (let i = 0; i < list.length; i++) {
        const b = list[i]!
        if (b.instanceId === null && this.sameContact(b, plan)) return i
      }
    }
    // A removal (expires=0) that names the contact URI without the instance parameters still
    // removes that contact, whatever identifies its binding.
    if (plan.expires === 0) {
      for (let i = 0; i < list.length; i++) if (this.sameContact(list[i]!, plan)) return i
    }
    return -1
  }

  private sameContact(b: Binding, plan: ContactPlan): boolean {
    if (b.contact === plan.text) return true
    let uri = this.parsedContacts.get(b)
    if (uri === undefined) {
      uri = parseUri(b.contact)
      this.parsedContacts.set(b, uri)
    }
    return uri !== null && sipUrisEquivalent(uri, plan.uri)
  }

  /** Hosts in parsed URIs are lower-case already (types.ts); the domain is a local host. */
  private isLocal(host: string): boolean {
    return this.isLocalHost(host)
  }

  private fail(request: SipRequest, toTag: string, error: RegistrarError, ctx?: RegistrarErrorContext): SipResponse {
    return registrarErrorResponse(request, error, toTag, ctx)
  }

  /**
   * §10.3 step 1 for a Request-URI text, memoized: nearly every REGISTER names the same
   * `sip:domain`, so the parse runs once per distinct text (the cache is bounded; it assumes
   * `isLocalHost` does not change — a configuration reload builds a new Registrar).
   */
  private checkRequestUri(text: string): RegistrarError | null {
    const cached = this.ruriChecks.get(text)
    if (cached !== undefined) return cached
    const uri = parseUri(text)
    let result: RegistrarError | null = null
    if (uri === null) result = 'request-uri-unreadable'
    else if ((uri.scheme !== 'sip' && uri.scheme !== 'sips') || !this.isLocal(uri.host)) result = 'request-uri-not-local'
    if (this.ruriChecks.size >= 256) this.ruriChecks.clear()
    this.ruriChecks.set(text, result)
    return result
  }

  /** RFC 1123 date of a unix second (§20.17 Date), cached per second. */
  private httpDate(second: number): string {
    if (second !== this.dateSecond) {
      this.dateSecond = second
      this.dateValue = new Date(second * 1000).toUTCString()
    }
    return this.dateValue
  }

  /**
   * A To tag (§19.3: "it MUST be globally unique and cryptographically random with at least 32
   * bits of randomness"): 48 random bits as 12 hex digits, from a pooled crypto.getRandomValues
   * buffer.
   */
  private newTag(): string {
    if (this.tagIndex + 6 > this.tagBytes.length) {
      crypto.getRandomValues(this.tagBytes)
      this.tagIndex = 0
    }
    const b = this.tagBytes
    const i = this.tagIndex
    this.tagIndex = i + 6
    return HEX[b[i]!]! + HEX[b[i + 1]!]! + HEX[b[i + 2]!]! + HEX[b[i + 3]!]! + HEX[b[i + 4]!]! + HEX[b[i + 5]!]!
  }
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** The header fields the registrar reads, gathered in one pass over the request. */
interface RegisterHeaders {
  contacts: string[]
  paths: string[]
  /** Require / Supported field values (comma lists), null when absent. */
  require: string[] | null
  supported: string[] | null
  expires: string | undefined
  userAgent: string | null
  /** Number of Via values (the parser gives one field per value, LIST_HEADERS). */
  vias: number
}

function scanHeaders(request: SipRequest): RegisterHeaders {
  const out: RegisterHeaders = { contacts: [], paths: [], require: null, supported: null, expires: undefined, userAgent: null, vias: 0 }
  const hs = request.headers
  for (let i = 0; i < hs.length; i++) {
    const f = hs[i]!
    switch (f.name) {
      case 'via': out.vias++; break
      case 'contact': out.contacts.push(f.value); break
      case 'path': out.paths.push(f.value); break
      case 'expires': if (out.expires === undefined) out.expires = f.value; break
      case 'user-agent': if (out.userAgent === null) out.userAgent = f.value; break
      case 'require': (out.require ??= []).push(f.value); break
      case 'supported': (out.supported ??= []).push(f.value); break
    }
  }
  return out
}

/** Option tags of Require/Supported field values (comma-separated tokens). */
function optionTags(values: string[]): string[] {
  const out: string[] = []
  for (const v of values) {
    for (const t of v.split(',')) {
      const tag = t.trim()
      if (tag !== '') out.push(tag)
    }
  }
  return out
}

/** True when the first URI of the top Path value carries the `ob` URI parameter (RFC 5626 §5.1). */
function pathHasOb(pathValue: string): boolean {
  const comma = pathValue.indexOf(',')
  const na = parseNameAddr(comma >= 0 ? pathValue.slice(0, comma) : pathValue)
  return na !== null && 'ob' in na.uri.params
}

/**
 * delta-seconds (§25.1: 1*DIGIT), clamped to 2^32-1. Returns null for an absent header; a
 * malformed value (or a parameter without value) is null too — callers substitute 3600 for
 * malformed expires parameters (§10.2) and treat a malformed Expires header likewise.
 */
function parseDeltaSeconds(text: string | null | undefined): number | null {
  if (text === undefined || text === null) return null
  const s = text.trim()
  if (s.length === 0) return MALFORMED_EXPIRES
  let v = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 48 || c > 57) return MALFORMED_EXPIRES
    v = v * 10 + (c - 48)
    if (v > MAX_DELTA) return MAX_DELTA
  }
  return v
}

/** qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (§25.1). */
function parseQValue(text: string | null): number | null {
  if (text === null) return null
  const s = text.trim()
  if (!/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(s)) return null
  return Number(s)
}

/** reg-id = "reg-id" EQUAL 1*DIGIT ; 1 to (2^31 - 1) (RFC 5626 §11.3). */
function parseRegId(text: string | null): number | null {
  if (text === null) return null
  const s = text.trim()
  if (!/^\d{1,10}$/.test(s)) return null
  const n = Number(s)
  return n >= 1 && n <= MAX_REG_ID ? n : null
}

function formatQ(q: number): string {
  return q === 0 ? '0' : q.toFixed(3).replace(/0+$/, '').replace(/\.$/, '')
}

function countLive(list: readonly Binding[], now: number): number {
  let n = 0
  for (const b of list) if (b.expiresAt > now) n++
  return n
}

/**
 * Builders shared by the registrar tests: REGISTER requests made with `new SipRequest(...)`,
 * a fake Flow, and a registrar wired to a FakeScheduler.
 */
import { SipRequest, type SipResponse } from '../../../../gateway/src/sip/message/sip-message.ts'
import type { HeaderField } from '../../../../gateway/src/sip/syntax/types.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import type { Flow, TransportProtocol } from '../../../../gateway/src/sip/transport/flow.ts'
import { LocationService, type BindingPersistence } from '../../../../gateway/src/sip/registrar/location-service.ts'
import { Registrar } from '../../../../gateway/src/sip/registrar/registrar.ts'
import { LocalAddresses } from '../../../../gateway/src/base/local-addresses.ts'

export const DOMAIN = 'patchbay.test'

export interface FakeFlow extends Flow {
  sent: Uint8Array[]
}

let flowSeq = 0

/** A Flow that records what is sent; UDP unless told otherwise. */
export function fakeFlow(transport: TransportProtocol = 'UDP', remoteAddress = '192.0.2.10', remotePort = 5062): FakeFlow {
  const reliable = transport !== 'UDP'
  const id = reliable ? `${transport.toLowerCase()}-${++flowSeq}` : `udp-${remoteAddress}:${remotePort}`
  const sent: Uint8Array[] = []
  let open = true
  return {
    id,
    transport,
    reliable,
    secure: transport === 'TLS' || transport === 'WSS',
    localAddress: '127.0.0.1',
    localPort: 5060,
    remoteAddress,
    remotePort,
    get open() {
      return open
    },
    send(data: Uint8Array) {
      if (!open) return false
      sent.push(data)
      return true
    },
    close() {
      if (reliable) open = false
    },
    sent,
  }
}

export interface RegisterOptions {
  user?: string
  toUri?: string
  requestUri?: string
  callId?: string
  cseq?: number
  /** Contact values, one field each (e.g. `<sip:alice@192.0.2.10:5062>;expires=300`). */
  contacts?: string[]
  expires?: number | string
  /** Number of Via fields (more than one: the REGISTER came through a proxy). */
  vias?: number
  extra?: HeaderField[]
}

/** A REGISTER as a UA would send it (one field per Contact value, like the parser produces). */
export function register(o: RegisterOptions = {}): SipRequest {
  const user = o.user ?? 'alice'
  const headers: HeaderField[] = []
  const vias = o.vias ?? 1
  for (let i = vias - 1; i >= 0; i--) {
    headers.push({ name: 'via', value: `SIP/2.0/UDP 192.0.2.${10 + i}:5062;branch=z9hG4bK-${i}-${Math.random().toString(36).slice(2)}` })
  }
  headers.push({ name: 'max-forwards', value: '70' })
  headers.push({ name: 'to', value: `<${o.toUri ?? `sip:${user}@${DOMAIN}`}>` })
  headers.push({ name: 'from', value: `<sip:${user}@${DOMAIN}>;tag=ft${Math.random().toString(36).slice(2)}` })
  headers.push({ name: 'call-id', value: o.callId ?? 'call-1@192.0.2.10' })
  headers.push({ name: 'cseq', value: `${o.cseq ?? 1} REGISTER` })
  for (const c of o.contacts ?? [`<sip:${user}@192.0.2.10:5062>`]) headers.push({ name: 'contact', value: c })
  if (o.expires !== undefined) headers.push({ name: 'expires', value: String(o.expires) })
  for (const h of o.extra ?? []) headers.push(h)
  headers.push({ name: 'content-length', value: '0' })
  return new SipRequest('REGISTER', o.requestUri ?? `sip:${DOMAIN}`, headers)
}

export interface Harness {
  scheduler: FakeScheduler
  location: LocationService
  registrar: Registrar
}

/** Registrar with min 60 s, max 3600 s, default 600 s, on a FakeScheduler. */
export function harness(options: { store?: BindingPersistence; scheduler?: FakeScheduler; maxBindingsPerAor?: number } = {}): Harness {
  const scheduler = options.scheduler ?? new FakeScheduler()
  const location = new LocationService({ scheduler, store: options.store ?? null })
  const registrar = new Registrar({
    location,
    local: new LocalAddresses(DOMAIN, ['127.0.0.1', 'localhost', 'sip.patchbay.test']),
    minExpires: 60,
    maxExpires: 3600,
    defaultExpires: 600,
    scheduler,
    maxBindingsPerAor: options.maxBindingsPerAor,
  })
  return { scheduler, location, registrar }
}

/** The Contact values of a response. */
export function contactsOf(res: SipResponse): string[] {
  return res.getAll('contact')
}

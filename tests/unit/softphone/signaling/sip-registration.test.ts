/**
 * SipRegistration on its own: back-off after a transient REGISTER failure, the `online`
 * event, and the order of sign-out (calls end before the un-REGISTER). Real SIP.js against a
 * small scripted registrar: Bun.serve answers /api/client-config and is a SIP-over-WebSocket
 * endpoint (RFC 7118) that challenges REGISTER with Digest (MD5, qop=auth) and answers 200,
 * unless the test queued another answer (e.g. 503) for the next REGISTER.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { PASSWORD, digestAnswer, respond } from './scripted-registrar.ts'
import type { Server } from 'bun'
import { SipRegistration, type SipRegistrationOptions } from '../../../../softphone/src/signaling/sip-registration.ts'
import type { RegistrationState } from '../../../../softphone/src/signaling/signaling-client.ts'

interface Registrar {
  server: Server<unknown>
  origin: string
  /** Every REGISTER received, with its arrival time (ms). */
  registers: { at: number; message: string }[]
  /** Status lines to answer the next REGISTERs with, before the normal Digest exchange. */
  script: string[]
  stop(): void
}

function startRegistrar(port = 0): Registrar {
  const registers: Registrar['registers'] = []
  const script: string[] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port,
    fetch(req, srv) {
      const url = new URL(req.url)
      if (url.pathname === '/sip') {
        return srv.upgrade(req, { headers: { 'Sec-WebSocket-Protocol': 'sip' }, data: undefined }) ? undefined : new Response('no', { status: 400 })
      }
      if (url.pathname === '/api/client-config') {
        return Response.json({ domain: 'patchbay.test', sipWebSocketPath: '/sip', iceServersPath: '/api/ice-servers' })
      }
      return new Response('not found', { status: 404 })
    },
    websocket: {
      message(ws, data) {
        const msg = typeof data === 'string' ? data : new TextDecoder().decode(data)
        if (!msg.startsWith('REGISTER ')) return
        registers.push({ at: Date.now(), message: msg })
        const scripted = script.shift()
        ws.send(scripted ? respond(msg, scripted) : digestAnswer(msg))
      },
    },
  })
  return { server: server as Server<unknown>, origin: `http://127.0.0.1:${server.port}`, registers, script, stop: () => void server.stop(true) }
}

/** Records every state with the time it was reported. */
class StateLog {
  readonly entries: { at: number; state: RegistrationState }[] = []
  private waiters: (() => void)[] = []

  push(state: RegistrationState): void {
    this.entries.push({ at: Date.now(), state })
    for (const wake of this.waiters.splice(0)) wake()
  }

  async next(status: RegistrationState['status'], after = 0, ms = 5000): Promise<{ at: number; state: RegistrationState }> {
    const deadline = Date.now() + ms
    for (;;) {
      const found = this.entries.slice(after).find((e) => e.state.status === status)
      if (found) return found
      if (Date.now() > deadline) throw new Error(`no "${status}" state; got ${JSON.stringify(this.entries.map((e) => e.state))}`)
      await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), Bun.sleep(50)])
    }
  }
}

let registrar: Registrar | undefined
let registration: SipRegistration | undefined

afterEach(async () => {
  registration?.dispose()
  await registration?.unregister()
  registration = undefined
  registrar?.stop()
  registrar = undefined
})

function makeRegistration(origin: string, log: StateLog, extra: Partial<SipRegistrationOptions> = {}): SipRegistration {
  return new SipRegistration({
    instanceId: '3f2c8a4e-1b7d-4c9a-9e21-5d6f7a8b9c0d',
    pageOrigin: origin,
    fetch: (input, init) => fetch(input, init),
    logLevel: 'error',
    random: () => 0, // back-off without jitter: attempt 1 waits 0.8 s
    displayName: () => undefined,
    sessionDescriptionHandlerFactory: () => {
      throw new Error('no sessions in this test')
    },
    rtcConfiguration: () => ({}),
    onState: (state) => log.push(state),
    onInvite: () => undefined,
    beforeDisconnect: async () => undefined,
    ...extra,
  })
}

describe('SipRegistration', () => {
  test('a 503 to REGISTER retries after the back-off (0.8 s for attempt 1), then registers', async () => {
    registrar = startRegistrar()
    registrar.script.push('503 Service Unavailable')
    const log = new StateLog()
    let registeredCalls = 0
    registration = makeRegistration(registrar.origin, log, { onRegistered: () => registeredCalls++ })
    await registration.register({ server: '', user: 'alice', password: PASSWORD })

    const retry = await log.next('reconnecting')
    expect(retry.state).toMatchObject({ reason: 'server-error', statusCode: 503, attempt: 1, message: 'The server is not available (503).' })
    if (retry.state.status !== 'reconnecting') throw new Error('unreachable')
    expect(retry.state.retryAt - retry.at).toBeGreaterThanOrEqual(795)
    expect(retry.state.retryAt - retry.at).toBeLessThanOrEqual(805)

    const registered = await log.next('registered', log.entries.indexOf(retry))
    expect(registered.state).toMatchObject({ status: 'registered', aor: 'sip:alice@patchbay.test' })
    // The retry waited for its time: the next REGISTER went out no earlier than retryAt.
    const retried = registrar.registers[1]!
    expect(retried.at).toBeGreaterThanOrEqual(retry.state.retryAt - 5)
    expect(registrar.registers.length).toBe(3) // 503, then 401 challenge and the answer
    expect(registeredCalls).toBe(1)
    expect(registration.isRegistered).toBe(true)
    expect(registration.iceServerAccount).toEqual({ origin: registrar.origin, path: '/api/ice-servers', user: 'alice', password: PASSWORD })
  })

  test('the `online` event reconnects at once instead of waiting for the back-off', async () => {
    registrar = startRegistrar()
    const port = registrar.server.port
    const network = new EventTarget()
    const log = new StateLog()
    registration = makeRegistration(registrar.origin, log, { networkEvents: network })
    await registration.register({ server: '', user: 'alice', password: PASSWORD })
    await log.next('registered')
    registrar.stop()
    const lost = await log.next('reconnecting')
    expect(lost.state).toMatchObject({ reason: 'unreachable', attempt: 1 })
    registrar = startRegistrar(port)
    network.dispatchEvent(new Event('online'))
    const back = await log.next('registered', log.entries.indexOf(lost))
    if (lost.state.status !== 'reconnecting') throw new Error('unreachable')
    expect(back.at).toBeLessThan(lost.state.retryAt)
  })

  test('signing out ends the calls first, then un-REGISTERs (Expires 0) and goes signed-out', async () => {
    registrar = startRegistrar()
    const log = new StateLog()
    const order: string[] = []
    let callsEndedAt = 0
    registration = makeRegistration(registrar.origin, log, {
      beforeDisconnect: async () => {
        order.push('end calls')
        await Bun.sleep(30)
        callsEndedAt = Date.now()
      },
    })
    await registration.register({ server: '', user: 'alice', password: PASSWORD })
    await log.next('registered')
    const before = registrar.registers.length
    order.length = 0 // register() also ends the calls of a previous sign-in
    await registration.unregister()
    order.push('signed out')
    const unregisters = registrar.registers.slice(before)
    expect(unregisters.length).toBeGreaterThan(0)
    expect(unregisters[0]!.message).toMatch(/expires=0|^Expires:\s*0/im)
    expect(unregisters[0]!.at).toBeGreaterThanOrEqual(callsEndedAt)
    expect(order).toEqual(['end calls', 'signed out'])
    expect(registration.state).toEqual({ status: 'signed-out' })
    expect(registration.userAgent).toBeUndefined()
  })
})

/**
 * NgClient against a fake ng server on 127.0.0.1 (real UDP). Retransmission and timeout
 * timers run on a FakeScheduler: the test waits only for datagrams, never for timers.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { NgClient, NgError } from '../../../../gateway/src/media/rtpengine/ng-client.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import { FakeNgServer, deadPort, echoHandler, until } from './fake-ng-server.ts'

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn()
})

async function setup(handler = echoHandler) {
  const server = await FakeNgServer.start(handler)
  const scheduler = new FakeScheduler()
  const client = new NgClient({ host: '127.0.0.1', port: server.port, scheduler })
  cleanup.push(() => client.close(), () => server.close())
  return { server, scheduler, client }
}

/** Settles `promise` into a value or an error, for assertions after the fact. */
function outcome<T>(promise: Promise<T>): { done: boolean; value?: T; error?: unknown } {
  const state: { done: boolean; value?: T; error?: unknown } = { done: false }
  promise.then(
    (value) => Object.assign(state, { done: true, value }),
    (error) => Object.assign(state, { done: true, error }),
  )
  return state
}

describe('NgClient framing', () => {
  test('a request is "<cookie> <bencoded dict>" with the command in the dict', async () => {
    const { server, client } = await setup()
    await client.request('offer', { 'call-id': 'c1', 'from-tag': 'f1', sdp: 'v=0\r\n', absent: undefined })
    const [request] = server.received
    expect(request!.cookie).toMatch(/^\S+$/)
    expect(request!.dict).toEqual({ command: 'offer', 'call-id': 'c1', 'from-tag': 'f1', sdp: 'v=0\r\n' })
    const text = new TextDecoder().decode(request!.raw)
    expect(text.startsWith(`${request!.cookie} d`)).toBe(true)
  })

  test('ping resolves with the round trip when the reply is pong', async () => {
    const { client } = await setup()
    const rtt = await client.ping()
    expect(rtt).toBeGreaterThanOrEqual(0)
  })

  test('ping with a result other than pong is a bad reply', async () => {
    const { client } = await setup(() => ({ result: 'ok' }))
    const error = await client.ping().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NgError)
    expect((error as NgError).kind).toBe('bad-reply')
  })
})

describe('NgClient cookie matching', () => {
  test('replies in reverse order reach the request with the same cookie', async () => {
    const held: Array<() => void> = []
    const { server, client } = await setup((request, srv) => {
      // Answer nothing now; answer both later, second request first.
      held.push(() => {
        const reply = `${request.cookie} d4:call${String(request.dict['call-id']).length}:${request.dict['call-id']}6:result2:oke`
        srv.sendRaw(reply, srv.lastFrom!.port)
      })
      return null
    })
    const first = client.request('query', { 'call-id': 'one' })
    const second = client.request('query', { 'call-id': 'two' })
    await until(() => server.received.length === 2, 2_000, 'two requests')
    expect(server.received[0]!.cookie).not.toBe(server.received[1]!.cookie)
    held[1]!()
    held[0]!()
    expect((await first).call).toBe('one')
    expect((await second).call).toBe('two')
  })

  test('a reply with an unknown cookie is ignored', async () => {
    const { server, client } = await setup((request, srv) => {
      srv.sendRaw('nosuchcookie d6:result2:oke', srv.lastFrom!.port)
      srv.sendRaw(`${request.cookie} d6:result2:ok4:mark3:yese`, srv.lastFrom!.port)
      return null
    })
    const reply = await client.request('list')
    expect(reply.mark).toBe('yes')
    expect(server.received).toHaveLength(1)
  })
})

describe('NgClient retransmission and timeout', () => {
  test('resends with the same cookie every 500 ms until a reply comes', async () => {
    let drops = 2
    const { server, scheduler, client } = await setup((request) => (drops-- > 0 ? null : { result: 'ok', n: server.received.length }))
    const state = outcome(client.request('offer', { 'call-id': 'c1' }))
    await until(() => server.received.length === 1, 2_000, 'first send')
    scheduler.advance(499)
    await Bun.sleep(20)
    expect(server.received).toHaveLength(1)
    scheduler.advance(1)
    await until(() => server.received.length === 2, 2_000, 'second send')
    scheduler.advance(500)
    await until(() => state.done, 2_000, 'the reply')
    expect(server.received).toHaveLength(3)
    expect(new Set(server.received.map((r) => r.cookie)).size).toBe(1)
    expect(server.received[2]!.raw).toEqual(server.received[0]!.raw)
    expect(state.value?.n).toBe(3)
    expect(client.pendingCount).toBe(0)
    expect(scheduler.pendingCount).toBe(0)
  })

  test('no reply after 3 sends rejects with kind timeout', async () => {
    const { server, scheduler, client } = await setup(() => null)
    const state = outcome(client.request('offer', { 'call-id': 'c1' }))
    for (let send = 1; send <= 3; send++) {
      await until(() => server.received.length === send, 2_000, `send ${send}`)
      expect(state.done).toBe(false)
      scheduler.advance(500)
    }
    await until(() => state.done, 2_000, 'the rejection')
    expect(server.received).toHaveLength(3)
    expect(state.error).toBeInstanceOf(NgError)
    expect((state.error as NgError).kind).toBe('timeout')
    expect((state.error as NgError).instanceDown).toBe(true)
    expect(client.pendingCount).toBe(0)
  })

  test('tries and retransmitMs are configurable', async () => {
    const server = await FakeNgServer.start(() => null)
    const scheduler = new FakeScheduler()
    const client = new NgClient({ host: '127.0.0.1', port: server.port, scheduler, tries: 1, retransmitMs: 100 })
    cleanup.push(() => client.close(), () => server.close())
    const state = outcome(client.ping())
    await until(() => server.received.length === 1, 2_000, 'the send')
    scheduler.advance(100)
    await until(() => state.done, 2_000, 'the rejection')
    expect((state.error as NgError).kind).toBe('timeout')
    expect(server.received).toHaveLength(1)
  })
})

describe('NgClient error replies', () => {
  test('result error rejects with the error-reason', async () => {
    const { client } = await setup(() => ({ result: 'error', 'error-reason': 'Unknown call-id' }))
    const error = await client.request('query', { 'call-id': 'nope' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NgError)
    expect((error as NgError).kind).toBe('error-reply')
    expect((error as NgError).message).toBe('Unknown call-id')
    expect((error as NgError).instanceDown).toBe(false)
  })

  test('result ok with a warning still resolves', async () => {
    const { client } = await setup(() => ({ result: 'ok', warning: 'Call-ID not found or tags didn\'t match' }))
    const reply = await client.request('delete', { 'call-id': 'x', 'from-tag': 'y' })
    expect(reply.result).toBe('ok')
  })

  test('an unreadable reply rejects with kind bad-reply', async () => {
    const { client } = await setup((request, srv) => {
      srv.sendRaw(`${request.cookie} d6:result`, srv.lastFrom!.port)
      return null
    })
    const error = await client.request('list').catch((e: unknown) => e)
    expect((error as NgError).kind).toBe('bad-reply')
  })

  test('a reply without a known result rejects with kind bad-reply', async () => {
    const { client } = await setup(() => ({ result: 'load limit' }))
    const error = await client.request('offer').catch((e: unknown) => e)
    expect((error as NgError).kind).toBe('bad-reply')
  })
})

describe('NgClient instance down', () => {
  test('ICMP port unreachable (nothing listens) rejects with kind refused, without waiting for timers', async () => {
    const port = await deadPort()
    const scheduler = new FakeScheduler()
    const client = new NgClient({ host: '127.0.0.1', port, scheduler })
    cleanup.push(() => client.close())
    const error = await client.ping().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(NgError)
    expect((error as NgError).kind).toBe('refused')
    expect((error as NgError).instanceDown).toBe(true)
    // A second request on the same socket: send() may throw ECONNREFUSED for the pending
    // ICMP error, or the error handler reports it; either way the request fails as refused.
    const again = await client.request('ping').catch((e: unknown) => e)
    expect((again as NgError).kind).toBe('refused')
  })

  test('close rejects pending requests with kind closed and refuses new ones', async () => {
    const { server, client } = await setup(() => null)
    const pending = client.request('offer').catch((e: unknown) => e)
    await until(() => server.received.length === 1, 2_000, 'the send')
    await client.close()
    expect(((await pending) as NgError).kind).toBe('closed')
    const late = await client.request('ping').catch((e: unknown) => e)
    expect((late as NgError).kind).toBe('closed')
  })
})

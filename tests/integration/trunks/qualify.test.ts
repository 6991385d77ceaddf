/**
 * OPTIONS qualify (TrunkQualifier) through the gateway's transaction layer against a real
 * Kamailio answering OPTIONS, and against a UDP port where nothing answers.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startGateway, testConfig, type RunningGateway } from '../../support/gateway.ts'
import { PeerSet } from '../../support/processes.ts'
import { freeUdpPort, LOOPBACK } from '../../support/ports.ts'
import { startKamailioRegistrar, waitUntil, type KamailioRegistrar } from '../../support/kamailio-registrar.ts'
import { TrunkQualifier, type QualifyState, type TrunkQualifierOptions } from '../../../gateway/src/sip/trunks/qualify.ts'
import type { TrunkStatus } from '../../../gateway/src/sip/trunks/trunk-status.ts'
import { RealScheduler } from '../../../gateway/src/base/scheduler.ts'

const peers = new PeerSet()
let gw: RunningGateway
let kam: KamailioRegistrar
const qualifiers: TrunkQualifier[] = []

beforeAll(async () => {
  gw = await startGateway(testConfig({}, { shortTimers: true }))
  kam = await startKamailioRegistrar(peers, { username: '1001', password: 'x' })
})

afterAll(async () => {
  for (const q of qualifiers) q.stop()
  await kam?.close()
  await peers.killAll()
  await gw?.stop()
})

function qualifier(port: number, over: Partial<TrunkQualifierOptions> = {}) {
  const changes: Array<{ status: TrunkStatus; previous: QualifyState }> = []
  const transport = gw.internals.transport
  const q = new TrunkQualifier({
    name: 'pbx', transactions: gw.internals.transactions, scheduler: new RealScheduler(),
    destination: { transport: 'UDP', address: LOOPBACK, port },
    sentBy: (t) => transport.sentBy(t),
    requestUri: `sip:${LOOPBACK}:${port}`, fromUri: 'sip:patchbay@patchbay.test',
    intervalSeconds: 0.5, failuresBeforeDown: 2, timeoutMs: 400,
    onChange: (status, previous) => changes.push({ status, previous }),
    ...over,
  })
  qualifiers.push(q)
  return { q, changes }
}

describe('OPTIONS qualify', () => {
  test('Kamailio answers 200: up with a round-trip time; probes keep going every interval', async () => {
    const before = kam.optionsReceived()
    const { q, changes } = qualifier(kam.port)
    expect(q.state).toBe('unknown')
    q.start()
    await waitUntil('up', () => q.state === 'up', 5_000)
    expect(q.status).toMatchObject({ state: 'up', lastStatus: 200 })
    expect(q.status.rttMs).toBeGreaterThanOrEqual(0)
    expect(q.status.rttMs).toBeLessThan(400)
    expect(changes.map((c) => [c.previous, c.status.state])).toEqual([['unknown', 'up']])
    await waitUntil('three OPTIONS at Kamailio', () => kam.optionsReceived() - before >= 3, 5_000)
    expect(q.state).toBe('up')
    q.stop()
  }, 20_000)

  test('Kamailio answers 404 (unknown Request-URI user): still up — it answered', async () => {
    const { q } = qualifier(kam.port, { requestUri: `sip:nobody@${LOOPBACK}:${kam.port}` })
    q.start()
    await waitUntil('up', () => q.state === 'up', 5_000)
    expect(q.status).toMatchObject({ state: 'up', lastStatus: 404 })
    q.stop()
  }, 20_000)

  test('a dead port: unknown after one unanswered OPTIONS, down after K = 2', async () => {
    const dead = await freeUdpPort()
    const { q, changes } = qualifier(dead)
    q.start()
    await waitUntil('one failure', () => q.consecutiveFailures >= 1, 5_000)
    expect(q.state).toBe('unknown')
    await waitUntil('down', () => q.state === 'down', 5_000)
    expect(q.consecutiveFailures).toBe(2)
    expect(q.status).toMatchObject({ state: 'down' })
    expect([408, 503]).toContain(q.status.lastStatus!)
    expect(changes.map((c) => [c.previous, c.status.state])).toEqual([['unknown', 'down']])
    q.stop()
  }, 20_000)

  test('a peer that answers every OPTIONS with garbage is down (the parser drops what it cannot read)', async () => {
    let received = 0
    const garbage = await Bun.udpSocket({
      hostname: LOOPBACK,
      socket: {
        data(sock, _buf, port, address) {
          received++
          sock.send('SIP/2.0 2OO NOT A STATUS\r\nVia: ???\r\n\r\n', port, address)
        },
      },
    })
    try {
      const { q } = qualifier(garbage.port)
      q.start()
      await waitUntil('down', () => q.state === 'down', 5_000)
      expect(received).toBeGreaterThanOrEqual(2)
      expect(q.status.lastStatus).toBe(408)
      q.stop()
    } finally {
      garbage.close()
    }
  }, 20_000)

  test('Kamailio stopped: down; started again: up', async () => {
    const { q, changes } = qualifier(kam.port)
    q.start()
    await waitUntil('up', () => q.state === 'up', 5_000)
    await kam.stop()
    await waitUntil('down', () => q.state === 'down', 10_000)
    await kam.start()
    await waitUntil('up again', () => q.state === 'up', 10_000)
    expect(changes.map((c) => c.status.state)).toEqual(['up', 'down', 'up'])
    q.stop()
  }, 30_000)
})

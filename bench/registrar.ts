/**
 * Registrar throughput: Registrar.handleRegister on pre-built REGISTER requests.
 *
 *   bun bench/registrar.ts [users=20000] [rounds=3]
 *
 * For each store configuration (none, sqlite ":memory:", sqlite file in WAL mode) and each
 * workload (UDP desk phones; browsers on WSS with +sip.instance/reg-id), `users` AORs register
 * once (round 1: bindings added) and then refresh `rounds - 1` times (same Call-ID, CSeq + 1).
 * Requests are built before timing, one per REGISTER, by parseMessage from wire bytes (so the
 * To/CSeq views are primed as in the gateway). They are handed over in batches of 100 per event-loop turn
 * (as a socket delivers them), so the store's per-turn batched commit runs inside the timed
 * region. Digest authentication is not included (it runs before the registrar).
 *
 * Prints a table and writes bench/results/registrar.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { SipRequest } from '../gateway/src/sip/message/sip-message.ts'
import { parseMessage } from '../gateway/src/sip/parser/message-parser.ts'
import { LocationService } from '../gateway/src/sip/registrar/location-service.ts'
import { Registrar } from '../gateway/src/sip/registrar/registrar.ts'
import { RealScheduler } from '../gateway/src/base/scheduler.ts'
import type { Flow, TransportProtocol } from '../gateway/src/sip/transport/flow.ts'
import { BindingStore } from '../gateway/src/store/binding-store.ts'
import { openDatabase } from '../gateway/src/store/database.ts'
import { LocalAddresses } from '../gateway/src/base/local-addresses.ts'

const USERS = Number(process.argv[2] ?? 20000)
const ROUNDS = Number(process.argv[3] ?? 3)
const BATCH = 100
const DOMAIN = 'patchbay.test'

type Workload = 'udp' | 'wss-outbound'
type StoreKind = 'none' | 'sqlite-memory' | 'sqlite-file'

function flowFor(i: number, transport: TransportProtocol): Flow {
  const reliable = transport !== 'UDP'
  const remoteAddress = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
  return {
    id: reliable ? `wss-${i}` : `udp-${remoteAddress}:5060`,
    transport, reliable, secure: transport === 'WSS',
    localAddress: '127.0.0.1', localPort: 5060, remoteAddress, remotePort: 5060 + (i % 1000), open: true,
    send: () => true, close: () => {},
  }
}

const encoder = new TextEncoder()

/** A REGISTER as bytes on the wire, parsed by parseMessage (as the transport would). */
function buildRequest(workload: Workload, i: number, cseq: number): SipRequest {
  const user = `u${i}`
  const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`
  const lines = workload === 'udp'
    ? [
      'REGISTER sip:patchbay.test SIP/2.0',
      `Via: SIP/2.0/UDP ${ip}:5060;branch=z9hG4bK${i}x${cseq};rport`,
      'Max-Forwards: 70',
      `To: <sip:${user}@${DOMAIN}>`,
      `From: <sip:${user}@${DOMAIN}>;tag=f${i}`,
      `Call-ID: reg-${i}@${ip}`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:${user}@${ip}:5060;transport=udp>`,
      'Expires: 600',
      'User-Agent: DeskPhone/1.0',
      'Content-Length: 0',
    ]
    : [
      'REGISTER sip:patchbay.test SIP/2.0',
      `Via: SIP/2.0/WSS r${i}.invalid;branch=z9hG4bK${i}x${cseq}`,
      'Max-Forwards: 70',
      `To: <sip:${user}@${DOMAIN}>`,
      `From: "User ${i}" <sip:${user}@${DOMAIN}>;tag=f${i}`,
      `Call-ID: reg-${i}@browser`,
      `CSeq: ${cseq} REGISTER`,
      `Contact: <sip:${user}x@r${i}.invalid;transport=ws;ob>;+sip.instance="<urn:uuid:00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}>";reg-id=1;expires=600`,
      'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY',
      'Supported: path,gruu,outbound',
      'User-Agent: SIP.js/0.21.2',
      'Content-Length: 0',
    ]
  const parsed = parseMessage(encoder.encode(lines.join('\r\n') + '\r\n\r\n'))
  if (!parsed.ok) throw new Error(`bench request did not parse: ${'reason' in parsed ? parsed.reason : 'incomplete'}`)
  if (parsed.message.kind !== 'request') throw new Error('bench request parsed as a response')
  return parsed.message
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

interface Row {
  workload: Workload
  store: StoreKind
  round: 'initial' | 'refresh'
  requests: number
  seconds: number
  perSecond: number
  microsPerRequest: number
  /** Time inside handleRegister only (store commits excluded), µs per request. */
  handleMicros: number
  /** CPU time of the process (all threads, GC included) per request, µs: less sensitive than
   *  wall time to other processes on a shared machine. */
  cpuMicros: number
}

async function runConfig(workload: Workload, storeKind: StoreKind): Promise<Row[]> {
  const scheduler = new RealScheduler()
  let dir: string | null = null
  let db = null as ReturnType<typeof openDatabase> | null
  let store: BindingStore | null = null
  if (storeKind !== 'none') {
    if (storeKind === 'sqlite-file') dir = mkdtempSync(join(tmpdir(), 'patchbay-bench-'))
    db = openDatabase(dir !== null ? join(dir, 'bench.sqlite') : ':memory:')
    store = new BindingStore(db)
  }
  const location = new LocationService({ scheduler, store })
  const registrar = new Registrar({
    location, local: new LocalAddresses(DOMAIN, ['127.0.0.1']), scheduler,
    minExpires: 60, maxExpires: 3600, defaultExpires: 600,
  })
  const transport: TransportProtocol = workload === 'udp' ? 'UDP' : 'WSS'
  const flows = Array.from({ length: USERS }, (_, i) => flowFor(i, transport))
  const rows: Row[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    const requests = Array.from({ length: USERS }, (_, i) => buildRequest(workload, i, round))
    Bun.gc(true)
    let handleNs = 0
    const cpu0 = process.cpuUsage()
    const t0 = Bun.nanoseconds()
    for (let start = 0; start < USERS; start += BATCH) {
      const end = Math.min(USERS, start + BATCH)
      const h0 = Bun.nanoseconds()
      for (let i = start; i < end; i++) {
        const res = registrar.handleRegister(requests[i]!, flows[i]!, `u${i}`)
        if (res.status !== 200) throw new Error(`unexpected ${res.status} ${res.reason}`)
      }
      handleNs += Bun.nanoseconds() - h0
      await nextTurn() // the store's batch for this turn commits here
    }
    store?.flush()
    const seconds = (Bun.nanoseconds() - t0) / 1e9
    const cpu = process.cpuUsage(cpu0)
    const n = USERS
    rows.push({
      workload, store: storeKind, round: round === 1 ? 'initial' : 'refresh', requests: n, seconds,
      perSecond: Math.round(n / seconds), microsPerRequest: (seconds * 1e6) / n, handleMicros: handleNs / 1e3 / n,
      cpuMicros: (cpu.user + cpu.system) / n,
    })
  }
  if (location.size !== USERS) throw new Error(`expected ${USERS} bindings, got ${location.size}`)
  if (db !== null) {
    const stored = (db.query('SELECT COUNT(*) AS n FROM bindings').get() as { n: number }).n
    if (stored !== USERS) throw new Error(`expected ${USERS} stored rows, got ${stored}`)
  }
  location.close()
  db?.close()
  if (dir !== null) rmSync(dir, { recursive: true, force: true })
  return rows
}

// Warm-up (not recorded): lets the JIT compile the registrar path before the first measurement.
await runConfig('udp', 'none')
await runConfig('wss-outbound', 'sqlite-memory')

const all: Row[] = []
for (const workload of ['udp', 'wss-outbound'] as const) {
  for (const store of ['none', 'sqlite-memory', 'sqlite-file'] as const) {
    all.push(...(await runConfig(workload, store)))
  }
}

// Refresh rounds averaged per configuration; the initial round shown separately.
const summary: Array<Record<string, string | number>> = []
for (const workload of ['udp', 'wss-outbound'] as const) {
  for (const store of ['none', 'sqlite-memory', 'sqlite-file'] as const) {
    for (const round of ['initial', 'refresh'] as const) {
      const rs = all.filter((r) => r.workload === workload && r.store === store && r.round === round)
      if (rs.length === 0) continue
      const req = rs.reduce((a, r) => a + r.requests, 0)
      const sec = rs.reduce((a, r) => a + r.seconds, 0)
      const handle = rs.reduce((a, r) => a + r.handleMicros * r.requests, 0) / req
      const cpu = rs.reduce((a, r) => a + r.cpuMicros * r.requests, 0) / req
      summary.push({
        workload, store, round, requests: req,
        'REGISTER/s': Math.round(req / sec),
        'µs/REGISTER': Number(((sec * 1e6) / req).toFixed(2)),
        'µs in handleRegister': Number(handle.toFixed(2)),
        'CPU µs/REGISTER': Number(cpu.toFixed(2)),
      })
    }
  }
}
console.table(summary)

mkdirSync(join(import.meta.dir, 'results'), { recursive: true })
const out = {
  benchmark: 'registrar.handleRegister',
  date: new Date().toISOString(),
  bun: Bun.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  loadAverageAtEnd: loadavg(),
  users: USERS,
  rounds: ROUNDS,
  batchPerTurn: BATCH,
  summary,
  runs: all,
}
writeFileSync(join(import.meta.dir, 'results', 'registrar.json'), JSON.stringify(out, null, 2) + '\n')
console.log(`wrote ${join('bench', 'results', 'registrar.json')}`)

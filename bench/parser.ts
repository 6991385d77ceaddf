/**
 * Benchmark: SIP wire parser and serializer throughput (targets: parse >= 150,000 msgs/s for
 * a typical INVITE on one Bun thread; serialize similar).
 *
 *   bun bench/parser.ts [ITERATIONS]
 *
 * Messages: an INVITE with SDP as a proxy receives it (2 Vias, Record-Route, Allow,
 * Supported...), its 200 OK with an SDP answer, the ACK, and a REGISTER with Authorization.
 * For each: parse (datagram mode, bytes -> SipRequest/SipResponse with the top Via, From,
 * To and CSeq parsed), serialize (message -> bytes), and both in a row. Each measurement
 * runs ROUNDS rounds of ITERATIONS/ROUNDS calls (default 200,000 in all) after a warm-up,
 * and reports the median round (the machine is shared: single runs are noisy).
 * Prints a table and writes bench/results/parser.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { parseMessage } from '../gateway/src/sip/parser/message-parser.ts'
import { serializeMessage } from '../gateway/src/sip/message/serialize.ts'
import type { SipMessage } from '../gateway/src/sip/message/sip-message.ts'

const TARGET_PARSE_PER_SECOND = 150_000
const iterations = Number(process.argv[2] ?? 200_000)

const SDP_OFFER =
  'v=0\r\n' +
  'o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n' +
  's=-\r\n' +
  'c=IN IP4 192.0.2.101\r\n' +
  't=0 0\r\n' +
  'm=audio 49172 RTP/AVP 0 8 101\r\n' +
  'a=rtpmap:0 PCMU/8000\r\n' +
  'a=rtpmap:8 PCMA/8000\r\n' +
  'a=rtpmap:101 telephone-event/8000\r\n' +
  'a=fmtp:101 0-16\r\n' +
  'a=ptime:20\r\n' +
  'a=sendrecv\r\n'
const SDP_ANSWER = SDP_OFFER.replace(/alice/g, 'bob').replace(/192\.0\.2\.101/g, '192.0.2.202').replace('49172', '3456')
const len = (s: string): number => new TextEncoder().encode(s).length

const MESSAGES: Record<string, string> = {
  'INVITE (SDP)':
    'INVITE sip:bob@biloxi.example.com SIP/2.0\r\n' +
    'Via: SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK2d4790.1;received=192.0.2.10\r\n' +
    'Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bf9;rport=5060;received=192.0.2.101\r\n' +
    'Max-Forwards: 69\r\n' +
    'Record-Route: <sip:proxy.atlanta.example.com;lr>\r\n' +
    'To: Bob <sip:bob@biloxi.example.com>\r\n' +
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n' +
    'Call-ID: 3848276298220188511@atlanta.example.com\r\n' +
    'CSeq: 1 INVITE\r\n' +
    'Contact: <sip:alice@192.0.2.101:5060;transport=udp>\r\n' +
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE, INFO, UPDATE\r\n' +
    'Supported: replaces, timer\r\n' +
    'User-Agent: Patchbay-Bench/1.0\r\n' +
    'Content-Type: application/sdp\r\n' +
    `Content-Length: ${len(SDP_OFFER)}\r\n` +
    '\r\n' +
    SDP_OFFER,
  '200 OK (SDP)':
    'SIP/2.0 200 OK\r\n' +
    'Via: SIP/2.0/UDP proxy.atlanta.example.com:5060;branch=z9hG4bK2d4790.1;received=192.0.2.10\r\n' +
    'Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bf9;rport=5060;received=192.0.2.101\r\n' +
    'Record-Route: <sip:proxy.atlanta.example.com;lr>\r\n' +
    'To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n' +
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n' +
    'Call-ID: 3848276298220188511@atlanta.example.com\r\n' +
    'CSeq: 1 INVITE\r\n' +
    'Contact: <sip:bob@192.0.2.202:5060;transport=udp>\r\n' +
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE\r\n' +
    'Content-Type: application/sdp\r\n' +
    `Content-Length: ${len(SDP_ANSWER)}\r\n` +
    '\r\n' +
    SDP_ANSWER,
  ACK:
    'ACK sip:bob@192.0.2.202:5060;transport=udp SIP/2.0\r\n' +
    'Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bfa;rport\r\n' +
    'Max-Forwards: 70\r\n' +
    'Route: <sip:proxy.atlanta.example.com;lr>\r\n' +
    'To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n' +
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n' +
    'Call-ID: 3848276298220188511@atlanta.example.com\r\n' +
    'CSeq: 1 ACK\r\n' +
    'Content-Length: 0\r\n' +
    '\r\n',
  'REGISTER (Authorization)':
    'REGISTER sip:patchbay.example.com SIP/2.0\r\n' +
    'Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK3840167;rport\r\n' +
    'Max-Forwards: 70\r\n' +
    'To: <sip:alice@patchbay.example.com>\r\n' +
    'From: "Alice" <sip:alice@patchbay.example.com>;tag=8ej2d0n2qm\r\n' +
    'Call-ID: 5lhqq6n6gk7bm2r0ac0t3c\r\n' +
    'CSeq: 2 REGISTER\r\n' +
    'Authorization: Digest algorithm=MD5, username="alice", realm="patchbay.example.com", ' +
    'nonce="1700000000.0d6f1c3e9a1b2c3d4e5f60718293a4b5", uri="sip:patchbay.example.com", ' +
    'response="6629fae49393a05397450978507c4ef1", qop=auth, cnonce="h1k6ft8ebu0r", nc=00000001, opaque="x"\r\n' +
    'Contact: <sip:k3l2m1@df7jal23ls0d.invalid;transport=ws>;+sip.ice;reg-id=1;' +
    '+sip.instance="<urn:uuid:8f1a3b7c-2d4e-4f60-9a1b-2c3d4e5f6071>";expires=600\r\n' +
    'Expires: 600\r\n' +
    'Allow: INVITE, ACK, CANCEL, BYE, UPDATE, MESSAGE, OPTIONS, REFER, INFO, NOTIFY\r\n' +
    'Supported: path, gruu, outbound\r\n' +
    'User-Agent: SIP.js/0.21.2\r\n' +
    'Content-Length: 0\r\n' +
    '\r\n',
}

interface Row {
  message: string
  bytes: number
  parsePerSecond: number
  parseMicros: number
  serializePerSecond: number
  serializeMicros: number
  roundTripPerSecond: number
  roundTripMicros: number
  /** Best round, µs per call (parse, serialize, both). */
  best: { parseMicros: number; serializeMicros: number; roundTripMicros: number }
}

let sink = 0

const ROUNDS = 5

/** Seconds for `n` calls of `fn`: the median of ROUNDS rounds, scaled to n (best round in `bestMicros`). */
function time(n: number, fn: () => void): number {
  const warm = Math.max(1, Math.floor(n / 10))
  for (let i = 0; i < warm; i++) fn()
  const per = Math.max(1, Math.floor(n / ROUNDS))
  const rounds: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = Bun.nanoseconds()
    for (let i = 0; i < per; i++) fn()
    rounds.push((Bun.nanoseconds() - t0) / per)
  }
  rounds.sort((a, b) => a - b)
  bestMicros = rounds[0]! / 1000
  return (rounds[Math.floor(ROUNDS / 2)]! * n) / 1e9
}
let bestMicros = 0

const rows: Row[] = []
for (const [name, text] of Object.entries(MESSAGES)) {
  const data = new TextEncoder().encode(text)
  const first = parseMessage(data)
  if (!first.ok) throw new Error(`${name} does not parse: ${JSON.stringify(first)}`)
  const msg: SipMessage = first.message
  const tParse = time(iterations, () => {
    const r = parseMessage(data)
    if (r.ok) sink += r.consumed
  })
  const bestParse = bestMicros
  const tSer = time(iterations, () => {
    sink += serializeMessage(msg).length
  })
  const bestSer = bestMicros
  const tBoth = time(iterations, () => {
    const r = parseMessage(data)
    if (r.ok) sink += serializeMessage(r.message).length
  })
  const bestBoth = bestMicros
  rows.push({
    message: name,
    bytes: data.length,
    parsePerSecond: Math.round(iterations / tParse),
    parseMicros: (tParse * 1e6) / iterations,
    serializePerSecond: Math.round(iterations / tSer),
    serializeMicros: (tSer * 1e6) / iterations,
    roundTripPerSecond: Math.round(iterations / tBoth),
    roundTripMicros: (tBoth * 1e6) / iterations,
    best: { parseMicros: bestParse, serializeMicros: bestSer, roundTripMicros: bestBoth },
  })
}

const fmt = (n: number): string => n.toLocaleString('en-US')
console.log(`SIP parser/serializer, ${fmt(iterations)} iterations each (median of ${ROUNDS} rounds), Bun ${Bun.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, load ${loadavg()[0]!.toFixed(2)}`)
console.log(
  ['message'.padEnd(26), 'bytes'.padStart(6), 'parse/s'.padStart(11), 'µs'.padStart(6), 'serialize/s'.padStart(12), 'µs'.padStart(6),
    'parse+ser/s'.padStart(12), 'µs'.padStart(6)].join(' '),
)
for (const r of rows) {
  console.log(
    [r.message.padEnd(26), String(r.bytes).padStart(6), fmt(r.parsePerSecond).padStart(11), r.parseMicros.toFixed(2).padStart(6),
      fmt(r.serializePerSecond).padStart(12), r.serializeMicros.toFixed(2).padStart(6), fmt(r.roundTripPerSecond).padStart(12),
      r.roundTripMicros.toFixed(2).padStart(6)].join(' '),
  )
}
console.log(`best rounds, µs parse/serialize/both: ${rows.map((r) => `${r.message} ${r.best.parseMicros.toFixed(2)}/${r.best.serializeMicros.toFixed(2)}/${r.best.roundTripMicros.toFixed(2)}`).join('; ')}`)
const invite = rows[0]!
const pass = invite.parsePerSecond >= TARGET_PARSE_PER_SECOND
console.log(`INVITE parse: ${fmt(invite.parsePerSecond)}/s (target ${fmt(TARGET_PARSE_PER_SECOND)}/s) ${pass ? 'PASS' : 'BELOW TARGET'}`)

const outDir = join(import.meta.dir, 'results')
mkdirSync(outDir, { recursive: true })
writeFileSync(
  join(outDir, 'parser.json'),
  JSON.stringify(
    {
      benchmark: 'parser',
      date: new Date().toISOString(),
      bun: Bun.version,
      cpu: cpus()[0]?.model ?? null,
      cores: cpus().length,
      loadAverage: loadavg(),
      iterations,
      rounds: ROUNDS,
      targetParsePerSecond: TARGET_PARSE_PER_SECOND,
      pass,
      rows,
      sink: sink > 0,
    },
    null,
    2,
  ) + '\n',
)

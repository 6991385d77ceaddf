/**
 * Benchmark: DigestAuthenticator.verify() of valid MD5 credentials (target >= 100,000/s).
 *
 *   bun bench/digest.ts [COUNT]
 *
 * Each verify parses the Authorization value, checks the nonce's HMAC and age, looks the
 * user up, computes HA2 and the expected response (two MD5s), compares, and records the
 * nonce-count. Authorization values are prepared beforehand (a client's work, not timed),
 * 1,000 per nonce with increasing nc, so every one is a fresh, valid request.
 * Prints the rate and writes bench/results/digest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DigestAuthenticator } from '../gateway/src/sip/auth/digest-authenticator.ts'
import { digestResponse, ha1 } from '../gateway/src/sip/auth/digest.ts'
import { parseCredentials } from '../gateway/src/sip/auth/parse-credentials.ts'
import { SipRequest } from '../gateway/src/sip/message/sip-message.ts'
import { RealScheduler } from '../gateway/src/base/scheduler.ts'
import type { UserEntry } from '../gateway/src/config/schema.ts'

const REALM = 'patchbay.test'
const TARGET_PER_SECOND = 100_000
const count = Number(process.argv[2] ?? 300_000)
const PER_NONCE = 1_000

const users = new Map<string, UserEntry>()
for (let i = 0; i < 1000; i++) {
  const name = `user${i}`
  users.set(name, { username: name, ha1: ha1('MD5', name, REALM, `pw${i}`), ha1Sha256: ha1('SHA-256', name, REALM, `pw${i}`) })
}

const auth = new DigestAuthenticator({
  realm: REALM,
  lookupUser: (u) => users.get(u),
  scheduler: new RealScheduler(),
  nonceLifetime: 300,
  algorithms: ['SHA-256', 'MD5'],
})

const request = new SipRequest('REGISTER', 'sip:patchbay.test', [
  { name: 'via', value: 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-bench' },
  { name: 'from', value: '<sip:user1@patchbay.test>;tag=b1' },
  { name: 'to', value: '<sip:user1@patchbay.test>' },
  { name: 'call-id', value: 'bench@127.0.0.1' },
  { name: 'cseq', value: '1 REGISTER' },
  { name: 'max-forwards', value: '70' },
  { name: 'contact', value: '<sip:user1@127.0.0.1:5070>' },
  { name: 'authorization', value: '' },
])
const authIndex = request.headers.findIndex((h) => h.name === 'authorization')

// Prepare the client side.
const values: string[] = new Array(count)
let nonce = ''
let user = 'user0'
let pw = 'pw0'
for (let i = 0; i < count; i++) {
  if (i % PER_NONCE === 0) {
    const challenge = auth.challenge(request, { proxy: false }).getAll('www-authenticate').find((v) => v.includes('algorithm=MD5'))!
    nonce = parseCredentials(challenge)!.nonce!
    const u = (i / PER_NONCE) % users.size
    user = `user${u}`
    pw = `pw${u}`
  }
  const nc = ((i % PER_NONCE) + 1).toString(16).padStart(8, '0')
  const cnonce = `c${i}`
  const response = digestResponse({
    algorithm: 'MD5', ha1: ha1('MD5', user, REALM, pw), nonce, nc, cnonce, qop: 'auth', method: 'REGISTER', uri: 'sip:patchbay.test',
  })
  values[i] = `Digest username="${user}", realm="${REALM}", nonce="${nonce}", uri="sip:patchbay.test", response="${response}", algorithm=MD5, cnonce="${cnonce}", opaque="x", qop=auth, nc=${nc}`
}

// Warm up on a separate authenticator-independent pass is not possible (counts are single-use):
// the first 5% of the run is the warm-up and is not timed.
const warm = Math.floor(count * 0.05)
let failures = 0
for (let i = 0; i < warm; i++) {
  request.headers[authIndex] = { name: 'authorization', value: values[i]! }
  if (!auth.verify(request, { proxy: false }).ok) failures++
}
const start = performance.now()
for (let i = warm; i < count; i++) {
  request.headers[authIndex] = { name: 'authorization', value: values[i]! }
  if (!auth.verify(request, { proxy: false }).ok) failures++
}
const seconds = (performance.now() - start) / 1000
const timed = count - warm
const perSecond = Math.round(timed / seconds)

const result = {
  benchmark: 'digest-verify-md5',
  verifies: timed,
  seconds: Number(seconds.toFixed(3)),
  perSecond,
  microsecondsEach: Number(((seconds * 1e6) / timed).toFixed(2)),
  failures,
  target: TARGET_PER_SECOND,
  pass: failures === 0 && perSecond >= TARGET_PER_SECOND,
  bun: Bun.version,
  date: new Date().toISOString(),
}
console.log(`digest verify (MD5, valid): ${perSecond.toLocaleString('en-US')}/s (${result.microsecondsEach} µs each), failures ${failures}, target ${TARGET_PER_SECOND.toLocaleString('en-US')}/s: ${result.pass ? 'PASS' : 'FAIL'}`)
const dir = join(import.meta.dir, 'results')
mkdirSync(dir, { recursive: true })
writeFileSync(join(dir, 'digest.json'), JSON.stringify(result, null, 2) + '\n')
if (!result.pass) process.exitCode = 1

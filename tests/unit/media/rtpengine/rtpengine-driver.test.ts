/**
 * RtpengineDriver against fake ng servers (real UDP on 127.0.0.1, FakeScheduler timers):
 * the ng dictionaries it sends, instance selection (Call-ID hash stickiness, dead instances
 * skipped and re-probed, all dead -> 503), the SDP checks (no common codec -> 488) and
 * repairs (BUNDLE group, public address), and session counting.
 */
import { afterEach, describe, expect, test } from 'bun:test'
import { parse } from 'sdp-transform'
import type { Logger } from '../../../../gateway/src/base/log.ts'
import { MediaError } from '../../../../gateway/src/media/media-driver.ts'
import { RtpengineDriver, type RtpengineDriverOptions } from '../../../../gateway/src/media/rtpengine/rtpengine-driver.ts'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import { FakeNgServer, echoHandler, until, type NgHandler } from './fake-ng-server.ts'

const WEBRTC_OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111 0 8 126',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:Hq7v',
  'a=ice-pwd:H6bGu2WmJ+Kp0nB3qT7vL1xZ',
  'a=fingerprint:sha-256 7B:8B:F0:65:5F:78:E2:51:3B:AC:6F:F3:3F:46:1B:35:DC:B8:5F:64:1A:24:C2:43:F0:A1:58:D0:A1:2C:19:08',
  'a=setup:actpass',
  'a=mid:0',
  'a=sendrecv',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:126 telephone-event/8000',
  '',
].join('\r\n')

const legacySdp = (payloads: string, extra: string[] = [], port = 40000) =>
  ['v=0', 'o=legacy 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP ${payloads}`, ...extra, 'a=sendrecv', ''].join('\r\n')

/** What rtpengine 10.5 answers towards a browser: mid, no a=group:BUNDLE. */
const RTPENGINE_WEBRTC_ANSWER = [
  'v=0',
  'o=legacy 1 1 IN IP4 10.0.0.5',
  's=-',
  'c=IN IP4 10.0.0.5',
  't=0 0',
  'm=audio 41009 UDP/TLS/RTP/SAVPF 0',
  'a=mid:0',
  'a=rtpmap:0 PCMU/8000',
  'a=sendrecv',
  'a=rtcp:41009 IN IP4 10.0.0.5',
  'a=rtcp-mux',
  'a=setup:passive',
  'a=fingerprint:sha-256 A0:F3:5A:A8:F1:33:00:05:CE:9B:5E:4B:73:FA:8B:BD:D9:EB:57:3C:76:45:11:EE:34:2F:17:9F:61:F1:7B:FB',
  'a=ice-ufrag:GZkpm8U9',
  'a=ice-pwd:Tp61a2tvacCHt5wtFbFIfReYlO',
  'a=candidate:PSDnGXpI7h1O6Z9g 1 UDP 2130706431 10.0.0.5 41009 typ host',
  '',
].join('\r\n')

const silent: Logger = {
  category: 'test',
  debug() {},
  info() {},
  warn() {},
  error() {},
  debugEnabled: false,
}

const cleanup: Array<() => unknown> = []
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn()
})

async function servers(count: number, handler: NgHandler = echoHandler): Promise<FakeNgServer[]> {
  const out: FakeNgServer[] = []
  for (let i = 0; i < count; i++) {
    const server = await FakeNgServer.start(handler)
    cleanup.push(() => server.close())
    out.push(server)
  }
  return out
}

function driverFor(list: Array<FakeNgServer | number>, extra: Partial<RtpengineDriverOptions> = {}) {
  const scheduler = new FakeScheduler()
  const driver = new RtpengineDriver({
    instances: list.map((s) => ({ host: '127.0.0.1', port: typeof s === 'number' ? s : s.port })),
    scheduler,
    logger: silent,
    ...extra,
  })
  cleanup.push(() => driver.close())
  return { driver, scheduler }
}

const offerReq = (callId: string, sdp = WEBRTC_OFFER, from: 'webrtc' | 'rtp' = 'webrtc', to: 'webrtc' | 'rtp' = 'rtp', toTag?: string) => ({
  session: { callId, fromTag: 'alice-tag', toTag },
  sdp,
  from,
  to,
})
const answerReq = (callId: string, sdp = legacySdp('0', ['a=rtpmap:0 PCMU/8000']), from: 'webrtc' | 'rtp' = 'rtp', to: 'webrtc' | 'rtp' = 'webrtc') => ({
  session: { callId, fromTag: 'alice-tag', toTag: 'bob-tag' },
  sdp,
  from,
  to,
})

async function rejection(promise: Promise<unknown>): Promise<MediaError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  if (!(error instanceof MediaError)) throw new Error(`expected a MediaError, got ${String(error)}`)
  return error
}

/** Which server received an ng command for this call. */
function holder(list: FakeNgServer[], command: string, callId: string): number[] {
  return list.flatMap((server, index) => (server.commands(command).some((r) => r.dict['call-id'] === callId) ? [index] : []))
}

describe('ng dictionaries', () => {
  test('offer towards plain RTP: RTP/AVP, ICE removed, DTLS off, rtcp-mux demux, origin and c= replaced', async () => {
    const [server] = await servers(1)
    const { driver } = driverFor([server!])
    await driver.offer(offerReq('c1'))
    const [offer] = server!.commands('offer')
    expect(offer!.dict).toMatchObject({
      command: 'offer',
      'call-id': 'c1',
      'from-tag': 'alice-tag',
      sdp: WEBRTC_OFFER,
      'transport-protocol': 'RTP/AVP',
      ICE: 'remove',
      DTLS: 'off',
      'rtcp-mux': ['demux'],
      replace: ['origin', 'session-connection'],
    })
    expect(offer!.dict['to-tag']).toBeUndefined()
    expect(offer!.dict.direction).toBeUndefined()
  })

  test('answer towards the browser: UDP/TLS/RTP/SAVPF, ICE force, DTLS passive, rtcp-mux require, mid', async () => {
    const [server] = await servers(1)
    const { driver } = driverFor([server!])
    await driver.offer(offerReq('c1'))
    await driver.answer(answerReq('c1'))
    const [answer] = server!.commands('answer')
    expect(answer!.dict).toMatchObject({
      command: 'answer',
      'call-id': 'c1',
      'from-tag': 'alice-tag',
      'to-tag': 'bob-tag',
      'transport-protocol': 'UDP/TLS/RTP/SAVPF',
      ICE: 'force',
      DTLS: 'passive',
      SDES: ['off'],
      'rtcp-mux': ['require'],
      flags: ['generate-mid', 'full-rtcp-attribute'],
    })
  })

  test('configured interfaces become ng direction [offerer, answerer] on offers', async () => {
    const [server] = await servers(1)
    const { driver } = driverFor([server!], { interfaces: { webrtc: 'pub', rtp: 'priv' } })
    await driver.offer(offerReq('c1'))
    await driver.offer(offerReq('c2', legacySdp('0', ['a=rtpmap:0 PCMU/8000']), 'rtp', 'webrtc'))
    expect(server!.commands('offer').map((r) => r.dict.direction)).toEqual([
      ['pub', 'priv'],
      ['priv', 'pub'],
    ])
  })

  test('delete carries call-id, tags and delete-delay 0', async () => {
    const [server] = await servers(1)
    const { driver } = driverFor([server!])
    await driver.offer(offerReq('c1'))
    await driver.delete({ callId: 'c1', fromTag: 'alice-tag', toTag: 'bob-tag' })
    expect(server!.commands('delete')[0]!.dict).toEqual({
      command: 'delete',
      'call-id': 'c1',
      'from-tag': 'alice-tag',
      'to-tag': 'bob-tag',
      'delete-delay': 0,
    })
  })
})

describe('instance selection', () => {
  const callIds = Array.from({ length: 24 }, (_, i) => `call-${i}@example.test`)

  test('offer, re-offer, answer and delete of a call all go to the instance its Call-ID hashes to', async () => {
    const list = await servers(3)
    const { driver } = driverFor(list)
    for (const callId of callIds) {
      await driver.offer(offerReq(callId))
      await driver.answer(answerReq(callId))
      await driver.offer(offerReq(callId, WEBRTC_OFFER, 'webrtc', 'rtp', 'bob-tag'))
      await driver.delete({ callId, fromTag: 'alice-tag' })
    }
    const used = new Set<number>()
    for (const callId of callIds) {
      const [index, ...others] = holder(list, 'offer', callId)
      expect(others).toEqual([])
      expect(holder(list, 'answer', callId)).toEqual([index!])
      expect(holder(list, 'delete', callId)).toEqual([index!])
      expect(list[index!]!.commands('offer').filter((r) => r.dict['call-id'] === callId)).toHaveLength(2)
      used.add(index!)
    }
    // 24 calls over 3 instances: the hash spreads them.
    expect(used.size).toBe(3)
  })

  test('another driver (another gateway process) picks the same instance for the same Call-ID', async () => {
    const list = await servers(3)
    const first = driverFor(list).driver
    const second = driverFor(list).driver
    for (const callId of callIds) {
      await first.offer(offerReq(callId))
      await second.offer(offerReq(callId))
      expect(second.instanceOf(callId)).toBe(first.instanceOf(callId)!)
    }
  })

  test('a dead instance (port unreachable) is skipped, its calls go to the next instance, the others stay put', async () => {
    const list = await servers(3)
    const reference = driverFor(list).driver
    for (const callId of callIds) await reference.offer(offerReq(callId))
    const home = new Map(callIds.map((id) => [id, reference.instanceOf(id)!]))

    const deadIndex = home.get(callIds[0]!)!
    const deadPort = list[deadIndex]!.port
    list[deadIndex]!.close()
    const { driver } = driverFor(list.map((s, i) => (i === deadIndex ? deadPort : s)))
    for (const callId of callIds) {
      await driver.offer(offerReq(callId))
      const now = driver.instanceOf(callId)!
      expect(now).not.toBe(deadIndex)
      if (home.get(callId) !== deadIndex) expect(now).toBe(home.get(callId)!)
    }
    expect(driver.instanceStatus()[deadIndex]!.alive).toBe(false)
    expect(driver.instanceStatus().filter((s) => s.alive)).toHaveLength(2)
  })

  test('an instance that times out is marked dead after 3 sends; the offer moves on', async () => {
    const list = await servers(2)
    const reference = driverFor(list).driver
    await reference.offer(offerReq('timeout-call'))
    const home = reference.instanceOf('timeout-call')!
    list[home]!.handler = () => null // stops answering

    const { driver, scheduler } = driverFor(list)
    let settled = false
    const result = driver.offer(offerReq('timeout-call')).finally(() => {
      settled = true
    })
    for (let send = 1; send <= 3; send++) {
      await until(() => list[home]!.commands('offer').filter((r) => r.dict['call-id'] === 'timeout-call').length === send + 1, 2_000, `send ${send}`)
      scheduler.advance(500)
    }
    await until(() => settled, 2_000, 'the offer')
    await result
    expect(driver.instanceOf('timeout-call')).toBe(1 - home)
    expect(driver.instanceStatus()[home]!.alive).toBe(false)
    list[home]!.handler = echoHandler // let the reference driver's close() delete its call
  })

  test('a dead instance is pinged every 3 s and used again once it answers', async () => {
    const list = await servers(2)
    const reference = driverFor(list).driver
    const callIds2 = callIds.slice(0, 12)
    for (const callId of callIds2) await reference.offer(offerReq(callId))
    const target = callIds2.find((id) => reference.instanceOf(id) === 0)!

    const port0 = list[0]!.port
    list[0]!.close()
    const { driver, scheduler } = driverFor([port0, list[1]!])
    await driver.offer(offerReq('first'))
    await driver.offer(offerReq(target))
    expect(driver.instanceStatus()[0]!.alive).toBe(false)
    expect(driver.instanceOf(target)).toBe(1)

    const revived = await FakeNgServer.start(echoHandler, port0)
    cleanup.push(() => revived.close())
    scheduler.advance(2_999)
    await Bun.sleep(20)
    expect(revived.commands('ping')).toHaveLength(0)
    scheduler.advance(1)
    await until(() => driver.instanceStatus()[0]!.alive, 2_000, 'the probe')
    expect(revived.commands('ping')).toHaveLength(1)

    // The call already placed stays where it is; a new call hashing to instance 0 goes there.
    await driver.answer(answerReq(target))
    expect(holder([revived, list[1]!], 'answer', target)).toEqual([1])
    const fresh = callIds2.find((id) => id !== target && reference.instanceOf(id) === 0)!
    await driver.offer(offerReq(fresh))
    expect(driver.instanceOf(fresh)).toBe(0)
  })

  test('all instances dead -> MediaError 503', async () => {
    const list = await servers(2)
    const ports = list.map((s) => s.port)
    for (const s of list) s.close()
    const { driver } = driverFor(ports)
    const error = await rejection(driver.offer(offerReq('c1')))
    expect(error.status).toBe(503)
    expect(driver.instanceStatus().every((s) => !s.alive)).toBe(true)
    // Nothing alive: refused at once, no sends.
    expect((await rejection(driver.offer(offerReq('c2')))).status).toBe(503)
    expect(driver.activeSessions).toBe(0)
  })

  test('the answer of a call whose instance died -> 503', async () => {
    const list = await servers(1)
    const port = list[0]!.port
    const { driver } = driverFor([port])
    await driver.offer(offerReq('c1'))
    list[0]!.close()
    const error = await rejection(driver.answer(answerReq('c1')))
    expect(error.status).toBe(503)
  })
})

describe('codecs', () => {
  test('G.711 passes: a legacy PCMU answer to an offer with PCMU is accepted', async () => {
    const [server] = await servers(1, (request) => {
      if (request.dict.command === 'answer') return { result: 'ok', sdp: RTPENGINE_WEBRTC_ANSWER }
      return echoHandler(request, server!)
    })
    const { driver } = driverFor([server!])
    await driver.offer(offerReq('c1'))
    const sdp = await driver.answer(answerReq('c1'))
    expect(String(parse(sdp).media[0]!.payloads)).toBe('0')
    expect(sdp).toContain('m=audio 41009 UDP/TLS/RTP/SAVPF 0\r\n')
  })

  test('an answer sharing no codec with the offer -> 488 (rtpengine is not asked)', async () => {
    const [server] = await servers(1)
    const { driver } = driverFor([server!])
    await driver.offer(offerReq('c1', WEBRTC_OFFER.replace('111 0 8 126', '111 126')))
    const error = await rejection(driver.answer(answerReq('c1', legacySdp('0 101', ['a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000']))))
    expect(error.status).toBe(488)
    expect(server!.commands('answer')).toHaveLength(0)
  })

  test('telephone-event alone is not a common codec', async () => {
    const [server] = await servers(1)
    const { driver } = driverFor([server!])
    await driver.offer(offerReq('c1'))
    const error = await rejection(driver.answer(answerReq('c1', legacySdp('126', ['a=rtpmap:126 telephone-event/8000']))))
    expect(error.status).toBe(488)
  })

  test('an answer rejecting the stream (port 0) -> 488', async () => {
    const [server] = await servers(1)
    const { driver } = driverFor([server!])
    await driver.offer(offerReq('c1'))
    const error = await rejection(driver.answer(answerReq('c1', legacySdp('0', ['a=rtpmap:0 PCMU/8000'], 0))))
    expect(error.status).toBe(488)
  })

  test('rtpengine returning an SDP without codecs -> 488, and the new call is deleted again', async () => {
    const [server] = await servers(1, (request) =>
      request.dict.command === 'offer' ? { result: 'ok', sdp: legacySdp('', [], 0) } : { result: 'ok' },
    )
    const { driver } = driverFor([server!])
    const error = await rejection(driver.offer(offerReq('c1')))
    expect(error.status).toBe(488)
    expect(server!.commands('delete').map((r) => r.dict['call-id'])).toEqual(['c1'])
    expect(driver.activeSessions).toBe(0)
  })

  test('an offer without any codec -> 488 before rtpengine is asked', async () => {
    const [server] = await servers(1)
    const { driver } = driverFor([server!])
    expect((await rejection(driver.offer(offerReq('c1', 'garbage')))).status).toBe(488)
    expect((await rejection(driver.offer(offerReq('c2', legacySdp('101', ['a=rtpmap:101 telephone-event/8000']), 'rtp', 'webrtc')))).status).toBe(488)
    expect(server!.received).toHaveLength(0)
  })

  test('rtpengine errors map to SIP statuses: SDP -> 488, ports -> 503, other -> 500', async () => {
    const reasons: Record<string, string> = { a: 'Failed to parse SDP', b: 'Ran out of ports', c: 'Something odd' }
    const [server] = await servers(1, (request) => ({ result: 'error', 'error-reason': reasons[String(request.dict['call-id'])]! }))
    const { driver } = driverFor([server!])
    expect((await rejection(driver.offer(offerReq('a')))).status).toBe(488)
    expect((await rejection(driver.offer(offerReq('b')))).status).toBe(503)
    const other = await rejection(driver.offer(offerReq('c')))
    expect(other.status).toBe(500)
    expect(other.message).toContain('Something odd')
    expect(driver.instanceStatus()[0]!.alive).toBe(true)
  })
})

describe('SDP repairs towards the browser', () => {
  test('the answer gets a=group:BUNDLE back when the browser offered BUNDLE', async () => {
    const [server] = await servers(1, (request) =>
      request.dict.command === 'answer' ? { result: 'ok', sdp: RTPENGINE_WEBRTC_ANSWER } : echoHandler(request, server!),
    )
    const { driver } = driverFor([server!])
    await driver.offer(offerReq('c1'))
    const sdp = await driver.answer(answerReq('c1'))
    expect(parse(sdp).groups?.map((g) => `${g.type} ${g.mids}`)).toEqual(['BUNDLE 0'])
    expect(sdp).toContain('a=group:BUNDLE 0\r\n')
    expect(sdp).toContain('a=setup:passive\r\n')
  })

  test('every answer to the offer gets it (18x and 2xx, forked branches)', async () => {
    const [server] = await servers(1, (request) =>
      request.dict.command === 'answer' ? { result: 'ok', sdp: RTPENGINE_WEBRTC_ANSWER } : echoHandler(request, server!),
    )
    const { driver } = driverFor([server!])
    await driver.offer(offerReq('c1'))
    for (const toTag of ['branch-1', 'branch-2', 'branch-2']) {
      const sdp = await driver.answer({ ...answerReq('c1'), session: { callId: 'c1', fromTag: 'alice-tag', toTag } })
      expect(sdp).toContain('a=group:BUNDLE 0\r\n')
    }
  })

  test('no BUNDLE group is added to an answer when the offer had none (RFC 8843 §7.3)', async () => {
    const [server] = await servers(1, (request) =>
      request.dict.command === 'answer' ? { result: 'ok', sdp: RTPENGINE_WEBRTC_ANSWER } : echoHandler(request, server!),
    )
    const { driver } = driverFor([server!])
    await driver.offer(offerReq('c1', WEBRTC_OFFER.replace('a=group:BUNDLE 0\r\n', '')))
    const sdp = await driver.answer(answerReq('c1'))
    expect(sdp).toBe(RTPENGINE_WEBRTC_ANSWER)
  })

  test('an offer going to a browser gets a BUNDLE group over its mids (Chrome max-bundle needs it)', async () => {
    const [server] = await servers(1, () => ({ result: 'ok', sdp: RTPENGINE_WEBRTC_ANSWER.replace('a=setup:passive', 'a=setup:actpass') }))
    const { driver } = driverFor([server!])
    const sdp = await driver.offer(offerReq('c1', legacySdp('0', ['a=rtpmap:0 PCMU/8000']), 'rtp', 'webrtc'))
    expect(parse(sdp).groups?.map((g) => `${g.type} ${g.mids}`)).toEqual(['BUNDLE 0'])
  })

  test('SDPs going to the plain-RTP side are returned exactly as rtpengine wrote them', async () => {
    const rtpSide = legacySdp('0 8', ['a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000', 'a=rtcp:41001'], 41000)
    const [server] = await servers(1, () => ({ result: 'ok', sdp: rtpSide }))
    const { driver } = driverFor([server!])
    expect(await driver.offer(offerReq('c1'))).toBe(rtpSide)
  })

  test('publicAddress is advertised to the browser in c=, o=, host candidates and a=rtcp', async () => {
    const [server] = await servers(1, (request) =>
      request.dict.command === 'answer' ? { result: 'ok', sdp: RTPENGINE_WEBRTC_ANSWER } : echoHandler(request, server!),
    )
    const { driver } = driverFor([server!], { publicAddress: '203.0.113.7' })
    await driver.offer(offerReq('c1'))
    const sdp = await driver.answer(answerReq('c1'))
    expect(sdp).not.toContain('10.0.0.5')
    const session = parse(sdp)
    expect(session.origin.address).toBe('203.0.113.7')
    expect(session.connection?.ip).toBe('203.0.113.7')
    expect(session.media[0]!.candidates![0]!.ip).toBe('203.0.113.7')
    expect(session.media[0]!.rtcp?.address).toBe('203.0.113.7')
  })
})

describe('sessions', () => {
  test('activeSessions counts calls from offer to delete; re-offers do not count twice', async () => {
    const [server] = await servers(1)
    const { driver } = driverFor([server!])
    expect(driver.activeSessions).toBe(0)
    await driver.offer(offerReq('c1'))
    await driver.offer(offerReq('c2'))
    expect(driver.activeSessions).toBe(2)
    await driver.answer(answerReq('c1'))
    await driver.offer(offerReq('c1', WEBRTC_OFFER, 'webrtc', 'rtp', 'bob-tag'))
    expect(driver.activeSessions).toBe(2)
    await driver.delete({ callId: 'c1', fromTag: 'alice-tag', toTag: 'bob-tag' })
    expect(driver.activeSessions).toBe(1)
    await driver.delete({ callId: 'c2', fromTag: 'alice-tag' })
    expect(driver.activeSessions).toBe(0)
  })

  test('a BYE from the callee (tags swapped) ends the call too', async () => {
    const [server] = await servers(1)
    const { driver } = driverFor([server!])
    await driver.offer(offerReq('c1'))
    await driver.answer(answerReq('c1'))
    await driver.delete({ callId: 'c1', fromTag: 'bob-tag', toTag: 'alice-tag' })
    expect(driver.activeSessions).toBe(0)
  })

  test('deleting one of two forked branches keeps the call', async () => {
    const [server] = await servers(1)
    const { driver } = driverFor([server!])
    await driver.offer(offerReq('c1'))
    await driver.answer({ ...answerReq('c1'), session: { callId: 'c1', fromTag: 'alice-tag', toTag: 'branch-1' } })
    await driver.offer(offerReq('c1'))
    await driver.answer({ ...answerReq('c1'), session: { callId: 'c1', fromTag: 'alice-tag', toTag: 'branch-2' } })
    await driver.delete({ callId: 'c1', fromTag: 'alice-tag', toTag: 'branch-1' })
    expect(driver.activeSessions).toBe(1)
    await driver.delete({ callId: 'c1', fromTag: 'alice-tag', toTag: 'branch-2' })
    expect(driver.activeSessions).toBe(0)
  })

  test('deleting an unknown call is not an error (rtpengine: Unknown call-id)', async () => {
    const [server] = await servers(1, () => ({ result: 'error', 'error-reason': 'Unknown call-id' }))
    const { driver } = driverFor([server!])
    await driver.delete({ callId: 'nope', fromTag: 'x' })
    expect(server!.commands('delete')).toHaveLength(1)
    expect(driver.activeSessions).toBe(0)
  })

  test('close deletes every call and then refuses offers with 503', async () => {
    const [server] = await servers(1)
    const { driver } = driverFor([server!])
    await driver.offer(offerReq('c1'))
    await driver.offer(offerReq('c2'))
    await driver.close()
    expect(server!.commands('delete').map((r) => r.dict['call-id']).sort()).toEqual(['c1', 'c2'])
    expect(driver.activeSessions).toBe(0)
    expect((await rejection(driver.offer(offerReq('c3')))).status).toBe(503)
  })

  test('statistics and list read the instance for benchmarks', async () => {
    const [server] = await servers(1, (request) => {
      if (request.dict.command === 'statistics') return { result: 'ok', statistics: { currentstatistics: { sessionsown: 1 } } }
      if (request.dict.command === 'list') return { result: 'ok', calls: ['c1'] }
      return echoHandler(request, server!)
    })
    const { driver } = driverFor([server!])
    expect(await driver.statistics()).toEqual({ currentstatistics: { sessionsown: 1 } })
    expect(await driver.listCalls()).toEqual(['c1'])
    expect(server!.commands('list')[0]!.dict.limit).toBe(32)
    const [status] = await driver.probe()
    expect(status).toMatchObject({ address: `127.0.0.1:${server!.port}`, alive: true })
    expect(status!.lastRttMs).toBeGreaterThanOrEqual(0)
  })
})

import { beforeEach, describe, expect, test } from 'bun:test'
import { FakeScheduler } from '../../../support/fake-scheduler.ts'
import { CallController, ENDED_DISPLAY_MS, NOTICE_DISPLAY_MS } from '../../../../softphone/src/controllers/call-controller.ts'
import type { ToneKind } from '../../../../softphone/src/audio/ringtone.ts'
import { FakeHost } from '../fake-host.ts'
import { FakeSignalingClient } from '../fake-signaling-client.ts'

const snap = FakeSignalingClient.snapshot

let client: FakeSignalingClient
let timers: FakeScheduler
let host: FakeHost
let tones: Array<ToneKind | undefined>
let ctl: CallController
let now: number

beforeEach(() => {
  client = new FakeSignalingClient()
  timers = new FakeScheduler()
  host = new FakeHost()
  tones = []
  now = 100_000
  ctl = new CallController(host, client, timers, {
    playTone: (k) => { tones.push(k) },
    playRemote: () => {},
  }, () => now)
  host.connect()
})

describe('CallController', () => {
  test('an incoming call rings; answering it stops the ring', () => {
    client.emitCall(snap({ id: 'in', direction: 'incoming', state: 'incoming' }))
    expect(ctl.incoming?.id).toBe('in')
    expect(ctl.active).toBeUndefined()
    expect(tones.at(-1)).toBe('ring')
    client.emitCall(snap({ id: 'in', direction: 'incoming', state: 'connected', connectedAt: now }))
    expect(ctl.incoming).toBeUndefined()
    expect(ctl.active?.id).toBe('in')
    expect(tones.at(-1)).toBeUndefined()
  })

  test('a second call while talking is call waiting, with the soft waiting tone', () => {
    client.emitCall(snap({ id: 'a', state: 'connected', connectedAt: now }))
    client.emitCall(snap({ id: 'b', direction: 'incoming', state: 'incoming', remote: { user: 'carol', uri: 'sip:carol@d', displayName: 'Carol' } }))
    expect(ctl.waiting).toBe(true)
    expect(ctl.active?.id).toBe('a')
    expect(tones.at(-1)).toBe('waiting')
  })

  test('180 Ringing on our call plays ringback; early media does not', () => {
    client.emitCall(snap({ id: 'o', state: 'ringing' }))
    expect(tones.at(-1)).toBe('ringback')
    client.emitCall(snap({ id: 'o', state: 'early-media' }))
    expect(tones.at(-1)).toBeUndefined()
  })

  test('held calls are listed apart from the active one; swap resumes the held call', async () => {
    client.emitCall(snap({ id: 'a', state: 'connected', connectedAt: now, onHold: true }))
    client.emitCall(snap({ id: 'b', state: 'connected', connectedAt: now }))
    expect(ctl.active?.id).toBe('b')
    expect(ctl.held.map((c) => c.id)).toEqual(['a'])
    await ctl.swap()
    expect(client.log).toContain('unhold a')
  })

  test('a connected call ticks once a second for its timer', () => {
    client.emitCall(snap({ id: 'a', state: 'connected', connectedAt: now }))
    const before = host.updates
    now += 3_000
    timers.advance(3_000)
    expect(host.updates - before).toBe(3)
    expect(ctl.durationOf(ctl.active!)).toBe(3)
    client.emitCall(snap({ id: 'a', state: 'ended', connectedAt: now - 3000, end: { reason: 'local-hangup', message: '' } }))
    expect(timers.pendingCount).toBe(0)
  })

  test('a failed outgoing call stays on screen with its reason, then goes', () => {
    client.emitCall(snap({ id: 'o', state: 'ringing' }))
    client.emitCall(snap({ id: 'o', state: 'ended', end: { reason: 'busy', statusCode: 486, message: 'bob is busy.' } }))
    expect(ctl.ended?.end?.reason).toBe('busy')
    timers.advance(ENDED_DISPLAY_MS - 1)
    expect(ctl.ended).toBeDefined()
    timers.advance(1)
    expect(ctl.ended).toBeUndefined()
  })

  test('a call that fails while another is on hold says why in a notice', () => {
    client.emitCall(snap({ id: 'a', state: 'connected', connectedAt: now, onHold: true }))
    client.emitCall(snap({ id: 'o', state: 'dialing' }))
    client.emitCall(snap({ id: 'o', state: 'ended', end: { reason: 'busy', statusCode: 486, message: 'Bob is busy.' } }))
    expect(ctl.active?.id).toBe('a')
    expect(ctl.notice).toMatchObject({ kind: 'error', text: 'Bob is busy.' })
  })

  test('a call cancelled while another is on hold gives no notice', () => {
    client.emitCall(snap({ id: 'a', state: 'connected', connectedAt: now, onHold: true }))
    client.emitCall(snap({ id: 'o', state: 'dialing' }))
    client.emitCall(snap({ id: 'o', state: 'ended', end: { reason: 'cancelled', message: 'Call cancelled.' } }))
    expect(ctl.notice).toBeUndefined()
  })

  test('hanging up yourself goes straight back to the dialer', () => {
    client.emitCall(snap({ id: 'a', state: 'connected', connectedAt: now }))
    client.emitCall(snap({ id: 'a', state: 'ended', connectedAt: now, end: { reason: 'local-hangup', message: 'Call ended.' } }))
    expect(ctl.ended).toBeUndefined()
  })

  test('dial failures become an error notice that clears itself', async () => {
    client.callResult = { ok: false, reason: 'media-denied', message: 'Microphone access is blocked.' }
    expect(await ctl.dial('bob')).toBe(false)
    expect(client.log).toContain('call bob')
    expect(ctl.notice).toMatchObject({ kind: 'error', text: 'Microphone access is blocked.' })
    timers.advance(NOTICE_DISPLAY_MS)
    expect(ctl.notice).toBeUndefined()
  })

  test('answer failures are kept for the incoming card', async () => {
    client.emitCall(snap({ id: 'in', direction: 'incoming', state: 'incoming' }))
    client.answerResult = { ok: false, message: 'No microphone found.' }
    await ctl.answer('in')
    expect(ctl.answerError).toEqual({ callId: 'in', message: 'No microphone found.' })
  })

  test('mute and hold toggle from the current state', async () => {
    client.emitCall(snap({ id: 'a', state: 'connected', connectedAt: now, muted: true }))
    ctl.toggleMute('a')
    await ctl.toggleHold('a')
    expect(client.log).toEqual(['mute a false', 'hold a'])
  })

  test('DTMF that cannot be sent is reported', () => {
    client.emitCall(snap({ id: 'a', state: 'connected', connectedAt: now }))
    client.dtmfResult = false
    ctl.sendDtmf('a', '5')
    expect(ctl.notice?.kind).toBe('error')
  })

  test('disconnecting the host stops listening and silences the ringer', () => {
    host.disconnect()
    client.emitCall(snap({ id: 'in', direction: 'incoming', state: 'incoming' }))
    expect(ctl.calls).toEqual([])
    expect(tones.at(-1)).toBeUndefined()
  })
})

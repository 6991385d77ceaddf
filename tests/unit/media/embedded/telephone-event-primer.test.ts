/**
 * TelephoneEventPrimer with RtpSequencer, as the relay uses them towards the browser: an
 * RFC 4733 event that starts after the audio stopped gets one G.711 silence frame with its
 * timestamp in front of it (Chromium's NetEq, muted after a silence, drops telephone-events
 * that arrive alone); an event under running audio does not.
 *
 * The first test replays the RTP headers of SIPp's `uac_pcap` scenario (decoded from
 * /usr/share/sip-tester/g711a.pcap and dtmf_2833_1.pcap): the audio under one SSRC, then one
 * second later digit 1 under another SSRC with its own numbering. Before the fix the relay
 * sent the event packets alone, and Chromium never played the digit.
 */
import { describe, expect, test } from 'bun:test'
import { RtpSequencer } from '../../../../gateway/src/media/embedded/rtp-sequencer.ts'
import { TelephoneEventPrimer } from '../../../../gateway/src/media/embedded/telephone-event-primer.ts'

interface In {
  pt: number
  ssrc: number
  seq: number
  ts: number
  marker: boolean
  samples: number
  atMs: number
}

interface Out {
  pt: number
  seq: number
  ts: number
  marker: boolean
  silence: boolean
}

const AUDIO_PT = 8
const EVENT_PT = 101

/** The relay's legacy -> browser header work (RtpRelay.onLegacyRtp / sendSilenceBefore). */
function relay(packets: In[], ssrc = 0xc08c3224): Out[] {
  const seq = new RtpSequencer(ssrc)
  const primer = new TelephoneEventPrimer()
  const out: Out[] = []
  for (const p of packets) {
    seq.map(p.ssrc, p.seq, p.ts, p.marker, p.atMs)
    if (p.pt === EVENT_PT) {
      if (primer.startsInAudioGap(seq.timestamp)) {
        out.push({ pt: AUDIO_PT, seq: seq.insertBefore(), ts: seq.timestamp, marker: true, silence: true })
        primer.audioSent(seq.timestamp, 160)
      }
    } else {
      primer.audioSent(seq.timestamp, p.samples)
    }
    out.push({ pt: p.pt, seq: seq.sequenceNumber, ts: seq.timestamp, marker: seq.marker, silence: false })
  }
  return out
}

/** g711a.pcap: PCMA, SSRC 0xdee0ee8f, seq from 59133, 30 ms frames (240 samples) from ts 240. */
function sippAudio(count: number, startMs = 0): In[] {
  return Array.from({ length: count }, (_, i) => ({
    pt: AUDIO_PT, ssrc: 0xdee0ee8f, seq: 59133 + i, ts: 240 + 240 * i, marker: i === 0, samples: 240, atMs: startMs + 30 * i,
  }))
}

/**
 * dtmf_2833_1.pcap: digit 1, SSRC 0x0e05384e, seq 7984-7991, all at ts 13280, every 20 ms; the
 * end packet (E bit) is sent three times with the same sequence number.
 */
function sippDigit(startMs: number): In[] {
  const packets: In[] = []
  for (let i = 0; i < 8; i++) {
    packets.push({ pt: EVENT_PT, ssrc: 0x0e05384e, seq: 7984 + i, ts: 13280, marker: i === 0, samples: 0, atMs: startMs + 20 * i })
  }
  const end = packets[7]!
  packets.push({ ...end }, { ...end })
  return packets
}

describe('TelephoneEventPrimer', () => {
  test('SIPp uac_pcap: digit 1 one second after the audio, under a new SSRC, gets one silence frame at its timestamp', () => {
    const audio = sippAudio(236)
    const lastAudioMs = audio[audio.length - 1]!.atMs
    const out = relay([...audio, ...sippDigit(lastAudioMs + 956)])
    const silence = out.filter((p) => p.silence)
    expect(silence).toHaveLength(1)
    const events = out.filter((p) => p.pt === EVENT_PT)
    expect(events).toHaveLength(10)
    // The silence frame sits right before the first event packet, on the event's timestamp.
    const i = out.indexOf(silence[0]!)
    expect(out[i + 1]).toBe(events[0]!)
    expect(silence[0]!.ts).toBe(events[0]!.ts)
    expect(silence[0]!.marker).toBe(true)
    // The event continues the audio's timeline: about 956 ms (7648 samples) after the last frame.
    const lastAudio = out[i - 1]!
    expect(lastAudio.pt).toBe(AUDIO_PT)
    expect(((events[0]!.ts - lastAudio.ts) | 0)).toBeGreaterThan(7000)
    // Sequence numbers stay gapless and unique: audio, silence, the 8 distinct event packets.
    expect(silence[0]!.seq).toBe((lastAudio.seq + 1) & 0xffff)
    const distinct = [...new Set(events.map((p) => p.seq))]
    expect(distinct).toEqual(Array.from({ length: 8 }, (_, k) => (silence[0]!.seq + 1 + k) & 0xffff))
    expect(new Set(events.map((p) => p.ts)).size).toBe(1)
  })

  test('an event under running audio (the phone keeps sending frames) gets no silence frame', () => {
    const packets: In[] = []
    // 20 ms PCMU-like frames; the event starts at frame 10's timestamp and its packets are
    // interleaved with the audio frames, sometimes ahead of the frame of the same instant.
    for (let i = 0; i < 20; i++) {
      if (i >= 10) packets.push({ pt: EVENT_PT, ssrc: 7, seq: 0, ts: 1600, marker: i === 10, samples: 0, atMs: 20 * i })
      packets.push({ pt: AUDIO_PT, ssrc: 7, seq: 0, ts: 160 * i, marker: false, samples: 160, atMs: 20 * i })
    }
    packets.forEach((p, k) => { p.seq = 100 + k })
    const out = relay(packets)
    expect(out.filter((p) => p.silence)).toHaveLength(0)
    expect(out.map((p) => p.seq)).toEqual(packets.map((p) => p.seq))
  })

  test('each new event after a pause gets its own silence frame; repeats of one event do not', () => {
    const primer = new TelephoneEventPrimer()
    primer.audioSent(1000, 160)
    expect(primer.startsInAudioGap(1160)).toBe(false) // right at the end of the last frame
    expect(primer.startsInAudioGap(1160)).toBe(false)
    expect(primer.startsInAudioGap(1160 + 160)).toBe(false) // one frame later: within the slack
    const eventTs = 1000 + 8000
    expect(primer.startsInAudioGap(eventTs)).toBe(true)
    primer.audioSent(eventTs, 160)
    expect(primer.startsInAudioGap(eventTs)).toBe(false) // the same event's later packets
    expect(primer.startsInAudioGap(eventTs + 4000)).toBe(true) // the next digit, no audio between
  })

  test('an event before any audio, and timestamps across the 2^32 wrap', () => {
    expect(new TelephoneEventPrimer().startsInAudioGap(5)).toBe(true)
    const primer = new TelephoneEventPrimer()
    primer.audioSent(0xffffffc0, 160) // ends at 0x60 after the wrap
    expect(primer.startsInAudioGap(0x60)).toBe(false)
    expect(primer.startsInAudioGap(0xffffffc0)).toBe(false) // before the end: audio covers it
    const later = new TelephoneEventPrimer()
    later.audioSent(0xffffffc0, 160)
    expect(later.startsInAudioGap(0x60 + 8000)).toBe(true)
  })
})

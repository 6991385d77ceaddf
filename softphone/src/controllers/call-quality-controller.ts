/**
 * Samples call quality from RTCPeerConnection.getStats() once a second (W3C
 * webrtc-stats): round-trip time from the selected candidate pair (`currentRoundTripTime`)
 * or RTCP (`remote-inbound-rtp.roundTripTime`), jitter of received audio (`inbound-rtp.jitter`,
 * RFC 3550 §6.4.1 interarrival jitter, in seconds) and packet loss over the last interval
 * (Δ`packetsLost` / (Δ`packetsLost` + Δ`packetsReceived`)).
 */
import type { ReactiveController, ReactiveControllerHost } from 'lit'
import type { TimerHandle, Timers } from '../util/timers.ts'

export interface QualitySample {
  /** Timer clock, ms. */
  readonly t: number
  readonly rttMs?: number
  readonly jitterMs?: number
  /** Percent of packets lost in the last interval. */
  readonly lossPct?: number
}

/** Counters carried from one sample to the next. */
export interface QualityCounters {
  readonly packetsLost: number
  readonly packetsReceived: number
}

export type QualityRating = 'good' | 'fair' | 'poor' | 'unknown'

export interface StatsLike {
  forEach(callback: (value: Record<string, unknown>) => void): void
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

/** Extracts one sample from a getStats() report. Pure. */
export function readQualityStats(
  report: StatsLike,
  t: number,
  previous: QualityCounters | undefined,
): { sample: QualitySample; counters: QualityCounters | undefined; candidateType?: string } {
  let pairRtt: number | undefined
  let rtcpRtt: number | undefined
  let jitter: number | undefined
  let counters: QualityCounters | undefined
  let selectedPairId: string | undefined
  const pairs = new Map<string, Record<string, unknown>>()
  const candidates = new Map<string, Record<string, unknown>>()
  report.forEach((s) => {
    switch (s.type) {
      case 'transport':
        if (typeof s.selectedCandidatePairId === 'string') selectedPairId = s.selectedCandidatePairId
        break
      case 'candidate-pair':
        pairs.set(String(s.id), s)
        break
      case 'local-candidate':
        candidates.set(String(s.id), s)
        break
      case 'remote-inbound-rtp':
        if (s.kind === 'audio') rtcpRtt = num(s.roundTripTime) ?? rtcpRtt
        break
      case 'inbound-rtp':
        if (s.kind === 'audio') {
          jitter = num(s.jitter) ?? jitter
          const lost = num(s.packetsLost)
          const received = num(s.packetsReceived)
          if (lost !== undefined && received !== undefined) counters = { packetsLost: lost, packetsReceived: received }
        }
        break
    }
  })
  const pair = (selectedPairId ? pairs.get(selectedPairId) : undefined)
    ?? [...pairs.values()].find((p) => p.nominated === true && p.state === 'succeeded')
  if (pair) pairRtt = num(pair.currentRoundTripTime)
  const candidateType = pair ? candidates.get(String(pair.localCandidateId))?.candidateType : undefined

  let lossPct: number | undefined
  if (counters && previous) {
    const dLost = Math.max(0, counters.packetsLost - previous.packetsLost)
    const dReceived = Math.max(0, counters.packetsReceived - previous.packetsReceived)
    lossPct = dLost + dReceived > 0 ? (100 * dLost) / (dLost + dReceived) : 0
  }
  const rtt = pairRtt ?? rtcpRtt
  const sample: QualitySample = {
    t,
    ...(rtt !== undefined ? { rttMs: rtt * 1000 } : {}),
    ...(jitter !== undefined ? { jitterMs: jitter * 1000 } : {}),
    ...(lossPct !== undefined ? { lossPct } : {}),
  }
  return { sample, counters, ...(typeof candidateType === 'string' ? { candidateType } : {}) }
}

/**
 * A rough rating in the spirit of ITU-T G.114 (one-way delay under 150 ms is good) and the
 * usual VoIP rules of thumb for jitter (< 30 ms) and loss (< 1 %).
 */
export function rateQuality(sample: QualitySample | undefined): QualityRating {
  if (!sample || (sample.rttMs === undefined && sample.jitterMs === undefined && sample.lossPct === undefined)) return 'unknown'
  const rtt = sample.rttMs ?? 0
  const jitter = sample.jitterMs ?? 0
  const loss = sample.lossPct ?? 0
  if (rtt > 500 || jitter > 60 || loss > 5) return 'poor'
  if (rtt > 300 || jitter > 30 || loss > 1) return 'fair'
  return 'good'
}

export class CallQualityController implements ReactiveController {
  samples: QualitySample[] = []
  /** `host`, `srflx`, `relay`... of the selected local candidate. */
  candidateType: string | undefined
  private pc: RTCPeerConnection | undefined
  private counters: QualityCounters | undefined
  private timer: TimerHandle | undefined
  private connected = false

  constructor(
    private readonly host: ReactiveControllerHost,
    private readonly timers: Timers,
    private readonly intervalMs = 1000,
    private readonly maxSamples = 60,
  ) {
    host.addController(this)
  }

  get latest(): QualitySample | undefined {
    return this.samples[this.samples.length - 1]
  }

  get rating(): QualityRating {
    return rateQuality(this.latest)
  }

  /** The peer connection to sample; undefined stops sampling. A new one clears the history. */
  setPeerConnection(pc: RTCPeerConnection | undefined): void {
    if (pc === this.pc) return
    this.pc = pc
    this.samples = []
    this.counters = undefined
    this.candidateType = undefined
    this.stop()
    if (pc && this.connected) this.schedule()
  }

  hostConnected(): void {
    this.connected = true
    if (this.pc) this.schedule()
  }

  hostDisconnected(): void {
    this.connected = false
    this.stop()
  }

  /** Takes one sample now (also used by tests). */
  async sample(): Promise<void> {
    const pc = this.pc
    if (!pc) return
    let report: RTCStatsReport
    try {
      report = await pc.getStats()
    } catch {
      return
    }
    if (pc !== this.pc) return
    const { sample, counters, candidateType } = readQualityStats(report as unknown as StatsLike, this.timers.now(), this.counters)
    this.counters = counters
    this.candidateType = candidateType ?? this.candidateType
    this.samples = [...this.samples, sample].slice(-this.maxSamples)
    this.host.requestUpdate()
  }

  private schedule(): void {
    this.timer = this.timers.setTimer(this.intervalMs, () => {
      this.timer = undefined
      void this.sample().finally(() => {
        if (this.pc && this.connected && !this.timer) this.schedule()
      })
    })
  }

  private stop(): void {
    if (this.timer) this.timers.clearTimer(this.timer)
    this.timer = undefined
  }
}

/**
 * When may the softphone stop waiting for ICE candidates and send its offer/answer?
 *
 * SIP.js waits for `icegatheringstate === 'complete'` or 5 s. Chrome keeps gathering on
 * every interface and STUN/TURN server, so a call to a colleague could wait seconds for
 * nothing. We send the SDP as soon as the candidate set is usable (RFC 8445 §5.1.1: host,
 * server-reflexive and relayed candidates), with a small hard limit on top
 * (`SIP_ICE_GATHERING_TIMEOUT_MS`).
 *
 * Usable means:
 * - relay-only policy: at least one `relay` candidate (nothing else will be used);
 * - with a TURN server: a `host` and a `relay` candidate, or a `host` and a `srflx`;
 * - with only STUN servers: a `host` and a `srflx` candidate;
 * - with no ICE servers: a `host` candidate.
 * Once usable, we wait `settleMs` more so that the sibling candidates of the same burst
 * (other host addresses, the RTCP/second transport) are included.
 */
export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay'

export interface IceGatheringPolicyOptions {
  readonly hasStun: boolean
  readonly hasTurn: boolean
  readonly relayOnly: boolean
}

/** Hard limit on ICE gathering for SIP.js's `iceGatheringTimeout` (ms). */
export const SIP_ICE_GATHERING_TIMEOUT_MS = 500
/** Grace period after the set became usable (ms). */
export const ICE_SETTLE_MS = 40

/** Reads the candidate type from an RTCIceCandidate (or its `candidate:` line). */
export function candidateTypeOf(candidate: { type?: string | null; candidate?: string }): CandidateType | undefined {
  const t = candidate.type ?? / typ (host|srflx|prflx|relay)/.exec(candidate.candidate ?? '')?.[1]
  return t === 'host' || t === 'srflx' || t === 'prflx' || t === 'relay' ? t : undefined
}

/** Decides whether the candidates gathered so far are a usable set. */
export class IceGatheringPolicy {
  private readonly seen = new Set<CandidateType>()

  constructor(private readonly options: IceGatheringPolicyOptions) {}

  /** Derives the options from an RTCConfiguration. */
  static fromConfiguration(config: RTCConfiguration): IceGatheringPolicy {
    let hasStun = false
    let hasTurn = false
    for (const server of config.iceServers ?? []) {
      const urls = Array.isArray(server.urls) ? server.urls : [server.urls]
      for (const url of urls) {
        if (/^stuns?:/i.test(url)) hasStun = true
        if (/^turns?:/i.test(url)) hasTurn = true
      }
    }
    return new IceGatheringPolicy({ hasStun, hasTurn, relayOnly: config.iceTransportPolicy === 'relay' })
  }

  /** Records one gathered candidate; returns true when the set has become usable. */
  add(type: CandidateType | undefined): boolean {
    if (type !== undefined) this.seen.add(type)
    return this.usable
  }

  get usable(): boolean {
    const { hasStun, hasTurn, relayOnly } = this.options
    if (relayOnly) return this.seen.has('relay')
    if (!this.seen.has('host')) return false
    if (hasTurn) return this.seen.has('relay') || this.seen.has('srflx')
    if (hasStun) return this.seen.has('srflx')
    return true
  }
}

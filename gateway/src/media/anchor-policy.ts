/**
 * The anchoring decision and the bridge from the proxy's MediaHooks seam to a MediaDriver.
 *
 * A call is anchored when its two legs speak different media flavours (docs/architecture.md §1: calls
 * between two browsers stay peer to peer; calls between two legacy endpoints stay untouched)
 * or when the configuration forces it for the call's users.
 */
import type { CallLeg, CallSide, MediaHooks, MediaSessionKey } from '../sip/proxy/media-hooks.ts'
import { MediaError, type MediaDriver, type MediaProfile } from './media-driver.ts'
import { sdpProfile } from './sdp-profile.ts'

export type AnchorMode = 'auto' | 'always' | 'never'

export interface AnchorPolicyOptions {
  driver: MediaDriver
  /** media.anchor */
  mode: AnchorMode
  /** A user's mediaAnchor override, if any. */
  userMode(user: string): AnchorMode | undefined
}

/** What `plan` decided for one call: each side's profile. */
interface Plan {
  caller: MediaProfile
  callee: MediaProfile
}

const decoder = new TextDecoder()
const encoder = new TextEncoder()

function legProfile(leg: CallLeg): MediaProfile {
  return leg.transport === 'WS' || leg.transport === 'WSS' ? 'webrtc' : 'rtp'
}

/** MediaHooks over a MediaDriver. */
export class AnchorPolicy implements MediaHooks {
  constructor(private readonly o: AnchorPolicyOptions) {}

  /**
   * The caller's profile comes from its SDP (a browser may reach us over a non-WS hop),
   * else from its transport; the callee's from its transport (WS/WSS: a browser).
   * Overrides: a user's `never` wins over everything, then `always`, then media.anchor.
   */
  plan(caller: CallLeg, callee: CallLeg, sdp: Uint8Array): Plan | null {
    const callerProfile = sdpProfile(decoder.decode(sdp)) ?? legProfile(caller)
    const calleeProfile = legProfile(callee)
    const modes = [caller.user, callee.user].map((u) => (u ? this.o.userMode(u) : undefined))
    let mode: AnchorMode = this.o.mode
    if (modes.includes('never')) mode = 'never'
    else if (modes.includes('always')) mode = 'always'
    if (mode === 'never') return null
    if (mode === 'auto' && callerProfile === calleeProfile) return null
    return { caller: callerProfile, callee: calleeProfile }
  }

  async offer(plan: object, key: MediaSessionKey, sdp: Uint8Array, side: CallSide): Promise<Uint8Array> {
    const p = plan as Plan
    const other: CallSide = side === 'caller' ? 'callee' : 'caller'
    const fromTag = side === 'caller' ? key.callerTag : key.calleeTag ?? ''
    const toTag = side === 'caller' ? key.calleeTag : key.callerTag
    try {
      const out = await this.o.driver.offer({
        session: { callId: key.mediaCallId, fromTag, ...(toTag ? { toTag } : {}) },
        sdp: decoder.decode(sdp),
        from: p[side],
        to: p[other],
      })
      return encoder.encode(out)
    } catch (e) {
      throw refusal(e)
    }
  }

  async answer(plan: object, key: MediaSessionKey, sdp: Uint8Array, side: CallSide): Promise<Uint8Array> {
    const p = plan as Plan
    const other: CallSide = side === 'caller' ? 'callee' : 'caller'
    // The answerer is `side`; the session is named by the offerer's tag (from) and ours (to).
    const answererTag = side === 'caller' ? key.callerTag : key.calleeTag ?? ''
    const offererTag = side === 'caller' ? key.calleeTag ?? '' : key.callerTag
    try {
      const out = await this.o.driver.answer({
        session: { callId: key.mediaCallId, fromTag: offererTag, toTag: answererTag },
        sdp: decoder.decode(sdp),
        from: p[side],
        to: p[other],
      })
      return encoder.encode(out)
    } catch (e) {
      throw refusal(e)
    }
  }

  release(_plan: object, key: MediaSessionKey): void {
    this.o.driver.delete({ callId: key.mediaCallId, fromTag: key.callerTag }).catch(() => {})
  }
}

function refusal(e: unknown): { status: number; reason: string } {
  if (e instanceof MediaError) return { status: e.status, reason: e.message }
  return { status: 500, reason: e instanceof Error ? e.message : String(e) }
}

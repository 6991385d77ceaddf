/**
 * A complete local SDP (offer or answer) for protocols without trickle ICE: applies the
 * description and waits until the gathered candidates are usable, the same rule as SIP mode
 * (`IceGatheringPolicy`, RFC 8445 §5.1.1, plus `ICE_SETTLE_MS`, at most
 * `SIP_ICE_GATHERING_TIMEOUT_MS`). Protocol-neutral: the JSON client uses it; SIP mode gets
 * the same behaviour from `PatchbaySessionDescriptionHandler`.
 */
import { candidateTypeOf, ICE_SETTLE_MS, IceGatheringPolicy, SIP_ICE_GATHERING_TIMEOUT_MS } from './ice-gathering-policy.ts'

/** The first `a=ice-ufrag` of an SDP (RFC 8839 §5.4), or undefined. */
function ufragOf(sdp: string | undefined): string | undefined {
  return sdp ? /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1] : undefined
}

export interface GatheringLimits {
  /** Hard limit on the wait (ms); default `SIP_ICE_GATHERING_TIMEOUT_MS` (500). */
  readonly timeoutMs?: number
  /** Extra wait after the set became usable (ms); default `ICE_SETTLE_MS` (40). */
  readonly settleMs?: number
}

/**
 * Creates a description with `create` (createOffer / createAnswer), applies it with
 * setLocalDescription and resolves with `pc.localDescription.sdp` once ICE gathering is
 * complete, the candidate set is usable (+ settle time), or the time limit passed.
 *
 * @param config the configuration the connection was made with (which ICE servers, relay-only)
 * @throws whatever create / setLocalDescription throw (an InvalidStateError when closed), or
 *   Error('no local description') when the connection has none afterwards
 */
export async function gatheredLocalDescription(
  pc: RTCPeerConnection,
  config: RTCConfiguration,
  create: () => Promise<RTCSessionDescriptionInit>,
  limits: GatheringLimits = {},
): Promise<string> {
  const policy = IceGatheringPolicy.fromConfiguration(config)
  let finish: () => void = () => undefined
  const done = new Promise<void>((resolve) => { finish = resolve })
  let settle: ReturnType<typeof setTimeout> | undefined
  const onCandidate = (event: Event): void => {
    const candidate = (event as RTCPeerConnectionIceEvent).candidate
    if (!candidate) return finish() // end of candidates
    if (policy.add(candidateTypeOf(candidate)) && settle === undefined) settle = setTimeout(finish, limits.settleMs ?? ICE_SETTLE_MS)
  }
  // Read through a function: the state changes behind TypeScript's narrowing (across awaits).
  const gathering = (): RTCIceGatheringState => pc.iceGatheringState
  const onState = (): void => {
    if (gathering() === 'complete') finish()
  }
  pc.addEventListener('icecandidate', onCandidate)
  pc.addEventListener('icegatheringstatechange', onState)
  const limit = setTimeout(finish, limits.timeoutMs ?? SIP_ICE_GATHERING_TIMEOUT_MS)
  // A new description (hold, resume) on a connection that has gathered already carries its
  // candidates at once, unless it restarts ICE (new ufrag: the other side's ICE restart).
  const gatheredBefore = gathering() !== 'new'
  const previousUfrag = ufragOf(pc.localDescription?.sdp)
  try {
    const description = await create()
    await pc.setLocalDescription(description)
    // Nothing to gather (a re-offer on a connection whose candidates are all known).
    const restarted = previousUfrag !== undefined && ufragOf(pc.localDescription?.sdp) !== previousUfrag
    // After a restart, the state may still read the old generation's 'complete': wait for events.
    if (!restarted && (gatheredBefore || gathering() === 'complete')) finish()
    await done
  } finally {
    clearTimeout(limit)
    if (settle !== undefined) clearTimeout(settle)
    pc.removeEventListener('icecandidate', onCandidate)
    pc.removeEventListener('icegatheringstatechange', onState)
  }
  const sdp = pc.localDescription?.sdp
  if (!sdp) throw new Error('no local description')
  return sdp
}

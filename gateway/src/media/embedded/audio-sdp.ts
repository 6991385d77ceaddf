/**
 * The SDP work of the embedded driver: read the audio m-line of either leg's SDP, write the
 * plain RTP/AVP SDP the gateway shows the legacy leg, and narrow a browser's offer to the
 * codecs the legacy side accepted before werift answers it.
 *
 * Wire input never throws (docs/architecture.md): {@link parseAudioSdp} returns a result.
 */
import { parse, write } from 'sdp-transform'

/** RFC 3264 §5.1 / RFC 4566 §6 direction attributes. */
export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive'

/** One payload format of an m-line. `name` is as written in a=rtpmap (case kept). */
export interface AudioCodec {
  payloadType: number
  name: string
  clockRate: number
  channels?: number
  /** a=fmtp parameters, if any. */
  fmtp?: string
}

/** What the driver needs from the (first) audio m-line of an SDP. */
export interface AudioDescription {
  /** Connection address (media-level c= before session-level c=); '0.0.0.0' = RFC 2543 hold. */
  address: string
  /** m= port; 0 means the stream was rejected or disabled (RFC 3264 §6, §8.2). */
  port: number
  /** m= transport protocol, e.g. RTP/AVP or UDP/TLS/RTP/SAVPF. */
  protocol: string
  /** Payload formats in m= order (preference order, RFC 3264 §5.1). */
  codecs: AudioCodec[]
  /** Media-level direction, else session-level, else sendrecv (RFC 3264 §5.1). */
  direction: MediaDirection
  /** Where RTCP goes: RFC 3605 a=rtcp, else the RTP port + 1 (RFC 3550 §11). */
  rtcpAddress: string
  rtcpPort: number
  /** RFC 5761 §5.1.1 a=rtcp-mux. */
  rtcpMux: boolean
  /** RFC 4145 / RFC 5763 a=setup value (actpass, active, passive), if present. */
  setup?: string
  /** a=ptime in milliseconds, if present. */
  ptime?: number
}

export type AudioSdpResult = { ok: true; value: AudioDescription } | { ok: false; reason: string }

/**
 * RFC 3551 §6 Table 4: static payload types (used when an m-line lists them without rtpmap).
 */
const STATIC_PAYLOAD_TYPES: Record<number, { name: string; clockRate: number }> = {
  0: { name: 'PCMU', clockRate: 8000 },
  3: { name: 'GSM', clockRate: 8000 },
  4: { name: 'G723', clockRate: 8000 },
  8: { name: 'PCMA', clockRate: 8000 },
  9: { name: 'G722', clockRate: 8000 },
  13: { name: 'CN', clockRate: 8000 },
  18: { name: 'G729', clockRate: 8000 },
}

const DIRECTIONS: readonly string[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive']

/**
 * Reads the first audio m-line of an SDP.
 *
 * @returns `{ ok: false, reason }` when the text does not parse or has no audio m-line
 */
export function parseAudioSdp(sdp: string): AudioSdpResult {
  let session: ReturnType<typeof parse>
  try {
    session = parse(sdp)
  } catch (e) {
    return { ok: false, reason: `unparsable SDP: ${e instanceof Error ? e.message : String(e)}` }
  }
  const media = (session.media ?? []).find((m) => m.type === 'audio')
  if (!media) return { ok: false, reason: 'no audio m-line' }
  const address = media.connection?.ip ?? session.connection?.ip
  if (!address && media.port !== 0) return { ok: false, reason: 'no connection address (c=)' }
  const port = Number(media.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { ok: false, reason: `bad m= port ${media.port}` }
  const rtpmaps = new Map<number, { codec: string; rate?: number; encoding?: number }>()
  for (const r of media.rtp ?? []) rtpmaps.set(Number(r.payload), r)
  const fmtps = new Map<number, string>()
  for (const f of media.fmtp ?? []) fmtps.set(Number(f.payload), f.config)
  const codecs: AudioCodec[] = []
  for (const token of String(media.payloads ?? '').trim().split(/\s+/)) {
    if (token === '') continue
    const pt = Number(token)
    if (!Number.isInteger(pt) || pt < 0 || pt > 127) continue
    const map = rtpmaps.get(pt)
    const known = STATIC_PAYLOAD_TYPES[pt]
    const name = map?.codec ?? known?.name
    if (!name) continue // dynamic payload type without rtpmap: unusable (RFC 4566 §6)
    const codec: AudioCodec = { payloadType: pt, name, clockRate: map?.rate ?? known?.clockRate ?? 8000 }
    if (map?.encoding !== undefined) codec.channels = Number(map.encoding)
    const fmtp = fmtps.get(pt)
    if (fmtp !== undefined) codec.fmtp = fmtp
    codecs.push(codec)
  }
  const dir = media.direction ?? session.direction
  const direction: MediaDirection = dir && DIRECTIONS.includes(dir) ? dir : 'sendrecv'
  const rtcpMux = media.rtcpMux === 'rtcp-mux'
  const value: AudioDescription = {
    address: address ?? '0.0.0.0',
    port,
    protocol: media.protocol,
    codecs,
    direction,
    rtcpAddress: media.rtcp?.address ?? address ?? '0.0.0.0',
    rtcpPort: rtcpMux ? port : (media.rtcp?.port ?? port + 1),
    rtcpMux,
  }
  const setup = media.setup ?? (session as { setup?: string }).setup
  if (setup) value.setup = setup
  if (media.ptime !== undefined) value.ptime = Number(media.ptime)
  return { ok: true, value }
}

/** True for PCMU/8000 or PCMA/8000, mono (RFC 3551 §4.5.14). */
export function isG711(codec: AudioCodec): boolean {
  const name = codec.name.toUpperCase()
  return (name === 'PCMU' || name === 'PCMA') && codec.clockRate === 8000 && (codec.channels ?? 1) === 1
}

/** True for telephone-event/8000 (RFC 4733 §7.1.1; the rate matches G.711's clock). */
export function isTelephoneEvent8000(codec: AudioCodec): boolean {
  return codec.name.toLowerCase() === 'telephone-event' && codec.clockRate === 8000
}

/** The G.711 codecs of a description, in its preference order. */
export function g711CodecsOf(description: AudioDescription): AudioCodec[] {
  return description.codecs.filter(isG711)
}

/** The telephone-event/8000 format of a description, if offered. */
export function telephoneEventOf(description: AudioDescription): AudioCodec | undefined {
  return description.codecs.find(isTelephoneEvent8000)
}

/** True when the endpoint will send media (RFC 3264 §5.1: sendrecv or sendonly). */
export function sends(direction: MediaDirection): boolean {
  return direction === 'sendrecv' || direction === 'sendonly'
}

/** True when the endpoint wants to receive media (sendrecv or recvonly). */
export function receives(direction: MediaDirection): boolean {
  return direction === 'sendrecv' || direction === 'recvonly'
}

/** The direction with receiving taken away (for a peer that asked not to be sent to). */
export function withoutReceive(direction: MediaDirection): MediaDirection {
  if (direction === 'sendrecv') return 'sendonly'
  if (direction === 'recvonly') return 'inactive'
  return direction
}

/** The parameters of a plain RTP/AVP audio SDP. */
export interface PlainAudioSdp {
  /** o= sess-id (digits) and sess-version (RFC 4566 §5.2: incremented on each change). */
  sessionId: string
  sessionVersion: number
  /** Address for o= and c= (IPv4 or IPv6). */
  address: string
  /** RTP port (even; RTCP on port + 1, RFC 3550 §11). */
  port: number
  /** Payload formats in preference order, with the payload types used on this leg. */
  codecs: AudioCodec[]
  direction: MediaDirection
  /** a=ptime in milliseconds (20 for G.711 telephony). */
  ptime?: number
  /** Add a=rtcp-mux (only when answering an offer that had it, RFC 5761 §5.1.1). */
  rtcpMux?: boolean
}

/**
 * Writes the SDP shown to the legacy leg: one audio m-line, RTP/AVP, no ICE, no crypto.
 * The static formats get an a=rtpmap line too (many phones expect it, RFC 4566 §6 allows it).
 */
export function buildPlainAudioSdp(p: PlainAudioSdp): string {
  const ipVer = p.address.includes(':') ? 'IP6' : 'IP4'
  const lines = [
    'v=0',
    `o=- ${p.sessionId} ${p.sessionVersion} IN ${ipVer} ${p.address}`,
    's=-',
    `c=IN ${ipVer} ${p.address}`,
    't=0 0',
    `m=audio ${p.port} RTP/AVP ${p.codecs.map((c) => c.payloadType).join(' ')}`,
  ]
  for (const c of p.codecs) {
    lines.push(`a=rtpmap:${c.payloadType} ${c.name}/${c.clockRate}${c.channels && c.channels > 1 ? `/${c.channels}` : ''}`)
    if (c.fmtp) lines.push(`a=fmtp:${c.payloadType} ${c.fmtp}`)
  }
  if (p.ptime) lines.push(`a=ptime:${p.ptime}`)
  if (p.rtcpMux) lines.push('a=rtcp-mux')
  lines.push(`a=${p.direction}`)
  return lines.join('\r\n') + '\r\n'
}

/**
 * Narrows the first audio m-line of an SDP to the given payload types (in that order),
 * dropping their rtpmap/fmtp/rtcp-fb lines for the others. Used on a browser's offer so that
 * werift answers with exactly the codecs the legacy side accepted.
 *
 * @param sdp a browser offer (already checked with {@link parseAudioSdp})
 * @param keep payload types to keep, in preference order
 */
export function restrictAudioCodecs(sdp: string, keep: number[]): string {
  const session = parse(sdp)
  const media = session.media.find((m) => m.type === 'audio')
  if (!media) return sdp
  const set = new Set(keep)
  media.rtp = keep.flatMap((pt) => media.rtp.filter((r) => r.payload === pt))
  media.fmtp = (media.fmtp ?? []).filter((f) => set.has(f.payload))
  if (media.rtcpFb) media.rtcpFb = media.rtcpFb.filter((f) => f.payload === '*' || set.has(Number(f.payload)))
  media.payloads = keep.join(' ')
  return write(session)
}

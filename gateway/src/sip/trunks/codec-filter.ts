/**
 * A trunk's allowed codecs (trunks.yaml `codecs`, Asterisk's `allow=`): the offer sent to the
 * trunk keeps, on each audio m-line, only the payload types whose codec is allowed, in the
 * trunk's order of preference, plus telephone-event (RFC 4733) and comfort noise, which are not
 * codecs of the voice. An m-line left with no voice codec is kept as it was: the trunk then
 * refuses it (488) with a status the caller understands, rather than the gateway guessing.
 *
 * Static payload types without an rtpmap are named by RFC 3551 (0 PCMU, 8 PCMA, 9 G722,
 * 18 G729). Works on the SDP text (RFC 8866 §5.14 m=, §6.6 a=rtpmap, a=fmtp).
 */

const STATIC: Record<string, string> = { '0': 'PCMU', '3': 'GSM', '4': 'G723', '8': 'PCMA', '9': 'G722', '18': 'G729' }
const NOT_VOICE = new Set(['TELEPHONE-EVENT', 'CN'])

/**
 * Returns `sdp` with each audio m-line's payloads reduced to `codecs` (case-insensitive
 * names), ordered by `codecs`. `codecs` empty: `sdp` unchanged.
 */
export function filterOfferCodecs(sdp: string, codecs: readonly string[]): string {
  if (codecs.length === 0) return sdp
  const allowed = codecs.map((c) => c.toUpperCase())
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n'
  const lines = sdp.split(/\r?\n/)
  // Sections: the session part, then one per m-line.
  const sections: string[][] = [[]]
  for (const l of lines) {
    if (l.startsWith('m=')) sections.push([])
    sections[sections.length - 1]!.push(l)
  }
  for (let i = 1; i < sections.length; i++) sections[i] = filterSection(sections[i]!, allowed)
  return sections.flat().join(eol)
}

function filterSection(section: string[], allowed: string[]): string[] {
  const m = /^m=audio (\S+) (\S+) (.*)$/.exec(section[0]!)
  if (m === null) return section
  const pts = m[3]!.trim().split(/\s+/)
  const names = new Map<string, string>()
  for (const pt of pts) if (STATIC[pt] !== undefined) names.set(pt, STATIC[pt]!)
  for (const l of section) {
    const r = /^a=rtpmap:(\d+) ([^/\s]+)/.exec(l)
    if (r) names.set(r[1]!, r[2]!.toUpperCase())
  }
  const voice = pts.filter((pt) => allowed.includes(names.get(pt) ?? ''))
  if (voice.length === 0) return section
  voice.sort((a, b) => allowed.indexOf(names.get(a)!) - allowed.indexOf(names.get(b)!))
  const keep = [...voice, ...pts.filter((pt) => NOT_VOICE.has(names.get(pt) ?? ''))]
  const kept = new Set(keep)
  const out = [`m=audio ${m[1]} ${m[2]} ${keep.join(' ')}`]
  for (const l of section.slice(1)) {
    const p = /^a=(?:rtpmap|fmtp|rtcp-fb):(\d+|\*)[ :]/.exec(l)
    if (p && p[1] !== '*' && !kept.has(p[1]!)) continue
    out.push(l)
  }
  return out
}

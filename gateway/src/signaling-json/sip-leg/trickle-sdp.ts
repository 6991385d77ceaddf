/**
 * SDP text work for trickle ICE (RFC 8838) over SIP (RFC 8840): folding trickled candidates
 * into a complete SDP (half trickle, RFC 8838 §4 / RFC 8840 §4.2), and building and reading
 * the `application/trickle-ice-sdpfrag` bodies of INFO requests (RFC 8840 §9).
 *
 * A candidate is the JSON protocol's shape (the WebRTC `RTCIceCandidateInit`): `candidate` is
 * the attribute text `candidate:...` (RFC 8839 §5.1, no `a=`), `''` marks the end of
 * candidates (RFC 8838 §8); `sdpMid` names the m-section by its `a=mid` (RFC 8843 §9.1),
 * `sdpMLineIndex` by position (0-based) when there is no mid. Pure functions, no I/O.
 */

/** One trickled candidate (RTCIceCandidateInit); `candidate: ''` is the end-of-candidates marker. */
export interface TrickledCandidate {
  candidate: string
  sdpMid?: string | null
  sdpMLineIndex?: number | null
}

/** The option tag and Info-Package name (RFC 8840 §10.1, §10.4). */
export const TRICKLE_ICE = 'trickle-ice'
/** Content-Type of the INFO bodies (RFC 8840 §10.3). */
export const SDPFRAG_TYPE = 'application/trickle-ice-sdpfrag'

interface Section {
  /** Index of the m= line in `lines` (-1: the session part). */
  start: number
  end: number
  mid: string | undefined
}

function splitLines(sdp: string): string[] {
  const lines = sdp.split(/\r?\n/)
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop()
  return lines
}

function sectionsOf(lines: string[]): Section[] {
  const out: Section[] = []
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('m=')) continue
    if (out.length > 0) out[out.length - 1]!.end = i
    out.push({ start: i, end: lines.length, mid: undefined })
  }
  for (const s of out) {
    for (let i = s.start + 1; i < s.end; i++) {
      const m = /^a=mid:(\S+)/.exec(lines[i]!)
      if (m) {
        s.mid = m[1]
        break
      }
    }
  }
  return out
}

/** The index of the m-section a candidate belongs to: by `sdpMid`, else `sdpMLineIndex`; -1 when none matches. */
function sectionIndex(sections: Section[], c: TrickledCandidate): number {
  if (c.sdpMid !== undefined && c.sdpMid !== null && c.sdpMid !== '') {
    const i = sections.findIndex((s) => s.mid === c.sdpMid)
    if (i >= 0) return i
  }
  const n = c.sdpMLineIndex
  return typeof n === 'number' && n >= 0 && n < sections.length ? n : -1
}

/** `candidate:...` (or `a=candidate:...`) as an SDP line; null for anything else. */
function candidateLine(text: string): string | null {
  const t = text.trim().replace(/^a=/, '')
  return /^candidate:\S/.test(t) && !/[\r\n]/.test(t) ? `a=${t}` : null
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/

/**
 * `sdp` with the candidates added as `a=candidate` lines at the end of their m-section
 * (RFC 8839 §5.1; duplicates and candidates naming no m-section are skipped), and
 * `a=end-of-candidates` (RFC 8840 §8.2) in every m-section when `end`. A section still
 * showing the placeholder default (port 9, `c=... 0.0.0.0`, RFC 8840 §4.1.1) gets the first
 * component-1 UDP candidate with an IP address as its default (RFC 8839 §4.2.1.3).
 * Line ends are CRLF. The SDP is otherwise untouched.
 */
export function foldCandidates(sdp: string, candidates: readonly TrickledCandidate[], end: boolean): string {
  const lines = splitLines(sdp)
  const sections = sectionsOf(lines)
  const extra: string[][] = sections.map(() => [])
  for (const c of candidates) {
    const line = candidateLine(c.candidate)
    if (line === null) continue
    const i = sectionIndex(sections, c)
    if (i < 0) continue
    const s = sections[i]!
    if (extra[i]!.includes(line) || lines.slice(s.start, s.end).includes(line)) continue
    extra[i]!.push(line)
  }
  const out: string[] = lines.slice(0, sections[0]?.start ?? lines.length)
  sections.forEach((s, i) => {
    const body = lines.slice(s.start, s.end)
    const all = [...body.filter((l) => l.startsWith('a=candidate:')), ...extra[i]!]
    setDefaultCandidate(body, all)
    const tail = extra[i]!.slice()
    const hasEnd = body.includes('a=end-of-candidates')
    if (end && !hasEnd) tail.push('a=end-of-candidates')
    out.push(...body, ...tail)
  })
  return out.join('\r\n') + '\r\n'
}

/** RFC 8839 §4.2.1.3: the default destination from the first component-1 UDP IPv4 candidate, if the section has none yet. */
function setDefaultCandidate(body: string[], candidateLines: string[]): void {
  const m = /^m=(\S+) (\d+) (.*)$/.exec(body[0]!)
  const cIndex = body.findIndex((l) => l.startsWith('c='))
  if (m === null || m[2] !== '9' || (cIndex >= 0 && !/ 0\.0\.0\.0$/.test(body[cIndex]!))) return
  for (const line of candidateLines) {
    // candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type>
    const f = line.slice('a=candidate:'.length).split(' ')
    if (f[1] !== '1' || f[2]?.toLowerCase() !== 'udp' || !IPV4.test(f[4] ?? '')) continue
    body[0] = `m=${m[1]} ${f[5]} ${m[3]}`
    if (cIndex >= 0) body[cIndex] = `c=IN IP4 ${f[4]}`
    return
  }
}

/** The first `a=ice-ufrag` / `a=ice-pwd` of an SDP or sdpfrag (session or media level, RFC 8839 §5.4). */
export function iceCredentials(sdp: string): { ufrag?: string; pwd?: string } {
  const ufrag = /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1]
  const pwd = /^a=ice-pwd:(\S+)/m.exec(sdp)?.[1]
  return { ...(ufrag ? { ufrag } : {}), ...(pwd ? { pwd } : {}) }
}

/**
 * `sdp` with `a=ice-options:trickle` (RFC 8840 §4.1, RFC 8838 §5.1) at session level unless
 * some line already announces it (browsers put it in every m-section).
 */
export function withTrickleOption(sdp: string): string {
  if (/^a=ice-options:.*\btrickle\b/m.test(sdp)) return sdp
  const lines = splitLines(sdp)
  const firstMedia = lines.findIndex((l) => l.startsWith('m='))
  const at = firstMedia < 0 ? lines.length : firstMedia
  lines.splice(at, 0, 'a=ice-options:trickle')
  return lines.join('\r\n') + '\r\n'
}

/** Whether an SDP announces trickle ICE support (`a=ice-options:trickle`, RFC 8838 §5.1). */
export function announcesTrickle(sdp: string): boolean {
  return /^a=ice-options:.*\btrickle\b/m.test(sdp)
}

/**
 * An `application/trickle-ice-sdpfrag` body (RFC 8840 §9.2): the ICE credentials of the
 * session `sdp` (so the receiver can tell an ICE restart), then for each m-section with
 * candidates (or, when `end`, every m-section) its m= line with port 9 (RFC 8840 §9: the
 * line only places what follows), its `a=mid`, the `a=candidate` lines and
 * `a=end-of-candidates`. Null when no candidate names an m-section of `sdp` and `end` is false.
 */
export function buildSdpFrag(sdp: string, candidates: readonly TrickledCandidate[], end: boolean): string | null {
  const lines = splitLines(sdp)
  const sections = sectionsOf(lines)
  const per: string[][] = sections.map(() => [])
  for (const c of candidates) {
    const line = candidateLine(c.candidate)
    const i = line === null ? -1 : sectionIndex(sections, c)
    if (i >= 0 && !per[i]!.includes(line!)) per[i]!.push(line!)
  }
  if (!end && per.every((p) => p.length === 0)) return null
  const { ufrag, pwd } = iceCredentials(sdp)
  const out: string[] = []
  if (ufrag) out.push(`a=ice-ufrag:${ufrag}`)
  if (pwd) out.push(`a=ice-pwd:${pwd}`)
  sections.forEach((s, i) => {
    if (!end && per[i]!.length === 0) return
    const m = /^m=(\S+) \d+(?:\/\d+)? (.*)$/.exec(lines[s.start]!)
    out.push(m ? `m=${m[1]} 9 ${m[2]}` : lines[s.start]!)
    if (s.mid !== undefined) out.push(`a=mid:${s.mid}`)
    out.push(...per[i]!)
    if (end) out.push('a=end-of-candidates')
  })
  return out.join('\r\n') + '\r\n'
}

/** What an sdpfrag carries: credentials, candidates with their m-section, the end marker. */
export interface SdpFrag {
  ufrag?: string
  pwd?: string
  /** Candidates in order; `sdpMid` from the section's `a=mid`, `sdpMLineIndex` its position in the fragment. */
  candidates: TrickledCandidate[]
  /** `a=end-of-candidates` appeared (at session level or in any section). */
  end: boolean
}

/**
 * Reads an `application/trickle-ice-sdpfrag` body (RFC 8840 §9.2). Lines it does not know are
 * ignored; a candidate before any m= line belongs to the first section (index 0, no mid).
 */
export function parseSdpFrag(body: string): SdpFrag {
  const frag: SdpFrag = { candidates: [], end: false }
  let index = -1
  let mid: string | undefined
  const pending: TrickledCandidate[] = []
  const flush = (): void => {
    for (const c of pending) frag.candidates.push({ candidate: c.candidate, sdpMid: mid ?? null, sdpMLineIndex: Math.max(index, 0) })
    pending.length = 0
  }
  for (const raw of splitLines(body)) {
    const line = raw.trim()
    if (line.startsWith('m=')) {
      flush()
      index++
      mid = undefined
    } else if (line.startsWith('a=mid:')) {
      mid = line.slice(6).trim()
    } else if (line.startsWith('a=candidate:')) {
      pending.push({ candidate: line.slice(2) })
    } else if (line === 'a=end-of-candidates') {
      frag.end = true
    } else if (line.startsWith('a=ice-ufrag:')) {
      frag.ufrag ??= line.slice(12).trim()
    } else if (line.startsWith('a=ice-pwd:')) {
      frag.pwd ??= line.slice(10).trim()
    }
  }
  flush()
  return frag
}

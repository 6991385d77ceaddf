/**
 * Finds where things are written in a YAML file, for `file:line field: message` errors.
 *
 * `Bun.YAML.parse` returns plain values without positions, so this reads the text again,
 * line by line, and follows block indentation: a key is `name:` at the indentation of its
 * mapping, a sequence item is `- ` at the indentation of its sequence (which may equal the
 * indentation of the key that owns it), and the first key of an item may sit on the dash
 * line (`- username: alice`). Flow collections (`[a, b]`, `{a: 1}`) are not entered: a
 * path into them resolves to the line of the key that holds them. Anything not found
 * resolves to its nearest written parent.
 *
 * It also reports duplicate keys in one mapping, which `Bun.YAML.parse` silently merges
 * (the last one wins) although YAML 1.2 §3.2.1.1 requires keys to be unique.
 */

/** A JSON path into the parsed document: object keys and array indices. */
export type YamlPath = readonly (string | number)[]

/** A key written twice in one mapping. */
export interface DuplicateKey {
  /** 1-based line of the second (ignored-by-nobody, winning) occurrence. */
  line: number
  /** 1-based line of the first occurrence. */
  firstLine: number
  /** Dotted path of the key, e.g. `sip` or `users[1].ha1`. */
  field: string
}

interface Line {
  /** 1-based line number. */
  no: number
  /** Columns of leading spaces. */
  indent: number
  /** The line without its indentation (never empty, never a comment). */
  text: string
}

function isDash(text: string): boolean {
  return text === '-' || text.startsWith('- ') || text.startsWith('-\t')
}

/** Splits `key: rest` (plain, "double" or 'single' quoted key). null when not a key line. */
function splitKey(text: string): { key: string; rest: string } | null {
  let m: RegExpExecArray | null
  let key: string
  if (text.startsWith('"')) {
    m = /^"((?:[^"\\]|\\.)*)"\s*:(?:\s+(.*))?$/.exec(text)
    if (!m) return null
    try {
      key = JSON.parse(`"${m[1]}"`) as string
    } catch {
      key = m[1]!
    }
  } else if (text.startsWith("'")) {
    m = /^'((?:[^']|'')*)'\s*:(?:\s+(.*))?$/.exec(text)
    if (!m) return null
    key = m[1]!.replace(/''/g, "'")
  } else {
    m = /^([^\s#:[\]{},][^#]*?)\s*:(?:\s+(.*))?$/.exec(text)
    if (!m) return null
    key = m[1]!
  }
  return { key, rest: (m[2] ?? '').trim() }
}

/** True when a value text (after `key:` or `- `) is empty or only a comment: a block follows. */
function isBlockStart(rest: string): boolean {
  return rest === '' || rest.startsWith('#')
}

/** True for `|`, `>`, `|-`, `>+2`... : a block scalar whose more-indented lines are text. */
function isBlockScalar(rest: string): boolean {
  return /^[|>][-+0-9]*\s*(#.*)?$/.test(rest)
}

function joinPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`
}

/** Line lookups in one YAML text. */
export class YamlLocator {
  private readonly lines: Line[] = []

  constructor(text: string) {
    const raw = text.split(/\r\n|\n|\r/)
    for (let i = 0; i < raw.length; i++) {
      const l = raw[i]!
      let indent = 0
      while (indent < l.length && l.charCodeAt(indent) === 0x20) indent++
      const body = l.slice(indent).trimEnd()
      if (body === '' || body.startsWith('#')) continue
      if (indent === 0 && (body === '---' || body === '...' || body.startsWith('--- ') || body.startsWith('%'))) continue
      this.lines.push({ no: i + 1, indent, text: body })
    }
  }

  /**
   * 1-based line where `path` is written, or where its nearest written parent is.
   * The empty path (the document itself) gives the first written line (1 when none).
   */
  lineOf(path: YamlPath): number {
    let scope: Line[] = this.lines
    let best = this.lines[0]?.no ?? 1
    for (const seg of path) {
      if (scope.length === 0) break
      const ind = scope[0]!.indent
      if (typeof seg === 'number') {
        const items: number[] = []
        for (let k = 0; k < scope.length; k++) {
          if (scope[k]!.indent === ind && isDash(scope[k]!.text)) items.push(k)
        }
        if (seg < 0 || seg >= items.length) break
        const k = items[seg]!
        const end = seg + 1 < items.length ? items[seg + 1]! : scope.length
        const dash = scope[k]!
        best = dash.no
        const after = dash.text.slice(1)
        const rest = after.trimStart()
        const next: Line[] = []
        if (!isBlockStart(rest)) next.push({ no: dash.no, indent: dash.indent + 1 + (after.length - rest.length), text: rest })
        for (let j = k + 1; j < end; j++) next.push(scope[j]!)
        // A dash line holding a scalar or flow value ("- foo", "- [a]") has no deeper lines.
        scope = next.length > 0 && next[0]!.no === dash.no && splitKey(next[0]!.text) === null && !isDash(next[0]!.text) ? [] : next
      } else {
        let found = -1
        let kv: { key: string; rest: string } | null = null
        for (let k = 0; k < scope.length; k++) {
          const l = scope[k]!
          if (l.indent !== ind || isDash(l.text)) continue
          const s = splitKey(l.text)
          if (s !== null && s.key === seg) {
            found = k
            kv = s
            break
          }
        }
        if (found < 0 || kv === null) break
        best = scope[found]!.no
        let j = found + 1
        while (j < scope.length && (scope[j]!.indent > ind || (scope[j]!.indent === ind && isDash(scope[j]!.text)))) j++
        scope = isBlockStart(kv.rest) ? scope.slice(found + 1, j) : []
      }
    }
    return best
  }

  /** Keys written twice in the same block mapping, in file order. */
  duplicateKeys(): DuplicateKey[] {
    interface Frame {
      indent: number
      keys: Map<string, number>
      path: string
      lastKey: string | null
    }
    const out: DuplicateKey[] = []
    const stack: Frame[] = []
    const seqCount = new Map<string, number>()
    let skipDeeperThan = -1

    const addKey = (frame: Frame, key: string, no: number): void => {
      const first = frame.keys.get(key)
      if (first !== undefined) out.push({ line: no, firstLine: first, field: joinPath(frame.path, key) })
      else frame.keys.set(key, no)
      frame.lastKey = key
    }

    for (const line of this.lines) {
      if (skipDeeperThan >= 0) {
        if (line.indent > skipDeeperThan) continue
        skipDeeperThan = -1
      }
      if (isDash(line.text)) {
        while (stack.length > 0 && stack[stack.length - 1]!.indent > line.indent) stack.pop()
        const top = stack[stack.length - 1]
        const parent = top === undefined ? '' : top.lastKey === null ? top.path : joinPath(top.path, top.lastKey)
        const idx = seqCount.get(parent) ?? 0
        seqCount.set(parent, idx + 1)
        const after = line.text.slice(1)
        const rest = after.trimStart()
        const kv = splitKey(rest)
        if (kv !== null) {
          const indent = line.indent + 1 + (after.length - rest.length)
          const frame: Frame = { indent, keys: new Map(), path: `${parent}[${idx}]`, lastKey: null }
          stack.push(frame)
          addKey(frame, kv.key, line.no)
          if (isBlockScalar(kv.rest)) skipDeeperThan = indent
        } else if (isBlockScalar(rest)) {
          skipDeeperThan = line.indent
        }
        continue
      }
      const kv = splitKey(line.text)
      if (kv === null) continue
      while (stack.length > 0 && stack[stack.length - 1]!.indent > line.indent) stack.pop()
      let top = stack[stack.length - 1]
      if (top === undefined || top.indent !== line.indent) {
        const path = top === undefined ? '' : top.lastKey === null ? top.path : joinPath(top.path, top.lastKey)
        top = { indent: line.indent, keys: new Map(), path, lastKey: null }
        stack.push(top)
      }
      addKey(top, kv.key, line.no)
      if (isBlockScalar(kv.rest)) skipDeeperThan = line.indent
    }
    return out
  }
}

/**
 * CSV export of call detail records (RFC 4180): a header row, CRLF line endings, fields
 * quoted when they hold a comma, a double quote, CR or LF (quotes doubled, §2 rules 5-7),
 * times in ISO 8601 UTC (`2026-12-04T20:37:11.000Z`), empty fields for nulls.
 *
 * Spreadsheet formula injection: a text field that starts with `=`, `@`, TAB or CR, or with
 * `+` / `-` followed by anything but digits, is prefixed with `'` (OWASP "CSV Injection"),
 * since reason phrases and URIs come from the network. A plain number such as `+4930123`
 * is left as it is.
 */
import type { CdrQuery, StoredCdr } from '../store/cdr-store.ts'

/** Column names of the export, in order (the table's column names). */
export const CDR_CSV_COLUMNS = [
  'id', 'call_id', 'from_tag', 'start', 'answer', 'end', 'duration_s', 'ring_s', 'caller', 'caller_user',
  'dialed', 'routed', 'direction', 'trunk', 'rule', 'status', 'reason', 'ended_by', 'media_path', 'codec',
] as const

const NEEDS_QUOTES = /[",\r\n]/
const FORMULA = /^(?:[=@\t\r]|[+-](?![0-9]*$))/

/** One CSV field: neutralised against formulas, quoted when needed (RFC 4180 §2). */
export function csvField(value: string | number | null): string {
  if (value === null) return ''
  if (typeof value === 'number') return String(value)
  let s = value
  if (FORMULA.test(s)) s = `'${s}`
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString()
}

/** The header line, CRLF-terminated. */
export function cdrCsvHeader(): string {
  return CDR_CSV_COLUMNS.join(',') + '\r\n'
}

/** One record as a CSV line, CRLF-terminated, columns as CDR_CSV_COLUMNS. */
export function cdrCsvRow(c: StoredCdr): string {
  return [
    c.id, c.callId, c.fromTag, iso(c.start), iso(c.answer), iso(c.end), c.durationS, c.ringS, c.caller, c.callerUser,
    c.dialed, c.routed, c.direction, c.trunk, c.rule, c.status, c.reason, c.endedBy, c.mediaPath, c.codec,
  ].map(csvField).join(',') + '\r\n'
}

/** What the export reads (CdrStore, cdr-reader.ts CdrReader). */
export interface CdrPageSource {
  pages(q: CdrQuery, pageRows?: number): Iterator<StoredCdr[]> | AsyncIterator<StoredCdr[]>
}

/**
 * A UTF-8 byte stream of the header and every matching row, newest first. Rows are read one
 * page (`pageRows`) per pull, so a large export is produced as the client reads it instead
 * of being built in memory, and other work runs between pages. A read error errors the stream.
 */
export function cdrCsvStream(source: CdrPageSource, q: CdrQuery, pageRows = 1000): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder()
  let pages: Iterator<StoredCdr[]> | AsyncIterator<StoredCdr[]> | null = null
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (pages === null) {
        pages = source.pages(q, pageRows)
        controller.enqueue(encoder.encode(cdrCsvHeader()))
        return
      }
      const next = await pages.next()
      if (next.done === true) {
        controller.close()
        return
      }
      let text = ''
      for (const c of next.value) text += cdrCsvRow(c)
      controller.enqueue(encoder.encode(text))
    },
    async cancel() {
      await pages?.return?.(undefined)
    },
  })
}

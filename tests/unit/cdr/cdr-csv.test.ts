import { describe, expect, test } from 'bun:test'
import { CDR_CSV_COLUMNS, cdrCsvHeader, cdrCsvRow, cdrCsvStream, csvField } from '../../../gateway/src/cdr/cdr-csv.ts'
import { CdrStore, openCdrDatabase, type StoredCdr } from '../../../gateway/src/store/cdr-store.ts'
import { FakeScheduler } from '../../support/fake-scheduler.ts'

const T0 = Date.UTC(2026, 11, 4, 20, 0, 0)

function stored(over: Partial<StoredCdr> = {}): StoredCdr {
  return {
    id: 7, callId: 'a84b4c76e66710@pc33', fromTag: '1928301774', start: T0, answer: T0 + 2500, end: T0 + 62_500,
    durationS: 60, ringS: 2.5, caller: 'sip:alice@patchbay.test', callerUser: 'alice', dialed: 'sip:+4930123456@patchbay.test',
    routed: 'sip:+4930123456@carrier.example', direction: 'outbound', trunk: 'carrier', rule: 'national',
    status: 200, reason: 'BYE', endedBy: 'callee', mediaPath: 'anchored', codec: 'PCMU', ...over,
  }
}

/** Minimal RFC 4180 reader, to check that what we write reads back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') { field += '"'; i++ } else if (ch === '"') quoted = false
      else field += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') { row.push(field); field = '' } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field); rows.push(row); row = []; field = ''; i++
    } else field += ch
  }
  expect(field).toBe('')
  return rows
}

describe('CDR CSV (RFC 4180)', () => {
  test('fields: quoted only when needed, quotes doubled, numbers and nulls plain', () => {
    expect(csvField('plain')).toBe('plain')
    expect(csvField('a,b')).toBe('"a,b"')
    expect(csvField('say "hi"')).toBe('"say ""hi"""')
    expect(csvField('line1\r\nline2')).toBe('"line1\r\nline2"')
    expect(csvField('lf\nonly')).toBe('"lf\nonly"')
    expect(csvField(12.5)).toBe('12.5')
    expect(csvField(null)).toBe('')
    expect(csvField('')).toBe('')
  })

  test('formula-looking text is neutralised; E.164 numbers are not', () => {
    expect(csvField('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"')
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)")
    expect(csvField('-2+3')).toBe("'-2+3")
    expect(csvField('+cmd|x')).toBe("'+cmd|x")
    expect(csvField('+4930123456')).toBe('+4930123456')
    expect(csvField('sip:=x@h')).toBe('sip:=x@h')
  })

  test('header and row: ISO 8601 UTC times, CRLF, columns in order, empty for nulls', () => {
    expect(cdrCsvHeader()).toBe(CDR_CSV_COLUMNS.join(',') + '\r\n')
    expect(cdrCsvRow(stored())).toBe('7,a84b4c76e66710@pc33,1928301774,2026-12-04T20:00:00.000Z,2026-12-04T20:00:02.500Z,'
      + '2026-12-04T20:01:02.500Z,60,2.5,sip:alice@patchbay.test,alice,sip:+4930123456@patchbay.test,'
      + 'sip:+4930123456@carrier.example,outbound,carrier,national,200,BYE,callee,anchored,PCMU\r\n')
    const failed = cdrCsvRow(stored({ answer: null, durationS: 0, callerUser: null, routed: null, trunk: null, rule: null,
      status: 486, reason: 'Busy, "really"', mediaPath: null, codec: null }))
    const [row] = parseCsv(failed)
    expect(row).toHaveLength(CDR_CSV_COLUMNS.length)
    expect(row![CDR_CSV_COLUMNS.indexOf('answer')]).toBe('')
    expect(row![CDR_CSV_COLUMNS.indexOf('reason')]).toBe('Busy, "really"')
    expect(row![CDR_CSV_COLUMNS.indexOf('status')]).toBe('486')
  })

  test('the stream yields the header, then every matching row page by page, and reads back', async () => {
    const db = openCdrDatabase(':memory:')
    const store = new CdrStore(db, { scheduler: new FakeScheduler(), maxAgeDays: 0 })
    for (let i = 0; i < 2500; i++) {
      store.write({ ...stored({ callId: `call-${i}`, start: T0 + i * 1000, reason: i % 500 === 0 ? 'odd, "one"\r\nhere' : 'BYE' }) })
    }
    store.flush()
    const chunks: Uint8Array[] = []
    const reader = cdrCsvStream(store, { status: 'answered' }, 1000).getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
    }
    expect(chunks).toHaveLength(4) // header + 3 pages
    const rows = parseCsv(new TextDecoder().decode(Buffer.concat(chunks)))
    expect(rows[0]).toEqual([...CDR_CSV_COLUMNS])
    expect(rows).toHaveLength(2501)
    expect(rows[1]![1]).toBe('call-2499')
    expect(rows[2500]![1]).toBe('call-0')
    expect(rows[2500]![CDR_CSV_COLUMNS.indexOf('reason')]).toBe('odd, "one"\r\nhere')
    const limited = await new Response(cdrCsvStream(store, { limit: 3, callee: '+4930' })).text()
    expect(parseCsv(limited).map((r) => r[1])).toEqual(['call_id', 'call-2499', 'call-2498', 'call-2497'])
    store.close()
    db.close()
  })
})

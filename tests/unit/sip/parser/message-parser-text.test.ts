/**
 * parseMessageText (WebSocket text frames, RFC 7118 §5.1) must read every message exactly as
 * parseMessage reads its UTF-8 bytes in message mode: same verdict, same status, same header
 * fields, same body octets. Checked on the 49 RFC 4475 torture messages that are valid UTF-8,
 * and on a message whose body has multi-byte characters (Content-Length counts octets).
 */
import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseMessage, parseMessageText, type ParseResult } from '../../../../gateway/src/sip/parser/message-parser.ts'

const DIR = join(import.meta.dir, '../../../fixtures/rfc4475')
const strict = new TextDecoder('utf-8', { fatal: true })

function summary(r: ParseResult) {
  if (!r.ok) return { ok: false, incomplete: r.incomplete === true, status: 'status' in r ? r.status : null, reason: 'reason' in r ? r.reason : null }
  const m = r.message
  return {
    ok: true,
    start: m.kind === 'request' ? `${m.method} ${m.uri}` : `${m.status} ${m.reason}`,
    headers: m.headers.map((h) => `${h.name}: ${h.value}`),
    body: Array.from(m.body),
  }
}

describe('parseMessageText reads text as parseMessage reads its bytes', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.dat'))
  const texts = files.flatMap((f) => {
    try {
      return [{ file: f, text: strict.decode(readFileSync(join(DIR, f))) }]
    } catch {
      return [] // not UTF-8: cannot arrive as a WebSocket text frame
    }
  })

  test('most torture messages are valid UTF-8 and so take part', () => {
    expect(texts.length).toBeGreaterThan(40)
  })

  for (const { file, text } of texts) {
    test(file, () => {
      expect(summary(parseMessageText(text))).toEqual(summary(parseMessage(new TextEncoder().encode(text))))
    })
  }

  test('a body with multi-byte characters: Content-Length counts octets, extra text is cut', () => {
    const body = 'héllo wörld' // 13 octets
    const head = 'MESSAGE sip:bob@patchbay.test SIP/2.0\r\nVia: SIP/2.0/WS a.invalid;branch=z9hG4bK-1\r\n' +
      'From: <sip:alice@patchbay.test>;tag=1\r\nTo: <sip:bob@patchbay.test>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\n' +
      'Max-Forwards: 70\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n'
    const r = parseMessageText(head + body + 'TRAILING')
    expect(r.ok).toBe(true)
    if (r.ok) expect(new TextDecoder().decode(r.message.body)).toBe(body)
    expect(summary(parseMessageText(head + body))).toEqual(summary(parseMessage(new TextEncoder().encode(head + body))))
  })
})

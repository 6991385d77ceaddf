import { describe, expect, test } from 'bun:test'
import { parseDialTarget } from '../../../../softphone/src/signaling/dial-target.ts'

describe('parseDialTarget', () => {
  test('a user name becomes sip:user@domain', () => {
    expect(parseDialTarget('  bob ', 'patchbay.test')).toEqual({ ok: true, uri: 'sip:bob@patchbay.test', user: 'bob', host: 'patchbay.test' })
  })

  test('a number loses its punctuation, keeps the +', () => {
    const t = parseDialTarget('+1 (555) 010-2030', 'patchbay.test')
    expect(t).toEqual({ ok: true, uri: 'sip:+15550102030@patchbay.test', user: '+15550102030', host: 'patchbay.test' })
  })

  test('# is escaped in the URI (RFC 3261 §25.1) but kept for display', () => {
    const t = parseDialTarget('*97#', 'patchbay.test')
    expect(t.ok && t.uri).toBe('sip:*97%23@patchbay.test')
    expect(t.ok && t.user).toBe('*97#')
  })

  test('user@host and full SIP URIs are kept', () => {
    expect(parseDialTarget('carol@other.example', 'patchbay.test')).toMatchObject({ ok: true, uri: 'sip:carol@other.example', host: 'other.example' })
    expect(parseDialTarget('sips:dave@pbx.example:5061;transport=tls', 'x')).toMatchObject({ ok: true, uri: 'sips:dave@pbx.example:5061;transport=tls', user: 'dave' })
    expect(parseDialTarget('SIP:eve@pbx.example', 'x')).toMatchObject({ ok: true, uri: 'sip:eve@pbx.example' })
  })

  test('empty and malformed input are refused with a sentence', () => {
    expect(parseDialTarget('   ', 'd')).toEqual({ ok: false, message: 'Type a name or number to call.' })
    expect(parseDialTarget('Bob Smith', 'd').ok).toBe(false)
    expect(parseDialTarget('bob@', 'd').ok).toBe(false)
    expect(parseDialTarget('sip:bob@bad host', 'd').ok).toBe(false)
    expect(parseDialTarget('<script>', 'd').ok).toBe(false)
  })
})

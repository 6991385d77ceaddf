import { describe, expect, test } from 'bun:test'
import { decodeBencode, encodeBencode, type BencodeValue } from '../../../../gateway/src/media/rtpengine/bencode.ts'

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

function decoded(input: string | Uint8Array): BencodeValue {
  const r = decodeBencode(input)
  if (!r.ok) throw new Error(`expected a value, got: ${r.reason}`)
  return r.value
}

describe('encodeBencode: BEP 3 known encodings', () => {
  test('byte strings are length-prefixed base ten followed by a colon', () => {
    expect(text(encodeBencode('spam'))).toBe('4:spam')
    expect(text(encodeBencode(''))).toBe('0:')
  })

  test('the length counts UTF-8 bytes, not characters', () => {
    expect(text(encodeBencode('é'))).toBe('2:é')
  })

  test('integers: i3e, i-3e, i0e', () => {
    expect(text(encodeBencode(3))).toBe('i3e')
    expect(text(encodeBencode(-3))).toBe('i-3e')
    expect(text(encodeBencode(0))).toBe('i0e')
    expect(text(encodeBencode(-0))).toBe('i0e')
    expect(text(encodeBencode(2n ** 64n))).toBe('i18446744073709551616e')
  })

  test('lists: l4:spam4:eggse', () => {
    expect(text(encodeBencode(['spam', 'eggs']))).toBe('l4:spam4:eggse')
    expect(text(encodeBencode([]))).toBe('le')
  })

  test('dictionaries: keys sorted as raw strings, undefined values left out', () => {
    expect(text(encodeBencode({ spam: 'eggs', cow: 'moo' }))).toBe('d3:cow3:moo4:spam4:eggse')
    expect(text(encodeBencode({ spam: ['a', 'b'] }))).toBe('d4:spaml1:a1:bee')
    expect(text(encodeBencode({ b: 1, a: undefined, B: 2 }))).toBe('d1:Bi2e1:bi1ee')
  })

  test('the ng ping of the rtpengine docs', () => {
    expect(text(encodeBencode({ command: 'ping' }))).toBe('d7:command4:pinge')
  })

  test('binary byte strings are written as they are', () => {
    const bytes = encodeBencode(Uint8Array.of(0, 255, 58))
    expect([...bytes]).toEqual([...new TextEncoder().encode('3:'), 0, 255, 58])
  })

  test('refuses values bencode cannot carry', () => {
    expect(() => encodeBencode(1.5)).toThrow(TypeError)
    expect(() => encodeBencode(Number.NaN)).toThrow(TypeError)
    expect(() => encodeBencode(true as unknown as number)).toThrow(TypeError)
    expect(() => encodeBencode(null as unknown as number)).toThrow(TypeError)
  })
})

describe('decodeBencode', () => {
  test('known encodings', () => {
    expect(decoded('4:spam')).toBe('spam')
    expect(decoded('i3e')).toBe(3)
    expect(decoded('i-3e')).toBe(-3)
    expect(decoded('i0e')).toBe(0)
    expect(decoded('l4:spam4:eggse')).toEqual(['spam', 'eggs'])
    expect(decoded('d3:cow3:moo4:spam4:eggse')).toEqual({ cow: 'moo', spam: 'eggs' })
    expect(decoded('d6:result4:ponge')).toEqual({ result: 'pong' })
  })

  test('keys in any order (rtpengine does not sort them); a repeated key keeps the last value', () => {
    expect(decoded('d7:command5:offer7:call-id2:c1e')).toEqual({ command: 'offer', 'call-id': 'c1' })
    expect(decoded('d1:ai1e1:ai2ee')).toEqual({ a: 2 })
  })

  test('integers beyond 2^53 come back as bigint', () => {
    expect(decoded('i18446744073709551616e')).toBe(18446744073709551616n)
    expect(decoded('i9007199254740991e')).toBe(9007199254740991)
  })

  test('byte strings that are not UTF-8 come back as bytes', () => {
    const input = new Uint8Array([...new TextEncoder().encode('2:'), 0xff, 0xfe])
    expect(decoded(input)).toEqual(Uint8Array.of(0xff, 0xfe))
  })

  test('a "__proto__" key is an own property, not a prototype change', () => {
    const value = decoded('d9:__proto__d1:xi1eee') as Record<string, unknown>
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
    expect(Object.keys(value)).toEqual(['__proto__'])
    expect((value as { x?: unknown }).x).toBeUndefined()
  })

  const malformed: Array<[string, string | Uint8Array, RegExp]> = [
    ['empty input', '', /end of input/],
    ['i-0e', 'i-0e', /invalid integer/],
    ['leading zero', 'i03e', /invalid integer/],
    ['empty integer', 'ie', /invalid integer/],
    ['unterminated integer', 'i12', /unterminated integer/],
    ['string length with leading zero', '04:spam', /invalid string length/],
    ['string past the end', '5:spam', /runs past the end/],
    ['string without colon', '4spam', /without colon/],
    ['unterminated list', 'l4:spam', /unterminated list/],
    ['unterminated dictionary', 'd3:cow3:moo', /unterminated dictionary/],
    ['integer key', 'di1e3:mooe', /key is not a byte string/],
    ['non-UTF-8 key', new Uint8Array([0x64, 0x31, 0x3a, 0xff, 0x69, 0x31, 0x65, 0x65]), /not UTF-8/],
    ['trailing data', 'i1ei2e', /trailing data at offset 3/],
    ['unknown type byte', 'x', /unexpected byte 0x78/],
    ['nesting beyond 64 levels', 'l'.repeat(100) + 'e'.repeat(100), /nesting deeper than 64/],
  ]
  for (const [name, input, reason] of malformed) {
    test(`never throws on malformed input: ${name}`, () => {
      const r = decodeBencode(input)
      expect(r.ok).toBe(false)
      if (!r.ok) expect(r.reason).toMatch(reason)
    })
  }
})

describe('round trips', () => {
  const values: BencodeValue[] = [
    'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\n',
    '',
    0,
    -42,
    Number.MAX_SAFE_INTEGER,
    2n ** 70n,
    [],
    {},
    ['a', 1, ['b', { c: 'd' }]],
    {
      command: 'offer',
      'call-id': 'a84b4c76e66710@pc33.example.com',
      'from-tag': '1928301774',
      sdp: 'v=0\r\ns=é ü\r\n',
      flags: ['generate-mid', 'full-rtcp-attribute'],
      replace: ['origin', 'session-connection'],
      'rtcp-mux': ['demux'],
      nested: { list: [1, 2, 3], empty: '' },
    },
  ]
  for (const value of values) {
    test(`decode(encode(x)) == x for ${JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)).slice(0, 60)}`, () => {
      expect(decoded(encodeBencode(value))).toEqual(value)
    })
  }

  test('encode(decode(bytes)) == bytes for canonical input', () => {
    const canonical = 'd5:callsl2:c12:c2e6:result2:ok5:statsd7:packetsi705eee'
    expect(text(encodeBencode(decoded(canonical)))).toBe(canonical)
  })
})

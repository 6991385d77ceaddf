import { describe, expect, test } from 'bun:test'
import { YamlLocator } from '../../../gateway/src/config/yaml-locator.ts'

const DOC = [
  '# comment',                 // 1
  'domain: patchbay.test',     // 2
  '',                          // 3
  'http:',                     // 4
  '  host: 127.0.0.1   # c',   // 5
  '  port: 8080',              // 6
  'users:',                    // 7
  '  - username: alice',       // 8
  '    ha1: "abc"',            // 9
  '  -',                       // 10
  '    username: bob',         // 11
  '    ha1: def',              // 12
  'auth:',                     // 13
  '  algorithms: [SHA-256, MD5]', // 14
  '  "realm": voice',          // 15
  'notes: |',                  // 16
  '  port: 1',                 // 17
  'aliases:',                  // 18
  '- a.example',               // 19
  '- b.example',               // 20
].join('\n')

describe('YamlLocator.lineOf', () => {
  const loc = new YamlLocator(DOC)

  test('top-level and nested keys', () => {
    expect(loc.lineOf(['domain'])).toBe(2)
    expect(loc.lineOf(['http'])).toBe(4)
    expect(loc.lineOf(['http', 'port'])).toBe(6)
    expect(loc.lineOf(['http', 'host'])).toBe(5)
  })

  test('sequence items: first key on the dash line, or on the next line', () => {
    expect(loc.lineOf(['users', 0])).toBe(8)
    expect(loc.lineOf(['users', 0, 'username'])).toBe(8)
    expect(loc.lineOf(['users', 0, 'ha1'])).toBe(9)
    expect(loc.lineOf(['users', 1])).toBe(10)
    expect(loc.lineOf(['users', 1, 'username'])).toBe(11)
    expect(loc.lineOf(['users', 1, 'ha1'])).toBe(12)
  })

  test('missing things resolve to the nearest written parent', () => {
    expect(loc.lineOf(['users', 0, 'ha1Sha256'])).toBe(8)
    expect(loc.lineOf(['users', 5, 'ha1'])).toBe(7)
    expect(loc.lineOf(['http', 'tls', 'cert'])).toBe(4)
    expect(loc.lineOf(['nothing'])).toBe(2)
    expect(loc.lineOf([])).toBe(2)
  })

  test('flow collections resolve to their key; quoted keys are found', () => {
    expect(loc.lineOf(['auth', 'algorithms', 1])).toBe(14)
    expect(loc.lineOf(['auth', 'realm'])).toBe(15)
  })

  test('block scalar text is not mistaken for keys; compact sequences', () => {
    expect(loc.lineOf(['notes'])).toBe(16)
    expect(loc.lineOf(['aliases', 1])).toBe(20)
  })

  test('CRLF line ends and an empty text', () => {
    expect(new YamlLocator('a: 1\r\nb:\r\n  c: 2\r\n').lineOf(['b', 'c'])).toBe(3)
    expect(new YamlLocator('').lineOf(['x'])).toBe(1)
  })
})

describe('YamlLocator.duplicateKeys', () => {
  test('finds keys written twice in one mapping, with their paths', () => {
    const text = [
      'http:',            // 1
      '  port: 1',        // 2
      '  port: 2',        // 3
      'users:',           // 4
      '  - username: a',  // 5
      '    ha1: x',       // 6
      '    ha1: y',       // 7
      '  - username: b',  // 8
      '    ha1: z',       // 9
      'http:',            // 10
    ].join('\n')
    expect(new YamlLocator(text).duplicateKeys()).toEqual([
      { line: 3, firstLine: 2, field: 'http.port' },
      { line: 7, firstLine: 6, field: 'users[0].ha1' },
      { line: 10, firstLine: 1, field: 'http' },
    ])
  })

  test('the same key in different items or mappings, and inside block scalars, is fine', () => {
    const text = 'a:\n  x: 1\nb:\n  x: 2\nlist:\n  - x: 1\n  - x: 2\ntext: |\n  x: 1\n  x: 2\n'
    expect(new YamlLocator(text).duplicateKeys()).toEqual([])
  })
})

/** The display name of a P-Asserted-Identity (RFC 3325 §9.1), as SIP mode reads it. */
import { describe, expect, test } from 'bun:test'
import { assertedDisplayName } from '../../../../softphone/src/signaling/asserted-identity.ts'

describe('assertedDisplayName', () => {
  test.each([
    ['"Alice Archer" <sip:alice@patchbay.test>', 'Alice Archer'],
    ['Alice Archer <sip:alice@patchbay.test>', 'Alice Archer'],
    ['"Say \\"hi\\" \\\\ there" <sip:x@y>', 'Say "hi" \\ there'],
    ['"Smith, Bob" <sip:bob@x>, <tel:+15551234567>', 'Smith, Bob'],
    ['<tel:+15551234567>, "Bob" <sip:bob@x>', 'Bob'],
    ['<sip:alice@patchbay.test>', ''],
    ['sip:alice@patchbay.test', ''],
    ['""  <sip:alice@patchbay.test>', ''],
    ['', ''],
  ])('%s -> %s', (header, name) => {
    expect(assertedDisplayName(header)).toBe(name)
  })

  test('no header: no name', () => {
    expect(assertedDisplayName(undefined)).toBe('')
  })
})

import { describe, expect, test } from 'bun:test'
import { cleanDialed, rewriteNumber, toE164 } from '../../../../gateway/src/sip/dialplan/number-rewrite.ts'
import { NumberMatcher } from '../../../../gateway/src/sip/dialplan/number-match.ts'

const DE = { countryCode: '49', nationalPrefix: '0', internationalPrefix: '00' }
const US = { countryCode: '1', nationalPrefix: '1', internationalPrefix: '011' }

describe('cleanDialed', () => {
  test('removes RFC 3966 visual separators from numbers, keeps usernames', () => {
    expect(cleanDialed('+49-(30)-123.456')).toBe('+4930123456')
    expect(cleanDialed('*21#')).toBe('*21#')
    expect(cleanDialed('alice')).toBe('alice')
    expect(cleanDialed('a.b-c')).toBe('a.b-c')
    expect(cleanDialed('---')).toBe('---')
  })
})

describe('toE164', () => {
  test('international prefix, national prefix, national number, already E.164', () => {
    expect(toE164('00442079460000', DE)).toEqual({ number: '+442079460000', how: 'international prefix 00 -> +' })
    expect(toE164('0301234567', DE)).toEqual({ number: '+49301234567', how: 'national prefix 0 -> +49' })
    expect(toE164('301234567', DE)).toEqual({ number: '+49301234567', how: 'national number -> +49' })
    expect(toE164('+33142685300', DE)).toEqual({ number: '+33142685300', how: 'already E.164' })
  })

  test('the international prefix is tried before the national one (00 starts with 0)', () => {
    expect(toE164('0033142685300', DE).number).toBe('+33142685300')
  })

  test('NANP: 011 international, 1 national', () => {
    expect(toE164('011442079460000', US).number).toBe('+442079460000')
    expect(toE164('12125550123', US).number).toBe('+12125550123')
    expect(toE164('2125550123', US).number).toBe('+12125550123')
  })

  test('no national prefix', () => {
    expect(toE164('612345678', { countryCode: '34', nationalPrefix: '', internationalPrefix: '00' }).number).toBe('+34612345678')
  })
})

describe('rewriteNumber', () => {
  test('steps in order, only those configured', () => {
    expect(rewriteNumber('0301234', { strip: 0, prepend: '', e164: false }, undefined)).toEqual({ number: '0301234', steps: [] })
    expect(rewriteNumber('9301234', { strip: 1, prepend: '', e164: false }, undefined).number).toBe('301234')
    expect(rewriteNumber('301234', { strip: 0, prepend: '0', e164: true }, DE)).toEqual({
      number: '+49301234',
      steps: [
        { step: 'prepend', from: '301234', to: '0301234', detail: 'prepend "0"' },
        { step: 'e164', from: '0301234', to: '+49301234', detail: 'E.164: national prefix 0 -> +49' },
      ],
    })
  })

  test('strip longer than the number leaves it empty', () => {
    expect(rewriteNumber('12', { strip: 5, prepend: '', e164: false }, undefined).number).toBe('')
  })

  test('E.164 without a numbering plan is a definition error', () => {
    expect(() => rewriteNumber('0301', { strip: 0, prepend: '', e164: true }, undefined)).toThrow(TypeError)
  })
})

describe('NumberMatcher', () => {
  test('every condition must hold; each failing one is named', () => {
    const m = new NumberMatcher({ prefixes: ['00', '+'], pattern: '\\+?[0-9]+', minLength: 8, maxLength: 10 })
    expect(m.test('0044123')).toEqual({ matched: false, reasons: ['length 7 not in 8..10'] })
    expect(m.test('12345678901')).toEqual({ matched: false, reasons: ['does not start with "00" or "+"', 'length 11 not in 8..10'] })
    expect(m.test('00x4412345')).toEqual({ matched: false, reasons: ['does not match /\\+?[0-9]+/'] })
    expect(m.test('+441234567')).toEqual({ matched: true, reasons: ['prefix "+"', 'length 10 in 8..10', 'matches /\\+?[0-9]+/'] })
  })

  test('open length ranges', () => {
    expect(new NumberMatcher({ prefixes: [], minLength: 3 }).test('12').reasons).toEqual(['length 2 < 3'])
    expect(new NumberMatcher({ prefixes: [], minLength: 3 }).test('123').reasons).toEqual(['length 3 >= 3'])
    expect(new NumberMatcher({ prefixes: [], maxLength: 3 }).test('1234').reasons).toEqual(['length 4 > 3'])
  })

  test('patterns match the whole number, alternation included', () => {
    const m = new NumberMatcher({ prefixes: [], pattern: '0900|0137' })
    expect(m.test('0900').matched).toBe(true)
    expect(m.test('0137').matched).toBe(true)
    expect(m.test('09001').matched).toBe(false)
    expect(m.test('10137').matched).toBe(false)
  })
})

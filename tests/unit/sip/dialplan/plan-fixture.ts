/** A small dial plan shared by the dial plan tests (plain definition, as config/ builds it). */
import type { DialPlanDefinition } from '../../../../gateway/src/sip/dialplan/dialplan-definition.ts'

export function fixturePlan(): DialPlanDefinition {
  return {
    classes: ['internal', 'national', 'international'],
    defaultClass: 'internal',
    userClasses: { alice: 'international', bob: 'national' },
    numbering: { countryCode: '49', nationalPrefix: '0', internationalPrefix: '00' },
    ringGroups: [
      { name: 'sales', strategy: 'sequential', members: ['alice', 'bob'], ringSeconds: 15 },
      { name: 'support', strategy: 'parallel', members: ['bob', 'carol'], ringSeconds: 30 },
    ],
    outbound: [
      { name: 'emergency', match: { prefixes: [], pattern: '11[02]' }, class: 'internal', rewrite: { strip: 0, prepend: '', e164: false }, target: { kind: 'trunks', trunks: ['carrier-a', 'carrier-b'] } },
      { name: 'sales-line', match: { prefixes: ['200'], maxLength: 3 }, class: 'internal', rewrite: { strip: 0, prepend: '', e164: false }, target: { kind: 'ring-group', group: 'sales' } },
      { name: 'reception', match: { prefixes: ['9'], minLength: 1, maxLength: 1 }, class: 'internal', rewrite: { strip: 0, prepend: '', e164: false }, target: { kind: 'user', user: 'carol' } },
      { name: 'premium', match: { prefixes: [], pattern: '0900[0-9]+' }, class: 'international', rewrite: { strip: 0, prepend: '', e164: false }, target: { kind: 'trunks', trunks: ['carrier-a'] } },
      { name: 'international', match: { prefixes: ['00', '+'], minLength: 8, maxLength: 17 }, class: 'international', rewrite: { strip: 0, prepend: '', e164: true }, target: { kind: 'trunks', trunks: ['carrier-a', 'carrier-b'] } },
      { name: 'national', match: { prefixes: [], pattern: '0[1-9][0-9]{5,12}' }, class: 'national', rewrite: { strip: 0, prepend: '', e164: true }, target: { kind: 'trunks', trunks: ['carrier-b', 'carrier-a'] } },
      { name: 'outside-line', match: { prefixes: ['8'], minLength: 5 }, class: 'national', rewrite: { strip: 1, prepend: '0', e164: true }, target: { kind: 'trunks', trunks: ['carrier-a'] } },
    ],
    inbound: [
      { name: 'main-number', trunk: 'carrier-a', dids: ['+4930123456', '4930123456'], target: { kind: 'ring-group', group: 'sales' } },
      { name: 'alice-direct', trunk: 'carrier-a', dids: [], pattern: '\\+49301234561[0-9]', target: { kind: 'user', user: 'alice' } },
      { name: 'support-line', trunk: 'office-pbx', dids: ['500'], target: { kind: 'ring-group', group: 'support' } },
    ],
    trunks: [
      { name: 'carrier-a', trusted: false },
      { name: 'carrier-b', trusted: false },
      { name: 'office-pbx', trusted: true, class: 'national' },
      { name: 'partner', trusted: true },
    ],
    users: ['alice', 'bob', 'carol'],
  }
}

/**
 * The admin page's pure modules (softphone/src/admin/): the Prometheus text reader, the
 * chart arithmetic, the call-record filters' query string and the display helpers.
 */
import { describe, expect, test } from 'bun:test'
import { metricValue, parsePrometheusText } from '../../../../softphone/src/admin/prometheus-text.ts'
import { areaPath, linePath, niceTicks, scale, timeTicks } from '../../../../softphone/src/admin/chart-geometry.ts'
import { NO_FILTERS, cdrQueryString, hasFilters } from '../../../../softphone/src/admin/cdr-filters.ts'
import { formatClock, formatCount, formatSpan, relativeTime, shortUri, statusTone, trunkTone } from '../../../../softphone/src/admin/admin-format.ts'

describe('parsePrometheusText', () => {
  const text = [
    '# HELP patchbay_sip_registrar_bindings Registered contacts.',
    '# TYPE patchbay_sip_registrar_bindings gauge',
    'patchbay_sip_registrar_bindings 7',
    'patchbay_sip_transactions{kind="invite_client"} 2',
    'patchbay_sip_transactions{kind="non_invite_server"} 5 1700000000000',
    'patchbay_sip_bans_total{reason="flood",note="a \\"quoted\\" value"} 1',
    'patchbay_sip_call_setup_seconds_bucket{le="+Inf"} 3',
    'garbage line without a value',
    '',
  ].join('\n')
  const samples = parsePrometheusText(text)

  test('reads names, labels (escapes undone) and values; skips comments and unreadable lines', () => {
    expect(samples.length).toBe(5)
    expect(samples[0]).toEqual({ name: 'patchbay_sip_registrar_bindings', labels: {}, value: 7 })
    expect(samples[3]!.labels).toEqual({ reason: 'flood', note: 'a "quoted" value' })
    expect(samples[4]!.labels.le).toBe('+Inf')
  })

  test('metricValue sums the matching samples; undefined when there is none', () => {
    expect(metricValue(samples, 'patchbay_sip_transactions')).toBe(7)
    expect(metricValue(samples, 'patchbay_sip_transactions', { kind: 'invite_client' })).toBe(2)
    expect(metricValue(samples, 'patchbay_nothing')).toBeUndefined()
  })
})

describe('chart geometry', () => {
  test('niceTicks: round steps from 0 to at least the maximum', () => {
    expect(niceTicks(0)).toEqual([0, 1])
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8])
    expect(niceTicks(100)).toEqual([0, 50, 100])
    expect(niceTicks(1234)).toEqual([0, 500, 1000, 1500])
  })

  test('timeTicks: round times inside the range', () => {
    const from = Date.UTC(2026, 11, 4, 20, 3)
    const ticks = timeTicks(from, from + 60 * 60_000, 6)
    expect(ticks.length).toBeGreaterThanOrEqual(3)
    expect(ticks.length).toBeLessThanOrEqual(6)
    expect(ticks.every((t) => t % 600_000 === 0 && t >= from && t <= from + 3_600_000)).toBe(true)
  })

  test('linePath breaks at gaps; areaPath closes each segment on the baseline', () => {
    const x = scale(0, 100, 0, 100)
    const y = scale(0, 10, 50, 0)
    const points = [{ t: 0, v: 0 }, { t: 10, v: 10 }, { t: 90, v: 5 }]
    expect(linePath(points, x, y)).toBe('M0.0,50.0 L10.0,0.0 L90.0,25.0')
    expect(linePath(points, x, y, 20)).toBe('M0.0,50.0 L10.0,0.0 M90.0,25.0')
    expect(areaPath(points.slice(0, 2), x, y, 50)).toBe('M0.0,50.0 L0.0,50.0 L10.0,0.0 L10.0,50.0 Z')
  })
})

describe('call-record filters', () => {
  test('blank filters are left out; local times become UTC ISO 8601; extra parameters are appended', () => {
    expect(cdrQueryString(NO_FILTERS)).toBe('')
    expect(hasFilters(NO_FILTERS)).toBe(false)
    const f = { ...NO_FILTERS, from: '2026-12-04T20:00', caller: ' alice ', status: '4xx', direction: 'outbound' }
    const q = new URLSearchParams(cdrQueryString(f, { limit: 25, offset: 50 }))
    expect(q.get('from')).toBe(new Date('2026-12-04T20:00').toISOString())
    expect(q.get('caller')).toBe('alice')
    expect(q.get('status')).toBe('4xx')
    expect(q.get('direction')).toBe('outbound')
    expect(q.get('limit')).toBe('25')
    expect(q.get('offset')).toBe('50')
    expect(q.has('to')).toBe(false)
    expect(hasFilters(f)).toBe(true)
    expect(cdrQueryString({ ...NO_FILTERS, to: 'not a date' })).toBe('')
  })
})

describe('display helpers', () => {
  test('spans, clocks, relative times, counts', () => {
    expect(formatSpan(42)).toBe('42 s')
    expect(formatSpan(125)).toBe('2 min 5 s')
    expect(formatSpan(7380)).toBe('2 h 3 min')
    expect(formatSpan(200_000)).toBe('2 d 7 h')
    expect(formatClock(75.4)).toBe('1:15')
    expect(formatClock(3725)).toBe('1:02:05')
    expect(relativeTime(12_000, 0)).toBe('in 12 s')
    expect(relativeTime(0, 180_000)).toBe('3 min ago')
    expect(relativeTime(400, 0)).toBe('now')
    expect(formatCount(950)).toBe('950')
    expect(formatCount(1234)).toBe('1.2k')
    expect(formatCount(1_500_000)).toBe('1.5M')
  })

  test('URIs lose scheme and parameters; tones of statuses and trunk states', () => {
    expect(shortUri('<sip:alice@patchbay.test;transport=ws>')).toBe('alice@patchbay.test')
    expect(shortUri('tel:+4930123')).toBe('+4930123')
    expect(statusTone(200)).toBe('good')
    expect(statusTone(486)).toBe('neutral')
    expect(statusTone(503)).toBe('bad')
    expect(trunkTone('registered')).toBe('good')
    expect(trunkTone('down')).toBe('bad')
    expect(trunkTone('unknown')).toBe('warn')
  })
})

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MAX_HISTORY_POINTS, parseHistoryQuery } from '../../../src/api/history-query.ts'

const H = 3_600_000
const D = 24 * H
const NOW = Date.parse('2026-11-29T14:25:00Z')

describe('parseHistoryQuery', () => {
  test('should default to the last 7 days by hour, up to the end of the current hour', () => {
    const result = parseHistoryQuery({}, NOW)
    const to = Date.parse('2026-11-29T15:00:00Z')
    assert.deepEqual(result, { ok: true, query: { from: to - 7 * D, to, step: 'hour' } })
  })

  test('should stop the default span at 0000-01-01, the earliest time the API takes', () => {
    for (const step of ['hour', 'day']) {
      const result = parseHistoryQuery({ to: '0000-01-01T00:00:00.001Z', step }, NOW)
      assert.ok(result.ok, step)
      assert.equal(new Date(result.query.from).toISOString(), '0000-01-01T00:00:00.000Z', step)
      assert.equal(
        new Date(result.query.to).toISOString(),
        step === 'hour' ? '0000-01-01T01:00:00.000Z' : '0000-01-02T00:00:00.000Z',
      )
    }
    // Nothing is before year 0000: the parameter at fault is the one given.
    assert.deepEqual(parseHistoryQuery({ to: '0000-01-01T00:00:00Z' }, NOW), {
      ok: false,
      error: { parameter: 'to', message: 'to must be after 0000-01-01T00:00:00Z' },
    })
  })

  test('should round from down and to up to whole steps', () => {
    const result = parseHistoryQuery({ from: '2026-11-01T10:30', to: '2026-11-03T00:00:00.001Z', step: 'day' }, NOW)
    assert.deepEqual(result, {
      ok: true,
      query: { from: Date.parse('2026-11-01T00:00:00Z'), to: Date.parse('2026-11-04T00:00:00Z'), step: 'day' },
    })
    const exact = parseHistoryQuery({ from: String(Date.parse('2026-11-01T10:00:00Z')), to: '2026-11-01T12:00Z' }, NOW)
    assert.ok(exact.ok)
    assert.equal((exact.query.to - exact.query.from) / H, 2)
  })

  test('should name the parameter at fault', () => {
    const cases: Array<[Record<string, string | string[]>, string, RegExp]> = [
      [{ step: 'week' }, 'step', /hour or day/],
      [{ from: 'yesterday' }, 'from', /ISO-8601/],
      [{ to: '2026-13-01' }, 'to', /ISO-8601/],
      [{ from: '2026-11-02', to: '2026-11-01' }, 'from', /before to/],
      [{ from: '2020-01-01', to: '2026-01-01' }, 'from', new RegExp(`at most ${MAX_HISTORY_POINTS} steps.*step=day`)],
      [{ from: ['2026-11-01', '2026-11-02'] }, 'from', /at most once/],
      [{ limit: '3' }, 'limit', /unknown parameter/],
      // 2,001 days: narrowing is the only way left, so the message does not suggest step=day.
      [{ step: 'day', from: '0', to: '172886400000' }, 'from', /2001\. Narrow it$/],
    ]
    for (const [raw, parameter, message] of cases) {
      const result = parseHistoryQuery(raw, NOW)
      assert.ok(!result.ok, JSON.stringify(raw))
      assert.equal(result.error.parameter, parameter, JSON.stringify(raw))
      assert.match(result.error.message, message)
    }
  })

  test('should accept 2,000 days by day, the widest answer', () => {
    const result = parseHistoryQuery({ from: String(NOW - 1999 * D), step: 'day' }, NOW)
    assert.ok(result.ok)
    assert.equal((result.query.to - result.query.from) / D, MAX_HISTORY_POINTS)
  })
})

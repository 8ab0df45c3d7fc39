import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { TopkQuerySchema } from '../../../src/api/schemas.ts'
import { parseTopkQuery, type RawQuery, TOPK_PARAMETERS, windowOf } from '../../../src/api/topk-query.ts'

const MAX_K = 1000
const DAY = 86_400_000
// 2021-03-10T00:00:00Z: the service's "now" in these tests
const NOW = Date.parse('2021-03-10T00:00:00Z')
const OPTIONS = { maxK: MAX_K, maxWindowMs: 31 * DAY, now: NOW }

function ok(raw: RawQuery) {
  const result = parseTopkQuery(raw, OPTIONS)
  assert.ok(result.ok, `expected ${JSON.stringify(raw)} to be accepted, got ${JSON.stringify(result)}`)
  return result.query
}

function rejected(raw: RawQuery) {
  const result = parseTopkQuery(raw, OPTIONS)
  assert.ok(!result.ok, `expected ${JSON.stringify(raw)} to be refused`)
  return result.error
}

describe('parseTopkQuery', () => {
  test('should default to k = 10, all-time, no filters', () => {
    assert.deepEqual(ok({}), { k: 10, filters: {} })
  })

  test('should accept k from 1 to the maximum', () => {
    assert.equal(ok({ k: '1' }).k, 1)
    assert.equal(ok({ k: '1000' }).k, 1000)
    assert.equal(ok({ k: '007' }).k, 7)
    assert.equal(parseTopkQuery({ k: '5' }, { ...OPTIONS, maxK: 4 }).ok, false)
  })

  for (const k of [
    '0',
    '-1',
    '1.5',
    'abc',
    '',
    '1e3',
    '+5',
    ' 5',
    '5 ',
    '0x10',
    '1001',
    '1000000000000000000000000000000',
    'NaN',
    'Infinity',
  ]) {
    test(`should refuse k=${JSON.stringify(k)} with the range in the message`, () => {
      assert.deepEqual(rejected({ k }), { parameter: 'k', message: 'k must be an integer from 1 to 1000' })
    })
  }

  test('should refuse a repeated parameter', () => {
    assert.deepEqual(rejected({ k: ['5', '5'] }), { parameter: 'k', message: 'k must be given at most once' })
    assert.equal(rejected({ country: ['us', 'de'] }).parameter, 'country')
  })

  test('should refuse an unknown parameter and name it', () => {
    const error = rejected({ k: '5', limit: '3' })
    assert.equal(error.parameter, 'limit')
    assert.match(error.message, /unknown parameter "limit"; known parameters: k, date, from, to/)
    assert.equal(rejected({ ['x'.repeat(500)]: '1' }).parameter.length, 41)
  })

  test('should read a date as a UTC day number', () => {
    assert.equal(ok({ date: '1970-01-02' }).day, 1)
    assert.equal(ok({ date: '2021-03-01' }).day, Date.parse('2021-03-01T00:00:00Z') / 86_400_000)
    assert.equal(ok({ date: '2024-02-29' }).day, Date.parse('2024-02-29T00:00:00Z') / 86_400_000)
  })

  for (const date of [
    '2021-02-30',
    '2023-02-29',
    '2021-13-01',
    '2021-00-10',
    '2021-1-1',
    '20210301',
    '2021-03-01T00:00Z',
    '',
    'today',
  ]) {
    test(`should refuse the impossible or malformed date ${JSON.stringify(date)}`, () => {
      assert.deepEqual(rejected({ date }), {
        parameter: 'date',
        message: 'date must be a calendar day as YYYY-MM-DD, such as 2021-03-01',
      })
    })
  }

  test('should read from and to as ISO-8601 (UTC without a zone) or epoch ms', () => {
    const noon = Date.parse('2021-03-01T12:00:00Z')
    assert.deepEqual(ok({ from: '2021-03-01T12:00:00Z', to: String(noon + 1) }).window, { from: noon, to: noon + 1 })
    assert.equal(ok({ from: '2021-03-01T12:00' }).window?.from, noon)
    assert.equal(ok({ from: '2021-03-01 12:00:00.5' }).window?.from, noon + 500)
    assert.equal(ok({ from: '2021-03-01T12:00:00.123456789Z' }).window?.from, noon + 123)
    assert.equal(ok({ from: '2021-03-01T14:30:00+02:30' }).window?.from, noon)
    assert.equal(ok({ from: '2021-03-01T09:00:00-0300' }).window?.from, noon)
    assert.equal(ok({ from: '2021-03-01' }).window?.from, Date.parse('2021-03-01T00:00:00Z'))
  })

  test('should end a window without to at now', () => {
    assert.deepEqual(ok({ from: '2021-03-01' }).window, { from: Date.parse('2021-03-01T00:00:00Z'), to: NOW })
  })

  test('should refuse to without from: the window would reach back to year 0', () => {
    const error = rejected({ to: '2021-03-01' })
    assert.equal(error.parameter, 'from')
    assert.match(error.message, /a window needs from/)
  })

  test('should refuse a window wider than TOPK_MAX_WINDOW_DAYS, and take one exactly that wide', () => {
    assert.ok(ok({ from: String(NOW - 31 * DAY), to: String(NOW) }).window)
    const error = rejected({ from: String(NOW - 31 * DAY - 1), to: String(NOW) })
    assert.equal(error.parameter, 'from')
    assert.match(error.message, /a window spans at most 31 days \(TOPK_MAX_WINDOW_DAYS\); this one spans 32/)
    assert.match(rejected({ from: '0000-01-01' }).message, /spans at most 31 days/, 'an early from without to')
  })

  test('should refuse a window whose from is not before its to', () => {
    assert.deepEqual(rejected({ from: '2000', to: '2000' }), { parameter: 'from', message: 'from must be before to' })
    assert.equal(rejected({ from: String(NOW + 1) }).message, 'from must be before now (to defaults to now)')
    assert.equal(rejected({ from: '2021-03-02', to: '2021-03-01' }).parameter, 'from')
  })

  for (const [name, text] of [
    ['from', 'yesterday'],
    ['to', '2021-03-01T25:00:00Z'],
    ['from', '2021-02-30T10:00:00Z'],
    ['to', '2021-03-01T10:00:00+24:00'],
    ['from', '1.5'],
    ['to', '99999999999999999'],
    ['from', ''],
    ['to', '2021-03-01T10:60Z'],
  ] as const) {
    test(`should refuse the unparsable time ${name}=${JSON.stringify(text)}`, () => {
      const error = rejected(name === 'to' ? { from: '2021-03-01', to: text } : { from: text })
      assert.equal(error.parameter, name)
      assert.match(error.message, new RegExp(`^${name} must be an ISO-8601 time`))
    })
  }

  test("should say to encode '+' when an offset arrived as a space", () => {
    for (const text of ['2026-11-29T12:00 14:00', '2026-11-29T12:00:00 0530']) {
      const error = rejected({ from: text, to: '2026-11-30' })
      assert.equal(error.parameter, 'from')
      assert.match(error.message, /a '\+' in a query string must be sent as %2B/, text)
    }
    assert.doesNotMatch(rejected({ from: 'yesterday' }).message, /%2B/)
  })

  test('should refuse a date together with a window', () => {
    assert.equal(rejected({ date: '2021-03-01', from: '2021-03-01' }).parameter, 'date')
  })

  test('should read country in any case, and city and topic as given', () => {
    assert.deepEqual(ok({ country: 'US', city: 'New York', topic: 'softwaredev' }), {
      k: 10,
      filters: { country: 'us', city: 'New York', topic: 'softwaredev' },
    })
    assert.equal(rejected({ country: 'usa' }).parameter, 'country')
    assert.equal(rejected({ country: '1x' }).parameter, 'country')
    assert.equal(rejected({ city: '  ' }).parameter, 'city')
    assert.equal(rejected({ topic: 't'.repeat(201) }).parameter, 'topic')
    assert.equal(rejected({ city: 'a\u0000b' }).parameter, 'city', 'NUL cannot reach SQL')
    assert.equal(rejected({ topic: '\ud800' }).parameter, 'topic', 'nor an unpaired surrogate')
  })

  test('should read upcoming as true or false only', () => {
    assert.equal(ok({ upcoming: 'true' }).filters.upcoming, true)
    assert.equal(ok({ upcoming: 'false' }).filters.upcoming, false)
    for (const upcoming of ['1', 'yes', 'TRUE', '']) {
      assert.deepEqual(rejected({ upcoming }), { parameter: 'upcoming', message: 'upcoming must be true or false' })
    }
  })
})

test('the OpenAPI query parameters of top k should be exactly the parameters the parser accepts', () => {
  assert.deepEqual(Object.keys(TopkQuerySchema.properties).sort(), [...TOPK_PARAMETERS].sort())
})

describe('parseTopkQuery: last (a sliding window)', () => {
  test('should read minutes, hours and days as a length in ms', () => {
    assert.equal(ok({ last: '15m' }).lastMs, 15 * 60_000)
    assert.equal(ok({ last: '1h' }).lastMs, 3_600_000)
    assert.equal(ok({ last: '24h' }).lastMs, DAY)
    assert.equal(ok({ last: '31d' }).lastMs, 31 * DAY)
  })

  test('should refuse what is not a length from 1m to the widest window, or comes with date, from or to', () => {
    for (const last of ['0m', '1s', '1w', 'h', '1.5h', '32d', '-1h', ' 1h']) {
      assert.equal(rejected({ last }).parameter, 'last', last)
    }
    assert.match(rejected({ last: '1h', date: '2021-03-01' }).message, /cannot be combined/)
    assert.equal(rejected({ last: '1h', from: '2021-03-01' }).parameter, 'last')
    assert.equal(rejected({ last: ['1h', '2h'] }).parameter, 'last')
  })

  test('should end the window when it is computed, not when it was asked', () => {
    const query = ok({ last: '1h' })
    assert.deepEqual(windowOf(query, NOW + 5000), { from: NOW + 5000 - 3_600_000, to: NOW + 5000 })
    assert.equal(windowOf(ok({}), NOW), undefined)
  })
})

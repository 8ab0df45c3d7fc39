import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { utcDay } from '../../../src/domain/time.ts'

const LAST_MS_OF_9999 = Date.parse('9999-12-31T23:59:59.999Z')

describe('utcDay', () => {
  test('should give 1970-01-01 for epoch 0', () => {
    assert.equal(utcDay(0), '1970-01-01')
  })

  test('should put 23:59:59.999 and 00:00:00.000 on different days', () => {
    assert.equal(utcDay(Date.parse('2017-03-19T23:59:59.999Z')), '2017-03-19')
    assert.equal(utcDay(Date.parse('2017-03-20T00:00:00.000Z')), '2017-03-20')
  })

  test('should use UTC, not the local time zone', () => {
    // 23:30 in UTC-05:00 is 04:30 the next day in UTC.
    assert.equal(utcDay(Date.parse('2021-06-30T23:30:00-05:00')), '2021-07-01')
  })

  test('should handle leap days, including the 400-year rule', () => {
    assert.equal(utcDay(Date.parse('2000-02-29T12:00:00Z')), '2000-02-29')
    assert.equal(utcDay(Date.parse('2020-02-29T23:59:59.999Z')), '2020-02-29')
    assert.equal(utcDay(Date.parse('2020-03-01T00:00:00Z')), '2020-03-01')
    // 2100 is not a leap year: February 28th is followed by March 1st.
    assert.equal(utcDay(Date.parse('2100-02-28T23:59:59.999Z') + 1), '2100-03-01')
  })

  test('should handle year ends', () => {
    assert.equal(utcDay(Date.parse('2019-12-31T23:59:59.999Z')), '2019-12-31')
    assert.equal(utcDay(Date.parse('2020-01-01T00:00:00Z')), '2020-01-01')
  })

  test('should reach the last millisecond of year 9999', () => {
    assert.equal(utcDay(LAST_MS_OF_9999), '9999-12-31')
  })

  test('should pad years before 1000 to four digits', () => {
    assert.equal(utcDay(Date.parse('0999-07-04T00:00:00Z')), '0999-07-04')
    assert.equal(utcDay(-1), '1969-12-31')
  })

  test('should floor fractional milliseconds', () => {
    assert.equal(utcDay(86_399_999.9), '1970-01-01')
  })

  test('should give the right day when calls alternate between days', () => {
    const a = Date.parse('2018-05-01T10:00:00Z')
    const b = Date.parse('2018-05-02T10:00:00Z')
    assert.deepEqual(
      [utcDay(a), utcDay(b), utcDay(a), utcDay(a), utcDay(b)],
      ['2018-05-01', '2018-05-02', '2018-05-01', '2018-05-01', '2018-05-02'],
    )
  })

  test('should agree with Date#toISOString on random instants from 1970 to 9999', () => {
    let seed = 987_654_321
    const random = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
      return seed / 2_147_483_648
    }
    for (let i = 0; i < 20_000; i++) {
      // Mix uniform instants with ones near day boundaries, where an off-by-one would show.
      const day = Math.floor(random() * Math.floor(LAST_MS_OF_9999 / 86_400_000))
      const offset = i % 2 === 0 ? Math.floor(random() * 86_400_000) : random() < 0.5 ? 0 : 86_399_999
      const ms = day * 86_400_000 + offset
      assert.equal(utcDay(ms), new Date(ms).toISOString().slice(0, 10), `for ${ms}`)
    }
  })

  test('should agree with Date#toISOString on every day from 1970 to 2100', () => {
    const lastDay = Date.parse('2100-12-31T00:00:00Z') / 86_400_000
    for (let day = 0; day <= lastDay; day++) {
      const ms = day * 86_400_000
      const expected = new Date(ms).toISOString().slice(0, 10)
      if (utcDay(ms) !== expected) assert.fail(`day ${day}: ${utcDay(ms)} !== ${expected}`)
    }
  })

  test('should throw a RangeError outside years 0000-9999 and for NaN', () => {
    assert.throws(() => utcDay(LAST_MS_OF_9999 + 1), RangeError)
    assert.throws(() => utcDay(Date.parse('0000-01-01T00:00:00Z') - 1), RangeError)
    assert.throws(() => utcDay(Number.NaN), RangeError)
    assert.throws(() => utcDay(Number.POSITIVE_INFINITY), RangeError)
  })
})

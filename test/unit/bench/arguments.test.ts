import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InvalidArgumentError } from 'commander'
import {
  integerBetween,
  nonNegativeInteger,
  nonNegativeNumber,
  positiveInteger,
  positiveNumber,
} from '../../../bench/support.ts'

describe('bench command-line numbers', () => {
  it('reads decimal integers, with _ between digits', () => {
    assert.equal(positiveInteger('1'), 1)
    assert.equal(positiveInteger('1_000_000'), 1_000_000)
    assert.equal(nonNegativeInteger('0'), 0)
    assert.equal(integerBetween(1, 10)('10'), 10)
  })

  it('refuses what Number() would have turned into some other value', () => {
    // `_` alone used to become 0, and 0x10 16: a run with a seed nobody asked for
    for (const text of [
      '',
      ' ',
      '_',
      '__',
      '_5',
      '5_',
      '1__0',
      '0x10',
      '0b11',
      '1e3',
      '+5',
      '-1',
      '1.5',
      'abc',
      ' 5',
    ]) {
      assert.throws(() => nonNegativeInteger(text), InvalidArgumentError, JSON.stringify(text))
    }
  })

  it('keeps integers within their range, and says which range', () => {
    assert.throws(() => positiveInteger('0'), /an integer >= 1/)
    assert.throws(() => integerBetween(1, 10_000_000)('10000001'), /an integer from 1 to 10,000,000/)
    assert.throws(() => positiveInteger('9007199254740993'), InvalidArgumentError)
  })

  it('reads numbers with fractions', () => {
    assert.equal(positiveNumber('0.5'), 0.5)
    assert.equal(positiveNumber('.3'), 0.3)
    assert.equal(positiveNumber('17_744'), 17_744)
    assert.equal(nonNegativeNumber('0'), 0)
    assert.equal(nonNegativeNumber('2.5'), 2.5)
  })

  it('refuses a number that is not plainly decimal, or out of range', () => {
    for (const text of ['', '.', '0', '0.0', '-1', 'Infinity', 'NaN', '1e3', '1.', 'abc', '1.2.3']) {
      assert.throws(() => positiveNumber(text), /a number > 0/, JSON.stringify(text))
    }
    for (const text of ['', '-0.5', 'Infinity', '1e3']) {
      assert.throws(() => nonNegativeNumber(text), /a number >= 0/, JSON.stringify(text))
    }
  })
})

import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { describe, test } from 'node:test'
import { encodeParam } from '../../../src/store/postgres.ts'

// pg's own conversion, which encodeParam must agree with
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as {
  prepareValue(value: unknown): unknown
}

describe('encodeParam', () => {
  test('should write a number array as pg would, without the quotes pg puts around each number', () => {
    const values = [1, null, 2.5, -3, 1_767_225_600_000, undefined, -0, 1e-7, 37.447944]
    const ours = encodeParam(values)
    assert.equal(ours, '{1,NULL,2.5,-3,1767225600000,NULL,0,1e-7,37.447944}')
    assert.equal(ours, (prepareValue(values) as string).replaceAll('"', ''))
  })

  test('should write text arrays with quotes, backslashes and NULLs exactly as pg would', () => {
    const text = ['plain', 'with "quotes"', 'back\\slash', null, 'Zoë 🎉 東京', '', 'NULL', '{a,b}', '"\\"']
    assert.equal(encodeParam(text), prepareValue(text))
    assert.equal(encodeParam([['a', null], ['b"']]), prepareValue([['a', null], ['b"']]), 'nested arrays')
  })

  test('should write scalars and empty arrays as pg would, and quote only text in a mixed array', () => {
    assert.equal(encodeParam(['1', 2]), '{"1",2}')
    assert.equal(encodeParam(42), '42')
    assert.equal(encodeParam(true), 'true')
    assert.equal(encodeParam('text'), 'text')
    assert.equal(encodeParam(null), null)
    assert.equal(encodeParam(undefined), null)
    assert.equal(encodeParam([]), '{}')
  })

  test('should refuse values it cannot write', () => {
    assert.throws(() => encodeParam({ a: 1 }), TypeError)
    assert.throws(() => encodeParam([new Date(0)]), TypeError)
  })
})

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

  test('should leave everything else to pg: text arrays with quotes, backslashes and NULLs, scalars, null', () => {
    const text = ['plain', 'with "quotes"', 'back\\slash', null, 'Zoë 🎉 東京', '', 'NULL', '{a,b}']
    assert.equal(encodeParam(text), prepareValue(text))
    assert.equal(encodeParam(['1', 2]), prepareValue(['1', 2]), 'a mixed array is not a number array')
    assert.equal(encodeParam(42), '42')
    assert.equal(encodeParam(null), null)
    assert.equal(encodeParam([]), '{}')
  })
})

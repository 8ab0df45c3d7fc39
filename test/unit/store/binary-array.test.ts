import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { encodeBinaryArray } from '../../../src/store/binary-array.ts'

/** The bytes as hex, grouped as array_send writes them, for readable expectations. */
const hex = (buffer: Buffer) => buffer.toString('hex')
const int32 = (n: number) => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return hex(b)
}
const header = (length: number, hasNull: 0 | 1, oid: number) =>
  int32(1) + int32(hasNull) + int32(oid) + int32(length) + int32(1)

describe('encodeBinaryArray', () => {
  test('should write bigint elements as 8-byte big-endian two’s complement, NULL as length -1', () => {
    const encoded = encodeBinaryArray('bigint', [1, null, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 1_767_225_600_000])
    assert.equal(
      hex(encoded),
      header(6, 1, 20) +
        `${int32(8)}0000000000000001` +
        int32(-1) +
        `${int32(8)}ffffffffffffffff` +
        `${int32(8)}001fffffffffffff` +
        `${int32(8)}ffe0000000000001` +
        `${int32(8)}0000019b76daa800`,
    )
  })

  test('should write int, float8 and date elements in their fixed sizes', () => {
    assert.equal(
      hex(encodeBinaryArray('int', [0, -2, 2 ** 31 - 1])),
      header(3, 0, 23) + `${int32(4)}00000000${int32(4)}fffffffe${int32(4)}7fffffff`,
    )
    assert.equal(
      hex(encodeBinaryArray('float8', [1.5, undefined])),
      header(2, 1, 701) + `${int32(8)}3ff8000000000000${int32(-1)}`,
    )
    // days since 2000-01-01
    assert.equal(
      hex(encodeBinaryArray('date', ['2000-01-01', '1970-01-01', '2026-11-30', '9999-12-31', '2026-11-30'])),
      header(5, 0, 1082) + [0, -10_957, 9_830, 2_921_939, 9_830].map((d) => `${int32(4)}${int32(d)}`).join(''),
    )
  })

  test('should write text as UTF-8 bytes and jsonb as version 1 then the JSON text', () => {
    assert.equal(
      hex(encodeBinaryArray('text', ['a "b"', '', 'Zoë 🎉', null])),
      header(4, 1, 25) +
        `${int32(5)}${Buffer.from('a "b"').toString('hex')}` +
        int32(0) +
        `${int32(9)}${Buffer.from('Zoë 🎉').toString('hex')}` +
        int32(-1),
    )
    assert.equal(
      hex(encodeBinaryArray('jsonb', ['[1]'])),
      `${header(1, 0, 3802)}${int32(4)}01${Buffer.from('[1]').toString('hex')}`,
    )
  })

  test('should write an empty array with no dimensions', () => {
    assert.equal(hex(encodeBinaryArray('text', [])), int32(0) + int32(0) + int32(25))
    assert.equal(encodeBinaryArray('bigint', []).length, 12)
  })

  test('should refuse a value its element type cannot hold, naming the element', () => {
    const cases: [Parameters<typeof encodeBinaryArray>[0], unknown][] = [
      ['bigint', 1.5],
      ['bigint', 2 ** 53],
      ['bigint', '5'],
      ['bigint', Number.NaN],
      ['int', 2 ** 31],
      ['int', 0.5],
      ['float8', '1'],
      ['date', '2023-02-30'],
      ['date', '0099-01-01'],
      ['date', '2026-1-1'],
      ['date', 20_000],
      ['text', 5],
      ['jsonb', { a: 1 }],
    ]
    for (const [type, value] of cases) {
      assert.throws(
        () => encodeBinaryArray(type, [null, value]),
        (error: unknown) => error instanceof TypeError && error.message.includes(`element 1 of a ${type}[]`),
        `${type} ${String(value)}`,
      )
    }
  })
})

import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encodeBinaryArray } from '../../../src/store/binary-array.ts'
import { column, columnNames, encodeColumns, unnestPlaceholders } from '../../../src/store/unnest.ts'

interface Row {
  id: number
  name: string | undefined
}
const columns = [column<Row>('id', 'bigint', (r) => r.id), column<Row>('name', 'text', (r) => r.name ?? null)]
const other = [column<{ day: string }>('day', 'date', (r) => r.day)]

test('unnest placeholders should be numbered from the sections in order', () => {
  assert.deepEqual(unnestPlaceholders([columns, other]), ['unnest($1::bigint[], $2::text[])', 'unnest($3::date[])'])
  assert.deepEqual(unnestPlaceholders([other], 7), ['unnest($7::date[])'])
  assert.equal(columnNames(columns), 'id, name')
})

test('encodeColumns should give one binary array per column, in the columns order', () => {
  const rows = [
    { id: 1, name: 'a "b"' },
    { id: 2, name: undefined },
  ]
  assert.deepEqual(encodeColumns(columns, rows), [
    encodeBinaryArray('bigint', [1, 2]),
    encodeBinaryArray('text', ['a "b"', null]),
  ])
  assert.deepEqual(encodeColumns(columns, []), [encodeBinaryArray('bigint', []), encodeBinaryArray('text', [])])
  assert.throws(() => encodeColumns(columns, [{ id: 1.5, name: 'x' }]), TypeError)
})

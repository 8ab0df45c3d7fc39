import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { lastHeader, recordSize, splitBySize } from '../../../src/kafka/client.ts'

describe('lastHeader', () => {
  test('should give the last value of a name as text, and undefined for a null value or no such header', () => {
    const headers = [
      { key: Buffer.from('a'), value: Buffer.from('1') },
      { key: null, value: Buffer.from('x') },
      { key: Buffer.from('a'), value: Buffer.from('2') },
      { key: Buffer.from('b'), value: null },
    ]
    assert.equal(lastHeader(headers, 'a'), '2')
    assert.equal(lastHeader(headers, 'b'), undefined)
    assert.equal(lastHeader(headers, 'c'), undefined)
  })
})

describe('splitBySize', () => {
  test('should count null values, keys and header values as nothing, and keep order', () => {
    const tombstone = { topic: 't', key: null, value: null, headers: [{ key: Buffer.from('h'), value: null }] }
    assert.ok(recordSize(tombstone) < 100)
    const big = { topic: 't', value: Buffer.alloc(600 * 1024) }
    const chunks = splitBySize([big, tombstone, big, big])
    assert.deepEqual(
      chunks.map((chunk) => chunk.length),
      [2, 1, 1],
    )
  })
})

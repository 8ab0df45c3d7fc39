import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { KafkaRecord } from '../../../src/kafka/client.ts'
import { RecordArchive } from '../../../src/kafka/record-archive.ts'

const record = (offset: number, value: Buffer | null, extra: Partial<KafkaRecord> = {}): KafkaRecord => ({
  topic: 'rsvps',
  partition: offset % 3,
  offset: BigInt(offset),
  key: null,
  value,
  headers: [],
  ...extra,
})

describe('RecordArchive', () => {
  test('should give back every shape of record as added: null and empty keys and values, headers, big offsets', () => {
    const records: KafkaRecord[] = [
      record(0, Buffer.from('{"rsvp_id":1}')),
      record(1, null, { key: Buffer.from('k') }),
      record(2, Buffer.alloc(0), { key: Buffer.alloc(0) }),
      record(3, Buffer.from([0xff, 0x00, 0xfe]), {
        topic: 'other',
        offset: 2n ** 62n + 1n,
        headers: [
          { key: Buffer.from('h'), value: null },
          { key: Buffer.from('h'), value: Buffer.from('2') },
        ],
      }),
    ]
    const archive = new RecordArchive()
    for (const r of records) archive.add(r)
    assert.equal(archive.length, 4)
    assert.equal(archive.bytes, 13 + 1 + 0 + 3)
    records.forEach((r, i) => {
      assert.deepEqual(archive.get(i), r)
      assert.deepEqual(archive.value(i), r.value, 'value() gives the value without the record')
    })
  })

  test('should keep nothing of the buffers a record came in (a fetch response can be reused or freed)', () => {
    const response = Buffer.from('first-value|second-value')
    const archive = new RecordArchive()
    archive.add(record(0, response.subarray(0, 11), { key: response.subarray(12, 18) }))
    response.fill(0)
    assert.equal(archive.get(0).value?.toString(), 'first-value')
    assert.equal(archive.get(0).key?.toString(), 'second')
    assert.notEqual(archive.get(0).value?.buffer, response.buffer)
  })

  test('should hold records across many chunks and records larger than a chunk, unchanged', () => {
    const archive = new RecordArchive()
    const sized = (i: number) => Buffer.alloc(i === 7 ? 3_000_000 : 50_000 + i, i % 251)
    for (let i = 0; i < 60; i++) archive.add(record(i, sized(i), { key: Buffer.from(`key-${i}`) }))
    for (let i = 0; i < 60; i++) {
      assert.ok(archive.get(i).value?.equals(sized(i)), `record ${i}`)
      assert.equal(archive.get(i).key?.toString(), `key-${i}`)
    }
    // A view read before more records came stays right after them.
    const early = new RecordArchive()
    early.add(record(0, Buffer.from('early')))
    const view = early.get(0).value
    for (let i = 1; i < 30; i++) early.add(record(i, Buffer.alloc(100_000, 1)))
    assert.equal(view?.toString(), 'early')
  })

  test('should be as before when a record cannot be copied in', () => {
    const archive = new RecordArchive()
    archive.add(record(0, Buffer.from('zero')))
    const broken = { ...record(1, Buffer.from('one')), key: Buffer.from('kk'), value: 'not bytes' as unknown as Buffer }
    assert.throws(() => archive.add(broken))
    archive.add(record(2, Buffer.from('two'), { key: Buffer.from('k') }))
    assert.equal(archive.length, 2)
    assert.equal(archive.bytes, 4 + 3 + 1)
    assert.deepEqual(archive.get(1), record(2, Buffer.from('two'), { key: Buffer.from('k') }))
  })

  test('should refuse a position it does not hold', () => {
    const archive = new RecordArchive()
    archive.add(record(0, Buffer.from('x')))
    assert.throws(() => archive.get(1), RangeError)
    assert.throws(() => archive.value(1), RangeError)
    assert.throws(() => archive.value(-1), RangeError)
    assert.throws(() => archive.get(-1), RangeError)
    assert.throws(() => archive.get(0.5), RangeError)
  })
})

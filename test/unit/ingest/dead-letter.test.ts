import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test } from 'node:test'
import {
  type DeadLetter,
  deadLetterRecord,
  TRUNCATED_KEY_BYTES,
  TRUNCATED_VALUE_BYTES,
  truncatedDeadLetterRecord,
} from '../../../src/ingest/dead-letter.ts'
import { type ConsumedMessage, lastHeader, type RecordHeader } from '../../../src/kafka/client.ts'

function source(overrides: Partial<ConsumedMessage> = {}): ConsumedMessage {
  return {
    topic: 'rsvps',
    partition: 3,
    offset: 1234n,
    key: Buffer.from('k'),
    value: Buffer.from('{"bad'),
    headers: [
      { key: Buffer.from('trace'), value: null },
      { key: Buffer.from('trace'), value: Buffer.from('2') },
    ],
    commit: async () => {},
    ...overrides,
  }
}

const names = (headers: readonly RecordHeader[] | undefined) => (headers ?? []).map((h) => h.key?.toString())

describe('deadLetterRecord', () => {
  test('should keep key, value and headers byte for byte, then add the context headers', () => {
    const letter: DeadLetter = { source: source(), reason: 'not JSON' }
    const record = deadLetterRecord(letter, 'rsvps.dlq')
    assert.equal(record.topic, 'rsvps.dlq')
    assert.deepEqual(record.key, Buffer.from('k'))
    assert.deepEqual(record.value, Buffer.from('{"bad'))
    assert.deepEqual(names(record.headers), [
      'trace',
      'trace',
      'x-rsvp-topk-reason',
      'x-rsvp-topk-source-topic',
      'x-rsvp-topk-source-partition',
      'x-rsvp-topk-source-offset',
    ])
    assert.equal(record.headers?.[0]?.value, null, 'a null header value stays null')
    assert.equal(lastHeader(record.headers ?? [], 'x-rsvp-topk-source-offset'), '1234')
  })

  test('should keep a tombstone a tombstone and add the SQLSTATE of a refusal', () => {
    const record = deadLetterRecord({ source: source({ value: null, key: null }), reason: 'x', sqlstate: '54000' }, 'd')
    assert.equal(record.value, null)
    assert.equal(record.key, null)
    assert.equal(lastHeader(record.headers ?? [], 'x-rsvp-topk-sqlstate'), '54000')
  })

  test('should let our reason win over a same-named original header, as readers take the last', () => {
    const spoofed = source({ headers: [{ key: Buffer.from('x-rsvp-topk-reason'), value: Buffer.from('spoof') }] })
    const record = deadLetterRecord({ source: spoofed, reason: 'not JSON' }, 'd')
    assert.equal(lastHeader(record.headers ?? [], 'x-rsvp-topk-reason'), 'not JSON')
  })
})

describe('truncatedDeadLetterRecord', () => {
  test('should keep a prefix of value and key, with the original sizes and SHA-256 digests', () => {
    const value = Buffer.alloc(3 * 2 ** 20, 7)
    const key = Buffer.alloc(5000, 1)
    const record = truncatedDeadLetterRecord({ source: source({ value, key }), reason: 'not JSON' }, 'd')
    const headers = record.headers ?? []
    assert.equal(record.value?.length, TRUNCATED_VALUE_BYTES)
    assert.equal(record.key?.length, TRUNCATED_KEY_BYTES)
    assert.equal(lastHeader(headers, 'x-rsvp-topk-truncated'), 'true')
    assert.equal(lastHeader(headers, 'x-rsvp-topk-original-value-bytes'), String(value.length))
    assert.equal(
      lastHeader(headers, 'x-rsvp-topk-original-value-sha256'),
      createHash('sha256').update(value).digest('hex'),
    )
    assert.equal(lastHeader(headers, 'x-rsvp-topk-original-key-bytes'), '5000')
    assert.equal(lastHeader(headers, 'x-rsvp-topk-original-key-sha256'), createHash('sha256').update(key).digest('hex'))
    assert.deepEqual(names(headers).slice(0, 2), ['trace', 'trace'], 'small original headers are kept')
  })

  test('should drop original headers too large to keep, and say how many', () => {
    const headers = Array.from({ length: 40 }, () => ({ key: Buffer.from('h'), value: Buffer.alloc(1024) }))
    const record = truncatedDeadLetterRecord({ source: source({ headers }), reason: 'r' }, 'd')
    assert.equal(lastHeader(record.headers ?? [], 'x-rsvp-topk-original-headers-dropped'), '40')
    assert.ok(!names(record.headers).includes('h'))
  })
})

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseBatchNotice } from '../../../src/store/batch-notifications.ts'

describe('parseBatchNotice', () => {
  test('should read what notifyBatchApplied sends (json_build_object, with the WAL position)', () => {
    assert.deepEqual(
      parseBatchNotice('{"applied" : 3, "messages" : 5, "newest" : 1795964663647, "lsn" : "16/B374D848"}'),
      { applied: 3, messages: 5, newestAppliedMtime: 1795964663647, walLsn: '16/B374D848' },
    )
    assert.deepEqual(parseBatchNotice('{"applied":0,"messages":2,"newest":null,"lsn":"0/3000148"}'), {
      applied: 0,
      messages: 2,
      newestAppliedMtime: null,
      walLsn: '0/3000148',
    })
  })

  test('should read a notice without a WAL position (an older ingest) as one with walLsn null', () => {
    assert.deepEqual(parseBatchNotice('{"applied":3,"messages":5,"newest":1795964663647}'), {
      applied: 3,
      messages: 5,
      newestAppliedMtime: 1795964663647,
      walLsn: null,
    })
  })

  test('should ignore anything else anyone may NOTIFY on the channel', () => {
    for (const payload of [
      undefined,
      '',
      'hello',
      'null',
      '[]',
      '{"applied":-1,"messages":1,"newest":null}',
      '{"applied":1.5,"messages":1,"newest":null}',
      '{"applied":1,"messages":"1","newest":null}',
      '{"applied":1,"messages":1}',
      '{"applied":1,"messages":1,"newest":"2026"}',
      '{"applied":1,"messages":1,"newest":null,"lsn":null}',
      '{"applied":1,"messages":1,"newest":null,"lsn":12}',
      '{"applied":1,"messages":1,"newest":null,"lsn":""}',
      '{"applied":1,"messages":1,"newest":null,"lsn":"0/"}',
      '{"applied":1,"messages":1,"newest":null,"lsn":"0/123456789"}',
      '{"applied":1,"messages":1,"newest":null,"lsn":"0/1; DROP TABLE rsvps"}',
      `{"applied":1,"messages":1,"newest":null,"pad":"${'x'.repeat(1000)}"}`,
    ]) {
      assert.equal(parseBatchNotice(payload), undefined, String(payload))
    }
  })
})

import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseBatchNotice } from '../../../src/store/batch-notifications.ts'

describe('parseBatchNotice', () => {
  test('should read what notifyBatchApplied sends', () => {
    assert.deepEqual(parseBatchNotice('{"applied":3,"messages":5,"newest":1795964663647}'), {
      applied: 3,
      messages: 5,
      newestAppliedMtime: 1795964663647,
    })
    assert.deepEqual(parseBatchNotice('{"applied":0,"messages":2,"newest":null}'), {
      applied: 0,
      messages: 2,
      newestAppliedMtime: null,
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
      `{"applied":1,"messages":1,"newest":null,"pad":"${'x'.repeat(1000)}"}`,
    ]) {
      assert.equal(parseBatchNotice(payload), undefined, String(payload))
    }
  })
})

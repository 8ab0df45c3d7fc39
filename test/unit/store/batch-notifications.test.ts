import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { detailsListText, parseBatchNotice } from '../../../src/store/batch-notifications.ts'

describe('parseBatchNotice', () => {
  test('should read what notifyBatchApplied sends (json_build_object, with the WAL position)', () => {
    assert.deepEqual(
      parseBatchNotice('{"applied" : 3, "messages" : 5, "newest" : 1795964663647, "lsn" : "16/B374D848"}'),
      { applied: 3, messages: 5, newestAppliedMtime: 1795964663647, walLsn: '16/B374D848', details: 'all' },
    )
    assert.deepEqual(parseBatchNotice('{"applied":0,"messages":2,"newest":null,"lsn":"0/3000148"}'), {
      applied: 0,
      messages: 2,
      newestAppliedMtime: null,
      walLsn: '0/3000148',
      details: 'all',
    })
    assert.deepEqual(
      parseBatchNotice(
        '{"applied":1,"messages":1,"newest":5,"lsn":"0/1","details":{"events":["E1"],"groups":[7],"venues":[]}}',
      ),
      {
        applied: 1,
        messages: 1,
        newestAppliedMtime: 5,
        walLsn: '0/1',
        details: { events: ['E1'], groups: [7], venues: [] },
      },
    )
    assert.equal(parseBatchNotice('{"applied":1,"messages":1,"newest":5,"details":"all"}')?.details, 'all')
  })

  test('should list changed details while they fit a notice, and say "all" beyond', () => {
    const few = { events: ['E1', 'E2'], groups: [7], venues: [9] }
    assert.deepEqual(JSON.parse(detailsListText(few)), few)
    const many = { events: Array.from({ length: 2000 }, (_, i) => `event-${i}`), groups: [], venues: [] }
    assert.equal(detailsListText(many), '"all"')
    // Whatever is sent fits the payload parseBatchNotice takes (and PostgreSQL's 8,000 bytes).
    const justFits = {
      events: Array.from({ length: 600 }, (_, i) => `e${String(i).padStart(7, '0')}`),
      groups: [],
      venues: [],
    }
    const text = detailsListText(justFits)
    assert.notEqual(text, '"all"')
    const payload = `{"applied":1,"messages":1,"newest":1795964663647,"lsn":"16/B374D848","details":${text}}`
    assert.ok(Buffer.byteLength(payload) < 8000)
    assert.deepEqual(parseBatchNotice(payload)?.details, justFits)
  })

  test('should read a notice without a WAL position or details (an older ingest) as walLsn null and details "all"', () => {
    assert.deepEqual(parseBatchNotice('{"applied":3,"messages":5,"newest":1795964663647}'), {
      applied: 3,
      messages: 5,
      newestAppliedMtime: 1795964663647,
      walLsn: null,
      details: 'all',
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
      // past year 9999: no RSVP the ingest applies has it, and a Date cannot show it
      '{"applied":1,"messages":1,"newest":9007199254740991}',
      '{"applied":1,"messages":1,"newest":253402300800000}',
      '{"applied":1,"messages":1,"newest":null,"lsn":null}',
      '{"applied":1,"messages":1,"newest":null,"lsn":12}',
      '{"applied":1,"messages":1,"newest":null,"lsn":""}',
      '{"applied":1,"messages":1,"newest":null,"lsn":"0/"}',
      '{"applied":1,"messages":1,"newest":null,"lsn":"0/123456789"}',
      '{"applied":1,"messages":1,"newest":null,"lsn":"0/1; DROP TABLE rsvps"}',
      `{"applied":1,"messages":1,"newest":null,"pad":"${'x'.repeat(8000)}"}`,
      '{"applied":1,"messages":1,"newest":null,"details":"some"}',
      '{"applied":1,"messages":1,"newest":null,"details":null}',
      '{"applied":1,"messages":1,"newest":null,"details":{"events":["E1"],"groups":[7]}}',
      '{"applied":1,"messages":1,"newest":null,"details":{"events":[1],"groups":[],"venues":[]}}',
      '{"applied":1,"messages":1,"newest":null,"details":{"events":[],"groups":["7"],"venues":[]}}',
      '{"applied":1,"messages":1,"newest":null,"details":{"events":[],"groups":[],"venues":[1.5]}}',
      `{"applied":1,"messages":1,"newest":null,"details":{"events":["${'x'.repeat(1001)}"],"groups":[],"venues":[]}}`,
    ]) {
      assert.equal(parseBatchNotice(payload), undefined, String(payload))
    }
  })
})

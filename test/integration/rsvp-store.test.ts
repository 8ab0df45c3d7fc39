import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseRsvp } from '../../src/domain/parse-rsvp.ts'
import type { Rsvp } from '../../src/domain/rsvp.ts'
import { generateStream } from '../../src/producer/generator.ts'
import { encodeBinaryArray } from '../../src/store/binary-array.ts'
import { migrate } from '../../src/store/migrate.ts'
import type { Postgres } from '../../src/store/postgres.ts'
import { applyBatch } from '../../src/store/rsvp-store.ts'
import { createTestDatabase, silentLogger } from '../helpers.ts'
import { computeExpected } from '../support/contract-oracle.ts'

function validRsvps(values: string[]): Rsvp[] {
  const out: Rsvp[] = []
  for (const value of values) {
    const parsed = parseRsvp(value)
    if (parsed.ok) out.push(parsed.rsvp)
  }
  return out
}

async function counts(db: Postgres) {
  const { rows } = await db.query<{ event_id: string; yes_rsvps: number; attendees: number }>(
    'SELECT event_id, yes_rsvps, attendees FROM events WHERE yes_rsvps <> 0 OR attendees <> 0 ORDER BY event_id',
  )
  return rows
}

function expectedCounts(values: string[]) {
  const expected = computeExpected(values)
  return [...expected.yes]
    .filter(([, yes]) => yes > 0)
    .map(([eventId, yes]) => ({ event_id: eventId, yes_rsvps: yes, attendees: expected.attendees.get(eventId) ?? 0 }))
    .sort((a, b) => (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0))
}

describe('applyBatch', () => {
  const values = [...generateStream({ count: 6000, seed: 11, events: 150, groups: 30 })].map((m) => m.value)

  test('should give the contract counts whatever the batch sizes, and change nothing on a full replay', async (t) => {
    for (const size of [1, 97, 6000]) {
      const { db } = await createTestDatabase(t)
      await migrate(db, { logger: silentLogger })
      const rsvps = validRsvps(values)
      for (let i = 0; i < rsvps.length; i += size) await applyBatch(db, rsvps.slice(i, i + size))
      assert.deepEqual(await counts(db), expectedCounts(values), `batches of ${size}`)
      const replay = await applyBatch(db, rsvps)
      assert.equal(replay.applied, 0, 'a replay applies nothing')
      assert.deepEqual(await counts(db), expectedCounts(values), `after a replay, batches of ${size}`)
    }
  })

  test('should stay exact when two transactions apply overlapping batches at once', async (t) => {
    const { db } = await createTestDatabase(t)
    await migrate(db, { logger: silentLogger })
    const rsvps = validRsvps(values)
    // Two "consumers" race over the same messages in different batch cuts, as during a rebalance.
    const race = async (size: number, offset: number) => {
      for (let i = offset; i < rsvps.length + offset; i += size) {
        const batch = rsvps.slice(i % rsvps.length, (i % rsvps.length) + size)
        for (let attempt = 0; ; attempt++) {
          try {
            await applyBatch(db, batch)
            break
          } catch (error) {
            // A deadlock victim is rolled back whole; the ingest loop retries it the same way.
            if ((error as { code?: string }).code !== '40P01' || attempt > 20) throw error
          }
        }
      }
    }
    await Promise.all([race(400, 0), race(650, 3000)])
    assert.deepEqual(await counts(db), expectedCounts(values))
    const days = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM event_day_counts WHERE yes_rsvps < 0 OR attendees < 0',
    )
    assert.equal(days.rows[0]?.n, 0, 'no per-day count goes below zero')
  })

  test('should report the events whose details a newer message changed', async (t) => {
    const { db } = await createTestDatabase(t)
    await migrate(db, { logger: silentLogger })
    const base = {
      rsvp_id: 1,
      mtime: 1_767_225_600_000,
      response: 'yes',
      guests: 0,
      event: { event_id: 'ev1', event_name: 'Old name', event_url: 'https:\\/\\/example.com\\/1' },
    }
    const first = await applyBatch(db, validRsvps([JSON.stringify(base)]))
    assert.deepEqual(first.changedDetails.events, [], 'a new event has nothing cached to drop')
    const stale = await applyBatch(
      db,
      validRsvps([
        JSON.stringify({
          ...base,
          rsvp_id: 2,
          mtime: base.mtime - 1,
          event: { ...base.event, event_name: 'Older name' },
        }),
      ]),
    )
    assert.deepEqual(stale.changedDetails.events, [], 'an older message changes no details')
    const same = await applyBatch(db, validRsvps([JSON.stringify({ ...base, rsvp_id: 4, mtime: base.mtime + 1 })]))
    assert.deepEqual(
      same.changedDetails.events,
      [],
      'a newer message with the same details changes nothing readers see',
    )
    const newer = await applyBatch(
      db,
      validRsvps([
        JSON.stringify({
          ...base,
          rsvp_id: 3,
          mtime: base.mtime + 2,
          event: { ...base.event, event_name: 'New name' },
        }),
      ]),
    )
    assert.deepEqual(newer.changedDetails.events, ['ev1'])
    const { rows } = await db.query<{ name: string; yes_rsvps: number }>('SELECT name, yes_rsvps FROM events')
    assert.deepEqual(rows, [{ name: 'New name', yes_rsvps: 4 }])
    const renamed = await applyBatch(
      db,
      validRsvps([
        JSON.stringify({ ...base, rsvp_id: 5, mtime: base.mtime + 3, group: { group_id: 7, group_name: 'Old' } }),
        JSON.stringify({ ...base, rsvp_id: 6, mtime: base.mtime + 4, venue: { venue_id: 8, venue_name: 'Hall' } }),
      ]),
    )
    assert.deepEqual(renamed.changedDetails, { events: ['ev1'], groups: [], venues: [] }, 'new groups and venues')
    const moved = await applyBatch(
      db,
      validRsvps([
        JSON.stringify({ ...base, rsvp_id: 7, mtime: base.mtime + 5, group: { group_id: 7, group_name: 'New' } }),
        JSON.stringify({ ...base, rsvp_id: 8, mtime: base.mtime + 6, venue: { venue_id: 8, venue_name: 'Hall' } }),
      ]),
    )
    assert.deepEqual(moved.changedDetails.groups, [7], 'a renamed group')
    assert.deepEqual(moved.changedDetails.venues, [], 'a venue named again the same')
  })

  test('should move an RSVP to another event across batches, keeping the first event and its details', async (t) => {
    const { db } = await createTestDatabase(t)
    await migrate(db, { logger: silentLogger })
    const message = (mtime: number, eventId: string, name: string) =>
      JSON.stringify({ rsvp_id: 1, mtime, response: 'yes', guests: 1, event: { event_id: eventId, event_name: name } })
    await applyBatch(db, validRsvps([message(1_767_225_600_000, 'evA', 'A')]))
    // The second batch names evA only through the count it loses: a delta-only row, no details.
    const moved = await applyBatch(db, validRsvps([message(1_767_225_600_001, 'evB', 'B')]))
    assert.equal(moved.applied, 1)
    assert.deepEqual(moved.changedDetails.events, [], 'losing a count changes no details')
    const { rows } = await db.query<{ event_id: string; name: string; yes_rsvps: number; attendees: number }>(
      'SELECT event_id, name, yes_rsvps, attendees FROM events ORDER BY event_id',
    )
    assert.deepEqual(rows, [
      { event_id: 'evA', name: 'A', yes_rsvps: 0, attendees: 0 },
      { event_id: 'evB', name: 'B', yes_rsvps: 1, attendees: 2 },
    ])
  })

  test('should keep the details of the greater rsvp_id on an equal mtime, in either arrival order', async (t) => {
    const message = (rsvpId: number, name: string, group: string) =>
      JSON.stringify({
        rsvp_id: rsvpId,
        mtime: 1_767_225_600_000,
        response: 'yes',
        event: { event_id: 'tie', event_name: name },
        group: { group_id: 9, group_name: group, group_city: 'c', group_country: 'nl', group_topics: [] },
      })
    for (const order of [
      [message(1, 'from 1', 'g1'), message(2, 'from 2', 'g2')],
      [message(2, 'from 2', 'g2'), message(1, 'from 1', 'g1')],
    ]) {
      const { db } = await createTestDatabase(t)
      await migrate(db, { logger: silentLogger })
      // one message per transaction, so the tie is decided by SQL, not within a batch
      for (const value of order) await applyBatch(db, validRsvps([value]))
      const event = await db.query<{ name: string; yes_rsvps: number }>('SELECT name, yes_rsvps FROM events')
      const group = await db.query<{ name: string }>('SELECT name FROM groups')
      assert.deepEqual(event.rows, [{ name: 'from 2', yes_rsvps: 2 }])
      assert.deepEqual(group.rows, [{ name: 'g2' }])
    }
  })
})

describe('binary array parameters', () => {
  test('should be read by PostgreSQL as the values they were made from, for every element type', async (t) => {
    const { db } = await createTestDatabase(t)
    const text = ['plain', 'a "quoted" \\ back\\slash', '', 'NULL', '{a,b}', 'Zoë 🎉 東京', 'x'.repeat(3000), null]
    const { rows } = await db.query<Record<string, unknown>>(
      `SELECT to_json($1::bigint[]) AS bigint, to_json($2::int[]) AS int, to_json($3::float8[]) AS float8,
        to_json($4::date[]) AS date, to_json($5::text[]) AS text, to_json($6::jsonb[]) AS jsonb,
        cardinality($7::text[]) AS empty, (SELECT count(*) FROM unnest($1::bigint[], $5::text[])) AS zipped`,
      [
        encodeBinaryArray('bigint', [1, null, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 1_767_225_600_000]),
        encodeBinaryArray('int', [0, -2, 2 ** 31 - 1, -(2 ** 31)]),
        encodeBinaryArray('float8', [1.5, -0.25, 37.447944, null, 1e-7]),
        encodeBinaryArray('date', ['2000-01-01', '1970-01-01', '2026-11-30', '9999-12-31', '2024-02-29']),
        encodeBinaryArray('text', text),
        encodeBinaryArray('jsonb', ['[{"urlkey":"a","name":"Zoë"}]', '[]', null]),
        encodeBinaryArray('text', []),
      ],
    )
    assert.deepEqual(rows[0], {
      // to_json keeps bigints exact as JSON numbers; pg parses them back as doubles, exact up to 2^53
      bigint: [1, null, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 1_767_225_600_000],
      int: [0, -2, 2 ** 31 - 1, -(2 ** 31)],
      float8: [1.5, -0.25, 37.447944, null, 1e-7],
      date: ['2000-01-01', '1970-01-01', '2026-11-30', '9999-12-31', '2024-02-29'],
      text,
      jsonb: [[{ urlkey: 'a', name: 'Zoë' }], [], null],
      empty: 0,
      zipped: 8,
    })
  })

  test('should be refused by PostgreSQL when cast to another element type, not read as something else', async (t) => {
    const { db } = await createTestDatabase(t)
    await assert.rejects(db.query('SELECT $1::int[]', [encodeBinaryArray('bigint', [1])]), /element type/)
  })
})

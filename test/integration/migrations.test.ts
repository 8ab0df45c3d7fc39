/**
 * Migrations run on databases that already hold data: each later migration is applied to a
 * database at the one before, filled the way the service filled it then.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { migrate, readMigrations } from '../../src/store/migrate.ts'
import { createPostgres } from '../../src/store/postgres.ts'
import { createTestDatabase, silentLogger } from '../helpers.ts'

test('0005 forgets members on a database that holds them, and keeps every RSVP and count', async (t) => {
  const { db } = await createTestDatabase(t)
  const all = readMigrations()
  const before = all.filter((m) => m.version < '0005')
  assert.deepEqual(await migrate(db, { logger: silentLogger }, before), ['0001', '0002', '0003', '0004'])
  await db.query(`INSERT INTO members (member_id, mtime, rsvp_id, name, photo)
                  VALUES (7, 1000, 1, 'Ada Example', 'https://img.example/m/7.jpeg')`)
  await db.query(`INSERT INTO rsvps (rsvp_id, mtime, event_id, response, guests, member_id)
                  VALUES (1, 1000, 'e1', 'yes', 2, 7)`)
  await db.query(`INSERT INTO events (event_id, yes_rsvps, attendees) VALUES ('e1', 1, 3)`)

  const through0005 = all.filter((m) => m.version <= '0005')
  assert.deepEqual(await migrate(db, { logger: silentLogger }, through0005), ['0005'])
  const tables = await db.query<{ name: string }>(
    "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'members'",
  )
  assert.equal(tables.rowCount, 0, 'no members table')
  const columns = await db.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
     WHERE table_schema = 'public' AND (column_name LIKE '%member%' OR column_name IN ('photo'))`,
  )
  assert.deepEqual(columns.rows, [], 'no column holds members or photos')
  const rsvps = await db.query('SELECT rsvp_id, mtime, event_id, response, guests FROM rsvps')
  assert.deepEqual(rsvps.rows, [{ rsvp_id: 1, mtime: 1000, event_id: 'e1', response: 'yes', guests: 2 }])
  const events = await db.query('SELECT event_id, yes_rsvps, attendees FROM events')
  assert.deepEqual(events.rows, [{ event_id: 'e1', yes_rsvps: 1, attendees: 3 }])
  // And the migrations after it run on what it left.
  const later = all.filter((m) => m.version > '0005').map((m) => m.version)
  assert.deepEqual(await migrate(db, { logger: silentLogger }, all), later)
})

test('a migration may run longer than the pool query timeout', async (t) => {
  const { url } = await createTestDatabase(t)
  // Queries on this pool time out after 100 ms; the migration below sleeps 500 ms.
  const db = createPostgres({ url, poolSize: 1, queryTimeoutMs: 100 }, { logger: silentLogger })
  try {
    await assert.rejects(db.query('SELECT pg_sleep(0.5)'), /timeout/i, 'an ordinary query times out')
    const slow = {
      version: '0001',
      name: 'slow',
      sql: 'SELECT pg_sleep(0.5); CREATE TABLE slow (id int)',
      checksum: 'x',
    }
    assert.deepEqual(await migrate(db, { logger: silentLogger }, [slow]), ['0001'])
    // Checked through a pool without the short timeout: on a busy machine any query may take 100 ms.
    const check = createPostgres({ url, poolSize: 1 }, { logger: silentLogger })
    try {
      const { rows } = await check.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'slow'",
      )
      assert.equal(rows[0]?.n, 1)
    } finally {
      await check.close()
    }
  } finally {
    // closed before the database is dropped (after hooks run after the test body)
    await db.close()
  }
})

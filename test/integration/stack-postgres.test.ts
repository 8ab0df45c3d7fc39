import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { createPostgres } from '../../src/store/postgres.ts'
import { createTestDatabase, silentLogger, stackConfig } from '../helpers.ts'

describe('local PostgreSQL', () => {
  test('the application role should log in over TCP, and not be a superuser', async (t) => {
    const config = stackConfig()
    const db = createPostgres({ url: config.postgres.url, poolSize: 1 }, { logger: silentLogger })
    t.after(() => db.close())
    const { rows } = await db.query<{ user: string; superuser: boolean; version: string; address: string }>(
      `SELECT current_user AS user, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
              current_setting('server_version_num') AS version, inet_server_addr()::text AS address`,
    )
    assert.equal(rows[0]?.user, 'rsvp_topk')
    assert.equal(rows[0]?.superuser, false)
    assert.match(rows[0]?.version ?? '', /^15\d{4}$/)
    assert.equal(rows[0]?.address, '127.0.0.1/32')
  })

  test('a wrong password should be refused', async (t) => {
    const url = new URL(stackConfig().postgres.url)
    url.password = 'wrong-password'
    const db = createPostgres({ url: url.toString(), poolSize: 1 }, { logger: silentLogger })
    t.after(() => db.close())
    await assert.rejects(db.query('SELECT 1'), /password authentication failed/)
  })

  test('withTransaction should commit on success and roll back on error', async (t) => {
    const { db } = await createTestDatabase(t)
    await db.query('CREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL)')
    await db.withTransaction(async (tx) => {
      await tx.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [1, "it's kept"])
    })
    await assert.rejects(
      db.withTransaction(async (tx) => {
        await tx.query('INSERT INTO notes (id, body) VALUES ($1, $2)', [2, 'rolled back'])
        throw new Error('boom')
      }),
      /boom/,
    )
    const { rows } = await db.query<{ id: number; body: string }>('SELECT id, body FROM notes ORDER BY id')
    assert.deepEqual(rows, [{ id: 1, body: "it's kept" }])
  })
})

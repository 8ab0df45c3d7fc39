/**
 * Applies the numbered SQL files in migrations/ that the database has not seen, each in its own
 * transaction, under an advisory lock so that several processes starting at once apply each
 * migration exactly once. An applied migration whose file changed afterwards stops everything:
 * schema changes only ever come as new files.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'
import { AppError, ErrorCodes } from '../errors.ts'
import type { Logger } from '../observability/logger.ts'
import { toDatabaseError } from './database-errors.ts'
import type { Postgres } from './postgres.ts'

const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url))
// Any constant shared by every rsvp-topk process: pg_advisory_lock takes a bigint key.
const MIGRATION_LOCK_KEY = 7_262_771_101
// A migration rewriting a large table can take longer than the pool's query timeout (120 s), and
// a timeout counts as "unavailable": it would roll back and start again forever. Migrations get
// the longest timer Node allows (about 24.8 days) instead; pg reads 0 as "the pool's default".
const MIGRATION_QUERY_TIMEOUT_MS = 2_147_483_647

export interface Migration {
  readonly version: string
  readonly name: string
  readonly sql: string
  readonly checksum: string
}

export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{4}_[a-z0-9_]+\.sql$/.test(file))
    .sort()
    .map((file) => {
      const sql = readFileSync(`${dir}/${file}`, 'utf8')
      return {
        version: file.slice(0, 4),
        name: file.slice(5, -4),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      }
    })
}

/**
 * Returns the versions it applied (empty when the schema was already current). Throws
 * RSVP_DATABASE_UNAVAILABLE when PostgreSQL cannot be reached or goes away (retry: every migration
 * is all or nothing), RSVP_MIGRATION_FAILED when a migration's SQL fails or an applied file changed.
 */
export async function migrate(
  db: Postgres,
  deps: { logger: Logger },
  migrations: readonly Migration[] = readMigrations(),
): Promise<string[]> {
  try {
    return await migrateOnce(db, deps, migrations)
  } catch (error) {
    throw toDatabaseError(error)
  }
}

async function migrateOnce(
  db: Postgres,
  deps: { logger: Logger },
  migrations: readonly Migration[],
): Promise<string[]> {
  const client = await db.connect()
  // Every statement of a migration run goes without the pool's query timeout: waiting for another
  // process's migration (the advisory lock) or a busy server must not fail and roll it back.
  // pg reads query_timeout per query (client.js) though its types do not declare it.
  const run = <Row extends pg.QueryResultRow>(text: string, values?: unknown[]) =>
    client.query<Row>({ text, values, query_timeout: MIGRATION_QUERY_TIMEOUT_MS } as pg.QueryConfig)
  const applied: string[] = []
  try {
    await run('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
    await run(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    text PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`)
    const { rows } = await run<{ version: string; checksum: string }>('SELECT version, checksum FROM schema_migrations')
    const done = new Map(rows.map((row) => [row.version, row.checksum]))
    for (const migration of migrations) {
      const checksum = done.get(migration.version)
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new AppError(
            ErrorCodes.MIGRATION_FAILED,
            `migration ${migration.version}_${migration.name} was changed after it was applied; add a new migration instead`,
            { version: migration.version },
          )
        }
        continue
      }
      try {
        await run('BEGIN')
        await run(migration.sql)
        await run('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
          migration.version,
          migration.name,
          migration.checksum,
        ])
        await run('COMMIT')
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {})
        const failure = toDatabaseError(error)
        // Losing the connection mid-migration is not the migration's fault: it is tried again.
        if (failure.code === ErrorCodes.DATABASE_UNAVAILABLE) throw failure
        throw new AppError(
          ErrorCodes.MIGRATION_FAILED,
          `migration ${migration.version}_${migration.name} failed: ${(error as Error).message}`,
          { cause: error, version: migration.version },
        )
      }
      applied.push(migration.version)
      deps.logger.info({ version: migration.version, name: migration.name }, 'migration applied')
    }
    return applied
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => {})
    client.release()
  }
}

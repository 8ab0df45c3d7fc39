import { loadConfig } from '../config.ts'
import { createLogger } from '../observability/logger.ts'
import { migrate } from '../store/migrate.ts'
import { createPostgres } from '../store/postgres.ts'

/** `rsvp-topk migrate`: applies pending migrations and says which. */
export async function runMigrations(): Promise<void> {
  const config = loadConfig()
  const logger = createLogger(config.logLevel)
  const db = createPostgres({ url: config.postgres.url, poolSize: 1 }, { logger })
  try {
    const applied = await migrate(db, { logger })
    process.stdout.write(
      applied.length === 0 ? 'the database schema is up to date\n' : `applied migrations ${applied.join(', ')}\n`,
    )
  } finally {
    await db.close()
  }
}

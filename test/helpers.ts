/**
 * Test helpers. Integration tests run against the real stack that `./dev.sh test` brings up; each
 * helper ties its cleanup to the test context, so a test leaves no topic consumer, pool or database
 * behind.
 */
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { connectRedis, type RedisConnection } from '../src/cache/redis-node.ts'
import { type Config, loadConfig, type RedisNodeConfig } from '../src/config.ts'
import { createLogger } from '../src/observability/logger.ts'
import { createPostgres, type Postgres } from '../src/store/postgres.ts'

/**
 * What a helper needs of its caller to clean up after it: a node:test TestContext, or the chaos
 * suite's scope. Cleanups run in the order they were added.
 */
export interface Scope {
  after(fn: () => unknown): void
}

/** The stack's configuration; fails with a pointer to ./dev.sh when the environment is not set. */
export function stackConfig(overrides: Record<string, string> = {}): Config {
  if (!process.env.KAFKA_BROKERS) {
    throw new Error('integration tests need the local stack: run them through ./dev.sh test')
  }
  return loadConfig({ ...process.env, LOG_LEVEL: 'silent', ...overrides })
}

export const silentLogger = createLogger('silent')

/** A TCP port on 127.0.0.1 that nothing listens on right now, for a child process's server. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no free port')
  return address.port
}

/** A name no other test run uses: topics, groups, databases. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`
}

/**
 * A fresh database for one test, owned by the application role (which may create databases but is
 * no superuser). Dropped when the test ends.
 */
export async function createTestDatabase(t: Scope): Promise<{ url: string; db: Postgres }> {
  const config = stackConfig()
  const name = uniqueName('rsvp_test')
  const admin = createPostgres({ url: config.postgres.url, poolSize: 1 }, { logger: silentLogger })
  await admin.query(`CREATE DATABASE ${name}`)
  const url = new URL(config.postgres.url)
  url.pathname = `/${name}`
  const db = createPostgres({ url: url.toString(), poolSize: 4 }, { logger: silentLogger })
  t.after(async () => {
    await db.close()
    await dropDatabase(admin, name)
    await admin.close()
  })
  return { url: url.toString(), db }
}

/**
 * Drops a database once our own connections are closed. Not WITH (FORCE): the application role may
 * not terminate an autovacuum worker, while a plain DROP cancels one by itself. A session still
 * closing gets a few moments to go.
 */
export async function dropDatabase(admin: Postgres, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${name}`)
      return
    } catch (error) {
      // 55006: object_in_use ("database is being accessed by other users")
      if ((error as { code?: string }).code !== '55006' || attempt >= 50) throw error
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
}

/**
 * A connection to one Redis node as the stack's admin user, for what the service's user may not
 * do (SHUTDOWN, CLIENT PAUSE, INFO, other services' keys). ./dev.sh test, chaos and bench export its
 * credentials.
 */
export async function connectRedisAdmin(node: RedisNodeConfig): Promise<RedisConnection> {
  const username = process.env.RSVP_TOPK_REDIS_ADMIN_USER
  const password = process.env.RSVP_TOPK_REDIS_ADMIN_PASSWORD
  if (!username || !password) {
    throw new Error('the Redis admin user is not set: run through ./dev.sh test, chaos or bench')
  }
  return connectRedis({ ...node, username, password })
}

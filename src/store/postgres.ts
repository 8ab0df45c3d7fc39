/**
 * The PostgreSQL adapter: the only module that imports `pg`. A pool with an error listener, plain
 * parameterised queries, and transactions on one checked-out client released in `finally`.
 * Every failure of a query, a connection or a transaction leaves here as an AppError that says
 * what it means (RSVP_DATABASE_UNAVAILABLE, _REJECTED or _FAULT: see database-errors.ts).
 */
import pg from 'pg'
import type { Logger } from '../observability/logger.ts'
import { toDatabaseError } from './database-errors.ts'

export interface PostgresOptions {
  /** postgres://user:password@host:port/database */
  readonly url: string
  readonly poolSize?: number
  readonly applicationName?: string
  /** how long getting a new connection may take (default 5 s) */
  readonly connectionTimeoutMs?: number
  /** client-side limit on one query (default 120 s) */
  readonly queryTimeoutMs?: number
  /** server-side limit on waiting for a row lock (default 60 s) */
  readonly lockTimeoutMs?: number
}

export interface Queryable {
  query<Row extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
  ): Promise<{ rows: Row[]; rowCount: number }>
}

export interface Postgres extends Queryable {
  /** Runs `work` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws. */
  withTransaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>
  /** A raw pooled client, for what a query cannot do (COPY streams, advisory locks). Release it when done. */
  connect(): Promise<pg.PoolClient>
  close(): Promise<void>
}

// int8 (BIGINT) values stay strings by default; ours (ids, counts, epoch ms) fit in a double.
// Set per pool, so importing this module changes nothing of pg's global state.
function typeParsers(): pg.CustomTypesConfig {
  const types = new pg.TypeOverrides()
  types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value))
  return types
}

export function createPostgres(options: PostgresOptions, deps: { logger: Logger }): Postgres {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize ?? 10,
    application_name: options.applicationName ?? 'rsvp-topk',
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
    idleTimeoutMillis: 30_000,
    // A half-open connection or a peer stuck holding row locks must fail the work (it is retried,
    // and applying a batch is idempotent) rather than freeze a partition.
    keepAlive: true,
    query_timeout: options.queryTimeoutMs ?? 120_000,
    lock_timeout: options.lockTimeoutMs ?? 60_000,
    idle_in_transaction_session_timeout: 120_000,
    types: typeParsers(),
  })
  // An idle client's connection can drop (server restart); without a listener that crashes the process.
  pool.on('error', (error) => deps.logger.warn({ err: error }, 'idle PostgreSQL connection failed'))
  let closed = false

  async function query<Row extends Record<string, unknown>>(text: string, values?: readonly unknown[]) {
    try {
      const result = await pool.query<Row>(text, values as unknown[] | undefined)
      return { rows: result.rows, rowCount: result.rowCount ?? 0 }
    } catch (error) {
      throw toDatabaseError(error)
    }
  }

  // A checked-out client whose server goes away between two queries emits 'error'; without a
  // listener that would crash the process instead of failing the current work.
  async function checkOut(): Promise<{
    client: pg.PoolClient
    failed: () => boolean
    release: (broken: boolean) => void
  }> {
    let client: pg.PoolClient
    try {
      client = await pool.connect()
    } catch (error) {
      throw toDatabaseError(error)
    }
    // pg-pool gives each checkout its own release function; keep it before anyone wraps it.
    const poolRelease = client.release.bind(client)
    let failed = false
    const onError = (error: Error) => {
      failed = true
      deps.logger.warn({ err: error }, 'PostgreSQL connection failed while in use')
    }
    client.on('error', onError)
    return {
      client,
      failed: () => failed,
      release(broken) {
        client.off('error', onError)
        poolRelease(broken || failed)
      },
    }
  }

  return {
    query,
    async withTransaction(work) {
      const { client, release } = await checkOut()
      let broken = false
      const run = async <Row extends Record<string, unknown>>(text: string, values?: readonly unknown[]) => {
        try {
          const result = await client.query<Row>(text, values as unknown[] | undefined)
          return { rows: result.rows, rowCount: result.rowCount ?? 0 }
        } catch (error) {
          throw toDatabaseError(error)
        }
      }
      try {
        await run('BEGIN')
        const result = await work({ query: run })
        await run('COMMIT')
        return result
      } catch (error) {
        try {
          await client.query('ROLLBACK')
        } catch {
          // The connection itself is gone; drop it from the pool rather than reuse it.
          broken = true
        }
        throw error
      } finally {
        release(broken)
      }
    },
    async connect() {
      const { client, release } = await checkOut()
      // Callers release as usual; ours also drops the error listener.
      client.release = (broken?: boolean | Error) => release(Boolean(broken))
      return client
    },
    async close() {
      if (closed) return
      closed = true
      await pool.end()
    },
  }
}

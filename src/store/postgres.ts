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

/** A query parameter already in the form pg sends. */
export type EncodedParam = string | null

/**
 * A query parameter in PostgreSQL's text form, worked out now rather than inside query():
 * turning large arrays into literals is CPU work that a caller can do before its transaction
 * starts. pg sends a string parameter as it is.
 *
 * Takes null, strings, numbers, booleans and (nested) arrays of them; an array becomes an array
 * literal (`{1,NULL,"a \"b\""}`: the syntax of the PostgreSQL manual's "Array Value Input").
 * Written here in one pass rather than by pg, which quotes every number and runs two regular
 * expressions per element, and which builds the literal piece by piece (a rope of hundreds of
 * thousands of small strings per batch, all alive until the batch is sent); `join` gives one
 * flat string. Throws TypeError for any other value.
 */
export function encodeParam(value: unknown): EncodedParam {
  if (value === null || value === undefined) return null
  if (Array.isArray(value)) return arrayLiteral(value)
  return scalarText(value)
}

function scalarText(value: unknown): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value)
  throw new TypeError(`encodeParam takes null, strings, numbers, booleans and arrays of them, not ${typeof value}`)
}

function arrayLiteral(values: readonly unknown[]): string {
  const parts = new Array<string>(values.length)
  for (let i = 0; i < values.length; i++) {
    const value = values[i]
    if (value === null || value === undefined) parts[i] = 'NULL'
    else if (typeof value === 'number') parts[i] = String(value)
    else if (Array.isArray(value)) parts[i] = arrayLiteral(value)
    else parts[i] = `"${scalarText(value).replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
  }
  return `{${parts.join(',')}}`
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

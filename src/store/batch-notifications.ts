/**
 * How an `api` process learns that an `ingest` process (any of them, on any machine) committed a
 * batch: PostgreSQL's LISTEN/NOTIFY on one channel of the service's database. The ingest sends a
 * small summary after each batch that changed something; every listening process receives it once
 * the sending transaction has committed. A notice says "rankings may have changed", never what
 * they are: a listener reads the ranking itself, so a notice lost while its connection was down
 * costs nothing but the resync it does when it listens again (onListening).
 *
 * Channels are per database, so services on other databases (data sets) do not hear each other.
 */

import { retryUntilDone } from '../ingest/retry.ts'
import type { Logger } from '../observability/logger.ts'
import type { Postgres, Queryable } from './postgres.ts'

export const BATCHES_CHANNEL = 'rsvp_topk_batches'

/** What one committed batch did, as sent on the channel. */
export interface BatchNotice {
  /** RSVP versions that became current */
  readonly applied: number
  /** messages the batch held (applied, unchanged, invalid and refused) */
  readonly messages: number
  /** the greatest mtime among the applied versions (epoch ms), or null when none applied */
  readonly newestAppliedMtime: number | null
}

/** Sends `notice` on the channel; listeners get it when the caller's transaction (if any) commits. */
export async function notifyBatchApplied(db: Queryable, notice: BatchNotice): Promise<void> {
  await db.query('SELECT pg_notify($1, $2)', [
    BATCHES_CHANNEL,
    JSON.stringify({ applied: notice.applied, messages: notice.messages, newest: notice.newestAppliedMtime }),
  ])
}

/**
 * A notice's payload as sent by notifyBatchApplied, or undefined for anything else: anyone who may
 * connect to the database may NOTIFY on the channel, so the payload is checked like any input.
 */
export function parseBatchNotice(payload: string | undefined): BatchNotice | undefined {
  if (payload === undefined || payload.length > 1000) return undefined
  let value: unknown
  try {
    value = JSON.parse(payload)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { applied, messages, newest } = value as Record<string, unknown>
  const count = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0
  if (!count(applied) || !count(messages)) return undefined
  if (newest !== null && !count(newest)) return undefined
  return { applied, messages, newestAppliedMtime: newest }
}

export interface BatchListenerHandlers {
  /** a batch was committed somewhere (a valid notice) */
  readonly onBatch: (notice: BatchNotice) => void
  /**
   * LISTEN took effect, at start and after each reconnection: notices sent while not listening
   * are lost, so whatever depends on them should be read again now.
   */
  readonly onListening: () => void
}

export interface BatchListener {
  close(): Promise<void>
}

/**
 * Listens on the channel on one connection of `db`'s pool, held for as long as it listens; when
 * the connection fails, listens again on a new one (retried with backoff until PostgreSQL answers).
 */
export function listenForBatches(
  db: Postgres,
  handlers: BatchListenerHandlers,
  deps: { logger: Logger },
): BatchListener {
  const logger = deps.logger.child({ component: 'batch-listener' })
  const closing = new AbortController()

  /** One connection's life: rejects when it ends, resolves only on close. */
  async function listenOnce(): Promise<void> {
    const client = await db.connect()
    let broken = true
    try {
      const ended = new Promise<void>((resolve, reject) => {
        const fail = (error?: Error) => reject(error ?? new Error('the LISTEN connection ended'))
        client.once('error', fail)
        client.once('end', () => fail())
        closing.signal.addEventListener('abort', () => resolve(), { once: true })
      })
      // Registered before LISTEN so nothing sent after LISTEN takes effect is missed.
      client.on('notification', (message) => {
        if (message.channel !== BATCHES_CHANNEL) return
        const notice = parseBatchNotice(message.payload)
        if (notice === undefined) logger.warn('ignored a malformed notice on the batches channel')
        else handlers.onBatch(notice)
      })
      await client.query(`LISTEN ${BATCHES_CHANNEL}`)
      logger.debug('listening for committed batches')
      handlers.onListening()
      await ended
      broken = false
      await client.query(`UNLISTEN ${BATCHES_CHANNEL}`).catch(() => {
        broken = true
      })
    } finally {
      client.release(broken)
    }
  }

  const running = (async () => {
    while (!closing.signal.aborted) {
      await retryUntilDone(listenOnce, {
        signal: closing.signal,
        logger,
        what: 'listening for committed batches',
        context: { dependency: 'postgres' },
        initialDelayMs: 250,
        maxDelayMs: 5000,
      }).catch(() => {})
    }
  })()

  return {
    async close() {
      closing.abort(new Error('closing'))
      await running
    },
  }
}

/** The greatest mtime (epoch ms) among the RSVPs' current versions, or null when there are none. */
export async function readNewestRsvpMtime(db: Queryable): Promise<number | null> {
  // rsvps_by_mtime makes this one index probe.
  const result = await db.query<{ newest: number | null }>('SELECT max(mtime) AS newest FROM rsvps')
  return result.rows[0]?.newest ?? null
}

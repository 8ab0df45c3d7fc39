/**
 * How an `api` process learns that an `ingest` process (any of them, on any machine) committed a
 * batch: PostgreSQL's LISTEN/NOTIFY on one channel of the service's database. The ingest sends a
 * small summary after each batch that changed something; every listening process receives it once
 * the sending transaction has committed. A notice says "rankings may have changed", never what
 * they are: a listener reads the ranking itself, so a notice lost while its connection was down
 * costs nothing but the resync it does when it listens again (onListening).
 *
 * Channels are per database, so services on other databases (data sets) do not hear each other.
 *
 * A notice also lists the events, groups and venues whose details the batch changed (all of them
 * when the list would not fit a notice), so each process drops them from its in-process details
 * tier (cache/local-tier.ts) as the ingest dropped them from the Redis ring.
 *
 * A notice also carries the primary's WAL position after the batch's commit: NOTIFY is not
 * replicated and a notice can reach a listener before a streaming replica has replayed the batch,
 * so an api process that reads a replica waits for the replica to replay that far before it
 * computes what the notice may have changed (store/read-router.ts, README "Read replica").
 */

import { setTimeout as sleep } from 'node:timers/promises'
import { MAX_MTIME } from '../domain/parse-rsvp.ts'
import { retryUntilDone } from '../ingest/retry.ts'
import { createLogSampler } from '../observability/log-sampler.ts'
import type { Logger } from '../observability/logger.ts'
import type { Postgres, Queryable } from './postgres.ts'
import { parseLsn } from './read-routing.ts'
import type { ChangedDetails } from './rsvp-store.ts'

export const BATCHES_CHANNEL = 'rsvp_topk_batches'

/**
 * PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more; the rest of a notice takes under 200.
 * A list of changed details longer than this is sent as "all".
 */
const DETAILS_LIST_MAX_BYTES = 7000
const PAYLOAD_MAX_LENGTH = 8000
/** Event ids are text of any length in messages; a notice's are bounded like the store's keys. */
const EVENT_ID_MAX_LENGTH = 1000

/** What one committed batch did, as sent on the channel. */
export interface BatchNotice {
  /** RSVP versions that became current */
  readonly applied: number
  /** messages the batch held (applied, unchanged, invalid and refused) */
  readonly messages: number
  /** the greatest mtime among the applied versions (epoch ms), or null when none applied */
  readonly newestAppliedMtime: number | null
  /**
   * the primary's WAL position (pg_lsn text, "16/B374D848") when the notice was sent, at or after
   * the batch's commit; null from a sender that does not give one (an older ingest)
   */
  readonly walLsn: string | null
  /**
   * whose details the batch changed, or 'all' when the sender could not list them (too many for a
   * notice, or an older ingest that does not say)
   */
  readonly details: ChangedDetails | 'all'
}

/**
 * Sends `notice` on the channel; listeners get it when the caller's transaction (if any) commits.
 * Call it after the batch's transaction has committed, outside it: the WAL position is read by the
 * same statement (pg_current_wal_lsn()), so it is at or after the batch's commit record.
 */
export async function notifyBatchApplied(
  db: Queryable,
  notice: Omit<BatchNotice, 'walLsn' | 'details'> & { readonly details: ChangedDetails },
): Promise<void> {
  await db.query(
    `SELECT pg_notify($1, json_build_object('applied', $2::bigint, 'messages', $3::bigint, 'newest', $4::bigint,
       'lsn', pg_current_wal_lsn()::text, 'details', $5::json)::text)`,
    [BATCHES_CHANNEL, notice.applied, notice.messages, notice.newestAppliedMtime, detailsListText(notice.details)],
  )
}

/** The changed details as a notice lists them: `{"events":[…],"groups":[…],"venues":[…]}`, or `"all"`. */
export function detailsListText(changed: ChangedDetails): string {
  const text = JSON.stringify({ events: changed.events, groups: changed.groups, venues: changed.venues })
  return Buffer.byteLength(text) <= DETAILS_LIST_MAX_BYTES ? text : '"all"'
}

/**
 * A notice's payload as sent by notifyBatchApplied, or undefined for anything else: anyone who may
 * connect to the database may NOTIFY on the channel, so the payload is checked like any input. The
 * WAL position (`lsn`) may be absent (walLsn null), but when present it must be a pg_lsn.
 */
export function parseBatchNotice(payload: string | undefined): BatchNotice | undefined {
  if (payload === undefined || payload.length > PAYLOAD_MAX_LENGTH) return undefined
  let value: unknown
  try {
    value = JSON.parse(payload)
  } catch {
    return undefined
  }
  if (typeof value !== 'object' || value === null) return undefined
  const { applied, messages, newest, lsn, details: listed } = value as Record<string, unknown>
  const count = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0
  if (!count(applied) || !count(messages)) return undefined
  // An mtime the ingest could have applied: before year 10000, like every RSVP it counts.
  if (newest !== null && !(count(newest) && newest <= MAX_MTIME)) return undefined
  // Absent from an older ingest's notices (still heard during a rolling upgrade); never malformed.
  let walLsn: string | null = null
  if (lsn !== undefined) {
    if (typeof lsn !== 'string' || parseLsn(lsn) === undefined) return undefined
    walLsn = lsn
  }
  // Absent from an older ingest's notices too: it may have changed anything.
  let details: ChangedDetails | 'all' = 'all'
  if (listed !== undefined && listed !== 'all') {
    const parsed = parseDetailsList(listed)
    if (parsed === undefined) return undefined
    details = parsed
  }
  return { applied, messages, newestAppliedMtime: newest, walLsn, details }
}

function parseDetailsList(value: unknown): ChangedDetails | undefined {
  if (typeof value !== 'object' || value === null) return undefined
  const { events, groups, venues } = value as Record<string, unknown>
  const id = (n: unknown): n is number => Number.isSafeInteger(n)
  const eventId = (s: unknown): s is string => typeof s === 'string' && s.length <= EVENT_ID_MAX_LENGTH
  if (!Array.isArray(events) || !events.every(eventId)) return undefined
  if (!Array.isArray(groups) || !groups.every(id)) return undefined
  if (!Array.isArray(venues) || !venues.every(id)) return undefined
  return { events, groups, venues }
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
  const malformedLines = createLogSampler({ perInterval: 5, intervalMs: 60_000 })

  /**
   * One connection's life. Rejects when it fails before LISTEN took effect (retried with backoff);
   * once it listened, resolves when it ends for whatever reason, so the next connection starts
   * from a fresh backoff: a blip days after earlier ones must not wait the longest delay.
   */
  async function listenOnce(): Promise<void> {
    const client = await db.connect()
    let broken = true
    try {
      const ended = new Promise<void>((resolve, reject) => {
        const fail = (error?: Error) => reject(error ?? new Error('the LISTEN connection ended'))
        client.once('error', fail)
        client.once('end', () => fail())
        // close() may have come while connect() waited: an aborted signal fires no more events.
        if (closing.signal.aborted) resolve()
        else closing.signal.addEventListener('abort', () => resolve(), { once: true })
      })
      // Registered before LISTEN so nothing sent after LISTEN takes effect is missed.
      client.on('notification', (message) => {
        if (message.channel !== BATCHES_CHANNEL) return
        const notice = parseBatchNotice(message.payload)
        if (notice !== undefined) handlers.onBatch(notice)
        else {
          // Anyone who may connect to the database may NOTIFY: at most a few such lines a minute.
          const { log, suppressed } = malformedLines.take('malformed notice')
          if (log) logger.warn({ suppressed }, 'ignored a malformed notice on the batches channel')
        }
      })
      await client.query(`LISTEN ${BATCHES_CHANNEL}`)
      logger.debug('listening for committed batches')
      handlers.onListening()
      try {
        await ended
      } catch (error) {
        logger.warn({ err: error }, 'the LISTEN connection ended; listening again')
        return
      }
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
      // A connection that listened and then ended: listen again soon, but never in a tight loop.
      if (!closing.signal.aborted) await sleep(100, undefined, { signal: closing.signal }).catch(() => {})
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

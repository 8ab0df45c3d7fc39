/**
 * The API's reads between the primary and a streaming replica (DATABASE_READ_URL; README "Read
 * replica"). The rules are read-routing.ts's; this module applies them to two pools:
 *
 * - The replica is checked every `checkIntervalMs`: whether it answers, is in recovery, how far
 *   behind its replay is, and up to where it has replayed.
 * - `reads` is a Queryable whose every statement goes where the rules say. A statement the
 *   replica fails with an outage or a fault (refused, gone, cancelled by a recovery conflict,
 *   wrong password) is run again on the primary at once, and reads stay on the primary until a
 *   check finds the replica well again: a replica that fails never makes the API fail.
 * - `fresh()` is for reads that must see every batch this process has heard of (`heard`, with
 *   the WAL position the batch notice carries): it waits, up to `freshWaitMs`, for the replica to
 *   replay that far (one polling query every `pollMs` for all the reads waiting), else gives the
 *   primary. A batch notice arrives before the replica has replayed the batch, so a live ranking
 *   computed from the replica at once would miss the batch it was computed for.
 *
 * Writes, migrations and LISTEN never come here: they use the primary's pools directly.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { ErrorCodes, isAppError } from '../errors.ts'
import type { Logger } from '../observability/logger.ts'
import type { Postgres, Queryable } from './postgres.ts'
import {
  chooseFreshTarget,
  chooseReadTarget,
  type Lsn,
  parseLsn,
  type ReadChoice,
  type ReadTarget,
  type ReplicaView,
  UnreplayedBatches,
} from './read-routing.ts'

export interface ReadRouterOptions {
  /** the primary (the API's pool of DATABASE_URL): reads without a replica, and the fallback */
  readonly primary: Queryable
  /** the replica's pool, or undefined: every read goes to the primary */
  readonly replica: Postgres | undefined
  /** a replica further behind than this is not read from */
  readonly maxLagSeconds: number
  /** between two checks of the replica (default 1000) */
  readonly checkIntervalMs?: number
  /** a check not answered within this counts as a failure (default 2000) */
  readonly checkTimeoutMs?: number
  /** the longest a fresh read waits for the replica's replay (default 1000) */
  readonly freshWaitMs?: number
  /** between two polls of the replica's replay position while fresh reads wait (default 10) */
  readonly pollMs?: number
  /** the clock (ms), for the age of unreplayed batches; tests pin it */
  readonly now?: () => number
}

export interface ReadRouterDeps {
  readonly logger: Logger
  /** told of each statement answered, with the database that answered it */
  readonly onRead?: (target: ReadTarget) => void
  /** told of each fresh read that waited: the replica caught up, or the primary answered */
  readonly onWait?: (outcome: 'caught_up' | 'timed_out') => void
}

/** What /readyz and the metrics say of the replica. */
export interface ReplicaStatus {
  /** none: no replica configured; waiting: not checked yet; up: reads go to it; down: to the primary */
  readonly state: 'none' | 'waiting' | 'up' | 'down'
  /** when it went down (epoch ms), while down */
  readonly since?: number
  /** why reads go to the primary, while down */
  readonly reason?: string
  /** its replay lag at the last check that reached it, or undefined (none, or it did not answer) */
  readonly lagSeconds: number | undefined
}

export interface ReadRouter {
  /** the API's reads: each statement on the replica when the rules allow, else on the primary */
  readonly reads: Queryable
  /**
   * Reads that see at least every batch heard of so far: the replica once it has replayed the
   * newest one (waiting at most `freshWaitMs`), else the primary. Never rejects.
   */
  fresh(): Promise<Queryable>
  /**
   * A batch committed with its commit's WAL position `lsn` (pg_lsn text) was heard of. Null (a
   * notice without one, or a LISTEN that began again and may have missed some) reads the
   * primary's current position instead. Resolves once fresh reads will wait for it; never rejects.
   */
  heard(lsn: string | null): Promise<void>
  status(): ReplicaStatus
  /** Stops the checks, releases waiting reads to the primary, closes the replica's pool. */
  close(): Promise<void>
}

// Lag as the replica sees it: 0 when it has replayed all it received, else the age of the last
// transaction it replayed. Cast to float8 so pg hands over a number (EXTRACT gives numeric).
const CHECK_SQL = `SELECT pg_is_in_recovery() AS recovery,
  pg_last_wal_replay_lsn()::text AS replayed,
  (CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() IS NULL
          OR pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0
        ELSE coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END)::float8 AS lag`

interface Check {
  readonly reachable: boolean
  readonly error?: string
  readonly inRecovery: boolean
  /** what the replica reported, for the metric */
  readonly lagSeconds: number | undefined
  /** what the rules see: the smaller of the last two reported lags (see below) */
  readonly steadyLagSeconds: number
}

interface Waiter {
  readonly required: Lsn
  readonly deadline: number
  readonly resolve: (db: Queryable) => void
}

/** Builds the router and starts checking the replica (when there is one). */
export function createReadRouter(options: ReadRouterOptions, deps: ReadRouterDeps): ReadRouter {
  const logger = deps.logger.child({ component: 'read-router' })
  const now = options.now ?? Date.now
  const replica = options.replica
  const rules = {
    configured: replica !== undefined,
    maxLagSeconds: options.maxLagSeconds,
    waitMs: options.freshWaitMs ?? 1000,
  }
  const checkTimeoutMs = options.checkTimeoutMs ?? 2000
  const pollMs = options.pollMs ?? 10
  const unreplayed = new UnreplayedBatches()
  let check: Check | undefined
  let replayed: Lsn | undefined
  /** the newest batch heard of: fresh reads wait for it */
  let required: Lsn = 0n
  /** where reads went at the last evaluation after a check, for the log lines on a change */
  let announced: ReadTarget | undefined
  let downSince: number | undefined
  let closed = false
  let timer: NodeJS.Timeout | undefined
  const waiters = new Set<Waiter>()
  let polling = false

  const view = (): ReplicaView | undefined =>
    check === undefined
      ? undefined
      : {
          reachable: check.reachable,
          ...(check.error !== undefined && { error: check.error }),
          inRecovery: check.inRecovery,
          lagSeconds: check.steadyLagSeconds,
          unreplayedSeconds: unreplayed.oldestSeconds(now()),
        }

  /** The rules' choice now; logs when reads move between the replica and the primary. */
  function evaluate(): ReadChoice {
    const choice = chooseReadTarget(view(), rules)
    if (replica !== undefined && check !== undefined && choice.target !== announced) {
      if (choice.target === 'primary') {
        downSince = now()
        logger.warn({ reason: choice.reason }, 'reads go to the primary')
      } else {
        downSince = undefined
        logger.info(announced === undefined ? 'reads go to the replica' : 'reads go to the replica again')
      }
      announced = choice.target
    }
    return choice
  }

  function observeReplayed(lsn: Lsn | undefined): void {
    if (lsn === undefined) return
    replayed = lsn
    unreplayed.replayed(lsn)
  }

  function replicaFailed(error: unknown): void {
    // A pool closed at shutdown fails what is in flight: not news for the logs.
    if (closed) return
    check = {
      reachable: false,
      error: error instanceof Error ? error.message : String(error),
      inRecovery: false,
      lagSeconds: undefined,
      steadyLagSeconds: 0,
    }
    evaluate()
  }

  async function checkReplica(db: Postgres): Promise<void> {
    try {
      const { rows } = await withTimeout(
        db.query<{ recovery: boolean; replayed: string | null; lag: number }>(CHECK_SQL),
        checkTimeoutMs,
      )
      const row = rows[0]
      const lag = Number(row?.lag ?? 0)
      // A replica that was idle and has just received a batch reports the age of the last
      // transaction it replayed, possibly minutes, for the few ms the replay takes. A real lag
      // lasts from one check to the next; such a blip does not, so the rules see the smaller of
      // the last two (the metric shows what was read).
      const previous = check?.reachable === true ? (check.lagSeconds ?? lag) : lag
      check = {
        reachable: true,
        inRecovery: row?.recovery === true,
        lagSeconds: lag,
        steadyLagSeconds: Math.min(lag, previous),
      }
      observeReplayed(parseLsn(row?.replayed))
      evaluate()
    } catch (error) {
      replicaFailed(error)
    }
  }

  function scheduleCheck(db: Postgres, delayMs: number): void {
    if (closed) return
    timer = setTimeout(() => {
      void checkReplica(db).finally(() => scheduleCheck(db, options.checkIntervalMs ?? 1000))
    }, delayMs)
    timer.unref()
  }
  if (replica !== undefined) scheduleCheck(replica, 0)

  /** Runs a statement where `target` says; the replica's outages and faults go on to the primary. */
  async function run<Row extends Record<string, unknown>>(
    target: ReadTarget,
    text: string,
    values?: readonly unknown[],
  ): Promise<{ rows: Row[]; rowCount: number }> {
    if (target === 'replica' && replica !== undefined) {
      try {
        const result = await replica.query<Row>(text, values)
        deps.onRead?.('replica')
        return result
      } catch (error) {
        // A statement the data makes fail (22…: bad input) fails the same on the primary.
        if (!isAppError(error, ErrorCodes.DATABASE_UNAVAILABLE) && !isAppError(error, ErrorCodes.DATABASE_FAULT)) {
          throw error
        }
        replicaFailed(error)
      }
    }
    const result = await options.primary.query<Row>(text, values)
    deps.onRead?.('primary')
    return result
  }

  const onReplica: Queryable = { query: (text, values) => run('replica', text, values) }
  const onPrimary: Queryable = { query: (text, values) => run('primary', text, values) }

  /** One polling loop for every waiting fresh read; ends when none waits. */
  async function poll(db: Postgres): Promise<void> {
    if (polling) return
    polling = true
    try {
      while (waiters.size > 0) {
        let failed = false
        try {
          const { rows } = await withTimeout(
            db.query<{ replayed: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS replayed'),
            checkTimeoutMs,
          )
          observeReplayed(parseLsn(rows[0]?.replayed))
        } catch (error) {
          replicaFailed(error)
          failed = true
        }
        const at = now()
        for (const waiter of waiters) {
          const caughtUp = !failed && replayed !== undefined && replayed >= waiter.required
          if (!caughtUp && !failed && !closed && at < waiter.deadline) continue
          waiters.delete(waiter)
          deps.onWait?.(caughtUp ? 'caught_up' : 'timed_out')
          waiter.resolve(caughtUp ? onReplica : onPrimary)
        }
        if (waiters.size > 0) await sleep(pollMs)
      }
    } finally {
      polling = false
    }
  }

  return {
    reads: { query: (text, values) => run(evaluate().target, text, values) },
    async fresh() {
      if (replica === undefined || closed) return onPrimary
      const choice = chooseFreshTarget(view(), { required, replayed }, rules)
      if (choice.target === 'replica') return onReplica
      if (choice.target === 'primary') return onPrimary
      const waiting = new Promise<Queryable>((resolve) => {
        waiters.add({ required, deadline: now() + rules.waitMs, resolve })
      })
      void poll(replica)
      return waiting
    },
    async heard(text) {
      if (replica === undefined) return
      let lsn = parseLsn(text)
      if (lsn === undefined) {
        try {
          const { rows } = await options.primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')
          lsn = parseLsn(rows[0]?.lsn)
        } catch (error) {
          logger.warn({ err: error }, "could not read the primary's WAL position")
        }
        if (lsn === undefined) return
      }
      if (lsn > required) required = lsn
      unreplayed.heard(lsn, now())
    },
    status() {
      if (replica === undefined) return { state: 'none', lagSeconds: undefined }
      if (check === undefined) return { state: 'waiting', lagSeconds: undefined }
      const choice = evaluate()
      if (choice.target === 'replica') return { state: 'up', lagSeconds: check.lagSeconds }
      return {
        state: 'down',
        ...(downSince !== undefined && { since: downSince }),
        reason: choice.reason,
        lagSeconds: check.lagSeconds,
      }
    },
    async close() {
      if (closed) return
      closed = true
      clearTimeout(timer)
      for (const waiter of waiters) waiter.resolve(onPrimary)
      waiters.clear()
      await replica?.close()
    },
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timeout: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timeout = setTimeout(() => reject(new Error(`the replica did not answer within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timeout)
  }
}

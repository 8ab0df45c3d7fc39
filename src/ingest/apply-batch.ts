/**
 * Applies a prepared batch to PostgreSQL so that nothing can block it for good:
 * - PostgreSQL unavailable (connection lost, deadlock, shutdown, …): the same transaction is
 *   retried until it goes through, however long that takes;
 * - a fault that is not in the data (a privilege, a missing table): retried too, at error level,
 *   since an operator can fix it while the ingest waits and no message is to blame;
 * - the data refused (SQLSTATE 21, 22, 23, 54): the batch is bisected (isolate.ts) to find the
 *   messages PostgreSQL refuses on their own; the rest is applied and those are returned, to go
 *   to the dead-letter topic with the database's reason.
 */
import { type AppError, ErrorCodes, isAppError } from '../errors.ts'
import { copyRecord } from '../kafka/client.ts'
import type { DependencyName } from '../observability/health.ts'
import type { Logger } from '../observability/logger.ts'
import { sqlstateOfAppError } from '../store/database-errors.ts'
import type { Postgres } from '../store/postgres.ts'
import { type ApplyResult, applyPlan, type EncodedPlan } from '../store/rsvp-store.ts'
import type { DeadLetter } from './dead-letter.ts'
import { isolateRefused } from './isolate.ts'
import { type PreparedBatch, planMessages } from './prepare-batch.ts'
import { retryUntilDone } from './retry.ts'

export interface ApplyBatchDeps {
  readonly db: Postgres
  readonly logger: Logger
  /** told of each failed attempt, e.g. for metrics and readiness */
  readonly onDependencyFailure: (dependency: DependencyName, error: unknown) => void
  readonly onDependencyUp: (dependency: DependencyName) => void
  /** told the duration of each committed transaction, in seconds */
  readonly onTransaction?: (seconds: number) => void
}

export interface AppliedBatch {
  readonly result: ApplyResult
  /** the messages PostgreSQL refused on their own, as dead letters */
  readonly refused: readonly DeadLetter[]
  /** transactions spent isolating them (0 when the batch went through whole) */
  readonly isolationTransactions: number
}

const isRefusal = (error: unknown): boolean => isAppError(error, ErrorCodes.DATABASE_REJECTED)

/**
 * Applies `prepared`; resolves once all of it that PostgreSQL accepts is committed. Rejects only
 * when `signal` aborts (shutdown), with its reason.
 */
export async function applyBatch(
  prepared: PreparedBatch,
  options: { readonly signal: AbortSignal; readonly onVersionsWritten: () => void },
  deps: ApplyBatchDeps,
): Promise<AppliedBatch> {
  const applyOnce = async (plan: EncodedPlan): Promise<ApplyResult> => {
    const result = await retryUntilDone(
      async () => {
        const started = performance.now()
        const applied = await applyPlan(deps.db, plan, { onVersionsWritten: options.onVersionsWritten })
        deps.onTransaction?.((performance.now() - started) / 1000)
        return applied
      },
      {
        signal: options.signal,
        logger: deps.logger,
        what: 'applying a batch to PostgreSQL',
        context: { dependency: 'postgres' },
        retryIf: (error) => !isRefusal(error),
        levelOf: (error) => (isAppError(error, ErrorCodes.DATABASE_FAULT) ? 'error' : 'warn'),
        onRetry: (_attempt, error) => deps.onDependencyFailure('postgres', error),
      },
    )
    deps.onDependencyUp('postgres')
    return result
  }

  let failure: unknown
  try {
    return { result: await applyOnce(prepared.plan), refused: [], isolationTransactions: 0 }
  } catch (error) {
    if (!isRefusal(error)) throw error
    failure = error
  }
  deps.logger.error(
    { err: failure, messages: prepared.valid.length },
    'PostgreSQL refused a batch; splitting it to find the messages it refuses',
  )
  // Bisected by position in the archive; records are read out of it only for the parts tried.
  const { records, valid } = prepared
  const isolation = await isolateRefused(
    valid,
    failure,
    (part: readonly number[]) => applyOnce(planMessages(part.map((i) => records.get(i)))),
    isRefusal,
  )
  const refused = isolation.refused.map(({ item: position, error }): DeadLetter => {
    // A copy: the dead letter waits for its send, the archive goes with the batch.
    const item = copyRecord(records.get(position))
    const appError = error as AppError
    deps.logger.error(
      {
        err: appError,
        topic: item.topic,
        partition: item.partition,
        offset: item.offset.toString(),
        sqlstate: sqlstateOfAppError(appError),
      },
      'PostgreSQL refused a message; sending it to the dead-letter topic',
    )
    return {
      source: item,
      reason: `PostgreSQL refused it: ${appError.message}`,
      sqlstate: sqlstateOfAppError(appError),
    }
  })
  return { result: mergeResults(isolation.applied), refused, isolationTransactions: isolation.transactions }
}

function mergeResults(results: readonly ApplyResult[]): ApplyResult {
  let applied = 0
  let unchanged = 0
  let newest: number | undefined
  const events = new Set<string>()
  const groups = new Set<number>()
  const venues = new Set<number>()
  for (const result of results) {
    applied += result.applied
    unchanged += result.unchanged
    if (result.newestAppliedMtime !== undefined && (newest === undefined || result.newestAppliedMtime > newest)) {
      newest = result.newestAppliedMtime
    }
    for (const id of result.changedDetails.events) events.add(id)
    for (const id of result.changedDetails.groups) groups.add(id)
    for (const id of result.changedDetails.venues) venues.add(id)
  }
  return {
    applied,
    unchanged,
    newestAppliedMtime: newest,
    changedDetails: { events: [...events], groups: [...groups], venues: [...venues] },
  }
}

/**
 * The ingest loop: one member of the consumer group. It takes batches from the partitions it owns,
 * sends invalid messages to the dead-letter topic, applies the valid ones in one PostgreSQL
 * transaction, and only then commits the batch's offsets. Delivery is at least once; the effect is
 * exactly once because applying a batch is idempotent (see store/rsvp-store.ts).
 *
 * Failures never skip a message: a failing dependency is retried until it is back, and a broken
 * consumer session (a rebalance that revoked our partitions mid-batch, a lost broker) is dropped
 * without committing and joined again, so its messages are delivered again.
 */
import { setImmediate, setTimeout as sleep } from 'node:timers/promises'
import { createBatchPlanner } from '../domain/merge.ts'
import { parseRsvp } from '../domain/parse-rsvp.ts'
import {
  type ConsumedMessage,
  createGroupConsumer,
  type GroupConsumer,
  type KafkaConnection,
  type OutgoingMessage,
  type RawProducer,
} from '../kafka/client.ts'
import type { Logger } from '../observability/logger.ts'
import type { IngestMetrics } from '../observability/metrics.ts'
import type { Postgres } from '../store/postgres.ts'
import { type ApplyResult, applyPlan, type EncodedPlan, encodePlan } from '../store/rsvp-store.ts'
import { type BatchSequence, type BatchTurn, createBatchSequence } from './batch-sequence.ts'
import { batches } from './batches.ts'
import { toDeadLetter } from './dead-letter.ts'
import { retryUntilDone } from './retry.ts'

const COMMIT_TIMEOUT_MS = 30_000
const PARSE_SLICE = 250

export interface IngestOptions {
  readonly topic: string
  readonly dlqTopic: string
  readonly groupId: string
  readonly batchMaxMessages: number
  readonly batchMaxWaitMs: number
  readonly sessionTimeoutMs?: number
  readonly lagIntervalMs?: number
}

export interface IngestDeps {
  readonly kafka: KafkaConnection
  readonly db: Postgres
  readonly deadLetters: RawProducer
  readonly logger: Logger
  readonly metrics: IngestMetrics
  /** told after each committed batch, e.g. to drop cache entries whose details changed */
  readonly onApplied?: (result: ApplyResult) => void | Promise<void>
}

export interface Ingest {
  /** Runs until stop(); resolves once the consumer has left the group. */
  run(): Promise<void>
  /** Finishes the batch in its database transaction (or abandons one that is waiting on a retry), leaves the group. */
  stop(): Promise<void>
}

export function createIngest(options: IngestOptions, deps: IngestDeps): Ingest {
  const logger = deps.logger.child({ component: 'ingest' })
  const shutdown = new AbortController()
  let consumer: GroupConsumer | undefined
  /** the batches of the current session, handed to PostgreSQL in order */
  let sequence: BatchSequence | undefined
  let applying = 0
  let newestApplied = 0
  let running: Promise<void> | undefined

  /** The CPU side of a batch, done while the previous batch is still in its transaction. */
  async function prepareBatch(batch: ConsumedMessage[]): Promise<PreparedBatch> {
    const planner = createBatchPlanner()
    const deadLetters: OutgoingMessage[] = []
    for (let i = 0; i < batch.length; i++) {
      // Parsing a whole batch takes tens of ms: let the transaction in flight go on between slices.
      if (i > 0 && i % PARSE_SLICE === 0) await setImmediate()
      const message = batch[i] as ConsumedMessage
      const parsed = parseRsvp(message.value)
      if (parsed.ok) planner.add(parsed.rsvp)
      else deadLetters.push(toDeadLetter(message, parsed.reason, options.dlqTopic))
    }
    // Only the last message of each partition is needed from here on (its offset is committed):
    // letting the rest go keeps the heap that every garbage collection walks small.
    const lastPerPartition = new Map<number, ConsumedMessage>()
    for (const message of batch) {
      const seen = lastPerPartition.get(message.partition)
      if (!seen || message.offset > seen.offset) lastPerPartition.set(message.partition, message)
    }
    return {
      messages: batch.length,
      plan: encodePlan(planner.finish()),
      deadLetters,
      commits: [...lastPerPartition.values()],
    }
  }

  /**
   * Sends a batch's dead letters, applies it, and commits its offsets once every earlier batch has
   * committed its own: offsets are committed in order, and none after a batch that failed.
   */
  async function applyPrepared(
    { messages, plan, deadLetters, commits }: PreparedBatch,
    turn: BatchTurn,
  ): Promise<void> {
    const signal = shutdown.signal
    if (deadLetters.length > 0) {
      await retryUntilDone(() => deps.deadLetters.send(deadLetters), {
        signal,
        logger,
        what: 'sending to the dead-letter topic',
        onRetry: () => deps.metrics.retries.inc({ dependency: 'kafka' }),
      })
    }
    const started = performance.now()
    const result = await retryUntilDone(() => applyPlan(deps.db, plan, { onVersionsWritten: turn.versionsWritten }), {
      signal,
      logger,
      what: 'applying a batch to PostgreSQL',
      onRetry: () => deps.metrics.retries.inc({ dependency: 'postgres' }),
    })
    deps.metrics.transactionSeconds.observe((performance.now() - started) / 1000)
    // An earlier batch was not applied: committing this one's offsets would skip its messages.
    if (!(await turn.earlierSucceeded)) {
      throw new Error('an earlier batch failed; its offsets and the later ones stay uncommitted')
    }
    await commitOffsets(commits)

    deps.metrics.batchSize.observe(messages)
    deps.metrics.messages.inc({ outcome: 'applied' }, result.applied)
    deps.metrics.messages.inc({ outcome: 'unchanged' }, result.unchanged)
    deps.metrics.messages.inc({ outcome: 'invalid' }, deadLetters.length)
    if (result.newestAppliedMtime !== undefined && result.newestAppliedMtime > newestApplied) {
      newestApplied = result.newestAppliedMtime
      deps.metrics.newestAppliedMtime.set(newestApplied / 1000)
    }
    logger.debug(
      { messages, applied: result.applied, unchanged: result.unchanged, invalid: deadLetters.length },
      'batch committed',
    )
    await deps.onApplied?.(result)
  }

  /** Commits, per partition, the offset after the batch's last message. */
  async function commitOffsets(lastPerPartition: readonly ConsumedMessage[]): Promise<void> {
    // A commit queued while the group rebalances can stay pending for good if the session ends
    // another way: give up on it, drop the session, and let the messages come again.
    const commits = Promise.all(lastPerPartition.map((message) => message.commit()))
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('committing offsets timed out')), COMMIT_TIMEOUT_MS)
    })
    try {
      await Promise.race([commits, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  async function reportLag(): Promise<void> {
    while (!shutdown.signal.aborted) {
      try {
        await sleep(options.lagIntervalMs ?? 5000, undefined, { signal: shutdown.signal })
        const lags = await consumer?.lag()
        deps.metrics.consumerLag.reset()
        for (const [partition, lag] of lags ?? []) deps.metrics.consumerLag.set({ partition: String(partition) }, lag)
      } catch (error) {
        if (!shutdown.signal.aborted) logger.debug({ err: error }, 'could not read the consumer lag')
      }
    }
  }

  async function runSessions(): Promise<void> {
    let failures = 0
    while (!shutdown.signal.aborted) {
      // Set when a batch failed: the session is then closed, which ends the loop.
      let batchFailure: { error: unknown } | undefined
      const batchesOfSession = createBatchSequence()
      sequence = batchesOfSession
      try {
        const session = await createGroupConsumer(deps.kafka, {
          groupId: options.groupId,
          topics: [options.topic],
          sessionTimeoutMs: options.sessionTimeoutMs,
          // One batch ahead: the next batch is fetched while this one is in PostgreSQL.
          bufferedMessages: options.batchMaxMessages,
        })
        consumer = session
        // Stopped while joining: stop() found no consumer to close, so leave at once.
        if (shutdown.signal.aborted) break
        logger.info({ topic: options.topic, groupId: options.groupId }, 'joined the consumer group')
        for await (const batch of batches(session.messages, {
          maxSize: options.batchMaxMessages,
          maxWaitMs: options.batchMaxWaitMs,
        })) {
          if (shutdown.signal.aborted) break
          // Parsed while earlier batches are in their transactions (see batch-sequence.ts).
          const prepared = await prepareBatch(batch)
          await batchesOfSession.ready()
          if (shutdown.signal.aborted || batchFailure) break
          batchesOfSession.begin(async (turn) => {
            applying++
            try {
              await applyPrepared(prepared, turn)
              failures = 0
              return true
            } catch (error) {
              batchFailure ??= { error }
              // Earlier batches may still commit their offsets through this session: close it
              // (which ends the loop) only after them.
              await turn.earlierSucceeded
              await session.close().catch(() => {})
              return false
            } finally {
              applying--
            }
          })
        }
        await batchesOfSession.settled()
        if (batchFailure) throw batchFailure.error
      } catch (error) {
        if (shutdown.signal.aborted) break
        failures++
        const delay = Math.min(100 * 2 ** failures, 5000)
        // A failed batch closes the session, which the loop may report as its own error: name the cause.
        logger.error(
          { err: batchFailure?.error ?? error, retryInMs: delay },
          'consumer session failed; joining the group again',
        )
        deps.metrics.retries.inc({ dependency: 'kafka' })
        await sleep(delay, undefined, { signal: shutdown.signal }).catch(() => {})
      } finally {
        // Offsets are committed through this consumer: let every batch settle before closing it.
        await batchesOfSession.settled()
        await consumer?.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the consumer failed'))
        consumer = undefined
      }
    }
  }

  return {
    run() {
      running ??= Promise.all([runSessions(), reportLag()]).then(() => {
        logger.info('left the consumer group')
      })
      return running
    },
    async stop() {
      if (!shutdown.signal.aborted) {
        logger.info({ applying }, 'stopping')
        shutdown.abort(new Error('ingest is stopping'))
        // The batches in their transactions are committed (or, when waiting on a retry, abandoned)
        // first; then leaving the group ends the loop's wait for more messages.
        await sequence?.settled()
        await consumer?.close().catch(() => {})
      }
      await running
    },
  }
}

interface PreparedBatch {
  /** how many messages the batch had */
  readonly messages: number
  readonly plan: EncodedPlan
  readonly deadLetters: OutgoingMessage[]
  /** the batch's last message of each partition */
  readonly commits: ConsumedMessage[]
}

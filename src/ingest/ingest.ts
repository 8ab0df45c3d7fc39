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
import { setTimeout as sleep } from 'node:timers/promises'
import {
  createGroupConsumer,
  type GroupConsumer,
  groupCoverage,
  groupPosition,
  type KafkaConnection,
  type RawProducer,
} from '../kafka/client.ts'
import type { DependencyName } from '../observability/health.ts'
import type { Logger } from '../observability/logger.ts'
import type { IngestMetrics } from '../observability/metrics.ts'
import type { Postgres } from '../store/postgres.ts'
import type { ApplyResult } from '../store/rsvp-store.ts'
import { applyBatch } from './apply-batch.ts'
import { type BatchSequence, type BatchTurn, createBatchSequence } from './batch-sequence.ts'
import { CommitAbandoned, commitWithin } from './commit-deadline.ts'
import type { DeadLetter } from './dead-letter.ts'
import { type PreparedBatch, prepareBatch } from './prepare-batch.ts'
import { type CommitPoint, recordBatches } from './record-batches.ts'
import { retryUntilDone } from './retry.ts'
import { sendDeadLetters } from './send-dead-letters.ts'
import { createStallClock } from './stall-clock.ts'

const COMMIT_TIMEOUT_MS = 30_000
// From stop(): within main.ts's 9 s shutdown deadline, with the batch in PostgreSQL before and
// leaving the group after. A member stopped while its group rebalances would otherwise wait for the
// rebalance to end before its commits are even sent.
const STOP_COMMIT_GRACE_MS = 3000
// Leaving the group is a request or two; a broker that does not answer must not hold the shutdown.
const STOP_LEAVE_GRACE_MS = 2000
// The Kafka client stops fetching when its stream holds this many records; the batcher reads them
// as they come, so the stream is near empty unless the batch read ahead is full.
const CLIENT_BUFFERED_MESSAGES = 1024

export interface IngestOptions {
  readonly topic: string
  readonly dlqTopic: string
  readonly groupId: string
  readonly batchMaxMessages: number
  /** bytes of keys and values per batch (default: no bound but the count) */
  readonly batchMaxBytes?: number
  readonly batchMaxWaitMs: number
  /** messages fetched ahead of the batch being filled (default: batchMaxMessages) */
  readonly readAheadMessages?: number
  readonly sessionTimeoutMs?: number
  readonly lagIntervalMs?: number
}

export interface IngestDeps {
  readonly kafka: KafkaConnection
  readonly db: Postgres
  readonly deadLetters: RawProducer
  readonly logger: Logger
  readonly metrics: IngestMetrics
  /**
   * told as soon as a batch's transaction has committed, before its offsets are (so a failed
   * offset commit or an earlier batch's failure cannot leave changed details cached), e.g. to
   * drop cache entries whose details changed
   */
  readonly onApplied?: (result: ApplyResult) => void | Promise<void>
  /** told when a dependency fails and when it answers again (readiness) */
  readonly onDependencyFailure?: (dependency: DependencyName, error: unknown) => void
  readonly onDependencyUp?: (dependency: DependencyName) => void
}

export interface Ingest {
  /** Runs until stop(); resolves once the consumer has left the group. */
  run(): Promise<void>
  /** Finishes the batch in its database transaction (or abandons one that is waiting on a retry), leaves the group. */
  stop(): Promise<void>
  /** Seconds without a committed batch while messages wait; 0 when none wait. */
  stalledSeconds(): number
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
  /** set to end the current session at the next batch boundary and join the group again */
  let rejoinRequested = false
  /** aborted to give up on the current session's pending offset commits (commit-deadline.ts) */
  let abandonCommits = new AbortController()

  const stall = createStallClock()
  const dependencyFailed = (dependency: DependencyName, error: unknown) => {
    deps.metrics.retries.inc({ dependency })
    deps.onDependencyFailure?.(dependency, error)
  }
  const dependencyUp = (dependency: DependencyName) => deps.onDependencyUp?.(dependency)

  /** Closes the current session's consumer (leaving the group), if any; a failure is logged, not thrown. */
  async function closeSession(): Promise<void> {
    await consumer?.close().catch((error: unknown) => logger.warn({ err: error }, 'closing the consumer failed'))
  }

  /** Sends dead letters, retrying until Kafka takes them. */
  async function deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return
    const sent = await retryUntilDone(() => sendDeadLetters(deps.deadLetters, letters, options.dlqTopic, logger), {
      signal: shutdown.signal,
      logger,
      what: 'sending to the dead-letter topic',
      context: { dependency: 'kafka' },
      onRetry: (_attempt, error) => dependencyFailed('kafka', error),
    })
    if (sent.truncated > 0) deps.metrics.truncatedDeadLetters.inc(sent.truncated)
  }

  /**
   * Sends a batch's dead letters, applies it, and commits its offsets once every earlier batch has
   * committed its own: offsets are committed in order, and none after a batch that failed.
   */
  async function applyPrepared(prepared: PreparedBatch, turn: BatchTurn, abandon: AbortSignal): Promise<void> {
    await deadLetter(prepared.invalid)
    const { result, refused, isolationTransactions } = await applyBatch(
      prepared,
      { signal: shutdown.signal, onVersionsWritten: turn.versionsWritten },
      {
        db: deps.db,
        logger,
        onDependencyFailure: dependencyFailed,
        onDependencyUp: dependencyUp,
        onTransaction: (seconds) => deps.metrics.transactionSeconds.observe(seconds),
      },
    )
    if (isolationTransactions > 0) deps.metrics.isolationTransactions.inc(isolationTransactions)
    await deps.onApplied?.(result)
    await deadLetter(refused)
    // An earlier batch was not applied: committing this one's offsets would skip its messages.
    if (!(await turn.earlierSucceeded)) {
      throw new Error('an earlier batch failed; its offsets and the later ones stay uncommitted')
    }
    await commitOffsets(prepared.commits, abandon)

    const invalid = prepared.invalid.length
    deps.metrics.batchSize.observe(prepared.messages)
    deps.metrics.messages.inc({ outcome: 'applied' }, result.applied)
    deps.metrics.messages.inc({ outcome: 'unchanged' }, result.unchanged)
    deps.metrics.messages.inc({ outcome: 'invalid' }, invalid)
    deps.metrics.messages.inc({ outcome: 'refused' }, refused.length)
    if (result.newestAppliedMtime !== undefined && result.newestAppliedMtime > newestApplied) {
      newestApplied = result.newestAppliedMtime
      deps.metrics.newestAppliedMtime.set(newestApplied / 1000)
    }
    logger.debug(
      {
        messages: prepared.messages,
        applied: result.applied,
        unchanged: result.unchanged,
        invalid,
        refused: refused.length,
      },
      'batch committed',
    )
  }

  /** Commits, per partition, the offset after the batch's last message; gives up when `abandon` aborts. */
  async function commitOffsets(lastPerPartition: readonly CommitPoint[], abandon: AbortSignal): Promise<void> {
    const commits = Promise.all(lastPerPartition.map((message) => message.commit()))
    try {
      await commitWithin(commits, COMMIT_TIMEOUT_MS, abandon)
    } catch (error) {
      if (error instanceof CommitAbandoned) {
        logger.warn(
          { partitions: lastPerPartition.map((point) => point.partition), reason: error.message },
          'offsets of an applied batch not committed; its messages will come again, and applying them again changes nothing',
        )
      }
      throw error
    }
  }

  /**
   * Every few seconds: this member's lag per partition (a metric), and the group's position from
   * the broker (for the stall clock). A stall while nothing of ours is in PostgreSQL means the
   * session itself is stuck (a group whose partitions nobody reads, a stream that stopped): the
   * session is closed, and joining the group again makes the group rebalance.
   */
  async function watchProgress(): Promise<void> {
    const rejoinAfterSeconds = Math.max(60, (3 * (options.sessionTimeoutMs ?? 10_000)) / 1000)
    let rejoinedAt = 0
    while (!shutdown.signal.aborted) {
      try {
        await sleep(options.lagIntervalMs ?? 5000, undefined, { signal: shutdown.signal })
        const lags = await consumer?.lag()
        deps.metrics.consumerLag.reset()
        for (const [partition, lag] of lags ?? []) deps.metrics.consumerLag.set({ partition: String(partition) }, lag)
        stall.group(await groupPosition(deps.kafka, options.groupId, options.topic))
      } catch (error) {
        if (!shutdown.signal.aborted) logger.debug({ err: error }, 'could not read the consumer lag')
      }
      await rejoinForUnownedPartitions()
      const stalled = stall.stalledSeconds()
      // After a rejoin the new session gets as long again before it is judged.
      const sinceRejoin = (Date.now() - rejoinedAt) / 1000
      if (stalled > rejoinAfterSeconds && sinceRejoin > rejoinAfterSeconds && applying === 0 && consumer) {
        rejoinedAt = Date.now()
        logger.error(
          { stalledSeconds: Math.round(stalled) },
          'no progress while messages wait and no batch is in PostgreSQL; joining the consumer group again',
        )
        deps.metrics.retries.inc({ dependency: 'kafka' })
        await closeSession()
      }
    }
  }

  /**
   * Partitions added to the topic are owned by no member until the group rebalances, and the
   * Kafka client does not rebalance for them by itself: when the broker shows a stable group
   * leaving partitions unowned, this member joins again (at once when no batch is in PostgreSQL,
   * else after the batches in hand), and the rebalance hands them out, read from their earliest
   * offset since nobody committed any. Checked every lag interval (5 s by default).
   */
  async function rejoinForUnownedPartitions(): Promise<void> {
    if (consumer === undefined || rejoinRequested || shutdown.signal.aborted) return
    let coverage: Awaited<ReturnType<typeof groupCoverage>>
    try {
      coverage = await groupCoverage(deps.kafka, options.groupId, options.topic)
    } catch (error) {
      logger.debug({ err: error }, 'could not read the consumer group')
      return
    }
    if (!coverage.stable || coverage.unowned.length === 0 || consumer === undefined) return
    logger.info(
      { partitions: coverage.partitions, unowned: coverage.unowned },
      'partitions of the topic that no group member owns (added since the group last balanced): joining the group again',
    )
    rejoinRequested = true
    if (applying === 0) await closeSession()
  }

  /**
   * The client's own rejoin after a rebalance failed: this member is out of the group, and the
   * client sends no commit until it is active again, which it will not become by itself. So the
   * session ends now: the batches in hand give up their commits (they are applied; their messages
   * come again) and the group is joined again. While stopping, it is expected.
   */
  function rejoinAfterBackgroundError(error: unknown): void {
    if (shutdown.signal.aborted) {
      logger.debug({ err: error }, 'the consumer failed to rejoin its group while stopping')
      return
    }
    logger.warn({ err: error }, 'the consumer failed to rejoin its group after a rebalance; joining it again')
    dependencyFailed('kafka', error)
    rejoinRequested = true
    abandonCommits.abort(new CommitAbandoned('the consumer is out of its group (a rejoin failed)'))
    void closeSession()
  }

  async function runSessions(): Promise<void> {
    let failures = 0
    while (!shutdown.signal.aborted) {
      // Set when a batch failed: the session is then closed, which ends the loop.
      let batchFailure: { error: unknown } | undefined
      const batchesOfSession = createBatchSequence()
      sequence = batchesOfSession
      rejoinRequested = false
      abandonCommits = new AbortController()
      const abandonThisSession = abandonCommits.signal
      try {
        logger.info({ topic: options.topic, groupId: options.groupId }, 'joining the consumer group')
        const session = await createGroupConsumer(deps.kafka, {
          groupId: options.groupId,
          topics: [options.topic],
          sessionTimeoutMs: options.sessionTimeoutMs,
          // The read-ahead is recordBatches's, kept compactly; the client's own stream holds
          // only what arrived since the batcher last read it (record-batches.ts says why).
          bufferedMessages: CLIENT_BUFFERED_MESSAGES,
          onBackgroundError: rejoinAfterBackgroundError,
          // A join waits for the group's rebalance, which a dead member holds up for its session
          // timeout: stopping gives it up rather than join only to leave.
          signal: shutdown.signal,
        })
        consumer = session
        // Stopped just as the join ended: stop() found no consumer to close, so leave at once.
        if (shutdown.signal.aborted) break
        dependencyUp('kafka')
        logger.info({ topic: options.topic, groupId: options.groupId }, 'joined the consumer group')
        // One batch ahead by default: the next batch is read while this one is parsed and in
        // PostgreSQL. INGEST_READ_AHEAD_MESSAGES trades throughput for memory (README "Memory").
        for await (const batch of recordBatches(session.messages, {
          maxSize: options.batchMaxMessages,
          maxWaitMs: options.batchMaxWaitMs,
          ...(options.batchMaxBytes !== undefined && { maxBytes: options.batchMaxBytes }),
          ...(options.readAheadMessages !== undefined && { readAhead: options.readAheadMessages }),
        })) {
          // A rejoin drops this batch unapplied: its offsets are not committed, so it comes again.
          if (shutdown.signal.aborted || rejoinRequested) break
          stall.received()
          // Parsed while earlier batches are in their transactions (see batch-sequence.ts).
          const prepared = await prepareBatch(batch, logger)
          await batchesOfSession.ready()
          // A rejoin asked for meanwhile may have closed the session: the batch could not commit.
          if (shutdown.signal.aborted || batchFailure || rejoinRequested) {
            stall.settled(false)
            break
          }
          batchesOfSession.begin(async (turn) => {
            applying++
            try {
              await applyPrepared(prepared, turn, abandonThisSession)
              stall.settled(true)
              failures = 0
              return true
            } catch (error) {
              stall.settled(false)
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
        dependencyFailed('kafka', batchFailure?.error ?? error)
        await sleep(delay, undefined, { signal: shutdown.signal }).catch(() => {})
      } finally {
        // Offsets are committed through this consumer: let every batch settle before closing it.
        await batchesOfSession.settled()
        await closeSession()
        consumer = undefined
      }
    }
  }

  return {
    run() {
      running ??= Promise.all([runSessions(), watchProgress()]).then(() => {
        logger.info('left the consumer group')
      })
      return running
    },
    stalledSeconds: () => stall.stalledSeconds(),
    async stop() {
      if (!shutdown.signal.aborted) {
        const began = performance.now()
        const elapsedMs = () => Math.round(performance.now() - began)
        logger.info({ applying }, 'stopping')
        shutdown.abort(new Error('ingest is stopping'))
        // The batches in their transactions are committed (or, when waiting on a retry, abandoned)
        // first, their offsets given STOP_COMMIT_GRACE_MS; then leaving the group ends the loop's
        // wait for more messages.
        const abandonThisSession = abandonCommits
        const grace = setTimeout(
          () => abandonThisSession.abort(new CommitAbandoned(`stopping, and ${STOP_COMMIT_GRACE_MS} ms have passed`)),
          STOP_COMMIT_GRACE_MS,
        )
        await sequence?.settled()
        clearTimeout(grace)
        logger.info({ elapsedMs: elapsedMs() }, 'batches in hand settled; leaving the consumer group')
        const leaving = consumer?.close().then(
          () => 'left' as const,
          () => 'failed' as const,
        )
        const left = await Promise.race([leaving, sleep(STOP_LEAVE_GRACE_MS, 'timed out' as const, { ref: false })])
        logger.info({ elapsedMs: elapsedMs(), leaving: left ?? 'no session' }, 'stopped consuming')
      }
      await running
    },
  }
}

/**
 * The composition root: builds every adapter from the configuration and wires them together.
 * Start order: HTTP (so /healthz, /readyz and /metrics answer while the rest waits), PostgreSQL
 * (migrations), Kafka topics, then the consumer. Each dependency is waited for with backoff, one
 * log line per attempt: a service started before its database is a normal day, not a crash.
 * Close runs in reverse, so the consumer commits and leaves the group before anything it needs
 * goes away; a close during start-up ends the waiting.
 */
import { createIngestStatus, createStatusFeed } from './api/ingest-status.ts'
import { buildServer, type Server } from './api/server.ts'
import { createTopkAnswerer, dependsOnClock } from './api/topk-answer.ts'
import type { TopkQuery } from './api/topk-query.ts'
import { createTopkStreamHub, type TopkStreamHub } from './api/topk-stream-hub.ts'
import { cacheKeyPrefix, createEventDetailsCache } from './cache/event-details-cache.ts'
import { type CacheRing, createCacheRing } from './cache/ring.ts'
import type { Config } from './config.ts'
import { ErrorCodes, isAppError } from './errors.ts'
import { createIngest, type Ingest } from './ingest/ingest.ts'
import { retryUntilDone } from './ingest/retry.ts'
import { createRawProducer, ensureTopics, type RawProducer } from './kafka/client.ts'
import { createHealth, type DependencyName, type Health, type Readiness } from './observability/health.ts'
import type { Logger } from './observability/logger.ts'
import {
  createApiMetrics,
  createDependencyMetrics,
  createIngestMetrics,
  createRegistry,
} from './observability/metrics.ts'
import {
  type BatchListener,
  listenForBatches,
  notifyBatchApplied,
  readNewestRsvpMtime,
} from './store/batch-notifications.ts'
import { readEvents, readGroups, readVenues } from './store/event-details.ts'
import { migrate } from './store/migrate.ts'
import { createPostgres, type Postgres } from './store/postgres.ts'

export interface AppOptions {
  readonly ingest: boolean
  /** serve the events API (top k, event details) besides /healthz, /readyz and /metrics */
  readonly api: boolean
  /** port of the HTTP server; 0 picks a free one; undefined serves no HTTP */
  readonly httpPort: number | undefined
}

// An API request waits at most this long for PostgreSQL; a client that waits longer has gone.
const API_QUERY_TIMEOUT_MS = 5000
const READY_PROBE_TIMEOUT_MS = 2000
/** A live ranking is computed at most this often (4 a second), however often batches commit. */
const STREAM_MIN_INTERVAL_MS = 250
const STREAM_HEARTBEAT_MS = 15_000

export interface App {
  /** Resolves once every dependency answered and the consumer runs; rejects on a fatal error. */
  start(): Promise<void>
  close(): Promise<void>
}

export function buildApp(config: Config, options: AppOptions, deps: { logger: Logger }): App {
  const logger = deps.logger
  const registry = createRegistry()
  const db = createPostgres({ url: config.postgres.url, poolSize: config.postgres.poolSize }, { logger })
  // The ring serves the API and takes the ingest's invalidations, so both modes have it.
  const ring: CacheRing = createCacheRing(config.redis.ring, {
    logger,
    keyPrefix: cacheKeyPrefix(config.postgres.dataSet),
  })
  let hub: TopkStreamHub<TopkQuery> | undefined
  const apiMetrics = options.api
    ? createApiMetrics(
        registry,
        () => ring.members(),
        () => hub?.size() ?? { subscriptions: 0, queries: 0 },
      )
    : undefined
  const apiDb: Postgres | undefined = options.api
    ? createPostgres(
        { url: config.postgres.url, poolSize: config.postgres.poolSize, queryTimeoutMs: API_QUERY_TIMEOUT_MS },
        { logger },
      )
    : undefined
  const details = createEventDetailsCache({
    ring,
    read: {
      events: (ids) => readEvents(apiDb ?? db, ids),
      groups: (ids) => readGroups(apiDb ?? db, ids),
      venues: (ids) => readVenues(apiDb ?? db, ids),
    },
    ttlSeconds: config.redis.ttlSeconds,
    namespace: config.postgres.dataSet,
    lookups: apiMetrics?.detailsLookups,
  })
  // Live rankings: one computation per committed batch per distinct query (api/topk-stream-hub.ts),
  // told of batches by whichever ingest process committed them (store/batch-notifications.ts).
  const ingestStatus = createIngestStatus()
  const statusFeed = apiDb ? createStatusFeed(ingestStatus, { intervalMs: 1000 }) : undefined
  if (apiDb && apiMetrics) {
    hub = createTopkStreamHub<TopkQuery>({
      compute: createTopkAnswerer({ db: apiDb, details, now: Date.now }),
      clockDependent: dependsOnClock,
      minIntervalMs: STREAM_MIN_INTERVAL_MS,
      clockIntervalMs: 10_000,
      retryMs: 1000,
      onComputation: (outcome) => apiMetrics.streamComputations.inc({ outcome }),
      logger,
    })
  }
  let batchListener: BatchListener | undefined
  const dependencies: DependencyName[] = options.ingest ? ['postgres', 'kafka'] : ['postgres']
  const health: Health = createHealth({ dependencies, graceMs: config.readiness.dependencyGraceMs })
  // At each scrape, through the same probe as /readyz: an `api` process sees PostgreSQL only there.
  createDependencyMetrics(registry, { readiness, ringMembers: () => ring.members() })
  const starting = new AbortController()
  let schemaReady = false
  let deadLetters: RawProducer | undefined
  let ingest: Ingest | undefined
  let server: Server | undefined
  let ingestRun: Promise<void> | undefined
  let started: Promise<void> | undefined

  /** Retries `work` until `dependency` answers; only a close or an error no wait can mend ends it. */
  function waitFor<T>(dependency: DependencyName, work: () => Promise<T>): Promise<T> {
    return retryUntilDone(work, {
      signal: starting.signal,
      logger,
      what: `reaching ${dependency}`,
      context: { dependency },
      initialDelayMs: 250,
      // A fault (wrong password, no such database yet) is the set-up's, and may be mended while we wait.
      retryIf: (error) => isAppError(error) && (error.retryable || error.code === ErrorCodes.DATABASE_FAULT),
      levelOf: (error) => (isAppError(error, ErrorCodes.DATABASE_FAULT) ? 'error' : 'warn'),
      onRetry: (_attempt, error) => health.failed(dependency, error),
    })
  }

  /**
   * /readyz: PostgreSQL is asked there and then (the API cannot answer without it, so in `api`
   * and `serve` its failure counts at once); the rest is what the process saw of its
   * dependencies, counted against them only after DEPENDENCY_GRACE_SECONDS of failing.
   */
  async function readiness(): Promise<Readiness> {
    let probeFailed = false
    if (schemaReady) {
      try {
        await withTimeout((apiDb ?? db).query('SELECT 1'), READY_PROBE_TIMEOUT_MS, 'PostgreSQL did not answer in time')
        // While batches wait, only their own commit ends a failure streak: PostgreSQL may answer
        // SELECT 1 and still refuse the ingest's work (a revoked privilege).
        if ((ingest?.stalledSeconds() ?? 0) === 0) health.up('postgres')
      } catch (error) {
        health.failed('postgres', error)
        probeFailed = true
      }
    }
    const report = health.readiness()
    if (!(options.api && probeFailed) || report.missing.includes('postgres')) return report
    return { ...report, ready: false, missing: [...report.missing, 'postgres'] }
  }

  async function startInOrder(): Promise<void> {
    logger.info({ database: config.postgres.safeUrl, brokers: config.kafka.brokers }, 'starting')
    if (options.httpPort !== undefined) {
      server = await buildServer({
        logger,
        registry,
        readiness,
        serving: () => schemaReady,
        requestTimeoutMs: config.http.requestTimeoutMs,
        maxConnections: config.http.maxConnections,
        ...(apiDb &&
          apiMetrics && {
            events: {
              db: apiDb,
              details,
              maxK: config.http.maxK,
              answerReuseMs: config.http.topkCacheMs,
              answerReuseMaxBytes: config.http.topkCacheMaxBytes,
              maxWindowMs: config.http.topkMaxWindowMs,
              onAnswerCacheBytes: (bytes) => apiMetrics.answerCacheBytes.set(bytes),
              metrics: apiMetrics,
            },
          }),
        ...(hub &&
          statusFeed && {
            streams: {
              hub,
              status: statusFeed,
              maxStreams: config.http.topkStreamsMax,
              maxK: config.http.maxK,
              maxWindowMs: config.http.topkMaxWindowMs,
              heartbeatMs: STREAM_HEARTBEAT_MS,
            },
          }),
      })
      const address = await server.listen({ host: config.http.host, port: options.httpPort })
      logger.info({ address }, 'HTTP listening')
    }
    const applied = await waitFor('postgres', () => migrate(db, { logger }))
    health.up('postgres')
    schemaReady = true
    if (applied.length > 0) logger.info({ applied }, 'database schema migrated')
    if (apiDb && hub) {
      const following = hub
      batchListener = listenForBatches(
        apiDb,
        {
          onBatch: (notice) => {
            ingestStatus.record(notice, Date.now())
            following.changed()
          },
          // Batches committed while not listening went unheard: read again what they may have moved.
          onListening: () => {
            following.changed()
            readNewestRsvpMtime(apiDb).then(
              (newest) => ingestStatus.seen(newest),
              (error: unknown) => logger.warn({ err: error }, 'could not read the newest RSVP time'),
            )
          },
        },
        { logger },
      )
    }
    if (!options.ingest) return
    const created = await waitFor('kafka', () =>
      ensureTopics(config.kafka, [
        { name: config.kafka.topic, partitions: config.kafka.partitions },
        { name: config.kafka.dlqTopic, partitions: config.kafka.partitions },
      ]),
    )
    health.up('kafka')
    if (created.length > 0) logger.info({ topics: created }, 'created Kafka topics')
    // Dead letters are compressed: one that fit its topic compressed must fit ours too.
    deadLetters = createRawProducer(config.kafka, { compression: 'gzip' })
    const running = createIngest(
      {
        topic: config.kafka.topic,
        dlqTopic: config.kafka.dlqTopic,
        groupId: config.kafka.groupId,
        batchMaxMessages: config.ingest.batchMaxMessages,
        batchMaxBytes: config.ingest.batchMaxBytes,
        batchMaxWaitMs: config.ingest.batchMaxWaitMs,
        sessionTimeoutMs: config.kafka.sessionTimeoutMs,
        lagIntervalMs: config.ingest.groupCheckMs,
      },
      {
        kafka: config.kafka,
        db,
        deadLetters,
        logger,
        metrics: createIngestMetrics(registry, { stalledSeconds: () => ingest?.stalledSeconds() ?? 0 }),
        // After the commit: entries of events, groups and venues whose details changed go, so
        // readers fetch the new ones.
        // Then live streams hear of it (after the invalidation, so they read the new details). A
        // lost notice only delays a stream until the next batch: the batch must not fail for it.
        onApplied: async (result) => {
          await details.invalidate(result.changedDetails)
          const changed = result.changedDetails
          if (result.applied === 0 && changed.events.length + changed.groups.length + changed.venues.length === 0)
            return
          await notifyBatchApplied(db, {
            applied: result.applied,
            messages: result.applied + result.unchanged,
            newestAppliedMtime: result.newestAppliedMtime ?? null,
          }).catch((error: unknown) => logger.warn({ err: error }, 'could not notify live streams of a batch'))
        },
        onDependencyFailure: (dependency, error) => health.failed(dependency, error),
        onDependencyUp: (dependency) => health.up(dependency),
      },
    )
    ingest = running
    ingestRun = running.run()
    logger.info('started')
  }

  return {
    start() {
      started ??= startInOrder()
      return started
    },
    async close() {
      starting.abort(new Error('the service is stopping'))
      await started?.catch(() => {})
      await ingest?.stop()
      await ingestRun
      await server?.close()
      hub?.close()
      statusFeed?.close()
      await batchListener?.close()
      await deadLetters?.close()
      await ring.close()
      await apiDb?.close()
      await db.close()
    },
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
  })
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

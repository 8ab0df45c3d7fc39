/**
 * The composition root: builds every adapter from the configuration and wires them together.
 * Start order: HTTP (so /healthz, /readyz and /metrics answer while the rest waits), PostgreSQL
 * (migrations), Kafka topics, then the consumer. Each dependency is waited for with backoff, one
 * log line per attempt: a service started before its database is a normal day, not a crash.
 * Close runs in reverse, so the consumer commits and leaves the group before anything it needs
 * goes away; a close during start-up ends the waiting.
 */

import pLimit from 'p-limit'
import { createIngestStatus, createStatusFeed } from './api/ingest-status.ts'
import { buildServer, type Server } from './api/server.ts'
import { createTopkAnswerer, dependsOnClock } from './api/topk-answer.ts'
import type { TopkQuery } from './api/topk-query.ts'
import { createTopkStreamHub, type TopkStreamHub } from './api/topk-stream-hub.ts'
import { cacheKeyPrefix, createEventDetailsCache } from './cache/event-details-cache.ts'
import { createLocalTier } from './cache/local-tier.ts'
import { createRedisCache } from './cache/redis-cache.ts'
import type { CacheRing } from './cache/ring.ts'
import type { Config } from './config.ts'
import { ErrorCodes, isAppError } from './errors.ts'
import type { Ingest } from './ingest/ingest.ts'
import { retryUntilDone } from './ingest/retry.ts'
import type { RawProducer } from './kafka/client.ts'
import {
  createHealth,
  type DependencyName,
  type DependencyState,
  type Health,
  type Readiness,
} from './observability/health.ts'
import type { Logger } from './observability/logger.ts'
import {
  createApiMetrics,
  createDependencyMetrics,
  createIngestMetrics,
  createReadMetrics,
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
import { createReadRouter, type ReadRouter } from './store/read-router.ts'

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
/** A replica that does not answer within this takes a connection attempt no longer: the primary answers. */
const REPLICA_CONNECT_TIMEOUT_MS = 2000
/** A live ranking is computed at most this often (4 a second), however often batches commit. */
const STREAM_MIN_INTERVAL_MS = 250
const STREAM_HEARTBEAT_MS = 15_000
const STREAM_CONCURRENCY = 2

export interface App {
  /** Resolves once every dependency answered and the consumer runs; rejects on a fatal error. */
  start(): Promise<void>
  close(): Promise<void>
}

export function buildApp(config: Config, options: AppOptions, deps: { logger: Logger }): App {
  const logger = deps.logger
  const registry = createRegistry()
  const db = createPostgres({ url: config.postgres.url, poolSize: config.postgres.poolSize }, { logger })
  // The ring (or the Redis Cluster) serves the API and takes the ingest's invalidations, so both modes have it.
  const ring: CacheRing = createRedisCache(config.redis, {
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
  // The API's reads go to the replica when DATABASE_READ_URL names one (store/read-router.ts);
  // the ingest's writes, migrations, /readyz's probe and LISTEN stay on the primary.
  let readRouter: ReadRouter | undefined
  const readMetrics = apiDb
    ? createReadMetrics(registry, config.postgres.readUrl ? () => readRouter?.status().lagSeconds : undefined)
    : undefined
  if (apiDb && readMetrics) {
    readRouter = createReadRouter(
      {
        primary: apiDb,
        replica: config.postgres.readUrl
          ? createPostgres(
              {
                url: config.postgres.readUrl,
                poolSize: config.postgres.poolSize,
                queryTimeoutMs: API_QUERY_TIMEOUT_MS,
                connectionTimeoutMs: REPLICA_CONNECT_TIMEOUT_MS,
              },
              { logger },
            )
          : undefined,
        maxLagSeconds: config.postgres.replicaMaxLagSeconds,
      },
      {
        logger,
        onRead: (target) => readMetrics.reads.inc({ target }),
        onWait: (outcome) => readMetrics.replicaWaits.inc({ outcome }),
      },
    )
  }
  const routed = readRouter
  // Details read into the cache must be at least as new as the batches heard of: the ingest
  // deleted their entries before notifying, and an entry read from a replica that has not replayed
  // the batch would put the old details back for REDIS_TTL_SECONDS.
  const detailsDb = async () => (routed ? await routed.fresh() : db)
  const details = createEventDetailsCache({
    ring,
    // Not in an ingest-only process: nothing there reads details.
    ...(options.api && {
      local: createLocalTier({
        maxBytes: config.redis.localCacheBytes,
        ttlMs: config.redis.localCacheTtlSeconds * 1000,
      }),
    }),
    read: {
      events: async (ids) => readEvents(await detailsDb(), ids),
      groups: async (ids) => readGroups(await detailsDb(), ids),
      venues: async (ids) => readVenues(await detailsDb(), ids),
    },
    ttlSeconds: config.redis.ttlSeconds,
    namespace: config.postgres.dataSet,
    lookups: apiMetrics?.detailsLookups,
  })
  // Live rankings: one computation per committed batch per distinct query (api/topk-stream-hub.ts),
  // told of batches by whichever ingest process committed them (store/batch-notifications.ts).
  const ingestStatus = createIngestStatus()
  const statusFeed = apiDb ? createStatusFeed(ingestStatus, { intervalMs: 1000 }) : undefined
  if (apiDb && apiMetrics && routed) {
    hub = createTopkStreamHub<TopkQuery>({
      // A ranking is computed because of a notice: from the replica once it has replayed the
      // batch the notice announced, or from the primary (ReadRouter.fresh).
      // At most two computations at once: live rankings must not take the pool from requests.
      compute: limitConcurrency(
        async (query: TopkQuery) => createTopkAnswerer({ db: await routed.fresh(), details, now: Date.now })(query),
        STREAM_CONCURRENCY,
      ),
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
    const report = withReplica(health.readiness())
    if (!(options.api && probeFailed) || report.missing.includes('postgres')) return report
    return { ...report, ready: false, missing: [...report.missing, 'postgres'] }
  }

  /**
   * The replica's state, for /readyz to show; never in `missing`: while it is down the primary
   * answers every read, so the process stays ready.
   */
  function withReplica(report: Readiness): Readiness {
    const replica = routed?.status()
    if (replica === undefined || replica.state === 'none') return report
    const state: DependencyState =
      replica.state === 'down'
        ? {
            status: 'down',
            ...(replica.since !== undefined && { since: new Date(replica.since).toISOString() }),
            error: `${replica.reason}; reads go to the primary`,
          }
        : { status: replica.state }
    return { ...report, dependencies: { ...report.dependencies, replica: state } }
  }

  async function startInOrder(): Promise<void> {
    logger.info(
      { database: config.postgres.safeUrl, replica: config.postgres.readSafeUrl, brokers: config.kafka.brokers },
      'starting',
    )
    if (options.httpPort !== undefined) {
      server = await buildServer({
        logger,
        registry,
        readiness,
        serving: () => schemaReady,
        requestTimeoutMs: config.http.requestTimeoutMs,
        maxConnections: config.http.maxConnections,
        ...(routed &&
          apiMetrics && {
            events: {
              db: routed.reads,
              details,
              maxK: config.http.maxK,
              answerReuseMs: config.http.topkCacheMs,
              answerReuseMaxBytes: config.http.topkCacheMaxBytes,
              coalesceRequests: config.http.topkCoalesce,
              maxWindowMs: config.http.topkMaxWindowMs,
              onAnswerCacheBytes: (bytes) => apiMetrics.answerCacheBytes.set(bytes),
              onCoalescedRequest: (how) => apiMetrics.coalescedRequests.inc({ request: how }),
              metrics: apiMetrics,
            },
          }),
        ...(hub &&
          statusFeed && {
            streams: {
              hub,
              status: statusFeed,
              maxStreams: config.http.topkStreamsMax,
              maxQueries: config.http.topkStreamQueriesMax,
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
    if (apiDb && hub && routed) {
      const following = hub
      batchListener = listenForBatches(
        apiDb,
        {
          // Computed once fresh reads wait for the batch's WAL position (a replica may not have it yet).
          onBatch: (notice) => {
            details.forgetLocal(notice.details)
            ingestStatus.record(notice, Date.now())
            void routed.heard(notice.walLsn).then(() => following.changed())
          },
          // Batches committed while not listening went unheard: read again what they may have moved
          // (fresh reads wait for the primary's position now).
          onListening: () => {
            details.forgetLocal('all')
            void routed.heard(null).then(() => following.changed())
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
    // Loaded only by a process that ingests: with the Kafka client and its dependencies loaded,
    // an idle `api` process held 155 MB instead of 138, for nothing.
    const { createRawProducer, ensureTopics } = await import('./kafka/client.ts')
    const { createIngest } = await import('./ingest/ingest.ts')
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
        readAheadMessages: config.ingest.readAheadMessages,
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
            details: changed,
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
      await readRouter?.close()
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

/** `work` with at most `concurrency` calls running at once; the others wait their turn (p-limit). */
function limitConcurrency<A, R>(work: (argument: A) => Promise<R>, concurrency: number): (argument: A) => Promise<R> {
  const limit = pLimit(concurrency)
  return (argument) => limit(() => work(argument))
}

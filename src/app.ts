/**
 * The composition root: builds every adapter from the configuration and wires them together.
 * Start order: PostgreSQL (and migrations), Kafka topics, HTTP, then the consumer. Close runs in
 * reverse, so the consumer commits and leaves the group before anything it needs goes away.
 */
import { buildServer, type Server } from './api/server.ts'
import { createEventDetailsCache } from './cache/event-details-cache.ts'
import { type CacheRing, createCacheRing } from './cache/ring.ts'
import type { Config } from './config.ts'
import { createIngest, type Ingest } from './ingest/ingest.ts'
import { createRawProducer, ensureTopics, type RawProducer } from './kafka/client.ts'
import type { Logger } from './observability/logger.ts'
import { createApiMetrics, createIngestMetrics, createRegistry } from './observability/metrics.ts'
import { readEventDetails } from './store/event-details.ts'
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

export interface App {
  start(): Promise<void>
  close(): Promise<void>
}

export function buildApp(config: Config, options: AppOptions, deps: { logger: Logger }): App {
  const logger = deps.logger
  const registry = createRegistry()
  const db = createPostgres({ url: config.postgres.url, poolSize: config.postgres.poolSize }, { logger })
  // The ring serves the API and takes the ingest's invalidations, so both modes have it.
  const ring: CacheRing = createCacheRing(config.redis.ring, { logger })
  const apiMetrics = options.api ? createApiMetrics(registry, () => ring.members()) : undefined
  let apiDb: Postgres | undefined
  const details = createEventDetailsCache({
    ring,
    readFromDatabase: (eventIds) => readEventDetails(apiDb ?? db, eventIds),
    ttlSeconds: config.redis.ttlSeconds,
    namespace: config.postgres.dataSet,
    lookups: apiMetrics?.detailsLookups,
  })
  let deadLetters: RawProducer | undefined
  let ingest: Ingest | undefined
  let server: Server | undefined
  let ingestRun: Promise<void> | undefined

  return {
    async start() {
      logger.info({ database: config.postgres.safeUrl, brokers: config.kafka.brokers }, 'starting')
      const applied = await migrate(db, { logger })
      if (applied.length > 0) logger.info({ applied }, 'database schema migrated')
      if (options.ingest) {
        const created = await ensureTopics(config.kafka, [
          { name: config.kafka.topic, partitions: config.kafka.partitions },
          { name: config.kafka.dlqTopic, partitions: config.kafka.partitions },
        ])
        if (created.length > 0) logger.info({ topics: created }, 'created Kafka topics')
      }
      if (options.httpPort !== undefined) {
        if (options.api && apiMetrics) {
          apiDb = createPostgres(
            { url: config.postgres.url, poolSize: config.postgres.poolSize, queryTimeoutMs: API_QUERY_TIMEOUT_MS },
            { logger },
          )
        }
        server = await buildServer({
          logger,
          registry,
          db: apiDb ?? db,
          ...(apiDb &&
            apiMetrics && {
              events: {
                db: apiDb,
                details,
                maxK: config.http.maxK,
                answerReuseMs: config.http.topkCacheMs,
                metrics: apiMetrics,
              },
            }),
        })
        const address = await server.listen({ host: config.http.host, port: options.httpPort })
        logger.info({ address }, 'HTTP listening')
      }
      if (options.ingest) {
        deadLetters = createRawProducer(config.kafka)
        ingest = createIngest(
          {
            topic: config.kafka.topic,
            dlqTopic: config.kafka.dlqTopic,
            groupId: config.kafka.groupId,
            batchMaxMessages: config.ingest.batchMaxMessages,
            batchMaxWaitMs: config.ingest.batchMaxWaitMs,
            sessionTimeoutMs: config.kafka.sessionTimeoutMs,
          },
          {
            kafka: config.kafka,
            db,
            deadLetters,
            logger,
            metrics: createIngestMetrics(registry),
            // After the commit: entries of events whose details changed go, so readers fetch the new ones.
            onApplied: (result) => details.invalidate(result.eventsWithNewDetails),
          },
        )
        ingestRun = ingest.run()
      }
    },
    async close() {
      await ingest?.stop()
      await ingestRun
      await server?.close()
      await deadLetters?.close()
      await ring.close()
      await apiDb?.close()
      await db.close()
    },
  }
}

/**
 * Prometheus metrics. Each process builds one registry (no global state, so tests can build
 * several); the ingest and the HTTP API register their instruments on it.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { Readiness } from './health.ts'

export type { Registry }

export function createRegistry(): Registry {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'rsvp_topk_' })
  return registry
}

export interface IngestMetrics {
  readonly messages: Counter<'outcome'>
  readonly batchSize: Histogram
  readonly transactionSeconds: Histogram
  readonly consumerLag: Gauge<'partition'>
  readonly newestAppliedMtime: Gauge
  readonly retries: Counter<'dependency'>
  readonly isolationTransactions: Counter
  readonly truncatedDeadLetters: Counter
}

export interface IngestGauges {
  /** seconds without a committed batch while messages wait (see ingest/stall-clock.ts) */
  readonly stalledSeconds: () => number
}

export function createIngestMetrics(registry: Registry, gauges: IngestGauges): IngestMetrics {
  new Gauge({
    name: 'rsvp_topk_ingest_stalled_seconds',
    help: 'Seconds since the last committed batch while messages wait (received and not committed, or consumer lag above 0); 0 when none wait',
    registers: [registry],
    collect() {
      this.set(gauges.stalledSeconds())
    },
  })
  return {
    messages: new Counter({
      name: 'rsvp_topk_ingest_messages_total',
      help: 'RSVP messages consumed, by outcome: applied (a new current version), unchanged (resend, stale or equal mtime), invalid (not a valid RSVP: sent to the dead-letter topic), refused (valid, but PostgreSQL refused it: isolated and sent to the dead-letter topic)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    isolationTransactions: new Counter({
      name: 'rsvp_topk_ingest_isolation_transactions_total',
      help: 'Transactions spent splitting batches that PostgreSQL refused, to isolate the messages it refuses',
      registers: [registry],
    }),
    truncatedDeadLetters: new Counter({
      name: 'rsvp_topk_ingest_truncated_dead_letters_total',
      help: 'Dead letters too large for the dead-letter topic even compressed, sent as truncated copies',
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'rsvp_topk_ingest_batch_size',
      help: 'Messages per ingest batch',
      buckets: [1, 10, 100, 500, 1000, 2000, 5000, 10_000, 20_000],
      registers: [registry],
    }),
    transactionSeconds: new Histogram({
      name: 'rsvp_topk_ingest_transaction_seconds',
      help: 'Duration of one PostgreSQL transaction that applied a batch or part of one (committed transactions only: retries and their backoff are not in it)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    consumerLag: new Gauge({
      name: 'rsvp_topk_ingest_consumer_lag',
      help: 'Messages in a partition this process owns that are not committed yet',
      labelNames: ['partition'],
      registers: [registry],
    }),
    newestAppliedMtime: new Gauge({
      name: 'rsvp_topk_ingest_newest_applied_mtime_seconds',
      help: 'Greatest mtime (epoch seconds) among the RSVP versions applied by this process',
      registers: [registry],
    }),
    retries: new Counter({
      name: 'rsvp_topk_ingest_retries_total',
      help: 'Failed attempts at work that is retried until its dependency (postgres, kafka) is back',
      labelNames: ['dependency'],
      registers: [registry],
    }),
  }
}

export interface ApiMetrics {
  readonly requestSeconds: Histogram<'route' | 'method' | 'status'>
  /** rankings computed for live streams, by outcome (changed, unchanged, failed) */
  readonly streamComputations: Counter<'outcome'>
  readonly detailsLookups: Counter<'result'>
  /** bytes of reused top-k answers held (set by the events routes) */
  readonly answerCacheBytes: Gauge
  /** top-k requests without answer reuse, by how they were answered: started or waited */
  readonly coalescedRequests: Counter<'request'>
}

export function createApiMetrics(
  registry: Registry,
  ringMembers: () => ReadonlyArray<{ readonly id: string; readonly healthy: boolean }>,
  streams: () => { readonly subscriptions: number; readonly queries: number } = () => ({
    subscriptions: 0,
    queries: 0,
  }),
): ApiMetrics {
  new Gauge({
    name: 'rsvp_topk_topk_streams_open',
    help: 'Live top-k streams (Server-Sent Events) open in this process',
    registers: [registry],
    collect() {
      this.set(streams().subscriptions)
    },
  })
  new Gauge({
    name: 'rsvp_topk_topk_stream_queries',
    help: 'Distinct queries the open live streams follow: each is computed once per change, whatever its streams',
    registers: [registry],
    collect() {
      this.set(streams().queries)
    },
  })
  new Gauge({
    name: 'rsvp_topk_cache_ring_member',
    help: 'Redis ring nodes, or the masters of a Redis Cluster (REDIS_CLUSTER): 1 while the node is in the ring (a master: in use), 0 while it is out (failed its health check)',
    labelNames: ['node'],
    registers: [registry],
    collect() {
      // Only the current members: a Redis Cluster's masters replace its seed nodes once its slot
      // map is known, and change in a failover.
      this.reset()
      for (const member of ringMembers()) this.set({ node: member.id }, member.healthy ? 1 : 0)
    },
  })
  return {
    requestSeconds: new Histogram({
      name: 'rsvp_topk_http_request_duration_seconds',
      help: 'HTTP request duration, by route (the pattern, not the URL), method and status code',
      labelNames: ['route', 'method', 'status'],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    streamComputations: new Counter({
      name: 'rsvp_topk_topk_stream_computations_total',
      help: 'Rankings computed for live streams (one per change per distinct query), by outcome: changed (sent to its streams), unchanged, failed',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    coalescedRequests: new Counter({
      name: 'rsvp_topk_topk_coalesced_requests_total',
      help: 'Top-k requests with TOPK_CACHE_MS=0 and TOPK_COALESCE=true, by how each was answered: started (a computation began for it at once) or waited (it shared the next round with the requests that came while one ran)',
      labelNames: ['request'],
      registers: [registry],
    }),
    answerCacheBytes: new Gauge({
      name: 'rsvp_topk_answer_cache_bytes',
      help: 'Bytes of reused top-k answers held in this process (at most TOPK_CACHE_MAX_MB)',
      registers: [registry],
    }),
    detailsLookups: new Counter({
      name: 'rsvp_topk_cache_lookups_total',
      help: 'Event details looked up, by where they were found: local (this process), hit (the Redis ring), miss (PostgreSQL); hit ratio = (local + hit) / all',
      labelNames: ['result'],
      registers: [registry],
    }),
  }
}

export interface DependencySources {
  /** the readiness report (observability/health.ts); the app's own probes PostgreSQL first */
  readonly readiness: () => Readiness | Promise<Readiness>
  readonly ringMembers: () => ReadonlyArray<{ readonly healthy: boolean }>
}

/**
 * Registers `rsvp_topk_dependency_up{dependency}`, read at each scrape: 1 while a dependency is
 * up, 0 otherwise. PostgreSQL and Kafka (those the process depends on: `api` has no Kafka) are 1
 * only in the readiness state `up`; `waiting`, `failing` and `down` are 0, so an alert picks its
 * own delay instead of inheriting DEPENDENCY_GRACE_SECONDS. Redis is 1 while at least one node is
 * in the cache ring (with a Redis Cluster: one master in use, each master being a member): with
 * none, every lookup falls back to PostgreSQL.
 */
export function createDependencyMetrics(registry: Registry, sources: DependencySources): void {
  new Gauge({
    name: 'rsvp_topk_dependency_up',
    help: 'Dependencies (postgres, kafka, redis): 1 while up, 0 while waiting to be first reached, failing or down; redis is up while at least one ring node is in the ring (or one Redis Cluster master in use)',
    labelNames: ['dependency'],
    registers: [registry],
    async collect() {
      const report = await sources.readiness()
      for (const [dependency, state] of Object.entries(report.dependencies)) {
        this.set({ dependency }, state.status === 'up' ? 1 : 0)
      }
      const members = sources.ringMembers()
      if (members.length > 0) this.set({ dependency: 'redis' }, members.some((member) => member.healthy) ? 1 : 0)
    },
  })
}

export interface ReadMetrics {
  /** statements of the API answered, by the database that answered (replica, primary) */
  readonly reads: Counter<'target'>
  /** fresh reads that waited for the replica to replay the newest batch heard of, by outcome */
  readonly replicaWaits: Counter<'outcome'>
}

/**
 * Registers where the API's reads go (store/read-router.ts): `rsvp_topk_db_reads_total{target}`,
 * `rsvp_topk_db_replica_waits_total{outcome}`, and, when a replica is configured,
 * `rsvp_topk_db_replica_lag_seconds` read at each scrape (NaN while the replica does not answer:
 * no number is better than a stale one).
 */
export function createReadMetrics(
  registry: Registry,
  replicaLagSeconds: (() => number | undefined) | undefined,
): ReadMetrics {
  if (replicaLagSeconds !== undefined) {
    new Gauge({
      name: 'rsvp_topk_db_replica_lag_seconds',
      help: 'Replay lag of the read replica at its last check (every second): 0 when it has replayed all the WAL it received, else now() - pg_last_xact_replay_timestamp(); NaN while it does not answer',
      registers: [registry],
      collect() {
        this.set(replicaLagSeconds() ?? Number.NaN)
      },
    })
  }
  const reads = new Counter({
    name: 'rsvp_topk_db_reads_total',
    help: 'Statements of the API (top k, events, history, details not in the cache, live rankings) answered, by target: replica (DATABASE_READ_URL), or primary (no replica, or it is down, not in recovery, more than REPLICA_MAX_LAG_SECONDS behind, or has not replayed a batch a live ranking waits for)',
    labelNames: ['target'],
    registers: [registry],
  })
  const replicaWaits = new Counter({
    name: 'rsvp_topk_db_replica_waits_total',
    help: 'Reads that had to see the newest batch heard of (live rankings, details read into the cache) and waited for the replica to replay it, by outcome: caught_up (read from the replica) or timed_out (not replayed within 1 s, or the replica failed: read from the primary)',
    labelNames: ['outcome'],
    registers: [registry],
  })
  // Present from the first scrape, so rates and alerts see a 0 rather than nothing.
  for (const target of ['replica', 'primary']) reads.inc({ target }, 0)
  for (const outcome of ['caught_up', 'timed_out']) replicaWaits.inc({ outcome }, 0)
  return { reads, replicaWaits }
}

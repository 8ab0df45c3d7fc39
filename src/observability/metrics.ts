/**
 * Prometheus metrics. Each process builds one registry (no global state, so tests can build
 * several); the ingest and the HTTP API register their instruments on it.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

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
}

export function createIngestMetrics(registry: Registry): IngestMetrics {
  return {
    messages: new Counter({
      name: 'rsvp_topk_ingest_messages_total',
      help: 'RSVP messages consumed, by outcome: applied (a new current version), unchanged (resend, stale or equal mtime), invalid (sent to the dead-letter topic)',
      labelNames: ['outcome'],
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
      help: 'Duration of the PostgreSQL transaction that applies one batch',
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
      help: 'Retries of work that failed because a dependency was unavailable',
      labelNames: ['dependency'],
      registers: [registry],
    }),
  }
}

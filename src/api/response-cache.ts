/**
 * A short-lived cache of whole top-k answers (serialised JSON, encoded as UTF-8 once: writing a
 * string to a socket encodes it again on every send), keyed by the normalised query.
 * Under load many clients ask the same few questions within milliseconds; answering them from one
 * PostgreSQL query and one serialisation per `ttlMs` is what lets one process serve tens of
 * thousands of requests per second. Concurrent misses for one key share a single computation, and
 * a failed computation is not kept.
 *
 * Memory is bounded by bytes, not entries: a k=1000 answer is a thousand times a k=1 answer, so
 * "10,000 entries" could mean gigabytes. lru-cache (isaacs) holds at most `maxBytes` of answers,
 * evicts the least recently used first, and expired entries are swept every `ttlMs`.
 *
 * The price is staleness of at most `ttlMs` on top of the ingest's own latency; `ttlMs = 0`
 * turns the cache off. Then no answer is reused, but concurrent requests for the same query still
 * share one computation that begins after all of them arrived (request-coalescing.ts), unless
 * `coalesce` is false.
 */
import { LRUCache } from 'lru-cache'
import { type CoalescedRequest, createRequestCoalescer } from './request-coalescing.ts'

export interface ResponseCache {
  /**
   * The cached answer for `key`, or the one `compute` gives: computed once for concurrent callers
   * (with `ttlMs` 0, once per coalesced round, or once per caller when `coalesce` is false).
   */
  get(key: string, compute: () => Promise<Buffer>): Promise<Buffer>
  /** Bytes held now: the answers' bytes, their keys' and a little for each entry. */
  bytes(): number
  /** Drops expired answers; a timer does it every `ttlMs`. */
  sweep(): void
  /** Stops the sweeping timer. */
  close(): void
}

export interface ResponseCacheOptions {
  readonly ttlMs: number
  /** the most answer (and key) bytes held at once */
  readonly maxBytes: number
  /** the clock, in ms (tests pin it); default performance.now */
  readonly now?: () => number
  /** with `ttlMs` 0: whether concurrent requests for one query share a computation (default true) */
  readonly coalesce?: boolean
  /** with `ttlMs` 0 and coalescing: told of each request, started or waited (request-coalescing.ts) */
  readonly onCoalescedRequest?: (how: CoalescedRequest) => void
}

export function createResponseCache(options: ResponseCacheOptions): ResponseCache {
  if (options.ttlMs <= 0) {
    const coalescer =
      options.coalesce === false ? undefined : createRequestCoalescer<Buffer>({ onRequest: options.onCoalescedRequest })
    const get = coalescer ? coalescer.get : (_key: string, compute: () => Promise<Buffer>) => compute()
    return { get, bytes: () => 0, sweep() {}, close() {} }
  }
  const now = options.now ?? (() => performance.now())
  const cache = new LRUCache<string, Buffer, () => Promise<Buffer>>({
    maxSize: options.maxBytes,
    sizeCalculation: (value, key) => value.length + 2 * key.length + 64,
    ttl: options.ttlMs,
    ttlResolution: 0,
    perf: { now },
    fetchMethod: (_key, _stale, { context }) => context(),
    // The sweep below deletes stale entries, some while their new answer is being computed: that
    // computation still answers its callers.
    ignoreFetchAbort: true,
  })
  const sweep = setInterval(() => cache.purgeStale(), Math.max(options.ttlMs, 100))
  sweep.unref()
  return {
    async get(key, compute) {
      const value = await cache.fetch(key, { context: compute })
      // fetch() yields undefined only when the fetch was aborted, which nothing here does.
      return value ?? compute()
    },
    bytes: () => cache.calculatedSize,
    sweep: () => cache.purgeStale(),
    close: () => clearInterval(sweep),
  }
}

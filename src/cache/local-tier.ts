/**
 * An in-process tier in front of the Redis ring: the details entries this process read lately,
 * decoded, so a hot top-k answer costs no round trip to Redis and no JSON.parse per event.
 *
 * It is dropped by the same invalidation as the ring. The ingest that changed details deletes their
 * ring entries and then sends the batch notice (store/batch-notifications.ts); every process
 * forgets the notice's entries here (all of them when the notice could not list them, and when it
 * listens again after a lost connection). One race remains: a read that began before a notice
 * and stores its result after it. An epoch, moved on by every forget, closes it: an entry is
 * only stored if no forget came while it was being read.
 *
 * A notice that is never sent (the ingest lost PostgreSQL between its commit and its NOTIFY) leaves
 * entries here for at most `ttlMs`; that is the bound on staleness this tier adds.
 *
 * Memory is bounded by the entries' JSON bytes (lru-cache, isaacs), least recently used first out.
 */
import { LRUCache } from 'lru-cache'

export interface LocalTierOptions {
  /** the most JSON bytes of entries held at once; 0 turns the tier off */
  readonly maxBytes: number
  /** how long an entry may be used, in ms */
  readonly ttlMs: number
  /** the clock, in ms (tests pin it); default performance.now */
  readonly now?: () => number
}

export interface LocalTier {
  /** The decoded entry under `key`, if held and not expired. */
  get(key: string): unknown
  /** The current epoch: pass it to set() for a read that starts now. */
  epoch(): number
  /**
   * Holds `value` (whose JSON is `bytes` long) under `key`, unless a forget came since `epochAtRead`
   * (the value may predate it then).
   */
  set(key: string, value: unknown, bytes: number, epochAtRead: number): void
  /** Drops the entries of `keys`, or every entry. */
  forget(keys: readonly string[] | 'all'): void
  /** Entries held now (for tests and metrics). */
  size(): number
}

/** Creates the tier; with `maxBytes` 0 it holds nothing and every get() misses. */
export function createLocalTier(options: LocalTierOptions): LocalTier {
  let epoch = 0
  if (options.maxBytes <= 0) {
    return {
      get: () => undefined,
      epoch: () => epoch,
      set() {},
      forget() {
        epoch++
      },
      size: () => 0,
    }
  }
  // Entries are objects; lru-cache stores no undefined or null, which are never entries here.
  const entries = new LRUCache<string, object>({
    maxSize: options.maxBytes,
    ttl: options.ttlMs,
    // An expired entry is found on get(); no timer walks the cache.
    ttlAutopurge: false,
    ttlResolution: 0,
    allowStale: false,
    ...(options.now && { perf: { now: options.now } }),
  })
  return {
    get: (key) => entries.get(key),
    epoch: () => epoch,
    set(key, value, bytes, epochAtRead) {
      if (epochAtRead !== epoch || typeof value !== 'object' || value === null) return
      // One object now answers many requests: none of them may change it for the others.
      deepFreeze(value)
      // Key bytes count too (twice: UTF-16), and a little for the entry itself.
      entries.set(key, value, { size: Math.max(1, bytes + 2 * key.length + 64) })
    },
    forget(keys) {
      epoch++
      if (keys === 'all') entries.clear()
      else for (const key of keys) entries.delete(key)
    },
    size: () => entries.size,
  }
}

/** Freezes a decoded JSON value and everything in it. */
function deepFreeze(value: object): void {
  Object.freeze(value)
  for (const inner of Object.values(value)) {
    if (typeof inner === 'object' && inner !== null && !Object.isFrozen(inner)) deepFreeze(inner)
  }
}

/**
 * A short-lived cache of whole top-k answers, keyed by the normalised query. Under load many
 * clients ask the same few questions within milliseconds; answering them from one PostgreSQL
 * query and one serialisation per `ttlMs` is what lets one process serve tens of thousands of
 * requests per second. Concurrent misses for one key share a single computation. A failed
 * computation is not kept.
 *
 * The price is staleness of at most `ttlMs` on top of the ingest's own latency; `ttlMs = 0`
 * turns the cache off.
 */

export interface ResponseCache<T> {
  get(key: string, compute: () => Promise<T>): Promise<T>
}

export function createResponseCache<T>(options: {
  readonly ttlMs: number
  /** entries kept at most; when full, the oldest go first */
  readonly maxEntries: number
  readonly now?: () => number
}): ResponseCache<T> {
  const now = options.now ?? performance.now.bind(performance)
  const entries = new Map<string, { readonly expires: number; readonly value: Promise<T> }>()

  return {
    get(key, compute) {
      if (options.ttlMs <= 0) return compute()
      const time = now()
      const entry = entries.get(key)
      if (entry !== undefined && entry.expires > time) return entry.value
      if (entry !== undefined) entries.delete(key)
      const value = compute()
      entries.set(key, { expires: time + options.ttlMs, value })
      // A rejected answer must not be served again: the next request tries anew.
      value.catch(() => {
        if (entries.get(key)?.value === value) entries.delete(key)
      })
      // Maps iterate in insertion order: the first key is the oldest entry.
      while (entries.size > options.maxEntries) entries.delete(entries.keys().next().value as string)
      return value
    },
  }
}

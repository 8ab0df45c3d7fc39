/**
 * The live rankings behind the stream route: one entry per distinct query (by key), however many
 * streams follow it. When told that a batch was committed (changed), each entry computes its
 * ranking once, at most once per `minIntervalMs` (a change during a computation or within that
 * interval is folded into one more computation after it), and hands the result to its
 * subscribers only when it differs from the last one. So PostgreSQL sees one query per change per
 * distinct query, never one per stream, and a stream gets at most 1000 / minIntervalMs updates a
 * second.
 *
 * A query whose answer moves with the clock alone (a sliding window, `upcoming`) is also
 * recomputed every `clockIntervalMs`. A failed computation (PostgreSQL away) is tried again after
 * `retryMs`; subscribers keep the last ranking meanwhile.
 */
import type { Logger } from '../observability/logger.ts'

/** A ranking as computed for one entry; versions grow by one per distinct ranking. */
export interface Ranking {
  readonly body: string
  readonly version: number
}

export interface TopkStreamHubOptions<Q> {
  /** the ranking's JSON body for a query; rejects when it cannot be computed now */
  readonly compute: (query: Q) => Promise<string>
  /** whether the answer of a query changes with the clock alone */
  readonly clockDependent: (query: Q) => boolean
  /** least time between two computations of one entry (250 = at most 4 a second) */
  readonly minIntervalMs: number
  /** how often clock-dependent entries are recomputed */
  readonly clockIntervalMs: number
  /** how long after a failed computation it is tried again */
  readonly retryMs: number
  /** told of each computation */
  readonly onComputation?: (outcome: 'changed' | 'unchanged' | 'failed') => void
  readonly logger: Logger
}

export interface Subscription {
  /** Stops the listener; the entry goes with its last subscriber, once a computation under way ends. */
  unsubscribe(): void
}

export interface TopkStreamHub<Q> {
  /** Follows the query under `key`; `listener` gets each new ranking computed from now on. */
  subscribe(key: string, query: Q, listener: (ranking: Ranking) => void): Subscription
  /**
   * The entry's ranking: its last one, or the one being computed (an entry computes as soon as it
   * is created). Rejects when that computation fails. Only for a key with subscribers.
   */
  ranking(key: string): Promise<Ranking>
  /** A batch was committed somewhere: every entry computes again (within its interval). */
  changed(): void
  /** whether a query is followed under `key` now (or still computed for streams that left) */
  has(key: string): boolean
  /** streams (subscriptions), and distinct queries followed now or still computed for streams that left */
  size(): { readonly subscriptions: number; readonly queries: number }
  /** Stops every timer; subscriptions get nothing more. */
  close(): void
}

interface Entry<Q> {
  readonly key: string
  readonly query: Q
  readonly listeners: Set<(ranking: Ranking) => void>
  last: Ranking | undefined
  /** the computation in flight */
  computing: Promise<Ranking> | undefined
  /** a change came while computing or waiting: compute again after */
  dirty: boolean
  /** the earliest time (performance.now) the next computation may start */
  notBefore: number
  /** the last computation failed: the next failures are logged at debug only */
  failing: boolean
  timer: NodeJS.Timeout | undefined
}

export function createTopkStreamHub<Q>(options: TopkStreamHubOptions<Q>): TopkStreamHub<Q> {
  const entries = new Map<string, Entry<Q>>()
  let subscriptions = 0
  let closed = false

  const clockTimer = setInterval(() => {
    for (const entry of entries.values()) if (options.clockDependent(entry.query)) schedule(entry)
  }, options.clockIntervalMs)
  clockTimer.unref()

  function schedule(entry: Entry<Q>, delayAtLeast = 0): void {
    if (closed) return
    if (entry.computing !== undefined) {
      entry.dirty = true
      return
    }
    if (entry.timer !== undefined) return
    const wait = Math.max(delayAtLeast, entry.notBefore - performance.now(), 0)
    entry.timer = setTimeout(() => {
      entry.timer = undefined
      void compute(entry).catch(() => {})
    }, wait)
  }

  function compute(entry: Entry<Q>): Promise<Ranking> {
    entry.notBefore = performance.now() + options.minIntervalMs
    entry.dirty = false
    const computing = (async () => {
      let failed = false
      try {
        const body = await options.compute(entry.query)
        entry.failing = false
        if (entry.last?.body === body) {
          options.onComputation?.('unchanged')
          return entry.last
        }
        const ranking = { body, version: (entry.last?.version ?? 0) + 1 }
        entry.last = ranking
        options.onComputation?.('changed')
        for (const listener of entry.listeners) listener(ranking)
        return ranking
      } catch (error) {
        failed = true
        options.onComputation?.('failed')
        // One line per failure streak and query: a database outage would otherwise log 4 a second per query.
        const level = entry.failing ? 'debug' : 'warn'
        entry.failing = true
        options.logger[level]({ err: error, retryInMs: options.retryMs }, 'computing a live ranking failed')
        throw error
      } finally {
        entry.computing = undefined
        // Its last stream left while it computed: nobody follows it any more.
        if (entry.listeners.size === 0 && entries.get(entry.key) === entry) entries.delete(entry.key)
        const live = entries.get(entry.key) === entry
        if (live && failed) schedule(entry, options.retryMs)
        else if (live && entry.dirty) schedule(entry)
      }
    })()
    entry.computing = computing
    return computing
  }

  return {
    subscribe(key, query, listener) {
      let entry = entries.get(key)
      if (entry === undefined) {
        entry = {
          key,
          query,
          listeners: new Set(),
          last: undefined,
          computing: undefined,
          dirty: false,
          notBefore: 0,
          failing: false,
          timer: undefined,
        }
        entries.set(key, entry)
        void compute(entry).catch(() => {})
      }
      const subscribed = entry
      const own = (ranking: Ranking) => listener(ranking)
      subscribed.listeners.add(own)
      subscriptions++
      let active = true
      return {
        unsubscribe() {
          if (!active) return
          active = false
          subscriptions--
          subscribed.listeners.delete(own)
          // An entry whose computation is under way stays until it ends (compute's finally), so it
          // still counts against the distinct queries: streams opened and dropped at once cannot
          // queue computations past that bound.
          if (subscribed.listeners.size === 0 && entries.get(key) === subscribed) {
            clearTimeout(subscribed.timer)
            subscribed.timer = undefined
            if (subscribed.computing === undefined) entries.delete(key)
          }
        },
      }
    },
    async ranking(key) {
      const entry = entries.get(key)
      if (entry === undefined) throw new Error(`no live ranking for ${key}`)
      if (entry.last !== undefined) return entry.last
      return entry.computing ?? compute(entry)
    },
    changed() {
      for (const entry of entries.values()) schedule(entry)
    },
    has: (key) => entries.has(key),
    size: () => ({ subscriptions, queries: entries.size }),
    close() {
      closed = true
      clearInterval(clockTimer)
      for (const entry of entries.values()) clearTimeout(entry.timer)
    },
  }
}

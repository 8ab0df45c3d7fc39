/**
 * Request coalescing for answers that must not be older than the request: concurrent requests for
 * the same key share one computation, and that computation always starts after every request it
 * answers arrived. So no answer is reused across time (a request never gets a result read before it
 * came in, which is what `TOPK_CACHE_MS=0` promises), yet a hundred clients asking for the same
 * ranking at once cost PostgreSQL one statement per round, not a hundred.
 *
 * Per key at most one computation runs and at most one waits:
 * - nothing running: the request starts a computation at once;
 * - one running (it may have read the database before this request arrived): the request joins
 *   the waiting computation, created if need be, which starts when the running one settles.
 * A request therefore waits at most for the end of the computation in progress and then its own.
 * The idea is a CDN's "request collapsing" (Varnish, Fastly) and Go's `singleflight`, which let a
 * request join the computation in progress; here it never does, which is the group-commit pattern
 * applied to reads.
 *
 * A computation's failure goes to the requests that shared it, and is not kept: the next request
 * starts afresh. Memory: at most two entries per key with a request in flight, none otherwise.
 *
 * `compute` must not ask the same coalescer for its own key: it would wait for its own round.
 */

export interface RequestCoalescer<V> {
  /** The value `compute` gives for `key`, computed once for the requests waiting on the same round. */
  get(key: string, compute: () => Promise<V>): Promise<V>
  /** Keys with a computation running or waiting (for tests). */
  inFlight(): number
}

/** How a request was answered: by a computation started for it at once, or by the next round. */
export type CoalescedRequest = 'started' | 'waited'

export interface RequestCoalescerOptions {
  /** told of each request as it arrives, with how it will be answered (for a metric) */
  readonly onRequest?: (how: CoalescedRequest) => void
}

export function createRequestCoalescer<V>(options: RequestCoalescerOptions = {}): RequestCoalescer<V> {
  const running = new Map<string, Promise<V>>()
  const waiting = new Map<string, Promise<V>>()

  function start(key: string, compute: () => Promise<V>): Promise<V> {
    // Called through an async function: a compute that throws at once rejects this round like one
    // that rejects later.
    const round = (async () => compute())()
    running.set(key, round)
    const done = () => {
      if (running.get(key) === round) running.delete(key)
    }
    round.then(done, done)
    return round
  }

  return {
    get(key, compute) {
      const queued = waiting.get(key)
      const current = running.get(key)
      options.onRequest?.(queued === undefined && current === undefined ? 'started' : 'waited')
      if (queued !== undefined) return queued
      if (current === undefined) return start(key, compute)
      const settled = () => {
        waiting.delete(key)
        return start(key, compute)
      }
      const next = current.then(settled, settled)
      // Like a running round's (handled by its cleanup), a waiting round's failure reaches whoever
      // awaits it, and is no unhandled rejection when every one of them went away.
      next.catch(() => {})
      waiting.set(key, next)
      return next
    },
    inFlight: () => new Set([...running.keys(), ...waiting.keys()]).size,
  }
}

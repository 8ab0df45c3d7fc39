/**
 * Groups an async stream into batches: a batch is handed on when it holds `maxSize` items, when
 * its items' sizes (by `sizeOf`) reach `maxBytes` (so it passes maxBytes by less than its last
 * item), or `maxWaitMs` after its first item arrived, whichever comes first. Waiting for a first item
 * has no time limit, so an idle stream yields nothing (and costs nothing).
 */
export interface BatchOptions<T> {
  readonly maxSize: number
  readonly maxWaitMs: number
  /** bound on the sum of sizeOf over a batch (default: none) */
  readonly maxBytes?: number
  readonly sizeOf?: (item: T) => number
}

const TIMED_OUT = Symbol('timed out')

export async function* batches<T>(source: AsyncIterable<T>, options: BatchOptions<T>): AsyncGenerator<T[]> {
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY
  const sizeOf = options.sizeOf ?? (() => 0)
  const iterator = source[Symbol.asyncIterator]()
  // A next() that lost a race against the timer is still owed its item: keep it for the next batch.
  let pending: Promise<IteratorResult<T>> | undefined
  try {
    while (true) {
      pending ??= iterator.next()
      const first = await pending
      pending = undefined
      if (first.done) return
      const batch: T[] = [first.value]
      let bytes = sizeOf(first.value)
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(resolve, options.maxWaitMs, TIMED_OUT)
      })
      try {
        while (batch.length < options.maxSize && bytes < maxBytes) {
          pending ??= iterator.next()
          const next = await Promise.race([pending, timeout])
          if (next === TIMED_OUT) break
          pending = undefined
          if (next.done) {
            yield batch
            return
          }
          batch.push(next.value)
          bytes += sizeOf(next.value)
        }
      } finally {
        clearTimeout(timer)
      }
      yield batch
    }
  } finally {
    // With a next() still pending (a batch cut by the timer), return() would queue behind it and
    // wait for a message that may never come: end the source without waiting then.
    if (pending) void Promise.resolve(iterator.return?.()).catch(() => {})
    else await iterator.return?.()
  }
}
